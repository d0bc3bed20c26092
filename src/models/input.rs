//! Checks shared by every model's entry points.

use crate::error::{Error, Result};

/// `x` must hold `rows × cols` values and, unless allowed, only finite ones.
pub(crate) fn check_dense(
    x: &[f32],
    rows: usize,
    cols: usize,
    allow_non_finite: bool,
) -> Result<()> {
    let expected = rows
        .checked_mul(cols)
        .ok_or_else(|| Error::InvalidArgument {
            arg: "rows",
            reason: format!("{rows} rows × {cols} columns overflows"),
        })?;
    if x.len() != expected {
        return Err(Error::BufferLength {
            op: "predict",
            arg: "x",
            expected,
            actual: x.len(),
        });
    }
    // No early exit, so the common all-finite case vectorises.
    if !allow_non_finite && !x.iter().fold(true, |ok, v| ok & v.is_finite()) {
        let i = x.iter().position(|v| !v.is_finite()).unwrap_or(0);
        return Err(Error::NonFiniteInput {
            row: i / cols.max(1),
            col: i % cols.max(1),
        });
    }
    Ok(())
}

/// `buf` must hold exactly `expected` values.
pub(crate) fn check_len(
    op: &'static str,
    arg: &'static str,
    buf_len: usize,
    expected: usize,
) -> Result<()> {
    if buf_len != expected {
        return Err(Error::BufferLength {
            op,
            arg,
            expected,
            actual: buf_len,
        });
    }
    Ok(())
}

/// Grows `buf` to at least `n` (amortised: a warmed-up workspace never reallocates).
pub(crate) fn grow<T: Copy + Default>(buf: &mut Vec<T>, n: usize) -> &mut [T] {
    if buf.len() < n {
        buf.resize(n, T::default());
    }
    &mut buf[..n]
}
