//! Search: query understanding on a few queries, then LTR ranking of the demo's held-out query
//! candidates with NDCG against their relevance grades.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use reckon::metrics::mean_over_queries;
use reckon::models::Model;
use reckon::pipelines::search::{QueryParser, SearchRanker};
use reckon::{Options, Workspace};

use super::{heading, Latencies, Requests};
use crate::Failure;

/// Queries shown parsed; the demo's LTR candidates carry no text, so each held-out query is
/// paired with one of these for display.
const QUERIES: [&str; 5] = [
    "buy cheap apple iphone",
    "pineapple juice recipe",
    "how to clean nike running shoes",
    "Sony Straße Kopfhörer deal",
    "samsung",
];

pub fn run(
    dir: &Path,
    requests: usize,
    lat: &mut Latencies,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    heading(out, "Search (query understanding → LTR ranking → NDCG)")?;
    let model = Arc::new(Model::open(
        dir.join("ltr.safetensors"),
        &Options::default(),
    )?);
    let ranker = SearchRanker::new(model, QueryParser::default())?;
    let parser = QueryParser::default();
    writeln!(
        out,
        "  {:<34} {:<14} {:<6} entities",
        "query", "intent", "type"
    )?;
    for q in QUERIES {
        let p = lat.time("query understanding", || parser.parse(q))?;
        let ents: Vec<String> = p
            .entities
            .iter()
            .map(|e| format!("{}={}", e.kind, e.value))
            .collect();
        writeln!(
            out,
            "  {:<34} {:<14} {:<6} {}",
            format!("{q:?}"),
            p.intent,
            p.query_type,
            if ents.is_empty() {
                "-".into()
            } else {
                ents.join(", ")
            }
        )?;
    }

    let req = Requests::open(dir, "ltr.safetensors")?;
    let (features, qid, relevance) = (
        req.f32s("features")?,
        req.i64s("qid")?,
        req.i64s("relevance")?,
    );
    let cols = features.len() / qid.len().max(1);
    let relevance: Vec<f32> = relevance.iter().map(|&r| r as f32).collect();
    let mut scores = vec![0f32; qid.len()];
    let mut ws = Workspace::default();
    let mut start = 0;
    let mut shown = false;
    for (qi, q) in group_starts(&qid).into_iter().enumerate() {
        let (a, b) = (start, q);
        start = q;
        let ids: Vec<u64> = (a as u64..b as u64).collect();
        let query = QUERIES[qi % QUERIES.len()];
        let results = lat.time("search: rank 20 candidates", || {
            ranker.rank(query, &features[a * cols..b * cols], &ids, &mut ws)
        })?;
        for h in &results.hits {
            scores[h.doc_id as usize] = h.score;
        }
        if !shown {
            shown = true;
            let ndcg = results.ndcg_at(10, &relevance[a..b])?;
            writeln!(out, "\n  held-out query {} shown as {query:?}: top 5 of {} candidates, NDCG@10 {ndcg:.3}", qid[a], b - a)?;
            writeln!(
                out,
                "  {:>4} {:>6} {:>9} {:>9}",
                "rank", "doc", "score", "relevance"
            )?;
            for (rank, h) in results.hits.iter().take(5).enumerate() {
                writeln!(
                    out,
                    "  {:>4} {:>6} {:>9.3} {:>9}",
                    rank + 1,
                    h.doc_id,
                    h.score,
                    relevance[h.index + a]
                )?;
            }
        }
    }
    let first: Vec<u64> = (0..20).collect();
    for _ in 0..requests {
        lat.time("search: rank 20 candidates", || {
            ranker.rank(QUERIES[0], &features[..20 * cols], &first, &mut ws)
        })?;
    }
    let mean = mean_over_queries(
        reckon::metrics::RankingMetric::Ndcg(10),
        &scores,
        &relevance,
        &qid,
    )?;
    writeln!(
        out,
        "  mean NDCG@10 over {} held-out queries: {:.3} (random order ≈ 0.38)",
        mean.queries, mean.value
    )?;
    Ok(())
}

/// End offsets of runs of equal query ids.
fn group_starts(qid: &[i64]) -> Vec<usize> {
    let mut ends = Vec::new();
    for i in 1..=qid.len() {
        if i == qid.len() || qid[i] != qid[i - 1] {
            ends.push(i);
        }
    }
    ends
}
