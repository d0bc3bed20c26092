//! Micro-kernels, generic over the ISA's vector type ([`F32Vec`]) and a panel reader ([`Panel`]).
//!
//! Contract: a micro-kernel always computes a full tile (`MR × NR` for [`tile`], `1 × NR` for
//! [`gemv_panel`]) over any depth `k ≥ 0`, keeping the accumulators in registers, and stores it
//! to `c` with row stride `ldc`. It never sees an M or N tail (the drivers route partial tiles
//! through a stack tile) and never allocates.

use super::simd::{F32Panel, F32Vec, Panel};

/// Where a tile's accumulators start.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// At the bias: the first K chunk (folds the bias add into the first FMA).
    Bias,
    /// At the values already in `c`: a later K chunk.
    Output,
}

/// Panel steps per trip of [`tile`]'s main loop.
const TILE_UNROLL: usize = 4;

/// `MR × NR` GEMM micro-kernel (`NR = NV · LANES`) over `k` steps of the panel chunk `w`.
/// ReLU is applied before the store when `relu` is set (the last K chunk only).
///
/// # Safety
/// Each `a[i]` is valid for `k` reads, `w` for `padded_k(k) × NR` elements, `bias` for `NR`, `c`
/// for `MR` rows of `NR` with stride `ldc` (and initialised when `start` is `Output`); the CPU
/// supports V.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn tile<V: F32Vec, P: Panel<V>, const MR: usize, const NV: usize>(
    k: usize,
    a: &[*const f32; MR],
    w: *const P::Elem,
    bias: *const f32,
    c: *mut f32,
    ldc: usize,
    start: Start,
    relu: bool,
) {
    let nr = NV * V::LANES;
    // SAFETY: every pointer offset below stays inside the ranges the caller guarantees:
    // x index < k, panel step ≤ padded_k / KSTEP, column < NR, row < MR.
    unsafe {
        // Ask for the output lines now, so their read-for-ownership overlaps the FMAs instead
        // of stalling the stores (y often lives in L2 for large batches).
        for i in 0..MR {
            for line in (0..nr).step_by(16) {
                V::prefetch_write(c.add(i * ldc + line));
            }
        }
        let mut acc = [[V::zero(); NV]; MR];
        for (i, row) in acc.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = match start {
                    Start::Bias => V::load(bias.add(j * V::LANES)),
                    Start::Output => V::load(c.add(i * ldc + j * V::LANES)),
                };
            }
        }
        let steps = k / P::KSTEP;
        // Four steps per loop trip: the loop's own uops (index, pointer, branch) are then
        // under one per step, leaving the front end to the loads and FMAs.
        let mut s = 0;
        while s + TILE_UNROLL <= steps {
            for u in 0..TILE_UNROLL {
                for sub in 0..P::KSTEP {
                    tile_step::<V, P, MR, NV>(&mut acc, a, w, nr, s + u, sub);
                }
            }
            s += TILE_UNROLL;
        }
        while s < steps {
            for sub in 0..P::KSTEP {
                tile_step::<V, P, MR, NV>(&mut acc, a, w, nr, s, sub);
            }
            s += 1;
        }
        // Odd k with paired panels: the last step's first half (its second half is padding).
        for sub in 0..k - steps * P::KSTEP {
            tile_step::<V, P, MR, NV>(&mut acc, a, w, nr, steps, sub);
        }
        for (i, row) in acc.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let v = if relu { V::relu(v) } else { v };
                V::store(c.add(i * ldc + j * V::LANES), v);
            }
        }
    }
}

/// `MR × LANES` GEMM micro-kernel over a packed X block: `xp` holds the tile's `MR` rows
/// interleaved k-major (`xp[kk · MR + i]`), so one pointer plus constant offsets reaches every
/// broadcast, and each broadcast feeds exactly one FMA, which lets LLVM fold it into the FMA as
/// a `{1to16}` memory operand. Per `k`: one weight load and `MR` fused broadcast-FMAs, fewer
/// front-end uops per FMA than [`tile`] (which needs a separate broadcast for each row, as each
/// feeds two FMAs). `w` is one vector column of an f32 panel chunk (row stride `nr`), `bias`
/// its `LANES` biases. ReLU as in [`tile`].
///
/// # Safety
/// `xp` is valid for `k × MR` reads, `w` for `k` rows of stride `nr` (`LANES` each), `bias` for
/// `LANES`, `c` for `MR` rows of `LANES` with stride `ldc` (initialised when `start` is
/// `Output`); the CPU supports V.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn tile_xpacked<V: F32Vec, const MR: usize>(
    k: usize,
    xp: *const f32,
    w: *const f32,
    nr: usize,
    bias: *const f32,
    c: *mut f32,
    ldc: usize,
    start: Start,
    relu: bool,
) {
    // SAFETY: kk < k, i < MR: inside the ranges the caller guarantees.
    unsafe {
        for i in 0..MR {
            V::prefetch_write(c.add(i * ldc));
        }
        let mut acc = [V::zero(); MR];
        for (i, v) in acc.iter_mut().enumerate() {
            *v = match start {
                Start::Bias => V::load(bias),
                Start::Output => V::load(c.add(i * ldc)),
            };
        }
        // Bumped pointers, so each broadcast is `[base + constant]`: an indexed address
        // (`[base + index + constant]`) would un-laminate the fused FMA into two uops.
        let (mut xk, mut wk) = (xp, w);
        let step = |acc: &mut [V; MR], xk: *const f32, wk: *const f32, u: usize| {
            let wv = V::load(wk.add(u * nr));
            for (i, r) in acc.iter_mut().enumerate() {
                *r = V::mul_add(V::splat(xk.add(u * MR + i)), wv, *r);
            }
        };
        for _ in 0..k / TILE_UNROLL {
            for u in 0..TILE_UNROLL {
                step(&mut acc, xk, wk, u);
            }
            xk = xk.add(TILE_UNROLL * MR);
            wk = wk.add(TILE_UNROLL * nr);
        }
        for _ in 0..k % TILE_UNROLL {
            step(&mut acc, xk, wk, 0);
            xk = xk.add(MR);
            wk = wk.add(nr);
        }
        for (i, &v) in acc.iter().enumerate() {
            let v = if relu { V::relu(v) } else { v };
            V::store(c.add(i * ldc), v);
        }
    }
}

/// One `k` of the micro-kernel: NV weight vectors, MR broadcasts, MR × NV FMAs.
///
/// # Safety
/// As [`tile`], for `k = step · KSTEP + sub`.
#[inline(always)]
unsafe fn tile_step<V: F32Vec, P: Panel<V>, const MR: usize, const NV: usize>(
    acc: &mut [[V; NV]; MR],
    a: &[*const f32; MR],
    w: *const P::Elem,
    nr: usize,
    step: usize,
    sub: usize,
) {
    let kk = step * P::KSTEP + sub;
    // SAFETY: forwarded from the caller (see tile).
    unsafe {
        // Plain loops rather than `array::from_fn` here and in the small-K kernels: a closure
        // is not always inlined, and outside the `#[target_feature]` body it cannot inline the
        // intrinsics (measured: 1.6× the time once a driver change tipped the inliner).
        let mut wv = [V::zero(); NV];
        for (j, v) in wv.iter_mut().enumerate() {
            *v = P::load(w, nr, step, sub, j);
        }
        for (row, &ai) in acc.iter_mut().zip(a.iter()) {
            let xv = V::splat(ai.add(kk));
            for (r, &wj) in row.iter_mut().zip(wv.iter()) {
                *r = V::mul_add(xv, wj, *r);
            }
        }
    }
}

/// Widens `k` rows (padded to whole steps) of a 16-bit panel chunk into plain k-major f32, so
/// the GEMM tiles of a whole row block run the f32 micro-kernel over it (the conversion is paid
/// once per panel chunk instead of once per tile).
///
/// # Safety
/// `w` valid for `padded_k(k) × NR` elements, `dst` for as many f32 writes; the CPU supports V.
#[inline(always)]
pub(crate) unsafe fn widen_chunk<V: F32Vec, P: Panel<V>, const NV: usize>(
    k: usize,
    w: *const P::Elem,
    dst: *mut f32,
) where
    F32Panel: Panel<V, Elem = f32>,
{
    let nr = NV * V::LANES;
    // SAFETY: step < padded_k / KSTEP and row < padded_k, inside both buffers (caller).
    unsafe {
        for s in 0..k.div_ceil(P::KSTEP) {
            for sub in 0..P::KSTEP {
                for j in 0..NV {
                    V::store(
                        dst.add((s * P::KSTEP + sub) * nr + j * V::LANES),
                        P::load(w, nr, s, sub, j),
                    );
                }
            }
        }
    }
}

/// One row against one panel: `NR` outputs. `U` accumulator sets keep `U · NV` FMA chains in
/// flight (FMA latency × ports) while the panel streams front to back. Used by the GEMV and for
/// the last few rows of a GEMM, where a whole `MR`-row tile would be mostly padding.
///
/// # Safety
/// `x` valid for `k` reads, `w` for `padded_k(k) × NR` elements, `bias` and `c` for `NR` (`c`
/// initialised when `start` is `Output`); the CPU supports V.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn gemv_panel<V: F32Vec, P: Panel<V>, const NV: usize, const U: usize>(
    k: usize,
    x: *const f32,
    w: *const P::Elem,
    bias: *const f32,
    c: *mut f32,
    start: Start,
    relu: bool,
) {
    let nr = NV * V::LANES;
    // SAFETY: offsets stay below k (x), one padded panel (w) and NR (bias, c).
    unsafe {
        let mut acc = [[V::zero(); NV]; U];
        for (j, v) in acc[0].iter_mut().enumerate() {
            *v = match start {
                Start::Bias => V::load(bias.add(j * V::LANES)),
                Start::Output => V::load(c.add(j * V::LANES)),
            };
        }
        let steps = k / P::KSTEP;
        let mut s = 0;
        while s + U <= steps {
            for (u, set) in acc.iter_mut().enumerate() {
                for sub in 0..P::KSTEP {
                    let xv = V::splat(x.add((s + u) * P::KSTEP + sub));
                    for (j, r) in set.iter_mut().enumerate() {
                        *r = V::mul_add(xv, P::load(w, nr, s + u, sub, j), *r);
                    }
                }
            }
            s += U;
        }
        // Remaining steps (fewer than U), one per accumulator set so they do not form one
        // serial chain; then the odd-k half step of paired panels.
        for (u, set) in acc.iter_mut().enumerate() {
            if s + u < steps {
                for sub in 0..P::KSTEP {
                    let xv = V::splat(x.add((s + u) * P::KSTEP + sub));
                    for (j, r) in set.iter_mut().enumerate() {
                        *r = V::mul_add(xv, P::load(w, nr, s + u, sub, j), *r);
                    }
                }
            }
        }
        for sub in 0..k - steps * P::KSTEP {
            let xv = V::splat(x.add(steps * P::KSTEP + sub));
            for (j, r) in acc[U - 1].iter_mut().enumerate() {
                *r = V::mul_add(xv, P::load(w, nr, steps, sub, j), *r);
            }
        }
        // Pairwise sum of the sets (a tree, not a chain).
        let mut width = U;
        while width > 1 {
            let half = width.div_ceil(2);
            let (low, high) = acc.split_at_mut(half);
            for (a, b) in low.iter_mut().zip(&high[..width - half]) {
                for (x, &y) in a.iter_mut().zip(b.iter()) {
                    *x = V::add(*x, y);
                }
            }
            width = half;
        }
        for (j, &v) in acc[0].iter().enumerate() {
            let v = if relu { V::relu(v) } else { v };
            V::store(c.add(j * V::LANES), v);
        }
    }
}

/// Which output rows the small-K kernels prefetch: row `r` of the block prefetches row
/// `r + distance` when `r < live`, so only rows that exist. (Before, a batch smaller than a block
/// prefetched only addresses past the output: useless, and a possible TLB miss each.)
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only x86 tables stamp the small-K GEMM
pub(crate) struct Ahead {
    pub(crate) distance: usize,
    pub(crate) live: usize,
}

/// Largest `k` the weight-stationary small-K kernel ([`small_k_rows`]) is instantiated for.
pub(crate) const SMALL_K_MAX: usize = 16;
/// Rows per step of [`small_k_rows`]: 8 independent accumulator chains cover the FMA latency
/// (4 cycles × 2 ports), and `SMALL_K_MAX + 8` weights and accumulators fit in 32 registers.
pub(crate) const SMALL_K_ROWS: usize = 8;

/// Small-`K` GEMM column: one vector (`LANES` columns, vector `j` of a panel) of `K` weights is
/// loaded into registers once, then `rows` rows stream past it, `RU` at a time, each row one
/// broadcast-FMA per `k` into its own accumulator. With `K` this small a tile's fixed costs (bias
/// loads, stores, row set-up) would be as large as its FMAs; here a row costs `K` FMAs, one ReLU
/// and one store. Only `cols ≤ LANES` outputs per row are written (the rest go to a stack line).
///
/// Each group of rows also prefetches, for writing, the output line `ahead.distance` rows further
/// down (the same columns of the next row block), for the rows `ahead` names: for a large batch
/// the outputs are written back to L2 or L3, and where rows straddle lines each store would
/// otherwise wait for its line (the driver turns this off where rows start on lines).
///
/// # Safety
/// `x` is valid for `rows × K` reads (row stride `K`), `w` for `K` rows of stride `nr` holding
/// vector `j`, `bias` for `LANES` reads at `j · LANES`, `c` for `rows` rows of `cols` writes
/// with stride `ldc`, and rows `r + ahead.distance` for `r < ahead.live` lie inside the output
/// (prefetched only); the CPU supports V.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only x86 tables stamp the small-K GEMM
pub(crate) unsafe fn small_k_rows<V: F32Vec, const K: usize>(
    rows: usize,
    x: *const f32,
    w: *const f32,
    nr: usize,
    j: usize,
    bias: *const f32,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    ahead: Ahead,
    relu: bool,
) {
    const RU: usize = SMALL_K_ROWS;
    let lanes = V::LANES;
    // SAFETY: every read is inside the ranges above (kk < K, u < RU within rows, lanes of
    // vector j); partial rows go through `line`, which holds LANES ≤ 16 floats.
    unsafe {
        let mut wv = [V::zero(); K];
        for (kk, v) in wv.iter_mut().enumerate() {
            *v = V::load(w.add(kk * nr + j * lanes));
        }
        let b = V::load(bias.add(j * lanes));
        let mut line = [0.0f32; 16];
        let mut store = |r: usize, v: V| {
            let v = if relu { V::relu(v) } else { v };
            if cols == lanes {
                V::store(c.add(r * ldc), v);
            } else {
                V::store(line.as_mut_ptr(), v);
                std::ptr::copy_nonoverlapping(line.as_ptr(), c.add(r * ldc), cols);
            }
        };
        let mut r = 0;
        while r + RU <= rows {
            for u in 0..RU {
                if r + u < ahead.live {
                    V::prefetch_write(c.add((r + u + ahead.distance) * ldc));
                }
            }
            let mut acc = [b; RU];
            for (kk, &wk) in wv.iter().enumerate() {
                for (u, a) in acc.iter_mut().enumerate() {
                    *a = V::mul_add(V::splat(x.add((r + u) * K + kk)), wk, *a);
                }
            }
            for (u, &a) in acc.iter().enumerate() {
                store(r + u, a);
            }
            r += RU;
        }
        // Fewer than RU rows left: one chain each (a handful of rows per call).
        while r < rows {
            let mut a = b;
            for (kk, &wk) in wv.iter().enumerate() {
                a = V::mul_add(V::splat(x.add(r * K + kk)), wk, a);
            }
            store(r, a);
            r += 1;
        }
    }
}

/// Largest `k` of [`small_k_rows_pair`]: `2K` weights, `2 · 3` accumulators and the two bias
/// vectors must fit in 32 registers.
pub(crate) const SMALL_K_PAIR_MAX: usize = 11;
/// Rows per step of [`small_k_rows_pair`]: `2 · 3` accumulators beside `2K` weights.
pub(crate) const SMALL_K_PAIR_ROWS: usize = 3;

/// [`small_k_rows`] over two adjacent full vectors (`2 · LANES` columns) at once, 3 rows per step:
/// each broadcast of `x` feeds two FMAs instead of one, which halves the load-port traffic
/// (one load per FMA is the single-vector kernel's limit). Prefetches like [`small_k_rows`].
///
/// # Safety
/// As [`small_k_rows`] for vectors `j` and `j + 1`, both with all `LANES` columns live.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only x86 tables stamp the small-K GEMM
pub(crate) unsafe fn small_k_rows_pair<V: F32Vec, const K: usize>(
    rows: usize,
    x: *const f32,
    w: *const f32,
    nr: usize,
    j: usize,
    bias: *const f32,
    c: *mut f32,
    ldc: usize,
    ahead: Ahead,
    relu: bool,
) {
    const RU: usize = SMALL_K_PAIR_ROWS;
    let lanes = V::LANES;
    // SAFETY: reads and writes stay inside the ranges above (kk < K, rows < `rows`, the two
    // vectors j and j + 1 of each row).
    unsafe {
        let mut wv = [[V::zero(); 2]; K];
        for (kk, v) in wv.iter_mut().enumerate() {
            let row = w.add(kk * nr + j * lanes);
            *v = [V::load(row), V::load(row.add(lanes))];
        }
        let b = [
            V::load(bias.add(j * lanes)),
            V::load(bias.add((j + 1) * lanes)),
        ];
        let act = |v: V| if relu { V::relu(v) } else { v };
        let mut r = 0;
        while r < rows {
            let ru = RU.min(rows - r);
            for u in 0..ru {
                if r + u < ahead.live {
                    let line = c.add((r + u + ahead.distance) * ldc);
                    V::prefetch_write(line);
                    V::prefetch_write(line.add(lanes));
                }
            }
            if ru == RU {
                let mut acc = [b; RU];
                for (kk, wk) in wv.iter().enumerate() {
                    for (u, a) in acc.iter_mut().enumerate() {
                        let xv = V::splat(x.add((r + u) * K + kk));
                        a[0] = V::mul_add(xv, wk[0], a[0]);
                        a[1] = V::mul_add(xv, wk[1], a[1]);
                    }
                }
                for (u, a) in acc.iter().enumerate() {
                    V::store(c.add((r + u) * ldc), act(a[0]));
                    V::store(c.add((r + u) * ldc + lanes), act(a[1]));
                }
            } else {
                for u in 0..ru {
                    let mut a = b;
                    for (kk, wk) in wv.iter().enumerate() {
                        let xv = V::splat(x.add((r + u) * K + kk));
                        a[0] = V::mul_add(xv, wk[0], a[0]);
                        a[1] = V::mul_add(xv, wk[1], a[1]);
                    }
                    V::store(c.add((r + u) * ldc), act(a[0]));
                    V::store(c.add((r + u) * ldc + lanes), act(a[1]));
                }
            }
            r += ru;
        }
    }
}

/// One row against `G` consecutive full panels at once: `G · NV` accumulators are the
/// independent FMA chains (no partial sums to combine at the end, unlike [`gemv_panel`]'s
/// sets), and each broadcast of `x` serves `G · NV` FMAs. Writes `G · NR` outputs to `c`.
///
/// # Safety
/// `x` valid for `k` reads, `w` for `G` panels of `padded_k(k) × NR` elements `panel_len`
/// apart, `bias` and `c` for `G · NR` floats; the CPU supports V.
#[inline(always)]
pub(crate) unsafe fn gemv_group<V: F32Vec, P: Panel<V>, const NV: usize, const G: usize>(
    k: usize,
    x: *const f32,
    w: *const P::Elem,
    panel_len: usize,
    bias: *const f32,
    c: *mut f32,
    relu: bool,
) {
    let nr = NV * V::LANES;
    // SAFETY: offsets stay below k (x), G panels (w) and G · NR (bias, c).
    unsafe {
        let mut acc = [[V::zero(); NV]; G];
        for (g, set) in acc.iter_mut().enumerate() {
            for (j, v) in set.iter_mut().enumerate() {
                *v = V::load(bias.add(g * nr + j * V::LANES));
            }
        }
        let steps = k / P::KSTEP;
        for s in 0..steps {
            for sub in 0..P::KSTEP {
                let xv = V::splat(x.add(s * P::KSTEP + sub));
                for (g, set) in acc.iter_mut().enumerate() {
                    let wg = w.add(g * panel_len);
                    for (j, r) in set.iter_mut().enumerate() {
                        *r = V::mul_add(xv, P::load(wg, nr, s, sub, j), *r);
                    }
                }
            }
        }
        for sub in 0..k - steps * P::KSTEP {
            let xv = V::splat(x.add(steps * P::KSTEP + sub));
            for (g, set) in acc.iter_mut().enumerate() {
                let wg = w.add(g * panel_len);
                for (j, r) in set.iter_mut().enumerate() {
                    *r = V::mul_add(xv, P::load(wg, nr, steps, sub, j), *r);
                }
            }
        }
        for (g, set) in acc.iter().enumerate() {
            for (j, &v) in set.iter().enumerate() {
                let v = if relu { V::relu(v) } else { v };
                V::store(c.add(g * nr + j * V::LANES), v);
            }
        }
    }
}
