//! `reckon_metric_*`: the offline evaluation metrics of SPEC §4.6 over C float arrays.
//!
//! Every function takes each array with its own length, so a caller's mismatch is reported
//! (`RECKON_SHAPE`) rather than read past; the value goes through a `double *` out-pointer
//! written only on success. The formulas and refusals are those of [`crate::metrics`]: an
//! empty input where the metric is undefined, a NaN score, a label other than 0/1, a grade
//! outside `[0, 64]`, `k = 0` or `bins = 0` is `RECKON_INVALID_ARGUMENT`.

use super::boundary::{arg_out, arg_slice, guard, optional_out, FfiResult};
use super::status::reckon_status;
use crate::metrics::{self, RankingMetric};

/// Which ranking metric `reckon_metric_mean_over_queries` averages, a
/// `reckon_ranking_metric_code` value (an int, so any value C passes is safe to check).
#[allow(non_camel_case_types)]
pub type reckon_ranking_metric = std::ffi::c_int;

/// The values a `reckon_ranking_metric` takes.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum reckon_ranking_metric_code {
    /// NDCG@k (mean NDCG).
    RECKON_METRIC_NDCG = 0,
    /// Reciprocal rank (MRR when averaged); k is ignored.
    RECKON_METRIC_MRR = 1,
    /// Precision@k.
    RECKON_METRIC_PRECISION = 2,
    /// Recall@k.
    RECKON_METRIC_RECALL = 3,
    /// Hit@k (hit rate when averaged).
    RECKON_METRIC_HIT_RATE = 4,
}

/// The seed's fraud metrics at a threshold (`reckon_metric_threshold`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct reckon_threshold_metrics {
    /// Flagged (score ≥ threshold) and positive.
    pub true_positives: usize,
    /// Flagged and negative.
    pub false_positives: usize,
    /// Not flagged and positive.
    pub false_negatives: usize,
    /// Not flagged and negative.
    pub true_negatives: usize,
    /// `tp / (tp + fp)`, 0 when nothing is flagged.
    pub precision: f64,
    /// `tp / (tp + fn)`, 0 when there is no positive.
    pub recall: f64,
    /// `2·P·R / (P + R)`, 0 when `P + R = 0`.
    pub f1: f64,
    /// `fp / (fp + tn)`, 0 when there is no negative.
    pub false_positive_rate: f64,
}

/// Checks two arrays and the out-pointer, computes, and writes the value only on success.
///
/// # Safety
/// C contract: `a` holds `na` floats, `b` holds `nb` floats, `out` is writable.
#[allow(clippy::too_many_arguments)]
unsafe fn pair(
    a: *const f32,
    na: usize,
    a_name: &str,
    b: *const f32,
    nb: usize,
    b_name: &str,
    out: *mut f64,
    metric: impl FnOnce(&[f32], &[f32]) -> crate::Result<f64>,
) -> FfiResult<()> {
    // SAFETY: forwarded C contract for each pointer and its length.
    let (a, b, out) = unsafe {
        (
            arg_slice(a, na, a_name)?,
            arg_slice(b, nb, b_name)?,
            arg_out(out, "out")?,
        )
    };
    *out = metric(a, b)?;
    Ok(())
}

/// ROC-AUC of `scores` (`n_scores` floats) against 0/1 `labels` (`n_labels` floats), ties
/// counting ½. Needs at least one positive and one negative.
///
/// All `reckon_metric_*` functions: `*out` is written only on success; arrays of different
/// lengths are `RECKON_SHAPE`; a NaN score, a label other than 0 or 1, a relevance grade that
/// is not a finite number in `[0, 64]`, `k = 0` or `bins = 0` is `RECKON_INVALID_ARGUMENT`
/// (not `RECKON_NON_FINITE`). An array may be NULL only when its length is 0.
#[no_mangle]
pub unsafe extern "C" fn reckon_metric_roc_auc(
    scores: *const f32,
    n_scores: usize,
    labels: *const f32,
    n_labels: usize,
    out: *mut f64,
) -> reckon_status {
    // SAFETY: C contract, documented above.
    guard(|| unsafe {
        pair(
            scores,
            n_scores,
            "scores",
            labels,
            n_labels,
            "labels",
            out,
            metrics::roc_auc,
        )
    })
}

/// PR-AUC as average precision (scikit-learn's `average_precision_score`) of `scores` against
/// 0/1 `labels`. Needs at least one positive.
#[no_mangle]
pub unsafe extern "C" fn reckon_metric_pr_auc(
    scores: *const f32,
    n_scores: usize,
    labels: *const f32,
    n_labels: usize,
    out: *mut f64,
) -> reckon_status {
    // SAFETY: C contract, documented above.
    guard(|| unsafe {
        pair(
            scores,
            n_scores,
            "scores",
            labels,
            n_labels,
            "labels",
            out,
            metrics::pr_auc,
        )
    })
}

/// Mean binary cross-entropy of probabilities `probs` (in `[0, 1]`, clipped to
/// `[1e-15, 1 − 1e-15]`) against 0/1 `labels`. Needs at least one prediction.
#[no_mangle]
pub unsafe extern "C" fn reckon_metric_log_loss(
    probs: *const f32,
    n_probs: usize,
    labels: *const f32,
    n_labels: usize,
    out: *mut f64,
) -> reckon_status {
    // SAFETY: C contract, documented above.
    guard(|| unsafe {
        pair(
            probs,
            n_probs,
            "probs",
            labels,
            n_labels,
            "labels",
            out,
            metrics::log_loss,
        )
    })
}

/// Expected calibration error of probabilities `probs` against 0/1 `labels` over `bins`
/// equal-width bins of `[0, 1]` (10 is the usual choice). Needs at least one prediction.
#[no_mangle]
pub unsafe extern "C" fn reckon_metric_ece(
    probs: *const f32,
    n_probs: usize,
    labels: *const f32,
    n_labels: usize,
    bins: usize,
    out: *mut f64,
) -> reckon_status {
    // SAFETY: C contract, documented above.
    guard(|| unsafe {
        pair(
            probs,
            n_probs,
            "probs",
            labels,
            n_labels,
            "labels",
            out,
            |p, y| metrics::expected_calibration_error(p, y, bins),
        )
    })
}

/// NDCG@k (gain `2^r − 1`, discount `log2(i + 2)`) of the ranking `scores` induces over one
/// query's documents with graded `relevance` (same order as `scores`; grades in `[0, 64]`);
/// ties in score keep input order. 0 when no document is relevant, including for an empty
/// query (`n_scores` = 0 is not an error for the ranking metrics).
#[no_mangle]
pub unsafe extern "C" fn reckon_metric_ndcg_at(
    scores: *const f32,
    n_scores: usize,
    relevance: *const f32,
    n_relevance: usize,
    k: usize,
    out: *mut f64,
) -> reckon_status {
    // SAFETY: C contract, documented above.
    guard(|| unsafe {
        pair(
            scores,
            n_scores,
            "scores",
            relevance,
            n_relevance,
            "relevance",
            out,
            |s, r| metrics::ndcg_at(s, r, k),
        )
    })
}

/// Reciprocal rank of one query: `1 / (1 + position of the first relevant document)` (grade
/// above 0) in score order, 0 when none is relevant. MRR over many queries:
/// `reckon_metric_mean_over_queries` with `RECKON_METRIC_MRR`.
#[no_mangle]
pub unsafe extern "C" fn reckon_metric_mrr(
    scores: *const f32,
    n_scores: usize,
    relevance: *const f32,
    n_relevance: usize,
    out: *mut f64,
) -> reckon_status {
    // SAFETY: C contract, documented above.
    guard(|| unsafe {
        pair(
            scores,
            n_scores,
            "scores",
            relevance,
            n_relevance,
            "relevance",
            out,
            metrics::reciprocal_rank,
        )
    })
}

/// Precision@k of one query: relevant documents (grade > 0) among the top k by score, divided
/// by k (even when fewer than k documents exist).
#[no_mangle]
pub unsafe extern "C" fn reckon_metric_precision_at(
    scores: *const f32,
    n_scores: usize,
    relevance: *const f32,
    n_relevance: usize,
    k: usize,
    out: *mut f64,
) -> reckon_status {
    // SAFETY: C contract, documented above.
    guard(|| unsafe {
        pair(
            scores,
            n_scores,
            "scores",
            relevance,
            n_relevance,
            "relevance",
            out,
            |s, r| metrics::precision_at(s, r, k),
        )
    })
}

/// Recall@k of one query: relevant documents among the top k by score, divided by all
/// relevant documents; 0 when none is relevant.
#[no_mangle]
pub unsafe extern "C" fn reckon_metric_recall_at(
    scores: *const f32,
    n_scores: usize,
    relevance: *const f32,
    n_relevance: usize,
    k: usize,
    out: *mut f64,
) -> reckon_status {
    // SAFETY: C contract, documented above.
    guard(|| unsafe {
        pair(
            scores,
            n_scores,
            "scores",
            relevance,
            n_relevance,
            "relevance",
            out,
            |s, r| metrics::recall_at(s, r, k),
        )
    })
}

/// Hit@k of one query: 1 if any of the top k documents by score is relevant, else 0.
#[no_mangle]
pub unsafe extern "C" fn reckon_metric_hit_at(
    scores: *const f32,
    n_scores: usize,
    relevance: *const f32,
    n_relevance: usize,
    k: usize,
    out: *mut f64,
) -> reckon_status {
    // SAFETY: C contract, documented above.
    guard(|| unsafe {
        pair(
            scores,
            n_scores,
            "scores",
            relevance,
            n_relevance,
            "relevance",
            out,
            |s, r| metrics::hit_at(s, r, k),
        )
    })
}

/// A ranking metric computed per query and averaged with equal weight per query: row `i` has
/// score `scores[i]`, grade `relevance[i]` and query id `groups[i]` (a query's rows need not be
/// adjacent). `k` is the cutoff (ignored by `RECKON_METRIC_MRR`). Queries with no relevant
/// document are left out of the mean (as trec_eval does); `queries` and `skipped` (either may
/// be NULL) receive how many were counted and left out. The mean is 0 when none was counted.
#[no_mangle]
pub unsafe extern "C" fn reckon_metric_mean_over_queries(
    metric: reckon_ranking_metric,
    k: usize,
    scores: *const f32,
    n_scores: usize,
    relevance: *const f32,
    n_relevance: usize,
    groups: *const i64,
    n_groups: usize,
    out: *mut f64,
    queries: *mut usize,
    skipped: *mut usize,
) -> reckon_status {
    guard(|| {
        use reckon_ranking_metric_code::*;
        let metric = match metric {
            m if m == RECKON_METRIC_NDCG as reckon_ranking_metric => RankingMetric::Ndcg(k),
            m if m == RECKON_METRIC_MRR as reckon_ranking_metric => RankingMetric::ReciprocalRank,
            m if m == RECKON_METRIC_PRECISION as reckon_ranking_metric => {
                RankingMetric::Precision(k)
            }
            m if m == RECKON_METRIC_RECALL as reckon_ranking_metric => RankingMetric::Recall(k),
            m if m == RECKON_METRIC_HIT_RATE as reckon_ranking_metric => RankingMetric::HitRate(k),
            other => {
                return Err(super::boundary::FfiError::invalid(
                    "metric",
                    format_args!("{other} is not a reckon_ranking_metric_code value"),
                ))
            }
        };
        // SAFETY: C contract: each array holds its length, `out` is writable, and `queries`
        // and `skipped` are NULL or writable.
        let (scores, relevance, groups, out, queries, skipped) = unsafe {
            (
                arg_slice(scores, n_scores, "scores")?,
                arg_slice(relevance, n_relevance, "relevance")?,
                arg_slice(groups, n_groups, "groups")?,
                arg_out(out, "out")?,
                optional_out(queries, "queries")?,
                optional_out(skipped, "skipped")?,
            )
        };
        let mean = metrics::mean_over_queries(metric, scores, relevance, groups)?;
        *out = mean.value;
        if let Some(q) = queries {
            *q = mean.queries;
        }
        if let Some(s) = skipped {
            *s = mean.skipped;
        }
        Ok(())
    })
}

/// The seed's fraud metrics: flags every score ≥ `threshold` and compares with 0/1 `labels`.
/// A ratio with a zero denominator is 0, so empty input gives all zeros rather than an error.
/// A NaN score or threshold is `RECKON_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn reckon_metric_threshold(
    scores: *const f32,
    n_scores: usize,
    labels: *const f32,
    n_labels: usize,
    threshold: f32,
    out: *mut reckon_threshold_metrics,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: each array holds its length, `out` is writable.
        let (scores, labels, out) = unsafe {
            (
                arg_slice(scores, n_scores, "scores")?,
                arg_slice(labels, n_labels, "labels")?,
                arg_out(out, "out")?,
            )
        };
        let m = metrics::threshold_metrics(scores, labels, threshold)?;
        *out = reckon_threshold_metrics {
            true_positives: m.true_positives,
            false_positives: m.false_positives,
            false_negatives: m.false_negatives,
            true_negatives: m.true_negatives,
            precision: m.precision,
            recall: m.recall,
            f1: m.f1,
            false_positive_rate: m.false_positive_rate,
        };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::status::Status;
    use crate::ffi::test_support::*;
    use std::ptr::{null, null_mut};

    const SHAPE: reckon_status = Status::RECKON_SHAPE as reckon_status;
    const UNTOUCHED: f64 = -12345.0;

    type PairFn = unsafe extern "C" fn(*const f32, usize, *const f32, usize, *mut f64) -> i32;
    type CutFn = unsafe extern "C" fn(*const f32, usize, *const f32, usize, usize, *mut f64) -> i32;

    const SCORES: [f32; 6] = [0.9, 0.1, 0.8, 0.3, 0.3, 0.05];
    const LABELS: [f32; 6] = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
    const GRADES: [f32; 6] = [3.0, 0.0, 2.0, 1.0, 0.0, 4.0];

    /// Success equal to Rust, then every reachable refusal with `out` untouched.
    fn check_pair(f: PairFn, rust: fn(&[f32], &[f32]) -> crate::Result<f64>, b: &[f32]) {
        let mut out = UNTOUCHED;
        // SAFETY: valid arrays and out-pointer, or NULL/short ones the function must refuse.
        unsafe {
            assert_eq!(f(SCORES.as_ptr(), 6, b.as_ptr(), 6, &mut out), OK);
            assert_eq!(out.to_bits(), rust(&SCORES, b).unwrap().to_bits());
            out = UNTOUCHED;
            assert_eq!(f(SCORES.as_ptr(), 6, b.as_ptr(), 5, &mut out), SHAPE);
            assert_eq!(f(null(), 6, b.as_ptr(), 6, &mut out), INVALID);
            assert_eq!(f(SCORES.as_ptr(), 6, null(), 6, &mut out), INVALID);
            assert_eq!(f(SCORES.as_ptr(), 6, b.as_ptr(), 6, null_mut()), INVALID);
            let nan = [f32::NAN; 6];
            assert_ne!(f(nan.as_ptr(), 6, b.as_ptr(), 6, &mut out), OK);
            let bad = [-1.0f32; 6];
            assert_eq!(f(SCORES.as_ptr(), 6, bad.as_ptr(), 6, &mut out), INVALID);
            assert!(!last_error().is_empty());
            assert_eq!(out, UNTOUCHED);
            super::super::boundary::trigger_panic_next();
            assert_eq!(f(SCORES.as_ptr(), 6, b.as_ptr(), 6, &mut out), PANIC);
            assert!(last_error().contains("panic"));
            assert_eq!(out, UNTOUCHED);
        }
    }

    fn check_cut(f: CutFn, rust: fn(&[f32], &[f32], usize) -> crate::Result<f64>) {
        let mut out = UNTOUCHED;
        // SAFETY: as check_pair.
        unsafe {
            for k in [1, 3, 10] {
                assert_eq!(f(SCORES.as_ptr(), 6, GRADES.as_ptr(), 6, k, &mut out), OK);
                assert_eq!(out.to_bits(), rust(&SCORES, &GRADES, k).unwrap().to_bits());
            }
            out = UNTOUCHED;
            assert_eq!(
                f(SCORES.as_ptr(), 6, GRADES.as_ptr(), 6, 0, &mut out),
                INVALID
            );
            assert_eq!(
                f(SCORES.as_ptr(), 5, GRADES.as_ptr(), 6, 3, &mut out),
                SHAPE
            );
            assert_eq!(f(null(), 6, GRADES.as_ptr(), 6, 3, &mut out), INVALID);
            assert_eq!(f(SCORES.as_ptr(), 6, null(), 6, 3, &mut out), INVALID);
            assert_eq!(
                f(SCORES.as_ptr(), 6, GRADES.as_ptr(), 6, 3, null_mut()),
                INVALID
            );
            let negative = [-1.0f32; 6];
            assert_eq!(
                f(SCORES.as_ptr(), 6, negative.as_ptr(), 6, 3, &mut out),
                INVALID
            );
            assert_eq!(out, UNTOUCHED);
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                f(SCORES.as_ptr(), 6, GRADES.as_ptr(), 6, 3, &mut out),
                PANIC
            );
            assert_eq!(out, UNTOUCHED);
        }
    }

    #[test]
    fn classification_metrics_match_rust() {
        check_pair(reckon_metric_roc_auc, metrics::roc_auc, &LABELS);
        check_pair(reckon_metric_pr_auc, metrics::pr_auc, &LABELS);
        check_pair(reckon_metric_log_loss, metrics::log_loss, &LABELS);
        check_pair(reckon_metric_mrr, metrics::reciprocal_rank, &GRADES);
    }

    #[test]
    fn empty_or_one_class_input_is_the_rust_error() {
        let mut out = UNTOUCHED;
        // SAFETY: n = 0 arrays are never read; `out` is valid.
        unsafe {
            assert_eq!(
                reckon_metric_roc_auc(null(), 0, null(), 0, &mut out),
                INVALID
            );
            assert_eq!(
                reckon_metric_log_loss(null(), 0, null(), 0, &mut out),
                INVALID
            );
            let zeros = [0.0f32; 6];
            assert_eq!(
                reckon_metric_roc_auc(SCORES.as_ptr(), 6, zeros.as_ptr(), 6, &mut out),
                INVALID
            );
            assert!(last_error().contains("positive"), "{}", last_error());
        }
        assert_eq!(out, UNTOUCHED);
    }

    #[test]
    fn ece_matches_rust() {
        let mut out = UNTOUCHED;
        let probs = [0.9f32, 0.1, 0.8, 0.3, 0.3, 0.05];
        // SAFETY: valid arrays and out-pointer, or refused ones.
        unsafe {
            assert_eq!(
                reckon_metric_ece(probs.as_ptr(), 6, LABELS.as_ptr(), 6, 10, &mut out),
                OK
            );
            let want = metrics::expected_calibration_error(&probs, &LABELS, 10).unwrap();
            assert_eq!(out.to_bits(), want.to_bits());
            out = UNTOUCHED;
            assert_eq!(
                reckon_metric_ece(probs.as_ptr(), 6, LABELS.as_ptr(), 6, 0, &mut out),
                INVALID
            );
            assert_eq!(
                reckon_metric_ece(probs.as_ptr(), 6, LABELS.as_ptr(), 4, 10, &mut out),
                SHAPE
            );
            let over = [1.5f32; 6];
            assert_eq!(
                reckon_metric_ece(over.as_ptr(), 6, LABELS.as_ptr(), 6, 10, &mut out),
                INVALID
            );
            assert_eq!(
                reckon_metric_ece(probs.as_ptr(), 6, LABELS.as_ptr(), 6, 10, null_mut()),
                INVALID
            );
            assert_eq!(out, UNTOUCHED);
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_metric_ece(probs.as_ptr(), 6, LABELS.as_ptr(), 6, 10, &mut out),
                PANIC
            );
        }
        assert_eq!(out, UNTOUCHED);
    }

    #[test]
    fn ranking_metrics_match_rust() {
        check_cut(reckon_metric_ndcg_at, metrics::ndcg_at);
        check_cut(reckon_metric_precision_at, metrics::precision_at);
        check_cut(reckon_metric_recall_at, metrics::recall_at);
        check_cut(reckon_metric_hit_at, metrics::hit_at);
    }

    #[test]
    fn mean_over_queries_matches_rust() {
        use reckon_ranking_metric_code::*;
        let groups = [7i64, 7, 7, 9, 9, 9];
        let cases = [
            (RECKON_METRIC_NDCG, RankingMetric::Ndcg(2)),
            (RECKON_METRIC_MRR, RankingMetric::ReciprocalRank),
            (RECKON_METRIC_PRECISION, RankingMetric::Precision(2)),
            (RECKON_METRIC_RECALL, RankingMetric::Recall(2)),
            (RECKON_METRIC_HIT_RATE, RankingMetric::HitRate(2)),
        ];
        for (code, metric) in cases {
            let want = metrics::mean_over_queries(metric, &SCORES, &GRADES, &groups).unwrap();
            let (mut out, mut q, mut s) = (UNTOUCHED, 0usize, 0usize);
            // SAFETY: valid arrays and out-pointers.
            let status = unsafe {
                reckon_metric_mean_over_queries(
                    code as reckon_ranking_metric,
                    2,
                    SCORES.as_ptr(),
                    6,
                    GRADES.as_ptr(),
                    6,
                    groups.as_ptr(),
                    6,
                    &mut out,
                    &mut q,
                    &mut s,
                )
            };
            assert_eq!(status, OK);
            assert_eq!(
                (out.to_bits(), q, s),
                (want.value.to_bits(), want.queries, want.skipped)
            );
        }
        let mut out = UNTOUCHED;
        let call = |metric: reckon_ranking_metric, k: usize, n_groups: usize, out: *mut f64| {
            // SAFETY: valid arrays; `out` valid or NULL; NULL counts are allowed.
            unsafe {
                reckon_metric_mean_over_queries(
                    metric,
                    k,
                    SCORES.as_ptr(),
                    6,
                    GRADES.as_ptr(),
                    6,
                    groups.as_ptr(),
                    n_groups,
                    out,
                    null_mut(),
                    null_mut(),
                )
            }
        };
        assert_eq!(call(RECKON_METRIC_MRR as i32, 0, 6, &mut out), OK);
        out = UNTOUCHED;
        assert_eq!(call(99, 2, 6, &mut out), INVALID);
        assert_eq!(call(-1, 2, 6, &mut out), INVALID);
        assert_eq!(call(RECKON_METRIC_NDCG as i32, 0, 6, &mut out), INVALID);
        assert_eq!(call(RECKON_METRIC_NDCG as i32, 2, 5, &mut out), SHAPE);
        assert_eq!(call(RECKON_METRIC_NDCG as i32, 2, 6, null_mut()), INVALID);
        assert_eq!(out, UNTOUCHED);
        super::super::boundary::trigger_panic_next();
        assert_eq!(call(RECKON_METRIC_NDCG as i32, 2, 6, &mut out), PANIC);
        assert_eq!(out, UNTOUCHED);
    }

    #[test]
    fn threshold_metrics_match_rust() {
        let sentinel = reckon_threshold_metrics {
            true_positives: 99,
            ..Default::default()
        };
        let mut out = sentinel;
        // SAFETY: valid arrays and out-pointer, or refused ones.
        unsafe {
            assert_eq!(
                reckon_metric_threshold(SCORES.as_ptr(), 6, LABELS.as_ptr(), 6, 0.5, &mut out),
                OK
            );
            let m = metrics::threshold_metrics(&SCORES, &LABELS, 0.5).unwrap();
            assert_eq!(
                (out.true_positives, out.false_positives, out.false_negatives),
                (m.true_positives, m.false_positives, m.false_negatives)
            );
            assert_eq!(out.true_negatives, m.true_negatives);
            assert_eq!(
                [out.precision, out.recall, out.f1, out.false_positive_rate].map(f64::to_bits),
                [m.precision, m.recall, m.f1, m.false_positive_rate].map(f64::to_bits)
            );
            assert_eq!(
                reckon_metric_threshold(null(), 0, null(), 0, 0.5, &mut out),
                OK
            );
            assert_eq!(out.true_positives, 0);
            out = sentinel;
            assert_eq!(
                reckon_metric_threshold(SCORES.as_ptr(), 6, LABELS.as_ptr(), 6, f32::NAN, &mut out),
                INVALID
            );
            assert_eq!(
                reckon_metric_threshold(SCORES.as_ptr(), 6, LABELS.as_ptr(), 3, 0.5, &mut out),
                SHAPE
            );
            assert_eq!(
                reckon_metric_threshold(SCORES.as_ptr(), 6, LABELS.as_ptr(), 6, 0.5, null_mut()),
                INVALID
            );
            assert_eq!(
                reckon_metric_threshold(SCORES.as_ptr(), 6, GRADES.as_ptr(), 6, 0.5, &mut out),
                INVALID
            );
            assert_eq!(out, sentinel);
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_metric_threshold(SCORES.as_ptr(), 6, LABELS.as_ptr(), 6, 0.5, &mut out),
                PANIC
            );
        }
        assert_eq!(out, sentinel);
    }
}
