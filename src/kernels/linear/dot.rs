//! The narrow-output path: layers with a few outputs (model heads, `in → 1` or `in → 3`).
//!
//! Padding such a layer to a GEMM panel of 32 columns would do 32× the useful work, so instead
//! each output is a dot product of the input row with one weight row, SIMD over `in`. `R` rows
//! run at once against the same `OUT` weight vectors: the weights are loaded (and widened) once
//! per `R` rows, and the `R · OUT` accumulators are independent FMA chains.
//!
//! Layout ("dot rows"): `out` rows of `in` weights, each zero-padded to whole blocks of
//! `KSTEP · LANES`. For bf16 (`KSTEP = 2`) a block of `2 · LANES` weights is interleaved so that
//! the pair-panel reader ([`Bf16PairPanel`](super::simd::Bf16PairPanel)) yields the first `LANES`
//! weights from the low halves and the next `LANES` from the high halves: one shift or one mask
//! per vector, no shuffle. The padding weights are zero and the matching `x` lanes are loaded
//! as zero, so tails cost nothing extra.

use super::simd::{F32Vec, Panel};
use super::LinearCall;

/// Most outputs the dot kernels handle (one instantiation per count up to this).
pub(crate) const DOT_MAX_OUT: usize = 4;

/// Elements of one packed dot row of `k` weights for a kernel of `lanes` f32 lanes.
pub(crate) fn dot_row_len(k: usize, kstep: usize, lanes: usize) -> usize {
    super::padded_k(k, kstep * lanes)
}

/// Packs row-major `w[n][k]` into `n` dot rows (see the module comment).
pub(crate) fn pack_dot_rows<T: Copy + Default>(
    w: &[T],
    n: usize,
    k: usize,
    kstep: usize,
    lanes: usize,
) -> super::pack::AlignedVec<T> {
    debug_assert_eq!(w.len(), n * k);
    let row_len = dot_row_len(k, kstep, lanes);
    let block = kstep * lanes;
    let mut packed = super::pack::AlignedVec::zeroed(n * row_len);
    let dst = packed.as_mut_slice();
    for (o, row) in w.chunks_exact(k.max(1)).take(n).enumerate() {
        let d = &mut dst[o * row_len..(o + 1) * row_len];
        for (kk, &v) in row.iter().enumerate().take(k) {
            let (b, rem) = (kk / block, kk % block);
            d[b * block + (rem % lanes) * kstep + rem / lanes] = v;
        }
    }
    packed
}

/// Panics unless the call's buffers cover its shapes. Checked once per call; the unsafe bodies
/// rely on it. Inlined into each entry, where `kstep` and `lanes` are constants (as
/// [`check_call`](super::driver::check_call)).
#[inline(always)]
pub(crate) fn check_dot_call<W>(call: &LinearCall<'_, W>, y: &[f32], kstep: usize, lanes: usize) {
    let need = |a: usize, b: usize| a.checked_mul(b).expect("dot kernel: shape overflows usize");
    assert!(
        (1..=DOT_MAX_OUT).contains(&call.n),
        "dot kernel: n outside 1..=DOT_MAX_OUT"
    );
    assert!(
        call.x.len() >= need(call.rows, call.k),
        "dot kernel: x shorter than rows × k"
    );
    assert!(
        y.len() >= need(call.rows, call.n),
        "dot kernel: y shorter than rows × n"
    );
    assert!(
        call.panels.len() >= need(call.n, dot_row_len(call.k, kstep, lanes)),
        "dot kernel: weight rows too short"
    );
    assert!(call.bias.len() >= call.n, "dot kernel: bias shorter than n");
}

/// `y = act(x·Wᵀ + b)` over dot rows, for `1 ≤ n ≤ DOT_MAX_OUT`. Few outputs leave registers
/// for more rows: 8 rows for 1–2 outputs, 4 for 3–4 (at most 16 accumulators, and at least 8
/// independent chains: FMA latency 4 × 2 ports), and a single row runs alone.
///
/// # Safety
/// The CPU supports `V`'s ISA, and [`check_dot_call`] passed for this call with `V::LANES`.
#[inline(always)]
pub(crate) unsafe fn dot<V: F32Vec, P: Panel<V>>(call: &LinearCall<'_, P::Elem>, y: &mut [f32]) {
    // SAFETY: forwarded; each instantiation matches call.n.
    unsafe {
        // One row alone (a model head at batch 1) would otherwise compute R copies of itself
        // and reduce all of them: measured 72 → 39 ns for a 64 → 1 head.
        match (call.rows, call.n) {
            (1, 1) => dot_rows::<V, P, 1, 1>(call, y),
            (1, 2) => dot_rows::<V, P, 1, 2>(call, y),
            (1, 3) => dot_rows::<V, P, 1, 3>(call, y),
            (1, _) => dot_rows::<V, P, 1, 4>(call, y),
            (_, 1) => dot_rows::<V, P, 8, 1>(call, y),
            (_, 2) => dot_rows::<V, P, 8, 2>(call, y),
            (_, 3) => dot_rows::<V, P, 4, 3>(call, y),
            _ => dot_rows::<V, P, 4, 4>(call, y),
        }
    }
}

/// [`dot`] for exactly `OUT` outputs, `R` rows per block. Missing rows of the last block
/// re-read its last live row; their results are discarded.
///
/// # Safety
/// As [`dot`], with `call.n == OUT`.
#[inline(always)]
unsafe fn dot_rows<V: F32Vec, P: Panel<V>, const R: usize, const OUT: usize>(
    call: &LinearCall<'_, P::Elem>,
    y: &mut [f32],
) {
    const { assert!(R > 0 && OUT > 0 && OUT <= DOT_MAX_OUT) };
    let lanes = V::LANES;
    let (m, k) = (call.rows, call.k);
    let row_len = dot_row_len(k, P::KSTEP, lanes);
    let (x, w, bias, yp) = (
        call.x.as_ptr(),
        call.panels.as_ptr(),
        call.bias.as_ptr(),
        y.as_mut_ptr(),
    );
    // Whole vectors of x, then the tail (fewer than LANES), loaded with zero fill.
    let full = k / lanes;
    let tail = k % lanes;
    let mut r0 = 0;
    while r0 < m {
        let live = R.min(m - r0);
        // SAFETY: every offset stays inside the buffers check_dot_call proved: x rows < m of k
        // floats (chunk c < full reads c·LANES + LANES ≤ k; the tail reads k - tail .. k), weight
        // rows o < OUT of row_len (chunk c of a row lies in block c / KSTEP < row_len / block),
        // bias < OUT, y rows < m of OUT.
        unsafe {
            let a: [*const f32; R] = std::array::from_fn(|i| x.add((r0 + i.min(live - 1)) * k));
            let wr: [*const P::Elem; OUT] = std::array::from_fn(|o| w.add(o * row_len));
            let mut acc = [[V::zero(); OUT]; R];
            for c in 0..full {
                let (step, sub) = (c / P::KSTEP, c % P::KSTEP);
                let wv: [V; OUT] = std::array::from_fn(|o| P::load(wr[o], lanes, step, sub, 0));
                for (row, &ai) in acc.iter_mut().zip(a.iter()) {
                    let xv = V::load(ai.add(c * lanes));
                    for (r, &wo) in row.iter_mut().zip(wv.iter()) {
                        *r = V::mul_add(xv, wo, *r);
                    }
                }
            }
            if tail > 0 {
                let (step, sub) = (full / P::KSTEP, full % P::KSTEP);
                let wv: [V; OUT] = std::array::from_fn(|o| P::load(wr[o], lanes, step, sub, 0));
                for (row, &ai) in acc.iter_mut().zip(a.iter()) {
                    let xv = V::load_partial(ai.add(full * lanes), tail);
                    for (r, &wo) in row.iter_mut().zip(wv.iter()) {
                        *r = V::mul_add(xv, wo, *r);
                    }
                }
            }
            // Plain loops, not nested `array::from_fn` closures: those are not always inlined,
            // and a closure outside the `#[target_feature]` body cannot inline the intrinsics.
            let mut sums = [[0.0f32; R]; OUT];
            for (o, s) in sums.iter_mut().enumerate() {
                let mut column = [V::zero(); R];
                for (c, row) in column.iter_mut().zip(acc.iter()) {
                    *c = row[o];
                }
                *s = V::reduce_add_many(&column);
            }
            // Row by row, so each row's OUT outputs are adjacent stores (column by column, LLVM
            // turns the strided stores into a slow scatter).
            for i in 0..live {
                for (o, s) in sums.iter().enumerate() {
                    let s = s[i] + *bias.add(o);
                    // A compare, so NaN stays NaN.
                    *yp.add((r0 + i) * OUT + o) = if call.relu && s < 0.0 { 0.0 } else { s };
                }
            }
        }
        r0 += R;
    }
}

/// Stamps one dot table entry for an ISA: a safe fn that checks the call, and the
/// `#[target_feature]` body that instantiates [`dot`] for that ISA. Only used for entries placed
/// in tables of levels the CPU has (`LinearKernels::for_isa` checks), which makes the call sound.
#[cfg(target_arch = "x86_64")]
macro_rules! dot_entry {
    ($features:literal, $name:ident, $body:ident, $v:ty, $p:ty, $elem:ty) => {
        fn $name(call: &LinearCall<'_, $elem>, y: &mut [f32]) {
            super::dot::check_dot_call(
                call,
                y,
                <$p as Panel<$v>>::KSTEP,
                <$v as super::simd::F32Vec>::LANES,
            );
            // SAFETY: this entry is only in tables for CPUs with these features, and
            // check_dot_call validated the buffers against the shapes.
            unsafe { $body(call, y) }
        }
        #[target_feature(enable = $features)]
        unsafe fn $body(call: &LinearCall<'_, $elem>, y: &mut [f32]) {
            // SAFETY: forwarded from the entry above.
            unsafe { super::dot::dot::<$v, $p>(call, y) }
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use dot_entry;
