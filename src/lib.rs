//! reckon: an embeddable inference engine for recommendation, search, fraud and ads models.
//!
//! Data flows down one path, one folder per layer:
//! [`weights`] (memory-mapped safetensors, validated as hostile input) →
//! [`kernels`] (SIMD ops chosen at run time, each with a scalar reference twin) →
//! layers → models → pipelines → interfaces (C ABI, CLI).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod error;
pub mod ffi;
pub mod kernels;
pub mod metrics;
pub mod models;
pub mod nn;
pub mod pipelines;
mod scoped;
pub mod weights;

pub use error::{Error, Result};
pub use models::{Model, Options, Workspace};
