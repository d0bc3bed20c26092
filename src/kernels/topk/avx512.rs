//! AVX-512 bodies: one `__m512` is one 16-item block. f16 widens with `vcvtph2ps` straight
//! from memory, bf16 pairs with a shift and a mask; the threshold test is one `vcmpps` into a
//! mask register.

use std::arch::x86_64::*;
use std::ops::Range;

use super::body::{self, Bf16, Lanes, F16, F32, I8};
use super::packed::PackedItems;
use super::result::TopK;
use super::TopkKernels;
use crate::kernels::dispatch::{Isa, Kernel};

/// 16 lanes as one `__m512`. Every method needs AVX-512F (the wrappers below enable it).
pub(super) struct Avx512;

impl Lanes for Avx512 {
    type V = __m512;

    #[inline(always)]
    unsafe fn zero() -> __m512 {
        // SAFETY: the caller's target features include avx512f.
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        // SAFETY: as above.
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: as above.
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        // SAFETY: as above.
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn load_f32(p: *const f32) -> __m512 {
        // SAFETY: the trait contract gives 64 readable, 64-byte aligned bytes at p.
        unsafe { _mm512_load_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> __m512 {
        // SAFETY: 32 readable, 32-byte aligned bytes at p; avx512f has vcvtph2ps zmm.
        unsafe { _mm512_cvtph_ps(_mm256_load_si256(p.cast())) }
    }
    #[inline(always)]
    unsafe fn load_bf16_pairs(p: *const u32) -> (__m512, __m512) {
        // SAFETY: 64 readable, 64-byte aligned bytes at p. A bf16 is the top half of an f32.
        unsafe {
            let x = _mm512_load_si512(p.cast());
            let even = _mm512_slli_epi32::<16>(x);
            let odd = _mm512_and_si512(x, _mm512_set1_epi32(0xffff_0000u32 as i32));
            (_mm512_castsi512_ps(even), _mm512_castsi512_ps(odd))
        }
    }
    #[inline(always)]
    unsafe fn load_i8(p: *const i8) -> __m512 {
        // SAFETY: 16 readable, 16-byte aligned bytes at p; avx512f has vpmovsxbd zmm.
        unsafe { _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_load_si128(p.cast()))) }
    }
    #[inline(always)]
    unsafe fn above(s: __m512, t: __m512) -> u32 {
        // SAFETY: as `zero`. NLE_UQ: not (s <= t), true when either is NaN.
        unsafe { u32::from(_mm512_cmp_ps_mask::<_CMP_NLE_UQ>(s, t)) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        // SAFETY: the caller provides 16 writable f32 at p.
        unsafe { _mm512_storeu_ps(p, v) }
    }
}

macro_rules! avx512_entries {
    ($($scan:ident, $batch:ident, $elem:ty;)*) => {$(
        #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")]
        unsafe fn $scan(items: &PackedItems, groups: Range<usize>, top: &mut TopK) {
            // SAFETY: features enabled above; `items` holds `$elem` (the table picks by dtype).
            unsafe { body::scan::<Avx512, $elem>(items, groups, top) }
        }
        #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")]
        unsafe fn $batch(items: &PackedItems, groups: Range<usize>, tops: &mut [TopK]) {
            // SAFETY: as above. Up to 256 dimensions: 1 block × 12 packed queries × 2
            // parities = 24 zmm accumulators, each broadcast folded into its FMA. Wider items:
            // 2 blocks × 6 queries × 2 parities, 4 item vectors and 12 separate broadcasts.
            unsafe {
                if items.padded_dims() / 2 <= body::QPACKED_MAX_STEPS {
                    body::scan_batch_qpacked::<Avx512, $elem>(items, groups, tops)
                } else {
                    body::scan_batch::<Avx512, $elem, 2, 6>(items, groups, tops)
                }
            }
        }
    )*};
}

avx512_entries! {
    scan_f32, batch_f32, F32;
    scan_f16, batch_f16, F16;
    scan_bf16, batch_bf16, Bf16;
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")]
unsafe fn scan_screen(items: &PackedItems, groups: Range<usize>, top: &mut TopK) {
    // SAFETY: features enabled above; the screen codes are i8 (`I8` reads them, asserting).
    unsafe { body::scan::<Avx512, I8>(items, groups, top) }
}

/// Safe entry points: only reachable through [`kernels`], which hands them out only after
/// `Isa::Avx512.is_available()`.
macro_rules! safe_entries {
    ($($safe:ident => $inner:ident ($($arg:ident: $ty:ty),*);)*) => {$(
        fn $safe($($arg: $ty),*) {
            // SAFETY: installed only in tables built after AVX-512 F/BW/DQ/VL were detected.
            unsafe { $inner($($arg),*) }
        }
    )*};
}

safe_entries! {
    topk_f32_avx512 => scan_f32(items: &PackedItems, groups: Range<usize>, top: &mut TopK);
    topk_f16_avx512 => scan_f16(items: &PackedItems, groups: Range<usize>, top: &mut TopK);
    topk_bf16_avx512 => scan_bf16(items: &PackedItems, groups: Range<usize>, top: &mut TopK);
    topk_batch_f32_avx512 => batch_f32(items: &PackedItems, groups: Range<usize>, tops: &mut [TopK]);
    topk_batch_f16_avx512 => batch_f16(items: &PackedItems, groups: Range<usize>, tops: &mut [TopK]);
    topk_batch_bf16_avx512 => batch_bf16(items: &PackedItems, groups: Range<usize>, tops: &mut [TopK]);
    topk_screen_i8_avx512 => scan_screen(items: &PackedItems, groups: Range<usize>, top: &mut TopK);
}

/// The AVX-512 table, or `None` on a CPU without AVX-512 (the entries' safety rests on this).
pub(super) fn kernels() -> Option<TopkKernels> {
    Isa::Avx512.is_available().then(|| TopkKernels {
        scan_f32: entry("topk_f32_avx512", topk_f32_avx512),
        scan_f16: entry("topk_f16_avx512", topk_f16_avx512),
        scan_bf16: entry("topk_bf16_avx512", topk_bf16_avx512),
        batch_f32: entry("topk_batch_f32_avx512", topk_batch_f32_avx512),
        batch_f16: entry("topk_batch_f16_avx512", topk_batch_f16_avx512),
        batch_bf16: entry("topk_batch_bf16_avx512", topk_batch_bf16_avx512),
        screen_i8: entry("topk_screen_i8_avx512", topk_screen_i8_avx512),
    })
}

fn entry<F: Copy>(name: &'static str, f: F) -> Kernel<F> {
    Kernel {
        name,
        isa: Isa::Avx512,
        f,
    }
}
