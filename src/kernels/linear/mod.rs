//! Linear layers: `y = act(x·Wᵀ + b)` over weights packed once at load.
//!
//! - [`PackedLinear`] owns the packed weights and picks the kernel per call (GEMV for a few rows,
//!   the packed GEMM otherwise; layers with at most [`LinearOps::dot_max_out`] outputs use the
//!   `dot` kernel for every batch, see `dot.rs`);
//! - [`LinearKernels`] is this family's slice of the dispatch table: per weight dtype, a GEMM and a
//!   GEMV body plus the panel shape both read;
//! - [`linear_reference`] is the plain scalar twin every body is property-tested against;
//! - [`fold_batchnorm_into_next`] folds an eval-mode BatchNorm into the Linear after it.
//!
//! Packed layout (one per table, shared by its GEMM and GEMV): the `out` columns are cut into
//! panels of `nr` columns (the last zero-padded); each panel is k-major, `nr` weights per `k`, so a
//! micro-kernel reads it front to back with unit stride. bf16 panels interleave pairs of `k`
//! (`[k][j]`, `[k+1][j]` adjacent), which turns bf16→f32 into one shift or one mask per lane pair
//! instead of a widening shuffle. (`vdpbf16ps` reads this order too, but it is unused: it
//! multiplies bf16 by bf16, so `x` would have to be rounded to bf16, breaking the promise of
//! arithmetic at least as good as f32 on the stored weights. Splitting `x` into a bf16 high and
//! low part keeps the precision but takes two `vdpbf16ps` per 32 weights, which is what shift +
//! FMA costs: on Zen 4 both run one zmm per cycle; on the Intel machine of earlier sessions
//! `vdpbf16ps` measured one per ~3 cycles.)
//!
//! Layers with `in ≤ 16` (the fraud model's 11 features) skip the tiles on AVX-512: each panel
//! vector's few weights stay in registers while rows stream past (`micro::small_k_rows`; two
//! vectors per pass for `in ≤ 11`, `small_k_rows_pair`), since a tile's fixed costs would match
//! its FMAs there. The GEMV runs full panels four at a time
//! (`micro::gemv_group`): eight independent FMA chains, no partial sums to fold. Its entry
//! takes one row as raw parts ([`GemvRowFn`]), unchecked: [`PackedLinear`] calls it once per row
//! of a small batch, having packed the buffers itself and checked `x` and `y`.
//!
//! The GEMM widens 16-bit panels to f32 one K chunk at a time (once per row block, not per
//! tile); the GEMV converts on the fly, which on this CPU costs 1 ALU uop per bf16 lane pair
//! and 2 per 16 f16 values on the FMA ports, so 16-bit GEMV is conversion-bound, not
//! bandwidth-bound (still faster than f32 for bf16: half the bytes).

mod bn_fold;
mod dot;
mod driver;
mod micro;
mod pack;
mod packed;
mod portable;
mod reference;
mod simd;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

use half::{bf16, f16};

use super::dispatch::{Isa, Kernel};

pub use bn_fold::fold_batchnorm_into_next;
pub use packed::PackedLinear;
pub use reference::linear_reference;

/// Row-major `[out, in]` weights as PyTorch stores them, in one of the accepted dtypes.
#[derive(Clone, Copy, Debug)]
pub enum WeightSlice<'a> {
    /// 32-bit floats.
    F32(&'a [f32]),
    /// IEEE half precision; kept 16-bit in the packed panels.
    F16(&'a [f16]),
    /// bfloat16; kept 16-bit in the packed panels.
    Bf16(&'a [bf16]),
}

impl WeightSlice<'_> {
    /// Number of weights.
    pub fn len(&self) -> usize {
        match self {
            WeightSlice::F32(w) => w.len(),
            WeightSlice::F16(w) => w.len(),
            WeightSlice::Bf16(w) => w.len(),
        }
    }

    /// Whether there are no weights.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Weight `i` widened to f32 (exact for every dtype). Panics if `i` is out of range.
    pub fn get(&self, i: usize) -> f32 {
        match self {
            WeightSlice::F32(w) => w[i],
            WeightSlice::F16(w) => w[i].to_f32(),
            WeightSlice::Bf16(w) => w[i].to_f32(),
        }
    }

    /// The dtype's name as safetensors spells it (`F32`, `F16`, `BF16`).
    pub fn dtype_name(&self) -> &'static str {
        match self {
            WeightSlice::F32(_) => "F32",
            WeightSlice::F16(_) => "F16",
            WeightSlice::Bf16(_) => "BF16",
        }
    }
}

/// The activation fused into the epilogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// No activation.
    Identity,
    /// `max(v, 0)`; NaN stays NaN (a hidden NaN would turn a broken input into a plausible score).
    Relu,
}

/// One kernel call over packed weights. Built by [`PackedLinear`]; kernels assert these
/// invariants (they are internal, not user input).
#[derive(Clone, Copy, Debug)]
pub struct LinearCall<'a, W> {
    /// Input, row-major `rows × k` (at least that many elements).
    pub x: &'a [f32],
    /// Number of input rows.
    pub rows: usize,
    /// Input features (`in`).
    pub k: usize,
    /// Output features (`out`).
    pub n: usize,
    /// `ceil(n / nr)` panels, each `k_padded × nr` weights in this table's layout; for the
    /// `dot` kernel, `n` dot rows instead (each `k` padded to `KSTEP · dot_lanes`).
    pub panels: &'a [W],
    /// Bias padded with zeros to `ceil(n / nr) · nr` (all zeros when the layer has none); for
    /// the `dot` kernel, at least `n` long.
    pub bias: &'a [f32],
    /// Apply ReLU in the epilogue.
    pub relu: bool,
}

/// A GEMM or dot body: computes `rows × n` outputs into `y` (row-major, at least that long).
/// Panics if the call's buffers are shorter than its shapes say.
pub type LinearFn<W> = for<'a, 'b> fn(&LinearCall<'a, W>, &'b mut [f32]);

/// One row of a GEMV, unchecked: `y[..n] = act(x[..k]·Wᵀ + b)` (ReLU when the last argument
/// is set). Unlike [`LinearFn`] it takes raw parts, not a [`LinearCall`] it re-checks: its one
/// caller, [`PackedLinear`], packed the panels itself and checks `x` and `y` once per forward,
/// and at batch 1 on an 11 → 128 layer building and re-checking the call struct was 14% of the
/// call.
///
/// `panels` is untyped so that a layer can resolve its batch-1 call once, whatever its dtype
/// (`PackedLinear`'s `RowPlan`).
///
/// # Safety
/// The CPU has the entry's ISA; `x` is valid for `k` reads and `y` for `n` writes; `panels`
/// holds `ceil(n / nr)` panels of `padded_k(k) × nr` weights of the dtype of the [`LinearOps`]
/// the entry came from, in that table's layout, and `bias` `ceil(n / nr) · nr` floats.
pub type GemvRowFn = unsafe fn(
    x: *const f32,
    panels: *const u8,
    bias: *const f32,
    y: *mut f32,
    k: usize,
    n: usize,
    relu: bool,
);

/// The kernels for one weight dtype, and the panel shape they share.
#[derive(Clone, Copy, Debug)]
pub struct LinearOps<W: 'static> {
    /// Panel width: output columns per packed panel.
    pub nr: usize,
    /// Rows per GEMM micro-tile (informational; the packing does not depend on it).
    pub mr: usize,
    /// Calls with at most this many rows go to [`LinearOps::gemv`] (it streams the weights once
    /// per row, which wins while the GEMM tile would be mostly padding).
    pub gemv_max_rows: usize,
    /// Packed GEMM, `gemm_{dtype}_{isa}`.
    pub gemm: Kernel<LinearFn<W>>,
    /// Batch-1 GEMV, one row per call, `gemv_{dtype}_{isa}`.
    pub gemv: Kernel<GemvRowFn>,
    /// Layers with at most this many outputs use [`LinearOps::dot`] at every batch size.
    pub dot_max_out: usize,
    /// f32 lanes of the dot kernel's vectors: its weight rows are padded to whole
    /// `KSTEP · dot_lanes` blocks (`KSTEP` = 2 for bf16, else 1).
    pub dot_lanes: usize,
    /// Narrow-output kernel, `dot_{dtype}_{isa}`: per row, `n ≤ dot_max_out` dot products.
    pub dot: Kernel<LinearFn<W>>,
}

/// Kernel entries of this family for one ISA level.
#[derive(Clone, Debug)]
pub struct LinearKernels {
    /// f32 weights.
    pub fp32: LinearOps<f32>,
    /// f16 weights.
    pub fp16: LinearOps<f16>,
    /// bf16 weights (pair-interleaved panels).
    pub bf16: LinearOps<bf16>,
}

impl LinearKernels {
    /// Portable entries overlaid with `isa`'s. A level this CPU lacks is not overlaid, so the
    /// (safe) entries can never run instructions the CPU does not have.
    pub fn for_isa(isa: Isa) -> Self {
        #[allow(unused_mut)]
        let mut table = portable::kernels();
        #[cfg(target_arch = "x86_64")]
        {
            if isa >= Isa::Avx2 && Isa::Avx2.is_available() {
                table = avx2::kernels();
            }
            if isa >= Isa::Avx512 && Isa::Avx512.is_available() {
                table = avx512::kernels();
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = isa;
        table
    }
}

/// Rows of `k` padded to what a dtype's panels store (bf16 panels hold whole `k` pairs).
pub(crate) fn padded_k(k: usize, kstep: usize) -> usize {
    k.div_ceil(kstep) * kstep
}
