//! Folding an eval-mode BatchNorm1d into the Linear that follows it (SPEC §2).

use crate::error::{Error, Result};

const OP: &str = "fold_batchnorm";

/// Folds `BN(x) = γ·(x − μ)/√(var + ε) + β` over this Linear's *input* features into the Linear:
/// with `s = γ/√(var + ε)` and `t = β − μ·s`, `W' = W·diag(s)` and `b' = b + W·t`, so that
/// `W'·x + b' = W·BN(x) + b`.
///
/// `w` is `[out, in]` row-major, `b` is `[out]` (pass zeros for a Linear without bias), and
/// `gamma`, `beta`, `mean`, `var` are `[in]`. `b'` is computed from the original `W`, and
/// `s`, `t` and `b'` in f64, so the only roundings are the final ones to f32.
///
/// Errors: [`Error::BufferLength`] on any length mismatch; [`Error::InvalidArgument`] if some
/// `var + ε` is not a positive finite number (the scale would be infinite or NaN). Nothing is
/// modified on error.
pub fn fold_batchnorm_into_next(
    w: &mut [f32],
    b: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
) -> Result<()> {
    let (out, inp) = (b.len(), gamma.len());
    for (arg, len) in [
        ("beta", beta.len()),
        ("running_mean", mean.len()),
        ("running_var", var.len()),
    ] {
        if len != inp {
            return Err(Error::BufferLength {
                op: OP,
                arg,
                expected: inp,
                actual: len,
            });
        }
    }
    let expected = out.checked_mul(inp).ok_or_else(|| Error::InvalidArgument {
        arg: "weight",
        reason: format!("{out} × {inp} overflows usize"),
    })?;
    if w.len() != expected {
        return Err(Error::BufferLength {
            op: OP,
            arg: "weight",
            expected,
            actual: w.len(),
        });
    }
    if let Some(i) = var.iter().position(|&v| {
        let d = f64::from(v) + f64::from(eps);
        !(d > 0.0 && d.is_finite())
    }) {
        return Err(Error::InvalidArgument {
            arg: "running_var",
            reason: format!(
                "running_var[{i}] + eps = {} + {eps} is not positive",
                var[i]
            ),
        });
    }
    let scale_shift = |i: usize| {
        let s = f64::from(gamma[i]) / (f64::from(var[i]) + f64::from(eps)).sqrt();
        (s, f64::from(beta[i]) - f64::from(mean[i]) * s)
    };
    if inp == 0 {
        return Ok(());
    }
    for (row, bias) in w.chunks_exact_mut(inp).zip(b.iter_mut()) {
        let mut acc = f64::from(*bias);
        for (i, wi) in row.iter_mut().enumerate() {
            let (s, t) = scale_shift(i);
            acc += f64::from(*wi) * t;
            *wi = (f64::from(*wi) * s) as f32;
        }
        *bias = acc as f32;
    }
    Ok(())
}
