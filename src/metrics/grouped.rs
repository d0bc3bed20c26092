//! Ranking metrics averaged over queries: rows carry a query (group) id, each query is ranked
//! on its own, and the per-query values are averaged with equal weight per query.

use super::ranking::{rank_order, RankingMetric};
use crate::error::{Error, Result};

/// A ranking metric averaged over queries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueryMean {
    /// Mean of the per-query values over the queries counted; 0 when none was counted.
    pub value: f64,
    /// Queries counted.
    pub queries: usize,
    /// Queries left out because none of their documents is relevant (as trec_eval does): every
    /// ranking of them is equally good, so they would only pull the mean towards 0.
    pub skipped: usize,
}

/// `metric` for each query, averaged. `groups[i]` is the query of row `i`; a query's rows need
/// not be adjacent (they are gathered in index order, so score ties still go to the lower row).
/// Errors as the metric's own, plus [`Error::BufferLength`] when `groups` differs in length.
pub fn mean_over_queries<G: Ord>(
    metric: RankingMetric,
    scores: &[f32],
    relevance: &[f32],
    groups: &[G],
) -> Result<QueryMean> {
    if groups.len() != scores.len() {
        return Err(Error::BufferLength {
            op: "mean_over_queries",
            arg: "groups",
            expected: scores.len(),
            actual: groups.len(),
        });
    }
    // Checks the whole input once, so the per-query work below cannot fail.
    metric.check(scores, relevance)?;

    let mut rows: Vec<usize> = (0..scores.len()).collect();
    rows.sort_by(|&a, &b| groups[a].cmp(&groups[b])); // stable: index order within a query
    let (mut sum, mut queries, mut skipped) = (0.0, 0, 0);
    let (mut q_scores, mut q_relevance) = (Vec::new(), Vec::new());
    for query in rows.chunk_by(|&a, &b| groups[a] == groups[b]) {
        q_scores.clear();
        q_relevance.clear();
        q_scores.extend(query.iter().map(|&i| scores[i]));
        q_relevance.extend(query.iter().map(|&i| relevance[i]));
        if q_relevance.iter().all(|&r| r <= 0.0) {
            skipped += 1;
            continue;
        }
        sum += metric.of_ranked(&rank_order(&q_scores), &q_relevance);
        queries += 1;
    }
    let value = if queries == 0 {
        0.0
    } else {
        sum / queries as f64
    };
    Ok(QueryMean {
        value,
        queries,
        skipped,
    })
}
