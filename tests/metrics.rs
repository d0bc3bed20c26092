//! `reckon::metrics` against hand-computed values (each worked out in a comment), their edge
//! cases and refusals, and properties that must hold for any input.

use proptest::prelude::*;
use reckon::metrics::{
    dcg_ranked, expected_calibration_error, hit_at, log_loss, mean_over_queries, ndcg_at,
    ndcg_ranked, pr_auc, precision_at, recall_at, reciprocal_rank, roc_auc, threshold_metrics,
    RankingMetric, DEFAULT_ECE_BINS, LOG_LOSS_EPS,
};
use reckon::Error;

/// The hand-computed values below are exact to ~1e-15 in f64; the inputs are f32, whose
/// rounding (relative 6e-8) moves the ECE and log-loss examples by up to ~1e-7.
const TOL: f64 = 1e-6;

fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= TOL,
        "got {actual}, expected {expected}"
    );
}

fn invalid<T: std::fmt::Debug>(r: reckon::Result<T>, arg: &str) {
    match r {
        Err(Error::InvalidArgument { arg: a, .. }) => assert_eq!(a, arg),
        other => panic!("expected InvalidArgument({arg}), got {other:?}"),
    }
}

fn length<T: std::fmt::Debug>(r: reckon::Result<T>) {
    assert!(
        matches!(r, Err(Error::BufferLength { .. })),
        "expected BufferLength, got {r:?}"
    );
}

// ---- NDCG ---------------------------------------------------------------------------------------

#[test]
fn ndcg_seed_example() {
    // DCG@5 of [3,2,3,0,1]: 7/1 + 3/log2 3 + 7/2 + 0 + 1/log2 6 = 12.779642067948915;
    // ideal [3,3,2,2,1]: 7 + 7/log2 3 + 3/2 + 3/log2 5 + 1/log2 6 = 14.595390756454924.
    let rel = [3.0, 2.0, 3.0, 0.0, 1.0, 2.0];
    close(dcg_ranked(&rel, 5).unwrap(), 12.779642067948915);
    close(
        ndcg_ranked(&rel, 5).unwrap(),
        12.779642067948915 / 14.595390756454924,
    );
    close(ndcg_ranked(&rel, 5).unwrap(), 0.8755943764161997);
    // The same grades reached through scores that put them in that order.
    let scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
    close(ndcg_at(&scores, &rel, 5).unwrap(), 0.8755943764161997);
    // Scores listed in another order rank the documents the same way.
    let (s2, r2) = (
        [0.4, 0.6, 0.9, 0.5, 0.7, 0.8],
        [2.0, 0.0, 3.0, 1.0, 3.0, 2.0],
    );
    close(ndcg_at(&s2, &r2, 5).unwrap(), 0.8755943764161997);
}

#[test]
fn ndcg_edges() {
    assert_eq!(ndcg_ranked(&[], 5).unwrap(), 0.0); // nothing to rank: ideal DCG 0
    assert_eq!(ndcg_ranked(&[0.0; 4], 3).unwrap(), 0.0); // no relevant document
    assert_eq!(ndcg_ranked(&[2.0; 4], 3).unwrap(), 1.0); // every order is ideal
    assert_eq!(ndcg_ranked(&[0.0, 1.0], 1).unwrap(), 0.0);
    // k beyond the list: DCG over all of it. [1, 0, 2] vs ideal [2, 1, 0]:
    // (1 + 3/2) / (3 + 1/log2 3) = 2.5 / 3.630929753571457.
    close(
        ndcg_ranked(&[1.0, 0.0, 2.0], 50).unwrap(),
        2.5 / 3.630929753571457,
    );
}

#[test]
fn ranking_ties_keep_input_order() {
    // Equal scores: the documents stay in input order, so the grades are ranked as given.
    let rel = [0.0, 1.0, 2.0];
    assert_eq!(
        ndcg_at(&[0.5; 3], &rel, 3).unwrap(),
        ndcg_ranked(&rel, 3).unwrap()
    );
    close(reciprocal_rank(&[0.5; 3], &rel).unwrap(), 0.5);
    // -0.0 and 0.0 are the same score.
    close(reciprocal_rank(&[0.0, -0.0], &[0.0, 1.0]).unwrap(), 0.5);
}

// ---- MRR, precision, recall, hit ---------------------------------------------------------------

#[test]
fn rank_metrics_hand_values() {
    let scores = [4.0, 3.0, 2.0, 1.0];
    let rel = [1.0, 0.0, 1.0, 0.0];
    close(precision_at(&scores, &rel, 2).unwrap(), 0.5); // 1 relevant in top 2
    close(precision_at(&scores, &rel, 5).unwrap(), 0.4); // 2 relevant / k = 5, not / 4
    close(recall_at(&scores, &rel, 1).unwrap(), 0.5); // 1 of 2 relevant
    close(recall_at(&scores, &rel, 3).unwrap(), 1.0);
    close(hit_at(&scores, &rel, 1).unwrap(), 1.0);
    close(hit_at(&[1.0, 2.0], &[1.0, 0.0], 1).unwrap(), 0.0); // top 1 is the irrelevant one
    close(
        reciprocal_rank(&[0.9, 0.8, 0.7], &[0.0, 0.0, 3.0]).unwrap(),
        1.0 / 3.0,
    );
    // No relevant document: every metric is 0 for the query.
    for m in [
        RankingMetric::Ndcg(3),
        RankingMetric::ReciprocalRank,
        RankingMetric::Precision(3),
        RankingMetric::Recall(3),
        RankingMetric::HitRate(3),
    ] {
        assert_eq!(m.query(&[1.0, 2.0], &[0.0, 0.0]).unwrap(), 0.0, "{m}");
        assert_eq!(m.query(&[], &[]).unwrap(), 0.0, "{m}");
    }
}

#[test]
fn mean_over_queries_skips_queries_without_relevant_documents() {
    // q7: first relevant at rank 2 (RR 1/2); q3: at rank 1 (RR 1); q5: none relevant (skipped).
    // q7's rows are not adjacent.
    let groups = [7, 3, 7, 5, 3, 5];
    let scores = [0.9, 0.2, 0.8, 0.5, 0.1, 0.4];
    let rel = [0.0, 1.0, 2.0, 0.0, 0.0, 0.0];
    let m = mean_over_queries(RankingMetric::ReciprocalRank, &scores, &rel, &groups).unwrap();
    close(m.value, 0.75);
    assert_eq!((m.queries, m.skipped), (2, 1));
    // Hit rate at 1: q7 misses, q3 hits.
    let m = mean_over_queries(RankingMetric::HitRate(1), &scores, &rel, &groups).unwrap();
    close(m.value, 0.5);
    // Every query skipped: value 0, nothing counted.
    let m = mean_over_queries(RankingMetric::Ndcg(10), &[1.0, 2.0], &[0.0, 0.0], &[1, 2]).unwrap();
    assert_eq!((m.value, m.queries, m.skipped), (0.0, 0, 2));
    length(mean_over_queries(
        RankingMetric::ReciprocalRank,
        &scores,
        &rel,
        &groups[..5],
    ));
}

#[test]
fn ranking_metric_names() {
    assert_eq!(RankingMetric::Ndcg(10).to_string(), "ndcg@10");
    assert_eq!(RankingMetric::ReciprocalRank.to_string(), "mrr");
    assert_eq!(RankingMetric::HitRate(5).to_string(), "hit_rate@5");
}

#[test]
fn ranking_refusals() {
    invalid(ndcg_ranked(&[1.0], 0), "k");
    invalid(precision_at(&[1.0], &[1.0], 0), "k");
    invalid(ndcg_at(&[f32::NAN, 1.0], &[1.0, 0.0], 3), "scores");
    invalid(ndcg_ranked(&[-1.0], 3), "labels");
    invalid(ndcg_ranked(&[f32::INFINITY], 3), "labels");
    invalid(ndcg_ranked(&[65.0], 3), "labels"); // above MAX_RELEVANCE
    length(recall_at(&[1.0, 2.0], &[1.0], 3));
    invalid(
        mean_over_queries(RankingMetric::Ndcg(0), &[1.0], &[1.0], &[0]),
        "k",
    );
}

// ---- ROC-AUC and PR-AUC -------------------------------------------------------------------------

#[test]
fn auc_and_average_precision_hand_values() {
    let scores = [0.1, 0.4, 0.35, 0.8];
    let labels = [0.0, 0.0, 1.0, 1.0];
    // Pairs (pos, neg): 0.35>0.1 ✓, 0.35>0.4 ✗, 0.8>0.1 ✓, 0.8>0.4 ✓ → 3/4.
    close(roc_auc(&scores, &labels).unwrap(), 0.75);
    // Thresholds 0.8: R .5 P 1; 0.4: R .5; 0.35: R 1 P 2/3; 0.1: R 1 → .5·1 + .5·2/3.
    close(pr_auc(&scores, &labels).unwrap(), 0.5 + 0.5 * 2.0 / 3.0);
}

#[test]
fn auc_ties_count_half() {
    close(roc_auc(&[0.5, 0.5], &[0.0, 1.0]).unwrap(), 0.5);
    // pos {0.5, 0.9}, neg {0.2, 0.5}: 1 + ½ + 1 + 1 = 3.5 of 4 pairs.
    close(
        roc_auc(&[0.2, 0.5, 0.5, 0.9], &[0.0, 1.0, 0.0, 1.0]).unwrap(),
        0.875,
    );
    // A constant scorer is a coin.
    close(
        roc_auc(&[3.0; 6], &[0.0, 1.0, 1.0, 0.0, 0.0, 1.0]).unwrap(),
        0.5,
    );
    // Tied scores enter PR-AUC as one threshold: 0.9 (R 0), then {0.5, 0.5} (R 1, P 1/3).
    close(
        pr_auc(&[0.9, 0.5, 0.5], &[0.0, 1.0, 0.0]).unwrap(),
        1.0 / 3.0,
    );
}

#[test]
fn auc_edges_and_refusals() {
    invalid(roc_auc(&[], &[]), "labels"); // no class at all
    invalid(roc_auc(&[0.1, 0.2], &[1.0, 1.0]), "labels"); // one class
    invalid(roc_auc(&[0.1, 0.2], &[0.0, 2.0]), "labels"); // not binary
    invalid(roc_auc(&[0.1, 0.2], &[0.0, 0.5]), "labels");
    invalid(roc_auc(&[f32::NAN, 0.2], &[0.0, 1.0]), "scores");
    length(roc_auc(&[0.1, 0.2], &[0.0]));
    invalid(pr_auc(&[0.1, 0.2], &[0.0, 0.0]), "labels"); // no positive
    assert_eq!(pr_auc(&[0.1, 0.2], &[1.0, 1.0]).unwrap(), 1.0); // no negative: every flag is right
                                                                // Infinite logits are still ordered.
    close(
        roc_auc(&[f32::NEG_INFINITY, f32::INFINITY], &[0.0, 1.0]).unwrap(),
        1.0,
    );
}

// ---- threshold (fraud) metrics --------------------------------------------------------------------

#[test]
fn threshold_metrics_hand_values() {
    // ≥ 0.5 flags 0.9 (pos: TP), 0.6 (neg: FP), 0.5 (neg: FP); 0.4 (pos: FN), 0.2 (neg: TN).
    let m = threshold_metrics(&[0.9, 0.6, 0.4, 0.2, 0.5], &[1.0, 0.0, 1.0, 0.0, 0.0], 0.5).unwrap();
    assert_eq!(
        (
            m.true_positives,
            m.false_positives,
            m.false_negatives,
            m.true_negatives
        ),
        (1, 2, 1, 1)
    );
    close(m.precision, 1.0 / 3.0);
    close(m.recall, 0.5);
    close(m.f1, 0.4); // 2·(1/3)(1/2) / (5/6)
    close(m.false_positive_rate, 2.0 / 3.0);
}

#[test]
fn threshold_metrics_zero_division_is_zero() {
    let m = threshold_metrics(&[], &[], 0.5).unwrap();
    assert_eq!(
        (m.precision, m.recall, m.f1, m.false_positive_rate),
        (0.0, 0.0, 0.0, 0.0)
    );
    // Nothing flagged, no positive.
    let m = threshold_metrics(&[0.1, 0.2], &[0.0, 0.0], 0.5).unwrap();
    assert_eq!(
        (
            m.precision,
            m.recall,
            m.f1,
            m.false_positive_rate,
            m.true_negatives
        ),
        (0.0, 0.0, 0.0, 0.0, 2)
    );
    // Everything flagged, no negative: FPR 0 by convention, precision and recall 1.
    let m = threshold_metrics(&[0.7, 0.8], &[1.0, 1.0], 0.5).unwrap();
    assert_eq!(
        (m.precision, m.recall, m.f1, m.false_positive_rate),
        (1.0, 1.0, 1.0, 0.0)
    );
    invalid(threshold_metrics(&[0.1], &[0.0], f32::NAN), "threshold");
    invalid(threshold_metrics(&[0.1], &[3.0], 0.5), "labels");
    length(threshold_metrics(&[0.1], &[], 0.5));
}

// ---- calibration ----------------------------------------------------------------------------------

#[test]
fn ece_hand_values() {
    let probs = [0.1, 0.15, 0.8, 0.95, 1.0];
    let labels = [0.0, 1.0, 1.0, 1.0, 0.0];
    // 10 bins: [0.1,0.2) {0.1,0.15}: |0.5 − 0.125|·2/5 = 0.15; [0.8,0.9) {0.8}: 0.2·1/5 = 0.04;
    // [0.9,1.0] {0.95, 1.0 (the last bin is closed)}: |0.5 − 0.975|·2/5 = 0.19.
    close(
        expected_calibration_error(&probs, &labels, DEFAULT_ECE_BINS).unwrap(),
        0.38,
    );
    // 2 bins: {0.1,0.15}: 0.15; {0.8,0.95,1.0}: |2/3 − 0.91667|·3/5 = 0.15.
    close(
        expected_calibration_error(&probs, &labels, 2).unwrap(),
        0.30,
    );
    // 1 bin: |3/5 − 3.0/5| = 0.
    close(expected_calibration_error(&probs, &labels, 1).unwrap(), 0.0);
    assert_eq!(
        expected_calibration_error(&[0.0, 0.0, 1.0], &[0.0, 0.0, 1.0], 10).unwrap(),
        0.0
    );
}

#[test]
fn log_loss_hand_values() {
    // −(ln 0.9 + ln 0.8) / 2.
    close(
        log_loss(&[0.9, 0.2], &[1.0, 0.0]).unwrap(),
        (0.10536051565782628 + 0.2231435513142097) / 2.0,
    );
    // A certain wrong answer costs −ln ε, not infinity.
    close(log_loss(&[0.0], &[1.0]).unwrap(), -LOG_LOSS_EPS.ln());
    close(log_loss(&[1.0], &[1.0]).unwrap(), 0.0);
}

#[test]
fn calibration_refusals() {
    invalid(expected_calibration_error(&[], &[], 10), "scores");
    invalid(expected_calibration_error(&[0.5], &[1.0], 0), "bins");
    // A caller's bin count must not drive an allocation of any size.
    invalid(expected_calibration_error(&[0.5], &[1.0], 1 << 40), "bins");
    invalid(
        expected_calibration_error(&[0.5], &[1.0], usize::MAX),
        "bins",
    );
    invalid(expected_calibration_error(&[1.5], &[1.0], 10), "scores");
    invalid(
        expected_calibration_error(&[f32::NAN], &[1.0], 10),
        "scores",
    );
    invalid(log_loss(&[-0.1], &[1.0]), "scores");
    invalid(log_loss(&[0.5], &[-1.0]), "labels");
    invalid(log_loss(&[], &[]), "scores");
    length(log_loss(&[0.5, 0.5], &[1.0]));
}

// ---- properties -------------------------------------------------------------------------------

/// AUC by counting pairs: O(n²), ties ½.
fn auc_pairs(scores: &[f32], labels: &[f32]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, &si) in scores.iter().enumerate() {
        for (j, &sj) in scores.iter().enumerate() {
            if labels[i] == 1.0 && labels[j] == 0.0 {
                pairs += 1.0;
                wins += if si > sj {
                    1.0
                } else if si == sj {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    wins / pairs
}

/// Average precision as the mean, over positives, of the precision at their own score.
fn ap_per_positive(scores: &[f32], labels: &[f32]) -> f64 {
    let positives: Vec<usize> = (0..scores.len()).filter(|&i| labels[i] == 1.0).collect();
    let mut sum = 0.0;
    for &i in &positives {
        let above = (0..scores.len()).filter(|&j| scores[j] >= scores[i]);
        let pos = above.clone().filter(|&j| labels[j] == 1.0).count() as f64;
        sum += pos / above.count() as f64;
    }
    sum / positives.len() as f64
}

/// Scores from a small integer range, so ties are common, with both classes present.
fn binary_case() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (2usize..60).prop_flat_map(|n| {
        (
            prop::collection::vec(-20i32..20, n),
            prop::collection::vec(prop::bool::ANY, n - 2),
        )
            .prop_map(|(s, mut y)| {
                y.push(true);
                y.push(false);
                (
                    s.into_iter().map(|v| v as f32).collect(),
                    y.into_iter().map(|b| f32::from(u8::from(b))).collect(),
                )
            })
    })
}

/// Reference and fast formulas sum in different orders.
const PROP_TOL: f64 = 1e-9;

proptest! {
    #[test]
    fn auc_matches_pair_counting((s, y) in binary_case()) {
        prop_assert!((roc_auc(&s, &y).unwrap() - auc_pairs(&s, &y)).abs() < PROP_TOL);
    }

    #[test]
    fn auc_invariant_to_monotone_transforms((s, y) in binary_case()) {
        let auc = roc_auc(&s, &y).unwrap();
        // Each map is strictly increasing and exact in f32 on these small integers (or, for
        // exp, keeps them distinct), so no new ties appear.
        let maps: [fn(f32) -> f32; 3] = [|x| 2.0 * x + 7.0, |x| x * x * x, |x| (x / 10.0).exp()];
        for f in maps {
            let t: Vec<f32> = s.iter().map(|&x| f(x)).collect();
            prop_assert!((roc_auc(&t, &y).unwrap() - auc).abs() < PROP_TOL);
        }
        // Reversing the order mirrors AUC.
        let neg: Vec<f32> = s.iter().map(|&x| -x).collect();
        prop_assert!((roc_auc(&neg, &y).unwrap() - (1.0 - auc)).abs() < PROP_TOL);
    }

    #[test]
    fn perfect_ranking_has_auc_and_ap_one((_, y) in binary_case()) {
        let s: Vec<f32> = y.iter().enumerate().map(|(i, &l)| l * 1000.0 + i as f32).collect();
        prop_assert_eq!(roc_auc(&s, &y).unwrap(), 1.0);
        prop_assert_eq!(pr_auc(&s, &y).unwrap(), 1.0);
    }

    #[test]
    fn average_precision_matches_per_positive_definition((s, y) in binary_case()) {
        let ap = pr_auc(&s, &y).unwrap();
        prop_assert!((ap - ap_per_positive(&s, &y)).abs() < PROP_TOL);
        prop_assert!((0.0..=1.0).contains(&ap));
    }

    #[test]
    fn ndcg_between_zero_and_one(
        rel in prop::collection::vec(0u8..5, 0..40),
        seed in prop::collection::vec(-5i32..5, 40),
        k in 1usize..50,
    ) {
        let rel: Vec<f32> = rel.into_iter().map(f32::from).collect();
        let scores: Vec<f32> = seed[..rel.len()].iter().map(|&v| v as f32).collect();
        let v = ndcg_at(&scores, &rel, k).unwrap();
        prop_assert!((0.0..=1.0).contains(&v), "{v}");
        // Scoring by the grades themselves is ideal.
        if rel.iter().any(|&r| r > 0.0) {
            prop_assert!((ndcg_at(&rel, &rel, k).unwrap() - 1.0).abs() < PROP_TOL);
        }
    }

    #[test]
    fn ece_between_zero_and_one(
        p in prop::collection::vec(0.0f32..=1.0, 1..100),
        bins in 1usize..30,
        flips in prop::collection::vec(prop::bool::ANY, 100),
    ) {
        let y: Vec<f32> = flips[..p.len()].iter().map(|&b| f32::from(u8::from(b))).collect();
        let e = expected_calibration_error(&p, &y, bins).unwrap();
        prop_assert!((0.0..=1.0).contains(&e), "{e}");
    }
}
