//! The benches' clustered item data: a Gaussian mixture, because uniform random vectors
//! resemble no real embedding and defeat every ANN index.
//!
//! Every value is a pure function of (stream, counter) — counter-based splitmix64 + Box-Muller —
//! so `benches/peers/faiss_compare.py` regenerates the same numbers vectorised in numpy.

/// Mixture centres; each row is `normalize(centre + SIGMA · noise)`.
pub const CLUSTERS: u64 = 1000;
/// Noise scale around a centre.
pub const SIGMA: f32 = 1.0;

fn hash(stream: u64, i: u64) -> u64 {
    let mut z = ((stream << 40) | i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn uniform(stream: u64, i: u64) -> f64 {
    ((hash(stream, i) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

fn normal(stream: u64, j: u64) -> f32 {
    let (a, b) = (uniform(stream, 2 * j), uniform(stream, 2 * j + 1));
    ((-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()) as f32
}

/// `n` rows of width `d`: cluster from `assign_stream`, noise from `noise_stream`,
/// L2-normalised. Centres always come from stream 1, so items and queries share them.
pub fn rows(n: usize, d: usize, assign_stream: u64, noise_stream: u64) -> Vec<f32> {
    let centres: Vec<f32> = (0..CLUSTERS * d as u64).map(|j| normal(1, j)).collect();
    around(&centres, n, d, assign_stream, noise_stream, SIGMA)
}

/// `n` rows of width `d`, each `normalize(centre + sigma · noise)` around one of `centres`
/// (row-major, width `d`) picked by `assign_stream`.
pub fn around(
    centres: &[f32],
    n: usize,
    d: usize,
    assign_stream: u64,
    noise_stream: u64,
    sigma: f32,
) -> Vec<f32> {
    let count = (centres.len() / d.max(1)).max(1) as u64;
    let mut v = vec![0.0f32; n * d];
    for (i, row) in v.chunks_exact_mut(d).enumerate() {
        let c = (hash(assign_stream, i as u64) % count) as usize;
        for (j, x) in row.iter_mut().enumerate() {
            *x = centres[c * d + j] + sigma * normal(noise_stream, (i * d + j) as u64);
        }
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    v
}
