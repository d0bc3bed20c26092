//! Timing shared by the benches' summary lines (criterion measures separately).

#[allow(dead_code)] // only the retrieval benches use it
pub mod mixture;

use std::time::{Duration, Instant};

/// (median, best) seconds per call of `f` over `samples` samples, each at least `min_sample`
/// long. Short samples let some fall between a busy neighbour's time slices: the median is the
/// figure, the best shows how much of a gap to the limit is noise (limits are best-of-rounds).
#[allow(dead_code)] // not every bench uses both helpers
pub fn time_secs(samples: usize, min_sample: Duration, mut f: impl FnMut()) -> (f64, f64) {
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        if t.elapsed() > min_sample {
            break;
        }
        iters *= 2;
    }
    let mut s: Vec<f64> = (0..samples.max(1))
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_secs_f64() / iters as f64
        })
        .collect();
    s.sort_by(f64::total_cmp);
    (s[s.len() / 2], s[0])
}

/// Median of `reps` (≥ 1) single timed runs of `f`, for calls long enough to time one at a time.
#[allow(dead_code)] // not every bench uses both helpers
pub fn median(reps: usize, mut f: impl FnMut()) -> Duration {
    let mut ts: Vec<Duration> = (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    ts.sort();
    ts[ts.len() / 2]
}

/// A/B in alternation: `rounds` rounds of `time(false)` then `time(true)` (each returns
/// seconds), giving (median A, median B, median of the paired ratios A / B). A machine whose
/// speed drifts between rounds moves both sides of each ratio, not one.
#[allow(dead_code)] // not every bench compares two configurations
pub fn paired(rounds: usize, mut time: impl FnMut(bool) -> f64) -> (f64, f64, f64) {
    let (mut a, mut b, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        let (x, y) = (time(false), time(true));
        a.push(x);
        b.push(y);
        ratio.push(x / y);
    }
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (mid(a), mid(b), mid(ratio))
}
