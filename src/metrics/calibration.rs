//! Metrics of predicted probabilities against 0/1 outcomes: expected calibration error and log
//! loss. Predictions must lie in `[0, 1]`.

use super::check;
use crate::error::Result;

/// Bins [`expected_calibration_error`] uses unless told otherwise (the seed's `num_bins`).
pub const DEFAULT_ECE_BINS: usize = 10;

/// Predictions are clipped to `[ε, 1 − ε]` before the logarithm, so a confident wrong answer
/// costs `−ln ε ≈ 34.5` instead of infinity (scikit-learn's long-standing default).
pub const LOG_LOSS_EPS: f64 = 1e-15;

/// Expected calibration error over `bins` equal-width bins of `[0, 1]`:
/// Most bins [`expected_calibration_error`] accepts. The bins are allocated up front, so a
/// caller's count must not drive an allocation of any size; a million bins is far past any use
/// (the seed uses 10).
pub const MAX_ECE_BINS: usize = 1 << 20;

/// `ECE = Σ_b (n_b / N) · |mean(y in b) − mean(p in b)|`. Bin `b` holds `b/B ≤ p < (b+1)/B`, the
/// last bin also holds `p = 1` (as the seed's calibration bins, which otherwise drop it); empty
/// bins contribute nothing.
///
/// Errors: length mismatch, no predictions, a prediction outside `[0, 1]` or NaN, a label other
/// than 0/1, `bins` = 0 or above [`MAX_ECE_BINS`].
pub fn expected_calibration_error(probs: &[f32], labels: &[f32], bins: usize) -> Result<f64> {
    let op = "expected_calibration_error";
    check_probabilities(op, probs, labels)?;
    if bins == 0 || bins > MAX_ECE_BINS {
        return Err(check::invalid(
            "bins",
            format!("{op}: {bins} bins; between 1 and {MAX_ECE_BINS} are accepted"),
        ));
    }
    // Per bin: (count, sum of p, sum of y).
    let mut acc = vec![(0usize, 0.0f64, 0.0f64); bins];
    for (&p, &y) in probs.iter().zip(labels) {
        let p = f64::from(p);
        let b = ((p * bins as f64) as usize).min(bins - 1);
        acc[b].0 += 1;
        acc[b].1 += p;
        acc[b].2 += f64::from(y);
    }
    let n = probs.len() as f64;
    Ok(acc
        .iter()
        .filter(|(count, _, _)| *count > 0)
        .map(|&(count, sp, sy)| (count as f64 / n) * ((sy - sp) / count as f64).abs())
        .sum())
}

/// Mean binary cross-entropy: `−(1/N) Σ [y·ln p + (1 − y)·ln(1 − p)]`, with `p` clipped to
/// `[LOG_LOSS_EPS, 1 − LOG_LOSS_EPS]`.
///
/// Errors: length mismatch, no predictions, a prediction outside `[0, 1]` or NaN, a label other
/// than 0/1.
pub fn log_loss(probs: &[f32], labels: &[f32]) -> Result<f64> {
    check_probabilities("log_loss", probs, labels)?;
    let total: f64 = probs
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = f64::from(p).clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
            if y == 1.0 {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    Ok(total / probs.len() as f64)
}

fn check_probabilities(op: &'static str, probs: &[f32], labels: &[f32]) -> Result<()> {
    check::same_len(op, probs, labels)?;
    check::non_empty(op, probs.len())?;
    check::probabilities(op, probs)?;
    check::binary_labels(op, labels).map(|_| ())
}
