//! [`FraudPipeline`]: feature engine → fraud model → threshold decision.

use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::metrics::{threshold_metrics, ThresholdMetrics};
use crate::models::{Model, Options, Workspace};
use crate::weights::{Arch, WeightFile, KEY_FEATURE_NAMES};

use super::config::FraudConfig;
use super::engine::FraudFeatures;
use super::features::{
    FraudFeatureRow, Transaction, FEATURE_COUNT, FEATURE_NAMES, FEATURE_NAMES_CSV,
};

/// The seed's decision threshold.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// Rows scored per model call in [`FraudPipeline::score_batch`]: large enough for the GEMM path,
/// small enough that the feature rows stay in L1/L2.
const BATCH_ROWS: usize = 256;

/// What the pipeline says about one transaction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FraudDecision {
    /// Fraud probability from the model.
    pub score: f32,
    /// `score ≥ threshold` (the seed's rule).
    pub flagged: bool,
    /// The features the model saw.
    pub features: FraudFeatureRow,
}

/// Per-thread scratch for [`FraudPipeline`] calls; create one per thread and reuse it.
#[derive(Debug, Default)]
pub struct FraudWorkspace {
    model: Workspace,
    x: Vec<f32>,
    p: Vec<f32>,
}

/// The fraud system of SPEC §4.4: a [`FraudFeatures`] engine, a `fraud` model and a threshold.
/// `&self` throughout; share it across threads with one [`FraudWorkspace`] each.
#[derive(Debug)]
pub struct FraudPipeline {
    engine: FraudFeatures,
    model: Model,
    threshold: f32,
}

impl FraudPipeline {
    /// Opens a fraud model and starts an empty engine.
    ///
    /// Errors: anything [`Model::open`] reports; [`Error::InvalidArgument`] for a model of
    /// another architecture, another input width or a bad threshold, or settings the engine
    /// refuses; [`Error::BadMetadataValue`] when `reckon.feature_names` is not the engine's.
    pub fn open(
        path: impl AsRef<Path>,
        opts: &Options,
        config: FraudConfig,
        threshold: f32,
    ) -> Result<FraudPipeline> {
        let file = Arc::new(WeightFile::open(path)?);
        FraudPipeline::from_file(file, opts, FraudFeatures::new(config)?, threshold)
    }

    /// Builds the pipeline from an opened model file and an engine (fresh or restored).
    ///
    /// Errors: as [`FraudPipeline::open`].
    pub fn from_file(
        file: Arc<WeightFile>,
        opts: &Options,
        engine: FraudFeatures,
        threshold: f32,
    ) -> Result<FraudPipeline> {
        if file.arch() != Arch::Fraud {
            return Err(Error::InvalidArgument {
                arg: "model",
                reason: format!(
                    "the fraud pipeline needs reckon.arch = fraud, this file is {}",
                    file.arch()
                ),
            });
        }
        if let Some(names) = &file.metadata().feature_names {
            if !names.iter().map(String::as_str).eq(FEATURE_NAMES) {
                return Err(Error::BadMetadataValue {
                    key: KEY_FEATURE_NAMES.into(),
                    value: names.join(","),
                    expected: FEATURE_NAMES_CSV,
                });
            }
        }
        if !(0.0..=1.0).contains(&threshold) {
            return Err(Error::InvalidArgument {
                arg: "threshold",
                reason: format!("{threshold} is not a probability in [0, 1]"),
            });
        }
        let model = Model::from_file(file, opts)?;
        if model.dims() != (FEATURE_COUNT, 1) {
            return Err(Error::InvalidArgument {
                arg: "model",
                reason: format!(
                    "takes {} features to {} outputs; the fraud engine makes {FEATURE_COUNT} features for 1 probability",
                    model.dims().0,
                    model.dims().1
                ),
            });
        }
        Ok(FraudPipeline {
            engine,
            model,
            threshold,
        })
    }

    /// The feature engine (for snapshots, probes, expiry).
    pub fn engine(&self) -> &FraudFeatures {
        &self.engine
    }

    /// The decision threshold.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Features, score and decision for one transaction, which is then recorded.
    ///
    /// Errors: as [`FraudFeatures::process`] (nothing recorded).
    pub fn score(&self, txn: &Transaction, ws: &mut FraudWorkspace) -> Result<FraudDecision> {
        let features = self.engine.process(txn)?;
        let mut x = [0f32; FEATURE_COUNT];
        features.write_f32(&mut x);
        let mut p = [0f32];
        self.model.predict(&x, 1, &mut p, &mut ws.model)?;
        Ok(self.decide(p[0], features))
    }

    /// [`FraudPipeline::score`] for each transaction in order, into `out` (cleared first);
    /// features are made one by one (each sees the ones before) and scored in batches.
    ///
    /// Every transaction is checked before any is recorded — values, and lateness against the
    /// watermark as the batch itself advances it — so a bad one fails the call with the state
    /// unchanged. Only another thread advancing the watermark meanwhile can make a later
    /// transaction late after earlier ones were recorded; `out` then holds those.
    ///
    /// Errors: as [`FraudFeatures::process`].
    pub fn score_batch(
        &self,
        txns: &[Transaction],
        ws: &mut FraudWorkspace,
        out: &mut Vec<FraudDecision>,
    ) -> Result<()> {
        out.clear();
        let config = self.engine.config();
        let mut wm = self.engine.watermark();
        for t in txns {
            let t = t.validated()?;
            if config.is_late(t.timestamp, wm) {
                return Err(Error::LateTransaction {
                    timestamp: t.timestamp,
                    watermark: wm,
                    max_lateness: config.max_lateness,
                });
            }
            wm = wm.max(t.timestamp);
        }
        out.reserve(txns.len());
        for chunk in txns.chunks(BATCH_ROWS) {
            ws.x.clear();
            let first = out.len();
            for (i, t) in chunk.iter().enumerate() {
                self.engine.prefetch_ahead(txns, first + i);
                let features = self.engine.process(t)?;
                let mut x = [0f32; FEATURE_COUNT];
                features.write_f32(&mut x);
                ws.x.extend_from_slice(&x);
                out.push(FraudDecision {
                    score: 0.0,
                    flagged: false,
                    features,
                });
            }
            ws.p.resize(chunk.len(), 0.0);
            self.model
                .predict(&ws.x, chunk.len(), &mut ws.p, &mut ws.model)?;
            for (d, &p) in out[first..].iter_mut().zip(&ws.p) {
                *d = self.decide(p, d.features);
            }
        }
        Ok(())
    }

    fn decide(&self, score: f32, features: FraudFeatureRow) -> FraudDecision {
        FraudDecision {
            score,
            flagged: score >= self.threshold,
            features,
        }
    }

    /// The seed's fraud metrics (precision, recall, F1, false-positive rate) of `decisions`
    /// against `labels` (1 = fraud) at this pipeline's threshold; see
    /// [`crate::metrics::threshold_metrics`]. PR-AUC: [`crate::metrics::pr_auc`] on the scores.
    ///
    /// Errors: as [`crate::metrics::threshold_metrics`].
    pub fn metrics(&self, decisions: &[FraudDecision], labels: &[f32]) -> Result<ThresholdMetrics> {
        let scores: Vec<f32> = decisions.iter().map(|d| d.score).collect();
        threshold_metrics(&scores, labels, self.threshold)
    }
}
