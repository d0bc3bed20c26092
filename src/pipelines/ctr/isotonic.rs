//! Isotonic regression: the non-decreasing map of prediction to click rate with the least
//! squared error, by pool-adjacent-violators (PAV).
//!
//! Predictions are sorted ascending and equal predictions pooled into one point first (their
//! labels averaged, weighted by count), so ties never depend on input order. PAV then merges
//! adjacent blocks while a block's mean is not below the next one's. The result is stored as points
//! `(x, y)`: each block contributes its lowest and highest prediction (one point when they are
//! equal) at the block's mean label — scikit-learn's trimmed `X_thresholds_`/`y_thresholds_`.
//! Applying interpolates linearly between points and clips outside `[x₀, x_last]` to the end
//! values (scikit-learn's `out_of_bounds="clip"`).

use super::check_pairs;
use crate::error::{Error, Result};

/// A fitted isotonic map.
#[derive(Clone, Debug, PartialEq)]
pub struct Isotonic {
    x: Vec<f32>,
    y: Vec<f32>,
}

impl Isotonic {
    /// Fits the map to `predictions` and their 0/1 `labels`.
    pub fn fit(predictions: &[f32], labels: &[f32]) -> Result<Isotonic> {
        check_pairs(predictions, labels)?;
        let mut order: Vec<usize> = (0..predictions.len()).collect();
        // Predictions are checked to be in [0, 1], so `total_cmp` is the numeric order
        // (except −0 < +0, pooled just below).
        order.sort_by(|&i, &j| predictions[i].total_cmp(&predictions[j]));
        // Blocks: (lowest x, highest x, Σ label, count).
        let mut blocks: Vec<(f32, f32, f64, f64)> = Vec::new();
        for &i in &order {
            let (p, y) = (predictions[i], f64::from(labels[i]));
            match blocks.last_mut() {
                Some(last) if last.1 == p => {
                    last.2 += y;
                    last.3 += 1.0;
                }
                _ => blocks.push((p, p, y, 1.0)),
            }
        }
        // PAV: keep the stack of blocks non-decreasing in mean, merging on each violation.
        let mut stack: Vec<(f32, f32, f64, f64)> = Vec::with_capacity(blocks.len());
        for block in blocks {
            let mut cur = block;
            while let Some(prev) = stack.last() {
                // prev.mean ≥ cur.mean, compared without division. Equal means merge too: the
                // function is the same and the stored points fewer.
                if prev.2 * cur.3 >= cur.2 * prev.3 {
                    cur = (prev.0, cur.1, prev.2 + cur.2, prev.3 + cur.3);
                    stack.pop();
                } else {
                    break;
                }
            }
            stack.push(cur);
        }
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for (lo, hi, sum, n) in stack {
            let mean = (sum / n) as f32; // rounding is monotone, so y stays non-decreasing
            x.push(lo);
            y.push(mean);
            if hi != lo {
                x.push(hi);
                y.push(mean);
            }
        }
        Ok(Isotonic { x, y })
    }

    /// Builds a map from stored points: equal non-zero lengths, `x` finite and non-decreasing,
    /// `y` in `[0, 1]` and non-decreasing.
    pub fn from_parts(x: Vec<f32>, y: Vec<f32>) -> Result<Isotonic> {
        let bad = |reason: String| Error::InvalidArgument {
            arg: "calibration.isotonic",
            reason,
        };
        if x.is_empty() || x.len() != y.len() {
            return Err(bad(format!(
                "{} thresholds and {} values; expected equal, non-zero counts",
                x.len(),
                y.len()
            )));
        }
        if x.iter().any(|v| !v.is_finite()) || x.windows(2).any(|w| w[0] > w[1]) {
            return Err(bad("thresholds must be finite and non-decreasing".into()));
        }
        if y.iter().any(|v| !(0.0..=1.0).contains(v)) || y.windows(2).any(|w| w[0] > w[1]) {
            return Err(bad("values must lie in [0, 1] and be non-decreasing".into()));
        }
        Ok(Isotonic { x, y })
    }

    /// Thresholds (ascending predictions).
    pub fn x(&self) -> &[f32] {
        &self.x
    }

    /// Calibrated value at each threshold.
    pub fn y(&self) -> &[f32] {
        &self.y
    }

    /// Calibrates one probability by linear interpolation, clipped to the end values.
    pub fn apply_one(&self, p: f32) -> f32 {
        let last = self.x.len() - 1;
        if p.is_nan() {
            return p;
        }
        if p <= self.x[0] {
            return self.y[0];
        }
        if p >= self.x[last] {
            return self.y[last];
        }
        // x[j-1] ≤ p < x[j], so the span is never zero even with repeated thresholds.
        let j = self.x.partition_point(|&t| t <= p);
        let (x0, x1) = (f64::from(self.x[j - 1]), f64::from(self.x[j]));
        let (y0, y1) = (f64::from(self.y[j - 1]), f64::from(self.y[j]));
        let v = y0 + (f64::from(p) - x0) / (x1 - x0) * (y1 - y0);
        (v as f32).clamp(self.y[j - 1], self.y[j])
    }
}
