//! `PackedLinear` (packed GEMM + GEMV, narrow-output dot kernels, f32/f16/bf16 weights) against
//! `linear_reference`, under every kernel table this machine has.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use half::{bf16, f16};
use proptest::prelude::*;
use reckon::kernels::linear::{linear_reference, Activation, PackedLinear, WeightSlice};
use reckon::kernels::KernelTable;
use reckon::Error;

/// Counts this thread's allocations, so `forward` can be shown to allocate nothing while other
/// tests run on other threads.
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; the counter is a const-initialised
// thread-local Cell, which neither allocates nor panics.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Error allowed per summed term, relative to `Σ|xᵢ·wᵢ| + |b|`. An output is a sum of `k`
/// products and a bias accumulated in f32, each FMA rounding once: recursive summation is off
/// by at most `γ_k·Σ|terms|` with `γ_k ≈ k·u`, `u = 2⁻²⁴ = EPSILON / 2`. The reference accumulates
/// in f64 and rounds once (one more `u`). Allowing `(k + 2)·EPSILON` is that bound with a 2× margin.
/// 16-bit weights are widened exactly, so the same bound holds for every dtype.
const TOL_PER_TERM: f32 = f32::EPSILON;

/// Awkward sizes: empty, one, around the lane widths (8, 16) and panel widths (8, 16, 32), primes.
const ROWS: &[usize] = &[
    0, 1, 2, 3, 5, 6, 7, 8, 9, 12, 13, 15, 16, 17, 31, 33, 100, 257,
];
const INS: &[usize] = &[0, 1, 2, 3, 11, 15, 16, 17, 31, 33, 80, 192, 257];
const OUTS: &[usize] = &[1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 127, 129];

#[derive(Clone, Copy, Debug)]
enum Dtype {
    F32,
    F16,
    Bf16,
}

/// A layer's weights in every dtype: the f32 values are the 16-bit ones widened, so one
/// reference serves all three.
struct Weights {
    f32: Vec<f32>,
    f16: Vec<f16>,
    bf16: Vec<bf16>,
}

impl Weights {
    fn new(values: &[f32], dtype: Dtype) -> Weights {
        let f16: Vec<f16> = values.iter().map(|&v| f16::from_f32(v)).collect();
        let bf16: Vec<bf16> = values.iter().map(|&v| bf16::from_f32(v)).collect();
        let f32 = match dtype {
            Dtype::F32 => values.to_vec(),
            Dtype::F16 => f16.iter().map(|v| v.to_f32()).collect(),
            Dtype::Bf16 => bf16.iter().map(|v| v.to_f32()).collect(),
        };
        Weights { f32, f16, bf16 }
    }

    fn slice(&self, dtype: Dtype) -> WeightSlice<'_> {
        match dtype {
            Dtype::F32 => WeightSlice::F32(&self.f32),
            Dtype::F16 => WeightSlice::F16(&self.f16),
            Dtype::Bf16 => WeightSlice::Bf16(&self.bf16),
        }
    }
}

/// Deterministic values in [-1, 1) (xorshift), so grid tests need no strategy.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

struct Case {
    rows: usize,
    inp: usize,
    out: usize,
    dtype: Dtype,
    bias: bool,
    act: Activation,
    seed: u64,
}

/// Runs one case under every table and compares with the reference; returns the first mismatch.
fn check(case: &Case) -> Result<(), String> {
    let Case {
        rows,
        inp,
        out,
        dtype,
        act,
        seed,
        ..
    } = *case;
    let x = values(rows * inp, seed);
    let w = Weights::new(&values(out * inp, seed ^ 1), dtype);
    let b = values(out, seed ^ 2);
    let bias = case.bias.then_some(&b[..]);
    let mut want = vec![0.0; rows * out];
    linear_reference(&x, rows, w.slice(dtype), bias, out, inp, act, &mut want)
        .map_err(|e| e.to_string())?;
    for &table in common::isa::tables_under_test() {
        let ops = &table.linear;
        match dtype {
            Dtype::F32 => (
                common::isa::assert_body(table, &ops.fp32.gemm, true),
                common::isa::assert_body(table, &ops.fp32.gemv, true),
                common::isa::assert_body(table, &ops.fp32.dot, true),
            ),
            Dtype::F16 => (
                common::isa::assert_body(table, &ops.fp16.gemm, true),
                common::isa::assert_body(table, &ops.fp16.gemv, true),
                common::isa::assert_body(table, &ops.fp16.dot, true),
            ),
            Dtype::Bf16 => (
                common::isa::assert_body(table, &ops.bf16.gemm, true),
                common::isa::assert_body(table, &ops.bf16.gemv, true),
                common::isa::assert_body(table, &ops.bf16.dot, true),
            ),
        };
        let layer = PackedLinear::new(w.slice(dtype), bias, out, inp, act, table)
            .map_err(|e| e.to_string())?;
        let (dot_max_out, dot_name) = match dtype {
            Dtype::F32 => (ops.fp32.dot_max_out, ops.fp32.dot.name),
            Dtype::F16 => (ops.fp16.dot_max_out, ops.fp16.dot.name),
            Dtype::Bf16 => (ops.bf16.dot_max_out, ops.bf16.dot.name),
        };
        // A narrow layer must really run the dot kernel at every batch size.
        if out <= dot_max_out && layer.kernel_for_rows(rows) != dot_name {
            return Err(format!(
                "out={out} rows={rows}: ran {}, expected {dot_name}",
                layer.kernel_for_rows(rows)
            ));
        }
        // Poisoned output: every element must be written.
        let mut got = vec![f32::NAN; rows * out];
        layer
            .forward(&x, rows, &mut got)
            .map_err(|e| e.to_string())?;
        for r in 0..rows {
            for o in 0..out {
                let scale: f32 = (0..inp)
                    .map(|i| (x[r * inp + i] * w.f32[o * inp + i]).abs())
                    .sum::<f32>()
                    + bias.map_or(0.0, |b| b[o].abs());
                let tol = TOL_PER_TERM * (inp as f32 + 2.0) * scale;
                let (g, e) = (got[r * out + o], want[r * out + o]);
                // Written so that a NaN fails too.
                let close = (g - e).abs() <= tol;
                if !close {
                    return Err(format!(
                        "{} ({}): rows={rows} in={inp} out={out} {dtype:?} bias={} {act:?}: \
                         y[{r}][{o}] = {g}, reference {e}, tolerance {tol}",
                        layer.kernel_for_rows(rows),
                        table.isa,
                        case.bias
                    ));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn every_awkward_shape_matches_the_reference() {
    let mut seed = 0;
    for &rows in ROWS.iter().filter(|&&r| r <= 33) {
        for &inp in INS.iter().filter(|&&i| i <= 80) {
            for &out in OUTS {
                for dtype in [Dtype::F32, Dtype::F16, Dtype::Bf16] {
                    seed += 1;
                    let act = if seed % 2 == 0 {
                        Activation::Relu
                    } else {
                        Activation::Identity
                    };
                    let case = Case {
                        rows,
                        inp,
                        out,
                        dtype,
                        bias: seed % 3 != 0,
                        act,
                        seed,
                    };
                    check(&case).unwrap();
                }
            }
        }
    }
}

fn dtype() -> impl Strategy<Value = Dtype> {
    prop_oneof![Just(Dtype::F32), Just(Dtype::F16), Just(Dtype::Bf16)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn packed_linear_matches_reference(
        rows in prop::sample::select(ROWS),
        inp in prop::sample::select(INS),
        out in prop::sample::select(OUTS),
        dtype in dtype(),
        bias: bool,
        relu: bool,
        seed: u64,
    ) {
        let act = if relu { Activation::Relu } else { Activation::Identity };
        let case = Case { rows, inp, out, dtype, bias, act, seed };
        check(&case).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn packed_linear_matches_reference_at_any_size(
        rows in 0usize..70,
        inp in 0usize..300,
        out in 1usize..140,
        dtype in dtype(),
        seed: u64,
    ) {
        let case = Case { rows, inp, out, dtype, bias: true, act: Activation::Relu, seed };
        check(&case).map_err(TestCaseError::fail)?;
    }
}

/// Narrow-output (dot kernel) sizes: `in` around the lane widths (8, 16) and bf16 blocks (16,
/// 32), primes and the heads served (32, 64, 80); rows around the 4- and 8-row blocks.
const NARROW_INS: &[usize] = &[1, 3, 15, 16, 17, 31, 33, 64, 80, 257];
const NARROW_OUTS: &[usize] = &[1, 2, 3, 4];
const NARROW_ROWS: &[usize] = &[0, 1, 2, 7, 17, 300];

#[test]
fn narrow_heads_match_the_reference() {
    let mut seed = 5000;
    for &inp in NARROW_INS {
        for &out in NARROW_OUTS {
            for &rows in NARROW_ROWS {
                for dtype in [Dtype::F32, Dtype::F16, Dtype::Bf16] {
                    for (bias, relu) in [(false, false), (true, false), (false, true), (true, true)]
                    {
                        seed += 1;
                        let act = if relu {
                            Activation::Relu
                        } else {
                            Activation::Identity
                        };
                        check(&Case {
                            rows,
                            inp,
                            out,
                            dtype,
                            bias,
                            act,
                            seed,
                        })
                        .unwrap();
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn narrow_heads_match_reference_at_any_size(
        rows in 0usize..40,
        inp in 0usize..300,
        out in 1usize..=4,
        dtype in dtype(),
        bias: bool,
        relu: bool,
        seed: u64,
    ) {
        let act = if relu { Activation::Relu } else { Activation::Identity };
        let case = Case { rows, inp, out, dtype, bias, act, seed };
        check(&case).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn model_shapes_at_served_batches() {
    // The benchmarked shapes, so a bug there cannot hide behind the small-shape tests.
    let mut seed = 1000;
    let heads = [(64, 1), (32, 1), (64, 3), (80, 1)];
    for (inp, out) in [(192, 256), (256, 128), (11, 128), (80, 256)]
        .into_iter()
        .chain(heads)
    {
        for rows in [1, 16, 256] {
            for dtype in [Dtype::F32, Dtype::F16, Dtype::Bf16] {
                seed += 1;
                check(&Case {
                    rows,
                    inp,
                    out,
                    dtype,
                    bias: true,
                    act: Activation::Relu,
                    seed,
                })
                .unwrap();
            }
        }
    }
}

#[test]
fn small_k_rows_and_grouped_gemv_cover_their_tails() {
    // Small k (every instantiated depth 1..=16, and 17 just past it) streams rows in groups of
    // 8 within row blocks sized by `out`: row tails inside and across blocks, and vectors of
    // the last panel that are partly or wholly past `out`. Batches of 1-3 rows take the GEMV,
    // which runs full panels in groups of 4 (128 columns at AVX-512, 64 at AVX2) and the rest
    // one at a time: outs just under, at and past those groups.
    let mut seed = 3000;
    for inp in 1..=17 {
        for (rows, out) in [(8, 15), (9, 17), (25, 33), (100, 129), (57, 200), (3, 161)] {
            for dtype in [Dtype::F32, Dtype::Bf16] {
                seed += 1;
                check(&Case {
                    rows,
                    inp,
                    out,
                    dtype,
                    bias: seed % 3 != 0,
                    act: if seed % 2 == 0 {
                        Activation::Relu
                    } else {
                        Activation::Identity
                    },
                    seed,
                })
                .unwrap();
            }
        }
    }
    for out in [63, 64, 65, 127, 128, 129, 255, 256, 257, 288] {
        for (rows, inp) in [(1, 11), (2, 80), (3, 33)] {
            for dtype in [Dtype::F32, Dtype::F16, Dtype::Bf16] {
                seed += 1;
                check(&Case {
                    rows,
                    inp,
                    out,
                    dtype,
                    bias: true,
                    act: Activation::Relu,
                    seed,
                })
                .unwrap();
            }
        }
    }
}

#[test]
fn deep_k_runs_in_chunks() {
    // k beyond one K chunk (256): later chunks resume from y, partial tiles included, and ReLU
    // must wait for the last chunk (intermediate sums go negative and come back).
    let mut seed = 2000;
    for inp in [255, 256, 257, 511, 513, 777] {
        for (rows, out) in [(9, 33), (16, 32), (2, 7)] {
            for dtype in [Dtype::F32, Dtype::F16, Dtype::Bf16] {
                seed += 1;
                check(&Case {
                    rows,
                    inp,
                    out,
                    dtype,
                    bias: true,
                    act: Activation::Relu,
                    seed,
                })
                .unwrap();
            }
        }
    }
}

#[test]
fn packed_x_groups_cover_row_column_and_depth_tails() {
    // f32 GEMMs on 32-register ISAs run whole groups of 24 rows through the packed-X tile and the
    // rest through the 8-row tiles: rows around multiples of 24, outputs with a partly live (or
    // dead) last vector column, depths with a 4-step unroll tail and past one K chunk (256).
    let mut seed = 3000;
    for rows in [24, 25, 31, 47, 48, 49, 72, 100] {
        for inp in [17, 19, 80, 255, 257, 515] {
            for out in [16, 17, 33, 48, 129] {
                seed += 1;
                let act = if seed % 2 == 0 {
                    Activation::Relu
                } else {
                    Activation::Identity
                };
                check(&Case {
                    rows,
                    inp,
                    out,
                    dtype: Dtype::F32,
                    bias: seed % 3 != 0,
                    act,
                    seed,
                })
                .unwrap();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn packed_x_groups_match_reference_at_any_size(
        groups in 1usize..4,
        extra in 0usize..24,
        inp in 17usize..600,
        out in 1usize..100,
        relu: bool,
        seed: u64,
    ) {
        let act = if relu { Activation::Relu } else { Activation::Identity };
        let rows = groups * 24 + extra;
        let case = Case { rows, inp, out, dtype: Dtype::F32, bias: true, act, seed };
        check(&case).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn relu_keeps_nan() {
    // A NaN input must surface as NaN, not as a plausible 0.
    for &table in common::isa::tables_under_test() {
        let w = vec![1.0f32; 3 * 4];
        let layer =
            PackedLinear::new(WeightSlice::F32(&w), None, 3, 4, Activation::Relu, table).unwrap();
        for rows in [1, 9] {
            let mut x = vec![-1.0f32; rows * 4];
            x[0] = f32::NAN;
            let mut y = vec![0.0; rows * 3];
            layer.forward(&x, rows, &mut y).unwrap();
            assert!(y[..3].iter().all(|v| v.is_nan()), "{}: {y:?}", table.isa);
            assert!(y[3..].iter().all(|&v| v == 0.0), "{}: {y:?}", table.isa);
        }
    }
}

fn table() -> &'static KernelTable {
    common::isa::tables_under_test()[0]
}

fn assert_buffer_length(
    r: reckon::Result<impl std::fmt::Debug>,
    arg: &str,
    expected: usize,
    actual: usize,
) {
    match r {
        Err(Error::BufferLength {
            op: "linear",
            arg: a,
            expected: e,
            actual: got,
        }) => {
            assert_eq!((a, e, got), (arg, expected, actual))
        }
        other => panic!("expected BufferLength for {arg}, got {other:?}"),
    }
}

#[test]
fn weight_length_must_be_out_times_in() {
    let w = vec![0.0f32; 11];
    let r = PackedLinear::new(
        WeightSlice::F32(&w),
        None,
        3,
        4,
        Activation::Identity,
        table(),
    );
    assert_buffer_length(r, "weight", 12, 11);
    let mut y = [0.0; 3];
    let r = linear_reference(
        &[0.0; 4],
        1,
        WeightSlice::F32(&w),
        None,
        3,
        4,
        Activation::Identity,
        &mut y,
    );
    assert_buffer_length(r, "weight", 12, 11);
}

#[test]
fn bias_length_must_be_out() {
    let w = vec![0.0f32; 12];
    let r = PackedLinear::new(
        WeightSlice::F32(&w),
        Some(&[0.0; 4]),
        3,
        4,
        Activation::Identity,
        table(),
    );
    assert_buffer_length(r, "bias", 3, 4);
}

#[test]
fn x_and_y_lengths_are_checked() {
    let w = vec![0.0f32; 12];
    let layer = PackedLinear::new(
        WeightSlice::F32(&w),
        None,
        3,
        4,
        Activation::Identity,
        table(),
    )
    .unwrap();
    let mut y = vec![0.0; 6];
    assert_buffer_length(layer.forward(&[0.0; 7], 2, &mut y), "x", 8, 7);
    assert_buffer_length(layer.forward(&[0.0; 8], 2, &mut y[..5]), "y", 6, 5);
    assert_buffer_length(layer.forward(&[0.0; 4], 0, &mut []), "x", 0, 4);
    layer.forward(&[], 0, &mut []).unwrap();
}

/// Batch 1 takes `forward`'s inlined path on a layer that is not narrow; wrong lengths must
/// still fall through to the checked path and be reported, and no outputs must leave it as
/// nothing to do.
#[test]
fn batch_one_lengths_are_checked() {
    for &t in common::isa::tables_under_test() {
        let (inp, out) = (4, 40);
        assert!(out > t.linear.fp32.dot_max_out, "layer must not be narrow");
        let w: Vec<f32> = (0..inp * out).map(|i| (i % 7) as f32).collect();
        let layer = PackedLinear::new(
            WeightSlice::F32(&w),
            None,
            out,
            inp,
            Activation::Identity,
            t,
        )
        .unwrap();
        let mut y = vec![0.0; out + 1];
        assert_buffer_length(layer.forward(&[0.0; 3], 1, &mut y[..out]), "x", inp, 3);
        assert_buffer_length(layer.forward(&[0.0; 5], 1, &mut y[..out]), "x", inp, 5);
        assert_buffer_length(layer.forward(&[0.0; 4], 1, &mut y), "y", out, out + 1);
        assert_buffer_length(layer.forward(&[0.0; 4], 1, &mut y[..1]), "y", out, 1);
        layer.forward(&[1.0; 4], 1, &mut y[..out]).unwrap();
        let want: Vec<f32> = (0..out)
            .map(|o| w[o * inp..(o + 1) * inp].iter().sum())
            .collect();
        assert_eq!(&y[..out], &want[..], "{}", t.isa.name());
        let empty =
            PackedLinear::new(WeightSlice::F32(&[]), None, 0, inp, Activation::Relu, t).unwrap();
        empty.forward(&[0.0; 4], 1, &mut []).unwrap();
        assert_buffer_length(empty.forward(&[0.0; 4], 1, &mut y[..1]), "y", 0, 1);
    }
}

#[test]
fn overflowing_shapes_are_invalid_arguments() {
    let r = PackedLinear::new(
        WeightSlice::F32(&[]),
        None,
        usize::MAX,
        2,
        Activation::Identity,
        table(),
    );
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    let layer = PackedLinear::new(
        WeightSlice::F32(&[1.0; 2]),
        None,
        1,
        2,
        Activation::Identity,
        table(),
    )
    .unwrap();
    let r = layer.forward(&[], usize::MAX, &mut []);
    assert!(
        matches!(r, Err(Error::InvalidArgument { arg: "rows", .. })),
        "{r:?}"
    );
    // x right (no inputs), y's length overflows: reported for y, not x.
    let no_inputs = PackedLinear::new(
        WeightSlice::F32(&[]),
        Some(&[0.5, 0.5]),
        2,
        0,
        Activation::Identity,
        table(),
    )
    .unwrap();
    let r = no_inputs.forward(&[], usize::MAX, &mut []);
    match r {
        Err(Error::InvalidArgument {
            arg: "rows",
            reason,
        }) => {
            assert!(reason.contains("× 2 columns"), "{reason}")
        }
        other => panic!("expected InvalidArgument for y, got {other:?}"),
    }
}

#[test]
fn layer_reports_its_shape_and_kernels() {
    for &t in common::isa::tables_under_test() {
        let w = [0.5f32; 12];
        let layer = PackedLinear::new(
            WeightSlice::Bf16(&w.iter().map(|&v| bf16::from_f32(v)).collect::<Vec<_>>()),
            None,
            3,
            4,
            Activation::Relu,
            t,
        )
        .unwrap();
        assert_eq!((layer.in_features(), layer.out_features()), (4, 3));
        assert_eq!(layer.weight_dtype(), "BF16");
        // Three outputs: the narrow path, one kernel at every batch size.
        let dot = format!("dot_bf16_{}", t.isa);
        assert_eq!(layer.kernel_names(), (dot.as_str(), dot.as_str()));
        assert_eq!(layer.kernel_for_rows(1), dot);
        assert_eq!(layer.kernel_for_rows(64), dot);
        let w = [0.5f32; 4 * 9];
        let layer =
            PackedLinear::new(WeightSlice::F32(&w), None, 9, 4, Activation::Relu, t).unwrap();
        let (gemm, gemv) = layer.kernel_names();
        assert_eq!(gemm, format!("gemm_f32_{}", t.isa));
        assert_eq!(gemv, format!("gemv_f32_{}", t.isa));
        assert_eq!(layer.kernel_for_rows(1), gemv);
        assert_eq!(layer.kernel_for_rows(64), gemm);
    }
}

#[test]
fn forward_allocates_nothing() {
    let before = ALLOCATIONS.with(Cell::get);
    drop(std::hint::black_box(vec![1u8; 16]));
    assert!(
        ALLOCATIONS.with(Cell::get) > before,
        "the counter must see allocations"
    );
    for &table in common::isa::tables_under_test() {
        for (rows, inp, out) in [
            (1, 192, 256),
            (3, 11, 33),
            (16, 80, 129),
            (9, 600, 40),
            (300, 64, 3),
        ] {
            let w: Vec<bf16> = values(out * inp, 7)
                .iter()
                .map(|&v| bf16::from_f32(v))
                .collect();
            let wf = values(out * inp, 8);
            let x = values(rows * inp, 9);
            let mut y = vec![0.0; rows * out];
            for weights in [WeightSlice::Bf16(&w), WeightSlice::F32(&wf)] {
                let layer =
                    PackedLinear::new(weights, None, out, inp, Activation::Relu, table).unwrap();
                let before = ALLOCATIONS.with(Cell::get);
                layer.forward(&x, rows, &mut y).unwrap();
                assert_eq!(
                    ALLOCATIONS.with(Cell::get),
                    before,
                    "{} rows={rows}",
                    layer.kernel_for_rows(rows)
                );
            }
        }
    }
}

#[test]
fn packed_linear_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PackedLinear>();
}
