//! Weight files: memory-mapped `.safetensors`, validated as untrusted input (SPEC §2).
//!
//! Validation runs in three stages, each a pure function of the bytes:
//! 1. container ([`Container::parse`]): length prefix, JSON header, dtypes, shapes, offsets,
//!    exact tiling of the data area — the safetensors format itself;
//! 2. metadata ([`Metadata::from_map`]): the `reckon.*` keys;
//! 3. architecture: every tensor name is one the [`Arch`] knows, with the right dtype and rank.
//!
//! [`WeightFile::open`] runs all three; afterwards tensors are borrowed as [`TensorView`]s
//! straight from the map. Every failure is a typed [`Error`](crate::Error) naming the tensor.

mod arch;
mod container;
mod dtype;
mod file;
mod header;
mod metadata;
mod schema;
mod view;
pub mod writer;

pub use arch::Arch;
pub use container::Container;
pub use dtype::Dtype;
pub use file::{MappedFile, WeightFile};
pub use header::MAX_HEADER_LEN;
pub use metadata::{
    Calibration, Metadata, KEY_ARCH, KEY_BN_EPS, KEY_CALIBRATION, KEY_FEATURE_NAMES,
    KEY_SCORE_WEIGHTS,
};
pub use view::{Element, TensorView};
pub use writer::SafetensorsWriter;
