//! The search pipeline: parse the query, score the caller's candidate documents with an LTR
//! model, return them best first.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

use super::query::{ParsedQuery, QueryParser};
use crate::error::{Error, Result};
use crate::metrics;
use crate::models::{Model, Options, Workspace};
use crate::weights::Arch;

/// One scored document.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchHit {
    /// The caller's document id.
    pub doc_id: u64,
    /// The LTR model's relevance score.
    pub score: f32,
    /// The candidate's row in the caller's feature matrix.
    pub index: usize,
}

/// The answer to one search request.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResults {
    /// What the query was understood as.
    pub query: ParsedQuery,
    /// Every candidate, by score descending; equal scores keep the candidates' order (lower
    /// index first), and a NaN score (possible only with `Options::allow_non_finite`) sorts
    /// last.
    pub hits: Vec<SearchHit>,
}

impl SearchResults {
    /// NDCG@k of this ranking, given the graded relevance of each candidate **in the caller's
    /// candidate order** (`relevance[i]` belongs to candidate row `i`). Errors as
    /// [`metrics::ndcg_ranked`], plus a length mismatch.
    pub fn ndcg_at(&self, k: usize, relevance: &[f32]) -> Result<f64> {
        if relevance.len() != self.hits.len() {
            return Err(Error::BufferLength {
                op: "ndcg_at",
                arg: "relevance",
                expected: self.hits.len(),
                actual: relevance.len(),
            });
        }
        let ranked: Vec<f32> = self.hits.iter().map(|h| relevance[h.index]).collect();
        metrics::ndcg_ranked(&ranked, k)
    }
}

/// Query understanding plus an `ltr` model. Immutable: share one across threads, each with its
/// own [`Workspace`].
#[derive(Debug)]
pub struct SearchRanker {
    model: Arc<Model>,
    parser: QueryParser,
}

impl SearchRanker {
    /// Wraps an `ltr` model; any other architecture is [`Error::InvalidArgument`].
    pub fn new(model: Arc<Model>, parser: QueryParser) -> Result<SearchRanker> {
        if model.arch() != Arch::Ltr {
            return Err(Error::InvalidArgument {
                arg: "model",
                reason: format!("search ranks with an ltr model, not {}", model.arch()),
            });
        }
        Ok(SearchRanker { model, parser })
    }

    /// Opens an `ltr` weight file and uses the default (seed) lexicons.
    pub fn open(path: impl AsRef<Path>, opts: &Options) -> Result<SearchRanker> {
        SearchRanker::new(Arc::new(Model::open(path, opts)?), QueryParser::default())
    }

    /// Feature columns each candidate row must have.
    pub fn features(&self) -> usize {
        self.model.dims().0
    }

    /// The query parser.
    pub fn parser(&self) -> &QueryParser {
        &self.parser
    }

    /// The LTR model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Parses `query` and ranks the candidates: `candidates` holds one row of
    /// [`SearchRanker::features`] values per document, row-major, and `doc_ids` one id per row.
    /// Zero candidates is not an error: the query is still parsed and the hit list is empty.
    ///
    /// Errors: an empty query (see [`QueryParser::parse`]), a `candidates` length that is not
    /// a whole number of rows ([`Error::InvalidArgument`]) or not one row per id
    /// ([`Error::BufferLength`]), and the model's own refusals (e.g. a non-finite feature).
    pub fn rank(
        &self,
        query: &str,
        candidates: &[f32],
        doc_ids: &[u64],
        ws: &mut Workspace,
    ) -> Result<SearchResults> {
        let parsed = self.parser.parse(query)?;
        let cols = self.features();
        if candidates.len().checked_rem(cols) != Some(0) {
            return Err(Error::InvalidArgument {
                arg: "candidates",
                reason: format!(
                    "{} values is not a whole number of rows of {cols} features (the ltr model's width)",
                    candidates.len()
                ),
            });
        }
        let rows = candidates.len() / cols;
        if doc_ids.len() != rows {
            return Err(Error::BufferLength {
                op: "search",
                arg: "doc_ids",
                expected: rows,
                actual: doc_ids.len(),
            });
        }
        let mut scores = vec![0.0; rows];
        if rows > 0 {
            self.model.predict(candidates, rows, &mut scores, ws)?;
        }
        let mut hits: Vec<SearchHit> = scores
            .iter()
            .zip(doc_ids)
            .enumerate()
            .map(|(index, (&score, &doc_id))| SearchHit {
                doc_id,
                score,
                index,
            })
            .collect();
        hits.sort_by(|a, b| by_score_desc(a.score, b.score).then(a.index.cmp(&b.index)));
        Ok(SearchResults {
            query: parsed,
            hits,
        })
    }
}

/// Higher first; NaN after every number.
fn by_score_desc(a: f32, b: f32) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (false, false) => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
        (a_nan, b_nan) => a_nan.cmp(&b_nan),
    }
}
