//! Fused dot + top-k scan against its scalar reference twin, under every ISA table.
//!
//! Two kinds of data: small integers (every score is exact in every dtype and kernel, so the
//! result must equal the reference exactly, ties and all) and random reals (the result must be
//! a valid top-k under [`SCORE_TOL_REL`]; exact when the reference's scores are well separated).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use half::{bf16, f16};
use proptest::prelude::*;
use std::sync::OnceLock;

use reckon::kernels::topk::{topk_reference, ItemDtype, PackedItems, TopK, TopkKernels};
use reckon::kernels::KernelTable;
use reckon::Error;

use common::isa::{assert_body, tables_under_test};

/// Relative score tolerance, times Σ|q_i·v_i|: f32 accumulation of ≤ 66 products in two
/// chains (γ_n ≤ 66·2^-24 ≈ 3.9e-6) plus the bf16 hi+lo query split of the `avx512_bf16`
/// kernel (2^-17 ≈ 7.6e-6); rounded up.
const SCORE_TOL_REL: f64 = 1.2e-5;

const NS: [usize; 11] = [1, 2, 15, 16, 17, 31, 33, 64, 97, 1000, 1037];
const DS: [usize; 7] = [1, 3, 15, 16, 17, 64, 65];
const DTYPES: [ItemDtype; 3] = [ItemDtype::F32, ItemDtype::F16, ItemDtype::Bf16];

// ---- allocation counter (per thread, so parallel tests do not disturb each other) ---------

struct Counting;
thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}
// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, new) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.with(|c| c.get())
}

// ---- data ------------------------------------------------------------------------------

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn real(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn int(&mut self, span: u64) -> f32 {
        (self.next() % (2 * span + 1)) as f32 - span as f32
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn rng(seed: u64) -> Rng {
    Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
}

/// Packs `data` as `dtype`; returns the index and the items as stored, widened to f32.
fn pack(
    dtype: ItemDtype,
    data: &[f32],
    n: usize,
    d: usize,
    table: &'static KernelTable,
) -> (PackedItems, Vec<f32>) {
    match dtype {
        ItemDtype::F32 => (
            PackedItems::new(data, n, d, table).expect("pack"),
            data.to_vec(),
        ),
        ItemDtype::F16 => {
            let h: Vec<f16> = data.iter().map(|&x| f16::from_f32(x)).collect();
            let w = h.iter().map(|x| x.to_f32()).collect();
            (PackedItems::new(&h, n, d, table).expect("pack"), w)
        }
        ItemDtype::Bf16 => {
            let h: Vec<bf16> = data.iter().map(|&x| bf16::from_f32(x)).collect();
            let w = h.iter().map(|x| x.to_f32()).collect();
            (PackedItems::new(&h, n, d, table).expect("pack"), w)
        }
    }
}

// ---- checks ----------------------------------------------------------------------------

/// Exact (f64) scores and their tolerances.
fn exact_scores(items: &[f32], d: usize, q: &[f32]) -> (Vec<f64>, Vec<f64>) {
    items
        .chunks_exact(d)
        .map(|row| {
            let s: f64 = row
                .iter()
                .zip(q)
                .map(|(&v, &x)| f64::from(v) * f64::from(x))
                .sum();
            let m: f64 = row
                .iter()
                .zip(q)
                .map(|(&v, &x)| (f64::from(v) * f64::from(x)).abs())
                .sum();
            (s, SCORE_TOL_REL * m)
        })
        .unzip()
}

/// `out` is a valid top-k of `items` for `q`: right length, distinct, not excluded, scores
/// close to exact and non-increasing, nothing left out that beats something kept (beyond
/// tolerance), NaN last, equal scores in index order.
fn check_valid(out: &TopK, items: &[f32], n: usize, d: usize, q: &[f32], k: usize, ex: &[u32]) {
    let (exact, tol) = exact_scores(items, d, q);
    let avail = (0..n).filter(|&i| !ex.contains(&(i as u32))).count();
    assert_eq!(out.len(), k.min(avail), "result length");
    let mut taken = vec![false; n];
    for (i, s) in out.iter() {
        let i = i as usize;
        assert!(
            i < n && !taken[i] && !ex.contains(&(i as u32)),
            "bad or repeated index {i}"
        );
        taken[i] = true;
        if exact[i].is_nan() {
            assert!(s.is_nan(), "item {i}: {s} where the exact score is NaN");
        } else {
            let err = (f64::from(s) - exact[i]).abs();
            assert!(
                err <= tol[i],
                "item {i}: score {s} vs exact {} (tol {})",
                exact[i],
                tol[i]
            );
        }
    }
    for w in out.scores().windows(2).zip(out.indices().windows(2)) {
        let ((a, b), (ia, ib)) = ((w.0[0], w.0[1]), (w.1[0], w.1[1]));
        assert!(
            a >= b || b.is_nan(),
            "scores not non-increasing: {a} then {b}"
        );
        assert!(!a.is_nan() || b.is_nan(), "a number after NaN");
        if a == b {
            assert!(ia < ib, "tie {a} not in index order: {ia} then {ib}");
        }
    }
    let kept_has_nan = out.scores().iter().any(|s| s.is_nan());
    let worst_kept = out
        .indices()
        .iter()
        .filter(|&&i| !exact[i as usize].is_nan())
        .map(|&i| exact[i as usize] + tol[i as usize])
        .fold(f64::INFINITY, f64::min);
    for j in (0..n).filter(|&j| !taken[j] && !ex.contains(&(j as u32))) {
        if exact[j].is_nan() {
            continue;
        }
        assert!(
            !kept_has_nan,
            "NaN kept while item {j} ({}) was left out",
            exact[j]
        );
        assert!(
            exact[j] - tol[j] <= worst_kept,
            "item {j} ({}) left out but beats a kept item ({worst_kept})",
            exact[j]
        );
    }
}

/// The reference's result, when its scores are well separated (so any correct kernel must
/// return exactly it), else `None`.
fn separated_reference(
    items: &[f32],
    n: usize,
    d: usize,
    q: &[f32],
    k: usize,
    ex: &[u32],
) -> Option<(Vec<u32>, Vec<f32>)> {
    let (_, tol) = exact_scores(items, d, q);
    let (idx, sc) = topk_reference(items, n, d, q, (k + 1).min(n), ex);
    for w in idx.windows(2).zip(sc.windows(2)) {
        let gap = f64::from(w.1[0]) - f64::from(w.1[1]);
        if gap.is_nan() || gap <= 2.0 * (tol[w.0[0] as usize] + tol[w.0[1] as usize]) {
            return None;
        }
    }
    let keep = k.min(idx.len());
    Some((idx[..keep].to_vec(), sc[..keep].to_vec()))
}

/// Every table under test, once per single-query body it can run for `dtype` (the bf16 body
/// the table did not choose is swapped into a copy), so no body goes untested.
fn variant_tables(dtype: ItemDtype) -> &'static [&'static KernelTable] {
    static CACHE: OnceLock<[Vec<&'static KernelTable>; 3]> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        DTYPES.map(|dtype| {
            let mut out = Vec::new();
            for &table in tables_under_test() {
                for variant in TopkKernels::scan_variants(table.isa, dtype) {
                    assert_body(table, &variant, true);
                    let mut t = table.clone();
                    match dtype {
                        ItemDtype::F32 => t.topk.scan_f32 = variant,
                        ItemDtype::F16 => t.topk.scan_f16 = variant,
                        ItemDtype::Bf16 => t.topk.scan_bf16 = variant,
                    }
                    out.push(&*Box::leak(Box::new(t)));
                }
            }
            out
        })
    });
    &all[DTYPES
        .iter()
        .position(|&d| d == dtype)
        .expect("known dtype")]
}

fn ks(n: usize) -> [usize; 3] {
    [1, (n / 2).max(1), n]
}

fn check_entries(table: &KernelTable) {
    let t = &table.topk;
    for e in [&t.scan_f32, &t.scan_f16, &t.scan_bf16, &t.screen_i8] {
        assert_body(table, e, true);
    }
    for e in [&t.batch_f32, &t.batch_f16, &t.batch_bf16] {
        assert_body(table, e, true);
    }
}

/// Scores of integer data are exact everywhere: the kernel must equal the reference exactly.
fn exact_case(table: &'static KernelTable, dtype: ItemDtype, n: usize, d: usize, seed: u64) {
    let mut r = rng(seed);
    let data: Vec<f32> = (0..n * d).map(|_| r.int(3)).collect();
    let q: Vec<f32> = (0..d).map(|_| r.int(4)).collect();
    let (packed, items) = pack(dtype, &data, n, d, table);
    let mut out = TopK::new();
    for k in ks(n) {
        packed.search(&q, k, &mut out).expect("search");
        let (idx, sc) = topk_reference(&items, n, d, &q, k, &[]);
        let ctx = format!("{} {dtype:?} n={n} d={d} k={k}", table.isa);
        assert_eq!(out.indices(), &idx[..], "{ctx}");
        assert_eq!(out.scores(), &sc[..], "{ctx}");
    }
}

/// Random reals: valid top-k, and exact when separated.
fn real_case(table: &'static KernelTable, dtype: ItemDtype, n: usize, d: usize, seed: u64) {
    let mut r = rng(seed);
    let data: Vec<f32> = (0..n * d).map(|_| r.real()).collect();
    let q: Vec<f32> = (0..d).map(|_| r.real()).collect();
    let (packed, items) = pack(dtype, &data, n, d, table);
    let mut out = TopK::new();
    for k in ks(n) {
        packed.search(&q, k, &mut out).expect("search");
        check_valid(&out, &items, n, d, &q, k, &[]);
        if let Some((idx, _)) = separated_reference(&items, n, d, &q, k, &[]) {
            assert_eq!(
                out.indices(),
                &idx[..],
                "{} {dtype:?} n={n} d={d} k={k}",
                table.isa
            );
        }
    }
}

#[test]
fn every_table_has_its_own_scan_bodies() {
    for &table in tables_under_test() {
        check_entries(table);
    }
}

#[test]
fn all_shapes_exact_data_match_reference_exactly() {
    for dtype in DTYPES {
        for &table in variant_tables(dtype) {
            for n in NS {
                for d in DS {
                    exact_case(table, dtype, n, d, (n * 131 + d) as u64);
                }
            }
        }
    }
}

#[test]
fn all_shapes_real_data_give_valid_topk() {
    for dtype in DTYPES {
        for &table in variant_tables(dtype) {
            for n in NS {
                for d in DS {
                    real_case(table, dtype, n, d, (n * 977 + d) as u64);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn prop_random_shapes_match_reference(
        n in prop::sample::select(NS.to_vec()),
        d in prop::sample::select(DS.to_vec()),
        seed in any::<u64>(),
    ) {
        for dtype in DTYPES {
            for &table in variant_tables(dtype) {
                exact_case(table, dtype, n, d, seed);
                real_case(table, dtype, n, d, seed);
            }
        }
    }

    #[test]
    fn prop_exclusions_and_nan_items(
        n in prop::sample::select(NS.to_vec()),
        d in prop::sample::select(DS.to_vec()),
        seed in any::<u64>(),
    ) {
        let mut r = rng(seed);
        let mut data: Vec<f32> = (0..n * d).map(|_| r.real()).collect();
        for _ in 0..(n / 7).max(1) {
            data[r.below(n) * d + r.below(d)] = f32::NAN;
        }
        let mut ex: Vec<u32> = (0..n / 3).map(|_| r.below(n + 5) as u32).collect();
        ex.sort_unstable();
        let q: Vec<f32> = (0..d).map(|_| r.real()).collect();
        for dtype in DTYPES {
            for &table in variant_tables(dtype) {
                let (packed, items) = pack(dtype, &data, n, d, table);
                let mut out = TopK::new();
                for k in ks(n) {
                    packed.search_excluding(&q, k, &ex, &mut out).expect("search");
                    check_valid(&out, &items, n, d, &q, k, &ex);
                }
            }
        }
    }

    #[test]
    fn prop_batches_match_single_searches(
        n in prop::sample::select(NS.to_vec()),
        // 256 and 257 dimensions: the last width the AVX-512 packed-query tile takes, and
        // the first that falls back to the unpacked one.
        d in prop::sample::select([&DS[..], &[256, 257]].concat()),
        // Query tiles of 12 with a short last tile of 4, 8 or 12 (1, 3, 5, 12, 17 = 12 + 5,
        // 23 = 12 + 11).
        nq in prop::sample::select(vec![1usize, 3, 5, 12, 17, 23]),
        seed in any::<u64>(),
    ) {
        let mut r = rng(seed);
        let data: Vec<f32> = (0..n * d).map(|_| r.real()).collect();
        let queries: Vec<f32> = (0..nq * d).map(|_| r.real()).collect();
        let exes: Vec<Vec<u32>> = (0..nq)
            .map(|j| (0..n as u32).filter(|i| (i + j as u32).is_multiple_of(5)).collect())
            .collect();
        let ex_refs: Vec<&[u32]> = exes.iter().map(|e| e.as_slice()).collect();
        for &table in tables_under_test() {
            for dtype in DTYPES {
                let (packed, items) = pack(dtype, &data, n, d, table);
                // The batch body and the widening single-query bodies share one op order.
                let same_order = !table.topk.scan(dtype).name.contains("bf16dot");
                for k in ks(n) {
                    let mut outs = vec![TopK::new(); nq];
                    packed.search_batch(&queries, nq, k, &mut outs).expect("batch");
                    let mut one = TopK::new();
                    for (j, out) in outs.iter().enumerate() {
                        let q = &queries[j * d..(j + 1) * d];
                        check_valid(out, &items, n, d, q, k, &[]);
                        packed.search(q, k, &mut one).expect("search");
                        if same_order {
                            prop_assert_eq!(out.indices(), one.indices());
                            prop_assert_eq!(out.scores(), one.scores());
                        }
                    }
                    packed.search_batch_excluding(&queries, nq, k, &ex_refs, &mut outs)
                        .expect("batch");
                    for (j, out) in outs.iter().enumerate() {
                        check_valid(out, &items, n, d, &queries[j * d..(j + 1) * d], k, &exes[j]);
                    }
                }
            }
        }
    }
}

/// Item data that stresses the f32 planes' error bound (`PackedItems::new_f32_planes`).
fn planes_data(kind: u8, n: usize, d: usize, r: &mut Rng) -> Vec<f32> {
    match kind {
        // Coarse integers: many exactly tied scores.
        0 => (0..n * d).map(|_| r.int(3)).collect(),
        // Near-duplicates: rows sharing one high plane that differ only in their low bits,
        // so every one of them scores the same in the approximate pass.
        1 => {
            let bases: Vec<f32> = (0..4 * d).map(|_| r.real()).collect();
            (0..n * d)
                .map(|i| {
                    let b = bases[(i / d) % 4 * d + i % d].to_bits() & 0xffff_0000;
                    f32::from_bits(b | (r.next() as u32 & 0xffff))
                })
                .collect()
        }
        // Rows whose norms span 2^±40.
        2 => {
            let scales: Vec<f32> = (0..n).map(|_| 2f32.powi(r.below(81) as i32 - 40)).collect();
            (0..n * d).map(|i| r.real() * scales[i / d]).collect()
        }
        // Subnormal values.
        3 => (0..n * d).map(|_| r.real() * 2f32.powi(-130)).collect(),
        _ => (0..n * d).map(|_| r.real()).collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Every exact variant returns what its plain layout returns, bit for bit (indices,
    /// score bits, tie order) for single searches, exclusions, split calls and batches: f32
    /// planes, screened f32 planes, screened plain f32, screened f16 and bf16. Includes the
    /// queries with no error bound (non-finite or overflowing), which bypass the screen and
    /// rescore every item of the planes.
    #[test]
    fn prop_exact_variants_equal_plain_bit_for_bit(
        n in prop::sample::select(NS.to_vec()),
        d in prop::sample::select(DS.to_vec()),
        kind in 0u8..5,
        seed in any::<u64>(),
    ) {
        let mut r = rng(seed);
        let data = planes_data(kind, n, d, &mut r);
        let nq = 5;
        let mut queries: Vec<f32> = (0..nq * d).map(|_| r.real()).collect();
        queries[d] = f32::MAX; // overflow risk: no bound
        queries[2 * d] = f32::NAN; // no bound
        queries[3 * d..4 * d].fill(0.0);
        let mut ex: Vec<u32> = (0..n / 4).map(|_| r.below(n + 3) as u32).collect();
        ex.sort_unstable();
        let data16: Vec<f16> = data.iter().map(|&x| f16::from_f32(x)).collect();
        let datab16: Vec<bf16> = data.iter().map(|&x| bf16::from_f32(x)).collect();
        let bits = |t: &TopK| -> Vec<u32> { t.scores().iter().map(|s| s.to_bits()).collect() };
        for &table in tables_under_test() {
            let screened = |p: PackedItems| p.screened().expect("screen");
            let plain = PackedItems::new(&data, n, d, table).expect("pack");
            let planes = PackedItems::new_f32_planes(&data, n, d, table).expect("pack");
            prop_assert!(planes.has_planes());
            prop_assert_eq!(planes.packed_bytes() * 2, plain.packed_bytes());
            let plain16 = PackedItems::new(&data16, n, d, table).expect("pack");
            let plainb16 = PackedItems::new(&datab16, n, d, table).expect("pack");
            let cases = [
                ("f32 planes", &plain, PackedItems::new_f32_planes(&data, n, d, table).expect("pack")),
                ("screened f32 planes", &plain, screened(planes)),
                ("screened f32", &plain, screened(PackedItems::new(&data, n, d, table).expect("pack"))),
                ("screened f16", &plain16, screened(PackedItems::new(&data16, n, d, table).expect("pack"))),
                ("screened bf16", &plainb16, screened(PackedItems::new(&datab16, n, d, table).expect("pack"))),
            ];
            for (name, plain, exact) in &cases {
                // A screen is skipped only for non-finite items (f16 overflows at 2^16).
                let finite16 = data16.iter().all(|x| x.is_finite());
                if name.starts_with("screened") && (*name != "screened f16" || finite16) {
                    prop_assert!(exact.has_screen(), "{}", name);
                }
                let (mut a, mut b) = (TopK::new(), TopK::new());
                let mut helpers = vec![TopK::new(); 2];
                for k in ks(n) {
                    for q in queries.chunks_exact(d) {
                        for exclude in [&[][..], &ex[..]] {
                            plain.search_excluding(q, k, exclude, &mut a).expect("plain");
                            exact.search_excluding(q, k, exclude, &mut b).expect("variant");
                            let ctx = format!("{name} {} kind {kind} n={n} d={d} k={k}", table.isa);
                            prop_assert_eq!(a.indices(), b.indices(), "{}", ctx);
                            prop_assert_eq!(bits(&a), bits(&b), "{}", ctx);
                            exact
                                .search_excluding_split(q, k, exclude, &mut b, &mut helpers)
                                .expect("split");
                            prop_assert_eq!(a.indices(), b.indices(), "split {}", ctx);
                        }
                    }
                    let mut outs_a = vec![TopK::new(); nq];
                    let mut outs_b = vec![TopK::new(); nq];
                    plain.search_batch(&queries, nq, k, &mut outs_a).expect("batch");
                    exact.search_batch(&queries, nq, k, &mut outs_b).expect("batch");
                    for (x, y) in outs_a.iter().zip(&outs_b) {
                        prop_assert_eq!(x.indices(), y.indices(), "batch {} {} k={}", name, table.isa, k);
                        prop_assert_eq!(bits(x), bits(y));
                    }
                }
            }
        }
    }
}

#[test]
fn f32_planes_are_exact_across_rescore_chunks() {
    // Over 4096 candidates are rescored in several gathered matrices: near-duplicate rows
    // make every item a candidate.
    let (n, d) = (9001, 8);
    let mut r = rng(5);
    let data = planes_data(1, n, d, &mut r);
    let q: Vec<f32> = (0..d).map(|_| r.real()).collect();
    for &table in tables_under_test() {
        let plain = PackedItems::new(&data, n, d, table).expect("pack");
        let planes = PackedItems::new_f32_planes(&data, n, d, table).expect("pack");
        let (mut a, mut b) = (TopK::new(), TopK::new());
        for k in [1, 100, 5000, n] {
            plain.search(&q, k, &mut a).expect("plain");
            planes.search(&q, k, &mut b).expect("planes");
            assert_eq!(a.indices(), b.indices(), "{} k={k}", table.isa);
            assert_eq!(a.scores(), b.scores());
        }
    }
}

#[test]
fn batches_spanning_several_l2_chunks_match_single_searches() {
    // The batch body walks the items in 256 KiB chunks (1024 items at d = 64 in f32, 2048 in
    // 16 bits): 9001 items cross several chunk edges, with a partial last group.
    let (n, nq, k) = (9001, 13, 50);
    for d in [17, 64] {
        let mut r = rng(d as u64);
        let data: Vec<f32> = (0..n * d).map(|_| r.real()).collect();
        let queries: Vec<f32> = (0..nq * d).map(|_| r.real()).collect();
        for &table in tables_under_test() {
            for dtype in DTYPES {
                let (packed, items) = pack(dtype, &data, n, d, table);
                let same_order = !table.topk.scan(dtype).name.contains("bf16dot");
                let mut outs = vec![TopK::new(); nq];
                packed
                    .search_batch(&queries, nq, k, &mut outs)
                    .expect("batch");
                let mut one = TopK::new();
                for (j, out) in outs.iter().enumerate() {
                    let q = &queries[j * d..(j + 1) * d];
                    check_valid(out, &items, n, d, q, k, &[]);
                    packed.search(q, k, &mut one).expect("search");
                    if same_order {
                        assert_eq!(
                            out.indices(),
                            one.indices(),
                            "{} {dtype:?} d={d}",
                            table.isa
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn index_and_results_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<PackedItems>();
    send_sync::<TopK>();
}

#[test]
fn duplicated_rows_keep_the_lower_index() {
    let (n, d) = (200, 17);
    let mut r = rng(7);
    let mut data: Vec<f32> = (0..n * d).map(|_| r.real()).collect();
    // Copies in both directions and across block and group boundaries.
    for (from, to) in [(5, 150), (150, 151), (63, 64), (15, 16), (199, 3), (100, 0)] {
        let row = data[from * d..(from + 1) * d].to_vec();
        data[to * d..(to + 1) * d].copy_from_slice(&row);
    }
    let q: Vec<f32> = (0..d).map(|_| r.real()).collect();
    for dtype in DTYPES {
        for &table in variant_tables(dtype) {
            let (packed, items) = pack(dtype, &data, n, d, table);
            let mut out = TopK::new();
            for k in 1..=n {
                packed.search(&q, k, &mut out).expect("search");
                check_valid(&out, &items, n, d, &q, k, &[]);
                let pos = |i: u32| out.indices().iter().position(|&x| x == i);
                for (a, b) in [(5, 150), (150, 151), (63, 64), (15, 16), (3, 199), (0, 100)] {
                    if let Some(pb) = pos(b) {
                        let pa = pos(a).unwrap_or_else(|| panic!("{b} kept without twin {a}"));
                        assert!(
                            pa < pb,
                            "twin {a} after {b} ({} {dtype:?} k={k})",
                            table.isa
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn nan_scores_rank_last() {
    // Items 0..4 scores: NaN, 2, -inf, NaN, 1 (query [1]).
    let data = [f32::NAN, 2.0, f32::NEG_INFINITY, f32::NAN, 1.0];
    for &table in tables_under_test() {
        let packed = PackedItems::new(&data[..], 5, 1, table).expect("pack");
        let mut out = TopK::new();
        packed.search(&[1.0], 5, &mut out).expect("search");
        assert_eq!(out.indices(), &[1, 4, 2, 0, 3]);
        packed.search(&[1.0], 3, &mut out).expect("search");
        assert_eq!(out.indices(), &[1, 4, 2]);
        packed
            .search_excluding(&[1.0], 3, &[1, 2], &mut out)
            .expect("search");
        assert_eq!(out.indices(), &[4, 0, 3]);
    }
}

#[test]
fn warmed_up_searches_do_not_allocate() {
    let (n, d, nq, k) = (500, 33, 7, 20);
    let mut r = rng(3);
    let data: Vec<f32> = (0..n * d).map(|_| r.real()).collect();
    let queries: Vec<f32> = (0..nq * d).map(|_| r.real()).collect();
    let ex: Vec<u32> = vec![1, 2, 40];
    let excludes: Vec<&[u32]> = vec![&ex[..]; nq];
    for &table in tables_under_test() {
        for dtype in DTYPES {
            let (packed, _) = pack(dtype, &data, n, d, table);
            let mut one = TopK::new();
            let mut outs = vec![TopK::new(); nq];
            for round in 0..2 {
                let before = allocs();
                packed
                    .search_excluding(&queries[..d], k, &ex, &mut one)
                    .expect("search");
                packed
                    .search_batch_excluding(&queries, nq, k, &excludes, &mut outs)
                    .expect("batch");
                if round == 1 {
                    assert_eq!(allocs(), before, "{} {dtype:?} allocated", table.isa);
                }
            }
        }
    }
}

#[test]
fn bad_arguments_are_errors() {
    let table = tables_under_test()[0];
    let data = vec![0.5f32; 10 * 4];
    let p = PackedItems::new(&data, 10, 4, table).expect("pack");
    let mut out = TopK::new();
    let q = [1.0f32; 4];
    let invalid = |r: reckon::Result<()>, which: &str| match r {
        Err(Error::InvalidArgument { arg, .. }) => assert_eq!(arg, which),
        other => panic!("expected InvalidArgument({which}), got {other:?}"),
    };
    let length = |r: reckon::Result<()>, which: &str| match r {
        Err(Error::BufferLength { arg, .. }) => assert_eq!(arg, which),
        other => panic!("expected BufferLength({which}), got {other:?}"),
    };
    invalid(p.search(&q, 0, &mut out), "k");
    invalid(p.search(&q, 11, &mut out), "k");
    length(p.search(&q[..3], 1, &mut out), "query");
    invalid(p.search_excluding(&q, 1, &[4, 2], &mut out), "exclude");
    let mut outs = vec![TopK::new(); 2];
    length(p.search_batch(&[1.0; 8], 2, 1, &mut outs[..1]), "outs");
    length(p.search_batch(&[1.0; 7], 2, 1, &mut outs), "queries");
    invalid(p.search_batch(&[1.0; 8], 2, 0, &mut outs), "k");
    length(
        p.search_batch_excluding(&[1.0; 8], 2, 1, &[&[]], &mut outs),
        "excludes",
    );
    p.search_batch(&[], 0, 1, &mut [])
        .expect("an empty batch is fine");
    let empty = PackedItems::new(&[] as &[f32], 0, 4, table).expect("n = 0 packs");
    invalid(empty.search(&q, 1, &mut out), "k");
    match PackedItems::new(&data, 10, 5, table) {
        Err(Error::BufferLength { arg: "items", .. }) => {}
        other => panic!("expected BufferLength(items), got {other:?}"),
    }
    match PackedItems::new(&[] as &[f32], 3, 0, table) {
        Err(Error::InvalidArgument { arg: "d", .. }) => {}
        other => panic!("expected InvalidArgument(d), got {other:?}"),
    }
}
