//! A packed stack of Linear layers (BatchNorm already folded, ReLU fused into each epilogue).

use half::{bf16, f16};

use super::sequential::LinearSpec;
use crate::error::{Error, Result};
use crate::kernels::linear::{Activation, PackedLinear, WeightSlice};
use crate::kernels::KernelTable;
use crate::weights::Dtype;

/// Linear layers run back to back through a [`MlpWorkspace`].
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<PackedLinear>,
    in_features: usize,
    max_width: usize,
}

/// Per-thread scratch for [`Mlp::forward`]: two ping-pong activation buffers that grow to the
/// largest batch seen and are then reused, so a warmed-up call allocates nothing.
#[derive(Debug, Default)]
pub struct MlpWorkspace {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Mlp {
    /// Packs `specs` (in order) for `kernels`. 16-bit layers stay 16-bit: a folded BatchNorm is
    /// rounded back into the file's dtype, so a bf16 file keeps half the bytes to stream.
    pub fn pack(
        specs: &[LinearSpec],
        in_features: usize,
        kernels: &'static KernelTable,
    ) -> Result<Mlp> {
        let mut layers = Vec::with_capacity(specs.len());
        for s in specs {
            layers.push(pack_linear(s, kernels)?);
        }
        let max_width = specs.iter().map(|s| s.out_features).max().unwrap_or(0);
        Ok(Mlp {
            layers,
            in_features,
            max_width,
        })
    }

    /// Input width.
    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// Output width (the input width if there are no layers).
    pub fn out_features(&self) -> usize {
        self.layers
            .last()
            .map_or(self.in_features, |l| l.out_features())
    }

    /// The packed layers.
    pub fn layers(&self) -> &[PackedLinear] {
        &self.layers
    }

    /// Runs `rows` rows of `x` (`rows × in_features`) through every layer into `out`
    /// (`rows × out_features`).
    ///
    /// Rows go through in blocks of [`ROW_BLOCK`]: all layers on one block, then the next. Pushing
    /// a 4096-row batch through one layer at a time makes each activation buffer megabytes (the
    /// ranker's 256-wide layer: 4 MiB, twice L2), so every layer re-reads its input from L3;
    /// blocks keep the activations in L2 and measured 1.2–1.8× faster per row at batch 4096.
    pub fn forward(
        &self,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        ws: &mut MlpWorkspace,
    ) -> Result<()> {
        let (inp, outw) = (self.in_features, self.out_features());
        for (arg, len, expected) in [("x", x.len(), rows * inp), ("out", out.len(), rows * outw)] {
            if len != expected {
                return Err(Error::BufferLength {
                    op: "mlp",
                    arg,
                    expected,
                    actual: len,
                });
            }
        }
        let Some((last, hidden)) = self.layers.split_last() else {
            out.copy_from_slice(x);
            return Ok(());
        };
        let need = ROW_BLOCK.min(rows) * self.max_width;
        let (a, b) = (line_aligned(&mut ws.a, need), line_aligned(&mut ws.b, need));
        for (start, n) in row_blocks(rows) {
            let x_block = &x[start * inp..(start + n) * inp];
            // Ping-pong between the two buffers; `width` is the current activation width and
            // `in_a` says which buffer holds it (none before the first hidden layer).
            let (mut width, mut in_a) = (inp, None::<bool>);
            for layer in hidden {
                let o = n * layer.out_features();
                match in_a {
                    None => layer.forward(x_block, n, &mut a[..o])?,
                    Some(true) => layer.forward(&a[..n * width], n, &mut b[..o])?,
                    Some(false) => layer.forward(&b[..n * width], n, &mut a[..o])?,
                }
                in_a = Some(!in_a.unwrap_or(false));
                width = layer.out_features();
            }
            let input = match in_a {
                None => x_block,
                Some(true) => &a[..n * width],
                Some(false) => &b[..n * width],
            };
            last.forward(input, n, &mut out[start * outw..(start + n) * outw])?;
        }
        Ok(())
    }
}

/// Floats of slack a workspace buffer keeps so that the part it lends starts on a 64-byte line.
const LINE_FLOATS: usize = 16;

/// `need` floats of `buf` (grown if short) starting on a 64-byte line. A layer output that
/// straddles lines costs a split store per vector: an 11 → 128 layer at batch 1 took 29.4–30.8 ns
/// into a buffer 16 or 32 bytes off a line against 28 ns into an aligned one (best of 0.5 s).
fn line_aligned(buf: &mut Vec<f32>, need: usize) -> &mut [f32] {
    if buf.len() < need + LINE_FLOATS {
        buf.resize(need + LINE_FLOATS, 0.0);
    }
    let start = buf.as_ptr().align_offset(64).min(LINE_FLOATS);
    &mut buf[start..start + need]
}

/// Rows per block in [`Mlp::forward`]: large enough for the GEMM's row tiles to run at
/// full speed, small enough that a 256-wide activation block (256 KiB) stays in L2.
pub const ROW_BLOCK: usize = 256;

/// `(start, rows)` of each block of at most [`ROW_BLOCK`] rows, in order. (Not `step_by`: its
/// setup costs about 40 instructions, which shows at batch 1.)
pub fn row_blocks(rows: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..rows.div_ceil(ROW_BLOCK)).map(move |b| {
        let start = b * ROW_BLOCK;
        (start, ROW_BLOCK.min(rows - start))
    })
}

/// Packs one Linear, converting its (possibly folded) f32 weights back to the file's dtype.
pub fn pack_linear(s: &LinearSpec, kernels: &'static KernelTable) -> Result<PackedLinear> {
    let act = if s.relu {
        Activation::Relu
    } else {
        Activation::Identity
    };
    let (out, inp, bias) = (s.out_features, s.in_features, Some(s.bias.as_slice()));
    match s.dtype {
        Dtype::F16 => {
            let w: Vec<f16> = s.weight.iter().map(|&v| f16::from_f32(v)).collect();
            PackedLinear::new(WeightSlice::F16(&w), bias, out, inp, act, kernels)
        }
        Dtype::BF16 => {
            let w: Vec<bf16> = s.weight.iter().map(|&v| bf16::from_f32(v)).collect();
            PackedLinear::new(WeightSlice::Bf16(&w), bias, out, inp, act, kernels)
        }
        _ => PackedLinear::new(WeightSlice::F32(&s.weight), bias, out, inp, act, kernels),
    }
}
