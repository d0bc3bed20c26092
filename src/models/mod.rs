//! The five seed architectures, each built from a weight file with nothing about sizes
//! hard-coded, and [`Model`], the one entry point that opens any of them.
//!
//! Models are immutable after loading (`Send + Sync`): share one across threads and give each
//! thread its own [`Workspace`]. A warmed-up workspace makes a call allocation-free.

pub mod deepfm;
pub mod dense;
mod input;
pub mod options;
pub mod split;
pub mod two_tower;

use std::path::Path;
use std::sync::Arc;

pub use deepfm::{DeepFm, DeepFmWorkspace};
pub use dense::{DenseModel, DenseWorkspace};
pub use options::{Options, OutOfVocabulary};
pub use two_tower::{Tower, TwoTower, TwoTowerWorkspace};

use crate::error::{Error, Result};
use crate::weights::{Arch, WeightFile};

/// Any servable model.
#[derive(Debug)]
pub enum Model {
    /// `two_tower`.
    TwoTower(TwoTower),
    /// `ranker`, `ltr` or `fraud`.
    Dense(DenseModel),
    /// `deepfm`.
    DeepFm(DeepFm),
}

/// Per-thread scratch for any model's calls; create one per thread and reuse it.
#[derive(Debug, Default)]
pub struct Workspace {
    /// For dense models.
    pub dense: DenseWorkspace,
    /// For DeepFM.
    pub deepfm: DeepFmWorkspace,
    /// For two-tower.
    pub two_tower: TwoTowerWorkspace,
}

impl Model {
    /// Opens the weight file at `path` and builds the model its `reckon.arch` names.
    pub fn open(path: impl AsRef<Path>, opts: &Options) -> Result<Model> {
        Model::from_file(Arc::new(WeightFile::open(path)?), opts)
    }

    /// Builds the model held in an already opened file.
    pub fn from_file(file: Arc<WeightFile>, opts: &Options) -> Result<Model> {
        let kernels = opts.kernels()?;
        match file.arch() {
            Arch::TwoTower => Ok(Model::TwoTower(TwoTower::load(&file, opts, kernels)?)),
            Arch::Ranker | Arch::Ltr | Arch::Fraud => {
                Ok(Model::Dense(DenseModel::load(&file, opts, kernels)?))
            }
            Arch::DeepFm => Ok(Model::DeepFm(DeepFm::load(&file, opts, kernels)?)),
            Arch::ItemIndex => Err(Error::InvalidArgument {
                arg: "path",
                reason: "an item_index file is not a model; open it as an index".into(),
            }),
        }
    }

    /// The architecture.
    pub fn arch(&self) -> Arch {
        match self {
            Model::TwoTower(_) => Arch::TwoTower,
            Model::Dense(m) => m.arch(),
            Model::DeepFm(_) => Arch::DeepFm,
        }
    }

    /// `(input columns, output columns)` per row, as the C ABI reports them: dense models take
    /// features; DeepFM takes one id per field and gives pCTR; two-tower takes one user id and
    /// gives its vector.
    pub fn dims(&self) -> (usize, usize) {
        match self {
            Model::TwoTower(m) => (1, m.dim()),
            Model::Dense(m) => (m.in_cols(), m.out_cols()),
            Model::DeepFm(m) => (m.fields(), 1),
        }
    }

    /// Whether the model takes ids ([`Model::predict_ids`]) rather than dense features.
    pub fn takes_ids(&self) -> bool {
        !matches!(self, Model::Dense(_))
    }

    /// Dense models: `rows × in` features in, `rows × out` out.
    pub fn predict(
        &self,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<()> {
        match self {
            Model::Dense(m) => m.predict(x, rows, out, &mut ws.dense),
            _ => Err(self.wrong_input("predict_ids")),
        }
    }

    /// Id models: DeepFM (`rows × fields` ids → `rows` pCTR) and two-tower (`rows` user ids →
    /// `rows × dim` user vectors; use [`TwoTower::embed`] for the item tower).
    pub fn predict_ids(
        &self,
        ids: &[i64],
        rows: usize,
        out: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<()> {
        match self {
            Model::DeepFm(m) => m.predict_ids(ids, rows, out, &mut ws.deepfm),
            Model::TwoTower(m) => {
                input::check_len("predict_ids", "ids", ids.len(), rows)?;
                m.embed(Tower::User, ids, out, &mut ws.two_tower)
            }
            Model::Dense(_) => Err(self.wrong_input("predict")),
        }
    }

    fn wrong_input(&self, use_instead: &str) -> Error {
        Error::InvalidArgument {
            arg: "model",
            reason: format!(
                "{} takes {}; call {use_instead}",
                self.arch(),
                if self.takes_ids() {
                    "ids"
                } else {
                    "dense features"
                }
            ),
        }
    }
}
