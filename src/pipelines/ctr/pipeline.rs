//! [`CtrPipeline`]: DeepFM → pCTR → calibrated pCTR, a batch per call.

use std::path::Path;
use std::sync::Arc;

use super::Calibration;
use crate::error::{Error, Result};
use crate::models::{DeepFm, Model, Options, Workspace};
use crate::weights::WeightFile;

/// A DeepFM model and the calibration stored with it. Immutable and `Send + Sync`: share one
/// across threads, each with its own [`Workspace`].
#[derive(Debug)]
pub struct CtrPipeline {
    model: DeepFm,
    calibration: Option<Calibration>,
}

/// Both outputs of a batch, one value per row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CtrScores {
    /// The model's predicted click probability.
    pub pctr: Vec<f32>,
    /// pCTR after the file's calibration (equal to `pctr` when the file has none).
    pub calibrated: Vec<f32>,
}

impl CtrPipeline {
    /// Opens a DeepFM weight file and its calibration, if any.
    pub fn open(path: impl AsRef<Path>, opts: &Options) -> Result<CtrPipeline> {
        CtrPipeline::from_file(Arc::new(WeightFile::open(path)?), opts)
    }

    /// Builds the pipeline from an opened file; [`Error::InvalidArgument`] unless it is a DeepFM.
    pub fn from_file(file: Arc<WeightFile>, opts: &Options) -> Result<CtrPipeline> {
        let calibration = Calibration::from_file(&file)?;
        match Model::from_file(file, opts)? {
            Model::DeepFm(model) => Ok(CtrPipeline { model, calibration }),
            other => Err(Error::InvalidArgument {
                arg: "model",
                reason: format!(
                    "the CTR pipeline needs a deepfm model, not {}",
                    other.arch()
                ),
            }),
        }
    }

    /// A pipeline from parts (e.g. a model with a calibration fitted in memory).
    pub fn new(model: DeepFm, calibration: Option<Calibration>) -> CtrPipeline {
        CtrPipeline { model, calibration }
    }

    /// The model.
    pub fn model(&self) -> &DeepFm {
        &self.model
    }

    /// The calibration (`None`: pCTR passes through).
    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    /// Number of id columns per row.
    pub fn fields(&self) -> usize {
        self.model.fields()
    }

    /// Scores `rows × fields` ids into `pctr` and `calibrated` (`rows` each). Errors are the
    /// model's (wrong lengths, out-of-vocabulary ids).
    pub fn predict_into(
        &self,
        ids: &[i64],
        rows: usize,
        pctr: &mut [f32],
        calibrated: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<()> {
        if calibrated.len() != rows {
            return Err(Error::BufferLength {
                op: "ctr predict",
                arg: "calibrated",
                expected: rows,
                actual: calibrated.len(),
            });
        }
        self.model.predict_ids(ids, rows, pctr, &mut ws.deepfm)?;
        match &self.calibration {
            // The model's sigmoid output is in [0, 1] by construction, so the unchecked map is
            // enough; a NaN could only come from a non-finite weight and stays NaN.
            Some(c) => calibrated
                .iter_mut()
                .zip(pctr.iter())
                .for_each(|(o, &p)| *o = c.apply_one(p)),
            None => calibrated.copy_from_slice(pctr),
        }
        Ok(())
    }

    /// [`CtrPipeline::predict_into`] into fresh vectors.
    pub fn predict(&self, ids: &[i64], rows: usize, ws: &mut Workspace) -> Result<CtrScores> {
        let mut s = CtrScores {
            pctr: vec![0.0; rows],
            calibrated: vec![0.0; rows],
        };
        self.predict_into(ids, rows, &mut s.pctr, &mut s.calibrated, ws)?;
        Ok(s)
    }
}
