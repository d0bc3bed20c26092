//! The C ABI (SPEC §5): what `include/reckon.h` declares, generated from this module by cbindgen.
//!
//! Conventions every export keeps, so a C caller can rely on them:
//! - it returns a `reckon_status` (except `*_free`, `reckon_version`, `reckon_last_error` and
//!   `reckon_status_str`); on failure `reckon_last_error()` gives this thread's message;
//! - its body runs inside [`boundary::guard`]: a panic becomes `RECKON_PANIC`, never an unwind
//!   into C;
//! - every pointer and length is checked before use, and every check happens before anything is
//!   written, so a failed call leaves outputs untouched;
//! - handles are opaque, made by a `*_open`/`*_create` function and released by the matching
//!   `*_free`, which accepts NULL; handles are immutable or internally synchronised, so one handle
//!   may be shared by many threads.
//!
//! Each file holds one family of exports; [`boundary`] holds the shared checks.

// Each export's safety contract is the C header's documentation of its arguments, written once
// on the function; a `# Safety` section repeating it on every export would say nothing more.
#![allow(clippy::missing_safety_doc)]

mod boundary;
pub mod core;
pub mod ctr;
pub mod fraud;
pub mod index;
pub mod metrics;
pub mod model;
pub mod recommend;
pub mod search;
pub mod status;
#[cfg(test)]
mod test_support;

pub use self::core::*;
pub use self::ctr::*;
pub use self::fraud::*;
pub use self::index::*;
pub use self::metrics::*;
pub use self::model::*;
pub use self::recommend::*;
pub use self::search::*;
pub use self::status::*;
