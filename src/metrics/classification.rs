//! Binary-classification metrics: ROC-AUC, PR-AUC (average precision) and the seed's fraud
//! metrics at a threshold. Labels are exactly 0 or 1; scores are any non-NaN numbers (logits or
//! probabilities: only their order matters, except to the threshold).

use std::cmp::Ordering;

use super::check;
use crate::error::Result;

/// ROC-AUC by the Mann–Whitney U statistic:
/// `AUC = (R₊ − n₊(n₊+1)/2) / (n₊·n₋)`, where `R₊` is the sum of the positives' ranks among all
/// scores (ascending, from 1) and **tied scores share the average of their ranks**. So a
/// positive and a negative with equal scores count as half a correctly ordered pair, and AUC is
/// the probability that a random positive outscores a random negative, ties counting ½.
///
/// Errors: length mismatch, NaN score, a label other than 0/1, and no positive or no negative
/// (AUC is undefined).
pub fn roc_auc(scores: &[f32], labels: &[f32]) -> Result<f64> {
    let positives = check_binary("roc_auc", scores, labels)?;
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(check::invalid(
            "labels",
            format!("roc_auc: undefined with {positives} positives and {negatives} negatives; both classes are needed"),
        ));
    }
    let order = ascending(scores);
    // Sum of the positives' ranks, each tie group given the mean of the ranks it spans.
    let (mut rank_sum, mut ranked) = (0.0, 0usize);
    for group in order.chunk_by(|&a, &b| scores[a] == scores[b]) {
        // The group spans ranks ranked+1 ..= ranked+len; their mean is the midpoint.
        let mean_rank = ranked as f64 + (group.len() as f64 + 1.0) / 2.0;
        let pos = group.iter().filter(|&&i| labels[i] == 1.0).count();
        rank_sum += mean_rank * pos as f64;
        ranked += group.len();
    }
    let (p, n) = (positives as f64, negatives as f64);
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// PR-AUC as **average precision** (scikit-learn's `average_precision_score`, no
/// interpolation): `AP = Σₜ (Rₜ − Rₜ₋₁) · Pₜ`, over the distinct score values t taken as
/// thresholds from highest to lowest, with `Pₜ` and `Rₜ` the precision and recall of flagging
/// every score ≥ t (`R₀ = 0`). Tied scores enter together, as one threshold.
///
/// Errors: length mismatch, NaN score, a label other than 0/1, and no positive (recall is
/// undefined). Without negatives AP is 1.
pub fn pr_auc(scores: &[f32], labels: &[f32]) -> Result<f64> {
    let positives = check_binary("pr_auc", scores, labels)?;
    if positives == 0 {
        return Err(check::invalid(
            "labels",
            "pr_auc: undefined without a positive label".into(),
        ));
    }
    let mut order = ascending(scores);
    order.reverse(); // highest first; tie groups stay contiguous, which is all that matters
    let (mut tp, mut flagged, mut ap, mut last_recall) = (0usize, 0usize, 0.0, 0.0);
    for group in order.chunk_by(|&a, &b| scores[a] == scores[b]) {
        tp += group.iter().filter(|&&i| labels[i] == 1.0).count();
        flagged += group.len();
        let recall = tp as f64 / positives as f64;
        ap += (recall - last_recall) * (tp as f64 / flagged as f64);
        last_recall = recall;
    }
    Ok(ap)
}

/// Counts and rates of flagging every score ≥ a threshold (the seed's `compute_fraud_metrics`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ThresholdMetrics {
    /// Flagged and positive.
    pub true_positives: usize,
    /// Flagged and negative.
    pub false_positives: usize,
    /// Not flagged and positive.
    pub false_negatives: usize,
    /// Not flagged and negative.
    pub true_negatives: usize,
    /// `tp / (tp + fp)`, 0 when nothing is flagged.
    pub precision: f64,
    /// `tp / (tp + fn)`, 0 when there is no positive ("fraud caught").
    pub recall: f64,
    /// `2·P·R / (P + R)`, 0 when `P + R = 0`.
    pub f1: f64,
    /// `fp / (fp + tn)`, 0 when there is no negative ("good transactions blocked").
    pub false_positive_rate: f64,
}

/// Flags every score `≥ threshold` (as the seed does) and compares with the labels. The seed's
/// zero-division conventions apply: a ratio with a zero denominator is 0, so an empty input
/// gives all zeros rather than an error.
///
/// Errors: length mismatch, NaN score or threshold, a label other than 0/1.
pub fn threshold_metrics(
    scores: &[f32],
    labels: &[f32],
    threshold: f32,
) -> Result<ThresholdMetrics> {
    check_binary("threshold_metrics", scores, labels)?;
    if threshold.is_nan() {
        return Err(check::invalid(
            "threshold",
            "threshold_metrics: threshold is NaN".into(),
        ));
    }
    let mut m = ThresholdMetrics::default();
    for (&s, &y) in scores.iter().zip(labels) {
        match (s >= threshold, y == 1.0) {
            (true, true) => m.true_positives += 1,
            (true, false) => m.false_positives += 1,
            (false, true) => m.false_negatives += 1,
            (false, false) => m.true_negatives += 1,
        }
    }
    let ratio = |a: usize, b: usize| {
        if a + b == 0 {
            0.0
        } else {
            a as f64 / (a + b) as f64
        }
    };
    m.precision = ratio(m.true_positives, m.false_positives);
    m.recall = ratio(m.true_positives, m.false_negatives);
    m.false_positive_rate = ratio(m.false_positives, m.true_negatives);
    let pr = m.precision + m.recall;
    m.f1 = if pr > 0.0 {
        2.0 * m.precision * m.recall / pr
    } else {
        0.0
    };
    Ok(m)
}

/// Common checks; returns the number of positives.
fn check_binary(op: &'static str, scores: &[f32], labels: &[f32]) -> Result<usize> {
    check::same_len(op, scores, labels)?;
    check::no_nan(op, scores)?;
    check::binary_labels(op, labels)
}

/// Indices by ascending score (NaN excluded by the caller).
fn ascending(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&a, &b| scores[a].partial_cmp(&scores[b]).unwrap_or(Ordering::Equal));
    order
}
