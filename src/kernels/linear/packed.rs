//! [`PackedLinear`]: a Linear layer's weights packed once for one kernel table.

use std::fmt;

use half::{bf16, f16};

use super::dot::{dot_row_len, pack_dot_rows};
use super::pack::{pack_panels, pad_bias, AlignedVec};
use super::{padded_k, Activation, GemvRowFn, LinearCall, LinearOps, WeightSlice};
use crate::error::{Error, Result};
use crate::kernels::dispatch::KernelTable;

const OP: &str = "linear";

/// Packed panels (or dot rows, for a narrow layer) in the weights' own dtype (16-bit weights
/// stay 16-bit: half the bytes to stream).
enum Panels {
    F32(AlignedVec<f32>),
    F16(AlignedVec<f16>),
    Bf16(AlignedVec<bf16>),
}

/// A Linear layer `y = act(x·Wᵀ + b)` with its weights packed for one kernel table.
///
/// Built once at load ([`PackedLinear::new`]); [`PackedLinear::forward`] allocates nothing and
/// takes `&self`, so one layer serves many threads.
pub struct PackedLinear {
    in_features: usize,
    out_features: usize,
    activation: Activation,
    panels: Panels,
    bias: AlignedVec<f32>,
    /// At most `dot_max_out` outputs: `panels` holds dot rows and the `dot` kernel runs at every
    /// batch (a GEMM panel would be mostly zero padding).
    narrow: bool,
    /// The GEMV call, resolved in `new`; `None` for a narrow layer or one without outputs (which
    /// never run it). It points into `panels` and `bias`, which is why `PackedLinear` must never
    /// be `Clone`.
    row: Option<RowPlan>,
    kernels: &'static KernelTable,
}

/// One GEMV row's call with everything but `x` and `y` resolved: the entry for this layer's
/// dtype and level, and the addresses of its panels and bias. [`PackedLinear::forward`]'s
/// inlined batch-1 path is then two length compares and one indirect call. Matching the panels'
/// dtype and reading the table on every call instead made an 11 → 128 call 1.03× slower (34.9
/// against 34.0 ns, Zen 4 VM, interleaved processes).
#[derive(Clone, Copy)]
struct RowPlan {
    f: GemvRowFn,
    /// Batches of up to this many rows run `f` once per row (the table's `gemv_max_rows`).
    max_rows: usize,
    /// First element of the layer's `panels` (any dtype; the entry knows which).
    panels: *const u8,
    /// First element of the layer's padded `bias`.
    bias: *const f32,
    relu: bool,
}

// SAFETY: a `PackedLinear` is immutable after `new`. `row`'s pointers address its own `panels`
// and `bias` heap buffers, which live as long as it does and do not move when it moves, and
// it is not `Clone` (a clone would point into the original's buffers); every other field is
// `Send + Sync`, so sharing or sending a layer shares or sends only read-only data.
unsafe impl Send for PackedLinear {}
// SAFETY: as for `Send` above: nothing behind `row`'s pointers is ever written.
unsafe impl Sync for PackedLinear {}

/// Checks a `[out, in]` weight of `weight_len` elements and an optional bias against the shape.
/// Shared with [`super::linear_reference`] so both reject the same inputs.
pub(crate) fn check_layer(
    weight_len: usize,
    bias: Option<&[f32]>,
    out: usize,
    inp: usize,
) -> Result<()> {
    let expected = out.checked_mul(inp).ok_or_else(|| Error::InvalidArgument {
        arg: "out × in",
        reason: format!("{out} × {inp} overflows usize"),
    })?;
    if weight_len != expected {
        return Err(Error::BufferLength {
            op: OP,
            arg: "weight",
            expected,
            actual: weight_len,
        });
    }
    if let Some(b) = bias {
        if b.len() != out {
            return Err(Error::BufferLength {
                op: OP,
                arg: "bias",
                expected: out,
                actual: b.len(),
            });
        }
    }
    Ok(())
}

/// Checks `x` (`rows × in`) and `y` (`rows × out`) lengths. Runs on every call, so it is two
/// multiplies and two compares, and the errors are built out of line ([`io_error`]).
#[inline(always)]
pub(crate) fn check_io(x: &[f32], y: &[f32], rows: usize, out: usize, inp: usize) -> Result<()> {
    match (rows.checked_mul(inp), rows.checked_mul(out)) {
        (Some(nx), Some(ny)) if nx == x.len() && ny == y.len() => Ok(()),
        _ => Err(io_error(x.len(), y.len(), rows, out, inp)),
    }
}

/// The error [`check_io`] reports: for `x` unless `x` is right, then for `y`.
#[cold]
#[inline(never)]
fn io_error(x_len: usize, y_len: usize, rows: usize, out: usize, inp: usize) -> Error {
    let (arg, len, cols) = if rows.checked_mul(inp) == Some(x_len) {
        ("y", y_len, out)
    } else {
        ("x", x_len, inp)
    };
    match rows.checked_mul(cols) {
        None => Error::InvalidArgument {
            arg: "rows",
            reason: format!("{rows} rows × {cols} columns overflows usize"),
        },
        Some(expected) => Error::BufferLength {
            op: OP,
            arg,
            expected,
            actual: len,
        },
    }
}

impl PackedLinear {
    /// Packs `weights` (`[out, in]` row-major) and `bias` (`[out]`) for `kernels`.
    ///
    /// Errors: [`Error::BufferLength`] if `weights.len() ≠ out · in` or `bias.len() ≠ out`;
    /// [`Error::InvalidArgument`] if the shape overflows.
    pub fn new(
        weights: WeightSlice<'_>,
        bias: Option<&[f32]>,
        out: usize,
        inp: usize,
        activation: Activation,
        kernels: &'static KernelTable,
    ) -> Result<Self> {
        check_layer(weights.len(), bias, out, inp)?;
        let lk = &kernels.linear;
        let (nr, kstep, max_out, lanes, gemv_max_rows) = match weights {
            WeightSlice::F32(_) => {
                let o = &lk.fp32;
                (o.nr, 1, o.dot_max_out, o.dot_lanes, o.gemv_max_rows)
            }
            WeightSlice::F16(_) => {
                let o = &lk.fp16;
                (o.nr, 1, o.dot_max_out, o.dot_lanes, o.gemv_max_rows)
            }
            WeightSlice::Bf16(_) => {
                let o = &lk.bf16;
                (o.nr, 2, o.dot_max_out, o.dot_lanes, o.gemv_max_rows)
            }
        };
        let narrow = (1..=max_out).contains(&out);
        // Padding can only grow the sizes a little, but an absurd shape must not wrap around.
        let padded = if narrow {
            inp.checked_next_multiple_of(kstep * lanes)
                .and_then(|row| row.checked_mul(out))
        } else {
            out.div_ceil(nr)
                .checked_mul(nr)
                .and_then(|cols| cols.checked_mul(padded_k(inp, kstep)))
        };
        padded.ok_or_else(|| Error::InvalidArgument {
            arg: "out × in",
            reason: format!("{out} × {inp} overflows usize once padded"),
        })?;
        debug_assert!(!narrow || padded == Some(out * dot_row_len(inp, kstep, lanes)));
        let panels = match (weights, narrow) {
            (WeightSlice::F32(w), true) => Panels::F32(pack_dot_rows(w, out, inp, kstep, lanes)),
            (WeightSlice::F16(w), true) => Panels::F16(pack_dot_rows(w, out, inp, kstep, lanes)),
            (WeightSlice::Bf16(w), true) => Panels::Bf16(pack_dot_rows(w, out, inp, kstep, lanes)),
            (WeightSlice::F32(w), false) => Panels::F32(pack_panels(w, out, inp, nr, kstep)),
            (WeightSlice::F16(w), false) => Panels::F16(pack_panels(w, out, inp, nr, kstep)),
            (WeightSlice::Bf16(w), false) => Panels::Bf16(pack_panels(w, out, inp, nr, kstep)),
        };
        let bias = pad_bias(bias, out, if narrow { 1 } else { nr });
        let (gemv, panels_start) = match &panels {
            Panels::F32(p) => (lk.fp32.gemv.f, p.as_ptr().cast::<u8>()),
            Panels::F16(p) => (lk.fp16.gemv.f, p.as_ptr().cast::<u8>()),
            Panels::Bf16(p) => (lk.bf16.gemv.f, p.as_ptr().cast::<u8>()),
        };
        let row = (!narrow && out > 0).then(|| RowPlan {
            f: gemv,
            max_rows: gemv_max_rows,
            panels: panels_start,
            bias: bias.as_ptr(),
            relu: activation == Activation::Relu,
        });
        Ok(PackedLinear {
            in_features: inp,
            out_features: out,
            activation,
            panels,
            bias,
            narrow,
            row,
            kernels,
        })
    }

    /// `y = act(x·Wᵀ + b)` for `rows` rows: `x` is `rows × in`, `y` is `rows × out`, both
    /// row-major. `rows = 0` does nothing. Allocates nothing.
    ///
    /// Errors: [`Error::BufferLength`] if `x` or `y` has the wrong length.
    ///
    /// Inlined, so that a batch-1 call (the latency path) costs its caller two length compares
    /// and the kernel's indirect call. Out of line, the general checks and dispatch took a tenth
    /// of an 11 → 128 call: measured on a Zen 4 VM, this path takes 0.90× the time (33.6 against
    /// 37.0 ns).
    #[inline]
    pub fn forward(&self, x: &[f32], rows: usize, y: &mut [f32]) -> Result<()> {
        if let Some(plan) = &self.row {
            if rows == 1 && x.len() == self.in_features && y.len() == self.out_features {
                // SAFETY: x holds one row of `in` and y one of `out` (just compared).
                unsafe { self.gemv_rows(plan, x.as_ptr(), 1, y.as_mut_ptr()) };
                return Ok(());
            }
        }
        self.forward_rows(x, rows, y)
    }

    /// [`PackedLinear::forward`] for any batch (out of line).
    fn forward_rows(&self, x: &[f32], rows: usize, y: &mut [f32]) -> Result<()> {
        check_io(x, y, rows, self.out_features, self.in_features)?;
        if rows == 0 || self.out_features == 0 {
            return Ok(());
        }
        if let Some(plan) = self.row.as_ref().filter(|p| rows <= p.max_rows) {
            // SAFETY: check_io proved x holds rows × in and y rows × out.
            unsafe { self.gemv_rows(plan, x.as_ptr(), rows, y.as_mut_ptr()) };
            return Ok(());
        }
        let lk = &self.kernels.linear;
        match &self.panels {
            Panels::F32(p) => self.run_gemm(&lk.fp32, p, x, rows, y),
            Panels::F16(p) => self.run_gemm(&lk.fp16, p, x, rows, y),
            Panels::Bf16(p) => self.run_gemm(&lk.bf16, p, x, rows, y),
        }
        Ok(())
    }

    /// Runs the GEMV entry once per row (unchecked, see `GemvRowFn`).
    ///
    /// # Safety
    /// `plan` is this layer's `row`; `x` is valid for `rows × in` reads and `y` for
    /// `rows × out` writes.
    #[inline(always)]
    unsafe fn gemv_rows(&self, plan: &RowPlan, x: *const f32, rows: usize, y: *mut f32) {
        let (k, n) = (self.in_features, self.out_features);
        for r in 0..rows {
            // SAFETY: `new` took the entry from this layer's table, whose levels the CPU has
            // (`LinearKernels::for_isa`), for the panels' dtype, and pointed `plan` at those
            // panels (ceil(n / nr) of padded_k(k) × nr, the layer is not narrow) and at the
            // bias it padded to match; both live in `self`. Row r's k inputs and n outputs are
            // inside x and y (caller).
            unsafe {
                (plan.f)(
                    x.add(r * k),
                    plan.panels,
                    plan.bias,
                    y.add(r * n),
                    k,
                    n,
                    plan.relu,
                )
            };
        }
    }

    /// Runs the GEMM (or, for a narrow layer, the dot kernel) for `rows` rows; `x` and `y` were
    /// checked against the shape ([`check_io`]), and `rows` and `out` are nonzero.
    fn run_gemm<W: Copy + Default>(
        &self,
        ops: &LinearOps<W>,
        panels: &AlignedVec<W>,
        x: &[f32],
        rows: usize,
        y: &mut [f32],
    ) {
        let call = LinearCall {
            x,
            rows,
            k: self.in_features,
            n: self.out_features,
            panels: panels.as_slice(),
            bias: self.bias.as_slice(),
            relu: self.activation == Activation::Relu,
        };
        let kernel = if self.narrow { ops.dot } else { ops.gemm };
        (kernel.f)(&call, y);
    }

    /// Input features (`in`).
    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// Output features (`out`).
    pub fn out_features(&self) -> usize {
        self.out_features
    }

    /// The fused activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The packed weights' dtype as safetensors spells it (`F32`, `F16`, `BF16`).
    pub fn weight_dtype(&self) -> &'static str {
        match self.panels {
            Panels::F32(_) => "F32",
            Panels::F16(_) => "F16",
            Panels::Bf16(_) => "BF16",
        }
    }

    /// Names of the (GEMM, GEMV) kernels this layer uses, e.g. `("gemm_f32_avx512",
    /// "gemv_f32_avx512")`. A narrow layer (a few outputs) runs one kernel for every batch, so
    /// both names are that kernel's, e.g. `("dot_f32_avx512", "dot_f32_avx512")`.
    pub fn kernel_names(&self) -> (&'static str, &'static str) {
        let lk = &self.kernels.linear;
        if self.narrow {
            let dot = match self.panels {
                Panels::F32(_) => lk.fp32.dot.name,
                Panels::F16(_) => lk.fp16.dot.name,
                Panels::Bf16(_) => lk.bf16.dot.name,
            };
            return (dot, dot);
        }
        match self.panels {
            Panels::F32(_) => (lk.fp32.gemm.name, lk.fp32.gemv.name),
            Panels::F16(_) => (lk.fp16.gemm.name, lk.fp16.gemv.name),
            Panels::Bf16(_) => (lk.bf16.gemm.name, lk.bf16.gemv.name),
        }
    }

    /// Name of the kernel [`PackedLinear::forward`] runs for `rows` rows (for a layer without
    /// outputs, which runs none, the GEMM's).
    pub fn kernel_for_rows(&self, rows: usize) -> &'static str {
        let (gemm, gemv) = self.kernel_names();
        if rows <= self.row.map_or(0, |p| p.max_rows) {
            gemv
        } else {
            gemm
        }
    }

    /// Bytes of packed weights and padded bias: what one batch-1 call streams.
    pub fn packed_bytes(&self) -> usize {
        let w = match &self.panels {
            Panels::F32(p) => std::mem::size_of_val(p.as_slice()),
            Panels::F16(p) => std::mem::size_of_val(p.as_slice()),
            Panels::Bf16(p) => std::mem::size_of_val(p.as_slice()),
        };
        w + std::mem::size_of_val(self.bias.as_slice())
    }
}

impl fmt::Debug for PackedLinear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (gemm, gemv) = self.kernel_names();
        f.debug_struct("PackedLinear")
            .field("in_features", &self.in_features)
            .field("out_features", &self.out_features)
            .field("activation", &self.activation)
            .field("dtype", &self.weight_dtype())
            .field("gemm", &gemm)
            .field("gemv", &gemv)
            .finish()
    }
}
