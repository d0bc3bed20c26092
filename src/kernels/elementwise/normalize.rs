//! L2-normalise each row of `dim` in place: `x / max(‖x‖₂, 1e-12)`, i.e. PyTorch's
//! `F.normalize(x, p=2, dim=-1, eps=1e-12)`.
//!
//! The sum of squares is taken in f32; when it overflows (|x| ≳ 1.8e19 anywhere in the row) the
//! row is scaled by the power of two below its largest magnitude (exact) and summed again, so
//! every finite row normalises correctly, even one whose norm exceeds f32::MAX (where a torch
//! f32 norm would be inf and the row 0). Squares too small for f32 only occur when ‖x‖ is far
//! below 1e-12, where eps wins anyway. A row holding inf or NaN yields NaN.

use super::lanes::{load_n, store_n, Lanes};
use crate::error::{Error, Result};

/// The `eps` of `F.normalize`.
pub const L2_EPS: f32 = 1e-12;

/// Signature of an L2-normalise entry: `(x[rows·dim], dim)`.
pub type L2NormalizeFn = fn(&mut [f32], usize) -> Result<()>;

fn check(x: &[f32], dim: usize) -> Result<()> {
    if x.is_empty() || (dim > 0 && x.len().is_multiple_of(dim)) {
        return Ok(());
    }
    Err(Error::InvalidArgument {
        arg: "dim",
        reason: format!(
            "l2_normalize: {} values do not split into rows of {dim}",
            x.len()
        ),
    })
}

/// The reference twin, in f64 (which cannot overflow on f32 squares), rounded once.
pub fn l2_normalize_ref(x: &mut [f32], dim: usize) -> Result<()> {
    check(x, dim)?;
    if x.is_empty() {
        return Ok(());
    }
    for row in x.chunks_exact_mut(dim) {
        let norm = row
            .iter()
            .map(|&v| (v as f64) * (v as f64))
            .sum::<f64>()
            .sqrt();
        let denom = norm.max(L2_EPS as f64);
        for v in row {
            *v = (*v as f64 / denom) as f32;
        }
    }
    Ok(())
}

/// Σ (x·scale)² over a row.
///
/// # Safety
/// `L`'s level is available; `p..p+len` readable.
#[inline(always)]
unsafe fn sum_sq<L: Lanes>(p: *const f32, len: usize, scale: f32) -> f32 {
    // SAFETY: chunks k..k+n lie inside the row; level available (caller).
    unsafe {
        let (s, mut acc) = (L::splat(scale), L::splat(0.0));
        let mut k = 0;
        while k < len {
            let n = (len - k).min(L::N);
            let v = load_n::<L, f32>(p.add(k), n).mul(s);
            acc = v.mul_add(v, acc);
            k += n;
        }
        acc.reduce_add()
    }
}

/// The one body every level runs.
///
/// # Safety
/// `L`'s level is available; `check` passed.
#[inline(always)]
unsafe fn body<L: Lanes>(x: &mut [f32], dim: usize) {
    if x.is_empty() {
        return;
    }
    for row in x.chunks_exact_mut(dim) {
        let p = row.as_mut_ptr();
        // SAFETY: (whole block) chunks k..k+n lie inside `row`; level available (caller).
        unsafe {
            let ss = sum_sq::<L>(p, dim, 1.0);
            // out = x·scale / denom, with scale a power of two (exact) that is 1 unless Σx² overflows.
            let (scale, denom) = if ss == f32::INFINITY {
                let amax = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                // Brings amax into [2, 4): 2^(1-e) for amax ∈ [2^e, 2^(e+1)). An overflowing row has
                // e ≥ 0 (short of 2^128 elements), so the biased exponent 255 - E is in [1, 128]:
                // a normal power of two, and the multiply is exact.
                let scale = f32::from_bits((255 - (amax.to_bits() >> 23)) << 23);
                (scale, sum_sq::<L>(p, dim, scale).sqrt())
            } else {
                (1.0, ss.sqrt().max(L2_EPS))
            };
            let (scale, denom) = (L::splat(scale), L::splat(denom));
            let mut k = 0;
            while k < dim {
                let n = (dim - k).min(L::N);
                store_n(
                    load_n::<L, f32>(p.add(k), n).mul(scale).div(denom),
                    p.add(k),
                    n,
                );
                k += n;
            }
        }
    }
}

/// Runs the check, then `run` (a level wrapper around `body`).
#[inline(always)]
fn checked(x: &mut [f32], dim: usize, run: unsafe fn(&mut [f32], usize)) -> Result<()> {
    check(x, dim)?;
    // SAFETY: `run`'s level is available because entries are only put in a table after
    // detection (see `ElementwiseKernels::for_isa`); `check` passed.
    unsafe { run(x, dim) };
    Ok(())
}

/// Portable entry.
pub(super) fn l2_normalize_f32_portable(x: &mut [f32], dim: usize) -> Result<()> {
    checked(x, dim, body::<super::lanes::Portable>)
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{l2_normalize_f32_avx2, l2_normalize_f32_avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::lanes_x86::{avx2_fn, avx512_fn, Avx2, Avx512};
    use super::*;

    avx2_fn! {
        unsafe fn run_avx2(x: &mut [f32], dim: usize) {
            // SAFETY: forwarded contract; this function enables the level.
            unsafe { body::<Avx2>(x, dim) }
        }
    }
    avx512_fn! {
        unsafe fn run_avx512(x: &mut [f32], dim: usize) {
            // SAFETY: forwarded contract; this function enables the level.
            unsafe { body::<Avx512>(x, dim) }
        }
    }
    /// AVX2 entry.
    pub(in super::super) fn l2_normalize_f32_avx2(x: &mut [f32], dim: usize) -> Result<()> {
        checked(x, dim, run_avx2)
    }
    /// AVX-512 entry.
    pub(in super::super) fn l2_normalize_f32_avx512(x: &mut [f32], dim: usize) -> Result<()> {
        checked(x, dim, run_avx512)
    }
}
