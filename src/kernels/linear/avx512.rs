//! AVX-512 bodies: `__m512` for the generic drivers, 8 × 32 GEMM tile, 32-wide GEMV panels.
//!
//! Tile 8 × 32: 16 zmm accumulators + 2 weight vectors + broadcasts folded into the FMAs
//! (`{1to16}`); per `k` 16 FMAs against 2 weight loads and 8 broadcast loads, so the two FMA
//! ports, not the load ports, are the limit. 8 rows also divide the batch sizes served (16,
//! 256, 4096) with no partial tile.
//!
//! f32 GEMMs run whole groups of 16 rows through the packed-X tile instead (16 × 16, X packed
//! k-major by [`transpose16`]): one weight load and 16 fused broadcast-FMAs per `k`, 17 uops
//! for 16 FMAs against 26, which matters when the front end, not the FMA ports, is the limit.

use std::arch::x86_64::*;

use half::{bf16, f16};

use super::dot::{dot_entry, DOT_MAX_OUT};
use super::driver::{
    self, check_call, row_entry, target_entry, GEMV_MAX_ROWS_16, GEMV_MAX_ROWS_F32,
};
use super::simd::{Bf16PairPanel, F16Panel, F32Panel, F32Vec, Panel, BF16_HI_MASK};
use super::{GemvRowFn, LinearCall, LinearFn, LinearKernels, LinearOps};
use crate::kernels::dispatch::{Isa, Kernel};

const MR: usize = 8;
const NV: usize = 2;
const NR: usize = NV * 16;
/// GEMV accumulator sets: 4 × NV = 8 FMA chains (latency 4 × 2 ports).
const U: usize = 4;

impl F32Vec for __m512 {
    const LANES: usize = 16;
    const REGS: usize = 32;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller runs under AVX-512 (trait contract).
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        // SAFETY: AVX-512 present and p readable (trait contract).
        unsafe { _mm512_set1_ps(*p) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: AVX-512 present and 16 floats readable at p (trait contract).
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self) {
        // SAFETY: AVX-512 present and 16 floats writable at p (trait contract).
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // A masked-off lane is never read, so it cannot fault past `p + n`.
        // SAFETY: AVX-512 present and n < 16 floats readable at p (trait contract).
        unsafe { _mm512_maskz_loadu_ps(((1u32 << n) - 1) as u16, p) }
    }
    #[inline(always)]
    unsafe fn reduce_add(a: Self) -> f32 {
        // SAFETY: AVX-512 present (trait contract).
        unsafe { _mm512_reduce_add_ps(a) }
    }
    #[inline(always)]
    unsafe fn reduce_add_many<const N: usize>(v: &[Self; N]) -> [f32; N] {
        let mut out = [0.0f32; N];
        // SAFETY: AVX-512 present (trait contract); each cast is to the same type and length
        // (N checked just before), and the stores write N ≤ 16 floats into `out`.
        unsafe {
            if N == 8 {
                let v = &*v.as_ptr().cast::<[__m512; 8]>();
                _mm256_storeu_ps(out.as_mut_ptr(), reduce8(v));
            } else if N == 4 {
                let v = &*v.as_ptr().cast::<[__m512; 4]>();
                _mm_storeu_ps(out.as_mut_ptr(), reduce4(v));
            } else {
                for (o, &x) in out.iter_mut().zip(v) {
                    *o = _mm512_reduce_add_ps(x);
                }
            }
        }
        out
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: AVX-512 present (trait contract).
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        // SAFETY: AVX-512 present (trait contract).
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn relu(a: Self) -> Self {
        // maxps returns its second operand when either is NaN: with `a` second, NaN is kept.
        // SAFETY: AVX-512 present (trait contract).
        unsafe { _mm512_max_ps(_mm512_setzero_ps(), a) }
    }
    #[inline(always)]
    unsafe fn pack_k_major<const R: usize>(src: *const f32, ld: usize, k: usize, dst: *mut f32) {
        let full = k / 16 * 16;
        // SAFETY: AVX-512 present (trait contract); loads read rows g + i < R (a short group
        // repeats its last row) at kk + 16 ≤ full ≤ k, the masked stores write lanes g + i < R
        // of steps kk + l < full, and the tail loop stays below k and R.
        unsafe {
            for g in (0..R).step_by(16) {
                let live = (R - g).min(16);
                let mask = (((1u32 << live) - 1) & 0xffff) as u16;
                let mut kk = 0;
                while kk < full {
                    let mut r: [__m512; 16] = std::array::from_fn(|i| {
                        _mm512_loadu_ps(src.add((g + i.min(live - 1)) * ld + kk))
                    });
                    transpose16(&mut r);
                    for (l, &v) in r.iter().enumerate() {
                        _mm512_mask_storeu_ps(dst.add((kk + l) * R + g), mask, v);
                    }
                    kk += 16;
                }
            }
            for kk in full..k {
                for i in 0..R {
                    *dst.add(kk * R + i) = *src.add(i * ld + kk);
                }
            }
        }
    }
    #[inline(always)]
    unsafe fn prefetch_write(p: *const f32) {
        // A T0 prefetch, not PREFETCHW: that needs `prfchw`, which the level does not check
        // for. An unshared line arrives exclusive, so the later stores still need no RFO.
        // SAFETY: a prefetch never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
    }
}

impl Panel<__m512> for F32Panel {
    type Elem = f32;
    const KSTEP: usize = 1;
    const WIDEN: bool = false;
    #[inline(always)]
    unsafe fn load(panel: *const f32, nr: usize, step: usize, _sub: usize, j: usize) -> __m512 {
        // SAFETY: AVX-512 present and the step inside the panel (trait contract).
        unsafe { _mm512_loadu_ps(panel.add(step * nr + j * 16)) }
    }
}

impl Panel<__m512> for F16Panel {
    type Elem = f16;
    const KSTEP: usize = 1;
    const WIDEN: bool = true;
    #[inline(always)]
    unsafe fn load(panel: *const f16, nr: usize, step: usize, _sub: usize, j: usize) -> __m512 {
        // SAFETY: AVX-512 present and the step inside the panel (trait contract).
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(panel.add(step * nr + j * 16).cast())) }
    }
}

impl Panel<__m512> for Bf16PairPanel {
    type Elem = bf16;
    const KSTEP: usize = 2;
    const WIDEN: bool = true;
    #[inline(always)]
    unsafe fn load(panel: *const bf16, nr: usize, step: usize, sub: usize, j: usize) -> __m512 {
        // SAFETY: AVX-512 present and the step (2 · nr elements) inside the panel.
        unsafe {
            let v = _mm512_loadu_si512(panel.add(step * 2 * nr + j * 32).cast());
            // A bf16 is the top half of an f32: shift the low one up, mask the high one.
            let bits = if sub == 0 {
                _mm512_slli_epi32::<16>(v)
            } else {
                _mm512_and_si512(v, _mm512_set1_epi32(BF16_HI_MASK as i32))
            };
            _mm512_castsi512_ps(bits)
        }
    }
}

/// Sums of the 16 lanes of each of `a` and `b`, folded to 8 partials each: lanes 0–7 hold `a`'s,
/// 8–15 `b`'s (two shuffles and one add for two vectors).
#[inline(always)]
unsafe fn fold_halves(a: __m512, b: __m512) -> __m512 {
    // SAFETY: AVX-512 present (caller).
    unsafe {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b01_00_01_00>(a, b),
            _mm512_shuffle_f32x4::<0b11_10_11_10>(a, b),
        )
    }
}

/// Given `t0 = [v0 | v1]`, `t1 = [v2 | v3]` (8 partials each), 4 partials per vector: 128-bit
/// quarter `q` holds `v_q`'s.
#[inline(always)]
unsafe fn fold_quarters(t0: __m512, t1: __m512) -> __m512 {
    // SAFETY: AVX-512 present (caller).
    unsafe {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b10_00_10_00>(t0, t1),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(t0, t1),
        )
    }
}

/// 16 × 16 transpose in registers (64 shuffles): row `i` lane `l` moves to row `l` lane `i`.
#[inline(always)]
unsafe fn transpose16(r: &mut [__m512; 16]) {
    // SAFETY: AVX-512 present (caller).
    unsafe {
        // Pairs of rows interleaved (32-bit), then 64-bit pairs, then 128-bit lanes twice.
        let t: [__m512; 16] = std::array::from_fn(|i| {
            let (a, b) = (r[i / 2 * 2], r[i / 2 * 2 + 1]);
            if i % 2 == 0 {
                _mm512_unpacklo_ps(a, b)
            } else {
                _mm512_unpackhi_ps(a, b)
            }
        });
        let u: [__m512; 16] = std::array::from_fn(|i| {
            // Within each group of 4: (t0,t2) lo/hi, (t1,t3) lo/hi.
            let base = i / 4 * 4;
            let (a, b) = match i % 4 {
                0 | 1 => (t[base], t[base + 2]),
                _ => (t[base + 1], t[base + 3]),
            };
            let (a, b) = (_mm512_castps_pd(a), _mm512_castps_pd(b));
            _mm512_castpd_ps(if i % 2 == 0 {
                _mm512_unpacklo_pd(a, b)
            } else {
                _mm512_unpackhi_pd(a, b)
            })
        });
        let v: [__m512; 16] = std::array::from_fn(|i| {
            // Within each group of 8: (u_j, u_{j+4}) for j < 4, 0x88 then 0xdd.
            let base = i / 8 * 8;
            let j = i % 4;
            let (a, b) = (u[base + j], u[base + j + 4]);
            if i % 8 < 4 {
                _mm512_shuffle_f32x4::<0x88>(a, b)
            } else {
                _mm512_shuffle_f32x4::<0xdd>(a, b)
            }
        });
        *r = std::array::from_fn(|i| {
            let (a, b) = (v[i % 8], v[i % 8 + 8]);
            if i < 8 {
                _mm512_shuffle_f32x4::<0x88>(a, b)
            } else {
                _mm512_shuffle_f32x4::<0xdd>(a, b)
            }
        });
    }
}

/// Lane sums of 8 vectors, in order: a transposing tree (24 ops instead of 8 × 8).
#[inline(always)]
unsafe fn reduce8(v: &[__m512; 8]) -> __m256 {
    // SAFETY: AVX-512 present (caller).
    unsafe {
        let t0 = fold_halves(v[0], v[1]);
        let t1 = fold_halves(v[2], v[3]);
        let t2 = fold_halves(v[4], v[5]);
        let t3 = fold_halves(v[6], v[7]);
        // Quarter q: 4 partials of v_q (u0) and of v_{q+4} (u1).
        let u0 = fold_quarters(t0, t1);
        let u1 = fold_quarters(t2, t3);
        // Quarter q: [v_q, v_q, v_{q+4}, v_{q+4}] (2 partials each).
        let w = _mm512_add_ps(
            _mm512_shuffle_ps::<0b01_00_01_00>(u0, u1),
            _mm512_shuffle_ps::<0b11_10_11_10>(u0, u1),
        );
        // Lanes 4q and 4q + 2 now hold the sums of v_q and v_{q+4}.
        let x = _mm512_add_ps(w, _mm512_shuffle_ps::<0b10_11_00_01>(w, w));
        let idx = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0);
        _mm512_castps512_ps256(_mm512_permutexvar_ps(idx, x))
    }
}

/// Lane sums of 4 vectors, in order.
#[inline(always)]
unsafe fn reduce4(v: &[__m512; 4]) -> __m128 {
    // SAFETY: AVX-512 present (caller).
    unsafe {
        let u = fold_quarters(fold_halves(v[0], v[1]), fold_halves(v[2], v[3]));
        let a = _mm512_add_ps(u, _mm512_shuffle_ps::<0b10_11_00_01>(u, u));
        let b = _mm512_add_ps(a, _mm512_shuffle_ps::<0b01_00_11_10>(a, a));
        let idx = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        _mm512_castps512_ps128(_mm512_permutexvar_ps(idx, b))
    }
}

/// `target_entry!` with this level's features (attributes take literals, not consts).
macro_rules! entry {
    ($($rest:tt)*) => {
        target_entry!("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c", $($rest)*);
    };
}

entry!(
    gemm_f32_avx512,
    gemm_f32_body,
    gemm_f32_small_k_body,
    gemm::<__m512, F32Panel, 8, 2>,
    f32
);
entry!(
    gemm_f16_avx512,
    gemm_f16_body,
    gemm_f16_small_k_body,
    gemm::<__m512, F16Panel, 8, 2>,
    f16
);
entry!(
    gemm_bf16_avx512,
    gemm_bf16_body,
    gemm_bf16_small_k_body,
    gemm::<__m512, Bf16PairPanel, 8, 2>,
    bf16
);

row_entry!(
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")]
    gemv_f32_avx512,
    gemv_row::<__m512, F32Panel, 2, 4>,
    f32
);
row_entry!(
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")]
    gemv_f16_avx512,
    gemv_row::<__m512, F16Panel, 2, 4>,
    f16
);
row_entry!(
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")]
    gemv_bf16_avx512,
    gemv_row::<__m512, Bf16PairPanel, 2, 4>,
    bf16
);

dot_entry!(
    "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c",
    dot_f32_avx512,
    dot_f32_body,
    __m512,
    F32Panel,
    f32
);
dot_entry!(
    "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c",
    dot_f16_avx512,
    dot_f16_body,
    __m512,
    F16Panel,
    f16
);
dot_entry!(
    "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c",
    dot_bf16_avx512,
    dot_bf16_body,
    __m512,
    Bf16PairPanel,
    bf16
);

// The literals in the entries above must agree with these.
const _: () = assert!(MR == 8 && NV == 2 && U == 4);

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
            isa: Isa::Avx512,
            f: gemm.1,
        },
        gemv: Kernel {
            name: gemv.0,
            isa: Isa::Avx512,
            f: gemv.1,
        },
        dot_max_out: DOT_MAX_OUT,
        dot_lanes: 16,
        dot: Kernel {
            name: dot.0,
            isa: Isa::Avx512,
            f: dot.1,
        },
    }
}

/// The AVX-512 table. Only called when the CPU has AVX-512 (see `LinearKernels::for_isa`).
pub(super) fn kernels() -> LinearKernels {
    LinearKernels {
        fp32: ops(
            GEMV_MAX_ROWS_F32,
            ("gemm_f32_avx512", gemm_f32_avx512),
            ("gemv_f32_avx512", gemv_f32_avx512),
            ("dot_f32_avx512", dot_f32_avx512),
        ),
        fp16: ops(
            GEMV_MAX_ROWS_16,
            ("gemm_f16_avx512", gemm_f16_avx512),
            ("gemv_f16_avx512", gemv_f16_avx512),
            ("dot_f16_avx512", dot_f16_avx512),
        ),
        bf16: ops(
            GEMV_MAX_ROWS_16,
            ("gemm_bf16_avx512", gemm_bf16_avx512),
            ("gemv_bf16_avx512", gemv_bf16_avx512),
            ("dot_bf16_avx512", dot_bf16_avx512),
        ),
    }
}
