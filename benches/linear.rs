//! Linear kernels (packed GEMM, batch-1 GEMV) at the served models' layer shapes.
//!
//! Each group prints the limit it is judged against (SPEC §7): the one-thread FMA peak for
//! batch ≥ 16, the read bandwidth of the cache level holding the packed weights for batch 1;
//! after the group, one `summary` line per case gives the achieved rate as a share of it.
//!
//! The `narrow` group covers the model heads (1 or 3 outputs), judged per row against the same
//! FMA peak: there the useful work is tiny, so ns/row is the figure that matters.
//!
//! Where storing a case's output costs over a quarter of its FMA time (the `in = 11` layer), a
//! second line gives that cost from the measured write bandwidth and the ceiling it implies.
//!
//! Every line also gives a `paired` share: each timing sample divided by a sample of its limit
//! taken next to it (an FMA-peak sample for batch ≥ 16, see `paired_peak_ratio`; a read of the
//! same working set for batch 1, see `paired_bandwidth_ratio`), the steadier figure on a shared
//! VM.
//!
//! `LINEAR_BENCH_QUICK=1` skips criterion and prints only the summaries (for tuning runs);
//! `LINEAR_BENCH_DTYPES=f32,bf16` limits the dtypes, `LINEAR_BENCH_SHAPES=192x256,11x128` the
//! shapes; `LINEAR_BENCH_NARROW_ONLY=1` runs only the
//! narrow group.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use half::{bf16, f16};
use reckon::kernels::linear::{Activation, PackedLinear, WeightSlice};
use reckon::kernels::{probe, selected};

/// (in, out) of the layers the targets name.
const SHAPES: [(usize, usize); 4] = [(192, 256), (256, 128), (11, 128), (80, 256)];
const BATCHES_F32: [usize; 4] = [1, 16, 256, 4096];
const BATCHES_16BIT: [usize; 2] = [1, 256];
/// (in, out) of the model heads: ltr / deepfm dnn 64→1, fraud 32→1, ranker heads fused 64→3.
const NARROW_SHAPES: [(usize, usize); 3] = [(64, 1), (32, 1), (64, 3)];
const NARROW_BATCHES: [usize; 2] = [1, 4096];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F32,
    F16,
    Bf16,
}

impl Dtype {
    fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
        }
    }
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32
                / (1u32 << 24) as f32
                - 0.5
        })
        .collect()
}

fn layer(dtype: Dtype, inp: usize, out: usize) -> PackedLinear {
    let w = values(inp * out, 1);
    let b = values(out, 2);
    let table = selected().expect("kernel table");
    let (h, bh): (Vec<f16>, Vec<bf16>) = (
        w.iter().map(|&v| f16::from_f32(v)).collect(),
        w.iter().map(|&v| bf16::from_f32(v)).collect(),
    );
    let slice = match dtype {
        Dtype::F32 => WeightSlice::F32(&w),
        Dtype::F16 => WeightSlice::F16(&h),
        Dtype::Bf16 => WeightSlice::Bf16(&bh),
    };
    PackedLinear::new(slice, Some(&b), out, inp, Activation::Relu, table).expect("layer")
}

/// (median, best) seconds per call; see `common::time_secs`.
fn time_secs(f: impl FnMut()) -> (f64, f64) {
    common::time_secs(31, Duration::from_micros(500), f)
}

/// Median over 31 rounds of (GFLOP/s of one sample of `f`) / (FMA peak sampled right before and
/// after it, the better of the two). This VM's two vCPUs share their host with other work, so
/// the peak itself moves by 2× within a second under load; a ratio taken over adjacent
/// sub-millisecond samples cancels most of that, where a median against a peak measured
/// seconds earlier does not. `None` where the bench has no FMA sampler for this CPU.
fn paired_peak_ratio(flops: f64, mut f: impl FnMut()) -> Option<f64> {
    fma_sampler::gflops(1)?;
    let iters = sample_reps(|n| (0..n).for_each(|_| f()));
    let mut ratios: Vec<f64> = (0..31)
        .map(|_| {
            let before = fma_sampler::gflops(20_000).unwrap_or(f64::NAN);
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            let secs = t.elapsed().as_secs_f64() / iters as f64;
            let after = fma_sampler::gflops(20_000).unwrap_or(f64::NAN);
            flops / secs / 1e9 / before.max(after)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    Some(ratios[ratios.len() / 2])
}

/// Doubles `n` until `g(n)` takes over 300 µs (one paired sample); returns that `n`.
fn sample_reps(mut g: impl FnMut(u64)) -> u64 {
    let mut n = 1u64;
    loop {
        let t = Instant::now();
        g(n);
        if t.elapsed() > Duration::from_micros(300) {
            return n;
        }
        n *= 2;
    }
}

/// Median over 31 rounds of (GB/s of one sample of `f`, which reads `bytes`) / (read bandwidth
/// of the same working set sampled right before and after it, the better of the two): the
/// batch-1 counterpart of [`paired_peak_ratio`].
fn paired_bandwidth_ratio(bytes: usize, mut f: impl FnMut()) -> f64 {
    let reader = probe::ReadPasses::new(bytes);
    let passes = sample_reps(|n| {
        reader.sample_gbs(n as usize);
    }) as usize;
    let iters = sample_reps(|n| (0..n).for_each(|_| f()));
    let mut ratios: Vec<f64> = (0..31)
        .map(|_| {
            let before = reader.sample_gbs(passes);
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            let gbs = (bytes as u64 * iters) as f64 / t.elapsed().as_secs_f64() / 1e9;
            let after = reader.sample_gbs(passes);
            gbs / before.max(after)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

/// A short sample of the same 12-chain FMA loop `probe::fma_peak_gflops` times (AVX-512 only:
/// the machine the targets are judged on).
mod fma_sampler {
    use std::time::Instant;

    /// GFLOP/s of `iters` rounds of 12 independent 16-lane FMAs, or `None` without AVX-512.
    pub fn gflops(iters: usize) -> Option<f64> {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") {
            let t = Instant::now();
            // SAFETY: AVX-512F was detected just above.
            std::hint::black_box(unsafe { x86::fma_loop(std::hint::black_box(iters)) });
            return Some(iters as f64 * 12.0 * 32.0 / t.elapsed().as_secs_f64() / 1e9);
        }
        let _ = (iters, Instant::now());
        None
    }

    /// GB/s of 16-bit weights widened and multiplied-added (8 accumulators, a 16 KiB buffer
    /// read over and over) the way the GEMV does it; `None` for f32 or without AVX-512.
    pub fn widen_fma_gbs(dtype: super::Dtype) -> Option<f64> {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") && !matches!(dtype, super::Dtype::F32) {
            let buf = vec![0x3c00_3c00u32; 4096 + 16]; // 16 KiB of 1.0 (f16) pairs, + slack
            let lines = 256;
            let start = buf.as_ptr().align_offset(64).min(16);
            let p = buf[start..].as_ptr().cast::<u8>();
            let bf16 = matches!(dtype, super::Dtype::Bf16);
            let best = (0..7)
                .map(|_| {
                    let t = Instant::now();
                    // SAFETY: AVX-512F was detected; `p` heads 256 whole lines inside `buf`.
                    std::hint::black_box(unsafe { x86::widen_fma(p, lines, 2000, bf16) });
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::MAX, f64::min);
            return Some((lines * 64 * 2000) as f64 / best / 1e9);
        }
        let _ = dtype;
        None
    }

    #[cfg(target_arch = "x86_64")]
    mod x86 {
        use std::arch::x86_64::*;

        /// The GEMV's inner work per 64-byte line of 16-bit weights: bf16 pairs by shift and
        /// mask, f16 by `vcvtph2ps`, then two FMAs; `reps` passes over `lines` lines.
        #[target_feature(enable = "avx512f,f16c")]
        pub unsafe fn widen_fma(p: *const u8, lines: usize, reps: usize, bf16: bool) -> f32 {
            let x = _mm512_set1_ps(0.5);
            let hi = _mm512_set1_epi32(0xFFFF_0000u32 as i32);
            let mut acc = [_mm512_setzero_ps(); 8];
            for _ in 0..reps {
                for l in (0..lines).step_by(4) {
                    for u in 0..4 {
                        let q = p.add((l + u) * 64);
                        let (a, b) = if bf16 {
                            let v = _mm512_loadu_si512(q.cast());
                            (
                                _mm512_castsi512_ps(_mm512_slli_epi32::<16>(v)),
                                _mm512_castsi512_ps(_mm512_and_si512(v, hi)),
                            )
                        } else {
                            (
                                _mm512_cvtph_ps(_mm256_loadu_si256(q.cast())),
                                _mm512_cvtph_ps(_mm256_loadu_si256(q.add(32).cast())),
                            )
                        };
                        acc[2 * u] = _mm512_fmadd_ps(x, a, acc[2 * u]);
                        acc[2 * u + 1] = _mm512_fmadd_ps(x, b, acc[2 * u + 1]);
                    }
                }
            }
            _mm512_reduce_add_ps(
                acc.iter()
                    .fold(_mm512_setzero_ps(), |s, &a| _mm512_add_ps(s, a)),
            )
        }

        #[target_feature(enable = "avx512f")]
        pub unsafe fn fma_loop(iters: usize) -> f32 {
            let (m, c) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
            let mut acc = [_mm512_set1_ps(1.0); 12];
            for _ in 0..iters {
                for a in acc.iter_mut() {
                    *a = _mm512_fmadd_ps(*a, m, c);
                }
            }
            _mm512_reduce_add_ps(
                acc.iter()
                    .fold(_mm512_setzero_ps(), |s, &a| _mm512_add_ps(s, a)),
            )
        }
    }
}

/// Floats that start on a 64-byte line, as `Mlp`'s workspace lends its activations: an output
/// off a line adds a split store per vector (about 2 ns of an 11 → 128 batch-1 call), which
/// would measure the allocator's luck, not the kernel.
struct Lined {
    buf: Vec<f32>,
    start: usize,
    len: usize,
}

impl Lined {
    fn zeroed(len: usize) -> Lined {
        let buf = vec![0.0; len + 16];
        let start = buf.as_ptr().align_offset(64).min(16);
        Lined { buf, start, len }
    }
    fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

struct Case {
    layer: PackedLinear,
    x: Vec<f32>,
    y: Lined,
    rows: usize,
}

impl Case {
    fn new(dtype: Dtype, inp: usize, out: usize, rows: usize) -> Case {
        Case {
            layer: layer(dtype, inp, out),
            x: values(rows * inp, 3),
            y: Lined::zeroed(rows * out),
            rows,
        }
    }
    /// One forward. `x` goes in as it is, not through `black_box`: the kernel is an indirect
    /// call the compiler cannot see into or hoist, and `black_box(&self.x)` made it spill part
    /// of the `Vec` to the stack as one 16-byte store and read it back as two 8-byte loads,
    /// which no real caller does. On the Zen 4 VM that added about 2 ns to an 11 → 128 batch-1
    /// call (36.8 against 34.9 ns, median of 10 processes).
    fn run(&mut self) {
        self.layer
            .forward(&self.x, self.rows, self.y.as_mut_slice())
            .expect("forward");
        black_box(&mut self.y.buf);
    }
    fn id(&self) -> (String, String) {
        let l = &self.layer;
        (
            l.kernel_for_rows(self.rows).to_string(),
            format!("{}x{}/b{}", l.in_features(), l.out_features(), self.rows),
        )
    }
    fn flops(&self) -> u64 {
        2 * (self.rows * self.layer.in_features() * self.layer.out_features()) as u64
    }
}

fn bench_dtype(c: &mut Criterion, dtype: Dtype, batches: &[usize], peak: f64, quick: bool) {
    if std::env::var("LINEAR_BENCH_DTYPES").is_ok_and(|v| !v.split(',').any(|d| d == dtype.name()))
    {
        return;
    }
    let mut cases: Vec<Case> = SHAPES
        .iter()
        .filter(|&&(i, o)| {
            std::env::var("LINEAR_BENCH_SHAPES")
                .map_or(true, |v| v.split(',').any(|s| s == format!("{i}x{o}")))
        })
        .flat_map(|&(i, o)| batches.iter().map(move |&b| (i, o, b)))
        .map(|(i, o, b)| Case::new(dtype, i, o, b))
        .collect();
    println!(
        "limit linear_{}: one-thread FMA peak {peak:.1} GFLOP/s (batch >= 16)",
        dtype.name()
    );
    // 16-bit weights are widened to f32 on the FMA ports, which caps a batch-1 GEMV below the
    // cache bandwidth: measure that cap too, so the GEMV lines show both.
    let widen = fma_sampler::widen_fma_gbs(dtype);
    if let Some(wgbs) = widen {
        println!(
            "limit linear_{} batch 1: widen + FMA throughput {wgbs:.1} GB/s of weights (L1-resident \
             panel, no other work)",
            dtype.name()
        );
    }
    if !quick {
        let mut group = c.benchmark_group(format!("linear_{}", dtype.name()));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for case in &mut cases {
            let (kernel, param) = case.id();
            let tp = if case.rows == 1 {
                Throughput::Bytes(case.layer.packed_bytes() as u64)
            } else {
                Throughput::Elements(case.flops())
            };
            group.throughput(tp);
            group.bench_function(BenchmarkId::new(kernel, param), |b| b.iter(|| case.run()));
        }
        group.finish();
    }
    for case in &mut cases {
        let (kernel, param) = case.id();
        let (secs, best) = time_secs(|| case.run());
        if case.rows == 1 {
            let bytes = case.layer.packed_bytes();
            let (bw, level) = (probe::read_bandwidth_gbs(bytes), probe::cache_level(bytes));
            let (gbs, best_gbs) = (bytes as f64 / secs / 1e9, bytes as f64 / best / 1e9);
            let paired = paired_bandwidth_ratio(bytes, || case.run());
            println!(
                "summary {kernel} {param}: {:.0} ns, {gbs:.1} GB/s of {} KiB = {:.0}% of {level} read \
                 bandwidth {bw:.1} GB/s (best {:.0}%, paired {:.0}%)",
                secs * 1e9,
                bytes / 1024,
                100.0 * gbs / bw,
                100.0 * best_gbs / bw,
                100.0 * paired
            );
            if let Some(wgbs) = widen {
                println!(
                    "summary {kernel} {param}: {:.0}% of the widen + FMA limit {wgbs:.1} GB/s",
                    100.0 * gbs / wgbs
                );
            }
        } else {
            let (gflops, best_gflops) = (
                case.flops() as f64 / secs / 1e9,
                case.flops() as f64 / best / 1e9,
            );
            let paired = paired_peak_ratio(case.flops() as f64, || case.run())
                .map_or(String::new(), |r| format!(", paired {:.0}%", 100.0 * r));
            println!(
                "summary {kernel} {param}: {gflops:.1} GFLOP/s = {:.0}% of FMA peak {peak:.1} ({:.1} ns/row, \
                 best {:.0}%{paired})",
                100.0 * gflops / peak,
                secs * 1e9 / case.rows as f64,
                100.0 * best_gflops / peak
            );
            // Storing the output is the other floor: for a small `in` it costs about as much as
            // the FMAs (11 × 128: 512 bytes written per 2816 FLOP).
            let y_bytes = 4 * case.y.len;
            let (wbw, level) = (
                probe::write_bandwidth_gbs(y_bytes),
                probe::cache_level(y_bytes),
            );
            let write_ns = y_bytes as f64 / case.rows as f64 / wbw;
            let fma_ns = case.flops() as f64 / case.rows as f64 / peak;
            if write_ns > 0.25 * fma_ns {
                println!(
                    "summary {kernel} {param}: output writes alone {write_ns:.1} ns/row ({} KiB at \
                     {level} write bandwidth {wbw:.1} GB/s) beside {fma_ns:.1} ns/row of FMAs at \
                     peak: ceiling {:.0}% of FMA peak if fully overlapped, {:.0}% if not",
                    y_bytes / 1024,
                    100.0 * (fma_ns / write_ns).min(1.0),
                    100.0 * fma_ns / (fma_ns + write_ns)
                );
            }
        }
    }
}

/// The model heads: a few outputs per row, at batch 1 and 4096, every dtype.
fn bench_narrow(c: &mut Criterion, peak: f64, quick: bool) {
    let mut cases: Vec<Case> = [Dtype::F32, Dtype::Bf16, Dtype::F16]
        .into_iter()
        .filter(|d| {
            std::env::var("LINEAR_BENCH_DTYPES")
                .map_or(true, |v| v.split(',').any(|x| x == d.name()))
        })
        .flat_map(|d| NARROW_SHAPES.iter().map(move |&(i, o)| (d, i, o)))
        .flat_map(|(d, i, o)| NARROW_BATCHES.iter().map(move |&b| Case::new(d, i, o, b)))
        .collect();
    println!("limit linear_narrow: one-thread FMA peak {peak:.1} GFLOP/s");
    if !quick {
        let mut group = c.benchmark_group("linear_narrow");
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for case in &mut cases {
            let (kernel, param) = case.id();
            group.throughput(Throughput::Elements(case.flops()));
            group.bench_function(BenchmarkId::new(kernel, param), |b| b.iter(|| case.run()));
        }
        group.finish();
    }
    for case in &mut cases {
        let (kernel, param) = case.id();
        let (secs, best) = time_secs(|| case.run());
        let gflops = case.flops() as f64 / secs / 1e9;
        println!(
            "summary {kernel} {param}: {:.2} ns/row (best {:.2}), {gflops:.2} GFLOP/s = {:.1}% of FMA \
             peak {peak:.1}",
            secs * 1e9 / case.rows as f64,
            best * 1e9 / case.rows as f64,
            100.0 * gflops / peak
        );
    }
}

fn linear(c: &mut Criterion) {
    let quick = std::env::var("LINEAR_BENCH_QUICK").is_ok_and(|v| v == "1");
    let peak = probe::fma_peak_gflops();
    bench_narrow(c, peak, quick);
    if std::env::var("LINEAR_BENCH_NARROW_ONLY").is_ok_and(|v| v == "1") {
        return;
    }
    bench_dtype(c, Dtype::F32, &BATCHES_F32, peak, quick);
    bench_dtype(c, Dtype::Bf16, &BATCHES_16BIT, peak, quick);
    bench_dtype(c, Dtype::F16, &BATCHES_16BIT, peak, quick);
}

criterion_group!(benches, linear);
criterion_main!(benches);
