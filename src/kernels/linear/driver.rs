//! The GEMM drivers (general, and small-`k` on 32-register ISAs) and the GEMV row driver. Each
//! ISA instantiates them inside thin `#[target_feature]` wrappers ([`target_entry`],
//! [`row_entry`]), so the whole loop nest, micro-kernel included, is compiled for that ISA. The
//! drivers own every tail: partial tiles go through a stack tile, missing rows of a partial tile
//! re-read a valid row, so the micro-kernels in [`super::micro`] only ever see full tiles.

use std::mem::MaybeUninit;

use super::micro::{
    gemv_group, gemv_panel, small_k_rows, small_k_rows_pair, tile, tile_xpacked, widen_chunk,
    Ahead, Start, SMALL_K_MAX, SMALL_K_PAIR_MAX, SMALL_K_PAIR_ROWS, SMALL_K_ROWS,
};
use super::simd::{F32Panel, F32Vec, Panel};
use super::{padded_k, LinearCall};

/// Largest `MR · NR` of any table (AVX-512: 8 × 32); sizes the stack tile for partial tiles.
pub(crate) const MAX_TILE: usize = 8 * 32;
/// Largest `NR` of any table; sizes the widened chunk.
const MAX_NR: usize = 32;
/// Depth of one K chunk (LOOP 2). Even, so no chunk splits a bf16 pair. A chunk of a panel
/// (KC × NR f32: 32 KiB at NR = 32) stays in L1 while LOOP 4 runs the block's tiles over it.
const KC: usize = 256;

/// Leftover rows of a row block (fewer than MR) up to this many run the 1 × NR kernel per row
/// instead of a padded MR-row tile: measured, one row costs about a quarter of a full 8-row
/// tile, so up to 3 rows this wins.
const GEMV_TAIL_ROWS: usize = 3;
/// Batches up to this many rows run the GEMV entry (once per row) rather than the GEMM: an
/// 8-row tile costs about 3.5–4 GEMV rows (measured), and the GEMM's leftover rows run the
/// same 1 × NR kernel anyway.
pub(crate) const GEMV_MAX_ROWS_F32: usize = 3;
/// As [`GEMV_MAX_ROWS_F32`] for f16 and bf16 weights: one more row, since their GEMM also
/// widens every panel chunk, which a GEMV row does not need to.
pub(crate) const GEMV_MAX_ROWS_16: usize = 4;
/// Accumulator sets of that 1 × NR kernel (as the GEMV entries use).
const TAIL_CHAINS: usize = 4;

/// Target bytes of one X block (LOOP 1). A block is re-read once per W panel, so it should stay in
/// L2 (2 MiB here) next to the packed weights (≤ a few hundred KiB for the models served).
const X_BLOCK_BYTES: usize = 256 * 1024;

/// Output bytes of one row block of the small-K path: the block's rows are finished across all
/// panels while their outputs are still in L1.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only x86 tables stamp the small-K GEMM
const SMALL_K_Y_BYTES: usize = 16 * 1024;
/// Row blocks of the small-K path are a multiple of this: whole steps of both kernels
/// ([`SMALL_K_ROWS`] and [`SMALL_K_PAIR_ROWS`]), so only a call's last block can end in a partial
/// step, whose rows run as latency-bound single chains. Measured on the 11 → 128 layer against
/// 32-row blocks (10 pair steps and 2 single rows each): 0.98× the time at 256 rows, 0.94× at
/// 4096.
const SMALL_K_BLOCK_STEP: usize = 24;
const _: () = assert!(
    SMALL_K_BLOCK_STEP.is_multiple_of(SMALL_K_ROWS)
        && SMALL_K_BLOCK_STEP.is_multiple_of(SMALL_K_PAIR_ROWS)
);

/// Full panels one GEMV pass covers ([`gemv_group`]): `GEMV_GROUP · NV` accumulators are
/// enough independent chains without partial-sum sets.
const GEMV_GROUP: usize = 4;

/// Rows of the packed-X tile ([`tile_xpacked`]) on 32-register ISAs: 16 accumulators (two
/// FMA ports × latency 4 needs 8) and one weight vector, each broadcast folded into its single
/// FMA. 16 divides the batches served (16, 256, 4096), and one 16 × 16 transpose packs it.
/// Measured, 24 rows (the most that fit) was no faster, leaves batch 16 out, and in one build
/// got indexed broadcast addresses (two uops per FMA).
const XR: usize = 16;
/// Widest vector any ISA has (f32 lanes); sizes the packed-X tile's stack tile.
const MAX_LANES: usize = 16;

/// An X group packed k-major for [`tile_xpacked`] (`KC` steps of `XR` rows).
#[repr(C, align(64))]
struct XPack([MaybeUninit<f32>; KC * XR]);

/// A panel chunk widened to f32, cache-line aligned like the packed panels.
#[repr(C, align(64))]
struct WideChunk([MaybeUninit<f32>; KC * MAX_NR]);

/// Panics unless the call's buffers cover its shapes for panel width `nr`. Checked once per call;
/// the unsafe bodies rely on it. Inlined into each entry, where `nr` and `kstep` are constants:
/// called out of line, its two divisions by them were a tenth of an 11 → 128 batch-1 call
/// (perf).
#[inline(always)]
pub(crate) fn check_call<W>(call: &LinearCall<'_, W>, y: &[f32], nr: usize, kstep: usize) {
    let n_panels = call.n.div_ceil(nr);
    let need = |a: usize, b: usize| {
        a.checked_mul(b)
            .expect("linear kernel: shape overflows usize")
    };
    assert!(
        call.x.len() >= need(call.rows, call.k),
        "linear kernel: x shorter than rows × k"
    );
    assert!(
        y.len() >= need(call.rows, call.n),
        "linear kernel: y shorter than rows × n"
    );
    let panel_len = need(padded_k(call.k, kstep), nr);
    assert!(
        call.panels.len() >= need(n_panels, panel_len),
        "linear kernel: panels too short"
    );
    assert!(
        call.bias.len() >= need(n_panels, nr),
        "linear kernel: bias not padded to the panels"
    );
}

/// Packed GEMM, `y = act(x·Wᵀ + b)`. 16-bit panels are widened to f32 one chunk at a time
/// (once per row block), then every tile runs the f32 micro-kernel.
///
/// # Safety
/// The CPU supports `V`'s ISA, and [`check_call`] passed for this call with `NV · V::LANES`.
#[inline(always)]
pub(crate) unsafe fn gemm<V: F32Vec, P: Panel<V>, const MR: usize, const NV: usize>(
    call: &LinearCall<'_, P::Elem>,
    y: &mut [f32],
) where
    F32Panel: Panel<V, Elem = f32>,
{
    const { assert!(MR * NV * V::LANES <= MAX_TILE && NV * V::LANES <= MAX_NR && MR > 0 && NV > 0) };
    const { assert!(KC / P::KSTEP * P::KSTEP == KC && (P::WIDEN || size_of::<P::Elem>() == 4)) };
    let nr = NV * V::LANES;
    let (m, k, n) = (call.rows, call.k, call.n);
    let panel_len = padded_k(k, P::KSTEP) * nr;
    let n_panels = n.div_ceil(nr);
    let mc = (X_BLOCK_BYTES / (4 * k.max(1)) / MR).max(1) * MR;
    let (x, w, bias, yp) = (
        call.x.as_ptr(),
        call.panels.as_ptr(),
        call.bias.as_ptr(),
        y.as_mut_ptr(),
    );
    // Zeroed once per call so a partial tile never reads uninitialised memory.
    let mut part = [0.0f32; MAX_TILE];
    let sp = part.as_mut_ptr();
    let mut wide = WideChunk([const { MaybeUninit::uninit() }; KC * MAX_NR]);
    let wide_p = wide.0.as_mut_ptr().cast::<f32>();

    debug_assert!(
        !takes_small_k::<V>(k, m),
        "the entry sends these calls to gemm_small_k"
    );

    // f32 panels on 32-register ISAs: whole groups of XR rows run the packed-X tile; the rest
    // of the rows fall through to the MR-row tiles below.
    let mut m0 = 0;
    if V::REGS >= 32 && !P::WIDEN && V::LANES <= MAX_LANES && m >= XR {
        m0 = m / XR * XR;
        // SAFETY: forwarded (caller); Elem is f32 without widening (const assert above), and
        // f32 panels have KSTEP 1, so a panel is k × nr floats.
        unsafe { gemm_xpacked::<V, NV>(call, m0, x, w.cast::<f32>(), bias, yp) };
    }
    // LOOP 1: split the rows into blocks of `mc` so the X block stays in L2 while every W panel
    // passes over it.
    while m0 < m {
        let m1 = (m0 + mc).min(m);
        // LOOP 2: split k into chunks of KC; the first chunk starts from the bias, later ones
        // from the partial sums in y, and only the last applies ReLU. k = 0 still runs one
        // (empty) chunk, which writes act(bias).
        let mut k0 = 0;
        loop {
            let kc = KC.min(k - k0);
            let start = if k0 == 0 { Start::Bias } else { Start::Output };
            let relu = call.relu && k0 + kc == k;
            // LOOP 3: over the N panels; the panel chunk (kc × NR) stays in L1 across LOOP 4.
            for p in 0..n_panels {
                let cols = nr.min(n - p * nr);
                // SAFETY: p < n_panels and k0 + kc ≤ k: inside the panels and padded bias
                // (check_call). Widening writes padded_k(kc) ≤ KC rows of nr ≤ MAX_NR. Without
                // widening, Elem is f32 (const assert above and the WIDEN contract).
                let (chunk, bp) = unsafe {
                    let src = w.add(p * panel_len + k0 * nr);
                    let chunk = if P::WIDEN {
                        widen_chunk::<V, P, NV>(kc, src, wide_p);
                        wide_p.cast_const()
                    } else {
                        src.cast::<f32>()
                    };
                    (chunk, bias.add(p * nr))
                };
                // LOOP 4: MR rows at a time; X is not packed, each row is broadcast from its own
                // pointer. Missing rows of a partial tile re-read the last live row; their
                // results are discarded.
                let mut r0 = m0;
                while r0 < m1 {
                    let live = MR.min(m1 - r0);
                    // SAFETY: r0 + i < m for i < live, and check_call proved x holds m rows of k.
                    let a: [*const f32; MR] =
                        std::array::from_fn(|i| unsafe { x.add((r0 + i.min(live - 1)) * k + k0) });
                    let c = r0 * n + p * nr;
                    // In every arm the CPU supports V (caller) and the output rows r0..r0+live,
                    // columns p·nr..p·nr+cols are inside rows × n (check_call).
                    if live == MR && cols == nr {
                        // SAFETY: a full tile writes exactly those rows and columns.
                        unsafe {
                            tile::<V, F32Panel, MR, NV>(
                                kc,
                                &a,
                                chunk,
                                bp,
                                yp.add(c),
                                n,
                                start,
                                relu,
                            )
                        };
                    } else if live <= GEMV_TAIL_ROWS {
                        // A few leftover rows: one 1 × NR kernel each beats a mostly empty tile.
                        // SAFETY: a[i] for i < live are valid rows; each full row segment is in
                        // y, a partial one goes through the stack tile (nr ≤ MAX_TILE floats).
                        unsafe {
                            for (i, &ai) in a.iter().enumerate().take(live) {
                                let ci = yp.add(c + i * n);
                                if cols == nr {
                                    gemv_panel::<V, F32Panel, NV, TAIL_CHAINS>(
                                        kc, ai, chunk, bp, ci, start, relu,
                                    );
                                } else {
                                    std::ptr::copy_nonoverlapping(ci, sp, cols);
                                    gemv_panel::<V, F32Panel, NV, TAIL_CHAINS>(
                                        kc, ai, chunk, bp, sp, start, relu,
                                    );
                                    std::ptr::copy_nonoverlapping(sp, ci, cols);
                                }
                            }
                        }
                    } else {
                        // SAFETY: the stack tile holds MR × nr ≤ MAX_TILE floats (const
                        // assert); the copies move live × cols of them to and from y.
                        unsafe {
                            if start == Start::Output {
                                for i in 0..live {
                                    std::ptr::copy_nonoverlapping(
                                        yp.add(c + i * n),
                                        sp.add(i * nr),
                                        cols,
                                    );
                                }
                            }
                            tile::<V, F32Panel, MR, NV>(kc, &a, chunk, bp, sp, nr, start, relu);
                            for i in 0..live {
                                std::ptr::copy_nonoverlapping(
                                    sp.add(i * nr),
                                    yp.add(c + i * n),
                                    cols,
                                );
                            }
                        }
                    }
                    r0 += MR;
                }
            }
            k0 += kc;
            if k0 >= k {
                break;
            }
        }
        m0 = m1;
    }
}

/// The packed-X GEMM over rows `0..rows` (a multiple of [`XR`]): per group of `XR` rows and K
/// chunk, the group's X is packed k-major once (a few KiB, L1), then every vector column of
/// every panel runs [`tile_xpacked`] over it; the panels stream from L2.
///
/// # Safety
/// As [`gemm`], with f32 panels (`w` the call's panels), `rows ≤ call.rows`, `rows % XR == 0`,
/// and `x`, `bias`, `yp` the call's buffers.
#[inline(always)]
unsafe fn gemm_xpacked<V: F32Vec, const NV: usize>(
    call: &LinearCall<'_, impl Sized>,
    rows: usize,
    x: *const f32,
    w: *const f32,
    bias: *const f32,
    yp: *mut f32,
) {
    let (lanes, nr) = (V::LANES, NV * V::LANES);
    let (k, n) = (call.k, call.n);
    let panel_len = k * nr;
    let mut pack = XPack([const { MaybeUninit::uninit() }; KC * XR]);
    let xp = pack.0.as_mut_ptr().cast::<f32>();
    // Stack tile for the last, partly live vector column (ldc = lanes).
    let mut part = [0.0f32; XR * MAX_LANES];
    let sp = part.as_mut_ptr();
    for r0 in (0..rows).step_by(XR) {
        let mut k0 = 0;
        loop {
            let kc = KC.min(k - k0);
            let start = if k0 == 0 { Start::Bias } else { Start::Output };
            let relu = call.relu && k0 + kc == k;
            // SAFETY: rows r0..r0 + XR ≤ call.rows and columns k0..k0 + kc ≤ k of x
            // (check_call); the pack holds kc ≤ KC steps of XR rows.
            unsafe { V::pack_k_major::<XR>(x.add(r0 * k + k0), k, kc, xp) };
            for v in 0..n.div_ceil(lanes) {
                let col = v * lanes;
                let cols = lanes.min(n - col);
                let (p, j) = (col / nr, col % nr);
                // In both arms: panel p's chunk rows k0..k0 + kc, vector j, and the padded bias
                // at col are inside the buffers (check_call); the CPU supports V (caller).
                let (wv, bv, c) = (
                    w.wrapping_add(p * panel_len + k0 * nr + j),
                    bias.wrapping_add(col),
                    yp.wrapping_add(r0 * n + col),
                );
                if cols == lanes {
                    // SAFETY: as above; the tile writes rows r0..r0 + XR, columns col..col +
                    // lanes ≤ n of y.
                    unsafe { tile_xpacked::<V, XR>(kc, xp, wv, nr, bv, c, n, start, relu) };
                } else {
                    // SAFETY: as above; the stack tile holds XR × lanes floats, and the copies
                    // move XR × cols of them to and from y.
                    unsafe {
                        if start == Start::Output {
                            for i in 0..XR {
                                std::ptr::copy_nonoverlapping(
                                    c.add(i * n),
                                    sp.add(i * lanes),
                                    cols,
                                );
                            }
                        }
                        tile_xpacked::<V, XR>(kc, xp, wv, nr, bv, sp, lanes, start, relu);
                        for i in 0..XR {
                            std::ptr::copy_nonoverlapping(sp.add(i * lanes), c.add(i * n), cols);
                        }
                    }
                }
            }
            k0 += kc;
            if k0 >= k {
                break;
            }
        }
    }
}

/// One row of the GEMV: full panels four at a time ([`gemv_group`]), then the rest one panel at
/// a time with `U` accumulator sets per panel keeping `U · NV` FMA chains in flight (FMA
/// latency × ports); a partial last panel goes through a stack tile.
///
/// # Safety
/// The CPU supports `V`'s ISA; `x` is valid for `k` reads and `y` for `n` writes; `w` holds
/// `ceil(n / nr)` panels of `padded_k(k) × nr` and `bias` `ceil(n / nr) · nr` floats.
#[inline(always)]
pub(crate) unsafe fn gemv_row<V: F32Vec, P: Panel<V>, const NV: usize, const U: usize>(
    x: *const f32,
    w: *const P::Elem,
    bias: *const f32,
    y: *mut f32,
    k: usize,
    n: usize,
    relu: bool,
) {
    const { assert!(NV * V::LANES <= MAX_NR && NV > 0 && U > 0) };
    let nr = NV * V::LANES;
    let panel_len = padded_k(k, P::KSTEP) * nr;
    let grouped = n / nr / GEMV_GROUP * GEMV_GROUP;
    for p in (0..grouped).step_by(GEMV_GROUP) {
        // SAFETY: panels p..p + GEMV_GROUP are full (p + GEMV_GROUP ≤ n / nr), so their
        // weights, padded bias and output columns are inside the buffers (caller).
        unsafe {
            gemv_group::<V, P, NV, GEMV_GROUP>(
                k,
                x,
                w.add(p * panel_len),
                panel_len,
                bias.add(p * nr),
                y.add(p * nr),
                relu,
            );
        }
    }
    for p in grouped..n.div_ceil(nr) {
        let cols = nr.min(n - p * nr);
        // SAFETY: whole panels and padded bias (caller); the output segment is inside y, or
        // the stack tile (nr ≤ MAX_NR floats) for a partial last panel.
        unsafe {
            let (wp, bp, yp) = (w.add(p * panel_len), bias.add(p * nr), y.add(p * nr));
            if cols == nr {
                gemv_panel::<V, P, NV, U>(k, x, wp, bp, yp, Start::Bias, relu);
            } else {
                let mut tile = MaybeUninit::<[f32; MAX_NR]>::uninit();
                let sp = tile.as_mut_ptr().cast::<f32>();
                gemv_panel::<V, P, NV, U>(k, x, wp, bp, sp, Start::Bias, relu);
                std::ptr::copy_nonoverlapping(sp, yp, cols);
            }
        }
    }
}

/// Whether a GEMM call of `rows` rows with `k` inputs runs [`gemm_small_k`] rather than
/// [`gemm`]: `k` small enough for its weights to sit in registers (32-register ISAs only), and
/// enough rows for a full step.
#[inline(always)]
pub(crate) fn takes_small_k<V: F32Vec>(k: usize, rows: usize) -> bool {
    V::REGS >= 32 && (1..=SMALL_K_MAX).contains(&k) && rows >= SMALL_K_ROWS
}

/// A widened panel chunk of the small-`k` path: at most `SMALL_K_MAX` rows.
#[repr(C, align(64))]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only x86 tables stamp the small-K GEMM
struct SmallWideChunk([MaybeUninit<f32>; SMALL_K_MAX * MAX_NR]);

/// The small-`k` GEMM: row blocks whose outputs fit in L1; per block, each panel vector's `k`
/// weights stay in registers while the block's rows stream past ([`small_k_rows`]).
///
/// Its own entry body ([`target_entry`] picks it with [`takes_small_k`]), not a branch of
/// [`gemm`]: `gemm`'s frame (its stack tile, packed-X group and a `KC`-deep widened chunk,
/// about 20 KiB) is probed page by page and its 1 KiB stack tile zeroed on every call.
/// Measured on the 11 → 128 layer (Zen 4 VM, interleaved processes): 16 rows take 0.96× the
/// time in this body; 256 and 4096 rows 1.01–1.03× (the same loop, placed elsewhere).
///
/// # Safety
/// As [`gemm`], with [`takes_small_k`] true for the call.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only x86 tables stamp the small-K GEMM
pub(crate) unsafe fn gemm_small_k<V: F32Vec, P: Panel<V>, const NV: usize>(
    call: &LinearCall<'_, P::Elem>,
    y: &mut [f32],
) where
    F32Panel: Panel<V, Elem = f32>,
{
    const { assert!(NV * V::LANES <= MAX_NR && SMALL_K_MAX / P::KSTEP * P::KSTEP == SMALL_K_MAX) };
    let mut wide = SmallWideChunk([const { MaybeUninit::uninit() }; SMALL_K_MAX * MAX_NR]);
    let wide_p = wide.0.as_mut_ptr().cast::<f32>();
    let nr = NV * V::LANES;
    let (m, k, n) = (call.rows, call.k, call.n);
    let panel_len = padded_k(k, P::KSTEP) * nr;
    let rb = (SMALL_K_Y_BYTES / (4 * n) / SMALL_K_BLOCK_STEP).max(1) * SMALL_K_BLOCK_STEP;
    let (x, w, bias, yp) = (
        call.x.as_ptr(),
        call.panels.as_ptr(),
        call.bias.as_ptr(),
        y.as_mut_ptr(),
    );
    // The next block's output lines are prefetched only when output rows straddle lines. Where
    // every row starts on a line, the prefetches cost more than they save: measured on the
    // 11 → 128 layer, dropping them took 0.93–0.98× the time at 64–4096 rows, while with rows
    // 16 bytes off a line it took 1.27× at 4096 (and 0.97× at 256).
    let rows_on_lines = yp.align_offset(64) == 0 && n.is_multiple_of(16);
    // LOOP 1: row blocks of rb rows (their outputs stay in L1 until every panel is done).
    let mut m0 = 0;
    while m0 < m {
        let rows = rb.min(m - m0);
        let ahead = Ahead {
            distance: rb,
            live: if rows_on_lines {
                0
            } else {
                (m - m0).saturating_sub(rb)
            },
        };
        // LOOP 2: panels; 16-bit ones are widened (k ≤ SMALL_K_MAX rows: cheap) per block.
        for p in 0..n.div_ceil(nr) {
            // SAFETY: panel p and its padded bias are inside the buffers (check_call); the
            // widened copy is padded_k(k) ≤ SMALL_K_MAX rows (k ≤ SMALL_K_MAX, a whole number
            // of steps: const assert above) of nr ≤ MAX_NR floats.
            let chunk = unsafe {
                let src = w.add(p * panel_len);
                if P::WIDEN {
                    widen_chunk::<V, P, NV>(k, src, wide_p);
                    wide_p.cast_const()
                } else {
                    src.cast::<f32>()
                }
            };
            // LOOP 3: the panel's vectors that hold live columns, two at a time where both are
            // full and `k` leaves registers for two vectors' weights.
            let mut j = 0;
            while j < NV {
                let col = p * nr + j * V::LANES;
                if col >= n {
                    break;
                }
                // SAFETY: rows m0.. of x and y, panel p's padded bias and column col of y are
                // inside the buffers (check_call); offsets only, nothing is read here.
                let (xb, bp, c) =
                    unsafe { (x.add(m0 * k), bias.add(p * nr), yp.add(m0 * n + col)) };
                if k <= SMALL_K_PAIR_MAX && j + 1 < NV && col + 2 * V::LANES <= n {
                    // SAFETY: rows m0..m0 + rows of x and y and the two full vectors j, j + 1
                    // (columns col..col + 2·LANES ≤ n) are inside the buffers (check_call); the
                    // panel chunk is k × nr f32; prefetched rows r + rb for r < ahead.live are
                    // below m.
                    unsafe {
                        small_k_dispatch!(
                            small_k_rows_pair, k, V, (rows, xb, chunk, nr, j, bp, c, n, ahead, call.relu);
                            1 2 3 4 5 6 7 8 9 10 11
                        );
                    }
                    j += 2;
                } else {
                    let cols = V::LANES.min(n - col);
                    // SAFETY: as above, for columns col..col + cols ≤ n of vector j.
                    unsafe {
                        small_k_dispatch!(
                            small_k_rows, k, V, (rows, xb, chunk, nr, j, bp, c, n, cols, ahead, call.relu);
                            1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16
                        );
                    }
                    j += 1;
                }
            }
        }
        m0 += rows;
    }
}

/// Calls `$f::<V, K>` with `K` equal to the runtime `k` (one instantiation per `K` listed,
/// which must cover every `k` the caller lets through).
macro_rules! small_k_dispatch {
    ($f:ident, $k:expr, $v:ty, $args:tt; $($n:literal)+) => {
        match $k {
            $($n => $f::<$v, $n> $args,)+
            _ => unreachable!("small-k kernel entered with a k it has no instance for"),
        }
    };
}
use small_k_dispatch;
const _: () = assert!(SMALL_K_MAX == 16 && SMALL_K_PAIR_MAX == 11);

/// Stamps one GEMM table entry for an ISA: a safe fn that checks the call and picks one of two
/// `#[target_feature]` bodies, the general [`gemm`] or [`gemm_small_k`] (see there why apart).
/// Only used for entries placed in tables of levels the CPU has (`LinearKernels::for_isa`
/// checks), which makes the call sound.
#[cfg(target_arch = "x86_64")]
macro_rules! target_entry {
    ($features:literal, $name:ident, $body:ident, $small_k_body:ident,
     gemm::<$v:ty, $p:ty, $a:literal, $b:literal>, $elem:ty) => {
        fn $name(call: &LinearCall<'_, $elem>, y: &mut [f32]) {
            check_call(call, y, NR, <$p as Panel<$v>>::KSTEP);
            // SAFETY: this entry is only in tables for CPUs with these features, and
            // check_call validated the buffers against the shapes; the small-k body gets only
            // the calls it takes.
            unsafe {
                if driver::takes_small_k::<$v>(call.k, call.rows) {
                    $small_k_body(call, y)
                } else {
                    $body(call, y)
                }
            }
        }
        #[target_feature(enable = $features)]
        unsafe fn $body(call: &LinearCall<'_, $elem>, y: &mut [f32]) {
            // SAFETY: forwarded from the entry above.
            unsafe { driver::gemm::<$v, $p, $a, $b>(call, y) }
        }
        #[target_feature(enable = $features)]
        unsafe fn $small_k_body(call: &LinearCall<'_, $elem>, y: &mut [f32]) {
            // SAFETY: forwarded from the entry above.
            unsafe { driver::gemm_small_k::<$v, $p, $b>(call, y) }
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use target_entry;

/// Stamps the unchecked per-row GEMV entry ([`super::GemvRowFn`]) for a level, instantiating
/// [`gemv_row`] for it; the attributes given first (a `#[target_feature]` for an x86 level, none
/// for portable) go on the fn. Only placed in tables of levels the CPU has, like
/// [`target_entry`].
macro_rules! row_entry {
    ($(#[$attr:meta])* $name:ident, gemv_row::<$v:ty, $p:ty, $a:literal, $b:literal>, $elem:ty) => {
        $(#[$attr])*
        unsafe fn $name(
            x: *const f32,
            panels: *const u8,
            bias: *const f32,
            y: *mut f32,
            k: usize,
            n: usize,
            relu: bool,
        ) {
            // SAFETY: forwarded from the caller (the `GemvRowFn` contract: `panels` holds this
            // table's `$elem` panels); a table holds this entry only for a level the CPU has.
            unsafe {
                driver::gemv_row::<$v, $p, $a, $b>(x, panels.cast::<$elem>(), bias, y, k, n, relu)
            }
        }
    };
}
pub(crate) use row_entry;
