//! Offline evaluation metrics (SPEC §4.6, the seed's evaluation section): pure functions over
//! slices of scores and labels, each documented with its exact formula.
//!
//! - ranking, per query: [`ndcg_at`] (and the seed's [`ndcg_ranked`]), [`reciprocal_rank`],
//!   [`precision_at`], [`recall_at`], [`hit_at`]; averaged over queries by
//!   [`mean_over_queries`] (MRR, mean NDCG, hit rate...);
//! - classification: [`roc_auc`], [`pr_auc`], [`threshold_metrics`] (the seed's fraud metrics);
//! - calibration: [`expected_calibration_error`], [`log_loss`].
//!
//! Conventions, everywhere: results are f64; inputs are f32 (labels too: binary labels must be
//! exactly 0 or 1, grades any finite number in `[0, MAX_RELEVANCE]`). A length mismatch is
//! [`crate::Error::BufferLength`]; a NaN score, a bad label, `k = 0` or an undefined metric
//! (AUC of one class) is [`crate::Error::InvalidArgument`] naming the argument. Nothing panics
//! on input. How ties in score are treated is stated per metric: rank-based ROC-AUC and PR-AUC
//! treat tied scores as one group; ranking metrics keep tied documents in input order.

mod calibration;
mod check;
mod classification;
mod grouped;
mod ranking;

pub use calibration::{expected_calibration_error, log_loss, DEFAULT_ECE_BINS, LOG_LOSS_EPS};
pub use classification::{pr_auc, roc_auc, threshold_metrics, ThresholdMetrics};
pub use grouped::{mean_over_queries, QueryMean};
pub use ranking::{
    dcg_ranked, hit_at, ndcg_at, ndcg_ranked, precision_at, rank_order, recall_at, reciprocal_rank,
    RankingMetric, MAX_RELEVANCE,
};
