//! Factorisation-machine second-order term (DeepFM):
//! `out[b] = ½ Σ_d ((Σ_f e_bfd)² − Σ_f e_bfd²)` over embeddings `[B, F, D]` (each sample one
//! row-major `F·D` row).
//!
//! Like PyTorch in f32, values whose squares overflow f32 (|e| ≳ 1.8e19) give inf/NaN.

use super::lanes::{load_n, Lanes};
use super::view::check_len;
use crate::error::Result;

/// Signature of an FM entry: `(emb[B·F·D], fields F, dim D, out[B])`.
pub type FmFn = fn(&[f32], usize, usize, &mut [f32]) -> Result<()>;

/// `emb` must be exactly `out.len() × fields × dim`.
fn check(emb: &[f32], fields: usize, dim: usize, out: &[f32]) -> Result<()> {
    let expected = out
        .len()
        .checked_mul(fields)
        .and_then(|x| x.checked_mul(dim));
    check_len("fm", "emb", expected.unwrap_or(usize::MAX), emb.len())
}

/// The reference twin, accumulating in f64 so it serves as the oracle (the kernel's f32 error is
/// bounded in the tests relative to `Σ_d (Σ_f |e|)²`).
pub fn fm_ref(emb: &[f32], fields: usize, dim: usize, out: &mut [f32]) -> Result<()> {
    check(emb, fields, dim, out)?;
    for (b, o) in out.iter_mut().enumerate() {
        let mut total = 0.0f64;
        for d in 0..dim {
            let (mut sum, mut sq) = (0.0f64, 0.0f64);
            for f in 0..fields {
                let e = emb[(b * fields + f) * dim + d] as f64;
                sum += e;
                sq += e * e;
            }
            total += sum * sum - sq;
        }
        *o = (0.5 * total) as f32;
    }
    Ok(())
}

/// `(Σ_f e)² − Σ_f e²` for one `N`-lane chunk of dimensions, as lanes; `load(f)` gives field f's
/// chunk.
///
/// Computed as the equal sum `2 Σ_f e_f · (Σ_{g<f} e_g)` — the same cost (one FMA and one add per
/// field) without subtracting two large positive numbers: with 26 fields × 16 dims the textbook
/// form cancels ~200× (sum of squares 417, result −2.3 on a fixture), which put f32 results
/// 1e-5 from the exact answer; the pairwise form's rounding scales with the cross terms instead.
///
/// # Safety
/// `L`'s level is available (the loads are the caller's).
#[inline(always)]
pub(super) unsafe fn fm_chunk<L: Lanes>(fields: usize, mut load: impl FnMut(usize) -> L) -> L {
    // SAFETY: level available (caller).
    unsafe {
        let (mut prefix, mut cross) = (L::splat(0.0), L::splat(0.0));
        for f in 0..fields {
            let e = load(f);
            cross = e.mul_add(prefix, cross);
            prefix = prefix.add(e);
        }
        cross.add(cross)
    }
}

/// The one body every level runs.
///
/// # Safety
/// `L`'s level is available; `check` passed.
#[inline(always)]
unsafe fn body<L: Lanes>(emb: &[f32], fields: usize, dim: usize, out: &mut [f32]) {
    let src = emb.as_ptr();
    for (b, o) in out.iter_mut().enumerate() {
        let sample = b * fields * dim;
        // SAFETY: (whole block) level available; every chunk `sample + f·dim + k .. + n` lies in
        // `emb` because its length is exactly B·F·D (checked).
        unsafe {
            let mut tot = L::splat(0.0);
            let mut k = 0;
            while k < dim {
                let n = (dim - k).min(L::N);
                let c = fm_chunk::<L>(fields, |f| {
                    load_n::<L, f32>(src.add(sample + f * dim + k), n)
                });
                tot = tot.add(c);
                k += n;
            }
            *o = 0.5 * tot.reduce_add();
        }
    }
}

/// Runs the check, then `run` (a level wrapper around `body`).
#[inline(always)]
fn checked(
    emb: &[f32],
    fields: usize,
    dim: usize,
    out: &mut [f32],
    run: unsafe fn(&[f32], usize, usize, &mut [f32]),
) -> Result<()> {
    check(emb, fields, dim, out)?;
    // SAFETY: `check` is `body`'s contract; `run`'s level is available because entries are only
    // put in a table after detection (see `ElementwiseKernels::for_isa`).
    unsafe { run(emb, fields, dim, out) };
    Ok(())
}

/// Portable entry.
pub(super) fn fm_f32_portable(
    emb: &[f32],
    fields: usize,
    dim: usize,
    out: &mut [f32],
) -> Result<()> {
    checked(emb, fields, dim, out, body::<super::lanes::Portable>)
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{fm_f32_avx2, fm_f32_avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::lanes_x86::{avx2_fn, avx512_fn, Avx2, Avx512};
    use super::*;

    avx2_fn! {
        unsafe fn run_avx2(emb: &[f32], fields: usize, dim: usize, out: &mut [f32]) {
            // SAFETY: forwarded contract; this function enables the level.
            unsafe { body::<Avx2>(emb, fields, dim, out) }
        }
    }
    avx512_fn! {
        unsafe fn run_avx512(emb: &[f32], fields: usize, dim: usize, out: &mut [f32]) {
            // SAFETY: forwarded contract; this function enables the level.
            unsafe { body::<Avx512>(emb, fields, dim, out) }
        }
    }
    /// AVX2 entry.
    pub(in super::super) fn fm_f32_avx2(
        emb: &[f32],
        fields: usize,
        dim: usize,
        out: &mut [f32],
    ) -> Result<()> {
        checked(emb, fields, dim, out, run_avx2)
    }
    /// AVX-512 entry.
    pub(in super::super) fn fm_f32_avx512(
        emb: &[f32],
        fields: usize,
        dim: usize,
        out: &mut [f32],
    ) -> Result<()> {
        checked(emb, fields, dim, out, run_avx512)
    }
}
