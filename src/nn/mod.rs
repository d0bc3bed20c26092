//! Layers built from weight files: Sequentials rebuilt from `state_dict` names (BatchNorm folded
//! at load), packed MLPs, embedding tables.

pub mod embedding;
pub mod mlp;
pub mod sequential;

pub use embedding::{EmbeddingTable, TableElem, TableView};
pub use mlp::{Mlp, MlpWorkspace};
pub use sequential::{load_linear, load_sequential, BatchNormSpec, LinearSpec, SequentialSpec};
