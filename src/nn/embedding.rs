//! Embedding tables served straight from the mapped weight file.
//!
//! Opening a model must not copy a large table (SPEC §7: a 1 GiB table opens in ≤ 10 ms), so a
//! table is kept as a byte range of the shared, memory-mapped file and viewed per call. Only when
//! the file places the table at an address misaligned for its dtype is it copied once at load.

use std::ops::Range;
use std::sync::Arc;

use half::{bf16, f16};

use crate::error::{Error, Result};
use crate::kernels::elementwise::{EmbeddingView, OutLayout};
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
        match &self.data {
            TableData::F32(v) => (k.gather_f32.f)(self.view(v)?, ids, out, layout),
            TableData::F16(v) => (k.gather_f16.f)(self.view(v)?, ids, out, layout),
            TableData::Bf16(v) => (k.gather_bf16.f)(self.view(v)?, ids, out, layout),
            TableData::Mapped { file, dtype, range } => {
                let bytes = &file.file_bytes()[range.clone()];
                match dtype {
                    Dtype::F16 => (k.gather_f16.f)(
                        self.view(cast::<f16>(&self.name, bytes)?)?,
                        ids,
                        out,
                        layout,
                    ),
                    Dtype::BF16 => (k.gather_bf16.f)(
                        self.view(cast::<bf16>(&self.name, bytes)?)?,
                        ids,
                        out,
                        layout,
                    ),
                    _ => (k.gather_f32.f)(
                        self.view(cast::<f32>(&self.name, bytes)?)?,
                        ids,
                        out,
                        layout,
                    ),
                }
            }
        }
    }

    fn view<'a, T>(&'a self, data: &'a [T]) -> Result<EmbeddingView<'a, T>> {
        EmbeddingView::new(&self.name, data, self.dim)
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
    (t.bytes().as_ptr() as usize % align == 0).then(|| start..start + t.bytes().len())
}

fn cast<'a, T: bytemuck::Pod>(name: &str, bytes: &'a [u8]) -> Result<&'a [T]> {
    // Alignment was checked at load and the mapping never moves, so this cannot fail; the error
    // is for completeness, not a path anyone should reach.
    bytemuck::try_cast_slice(bytes).map_err(|e| Error::Unsupported {
        tensor: name.to_string(),
        reason: format!("mapped table no longer castable: {e}"),
    })
}
