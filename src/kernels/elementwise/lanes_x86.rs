//! [`Lanes`] for AVX2 (`__m256`, 8 lanes) and AVX-512 (`__m512`, 16 lanes).
//!
//! Tails use hardware masking (`vmaskmovps`, AVX-512 `k` masks), which never faults on the
//! masked-off bytes, so a row ending at the last byte of an mmap'd file is safe. AVX2 has no 16-bit masked
//! load, so its f16/bf16 tails go through a small stack buffer.

use std::arch::x86_64::*;

use half::{bf16, f16};

use super::lanes::Lanes;

/// Puts the AVX2 level's `#[target_feature]` list (matching `Isa::Avx2.is_available`) on items.
macro_rules! avx2_fn {
    ($($item:item)*) => { $( #[target_feature(enable = "avx2,fma,f16c")] $item )* };
}
/// Puts the AVX-512 level's `#[target_feature]` list (matching `Isa::Avx512.is_available`) on items.
macro_rules! avx512_fn {
    ($($item:item)*) => {
        $( #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")] $item )*
    };
}
pub(crate) use {avx2_fn, avx512_fn};

/// AVX2 + FMA + F16C lanes.
#[derive(Clone, Copy)]
pub(crate) struct Avx2(__m256);

impl Avx2 {
    /// Lanes `< n` all-ones, the rest zero: the `vmaskmovps` mask.
    #[inline(always)]
    unsafe fn mask(n: usize) -> __m256i {
        // SAFETY: AVX2 available per the trait contract.
        unsafe {
            _mm256_cmpgt_epi32(
                _mm256_set1_epi32(n as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            )
        }
    }
    /// Copies `n < 8` 16-bit elements to a zeroed buffer (no masked 16-bit load in AVX2).
    #[inline(always)]
    unsafe fn buf16(p: *const u16, n: usize) -> __m128i {
        let mut b = [0u16; 8];
        // SAFETY: `p..p+n` readable per the trait contract; `b` holds 8 > n elements.
        unsafe {
            std::ptr::copy_nonoverlapping(p, b.as_mut_ptr(), n);
            _mm_loadu_si128(b.as_ptr().cast())
        }
    }
    #[inline(always)]
    unsafe fn widen_bf16(h: __m128i) -> __m256 {
        // SAFETY: AVX2 available per the trait contract. bf16 is the high half of an f32.
        unsafe { _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h))) }
    }
}

impl Lanes for Avx2 {
    const N: usize = 8;
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: AVX available per the trait contract.
        Avx2(unsafe { _mm256_set1_ps(v) })
    }
    #[inline(always)]
    unsafe fn load_f32(p: *const f32) -> Self {
        // SAFETY: 8 readable f32s, AVX available (trait contract).
        Avx2(unsafe { _mm256_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn load_f32_part(p: *const f32, n: usize) -> Self {
        // SAFETY: masked-off lanes are not accessed; the first n are readable (trait contract).
        Avx2(unsafe { _mm256_maskload_ps(p, Self::mask(n)) })
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const f16) -> Self {
        // SAFETY: 8 readable f16s (16 bytes), F16C available (trait contract).
        Avx2(unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) })
    }
    #[inline(always)]
    unsafe fn load_f16_part(p: *const f16, n: usize) -> Self {
        // SAFETY: forwarded contract.
        Avx2(unsafe { _mm256_cvtph_ps(Self::buf16(p.cast(), n)) })
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const bf16) -> Self {
        // SAFETY: 8 readable bf16s (16 bytes), AVX2 available (trait contract).
        Avx2(unsafe { Self::widen_bf16(_mm_loadu_si128(p.cast())) })
    }
    #[inline(always)]
    unsafe fn load_bf16_part(p: *const bf16, n: usize) -> Self {
        // SAFETY: forwarded contract.
        Avx2(unsafe { Self::widen_bf16(Self::buf16(p.cast(), n)) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: 8 writable f32s (trait contract).
        unsafe { _mm256_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn store_part(self, p: *mut f32, n: usize) {
        // SAFETY: only the first n lanes are written, and those are writable (trait contract).
        unsafe { _mm256_maskstore_ps(p, Self::mask(n), self.0) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: AVX available (trait contract).
        Avx2(unsafe { _mm256_add_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: AVX available (trait contract).
        Avx2(unsafe { _mm256_sub_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        // SAFETY: AVX available (trait contract).
        Avx2(unsafe { _mm256_mul_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn div(self, o: Self) -> Self {
        // SAFETY: AVX available (trait contract).
        Avx2(unsafe { _mm256_div_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        // SAFETY: FMA available (trait contract).
        Avx2(unsafe { _mm256_fmadd_ps(self.0, a.0, b.0) })
    }
    #[inline(always)]
    unsafe fn max(self, o: Self) -> Self {
        // SAFETY: AVX available (trait contract). `vmaxps` returns the second operand on NaN.
        Avx2(unsafe { _mm256_max_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: AVX available (trait contract).
        Avx2(unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0) })
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        // SAFETY: AVX available (trait contract).
        Avx2(unsafe {
            _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(self.0)
        })
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        // SAFETY: AVX2 available (trait contract); lanes are integers in [-126, 127].
        Avx2(unsafe {
            let e = _mm256_add_epi32(_mm256_cvtps_epi32(self.0), _mm256_set1_epi32(127));
            _mm256_castsi256_ps(_mm256_slli_epi32::<23>(e))
        })
    }
    #[inline(always)]
    unsafe fn select_neg(self, if_neg: Self, if_not: Self) -> Self {
        // SAFETY: AVX available (trait contract). `vblendvps` selects on the sign bit.
        Avx2(unsafe { _mm256_blendv_ps(if_not.0, if_neg.0, self.0) })
    }
    #[inline(always)]
    unsafe fn reduce_add(self) -> f32 {
        // SAFETY: AVX available (trait contract).
        unsafe {
            let s = _mm_add_ps(
                _mm256_castps256_ps128(self.0),
                _mm256_extractf128_ps::<1>(self.0),
            );
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
        }
    }
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        // SAFETY: AVX available (trait contract).
        unsafe {
            let s = _mm_max_ps(
                _mm256_castps256_ps128(self.0),
                _mm256_extractf128_ps::<1>(self.0),
            );
            let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)))
        }
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const u8) {
        // SAFETY: SSE is baseline; prefetch never faults.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(p.cast()) }
    }
}

/// AVX-512 F/BW/DQ/VL lanes.
#[derive(Clone, Copy)]
pub(crate) struct Avx512(__m512);

/// Mask of the first `n < 8` lanes.
#[inline(always)]
fn mask8(n: usize) -> __mmask8 {
    ((1u32 << n) - 1) as __mmask8
}

// Partial AVX-512 accesses go through 256-bit halves so they touch only the 32-byte windows the
// row needs: a masked 512-bit load still fetches the cache line its masked-off lanes fall in, and
// for 8-wide rows that is an extra DRAM miss on every other row (measured: ~20% slower gathers).
impl Avx512 {
    /// `n < 16` u16s (f16/bf16 bits), zero-filled to 16.
    #[inline(always)]
    unsafe fn load_u16_part(p: *const u16, n: usize) -> __m256i {
        // SAFETY: AVX-512BW/VL available (trait contract); only the first n elements are read.
        unsafe {
            if n < 8 {
                _mm256_zextsi128_si256(_mm_maskz_loadu_epi16(mask8(n), p.cast()))
            } else if n == 8 {
                _mm256_zextsi128_si256(_mm_loadu_si128(p.cast()))
            } else {
                let hi = _mm_maskz_loadu_epi16(mask8(n - 8), p.add(8).cast());
                _mm256_set_m128i(hi, _mm_loadu_si128(p.cast()))
            }
        }
    }
    #[inline(always)]
    unsafe fn widen_bf16(h: __m256i) -> __m512 {
        // SAFETY: AVX-512F available per the trait contract. bf16 is the high half of an f32.
        unsafe { _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h))) }
    }
}

impl Lanes for Avx512 {
    const N: usize = 16;
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: AVX-512F available (trait contract).
        Avx512(unsafe { _mm512_set1_ps(v) })
    }
    #[inline(always)]
    unsafe fn load_f32(p: *const f32) -> Self {
        // SAFETY: 16 readable f32s (trait contract).
        Avx512(unsafe { _mm512_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn load_f32_part(p: *const f32, n: usize) -> Self {
        // SAFETY: only the first n (readable) lanes are accessed; masked-off ones never fault.
        Avx512(unsafe {
            if n < 8 {
                _mm512_zextps256_ps512(_mm256_maskz_loadu_ps(mask8(n), p))
            } else if n == 8 {
                _mm512_zextps256_ps512(_mm256_loadu_ps(p))
            } else {
                let hi = _mm256_maskz_loadu_ps(mask8(n - 8), p.add(8));
                _mm512_insertf32x8::<1>(_mm512_zextps256_ps512(_mm256_loadu_ps(p)), hi)
            }
        })
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const f16) -> Self {
        // SAFETY: 16 readable f16s (32 bytes) (trait contract).
        Avx512(unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) })
    }
    #[inline(always)]
    unsafe fn load_f16_part(p: *const f16, n: usize) -> Self {
        // SAFETY: forwarded contract.
        Avx512(unsafe { _mm512_cvtph_ps(Self::load_u16_part(p.cast(), n)) })
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const bf16) -> Self {
        // SAFETY: 16 readable bf16s (trait contract).
        Avx512(unsafe { Self::widen_bf16(_mm256_loadu_si256(p.cast())) })
    }
    #[inline(always)]
    unsafe fn load_bf16_part(p: *const bf16, n: usize) -> Self {
        // SAFETY: forwarded contract.
        Avx512(unsafe { Self::widen_bf16(Self::load_u16_part(p.cast(), n)) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: 16 writable f32s (trait contract).
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn store_part(self, p: *mut f32, n: usize) {
        // SAFETY: only the first n lanes are written, and those are writable (trait contract).
        unsafe {
            let lo = _mm512_castps512_ps256(self.0);
            if n < 8 {
                _mm256_mask_storeu_ps(p, mask8(n), lo)
            } else {
                _mm256_storeu_ps(p, lo);
                if n > 8 {
                    _mm256_mask_storeu_ps(
                        p.add(8),
                        mask8(n - 8),
                        _mm512_extractf32x8_ps::<1>(self.0),
                    );
                }
            }
        }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: AVX-512F available (trait contract).
        Avx512(unsafe { _mm512_add_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: AVX-512F available (trait contract).
        Avx512(unsafe { _mm512_sub_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        // SAFETY: AVX-512F available (trait contract).
        Avx512(unsafe { _mm512_mul_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn div(self, o: Self) -> Self {
        // SAFETY: AVX-512F available (trait contract).
        Avx512(unsafe { _mm512_div_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        // SAFETY: AVX-512F available (trait contract).
        Avx512(unsafe { _mm512_fmadd_ps(self.0, a.0, b.0) })
    }
    #[inline(always)]
    unsafe fn max(self, o: Self) -> Self {
        // SAFETY: AVX-512F available (trait contract). `vmaxps` returns the second operand on NaN.
        Avx512(unsafe { _mm512_max_ps(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        // SAFETY: AVX-512F available (trait contract).
        Avx512(unsafe { _mm512_abs_ps(self.0) })
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        // SAFETY: AVX-512F available (trait contract).
        Avx512(unsafe {
            _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(self.0)
        })
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        // SAFETY: AVX-512F available (trait contract); lanes are integers in [-126, 127].
        Avx512(unsafe {
            let e = _mm512_add_epi32(_mm512_cvtps_epi32(self.0), _mm512_set1_epi32(127));
            _mm512_castsi512_ps(_mm512_slli_epi32::<23>(e))
        })
    }
    #[inline(always)]
    unsafe fn select_neg(self, if_neg: Self, if_not: Self) -> Self {
        // SAFETY: AVX-512DQ available (trait contract); `vpmovd2m` takes each lane's sign bit.
        Avx512(unsafe {
            let m = _mm512_movepi32_mask(_mm512_castps_si512(self.0));
            _mm512_mask_blend_ps(m, if_not.0, if_neg.0)
        })
    }
    #[inline(always)]
    unsafe fn reduce_add(self) -> f32 {
        // SAFETY: AVX-512F available (trait contract).
        unsafe { _mm512_reduce_add_ps(self.0) }
    }
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        // SAFETY: AVX-512F available (trait contract).
        unsafe { _mm512_reduce_max_ps(self.0) }
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const u8) {
        // SAFETY: SSE is baseline; prefetch never faults.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(p.cast()) }
    }
}
