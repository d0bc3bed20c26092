//! Portable bodies through `wide` (SSE2 on baseline x86-64, NEON on aarch64): 16 lanes as two
//! `f32x8`. `wide` fixes its instructions at compile time, so this is the fallback, not the
//! fast path.

use half::f16;
use std::ops::Range;

use wide::{f32x8, u32x8};

use super::body::{self, Bf16, Lanes, F16, F32, I8};
use super::packed::PackedItems;
use super::result::TopK;
use super::TopkKernels;
use crate::kernels::dispatch::{Isa, Kernel};

/// 16 lanes as two `wide::f32x8`.
pub(super) struct Portable;

/// Eight elements at `p`, which must be readable.
#[inline(always)]
unsafe fn read8<T: Copy>(p: *const T) -> [T; 8] {
    // SAFETY: the caller guarantees 8 readable elements at `p`; no alignment is assumed.
    unsafe { p.cast::<[T; 8]>().read_unaligned() }
}

impl Lanes for Portable {
    type V = [f32x8; 2];

    #[inline(always)]
    unsafe fn zero() -> Self::V {
        [f32x8::ZERO; 2]
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self::V {
        [f32x8::splat(x); 2]
    }
    #[inline(always)]
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        [a[0].mul_add(b[0], c[0]), a[1].mul_add(b[1], c[1])]
    }
    #[inline(always)]
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        [a[0] + b[0], a[1] + b[1]]
    }
    #[inline(always)]
    unsafe fn load_f32(p: *const f32) -> Self::V {
        // SAFETY: the trait contract gives 16 readable f32 at p.
        unsafe { [f32x8::from(read8(p)), f32x8::from(read8(p.add(8)))] }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> Self::V {
        let widen = |h: [u16; 8]| f32x8::from(h.map(|b| f16::from_bits(b).to_f32()));
        // SAFETY: the trait contract gives 16 readable u16 at p.
        unsafe { [widen(read8(p)), widen(read8(p.add(8)))] }
    }
    #[inline(always)]
    unsafe fn load_bf16_pairs(p: *const u32) -> (Self::V, Self::V) {
        let hi_mask = u32x8::splat(0xffff_0000);
        // SAFETY: the trait contract gives 16 readable u32 at p.
        let (lo, hi) = unsafe { (u32x8::from(read8(p)), u32x8::from(read8(p.add(8)))) };
        let f = |x: u32x8| -> f32x8 { bytemuck::cast(x) };
        (
            [f(lo << 16), f(hi << 16)],
            [f(lo & hi_mask), f(hi & hi_mask)],
        )
    }
    #[inline(always)]
    unsafe fn load_i8(p: *const i8) -> Self::V {
        let widen = |c: [i8; 8]| f32x8::from(c.map(f32::from));
        // SAFETY: the trait contract gives 16 readable i8 at p.
        unsafe { [widen(read8(p)), widen(read8(p.add(8)))] }
    }
    #[inline(always)]
    unsafe fn above(s: Self::V, t: Self::V) -> u32 {
        let le = s[0].simd_le(t[0]).to_bitmask() | (s[1].simd_le(t[1]).to_bitmask() << 8);
        !le & 0xffff
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        let out = p.cast::<[f32; 8]>();
        // SAFETY: the caller provides 16 writable f32 at p.
        unsafe {
            out.write_unaligned(v[0].to_array());
            out.add(1).write_unaligned(v[1].to_array());
        }
    }
}

macro_rules! portable_entries {
    ($($scan:ident, $batch:ident, $elem:ty;)*) => {$(
        fn $scan(items: &PackedItems, groups: Range<usize>, top: &mut TopK) {
            // SAFETY: portable lanes need no CPU feature; `items` holds `$elem` (chosen by dtype).
            unsafe { body::scan::<Portable, $elem>(items, groups, top) }
        }
        fn $batch(items: &PackedItems, groups: Range<usize>, tops: &mut [TopK]) {
            // SAFETY: as above. One block × two queries: SSE2 has only 16 registers.
            unsafe { body::scan_batch::<Portable, $elem, 1, 2>(items, groups, tops) }
        }
    )*};
}

portable_entries! {
    topk_f32_portable, topk_batch_f32_portable, F32;
    topk_f16_portable, topk_batch_f16_portable, F16;
    topk_bf16_portable, topk_batch_bf16_portable, Bf16;
}

fn topk_screen_i8_portable(items: &PackedItems, groups: Range<usize>, top: &mut TopK) {
    // SAFETY: portable lanes need no CPU feature; the screen codes are i8 (`I8` asserts it).
    unsafe { body::scan::<Portable, I8>(items, groups, top) }
}

/// The portable table.
pub(super) fn kernels() -> TopkKernels {
    TopkKernels {
        scan_f32: entry("topk_f32_portable", topk_f32_portable),
        scan_f16: entry("topk_f16_portable", topk_f16_portable),
        scan_bf16: entry("topk_bf16_portable", topk_bf16_portable),
        batch_f32: entry("topk_batch_f32_portable", topk_batch_f32_portable),
        batch_f16: entry("topk_batch_f16_portable", topk_batch_f16_portable),
        batch_bf16: entry("topk_batch_bf16_portable", topk_batch_bf16_portable),
        screen_i8: entry("topk_screen_i8_portable", topk_screen_i8_portable),
    }
}

fn entry<F: Copy>(name: &'static str, f: F) -> Kernel<F> {
    Kernel {
        name,
        isa: Isa::Portable,
        f,
    }
}
