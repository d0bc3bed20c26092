//! Building indexes: from vectors, from a two-tower model's item tower, and adding IVF lists.
//! Every path goes through the file format ([`SafetensorsWriter`] then the validating reader),
//! so an index built in memory is exactly what [`ItemIndex::save`] writes and `open` reads.

use std::sync::Arc;

use half::{bf16, f16};

use super::index::ItemIndex;
use super::ivf::{CENTROIDS, ITEMS, OFFSETS};
use super::kmeans::{self, default_nlist, KmeansParams};
use crate::error::{Error, Result};
use crate::kernels::topk::ItemDtype;
use crate::models::{Options, Tower, TwoTower, TwoTowerWorkspace};
use crate::weights::{SafetensorsWriter, WeightFile, KEY_ARCH};

/// Items run through the item tower per call.
const EMBED_BATCH: usize = 4096;

impl ItemIndex {
    /// An index of `vectors` (row-major `ids.len() × d`, f32) stored as `dtype`, with optional
    /// per-item categories. Errors: lengths that disagree ([`Error::BufferLength`]), duplicate
    /// ids ([`Error::BadTensorValue`]), no items or `d == 0` ([`Error::WrongShape`]).
    pub fn from_vectors(
        ids: &[i64],
        vectors: &[f32],
        d: usize,
        dtype: ItemDtype,
        category: Option<&[i64]>,
    ) -> Result<ItemIndex> {
        let w = encode(ids, vectors, d, dtype, category)?;
        open_bytes(w.to_bytes()?, &Options::default())
    }

    /// Runs `model`'s item tower over `ids` (in batches) and indexes the vectors.
    pub fn build_from_model(
        model: &TwoTower,
        ids: &[i64],
        dtype: ItemDtype,
        category: Option<&[i64]>,
    ) -> Result<ItemIndex> {
        Self::build_from_model_with_progress(model, ids, dtype, category, &mut |_| {})
    }

    /// As [`build_from_model`](Self::build_from_model), calling `progress(items_done)` after
    /// each batch (for a progress bar).
    pub fn build_from_model_with_progress(
        model: &TwoTower,
        ids: &[i64],
        dtype: ItemDtype,
        category: Option<&[i64]>,
        progress: &mut dyn FnMut(usize),
    ) -> Result<ItemIndex> {
        let d = model.dim();
        let mut vectors = vec![0.0f32; ids.len() * d];
        let mut ws = TwoTowerWorkspace::default();
        let mut done = 0;
        for (chunk, out) in ids
            .chunks(EMBED_BATCH)
            .zip(vectors.chunks_mut(EMBED_BATCH * d))
        {
            model.embed(Tower::Item, chunk, out, &mut ws)?;
            done += chunk.len();
            progress(done);
        }
        Self::from_vectors(ids, &vectors, d, dtype, category)
    }

    /// This index with IVF lists trained by k-means on its (stored-precision) vectors,
    /// replacing any it had. `params.nlist == 0` picks [`default_nlist`].
    pub fn with_ivf(&self, params: &KmeansParams) -> Result<ItemIndex> {
        let (n, d) = (self.len(), self.dim());
        let vectors = self.file().tensor("vectors")?.to_f32()?;
        let mut params = params.clone();
        if params.nlist == 0 {
            params.nlist = default_nlist(n);
        }
        let kernels = self.kernels();
        let centroids = kmeans::train(&vectors, n, d, &params, kernels)?;
        let assign = kmeans::assign(&vectors, n, d, &centroids, params.nlist, kernels)?;
        // Counting sort by list: rows stay ascending within each list.
        let mut offsets = vec![0i64; params.nlist + 1];
        for &a in &assign {
            offsets[a as usize + 1] += 1;
        }
        for l in 0..params.nlist {
            offsets[l + 1] += offsets[l];
        }
        let mut next: Vec<i64> = offsets[..params.nlist].to_vec();
        let mut items = vec![0i64; n];
        for (row, &a) in assign.iter().enumerate() {
            items[next[a as usize] as usize] = row as i64;
            next[a as usize] += 1;
        }
        let w = encode(self.ids(), &vectors, d, self.dtype(), self.categories())?
            .tensor_f32(CENTROIDS, &[params.nlist, d], &centroids)
            .tensor_i64(OFFSETS, &[params.nlist + 1], &offsets)
            .tensor_i64(ITEMS, &[n], &items);
        let opts = Options {
            isa: Some(kernels.isa),
            threads: self.threads(),
            ..Options::default()
        };
        open_bytes(w.to_bytes()?, &opts)
    }
}

fn open_bytes(bytes: Vec<u8>, opts: &Options) -> Result<ItemIndex> {
    ItemIndex::from_file(Arc::new(WeightFile::from_bytes(bytes)?), opts)
}

/// The base tensors of an index file.
fn encode(
    ids: &[i64],
    vectors: &[f32],
    d: usize,
    dtype: ItemDtype,
    category: Option<&[i64]>,
) -> Result<SafetensorsWriter> {
    let n = ids.len();
    let expected = n.saturating_mul(d);
    if vectors.len() != expected {
        return Err(Error::BufferLength {
            op: "item_index",
            arg: "vectors",
            expected,
            actual: vectors.len(),
        });
    }
    if let Some(c) = category {
        if c.len() != n {
            return Err(Error::BufferLength {
                op: "item_index",
                arg: "category",
                expected: n,
                actual: c.len(),
            });
        }
    }
    let mut w = SafetensorsWriter::new()
        .metadata(KEY_ARCH, "item_index")
        .tensor_i64("ids", &[n], ids);
    let shape = [n, d];
    w = match dtype {
        ItemDtype::F32 => w.tensor_f32("vectors", &shape, vectors),
        ItemDtype::F16 => {
            let h: Vec<f16> = vectors.iter().map(|&x| f16::from_f32(x)).collect();
            w.tensor_f16("vectors", &shape, &h)
        }
        ItemDtype::Bf16 => {
            let h: Vec<bf16> = vectors.iter().map(|&x| bf16::from_f32(x)).collect();
            w.tensor_bf16("vectors", &shape, &h)
        }
    };
    if let Some(c) = category {
        w = w.tensor_i64("category", &[n], c);
    }
    Ok(w)
}
