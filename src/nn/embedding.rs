//! Embedding tables served straight from the mapped weight file.
//!
//! Opening a model must not copy a large table (SPEC §7: a 1 GiB table opens in ≤ 10 ms), so a
//! table is kept as a byte range of the shared, memory-mapped file and viewed per call. Only when
//! the file places the table at an address misaligned for its dtype is it copied once at load.

use std::ops::Range;
use std::sync::Arc;

use half::{bf16, f16};

use crate::error::{Error, Result};
use crate::kernels::elementwise::{Elem, EmbeddingView, OutLayout};
use crate::kernels::KernelTable;
use crate::weights::{Dtype, TensorView, WeightFile};

/// A `[rows, dim]` embedding table (f32, f16 or bf16).
#[derive(Debug)]
pub struct EmbeddingTable {
    name: String,
    rows: usize,
    dim: usize,
    data: TableData,
}

#[derive(Debug)]
enum TableData {
    Mapped {
        file: Arc<WeightFile>,
        dtype: Dtype,
        range: Range<usize>,
    },
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bf16(Vec<bf16>),
}

impl EmbeddingTable {
    /// The table stored in tensor `name` of `file`.
    pub fn load(file: &Arc<WeightFile>, name: &str) -> Result<EmbeddingTable> {
        let t = file.tensor(name)?;
        let &[rows, dim] = t.shape() else {
            return Err(Error::WrongShape {
                tensor: name.to_string(),
                expected: "[rows, dim]".into(),
                actual: t.shape().to_vec(),
            });
        };
        if dim == 0 || rows == 0 {
            return Err(Error::WrongShape {
                tensor: name.to_string(),
                expected: "[rows > 0, dim > 0]".into(),
                actual: t.shape().to_vec(),
            });
        }
        let data = match mapped_range(file, &t) {
            Some(range) => TableData::Mapped {
                file: Arc::clone(file),
                dtype: t.dtype(),
                range,
            },
            None => match t.dtype() {
                Dtype::F16 => TableData::F16(t.as_f16()?.into_owned()),
                Dtype::BF16 => TableData::Bf16(t.as_bf16()?.into_owned()),
                _ => TableData::F32(t.as_f32()?.into_owned()),
            },
        };
        Ok(EmbeddingTable {
            name: name.to_string(),
            rows,
            dim,
            data,
        })
    }

    /// Tensor name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of rows (the vocabulary size).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Row width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Copies row `ids[i]` (as f32) to `out` at `layout`, for every `i`. An id outside
    /// `0..rows` is [`Error::IdOutOfRange`] naming this table, reported before anything is written.
    pub fn gather(
        &self,
        ids: &[i64],
        out: &mut [f32],
        layout: OutLayout,
        kernels: &KernelTable,
    ) -> Result<()> {
        let k = &kernels.elementwise;
        match self.view()? {
            TableView::F32(v) => (k.gather_f32.f)(v, ids, out, layout),
            TableView::F16(v) => (k.gather_f16.f)(v, ids, out, layout),
            TableView::Bf16(v) => (k.gather_bf16.f)(v, ids, out, layout),
        }
    }

    /// [`Error::IdOutOfRange`] naming this table for the first id outside `0..rows`, if any.
    /// (Every gather checks its own ids; this is for callers that gather in several calls and
    /// must fail before the first.)
    pub fn check_ids(&self, ids: &[i64]) -> Result<()> {
        let rows = self.rows as u64;
        // Branch-free over all ids (the valid case); then locate the offender.
        if !ids.iter().fold(false, |bad, &id| bad | (id as u64 >= rows)) {
            return Ok(());
        }
        let id = ids.iter().copied().find(|&id| id as u64 >= rows);
        Err(Error::IdOutOfRange {
            table: self.name.clone(),
            id: id.unwrap_or(-1),
            rows: self.rows,
        })
    }

    /// The table as a kernel view of its own element type (no copy).
    // Inlined: returned through memory, the 50-byte view costs more than the gather of a row.
    #[inline(always)]
    pub fn view(&self) -> Result<TableView<'_>> {
        Ok(match &self.data {
            TableData::F32(v) => TableView::F32(self.typed(v)?),
            TableData::F16(v) => TableView::F16(self.typed(v)?),
            TableData::Bf16(v) => TableView::Bf16(self.typed(v)?),
            TableData::Mapped { file, dtype, range } => {
                let bytes = file.file_bytes().get(range.clone()).unwrap_or_default();
                match dtype {
                    Dtype::F16 => TableView::F16(self.typed(cast(&self.name, bytes)?)?),
                    Dtype::BF16 => TableView::Bf16(self.typed(cast(&self.name, bytes)?)?),
                    _ => TableView::F32(self.typed(cast(&self.name, bytes)?)?),
                }
            }
        })
    }

    #[inline(always)]
    fn typed<'a, T>(&'a self, data: &'a [T]) -> Result<EmbeddingView<'a, T>> {
        EmbeddingView::with_shape(&self.name, data, self.rows, self.dim)
    }
}

/// An [`EmbeddingTable`] viewed with its element type, for the kernels that take typed views.
#[derive(Clone, Copy, Debug)]
pub enum TableView<'a> {
    /// f32 rows.
    F32(EmbeddingView<'a, f32>),
    /// f16 rows.
    F16(EmbeddingView<'a, f16>),
    /// bf16 rows.
    Bf16(EmbeddingView<'a, bf16>),
}

/// Picks the view of one element type out of a [`TableView`], so code generic over the element
/// type (e.g. DeepFM's fused gather+FM over every field) can collect views of one type.
pub trait TableElem: Elem {
    /// The view if the table holds `Self`.
    fn pick(view: TableView<'_>) -> Option<EmbeddingView<'_, Self>>;
}

impl TableElem for f32 {
    fn pick(view: TableView<'_>) -> Option<EmbeddingView<'_, f32>> {
        match view {
            TableView::F32(v) => Some(v),
            _ => None,
        }
    }
}

impl TableElem for f16 {
    fn pick(view: TableView<'_>) -> Option<EmbeddingView<'_, f16>> {
        match view {
            TableView::F16(v) => Some(v),
            _ => None,
        }
    }
}

impl TableElem for bf16 {
    fn pick(view: TableView<'_>) -> Option<EmbeddingView<'_, bf16>> {
        match view {
            TableView::Bf16(v) => Some(v),
            _ => None,
        }
    }
}

/// The byte range of `t` within the file, if its data can be viewed in place (aligned for its
/// dtype and a float type the gather kernels take).
fn mapped_range(file: &WeightFile, t: &TensorView<'_>) -> Option<Range<usize>> {
    let align = match t.dtype() {
        Dtype::F32 => 4,
        Dtype::F16 | Dtype::BF16 => 2,
        _ => return None,
    };
    let base = file.file_bytes().as_ptr() as usize;
    let start = (t.bytes().as_ptr() as usize).checked_sub(base)?;
    (t.bytes().as_ptr() as usize)
        .is_multiple_of(align)
        .then(|| start..start + t.bytes().len())
}

#[inline(always)]
fn cast<'a, T: bytemuck::Pod>(name: &str, bytes: &'a [u8]) -> Result<&'a [T]> {
    // Alignment was checked at load and the mapping never moves, so this cannot fail; the error
    // is for completeness, not a path anyone should reach.
    bytemuck::try_cast_slice(bytes).map_err(|e| Error::Unsupported {
        tensor: name.to_string(),
        reason: format!("mapped table no longer castable: {e}"),
    })
}
