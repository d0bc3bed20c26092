//! Borrowed embedding tables and the argument checks every gather runs before writing anything.

use crate::error::{Error, Result};

/// A `[rows, dim]` row-major embedding table borrowed from anywhere (typically an mmap'd
/// safetensors file: only `T`'s own alignment is required), with the name errors report.
#[derive(Clone, Copy)]
pub struct EmbeddingView<'a, T> {
    name: &'a str,
    data: &'a [T],
    dim: usize,
    rows: usize,
}

impl<'a, T> EmbeddingView<'a, T> {
    /// Views `data` as rows of `dim` elements. Errors if `dim` is 0 or does not divide the length.
    pub fn new(name: &'a str, data: &'a [T], dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidArgument {
                arg: "dim",
                reason: format!("embedding table '{name}' has dim 0"),
            });
        }
        if !data.len().is_multiple_of(dim) {
            return Err(Error::WrongShape {
                tensor: name.to_string(),
                expected: format!("[rows, {dim}]"),
                actual: vec![data.len()],
            });
        }
        Self::with_shape(name, data, data.len() / dim, dim)
    }

    /// Views `data` as `rows` rows of `dim` elements, for a caller that knows the shape (a loaded
    /// table): one multiply instead of [`EmbeddingView::new`]'s division, which matters when a
    /// model rebuilds its views on every call. Errors unless `rows × dim` is exactly the length.
    // Inlined, with the error built out of line: returned through memory, a view is reloaded
    // with wider loads than it was stored with, a store-forwarding stall per field per call.
    #[inline(always)]
    pub fn with_shape(name: &'a str, data: &'a [T], rows: usize, dim: usize) -> Result<Self> {
        if dim == 0 || rows.checked_mul(dim) != Some(data.len()) {
            return Err(shape_mismatch(name, rows, dim, data.len()));
        }
        Ok(EmbeddingView {
            name,
            data,
            dim,
            rows,
        })
    }

    /// Table name, as given to [`EmbeddingView::new`].
    pub fn name(&self) -> &'a str {
        self.name
    }
    /// Row-major elements.
    pub fn data(&self) -> &'a [T] {
        self.data
    }
    /// Elements per row.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Errors with the first id outside `0..rows`, naming this table.
    pub(crate) fn check_ids(&self, ids: &[i64]) -> Result<()> {
        let rows = self.rows as u64;
        // Negative ids wrap to huge u64s, so one unsigned compare covers both ends. The OR-fold
        // has no early exit, so it vectorises: the common (valid) case costs a fraction of a ns/id.
        let bad = ids.iter().fold(false, |acc, &id| acc | (id as u64 >= rows));
        match bad {
            false => Ok(()),
            true => Err(self.out_of_range(ids.iter().copied().find(|&id| id as u64 >= rows))),
        }
    }

    /// The error for `id` (`None` cannot happen when called after a failed check).
    pub(crate) fn out_of_range(&self, id: Option<i64>) -> Error {
        Error::IdOutOfRange {
            table: self.name.to_string(),
            id: id.unwrap_or(-1),
            rows: self.rows,
        }
    }
}

#[cold]
fn shape_mismatch(name: &str, rows: usize, dim: usize, len: usize) -> Error {
    Error::WrongShape {
        tensor: name.to_string(),
        expected: format!("[{rows}, {dim}] (dim > 0)"),
        actual: vec![len],
    }
}

impl<T> std::fmt::Debug for EmbeddingView<'_, T> {
    /// Name and shape only: the data may be gigabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EmbeddingView('{}', [{}, {}])",
            self.name, self.rows, self.dim
        )
    }
}

/// Where gathered row `i` goes in the output: `out[i * stride + offset ..][..dim]`.
///
/// DeepFM gathers field `f` of `F` fields with `stride = F * D`, `offset = f * D`, filling one
/// `[B, F·D]` matrix without a copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutLayout {
    /// Distance between consecutive output rows, in f32s.
    pub stride: usize,
    /// Position of the row within its stride, in f32s.
    pub offset: usize,
}

impl OutLayout {
    /// Rows packed back to back: `stride = dim`, `offset = 0`.
    pub fn contiguous(dim: usize) -> Self {
        OutLayout {
            stride: dim,
            offset: 0,
        }
    }

    /// Checks that `n` rows of `dim` fit in `out_len` without overlapping each other.
    pub(crate) fn check(
        &self,
        op: &'static str,
        dim: usize,
        n: usize,
        out_len: usize,
    ) -> Result<()> {
        let end = self.offset.checked_add(dim);
        if end.is_none_or(|end| end > self.stride) {
            return Err(Error::InvalidArgument {
                arg: "out_layout",
                reason: format!(
                    "{op}: offset {} + dim {dim} exceeds stride {}",
                    self.offset, self.stride
                ),
            });
        }
        if n == 0 {
            return Ok(());
        }
        let needed = (n - 1)
            .checked_mul(self.stride)
            .and_then(|x| x.checked_add(self.offset + dim));
        match needed {
            Some(needed) if needed <= out_len => Ok(()),
            needed => Err(Error::BufferLength {
                op,
                arg: "out",
                expected: needed.unwrap_or(usize::MAX),
                actual: out_len,
            }),
        }
    }
}

/// `Err(BufferLength)` unless `actual == expected`.
pub(crate) fn check_len(
    op: &'static str,
    arg: &'static str,
    expected: usize,
    actual: usize,
) -> Result<()> {
    if expected == actual {
        Ok(())
    } else {
        Err(Error::BufferLength {
            op,
            arg,
            expected,
            actual,
        })
    }
}
