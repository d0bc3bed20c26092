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
        for s in 0..steps {
            for sub in 0..P::KSTEP {
                tile_step::<V, P, MR, NV>(&mut acc, a, w, nr, s, sub);
            }
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
        let wv: [V; NV] = std::array::from_fn(|j| P::load(w, nr, step, sub, j));
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
