//! Ranking metrics for one query: NDCG@k, reciprocal rank, precision@k, recall@k, hit@k.
//!
//! Each takes the model's `scores` and the graded `relevance` of the same documents (any order)
//! and ranks the documents by score, highest first. **Ties in score keep input order** (lower
//! index first), the same rule [`crate::pipelines::search::SearchRanker`] uses to order its
//! results, so a metric describes exactly the list a user would see. A caller who wants ties
//! not to matter should break them before calling.
//!
//! A document is *relevant* when its grade is above 0. A query with no relevant document
//! scores 0 on every metric here (the seed's convention for NDCG); [`super::mean_over_queries`]
//! leaves such queries out of its average instead, and counts them.

use std::cmp::Ordering;
use std::fmt;

use super::check;
use crate::error::Result;

/// Largest accepted grade: the gain `2^r − 1` of larger grades would overflow a sum of f64.
pub const MAX_RELEVANCE: f32 = 64.0;

/// Document indices in ranked order: score descending, ties by lower index. `scores` must not
/// hold NaN (checked by callers).
pub fn rank_order(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Stable sort: equal scores (including -0.0 vs 0.0) keep index order.
    order.sort_by(|&a, &b| scores[b].partial_cmp(&scores[a]).unwrap_or(Ordering::Equal));
    order
}

/// `DCG@k = Σ_{i<min(k,n)} (2^{r_i} − 1) / log2(i + 2)` for grades `r` already in ranked order
/// (position `i` counts from 0).
pub fn dcg_ranked(relevance: &[f32], k: usize) -> Result<f64> {
    check::cutoff("dcg", k)?;
    check_grades("dcg", relevance)?;
    Ok(dcg(relevance.iter().copied(), k))
}

/// The seed's `compute_ndcg`: `NDCG@k = DCG@k(r) / DCG@k(r sorted descending)` for grades `r`
/// already in ranked order; 0 when the ideal DCG is 0 (no relevant document).
///
/// The seed's example, grades `[3, 2, 3, 0, 1, 2]` at k = 5, gives 0.875594.
pub fn ndcg_ranked(relevance: &[f32], k: usize) -> Result<f64> {
    check::cutoff("ndcg", k)?;
    check_grades("ndcg", relevance)?;
    Ok(ndcg_of(relevance.iter().copied(), relevance, k))
}

/// NDCG@k of the ranking `scores` induces: [`ndcg_ranked`] of the grades in score order.
pub fn ndcg_at(scores: &[f32], relevance: &[f32], k: usize) -> Result<f64> {
    RankingMetric::Ndcg(k).query(scores, relevance)
}

/// Reciprocal rank: `1 / (1 + position of the first relevant document)` in score order, 0 when
/// none is relevant. Averaged over queries ([`super::mean_over_queries`]) it is MRR.
pub fn reciprocal_rank(scores: &[f32], relevance: &[f32]) -> Result<f64> {
    RankingMetric::ReciprocalRank.query(scores, relevance)
}

/// Precision@k: relevant documents among the top k, divided by k — by k even when fewer than k
/// documents exist (trec_eval's `P_k`), so a short list is not rewarded for being short.
pub fn precision_at(scores: &[f32], relevance: &[f32], k: usize) -> Result<f64> {
    RankingMetric::Precision(k).query(scores, relevance)
}

/// Recall@k: relevant documents among the top k, divided by all relevant documents; 0 when none
/// is relevant.
pub fn recall_at(scores: &[f32], relevance: &[f32], k: usize) -> Result<f64> {
    RankingMetric::Recall(k).query(scores, relevance)
}

/// Hit@k: 1 if any of the top k documents is relevant, else 0. Averaged over queries it is the
/// hit rate.
pub fn hit_at(scores: &[f32], relevance: &[f32], k: usize) -> Result<f64> {
    RankingMetric::HitRate(k).query(scores, relevance)
}

/// A ranking metric, by name, so a list of them can be parsed and averaged over queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankingMetric {
    /// [`ndcg_at`] with this k.
    Ndcg(usize),
    /// [`reciprocal_rank`] (MRR when averaged).
    ReciprocalRank,
    /// [`precision_at`] with this k.
    Precision(usize),
    /// [`recall_at`] with this k.
    Recall(usize),
    /// [`hit_at`] with this k (hit rate when averaged).
    HitRate(usize),
}

impl RankingMetric {
    /// The metric's op name, for errors.
    fn op(self) -> &'static str {
        match self {
            RankingMetric::Ndcg(_) => "ndcg",
            RankingMetric::ReciprocalRank => "mrr",
            RankingMetric::Precision(_) => "precision",
            RankingMetric::Recall(_) => "recall",
            RankingMetric::HitRate(_) => "hit_rate",
        }
    }

    /// The metric's value for one query.
    pub fn query(self, scores: &[f32], relevance: &[f32]) -> Result<f64> {
        self.check(scores, relevance)?;
        Ok(self.of_ranked(&rank_order(scores), relevance))
    }

    /// Every refusal [`RankingMetric::query`] makes, without computing anything.
    pub(crate) fn check(self, scores: &[f32], relevance: &[f32]) -> Result<()> {
        let op = self.op();
        if let Some(k) = self.k() {
            check::cutoff(op, k)?;
        }
        check::same_len(op, scores, relevance)?;
        check::no_nan(op, scores)?;
        check_grades(op, relevance)
    }

    /// The cutoff, if the metric has one.
    pub fn k(self) -> Option<usize> {
        match self {
            RankingMetric::ReciprocalRank => None,
            RankingMetric::Ndcg(k)
            | RankingMetric::Precision(k)
            | RankingMetric::Recall(k)
            | RankingMetric::HitRate(k) => Some(k),
        }
    }

    /// The value for documents `order` (ranked) with grades `relevance` (by index); inputs
    /// already checked.
    pub(crate) fn of_ranked(self, order: &[usize], relevance: &[f32]) -> f64 {
        let ranked = order.iter().map(|&i| relevance[i]);
        let top = |k: usize| ranked.clone().take(k).filter(|&r| r > 0.0).count() as f64;
        match self {
            RankingMetric::Ndcg(k) => ndcg_of(ranked, relevance, k),
            RankingMetric::ReciprocalRank => ranked
                .clone()
                .position(|r| r > 0.0)
                .map_or(0.0, |p| 1.0 / (p + 1) as f64),
            RankingMetric::Precision(k) => top(k) / k as f64,
            RankingMetric::Recall(k) => {
                let relevant = relevance.iter().filter(|&&r| r > 0.0).count();
                if relevant == 0 {
                    0.0
                } else {
                    top(k) / relevant as f64
                }
            }
            RankingMetric::HitRate(k) => f64::from(u8::from(top(k) > 0.0)),
        }
    }
}

impl fmt::Display for RankingMetric {
    /// `ndcg@10`, `mrr`, `precision@5`, `recall@5`, `hit_rate@5`: the names `reckon eval` takes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.k() {
            Some(k) => write!(f, "{}@{k}", self.op()),
            None => f.write_str(self.op()),
        }
    }
}

fn check_grades(op: &'static str, relevance: &[f32]) -> Result<()> {
    check::relevance(op, relevance)?;
    match relevance.iter().position(|&r| r > MAX_RELEVANCE) {
        Some(i) => Err(check::invalid(
            "labels",
            format!(
                "{op}: labels[{i}] = {}; grades above {MAX_RELEVANCE} are not accepted",
                relevance[i]
            ),
        )),
        None => Ok(()),
    }
}

fn dcg(ranked: impl Iterator<Item = f32>, k: usize) -> f64 {
    ranked
        .take(k)
        .enumerate()
        .map(|(i, r)| (f64::from(r).exp2() - 1.0) / ((i + 2) as f64).log2())
        .sum()
}

/// DCG of `ranked` over the ideal DCG of the same grades (`all`, any order).
fn ndcg_of(ranked: impl Iterator<Item = f32>, all: &[f32], k: usize) -> f64 {
    let mut ideal = all.to_vec();
    ideal.sort_by(|a, b| b.partial_cmp(a).unwrap_or(Ordering::Equal));
    let ideal = dcg(ideal.into_iter(), k);
    if ideal == 0.0 {
        0.0
    } else {
        // Rearrangement keeps DCG ≤ ideal; summing in another order may overshoot by an ulp.
        (dcg(ranked, k) / ideal).min(1.0)
    }
}
