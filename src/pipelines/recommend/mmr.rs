//! Re-ranking for diversity: maximal marginal relevance with an optional per-category cap.
//!
//! Greedy MMR picks, at each step, the candidate maximising
//! `λ · rel(i) − (1 − λ) · max_{j ∈ picked} sim(i, j)`, where `rel` is the ranker's score
//! min-max normalised over the candidates (so λ means the same whatever the score weights) and
//! `sim` is the dot product of item vectors (cosine for the two-tower's unit vectors). λ = 1 is
//! plain ranking by score; λ = 0 is pure diversity. Ties go to the earlier candidate.
//!
//! Cost: O(N · K · D) for N picks from K candidates, keeping each candidate's max similarity to
//! the picked set up to date after every pick instead of recomputing it.

use crate::error::{Error, Result};

/// Re-ranking settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MmrConfig {
    /// Relevance weight in `[0, 1]`.
    pub lambda: f32,
    /// At most this many items of one category (`None`: no cap). Items without a category are
    /// never capped.
    pub per_category_cap: Option<usize>,
}

impl Default for MmrConfig {
    fn default() -> Self {
        MmrConfig {
            lambda: 0.7,
            per_category_cap: None,
        }
    }
}

/// Scratch reused across requests.
#[derive(Debug, Default)]
pub struct MmrWorkspace {
    max_sim: Vec<f32>,
    taken: Vec<bool>,
    categories: Vec<(i64, usize)>,
}

/// Picks up to `n` candidates in MMR order; returns how many were picked. `picked[i]` is the
/// candidate index chosen at step `i` and `mmr[i]` its marginal score at that step. Fewer than
/// `n` are picked only when the category cap leaves nothing eligible.
///
/// `scores[k]`: relevance of candidate k; `vectors`: `k × dim` row-major; `category[k]`, if
/// given, its category.
#[allow(clippy::too_many_arguments)]
pub fn mmr_select(
    scores: &[f32],
    vectors: &[f32],
    dim: usize,
    category: Option<&[i64]>,
    n: usize,
    config: MmrConfig,
    picked: &mut Vec<usize>,
    mmr: &mut Vec<f32>,
    ws: &mut MmrWorkspace,
) -> Result<usize> {
    let k = scores.len();
    if !(0.0..=1.0).contains(&config.lambda) {
        return Err(Error::InvalidArgument {
            arg: "lambda",
            reason: format!("{} is outside [0, 1]", config.lambda),
        });
    }
    if vectors.len() != k * dim {
        return Err(Error::BufferLength {
            op: "mmr",
            arg: "vectors",
            expected: k * dim,
            actual: vectors.len(),
        });
    }
    if let Some(c) = category {
        if c.len() != k {
            return Err(Error::BufferLength {
                op: "mmr",
                arg: "category",
                expected: k,
                actual: c.len(),
            });
        }
    }
    if config.per_category_cap == Some(0) {
        return Err(Error::InvalidArgument {
            arg: "per_category_cap",
            reason: "must be at least 1".into(),
        });
    }
    picked.clear();
    mmr.clear();
    ws.max_sim.clear();
    ws.max_sim.resize(k, f32::NEG_INFINITY);
    ws.taken.clear();
    ws.taken.resize(k, false);
    ws.categories.clear();

    let (lo, hi) = scores
        .iter()
        .filter(|s| s.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &s| {
            (lo.min(s), hi.max(s))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let rel = |i: usize| {
        if scores[i].is_finite() {
            (scores[i] - lo) / span
        } else {
            0.0
        }
    };
    let lambda = config.lambda;

    for _ in 0..n.min(k) {
        let mut best: Option<(usize, f32)> = None;
        for i in 0..k {
            if ws.taken[i] || capped(i, category, config.per_category_cap, &ws.categories) {
                continue;
            }
            let penalty = if picked.is_empty() {
                0.0
            } else {
                ws.max_sim[i]
            };
            let m = lambda * rel(i) - (1.0 - lambda) * penalty;
            if best.is_none_or(|(_, b)| m > b) {
                best = Some((i, m));
            }
        }
        let Some((j, m)) = best else { break };
        ws.taken[j] = true;
        picked.push(j);
        mmr.push(m);
        if let Some(c) = category {
            match ws.categories.iter_mut().find(|(cat, _)| *cat == c[j]) {
                Some((_, count)) => *count += 1,
                None => ws.categories.push((c[j], 1)),
            }
        }
        let vj = &vectors[j * dim..(j + 1) * dim];
        for i in 0..k {
            if !ws.taken[i] {
                let vi = &vectors[i * dim..(i + 1) * dim];
                let sim: f32 = vi.iter().zip(vj).map(|(a, b)| a * b).sum();
                ws.max_sim[i] = ws.max_sim[i].max(sim);
            }
        }
    }
    Ok(picked.len())
}

fn capped(i: usize, category: Option<&[i64]>, cap: Option<usize>, counts: &[(i64, usize)]) -> bool {
    match (category, cap) {
        (Some(c), Some(cap)) => counts.iter().any(|&(cat, n)| cat == c[i] && n >= cap),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        scores: &[f32],
        vectors: &[f32],
        dim: usize,
        cat: Option<&[i64]>,
        n: usize,
        config: MmrConfig,
    ) -> Vec<usize> {
        let (mut picked, mut mmr, mut ws) = (Vec::new(), Vec::new(), MmrWorkspace::default());
        mmr_select(
            scores,
            vectors,
            dim,
            cat,
            n,
            config,
            &mut picked,
            &mut mmr,
            &mut ws,
        )
        .expect("mmr");
        picked
    }

    #[test]
    fn lambda_one_is_plain_ranking_with_ties_to_the_earlier_candidate() {
        let scores = [0.5, 0.9, 0.9, 0.1];
        let v = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let config = MmrConfig {
            lambda: 1.0,
            per_category_cap: None,
        };
        assert_eq!(run(&scores, &v, 2, None, 4, config), vec![1, 2, 0, 3]);
    }

    #[test]
    fn low_lambda_prefers_a_dissimilar_item_over_a_near_duplicate() {
        // Candidates 0 and 1 are the same direction; 2 is orthogonal with a slightly lower score.
        let scores = [1.0, 0.95, 0.9, 0.0];
        let v = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.7, 0.7];
        let config = MmrConfig {
            lambda: 0.5,
            per_category_cap: None,
        };
        assert_eq!(&run(&scores, &v, 2, None, 2, config), &[0, 2]);
    }

    #[test]
    fn category_cap_is_respected_and_can_stop_early() {
        let scores = [0.9, 0.8, 0.7, 0.6];
        let v = [0.0; 8];
        let cat = [1, 1, 1, 2];
        let config = MmrConfig {
            lambda: 1.0,
            per_category_cap: Some(1),
        };
        assert_eq!(run(&scores, &v, 2, Some(&cat), 4, config), vec![0, 3]);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let (mut p, mut m, mut ws) = (Vec::new(), Vec::new(), MmrWorkspace::default());
        let bad_lambda = MmrConfig {
            lambda: 1.5,
            per_category_cap: None,
        };
        assert!(mmr_select(
            &[1.0],
            &[1.0],
            1,
            None,
            1,
            bad_lambda,
            &mut p,
            &mut m,
            &mut ws
        )
        .is_err());
        assert!(mmr_select(
            &[1.0],
            &[1.0, 2.0],
            1,
            None,
            1,
            MmrConfig::default(),
            &mut p,
            &mut m,
            &mut ws
        )
        .is_err());
        let zero_cap = MmrConfig {
            lambda: 0.5,
            per_category_cap: Some(0),
        };
        assert!(mmr_select(
            &[1.0],
            &[1.0],
            1,
            Some(&[3]),
            1,
            zero_cap,
            &mut p,
            &mut m,
            &mut ws
        )
        .is_err());
    }
}
