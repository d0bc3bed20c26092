//! CTR (SPEC §4.5, the seed's DeepFM + `CTRCalibration`): DeepFM → pCTR → calibration →
//! calibrated pCTR.
//!
//! Calibration maps a model's predicted probability to one that matches observed click rates.
//! reckon fits it itself from `(prediction, label)` pairs ([`Calibration::fit`], or the
//! `reckon calibrate` command) and stores it in the model file next to the DeepFM tensors
//! ([`write_calibrated`]): `calibration.*` float tensors plus the metadata key
//! `reckon.calibration` naming the method. Three methods:
//!
//! - [`Binned`] — the seed's ratio map: equal-width bins over `[0, 1]`, each scaling its
//!   predictions by `mean(label) / (mean(prediction) + 1e-10)`, then clipping to `[0, 1]`.
//! - [`Platt`] — `sigmoid(a·logit(p) + b)`, fitted by Newton's method on log loss.
//! - [`Isotonic`] — the best non-decreasing step fit (pool-adjacent-violators), applied by
//!   linear interpolation between its points, as scikit-learn's `IsotonicRegression` does.
//!
//! [`CtrPipeline`] runs the model and applies whatever calibration its file holds; a file with
//! none passes pCTR through unchanged.
//!
//! Inputs to fitting must be non-empty, equally long, predictions in `[0, 1]` (no NaN) and
//! labels exactly 0 or 1; anything else is a typed [`crate::Error`].

mod binned;
mod isotonic;
mod pipeline;
mod platt;
mod store;

use crate::error::{Error, Result};

pub use crate::weights::Calibration as Method;
pub use binned::{Binned, DEFAULT_BINS, RATIO_EPS};
pub use isotonic::Isotonic;
pub use pipeline::{CtrPipeline, CtrScores};
pub use platt::{Platt, LOGIT_CLIP};
pub use store::write_calibrated;

/// A fitted calibration map, of one of the three methods.
#[derive(Clone, Debug, PartialEq)]
pub enum Calibration {
    /// The seed's binned ratio map.
    Binned(Binned),
    /// Platt scaling.
    Platt(Platt),
    /// Isotonic regression.
    Isotonic(Isotonic),
}

impl Calibration {
    /// Fits `method` to `predictions` and their 0/1 `labels`. `num_bins` is used by
    /// [`Method::Binned`] only (the seed's default is [`DEFAULT_BINS`]).
    pub fn fit(
        method: Method,
        predictions: &[f32],
        labels: &[f32],
        num_bins: usize,
    ) -> Result<Calibration> {
        Ok(match method {
            Method::Binned => Calibration::Binned(Binned::fit(predictions, labels, num_bins)?),
            Method::Platt => Calibration::Platt(Platt::fit(predictions, labels)?),
            Method::Isotonic => Calibration::Isotonic(Isotonic::fit(predictions, labels)?),
        })
    }

    /// The method (what `reckon.calibration` says).
    pub fn method(&self) -> Method {
        match self {
            Calibration::Binned(_) => Method::Binned,
            Calibration::Platt(_) => Method::Platt,
            Calibration::Isotonic(_) => Method::Isotonic,
        }
    }

    /// Calibrates one probability. Total: a value outside `[0, 1]` is handled as each method
    /// says (the result is always clipped to `[0, 1]`); NaN stays NaN. Use [`Calibration::apply`]
    /// for checked input.
    pub fn apply_one(&self, p: f32) -> f32 {
        match self {
            Calibration::Binned(c) => c.apply_one(p),
            Calibration::Platt(c) => c.apply_one(p),
            Calibration::Isotonic(c) => c.apply_one(p),
        }
    }

    /// Calibrates `predictions` into `out` (same length). Errors: length mismatch
    /// ([`Error::BufferLength`]), a prediction outside `[0, 1]` or NaN ([`Error::InvalidArgument`]).
    pub fn apply(&self, predictions: &[f32], out: &mut [f32]) -> Result<()> {
        if out.len() != predictions.len() {
            return Err(Error::BufferLength {
                op: "calibration apply",
                arg: "out",
                expected: predictions.len(),
                actual: out.len(),
            });
        }
        check_probabilities(predictions)?;
        for (o, &p) in out.iter_mut().zip(predictions) {
            *o = self.apply_one(p);
        }
        Ok(())
    }
}

/// Checks a fitting set: same length, non-empty, probabilities, 0/1 labels.
pub(crate) fn check_pairs(predictions: &[f32], labels: &[f32]) -> Result<()> {
    if labels.len() != predictions.len() {
        return Err(Error::BufferLength {
            op: "calibration fit",
            arg: "labels",
            expected: predictions.len(),
            actual: labels.len(),
        });
    }
    if predictions.is_empty() {
        return Err(Error::InvalidArgument {
            arg: "predictions",
            reason: "calibration needs at least one (prediction, label) pair".into(),
        });
    }
    check_probabilities(predictions)?;
    if let Some(i) = labels.iter().position(|&y| y != 0.0 && y != 1.0) {
        return Err(Error::InvalidArgument {
            arg: "labels",
            reason: format!("label {i} is {}; labels must be 0 or 1", labels[i]),
        });
    }
    Ok(())
}

fn check_probabilities(predictions: &[f32]) -> Result<()> {
    // `!(0 ≤ p ≤ 1)` also catches NaN.
    match predictions.iter().position(|&p| !(0.0..=1.0).contains(&p)) {
        Some(i) => Err(Error::InvalidArgument {
            arg: "predictions",
            reason: format!(
                "prediction {i} is {}; probabilities must lie in [0, 1]",
                predictions[i]
            ),
        }),
        None => Ok(()),
    }
}
