//! Gather, bag-sum, gather+FM, FM, L2-normalise, sigmoid and softmax: every entry of every level
//! under test against its reference twin, over awkward shapes and extreme values, plus the error
//! paths (each of which must leave the output untouched).

mod common;

use common::isa::{assert_body, tables_under_test};
use half::{bf16, f16};
use proptest::prelude::*;
use proptest::sample::select;
use reckon::kernels::elementwise::*;
use reckon::kernels::KernelTable;
use reckon::Error;

#[path = "kernels_elementwise/activations.rs"]
mod activations;
#[path = "kernels_elementwise/fm.rs"]
mod fm;

const DIMS: [usize; 10] = [1, 3, 7, 8, 9, 15, 16, 17, 64, 65];
const FIELDS: [usize; 4] = [1, 2, 10, 26];
/// f32 unit roundoff u = 2^-24; error bounds below are counted in u.
const U: f64 = f32::EPSILON as f64 / 2.0;
/// Absolute floor for results in the subnormal range, where relative error is meaningless: two
/// roundings (the last scaling of exp, then the final multiply) of at most half a subnormal ulp.
const SUBNORMAL_ABS: f64 = 2.0 * 1.401_298_5e-45;

/// Batch sizes: the named awkward ones, or anything up to 40.
fn batch() -> impl Strategy<Value = usize> {
    prop_oneof![select(vec![0usize, 1, 2, 17]), 0usize..40]
}

/// Finite values with the extremes mixed in: ±1e30, subnormals, signed zeros, the f32 maximum.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => -10.0f32..10.0,
        1 => select(vec![1e30f32, -1e30, 1e-40, -1e-40, 1e-45, f32::MIN_POSITIVE, 0.0, -0.0, f32::MAX]),
    ]
}

/// Values whose FM squares stay finite in f32 (F·|e| squared < f32::MAX), so the oracle applies.
fn fm_value() -> impl Strategy<Value = f32> {
    prop_oneof![8 => -10.0f32..10.0, 1 => select(vec![1e15f32, -1e15, 1e-40, -1e-40, 0.0, -0.0])]
}

/// Element types built from raw bits, so every f16/bf16 pattern (subnormal, inf, NaN) is covered.
trait TestElem: Elem + std::fmt::Debug {
    fn from_bits32(bits: u32) -> Self;
    /// Nearest value, clamped to the type's finite range.
    fn from_f32(v: f32) -> Self;
}
impl TestElem for f32 {
    fn from_bits32(bits: u32) -> Self {
        f32::from_bits(bits)
    }
    fn from_f32(v: f32) -> Self {
        v
    }
}
impl TestElem for f16 {
    fn from_bits32(bits: u32) -> Self {
        f16::from_bits(bits as u16)
    }
    fn from_f32(v: f32) -> Self {
        f16::from_f32(v.clamp(-65504.0, 65504.0))
    }
}
impl TestElem for bf16 {
    fn from_bits32(bits: u32) -> Self {
        bf16::from_bits(bits as u16)
    }
    fn from_f32(v: f32) -> Self {
        bf16::from_f32(v.clamp(-3.38e38, 3.38e38))
    }
}

/// Bit-identical, or both NaN (conversions may quiet a signalling NaN).
fn same(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

/// `|got - want| <= rel·|want| + SUBNORMAL_ABS`, NaN only where the reference has NaN.
fn close(got: f32, want: f32, rel: f64) -> bool {
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    if want.is_infinite() || got.is_infinite() {
        return want == got;
    }
    (got as f64 - want as f64).abs() <= rel * (want as f64).abs() + SUBNORMAL_ABS
}

fn hot<F: Copy>(t: &KernelTable, k: &reckon::kernels::Kernel<F>, op: &str, dtype: &str) {
    assert_body(t, k, true);
    assert_eq!(k.name, format!("{op}_{dtype}_{}", k.isa), "entry name");
}

// ---- gather -------------------------------------------------------------------------------

fn check_gather<T: TestElem>(
    bits: &[u32],
    dim: usize,
    ids: &[i64],
    stride_pad: usize,
    offset: usize,
) {
    let data: Vec<T> = bits.iter().map(|&b| T::from_bits32(b)).collect();
    let view = EmbeddingView::new("t", &data, dim).expect("view");
    let layout = OutLayout {
        stride: dim + stride_pad,
        offset,
    };
    let len = ids.len() * layout.stride;
    let mut want = vec![-7.5f32; len];
    gather_ref(view, ids, &mut want, layout).expect("reference");
    for t in tables_under_test() {
        let k = T::gather(&t.elementwise);
        hot(t, &k, "gather", T::DTYPE);
        let mut got = vec![-7.5f32; len];
        (k.f)(view, ids, &mut got, layout).expect("kernel");
        assert!(
            same(&got, &want),
            "{}: dim {dim} ids {ids:?} {layout:?}",
            k.name
        );
    }
}

prop_compose! {
    /// (table bits, dim, ids, stride padding, offset within the padding).
    fn gather_case()(dim in select(DIMS.to_vec()), rows in 1usize..40, n in batch(), pad in 0usize..4)
        (bits in prop::collection::vec(any::<u32>(), rows * dim),
         ids in prop::collection::vec(0..rows as i64, n),
         offset in 0..=pad, dim in Just(dim), pad in Just(pad)) -> (Vec<u32>, usize, Vec<i64>, usize, usize) {
        (bits, dim, ids, pad, offset)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn gather_f32_matches_reference((bits, dim, ids, pad, off) in gather_case()) {
        check_gather::<f32>(&bits, dim, &ids, pad, off);
    }

    #[test]
    fn gather_f16_matches_reference((bits, dim, ids, pad, off) in gather_case()) {
        check_gather::<f16>(&bits, dim, &ids, pad, off);
    }

    #[test]
    fn gather_bf16_matches_reference((bits, dim, ids, pad, off) in gather_case()) {
        check_gather::<bf16>(&bits, dim, &ids, pad, off);
    }
}

#[test]
fn gather_copies_extreme_values_exactly() {
    let vals = [
        1e30f32,
        -1e30,
        1e-40,
        -1e-45,
        f32::MIN_POSITIVE,
        -0.0,
        f32::MAX,
        f32::INFINITY,
        88.7,
    ];
    let bits: Vec<u32> = (0..17 * 9)
        .map(|i| vals[i % vals.len()].to_bits())
        .collect();
    check_gather::<f32>(&bits, 17, &[8, 0, 3, 3, 8], 0, 0);
    let half_bits: Vec<u32> = vec![
        0x0001, 0x8001, 0x03ff, 0x7bff, 0xfbff, 0x7c00, 0x0400, 0x3c00, 0x7f7f,
    ];
    check_gather::<f16>(&half_bits, 3, &[2, 0, 1], 1, 1);
    check_gather::<bf16>(&half_bits, 9, &[0, 0], 0, 0);
}

/// Runs `call` against a sentinel-filled output under every level; asserts it fails with an error
/// `matches` accepts and leaves the output untouched.
fn assert_rejects(
    len: usize,
    call: impl Fn(&KernelTable, &mut [f32]) -> reckon::Result<()>,
    matches: impl Fn(&Error) -> bool,
) {
    for t in tables_under_test() {
        let mut out = vec![3.25f32; len];
        let err = call(t, &mut out).expect_err("must fail");
        assert!(matches(&err), "{}: unexpected error {err:?}", t.isa);
        assert!(
            out.iter().all(|&v| v == 3.25),
            "{}: output written before the error",
            t.isa
        );
    }
}

#[test]
fn gather_rejects_bad_ids_and_layouts_before_writing() {
    let data: Vec<f32> = (0..5 * 4).map(|i| i as f32).collect();
    let view = EmbeddingView::new("user_embedding.weight", &data, 4).expect("view");
    let lay = OutLayout::contiguous(4);
    for bad in [-1i64, 5, 6, i64::MAX, i64::MIN] {
        let ids = [0, 1, bad, 2];
        assert_rejects(
            16,
            |t, out| (t.elementwise.gather_f32.f)(view, &ids, out, lay),
            |e| matches!(e, Error::IdOutOfRange { table, id, rows: 5 } if table == "user_embedding.weight" && *id == bad),
        );
    }
    // Output one element short of 3 rows.
    assert_rejects(
        11,
        |t, out| (t.elementwise.gather_f32.f)(view, &[0, 1, 2], out, lay),
        |e| {
            matches!(
                e,
                Error::BufferLength {
                    op: "gather",
                    arg: "out",
                    expected: 12,
                    actual: 11
                }
            )
        },
    );
    // Row would spill past its stride, and overflowing layouts.
    for layout in [
        OutLayout {
            stride: 6,
            offset: 3,
        },
        OutLayout {
            stride: usize::MAX,
            offset: usize::MAX,
        },
    ] {
        assert_rejects(
            64,
            |t, out| (t.elementwise.gather_f32.f)(view, &[0], out, layout),
            |e| {
                matches!(
                    e,
                    Error::InvalidArgument {
                        arg: "out_layout",
                        ..
                    }
                )
            },
        );
    }
    assert_rejects(
        64,
        |t, out| {
            (t.elementwise.gather_f32.f)(
                view,
                &[0, 1],
                out,
                OutLayout {
                    stride: usize::MAX / 2,
                    offset: 0,
                },
            )
        },
        |e| matches!(e, Error::BufferLength { .. }),
    );
    // An empty id list writes nothing and succeeds, even into an empty output.
    for t in tables_under_test() {
        (t.elementwise.gather_f32.f)(view, &[], &mut [], lay).expect("empty gather");
    }
}

#[test]
fn embedding_view_rejects_bad_shapes() {
    let data = [0.0f32; 10];
    assert!(matches!(
        EmbeddingView::new("e", &data, 0),
        Err(Error::InvalidArgument { arg: "dim", .. })
    ));
    assert!(
        matches!(EmbeddingView::new("e", &data, 3), Err(Error::WrongShape { tensor, .. }) if tensor == "e")
    );
    let v = EmbeddingView::new("e", &data, 5).expect("view");
    assert_eq!((v.rows(), v.dim(), v.name()), (2, 5, "e"));
    // The known-shape constructor agrees, and refuses any shape that does not cover the data
    // exactly (including a product that overflows).
    let w = EmbeddingView::with_shape("e", &data, 2, 5).expect("view");
    assert_eq!((w.rows(), w.dim(), w.data().len()), (2, 5, 10));
    for (rows, dim) in [(2, 0), (3, 5), (1, 5), (usize::MAX, 2)] {
        assert!(
            matches!(EmbeddingView::with_shape("e", &data, rows, dim), Err(Error::WrongShape { tensor, .. }) if tensor == "e"),
            "[{rows}, {dim}] accepted"
        );
    }
    let empty = EmbeddingView::<f32>::new("e", &[], 4).expect("zero rows is a valid table");
    assert_rejects(
        4,
        |t, out| (t.elementwise.gather_f32.f)(empty, &[0], out, OutLayout::contiguous(4)),
        |e| matches!(e, Error::IdOutOfRange { id: 0, rows: 0, .. }),
    );
}

// ---- bag sum ------------------------------------------------------------------------------

fn check_bag<T: TestElem>(vals: &[f32], dim: usize, ids: &[i64], offsets: &[usize]) {
    let data: Vec<T> = vals.iter().map(|&v| T::from_f32(v)).collect();
    let view = EmbeddingView::new("bag", &data, dim).expect("view");
    let bags = offsets.len() - 1;
    let mut want = vec![0.0f32; bags * dim];
    bag_sum_ref(view, ids, offsets, &mut want).expect("reference");
    for t in tables_under_test() {
        let k = T::bag_sum(&t.elementwise);
        hot(t, &k, "bag_sum", T::DTYPE);
        let mut got = vec![9.0f32; bags * dim];
        (k.f)(view, ids, offsets, &mut got).expect("kernel");
        // Same additions in the same order per lane: bit-identical.
        assert!(
            same(&got, &want),
            "{}: dim {dim} offsets {offsets:?}",
            k.name
        );
    }
}

prop_compose! {
    /// (table values, dim, ids, offsets) with empty bags allowed.
    fn bag_case()(dim in select(DIMS.to_vec()), rows in 1usize..30, sizes in prop::collection::vec(0usize..6, 0..18))
        (vals in prop::collection::vec(value(), rows * dim),
         ids in prop::collection::vec(0..rows as i64, sizes.iter().sum::<usize>()),
         dim in Just(dim), sizes in Just(sizes)) -> (Vec<f32>, usize, Vec<i64>, Vec<usize>) {
        let offsets = std::iter::once(0).chain(sizes.iter().scan(0, |acc, s| { *acc += s; Some(*acc) })).collect();
        (vals, dim, ids, offsets)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn bag_sum_matches_reference((vals, dim, ids, offsets) in bag_case()) {
        check_bag::<f32>(&vals, dim, &ids, &offsets);
        check_bag::<f16>(&vals, dim, &ids, &offsets);
        check_bag::<bf16>(&vals, dim, &ids, &offsets);
    }
}

#[test]
fn bag_sum_rejects_bad_offsets_and_ids() {
    let data: Vec<f32> = (0..4 * 3).map(|i| i as f32).collect();
    let view = EmbeddingView::new("bags", &data, 3).expect("view");
    let ids = [0i64, 1, 2, 3];
    for offsets in [&[][..], &[1, 4], &[0, 3], &[0, 3, 2, 4], &[0, 5]] {
        assert_rejects(
            9,
            |t, out| {
                (t.elementwise.bag_sum_f32.f)(
                    view,
                    &ids,
                    offsets,
                    &mut out[..(offsets.len().max(1) - 1) * 3],
                )
            },
            |e| matches!(e, Error::InvalidArgument { arg: "offsets", .. }),
        );
    }
    assert_rejects(
        5,
        |t, out| (t.elementwise.bag_sum_f32.f)(view, &ids, &[0, 2, 4], out),
        |e| {
            matches!(
                e,
                Error::BufferLength {
                    op: "bag_sum",
                    arg: "out",
                    expected: 6,
                    actual: 5
                }
            )
        },
    );
    assert_rejects(
        6,
        |t, out| (t.elementwise.bag_sum_f32.f)(view, &[0, 4], &[0, 1, 2], out),
        |e| matches!(e, Error::IdOutOfRange { id: 4, rows: 4, .. }),
    );
}
