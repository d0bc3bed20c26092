//! Argument checks shared by every metric: each refusal is a typed [`Error`] naming the metric
//! and the argument, never a panic or a silently wrong number.

use crate::error::{Error, Result};

/// `labels` must be as long as `scores`.
pub(crate) fn same_len(op: &'static str, scores: &[f32], labels: &[f32]) -> Result<()> {
    if labels.len() != scores.len() {
        return Err(Error::BufferLength {
            op,
            arg: "labels",
            expected: scores.len(),
            actual: labels.len(),
        });
    }
    Ok(())
}

/// No score may be NaN: a NaN has no place in a ranking, and sorting it anywhere would make
/// the metric depend on an accident.
pub(crate) fn no_nan(op: &'static str, scores: &[f32]) -> Result<()> {
    match scores.iter().position(|s| s.is_nan()) {
        Some(i) => Err(invalid("scores", format!("{op}: scores[{i}] is NaN"))),
        None => Ok(()),
    }
}

/// Probabilities must lie in `[0, 1]` (NaN fails this too).
pub(crate) fn probabilities(op: &'static str, probs: &[f32]) -> Result<()> {
    match probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
        Some(i) => Err(invalid(
            "scores",
            format!(
                "{op}: scores[{i}] = {} is not a probability in [0, 1]",
                probs[i]
            ),
        )),
        None => Ok(()),
    }
}

/// Binary labels must be exactly 0 or 1; returns the number of positives.
pub(crate) fn binary_labels(op: &'static str, labels: &[f32]) -> Result<usize> {
    let mut positives = 0;
    for (i, &y) in labels.iter().enumerate() {
        if y == 1.0 {
            positives += 1;
        } else if y != 0.0 {
            return Err(invalid(
                "labels",
                format!("{op}: labels[{i}] = {y}; binary labels must be 0 or 1"),
            ));
        }
    }
    Ok(positives)
}

/// Graded relevance must be finite and non-negative (a negative grade would have a negative
/// gain `2^r − 1` and could push NDCG outside `[0, 1]`).
pub(crate) fn relevance(op: &'static str, labels: &[f32]) -> Result<()> {
    match labels.iter().position(|r| !(r.is_finite() && *r >= 0.0)) {
        Some(i) => Err(invalid(
            "labels",
            format!(
                "{op}: labels[{i}] = {}; relevance must be a finite number ≥ 0",
                labels[i]
            ),
        )),
        None => Ok(()),
    }
}

/// A cutoff `k` must be at least 1.
pub(crate) fn cutoff(op: &'static str, k: usize) -> Result<()> {
    if k == 0 {
        return Err(invalid("k", format!("{op}: k must be at least 1")));
    }
    Ok(())
}

/// The input must not be empty (for metrics that average over rows).
pub(crate) fn non_empty(op: &'static str, n: usize) -> Result<()> {
    if n == 0 {
        return Err(invalid("scores", format!("{op}: no predictions")));
    }
    Ok(())
}

pub(crate) fn invalid(arg: &'static str, reason: String) -> Error {
    Error::InvalidArgument { arg, reason }
}
