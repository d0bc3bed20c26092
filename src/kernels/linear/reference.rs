//! The scalar reference twin of every Linear kernel. Plain loops, never optimised.

use super::packed::{check_io, check_layer};
use super::{Activation, WeightSlice};
use crate::error::Result;

/// `y = act(x·Wᵀ + b)` computed the obvious way, with the same shapes and errors as
/// [`super::PackedLinear::forward`].
///
/// Accumulates in f64 and rounds once: the result is then the exact value correctly rounded
/// (for the sizes tested), so a test's tolerance measures only the kernel's own f32 rounding.
#[allow(clippy::too_many_arguments)]
pub fn linear_reference(
    x: &[f32],
    rows: usize,
    weights: WeightSlice<'_>,
    bias: Option<&[f32]>,
    out: usize,
    inp: usize,
    activation: Activation,
    y: &mut [f32],
) -> Result<()> {
    check_layer(weights.len(), bias, out, inp)?;
    check_io(x, y, rows, out, inp)?;
    for r in 0..rows {
        for o in 0..out {
            let mut acc = bias.map_or(0.0, |b| f64::from(b[o]));
            for i in 0..inp {
                acc += f64::from(x[r * inp + i]) * f64::from(weights.get(o * inp + i));
            }
            let v = acc as f32;
            y[r * out + o] = match activation {
                // Written as a compare so NaN stays NaN, like the kernels.
                Activation::Relu if v < 0.0 => 0.0,
                _ => v,
            };
        }
    }
    Ok(())
}
