//! Logistic sigmoid in place, `1 / (1 + e^-x)`, stable for any |x|.
//!
//! With t = e^-|x| ∈ (0, 1] (never overflows): σ(x) = 1/(1+t) for x ≥ 0 and t/(1+t) for x < 0,
//! so the small side keeps its full relative precision down into the subnormals. The error
//! bound against `torch.sigmoid` over every f32 is proved by an exhaustive test (see
//! `tests/kernels_elementwise.rs`). NaN stays NaN.

use super::lanes::{load_n, store_n, Lanes};
use super::math::exp_nonpos;

/// Signature of a sigmoid entry (in place; any length).
pub type SigmoidFn = fn(&mut [f32]);

/// The reference twin: the same stable formula in f64, rounded once to f32.
pub fn sigmoid_ref(x: &mut [f32]) {
    for v in x {
        let z = *v as f64;
        *v = if z >= 0.0 {
            1.0 / (1.0 + (-z).exp())
        } else {
            let e = z.exp();
            e / (1.0 + e)
        } as f32;
    }
}

/// σ of one vector.
///
/// # Safety
/// `L`'s level is available.
#[inline(always)]
unsafe fn sigmoid_lanes<L: Lanes>(x: L) -> L {
    // SAFETY: level available (caller).
    unsafe {
        let one = L::splat(1.0);
        let t = exp_nonpos(L::splat(0.0).sub(x.abs()));
        let r = one.div(one.add(t));
        x.select_neg(t.mul(r), r)
    }
}

/// The one body every level runs.
///
/// # Safety
/// `L`'s level is available.
#[inline(always)]
unsafe fn body<L: Lanes>(x: &mut [f32]) {
    let len = x.len();
    let p = x.as_mut_ptr();
    let mut k = 0;
    while k < len {
        let n = (len - k).min(L::N);
        // SAFETY: k..k+n is inside `x`; level available (caller).
        unsafe { store_n(sigmoid_lanes(load_n::<L, f32>(p.add(k), n)), p.add(k), n) };
        k += n;
    }
}

/// Portable entry.
pub(super) fn sigmoid_f32_portable(x: &mut [f32]) {
    // SAFETY: the portable level is always available.
    unsafe { body::<super::lanes::Portable>(x) }
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{sigmoid_f32_avx2, sigmoid_f32_avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::lanes_x86::{avx2_fn, avx512_fn, Avx2, Avx512};
    use super::*;

    avx2_fn! {
        unsafe fn run_avx2(x: &mut [f32]) {
            // SAFETY: this function enables the level.
            unsafe { body::<Avx2>(x) }
        }
    }
    avx512_fn! {
        unsafe fn run_avx512(x: &mut [f32]) {
            // SAFETY: this function enables the level.
            unsafe { body::<Avx512>(x) }
        }
    }
    /// AVX2 entry.
    pub(in super::super) fn sigmoid_f32_avx2(x: &mut [f32]) {
        // SAFETY: only put in a table after AVX2 was detected (`ElementwiseKernels::for_isa`).
        unsafe { run_avx2(x) }
    }
    /// AVX-512 entry.
    pub(in super::super) fn sigmoid_f32_avx512(x: &mut [f32]) {
        // SAFETY: only put in a table after AVX-512 was detected (`ElementwiseKernels::for_isa`).
        unsafe { run_avx512(x) }
    }
}
