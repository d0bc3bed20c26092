//! AVX2 bodies: a 16-item block is two `__m256`. f16 widens with F16C `vcvtph2ps`, bf16 pairs
//! with a shift and a mask; the threshold test is `vcmpps` + `vmovmskps` per half.

use std::arch::x86_64::*;
use std::ops::Range;

use super::body::{self, Bf16, Lanes, F16, F32, I8};
use super::packed::PackedItems;
use super::result::TopK;
use super::TopkKernels;
use crate::kernels::dispatch::{Isa, Kernel};

/// 16 lanes as two `__m256`. Every method needs AVX2 + FMA + F16C (the wrappers enable them).
pub(super) struct Avx2;

impl Lanes for Avx2 {
    type V = [__m256; 2];

    #[inline(always)]
    unsafe fn zero() -> Self::V {
        // SAFETY: the caller's target features include avx2.
        unsafe { [_mm256_setzero_ps(); 2] }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self::V {
        // SAFETY: as above.
        unsafe { [_mm256_set1_ps(x); 2] }
    }
    #[inline(always)]
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        // SAFETY: as above, and fma.
        unsafe {
            [
                _mm256_fmadd_ps(a[0], b[0], c[0]),
                _mm256_fmadd_ps(a[1], b[1], c[1]),
            ]
        }
    }
    #[inline(always)]
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: as above.
        unsafe { [_mm256_add_ps(a[0], b[0]), _mm256_add_ps(a[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn load_f32(p: *const f32) -> Self::V {
        // SAFETY: the trait contract gives 64 readable, 64-byte aligned bytes at p.
        unsafe { [_mm256_load_ps(p), _mm256_load_ps(p.add(8))] }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> Self::V {
        // SAFETY: 32 readable, 32-byte aligned bytes at p; f16c has vcvtph2ps ymm.
        unsafe {
            [
                _mm256_cvtph_ps(_mm_load_si128(p.cast())),
                _mm256_cvtph_ps(_mm_load_si128(p.add(8).cast())),
            ]
        }
    }
    #[inline(always)]
    unsafe fn load_bf16_pairs(p: *const u32) -> (Self::V, Self::V) {
        // SAFETY: 64 readable, 64-byte aligned bytes at p. A bf16 is the top half of an f32.
        unsafe {
            let mask = _mm256_set1_epi32(0xffff_0000u32 as i32);
            let a = _mm256_load_si256(p.cast());
            let b = _mm256_load_si256(p.add(8).cast());
            let even = [_mm256_slli_epi32::<16>(a), _mm256_slli_epi32::<16>(b)];
            let odd = [_mm256_and_si256(a, mask), _mm256_and_si256(b, mask)];
            (
                even.map(|x| _mm256_castsi256_ps(x)),
                odd.map(|x| _mm256_castsi256_ps(x)),
            )
        }
    }
    #[inline(always)]
    unsafe fn load_i8(p: *const i8) -> Self::V {
        // SAFETY: 16 readable bytes at p (8-byte loads need no alignment); avx2 has vpmovsxbd.
        unsafe {
            let widen =
                |q: *const i8| _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(q.cast())));
            [widen(p), widen(p.add(8))]
        }
    }
    #[inline(always)]
    unsafe fn above(s: Self::V, t: Self::V) -> u32 {
        // SAFETY: as `zero`. NLE_UQ: not (s <= t), true when either is NaN.
        unsafe {
            let lo = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NLE_UQ>(s[0], t[0])) as u32;
            let hi = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NLE_UQ>(s[1], t[1])) as u32;
            lo | (hi << 8)
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: the caller provides 16 writable f32 at p.
        unsafe {
            _mm256_storeu_ps(p, v[0]);
            _mm256_storeu_ps(p.add(8), v[1]);
        }
    }
}

macro_rules! avx2_entries {
    ($($scan:ident, $batch:ident, $elem:ty;)*) => {$(
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn $scan(items: &PackedItems, groups: Range<usize>, top: &mut TopK) {
            // SAFETY: features enabled above; `items` holds `$elem` (the table picks by dtype).
            unsafe { body::scan::<Avx2, $elem>(items, groups, top) }
        }
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn $batch(items: &PackedItems, groups: Range<usize>, tops: &mut [TopK]) {
            // SAFETY: as above. Tile: 1 block × 2 queries × 2 parities × 2 halves = 8 ymm
            // accumulators, 4 item halves and 2 query broadcasts: 14 of the 16 registers.
            unsafe { body::scan_batch::<Avx2, $elem, 1, 2>(items, groups, tops) }
        }
    )*};
}

avx2_entries! {
    scan_f32, batch_f32, F32;
    scan_f16, batch_f16, F16;
    scan_bf16, batch_bf16, Bf16;
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn scan_screen(items: &PackedItems, groups: Range<usize>, top: &mut TopK) {
    // SAFETY: features enabled above; the screen codes are i8 (`I8` reads them, asserting).
    unsafe { body::scan::<Avx2, I8>(items, groups, top) }
}

/// Safe entry points: only reachable through [`kernels`], which hands them out only after
/// `Isa::Avx2.is_available()`.
macro_rules! safe_entries {
    ($($safe:ident => $inner:ident ($($arg:ident: $ty:ty),*);)*) => {$(
        fn $safe($($arg: $ty),*) {
            // SAFETY: installed only in tables built after AVX2, FMA and F16C were detected.
            unsafe { $inner($($arg),*) }
        }
    )*};
}

safe_entries! {
    topk_f32_avx2 => scan_f32(items: &PackedItems, groups: Range<usize>, top: &mut TopK);
    topk_f16_avx2 => scan_f16(items: &PackedItems, groups: Range<usize>, top: &mut TopK);
    topk_bf16_avx2 => scan_bf16(items: &PackedItems, groups: Range<usize>, top: &mut TopK);
    topk_batch_f32_avx2 => batch_f32(items: &PackedItems, groups: Range<usize>, tops: &mut [TopK]);
    topk_batch_f16_avx2 => batch_f16(items: &PackedItems, groups: Range<usize>, tops: &mut [TopK]);
    topk_batch_bf16_avx2 => batch_bf16(items: &PackedItems, groups: Range<usize>, tops: &mut [TopK]);
    topk_screen_i8_avx2 => scan_screen(items: &PackedItems, groups: Range<usize>, top: &mut TopK);
}

/// The AVX2 table, or `None` on a CPU without AVX2 (the entries' safety rests on this).
pub(super) fn kernels() -> Option<TopkKernels> {
    Isa::Avx2.is_available().then(|| TopkKernels {
        scan_f32: entry("topk_f32_avx2", topk_f32_avx2),
        scan_f16: entry("topk_f16_avx2", topk_f16_avx2),
        scan_bf16: entry("topk_bf16_avx2", topk_bf16_avx2),
        batch_f32: entry("topk_batch_f32_avx2", topk_batch_f32_avx2),
        batch_f16: entry("topk_batch_f16_avx2", topk_batch_f16_avx2),
        batch_bf16: entry("topk_batch_bf16_avx2", topk_batch_bf16_avx2),
        screen_i8: entry("topk_screen_i8_avx2", topk_screen_i8_avx2),
    })
}

fn entry<F: Copy>(name: &'static str, f: F) -> Kernel<F> {
    Kernel {
        name,
        isa: Isa::Avx2,
        f,
    }
}
