//! The seed's binned ratio map (`CTRCalibration`).
//!
//! Fit: `num_bins` equal-width bins over `[0, 1]` (edges as `np.linspace(0, 1, n + 1)`); for each
//! non-empty bin, `ratio = mean(label) / (mean(prediction) + 1e-10)`. Apply: a prediction in bin
//! `i` becomes `clip(p · ratio_i, 0, 1)`; a prediction in an empty bin is unchanged.
//!
//! One deliberate difference from the seed: its bins are `edges[i] ≤ p < edges[i+1]`, so a
//! prediction of exactly 1.0 falls in no bin and is never calibrated. Here the last bin also
//! holds `p = 1.0` (as [`crate::metrics::expected_calibration_error`] does), so the map has no
//! hole at its top end. Every other prediction lands in the seed's bin exactly: the edges are
//! stored as the smallest f32 not below the seed's f64 edge, so `p ≥ edge` on an f32 `p` gives the
//! same answer as the seed's comparison in f64. Means are accumulated in f64.

use super::check_pairs;
use crate::error::{Error, Result};

/// The seed's default number of bins.
pub const DEFAULT_BINS: usize = 10;
/// Added to a bin's mean prediction before dividing (the seed's `1e-10`), so a bin of zeros
/// does not divide by zero.
pub const RATIO_EPS: f64 = 1e-10;

/// A fitted binned ratio map.
#[derive(Clone, Debug, PartialEq)]
pub struct Binned {
    edges: Vec<f32>,
    ratios: Vec<f32>,
}

impl Binned {
    /// Fits `num_bins` (≥ 1) equal-width bins.
    pub fn fit(predictions: &[f32], labels: &[f32], num_bins: usize) -> Result<Binned> {
        check_pairs(predictions, labels)?;
        if num_bins == 0 {
            return Err(Error::InvalidArgument {
                arg: "num_bins",
                reason: "at least one bin is needed".into(),
            });
        }
        let edges = equal_width_edges(num_bins);
        // Per bin: (count, Σ prediction, Σ label).
        let mut acc = vec![(0usize, 0.0f64, 0.0f64); num_bins];
        for (&p, &y) in predictions.iter().zip(labels) {
            if let Some(b) = bin_of(&edges, p) {
                acc[b].0 += 1;
                acc[b].1 += f64::from(p);
                acc[b].2 += f64::from(y);
            }
        }
        let ratios = acc
            .iter()
            .map(|&(n, sp, sy)| {
                if n == 0 {
                    1.0 // empty bin: predictions pass unchanged (the seed leaves them out of its map)
                } else {
                    let n = n as f64;
                    ((sy / n) / (sp / n + RATIO_EPS)) as f32
                }
            })
            .collect();
        Ok(Binned { edges, ratios })
    }

    /// Builds a map from stored edges (`n + 1`, finite, strictly increasing) and ratios (`n`,
    /// finite, ≥ 0); anything else is [`Error::InvalidArgument`] saying what is wrong.
    pub fn from_parts(edges: Vec<f32>, ratios: Vec<f32>) -> Result<Binned> {
        let bad = |reason: String| Error::InvalidArgument {
            arg: "calibration.binned",
            reason,
        };
        if ratios.is_empty() || edges.len() != ratios.len() + 1 {
            return Err(bad(format!(
                "{} edges for {} ratios; expected one edge more than ratios",
                edges.len(),
                ratios.len()
            )));
        }
        if edges.iter().any(|e| !e.is_finite()) || edges.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad("edges must be finite and strictly increasing".into()));
        }
        if ratios.iter().any(|r| !r.is_finite() || *r < 0.0) {
            return Err(bad("ratios must be finite and ≥ 0".into()));
        }
        Ok(Binned { edges, ratios })
    }

    /// Bin edges (`num_bins + 1`).
    pub fn edges(&self) -> &[f32] {
        &self.edges
    }

    /// Per-bin ratios (1 for a bin that was empty when fitted).
    pub fn ratios(&self) -> &[f32] {
        &self.ratios
    }

    /// Calibrates one probability; a value outside the edges (or NaN) is only clipped.
    pub fn apply_one(&self, p: f32) -> f32 {
        let scaled = match bin_of(&self.edges, p) {
            Some(b) => p * self.ratios[b],
            None => p,
        };
        scaled.clamp(0.0, 1.0)
    }
}

/// `np.linspace(0, 1, n + 1)` (`i · (1/n)`, last edge exactly 1), each rounded up to f32.
fn equal_width_edges(n: usize) -> Vec<f32> {
    let step = 1.0 / n as f64;
    (0..=n)
        .map(|i| {
            let e = if i == n { 1.0 } else { i as f64 * step };
            let f = e as f32;
            if f64::from(f) < e {
                f.next_up()
            } else {
                f
            }
        })
        .collect()
}

/// The bin holding `p`: `edges[b] ≤ p < edges[b+1]`, the last bin closed on the right.
fn bin_of(edges: &[f32], p: f32) -> Option<usize> {
    let last = edges.len() - 1;
    if !(p >= edges[0] && p <= edges[last]) {
        return None; // outside, or NaN
    }
    if p == edges[last] {
        return Some(last - 1);
    }
    Some(edges.partition_point(|&e| e <= p) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_the_seeds_rounded_up() {
        let e = equal_width_edges(10);
        assert_eq!(e.len(), 11);
        assert_eq!((e[0], e[10]), (0.0, 1.0));
        for (i, &x) in e.iter().enumerate() {
            let seed = i as f64 * 0.1;
            assert!(
                f64::from(x) >= seed && f64::from(x.next_down()) < seed,
                "edge {i}"
            );
        }
    }

    #[test]
    fn boundaries_fall_in_the_upper_bin_and_one_in_the_last() {
        let e = equal_width_edges(10);
        assert_eq!(bin_of(&e, 0.0), Some(0));
        assert_eq!(bin_of(&e, e[3]), Some(3));
        assert_eq!(bin_of(&e, e[3].next_down()), Some(2));
        assert_eq!(bin_of(&e, 1.0), Some(9));
        assert_eq!(bin_of(&e, f32::NAN), None);
        assert_eq!(bin_of(&e, -0.5), None);
    }
}
