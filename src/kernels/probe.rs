//! Measures the machine limits that kernels are judged against.
//!
//! A benchmark figure means little alone on a shared, noisy VM; the ratio to a limit measured in
//! the same run does. The limits:
//! - [`fma_peak_gflops`]: one thread's FP32 FMA throughput, from a loop of independent FMA chains
//!   with the widest vectors the CPU has (the ceiling for compute-bound GEMM);
//! - [`read_bandwidth_gbs`]: one thread's read bandwidth for a working set of a given size (the
//!   ceiling for batch-1 GEMV, scans and gathers), measured by summing a buffer of that size
//!   that stays wherever that size lives (L1, L2, L3 or DRAM);
//! - [`write_bandwidth_gbs`]: the same for writing whole lines front to back (the ceiling for a
//!   layer whose outputs cost more to store than to compute, such as `in = 11`).
//!
//! Each takes the best of several timed rounds: a limit should not be lowered by a noisy neighbour.

use std::time::{Duration, Instant};

use super::dispatch::Isa;

/// Rounds per measurement; the best round is reported.
const ROUNDS: usize = 7;
/// Minimum time per round, so timer resolution and call overhead do not matter.
const ROUND_TIME: Duration = Duration::from_millis(15);

/// One thread's peak FP32 throughput in GFLOP/s (an FMA counts as 2 FLOP), at the best ISA.
pub fn fma_peak_gflops() -> f64 {
    fma_peak_gflops_for(Isa::best())
}

/// One thread's peak FP32 throughput in GFLOP/s at a given level (falls back to portable if the
/// CPU lacks it).
pub fn fma_peak_gflops_for(isa: Isa) -> f64 {
    let isa = if isa.is_available() {
        isa
    } else {
        Isa::Portable
    };
    let (flop_per_iter, run): (f64, fn(usize) -> f32) = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => (FMA_CHAINS as f64 * 16.0 * 2.0, x86::fma_loop_avx512_entry),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => (FMA_CHAINS as f64 * 8.0 * 2.0, x86::fma_loop_avx2_entry),
        _ => (FMA_CHAINS as f64 * 8.0 * 2.0, fma_loop_portable),
    };
    let iters = calibrate(|n| {
        std::hint::black_box(run(n));
    });
    best_rate(ROUNDS, || {
        let t = Instant::now();
        std::hint::black_box(run(iters));
        (iters as f64 * flop_per_iter, t.elapsed())
    }) / 1e9
}

/// One thread's read bandwidth in GB/s (1e9 bytes/s) over a working set of `bytes` bytes
/// (rounded up to a 64-byte line, at least one line), read repeatedly.
pub fn read_bandwidth_gbs(bytes: usize) -> f64 {
    let reader = ReadPasses::new(bytes);
    pass_bandwidth_gbs(reader.lines(), |_| reader.pass())
}

/// The read that [`read_bandwidth_gbs`] times, one sample at a time: a benchmark can take a read
/// sample right beside each of its own samples and report the ratio, which a noisy neighbour
/// slows on both sides alike (where the best-of-rounds limit and a median kernel time taken
/// seconds apart can differ by 2× on a busy host).
pub struct ReadPasses {
    buf: Vec<Line>,
    sum: fn(&[Line]) -> f32,
}

impl ReadPasses {
    /// A working set of `bytes` bytes (rounded up to a 64-byte line, at least one line).
    pub fn new(bytes: usize) -> Self {
        let lines = bytes.div_ceil(64).max(1);
        ReadPasses {
            buf: (0..lines).map(|i| Line([i as f32 * 1e-9; 16])).collect(),
            sum: sum_lines_fn(),
        }
    }

    fn lines(&self) -> usize {
        self.buf.len()
    }

    fn pass(&self) {
        std::hint::black_box((self.sum)(std::hint::black_box(&self.buf)));
    }

    /// GB/s of `passes` passes over the working set, timed now.
    pub fn sample_gbs(&self, passes: usize) -> f64 {
        let t = Instant::now();
        (0..passes).for_each(|_| self.pass());
        (self.lines() * 64 * passes) as f64 / t.elapsed().as_secs_f64().max(1e-12) / 1e9
    }
}

/// One thread's write bandwidth in GB/s over a buffer of `bytes` bytes (rounded up to a 64-byte
/// line, at least one line), overwritten front to back in whole lines, repeatedly: what storing
/// a GEMM's output of that size costs at best (each line fetched for ownership from wherever
/// that size lives, the line it evicts written back).
pub fn write_bandwidth_gbs(bytes: usize) -> f64 {
    let lines = bytes.div_ceil(64).max(1);
    let mut buf: Vec<Line> = vec![Line([0.0; 16]); lines];
    let fill = fill_lines_fn();
    pass_bandwidth_gbs(lines, |p| {
        fill(std::hint::black_box(&mut buf), p as f32);
    })
}

/// GB/s of `pass(p)` (pass number `p`), each pass moving `lines` 64-byte lines: the pass count is
/// calibrated to [`ROUND_TIME`], then the best of [`ROUNDS`] rounds is taken.
fn pass_bandwidth_gbs(lines: usize, mut pass: impl FnMut(usize)) -> f64 {
    let passes = calibrate(|n| (0..n).for_each(&mut pass));
    best_rate(ROUNDS, || {
        let t = Instant::now();
        (0..passes).for_each(&mut pass);
        ((lines * 64 * passes) as f64, t.elapsed())
    }) / 1e9
}

/// The cache level a working set of `bytes` fits in, from the CPU's reported cache sizes
/// (`L1`, `L2`, `L3` or `DRAM`). Virtual machines may report a shared L3 larger than the slice
/// one core really gets; the measured bandwidth is the figure to trust.
pub fn cache_level(bytes: usize) -> &'static str {
    let sizes = data_cache_sizes();
    for (level, name) in [(1, "L1"), (2, "L2"), (3, "L3")] {
        if let Some(&(_, size)) = sizes.iter().find(|(l, _)| *l == level) {
            if bytes <= size {
                return name;
            }
        }
    }
    "DRAM"
}

/// (level, bytes) of each data or unified cache of CPU 0, from sysfs (empty elsewhere).
fn data_cache_sizes() -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    for index in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            break;
        };
        if kind.trim() == "Instruction" {
            continue;
        }
        let size = size.trim();
        let (num, mult) = match size.strip_suffix('K') {
            Some(n) => (n, 1024),
            None => match size.strip_suffix('M') {
                Some(n) => (n, 1024 * 1024),
                None => (size, 1),
            },
        };
        if let (Ok(level), Ok(num)) = (level.trim().parse(), num.parse::<usize>()) {
            out.push((level, num * mult));
        }
    }
    out
}

/// Doubles `n` until one call of `f(n)` takes at least [`ROUND_TIME`]; returns that `n`.
fn calibrate(mut f: impl FnMut(usize)) -> usize {
    let mut n = 1usize;
    loop {
        let t = Instant::now();
        f(n);
        if t.elapsed() >= ROUND_TIME || n >= 1 << 40 {
            return n;
        }
        n *= 2;
    }
}

/// Runs `round` (returning (units, time)) `rounds` times; the best units per second.
fn best_rate(rounds: usize, mut round: impl FnMut() -> (f64, Duration)) -> f64 {
    (0..rounds)
        .map(|_| {
            let (units, t) = round();
            units / t.as_secs_f64().max(1e-12)
        })
        .fold(0.0, f64::max)
}

const FMA_CHAINS: usize = 12;

/// Portable FMA loop: 12 independent chains of `wide::f32x8` multiply-adds.
fn fma_loop_portable(iters: usize) -> f32 {
    use wide::f32x8;
    let m = f32x8::splat(0.999_999);
    let c = f32x8::splat(1e-7);
    let mut acc = [f32x8::splat(1.0); FMA_CHAINS];
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = a.mul_add(m, c);
        }
    }
    acc.iter()
        .fold(f32x8::splat(0.0), |s, &a| s + a)
        .reduce_add()
}

/// A 64-byte cache line of floats.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// The widest line-summing body this CPU has. Chosen once per probe: checked on every pass, the
/// feature test was part of what the probe timed (2% of a linear bench run's samples).
fn sum_lines_fn() -> fn(&[Line]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if Isa::Avx512.is_available() {
        return x86::sum_lines_avx512_entry;
    }
    sum_lines_portable
}

/// As [`sum_lines_fn`], for filling lines.
fn fill_lines_fn() -> fn(&mut [Line], f32) {
    #[cfg(target_arch = "x86_64")]
    if Isa::Avx512.is_available() {
        return x86::fill_lines_avx512_entry;
    }
    fill_lines_portable
}

fn sum_lines_portable(buf: &[Line]) -> f32 {
    use wide::f32x8;
    let (mut lo, mut hi) = (f32x8::splat(0.0), f32x8::splat(0.0));
    for line in buf {
        let l = &line.0;
        lo += f32x8::new([l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]]);
        hi += f32x8::new([l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15]]);
    }
    (lo + hi).reduce_add()
}

fn fill_lines_portable(buf: &mut [Line], value: f32) {
    buf.fill(Line([value; 16]));
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Line, FMA_CHAINS};
    use std::arch::x86_64::*;

    pub(super) fn fma_loop_avx512_entry(iters: usize) -> f32 {
        // SAFETY: only selected when Isa::Avx512 is available (checked by the caller).
        unsafe { fma_loop_avx512(iters) }
    }

    pub(super) fn sum_lines_avx512_entry(buf: &[Line]) -> f32 {
        // SAFETY: only selected when Isa::Avx512 is available (sum_lines_fn checks).
        unsafe { sum_lines_avx512(buf) }
    }

    pub(super) fn fill_lines_avx512_entry(buf: &mut [Line], value: f32) {
        // SAFETY: only selected when Isa::Avx512 is available (fill_lines_fn checks).
        unsafe { fill_lines_avx512(buf, value) }
    }

    pub(super) fn fma_loop_avx2_entry(iters: usize) -> f32 {
        // SAFETY: only selected when Isa::Avx2 (AVX2 + FMA) is available.
        unsafe { fma_loop_avx2(iters) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn fma_loop_avx512(iters: usize) -> f32 {
        let m = _mm512_set1_ps(0.999_999);
        let c = _mm512_set1_ps(1e-7);
        let mut acc = [_mm512_set1_ps(1.0); FMA_CHAINS];
        for _ in 0..iters {
            // Fully unrolled by the compiler: 12 independent chains cover 2 ports x 4-cycle latency.
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, m, c);
            }
        }
        let mut s = _mm512_setzero_ps();
        for a in acc {
            s = _mm512_add_ps(s, a);
        }
        _mm512_reduce_add_ps(s)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn fma_loop_avx2(iters: usize) -> f32 {
        let m = _mm256_set1_ps(0.999_999);
        let c = _mm256_set1_ps(1e-7);
        let mut acc = [_mm256_set1_ps(1.0); FMA_CHAINS];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, m, c);
            }
        }
        let mut s = _mm256_setzero_ps();
        for a in acc {
            s = _mm256_add_ps(s, a);
        }
        let mut lanes = [0f32; 8];
        // SAFETY: `lanes` has room for the 8 floats stored (unaligned store).
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), s) };
        lanes.iter().sum()
    }

    /// Sums a buffer with eight independent accumulators (2 loads/cycle × 4-cycle add latency),
    /// so the adds never limit the loads, even from L1.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sum_lines_avx512(buf: &[Line]) -> f32 {
        let mut acc = [_mm512_setzero_ps(); 8];
        let chunks = buf.chunks_exact(8);
        let rest = chunks.remainder();
        for quad in chunks {
            for (a, line) in acc.iter_mut().zip(quad) {
                // SAFETY: `line` is a valid, 64-byte aligned 16-float line.
                *a = _mm512_add_ps(*a, unsafe { _mm512_load_ps(line.0.as_ptr()) });
            }
        }
        for line in rest {
            // SAFETY: as above.
            acc[0] = _mm512_add_ps(acc[0], unsafe { _mm512_load_ps(line.0.as_ptr()) });
        }
        let s = acc
            .iter()
            .fold(_mm512_setzero_ps(), |s, &a| _mm512_add_ps(s, a));
        _mm512_reduce_add_ps(s)
    }

    /// One full-line store per line, as the GEMM's output stores are.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn fill_lines_avx512(buf: &mut [Line], value: f32) {
        let v = _mm512_set1_ps(value);
        for line in buf {
            // SAFETY: `line` is a valid, 64-byte aligned 16-float line.
            unsafe { _mm512_store_ps(line.0.as_mut_ptr(), v) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_levels_are_ordered() {
        assert_eq!(
            cache_level(1),
            if data_cache_sizes().is_empty() {
                "DRAM"
            } else {
                "L1"
            }
        );
        assert_eq!(cache_level(usize::MAX), "DRAM");
    }

    #[test]
    fn portable_fma_loop_is_finite() {
        assert!(fma_loop_portable(1000).is_finite());
    }

    #[test]
    fn sum_lines_matches_scalar_sum() {
        let buf: Vec<Line> = (0..37).map(|i| Line([i as f32; 16])).collect();
        let expected: f32 = (0..37).map(|i| i as f32 * 16.0).sum();
        for sum in [sum_lines_fn(), sum_lines_portable] {
            assert!((sum(&buf) - expected).abs() <= 1e-3 * expected);
        }
    }

    #[test]
    fn fill_lines_writes_every_line() {
        for fill in [fill_lines_fn(), fill_lines_portable] {
            let mut buf = vec![Line([0.0; 16]); 37];
            fill(&mut buf, 3.0);
            assert!(buf.iter().all(|l| l.0 == [3.0; 16]));
        }
        assert!(write_bandwidth_gbs(4096) > 0.0);
    }
}
