//! AVX2 + FMA + F16C bodies: `__m256` for the generic drivers, 6 × 16 GEMM tile, 16-wide GEMV
//! panels.
//!
//! Tile 6 × 16 (the classic Haswell shape): 12 ymm accumulators + 2 weight vectors + 1
//! broadcast = 15 of the 16 registers; per `k` 12 FMAs against 2 weight and 6 broadcast loads.

use std::arch::x86_64::*;

use half::{bf16, f16};

use super::dot::{dot_entry, DOT_MAX_OUT};
use super::driver::{
    self, check_call, row_entry, target_entry, GEMV_MAX_ROWS_16, GEMV_MAX_ROWS_F32,
};
use super::simd::{Bf16PairPanel, F16Panel, F32Panel, F32Vec, Panel, BF16_HI_MASK};
use super::{GemvRowFn, LinearCall, LinearFn, LinearKernels, LinearOps};
use crate::kernels::dispatch::{Isa, Kernel};

const MR: usize = 6;
const NV: usize = 2;
const NR: usize = NV * 8;
/// GEMV accumulator sets: 4 × NV = 8 FMA chains (latency 4 × 2 ports).
const U: usize = 4;

impl F32Vec for __m256 {
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller runs under AVX2 (trait contract).
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        // SAFETY: AVX2 present and p readable (trait contract).
        unsafe { _mm256_set1_ps(*p) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: AVX2 present and 8 floats readable at p (trait contract).
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self) {
        // SAFETY: AVX2 present and 8 floats writable at p (trait contract).
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // vmaskmovps reads only the lanes whose mask sign bit is set, so it cannot fault past
        // `p + n`.
        // SAFETY: AVX2 present and n < 8 floats readable at p (trait contract).
        unsafe {
            let mask = _mm256_cmpgt_epi32(
                _mm256_set1_epi32(n as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            );
            _mm256_maskload_ps(p, mask)
        }
    }
    #[inline(always)]
    unsafe fn reduce_add(a: Self) -> f32 {
        // SAFETY: AVX2 present (trait contract).
        unsafe {
            let s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
        }
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: AVX2 present (trait contract).
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        // SAFETY: AVX2 present (trait contract).
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn relu(a: Self) -> Self {
        // maxps returns its second operand when either is NaN: with `a` second, NaN is kept.
        // SAFETY: AVX2 present (trait contract).
        unsafe { _mm256_max_ps(_mm256_setzero_ps(), a) }
    }
    #[inline(always)]
    unsafe fn prefetch_write(p: *const f32) {
        // A T0 prefetch, not PREFETCHW: that needs `prfchw`, which the level does not check
        // for. An unshared line arrives exclusive, so the later stores still need no RFO.
        // SAFETY: a prefetch never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
    }
}

impl Panel<__m256> for F32Panel {
    type Elem = f32;
    const KSTEP: usize = 1;
    const WIDEN: bool = false;
    #[inline(always)]
    unsafe fn load(panel: *const f32, nr: usize, step: usize, _sub: usize, j: usize) -> __m256 {
        // SAFETY: AVX2 present and the step inside the panel (trait contract).
        unsafe { _mm256_loadu_ps(panel.add(step * nr + j * 8)) }
    }
}

impl Panel<__m256> for F16Panel {
    type Elem = f16;
    const KSTEP: usize = 1;
    const WIDEN: bool = true;
    #[inline(always)]
    unsafe fn load(panel: *const f16, nr: usize, step: usize, _sub: usize, j: usize) -> __m256 {
        // SAFETY: AVX2 present and the step inside the panel (trait contract).
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(panel.add(step * nr + j * 8).cast())) }
    }
}

impl Panel<__m256> for Bf16PairPanel {
    type Elem = bf16;
    const KSTEP: usize = 2;
    const WIDEN: bool = true;
    #[inline(always)]
    unsafe fn load(panel: *const bf16, nr: usize, step: usize, sub: usize, j: usize) -> __m256 {
        // SAFETY: AVX2 present and the step (2 · nr elements) inside the panel.
        unsafe {
            let v = _mm256_loadu_si256(panel.add(step * 2 * nr + j * 16).cast());
            // A bf16 is the top half of an f32: shift the low one up, mask the high one.
            let bits = if sub == 0 {
                _mm256_slli_epi32::<16>(v)
            } else {
                _mm256_and_si256(v, _mm256_set1_epi32(BF16_HI_MASK as i32))
            };
            _mm256_castsi256_ps(bits)
        }
    }
}

/// `target_entry!` with this level's features (attributes take literals, not consts).
macro_rules! entry {
    ($($rest:tt)*) => {
        target_entry!("avx2,fma,f16c", $($rest)*);
    };
}

entry!(
    gemm_f32_avx2,
    gemm_f32_body,
    gemm_f32_small_k_body,
    gemm::<__m256, F32Panel, 6, 2>,
    f32
);
entry!(
    gemm_f16_avx2,
    gemm_f16_body,
    gemm_f16_small_k_body,
    gemm::<__m256, F16Panel, 6, 2>,
    f16
);
entry!(
    gemm_bf16_avx2,
    gemm_bf16_body,
    gemm_bf16_small_k_body,
    gemm::<__m256, Bf16PairPanel, 6, 2>,
    bf16
);

row_entry!(
    #[target_feature(enable = "avx2,fma,f16c")]
    gemv_f32_avx2,
    gemv_row::<__m256, F32Panel, 2, 4>,
    f32
);
row_entry!(
    #[target_feature(enable = "avx2,fma,f16c")]
    gemv_f16_avx2,
    gemv_row::<__m256, F16Panel, 2, 4>,
    f16
);
row_entry!(
    #[target_feature(enable = "avx2,fma,f16c")]
    gemv_bf16_avx2,
    gemv_row::<__m256, Bf16PairPanel, 2, 4>,
    bf16
);

dot_entry!(
    "avx2,fma,f16c",
    dot_f32_avx2,
    dot_f32_body,
    __m256,
    F32Panel,
    f32
);
dot_entry!(
    "avx2,fma,f16c",
    dot_f16_avx2,
    dot_f16_body,
    __m256,
    F16Panel,
    f16
);
dot_entry!(
    "avx2,fma,f16c",
    dot_bf16_avx2,
    dot_bf16_body,
    __m256,
    Bf16PairPanel,
    bf16
);

// The literals in the entries above must agree with these.
const _: () = assert!(MR == 6 && NV == 2 && U == 4);

fn ops<W>(
    gemv_max_rows: usize,
    gemm: (&'static str, LinearFn<W>),
    gemv: (&'static str, GemvRowFn),
    dot: (&'static str, LinearFn<W>),
) -> LinearOps<W> {
    LinearOps {
        nr: NR,
        mr: MR,
        gemv_max_rows,
        gemm: Kernel {
            name: gemm.0,
            isa: Isa::Avx2,
            f: gemm.1,
        },
        gemv: Kernel {
            name: gemv.0,
            isa: Isa::Avx2,
            f: gemv.1,
        },
        dot_max_out: DOT_MAX_OUT,
        dot_lanes: 8,
        dot: Kernel {
            name: dot.0,
            isa: Isa::Avx2,
            f: dot.1,
        },
    }
}

/// The AVX2 table. Only called when the CPU has AVX2 + FMA + F16C (see `LinearKernels::for_isa`).
pub(super) fn kernels() -> LinearKernels {
    LinearKernels {
        fp32: ops(
            GEMV_MAX_ROWS_F32,
            ("gemm_f32_avx2", gemm_f32_avx2),
            ("gemv_f32_avx2", gemv_f32_avx2),
            ("dot_f32_avx2", dot_f32_avx2),
        ),
        fp16: ops(
            GEMV_MAX_ROWS_16,
            ("gemm_f16_avx2", gemm_f16_avx2),
            ("gemv_f16_avx2", gemv_f16_avx2),
            ("dot_f16_avx2", dot_f16_avx2),
        ),
        bf16: ops(
            GEMV_MAX_ROWS_16,
            ("gemm_bf16_avx2", gemm_bf16_avx2),
            ("gemv_bf16_avx2", gemv_bf16_avx2),
            ("dot_bf16_avx2", dot_bf16_avx2),
        ),
    }
}
