//! Portable bodies through `wide::f32x8` (SSE2 on baseline x86-64, NEON on aarch64).
//!
//! Tile 6 × 8: 6 accumulators, one weight vector and one broadcast fit the 16 registers of SSE2
//! (an f32x8 is two of them there).

use half::{bf16, f16};
use wide::f32x8;

use super::dot::{check_dot_call, DOT_MAX_OUT};
use super::driver::{self, check_call, row_entry, GEMV_MAX_ROWS_16, GEMV_MAX_ROWS_F32};
use super::simd::{Bf16PairPanel, F16Panel, F32Panel, F32Vec, Panel};
use super::{LinearCall, LinearKernels, LinearOps};
use crate::kernels::dispatch::{Isa, Kernel};

const MR: usize = 6;
const NV: usize = 1;
const NR: usize = NV * 8;
/// GEMV accumulator sets (4 independent chains).
const U: usize = 4;

impl F32Vec for f32x8 {
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn zero() -> Self {
        f32x8::ZERO
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        // SAFETY: the caller guarantees p is readable.
        f32x8::splat(unsafe { *p })
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 8 readable floats at p.
        f32x8::from(unsafe { p.cast::<[f32; 8]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self) {
        // SAFETY: the caller guarantees 8 writable floats at p.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(v.to_array()) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        let mut lanes = [0.0f32; 8];
        // SAFETY: the caller guarantees n < 8 readable floats at p.
        unsafe { std::ptr::copy_nonoverlapping(p, lanes.as_mut_ptr(), n) };
        f32x8::from(lanes)
    }
    #[inline(always)]
    unsafe fn reduce_add(a: Self) -> f32 {
        a.reduce_add()
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        a.mul_add(b, c)
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        a + b
    }
    #[inline(always)]
    unsafe fn relu(a: Self) -> Self {
        // `max` would turn NaN into 0; a compare is false for NaN, so NaN is kept.
        a.simd_lt(f32x8::ZERO).select(f32x8::ZERO, a)
    }
}

impl Panel<f32x8> for F32Panel {
    type Elem = f32;
    const KSTEP: usize = 1;
    const WIDEN: bool = false;
    #[inline(always)]
    unsafe fn load(panel: *const f32, nr: usize, step: usize, _sub: usize, j: usize) -> f32x8 {
        // SAFETY: the caller guarantees the step is inside the panel.
        unsafe { f32x8::load(panel.add(step * nr + j * 8)) }
    }
}

impl Panel<f32x8> for F16Panel {
    type Elem = f16;
    const KSTEP: usize = 1;
    const WIDEN: bool = true;
    #[inline(always)]
    unsafe fn load(panel: *const f16, nr: usize, step: usize, _sub: usize, j: usize) -> f32x8 {
        // SAFETY: the caller guarantees the step is inside the panel.
        let h = unsafe {
            panel
                .add(step * nr + j * 8)
                .cast::<[f16; 8]>()
                .read_unaligned()
        };
        f32x8::from(h.map(f16::to_f32))
    }
}

impl Panel<f32x8> for Bf16PairPanel {
    type Elem = bf16;
    const KSTEP: usize = 2;
    const WIDEN: bool = true;
    #[inline(always)]
    unsafe fn load(panel: *const bf16, nr: usize, step: usize, sub: usize, j: usize) -> f32x8 {
        // Element-wise rather than through a u32 view, so the pair order is endian-independent.
        // SAFETY: the caller guarantees the step (2 · nr elements) is inside the panel.
        let h = unsafe {
            panel
                .add(step * 2 * nr + j * 16)
                .cast::<[bf16; 16]>()
                .read_unaligned()
        };
        f32x8::from(std::array::from_fn::<f32, 8, _>(|l| {
            h[2 * l + sub].to_f32()
        }))
    }
}

macro_rules! portable_entry {
    ($name:ident, $driver:ident::<$p:ty, $a:literal, $b:literal>, $elem:ty) => {
        fn $name(call: &LinearCall<'_, $elem>, y: &mut [f32]) {
            check_call(call, y, NR, <$p as Panel<f32x8>>::KSTEP);
            // SAFETY: portable code runs on any CPU; check_call validated the buffers.
            unsafe { driver::$driver::<f32x8, $p, $a, $b>(call, y) }
        }
    };
}

portable_entry!(gemm_f32_portable, gemm::<F32Panel, 6, 1>, f32);
portable_entry!(gemm_f16_portable, gemm::<F16Panel, 6, 1>, f16);
portable_entry!(gemm_bf16_portable, gemm::<Bf16PairPanel, 6, 1>, bf16);

row_entry!(gemv_f32_portable, gemv_row::<f32x8, F32Panel, 1, 4>, f32);
row_entry!(gemv_f16_portable, gemv_row::<f32x8, F16Panel, 1, 4>, f16);
row_entry!(
    gemv_bf16_portable,
    gemv_row::<f32x8, Bf16PairPanel, 1, 4>,
    bf16
);

macro_rules! portable_dot_entry {
    ($name:ident, $p:ty, $elem:ty) => {
        fn $name(call: &LinearCall<'_, $elem>, y: &mut [f32]) {
            check_dot_call(call, y, <$p as Panel<f32x8>>::KSTEP, 8);
            // SAFETY: portable code runs on any CPU; check_dot_call validated the buffers.
            unsafe { super::dot::dot::<f32x8, $p>(call, y) }
        }
    };
}

portable_dot_entry!(dot_f32_portable, F32Panel, f32);
portable_dot_entry!(dot_f16_portable, F16Panel, f16);
portable_dot_entry!(dot_bf16_portable, Bf16PairPanel, bf16);

// The literals in the entries above must agree with these.
const _: () = assert!(MR == 6 && NV == 1 && U == 4);

fn ops<W>(
    gemv_max_rows: usize,
    gemm: (&'static str, super::LinearFn<W>),
    gemv: (&'static str, super::GemvRowFn),
    dot: (&'static str, super::LinearFn<W>),
) -> LinearOps<W> {
    LinearOps {
        nr: NR,
        mr: MR,
        gemv_max_rows,
        gemm: Kernel {
            name: gemm.0,
            isa: Isa::Portable,
            f: gemm.1,
        },
        gemv: Kernel {
            name: gemv.0,
            isa: Isa::Portable,
            f: gemv.1,
        },
        dot_max_out: DOT_MAX_OUT,
        dot_lanes: 8,
        dot: Kernel {
            name: dot.0,
            isa: Isa::Portable,
            f: dot.1,
        },
    }
}

/// The portable table.
pub(super) fn kernels() -> LinearKernels {
    LinearKernels {
        fp32: ops(
            GEMV_MAX_ROWS_F32,
            ("gemm_f32_portable", gemm_f32_portable),
            ("gemv_f32_portable", gemv_f32_portable),
            ("dot_f32_portable", dot_f32_portable),
        ),
        fp16: ops(
            GEMV_MAX_ROWS_16,
            ("gemm_f16_portable", gemm_f16_portable),
            ("gemv_f16_portable", gemv_f16_portable),
            ("dot_f16_portable", dot_f16_portable),
        ),
        bf16: ops(
            GEMV_MAX_ROWS_16,
            ("gemm_bf16_portable", gemm_bf16_portable),
            ("gemv_bf16_portable", gemv_bf16_portable),
            ("dot_bf16_portable", dot_bf16_portable),
        ),
    }
}
