//! Platt scaling: `calibrated = sigmoid(a · logit(p) + b)`.
//!
//! Fitted by Newton's method with a backtracking line search on the log loss (the improved
//! algorithm of Lin, Lin & Weng, 2007), with Platt's smoothed targets: positives aim at
//! `(N₊ + 1) / (N₊ + 2)`, negatives at `1 / (N₋ + 2)`. Smoothing keeps the optimum finite when
//! the classes are separable (plain 0/1 targets would send `a` to infinity) and is what
//! scikit-learn's `CalibratedClassifierCV(method="sigmoid")` does; on thousands of rows its pull
//! is negligible, so perfectly calibrated data fits to `a ≈ 1, b ≈ 0`.
//!
//! `p` of exactly 0 or 1 has no logit: predictions are clipped to `[LOGIT_CLIP, 1 − LOGIT_CLIP]`
//! first, both when fitting and when applying.

use super::check_pairs;
use crate::error::{Error, Result};

/// Predictions are clipped to `[LOGIT_CLIP, 1 − LOGIT_CLIP]` before the logit (|logit| ≤ 16.1).
pub const LOGIT_CLIP: f64 = 1e-7;
/// Newton iterations before giving up on further improvement (Platt's code uses 100).
const MAX_ITER: usize = 100;
/// Added to the Hessian's diagonal so a constant column of logits (every prediction equal)
/// still gives a solvable system (Lin et al. use 1e-12).
const RIDGE: f64 = 1e-12;

/// Fitted Platt parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Platt {
    /// Slope on the logit.
    pub a: f32,
    /// Intercept.
    pub b: f32,
}

impl Platt {
    /// Fits `a, b` to `predictions` and their 0/1 `labels`.
    pub fn fit(predictions: &[f32], labels: &[f32]) -> Result<Platt> {
        check_pairs(predictions, labels)?;
        let pos = labels.iter().filter(|&&y| y == 1.0).count() as f64;
        let neg = labels.len() as f64 - pos;
        let (t_pos, t_neg) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
        let data: Vec<(f64, f64)> = predictions
            .iter()
            .zip(labels)
            .map(|(&p, &y)| (logit(f64::from(p)), if y == 1.0 { t_pos } else { t_neg }))
            .collect();
        let (a, b) = newton(&data);
        Platt::new(a as f32, b as f32)
    }

    /// Parameters from storage; both must be finite.
    pub fn new(a: f32, b: f32) -> Result<Platt> {
        if !a.is_finite() || !b.is_finite() {
            return Err(Error::InvalidArgument {
                arg: "calibration.platt",
                reason: format!("a = {a}, b = {b}; both must be finite"),
            });
        }
        Ok(Platt { a, b })
    }

    /// Calibrates one probability.
    pub fn apply_one(&self, p: f32) -> f32 {
        let z = f64::from(self.a) * logit(f64::from(p)) + f64::from(self.b);
        sigmoid(z) as f32
    }
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(LOGIT_CLIP, 1.0 - LOGIT_CLIP);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `softplus(z) − t·z`, the cross-entropy of target `t` against `sigmoid(z)`, without overflow.
fn loss(data: &[(f64, f64)], a: f64, b: f64) -> f64 {
    data.iter()
        .map(|&(x, t)| {
            let z = a * x + b;
            let softplus = z.max(0.0) + (-z.abs()).exp().ln_1p();
            softplus - t * z
        })
        .sum()
}

/// Newton's method from the identity map `(1, 0)`; returns the best point found.
fn newton(data: &[(f64, f64)]) -> (f64, f64) {
    let (mut a, mut b) = (1.0, 0.0);
    let mut f = loss(data, a, b);
    let n = data.len() as f64;
    for _ in 0..MAX_ITER {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, RIDGE, 0.0, RIDGE);
        for &(x, t) in data {
            let q = sigmoid(a * x + b);
            let (d, w) = (q - t, q * (1.0 - q));
            ga += d * x;
            gb += d;
            haa += w * x * x;
            hab += w * x;
            hbb += w;
        }
        // Converged when the mean gradient is at rounding level.
        if ga.abs().max(gb.abs()) < 1e-12 * n {
            break;
        }
        let det = haa * hbb - hab * hab;
        let (da, db) = if det > 0.0 && det.is_finite() {
            (-(hbb * ga - hab * gb) / det, -(haa * gb - hab * ga) / det)
        } else {
            (-ga, -gb) // degenerate Hessian: fall back to steepest descent
        };
        // Backtracking (Armijo): halve the step until the loss drops enough.
        let slope = ga * da + gb * db;
        let mut step = 1.0;
        let mut moved = false;
        while step >= 1e-10 {
            let (na, nb) = (a + step * da, b + step * db);
            let nf = loss(data, na, nb);
            if nf <= f + 1e-4 * step * slope {
                (a, b, f) = (na, nb, nf);
                moved = true;
                break;
            }
            step /= 2.0;
        }
        if !moved {
            break; // no further progress at machine precision
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logit_is_clipped() {
        assert!((logit(0.0) - logit(LOGIT_CLIP)).abs() < 1e-12);
        assert!(logit(1.0).is_finite() && logit(1.0) > 16.0);
        assert!((sigmoid(logit(0.3)) - 0.3).abs() < 1e-12);
    }

    #[test]
    fn newton_solves_a_two_point_problem() {
        // Targets equal to the predictions' own probabilities: the identity is optimal.
        let data = [(logit(0.2), 0.2), (logit(0.7), 0.7)];
        let (a, b) = newton(&data);
        assert!((a - 1.0).abs() < 1e-9 && b.abs() < 1e-9, "{a} {b}");
    }
}
