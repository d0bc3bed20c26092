//! k-means (the IVF coarse quantizer): seeded random init from a sample, Lloyd iterations with
//! empty-cluster repair, then every point assigned to its nearest centroid.
//!
//! Assignment is the expensive part (points × centroids × D) and is a nearest-neighbour search,
//! so it runs on the top-k scan kernel with k = 1: nearest in L2 is the largest
//! `x·c − |c|²/2`, which is a plain dot product of `[x, 1]` with `[c, −|c|²/2]`. The batch
//! scan loads each centroid block once per tile of points, so this runs at GEMM-like speed.

use crate::error::{Error, Result};
use crate::kernels::topk::{PackedItems, TopK};
use crate::kernels::KernelTable;

use super::rng::SplitMix;

/// Points assigned per batch call (the scan tiles queries inside a batch).
const ASSIGN_BATCH: usize = 256;
/// Relative perturbation when an empty cluster takes half of a large one (as FAISS does).
const SPLIT_EPS: f32 = 1.0 / 1024.0;

/// k-means settings.
#[derive(Clone, Debug)]
pub struct KmeansParams {
    /// Number of clusters (IVF lists); `0` means [`default_nlist`].
    pub nlist: usize,
    /// Lloyd iterations.
    pub iters: usize,
    /// Seed for sampling and initialisation: the same seed and data give the same lists.
    pub seed: u64,
    /// Training uses at most this many points per cluster (a random sample): centroids settle
    /// long before every point is seen, and a sample keeps big builds fast.
    pub max_points_per_centroid: usize,
}

impl Default for KmeansParams {
    fn default() -> Self {
        KmeansParams {
            nlist: 0,
            iters: 10,
            seed: 0x5eed,
            max_points_per_centroid: 128,
        }
    }
}

/// The default list count for `n` items: about `4·√n`, at least 1 and at most `n`.
pub fn default_nlist(n: usize) -> usize {
    ((4.0 * (n as f64).sqrt()).round() as usize).clamp(1, n.max(1))
}

/// Trains `nlist` centroids (row-major `nlist × d`) on `vectors` (`n × d`).
pub(crate) fn train(
    vectors: &[f32],
    n: usize,
    d: usize,
    p: &KmeansParams,
    kernels: &'static KernelTable,
) -> Result<Vec<f32>> {
    let nlist = p.nlist;
    if nlist == 0 || nlist > n {
        return Err(Error::InvalidArgument {
            arg: "nlist",
            reason: format!("{nlist} lists for {n} items; need 1..={n}"),
        });
    }
    let mut rng = SplitMix::new(p.seed);
    // Partial Fisher-Yates: the first `m` entries become a uniform sample without repeats.
    let m = n.min(nlist.saturating_mul(p.max_points_per_centroid.max(1)));
    let mut order: Vec<u32> = (0..n as u32).collect();
    for i in 0..m {
        let j = i + rng.below(n - i);
        order.swap(i, j);
    }
    let sample: Vec<f32> = order[..m]
        .iter()
        .flat_map(|&i| &vectors[i as usize * d..(i as usize + 1) * d])
        .copied()
        .collect();
    drop(order);
    // Init: the first `nlist` sample points (already a random choice).
    let mut centroids = sample[..nlist * d].to_vec();
    let mut sums = vec![0.0f64; nlist * d];
    let mut counts = vec![0usize; nlist];
    for _ in 0..p.iters {
        let assign = assign(&sample, m, d, &centroids, nlist, kernels)?;
        sums.iter_mut().for_each(|s| *s = 0.0);
        counts.iter_mut().for_each(|c| *c = 0);
        for (x, &c) in sample.chunks_exact(d).zip(&assign) {
            let c = c as usize;
            counts[c] += 1;
            for (s, &v) in sums[c * d..(c + 1) * d].iter_mut().zip(x) {
                *s += f64::from(v);
            }
        }
        for c in 0..nlist {
            if counts[c] > 0 {
                let inv = 1.0 / counts[c] as f64;
                for (dst, &s) in centroids[c * d..(c + 1) * d].iter_mut().zip(&sums[c * d..]) {
                    *dst = (s * inv) as f32;
                }
            }
        }
        repair_empty(&mut centroids, &mut counts, d, &mut rng);
    }
    Ok(centroids)
}

/// Gives each empty cluster half of a populous one: copy its centroid and push the two copies
/// apart slightly, so the next iteration splits its points between them.
fn repair_empty(centroids: &mut [f32], counts: &mut [usize], d: usize, rng: &mut SplitMix) {
    let total: usize = counts.iter().sum();
    for empty in 0..counts.len() {
        if counts[empty] > 0 {
            continue;
        }
        // Pick a donor with probability proportional to its size beyond one point.
        let big = loop {
            let r = rng.below(total.max(1));
            let mut acc = 0;
            let pick = counts.iter().position(|&c| {
                acc += c;
                acc > r
            });
            match pick {
                Some(b) if counts[b] > 1 => break Some(b),
                _ if counts.iter().all(|&c| c <= 1) => break None,
                _ => {}
            }
        };
        let Some(big) = big else { return };
        for j in 0..d {
            let v = centroids[big * d + j];
            let sign = if j % 2 == 0 { 1.0 } else { -1.0 };
            centroids[empty * d + j] = v * (1.0 + sign * SPLIT_EPS);
            centroids[big * d + j] = v * (1.0 - sign * SPLIT_EPS);
        }
        counts[empty] = counts[big] / 2;
        counts[big] -= counts[empty];
    }
}

/// The nearest centroid (L2) of each of the `n` points.
pub(crate) fn assign(
    points: &[f32],
    n: usize,
    d: usize,
    centroids: &[f32],
    nlist: usize,
    kernels: &'static KernelTable,
) -> Result<Vec<u32>> {
    let da = d + 1;
    let mut aug = Vec::with_capacity(nlist * da);
    for c in centroids.chunks_exact(d) {
        aug.extend_from_slice(c);
        aug.push(-0.5 * c.iter().map(|x| x * x).sum::<f32>());
    }
    let packed = PackedItems::new(&aug, nlist, da, kernels)?;
    let mut out = Vec::with_capacity(n);
    let mut queries = Vec::with_capacity(ASSIGN_BATCH * da);
    let mut tops = vec![TopK::with_capacity(1, da); ASSIGN_BATCH];
    for chunk in points.chunks(ASSIGN_BATCH * d) {
        let nq = chunk.len() / d;
        queries.clear();
        for x in chunk.chunks_exact(d) {
            queries.extend_from_slice(x);
            queries.push(1.0);
        }
        packed.search_batch(&queries, nq, 1, &mut tops[..nq])?;
        // A NaN point scores NaN everywhere; the scan still returns one index for it.
        out.extend(
            tops[..nq]
                .iter()
                .map(|t| t.indices().first().copied().unwrap_or(0)),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::selected;

    #[test]
    fn separates_obvious_clusters() {
        let kernels = selected().expect("table");
        // Three tight blobs in 2-D.
        let centers = [(0.0f32, 0.0f32), (10.0, 0.0), (0.0, 10.0)];
        let mut v = Vec::new();
        for i in 0..300 {
            let (cx, cy) = centers[i % 3];
            v.push(cx + (i as f32 * 0.37).sin() * 0.1);
            v.push(cy + (i as f32 * 0.71).cos() * 0.1);
        }
        let p = KmeansParams {
            nlist: 3,
            ..KmeansParams::default()
        };
        let c = train(&v, 300, 2, &p, kernels).expect("train");
        let a = assign(&v, 300, 2, &c, 3, kernels).expect("assign");
        for i in 3..300 {
            assert_eq!(a[i], a[i % 3], "point {i}");
        }
        assert!(a[0] != a[1] && a[1] != a[2] && a[0] != a[2]);
    }

    #[test]
    fn nlist_out_of_range_is_an_error() {
        let kernels = selected().expect("table");
        let p = KmeansParams {
            nlist: 5,
            ..KmeansParams::default()
        };
        assert!(train(&[0.0; 4], 4, 1, &p, kernels).is_err());
        assert_eq!(default_nlist(1_000_000), 4000);
        assert_eq!(default_nlist(1), 1);
    }
}
