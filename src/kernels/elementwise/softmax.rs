//! Softmax over each row of `cols`, in place, stable by subtracting the row max first.
//!
//! Edge cases, chosen to match `torch.softmax` in f32:
//! - an empty row set (`x.len() == 0`) is a no-op, whatever `cols` is;
//! - a row of only `-inf` (and any row holding NaN or `+inf`) becomes all NaN;
//! - `-inf` entries beside a finite one become exactly 0.

use super::lanes::{load_n, store_n, Lanes};
use super::math::exp_nonpos;
use crate::error::{Error, Result};

/// Signature of a softmax entry: `(x[rows·cols], cols)`.
pub type SoftmaxFn = fn(&mut [f32], usize) -> Result<()>;

fn check(x: &[f32], cols: usize) -> Result<()> {
    if x.is_empty() || (cols > 0 && x.len().is_multiple_of(cols)) {
        return Ok(());
    }
    Err(Error::InvalidArgument {
        arg: "cols",
        reason: format!(
            "softmax: {} values do not split into rows of {cols}",
            x.len()
        ),
    })
}

/// The reference twin: the max and `x - max` in f32 (as torch does), `exp` and the sum in f64.
pub fn softmax_ref(x: &mut [f32], cols: usize) -> Result<()> {
    check(x, cols)?;
    if x.is_empty() {
        return Ok(());
    }
    for row in x.chunks_exact_mut(cols) {
        let m = row
            .iter()
            .fold(f32::NEG_INFINITY, |m, &v| if m > v { m } else { v });
        let e: Vec<f64> = row.iter().map(|&v| ((v - m) as f64).exp()).collect();
        let sum: f64 = e.iter().sum();
        for (v, e) in row.iter_mut().zip(e) {
            *v = (e / sum) as f32;
        }
    }
    Ok(())
}

/// One row.
///
/// # Safety
/// `L`'s level is available.
#[inline(always)]
unsafe fn row_softmax<L: Lanes>(row: &mut [f32]) {
    let len = row.len();
    let p = row.as_mut_ptr();
    // SAFETY: (whole block) every access is a chunk k..k+n inside `row`; level available.
    unsafe {
        // Pass 1: the max. Full vectors only; the tail in scalar so zero-filled lanes cannot win.
        let mut vm = L::splat(f32::NEG_INFINITY);
        let mut k = 0;
        while k + L::N <= len {
            vm = vm.max(L::load_f32(p.add(k)));
            k += L::N;
        }
        let m = row[k..]
            .iter()
            .fold(vm.reduce_max(), |m, &v| if m > v { m } else { v });
        // Pass 2: e = exp(x - m), stored, summed. The tail's sum re-reads what was stored, so the
        // lanes past the row (exp(0 - m) of the zero fill) never enter it.
        let vmax = L::splat(m);
        let mut sum = L::splat(0.0);
        let mut k = 0;
        while k < len {
            let n = (len - k).min(L::N);
            let e = exp_nonpos(load_n::<L, f32>(p.add(k), n).sub(vmax));
            store_n(e, p.add(k), n);
            sum = sum.add(if n == L::N {
                e
            } else {
                L::load_f32_part(p.add(k), n)
            });
            k += n;
        }
        // Pass 3: scale by the reciprocal, as torch's CPU kernel does.
        let inv = L::splat(1.0 / sum.reduce_add());
        let mut k = 0;
        while k < len {
            let n = (len - k).min(L::N);
            store_n(load_n::<L, f32>(p.add(k), n).mul(inv), p.add(k), n);
            k += n;
        }
    }
}

/// The one body every level runs.
///
/// # Safety
/// `L`'s level is available; `check` passed.
#[inline(always)]
unsafe fn body<L: Lanes>(x: &mut [f32], cols: usize) {
    if x.is_empty() {
        return;
    }
    for row in x.chunks_exact_mut(cols) {
        // SAFETY: level available (caller).
        unsafe { row_softmax::<L>(row) }
    }
}

/// Runs the check, then `run` (a level wrapper around `body`).
#[inline(always)]
fn checked(x: &mut [f32], cols: usize, run: unsafe fn(&mut [f32], usize)) -> Result<()> {
    check(x, cols)?;
    // SAFETY: `run`'s level is available because entries are only put in a table after
    // detection (see `ElementwiseKernels::for_isa`); `check` passed.
    unsafe { run(x, cols) };
    Ok(())
}

/// Portable entry.
pub(super) fn softmax_f32_portable(x: &mut [f32], cols: usize) -> Result<()> {
    checked(x, cols, body::<super::lanes::Portable>)
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{softmax_f32_avx2, softmax_f32_avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::lanes_x86::{avx2_fn, avx512_fn, Avx2, Avx512};
    use super::*;

    avx2_fn! {
        unsafe fn run_avx2(x: &mut [f32], cols: usize) {
            // SAFETY: forwarded contract; this function enables the level.
            unsafe { body::<Avx2>(x, cols) }
        }
    }
    avx512_fn! {
        unsafe fn run_avx512(x: &mut [f32], cols: usize) {
            // SAFETY: forwarded contract; this function enables the level.
            unsafe { body::<Avx512>(x, cols) }
        }
    }
    /// AVX2 entry.
    pub(in super::super) fn softmax_f32_avx2(x: &mut [f32], cols: usize) -> Result<()> {
        checked(x, cols, run_avx2)
    }
    /// AVX-512 entry.
    pub(in super::super) fn softmax_f32_avx512(x: &mut [f32], cols: usize) -> Result<()> {
        checked(x, cols, run_avx512)
    }
}
