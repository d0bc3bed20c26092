//! The small vector vocabulary every op here is written in, so each op has ONE generic body and
//! each level is a thin `#[target_feature]` wrapper around it (the matrixmultiply/memchr pattern).
//!
//! Implementations: [`Portable`] (`wide::f32x8`, SSE2 on x86-64, NEON on aarch64) here, and the
//! AVX2 / AVX-512 ones in `lanes_x86.rs`. Methods are `#[inline(always)]` without target features
//! of their own: they are inlined into the wrapper, which carries the features.

use half::{bf16, f16};
use wide::{f32x8, i32x8};

/// Lane operations of one level.
///
/// # Safety contract (all methods)
/// The CPU supports the implementation's level (callers are bodies reached only through a kernel
/// table built after detection). Pointer methods read/write exactly the elements they name: `N`
/// for full, `n` (with `0 < n < N`) for `_part`; those must be valid. `_part` loads zero the
/// unread lanes; `_part` stores leave memory past `n` untouched.
pub(crate) trait Lanes: Copy {
    /// Lane count.
    const N: usize;
    unsafe fn splat(v: f32) -> Self;
    unsafe fn load_f32(p: *const f32) -> Self;
    unsafe fn load_f32_part(p: *const f32, n: usize) -> Self;
    unsafe fn load_f16(p: *const f16) -> Self;
    unsafe fn load_f16_part(p: *const f16, n: usize) -> Self;
    unsafe fn load_bf16(p: *const bf16) -> Self;
    unsafe fn load_bf16_part(p: *const bf16, n: usize) -> Self;
    unsafe fn store(self, p: *mut f32);
    unsafe fn store_part(self, p: *mut f32, n: usize);
    unsafe fn add(self, o: Self) -> Self;
    unsafe fn sub(self, o: Self) -> Self;
    unsafe fn mul(self, o: Self) -> Self;
    unsafe fn div(self, o: Self) -> Self;
    /// `self * a + b` (fused where the level has FMA).
    unsafe fn mul_add(self, a: Self, b: Self) -> Self;
    /// x86 `maxps` semantics: if either lane is NaN, the lane of `o` is returned.
    unsafe fn max(self, o: Self) -> Self;
    unsafe fn abs(self) -> Self;
    /// Round to nearest (ties to even); only used on |x| < 2^22.
    unsafe fn round(self) -> Self;
    /// 2^self for lanes holding integers in [-126, 127].
    unsafe fn pow2i(self) -> Self;
    /// Per lane: `if_neg` where `self`'s sign bit is set, else `if_not`.
    unsafe fn select_neg(self, if_neg: Self, if_not: Self) -> Self;
    unsafe fn reduce_add(self) -> f32;
    unsafe fn reduce_max(self) -> f32;
    /// Hint that the cache line holding `p` will be read soon (fetched into L2); never faults.
    unsafe fn prefetch(p: *const u8);
}

/// An element type a table may hold, loadable into any [`Lanes`].
pub(crate) trait LoadAs: super::Elem {
    /// Loads `L::N` elements widened to f32.
    ///
    /// # Safety
    /// As [`Lanes`]: `p..p+N` readable, level available.
    unsafe fn load<L: Lanes>(p: *const Self) -> L;
    /// Loads `n` elements (`0 < n < L::N`), zeroing the other lanes.
    ///
    /// # Safety
    /// As [`Lanes`]: `p..p+n` readable, level available.
    unsafe fn load_part<L: Lanes>(p: *const Self, n: usize) -> L;
}

macro_rules! load_as {
    ($t:ty, $full:ident, $part:ident) => {
        impl LoadAs for $t {
            #[inline(always)]
            unsafe fn load<L: Lanes>(p: *const Self) -> L {
                // SAFETY: forwarded contract.
                unsafe { L::$full(p) }
            }
            #[inline(always)]
            unsafe fn load_part<L: Lanes>(p: *const Self, n: usize) -> L {
                // SAFETY: forwarded contract.
                unsafe { L::$part(p, n) }
            }
        }
    };
}
load_as!(f32, load_f32, load_f32_part);
load_as!(f16, load_f16, load_f16_part);
load_as!(bf16, load_bf16, load_bf16_part);

/// The portable level: `wide::f32x8` (whatever `wide` was compiled for; SSE2 on plain x86-64).
#[derive(Clone, Copy)]
pub(crate) struct Portable(f32x8);

impl Portable {
    /// Copies `n <= 8` elements into a zeroed array and widens them.
    ///
    /// # Safety
    /// `p..p+n` readable.
    #[inline(always)]
    unsafe fn gather_n<T: LoadAs>(p: *const T, n: usize) -> Self {
        let mut a = [0.0f32; 8];
        for (i, slot) in a.iter_mut().enumerate().take(n) {
            // SAFETY: i < n and the caller guarantees p..p+n readable; unaligned-safe because
            // p is a valid `*const T` (slices guarantee T's alignment).
            *slot = unsafe { p.add(i).read() }.to_f32();
        }
        Portable(f32x8::new(a))
    }
}

impl Lanes for Portable {
    const N: usize = 8;
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Portable(f32x8::splat(v))
    }
    #[inline(always)]
    unsafe fn load_f32(p: *const f32) -> Self {
        // SAFETY: 8 readable f32s per the trait contract.
        Portable(f32x8::new(unsafe { p.cast::<[f32; 8]>().read_unaligned() }))
    }
    #[inline(always)]
    unsafe fn load_f32_part(p: *const f32, n: usize) -> Self {
        // SAFETY: forwarded contract.
        unsafe { Self::gather_n(p, n) }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const f16) -> Self {
        // SAFETY: forwarded contract.
        unsafe { Self::gather_n(p, 8) }
    }
    #[inline(always)]
    unsafe fn load_f16_part(p: *const f16, n: usize) -> Self {
        // SAFETY: forwarded contract.
        unsafe { Self::gather_n(p, n) }
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const bf16) -> Self {
        // SAFETY: forwarded contract.
        unsafe { Self::gather_n(p, 8) }
    }
    #[inline(always)]
    unsafe fn load_bf16_part(p: *const bf16, n: usize) -> Self {
        // SAFETY: forwarded contract.
        unsafe { Self::gather_n(p, n) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: 8 writable f32s per the trait contract.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(self.0.to_array()) }
    }
    #[inline(always)]
    unsafe fn store_part(self, p: *mut f32, n: usize) {
        let a = self.0.to_array();
        // SAFETY: n < 8 writable f32s per the trait contract; `a` is a distinct local.
        unsafe { std::ptr::copy_nonoverlapping(a.as_ptr(), p, n) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Portable(self.0 + o.0)
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        Portable(self.0 - o.0)
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        Portable(self.0 * o.0)
    }
    #[inline(always)]
    unsafe fn div(self, o: Self) -> Self {
        Portable(self.0 / o.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        Portable(self.0.mul_add(a.0, b.0))
    }
    #[inline(always)]
    unsafe fn max(self, o: Self) -> Self {
        // `fast_max` is `maxps` on x86 and NaN-propagating `vmaxq` on NEON; the NaN-aware `max`
        // would do the opposite of the contract.
        Portable(self.0.fast_max(o.0))
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        Portable(self.0.abs())
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        // 1.5 * 2^23: adding it leaves no fraction bits, so the FPU's round-to-nearest-even does
        // the rounding; exact for |x| < 2^22. Cheaper than `wide`'s general `round` on SSE2.
        const MAGIC: f32 = 12_582_912.0;
        let m = f32x8::splat(MAGIC);
        Portable((self.0 + m) - m)
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        let e = self.0.fast_round_int() + i32x8::splat(127);
        Portable(f32x8::from_bits((e << 23u32).cast_unsigned()))
    }
    #[inline(always)]
    unsafe fn select_neg(self, if_neg: Self, if_not: Self) -> Self {
        Portable(self.0.is_sign_negative().select(if_neg.0, if_not.0))
    }
    #[inline(always)]
    unsafe fn reduce_add(self) -> f32 {
        self.0.reduce_add()
    }
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        let a = self.0.to_array();
        // Same NaN rule as `max`: a NaN lane wins when it is the right-hand operand.
        a[1..].iter().fold(a[0], |m, &x| if m > x { m } else { x })
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const u8) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
            // SAFETY: SSE is part of the x86-64 baseline; prefetch never faults, whatever `p`.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(p.cast::<i8>()) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = p;
    }
}

/// Loads `n` elements, `0 < n <= L::N` (full load when `n == N`, else a zero-filled partial one).
///
/// # Safety
/// As [`Lanes`]: `p..p+n` readable, level available.
#[inline(always)]
pub(crate) unsafe fn load_n<L: Lanes, T: LoadAs>(p: *const T, n: usize) -> L {
    // SAFETY: forwarded contract.
    unsafe {
        if n == L::N {
            T::load::<L>(p)
        } else {
            T::load_part::<L>(p, n)
        }
    }
}

/// Stores the first `n` lanes, `0 < n <= L::N`.
///
/// # Safety
/// As [`Lanes`]: `p..p+n` writable, level available.
#[inline(always)]
pub(crate) unsafe fn store_n<L: Lanes>(v: L, p: *mut f32, n: usize) {
    // SAFETY: forwarded contract.
    unsafe {
        if n == L::N {
            v.store(p)
        } else {
            v.store_part(p, n)
        }
    }
}
