//! The scalar reference twin of the top-k scan: every score by a plain loop, then a full sort.
//! Never optimised; tests and benches compare the kernels against it.

use std::cmp::Ordering;

/// The k best of `n` items (row-major `n × d` f32, 16-bit items widened by the caller) for
/// `query`, skipping the indices in `exclude`, as (indices, scores), best first.
///
/// Scores are accumulated in f64 and rounded once, so they are the exact dot product to f32
/// precision. Order: score descending, `-0.0 == +0.0`, NaN below every number, ties to the lower
/// index. Returns fewer than k when exclusions leave fewer items.
///
/// # Panics
/// If `items.len() != n * d` or `query.len() != d` (test helper, not a library entry).
pub fn topk_reference(
    items: &[f32],
    n: usize,
    d: usize,
    query: &[f32],
    k: usize,
    exclude: &[u32],
) -> (Vec<u32>, Vec<f32>) {
    assert_eq!(items.len(), n * d, "items must be n x d");
    assert_eq!(query.len(), d, "query must have d values");
    let mut all: Vec<(u32, f32)> = (0..n)
        .filter(|&i| !exclude.contains(&(i as u32)))
        .map(|i| {
            let row = &items[i * d..(i + 1) * d];
            let mut s = 0.0f64;
            for j in 0..d {
                s += f64::from(row[j]) * f64::from(query[j]);
            }
            (i as u32, s as f32)
        })
        .collect();
    all.sort_by(|a, b| better_first(a.1, b.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all.into_iter().unzip()
}

/// `Less` when `a` ranks before `b`: larger first, NaN last, zeros equal.
fn better_first(a: f32, b: f32) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_score_then_index_with_nan_last() {
        // scores: 1, NaN, 3, 3, -inf
        let items = [1.0, f32::NAN, 3.0, 3.0, f32::NEG_INFINITY];
        let (idx, sc) = topk_reference(&items, 5, 1, &[1.0], 5, &[]);
        assert_eq!(idx, vec![2, 3, 0, 4, 1]);
        assert_eq!(&sc[..4], &[3.0, 3.0, 1.0, f32::NEG_INFINITY]);
        assert!(sc[4].is_nan());
        let (idx, _) = topk_reference(&items, 5, 1, &[1.0], 2, &[2]);
        assert_eq!(idx, vec![3, 0]);
    }
}
