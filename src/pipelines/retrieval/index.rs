//! [`ItemIndex`]: open, validate and search an `item_index` file.

use std::path::Path;
use std::sync::Arc;

use half::{bf16, f16};

use super::ivf::{Ivf, IvfInfo, IvfWorkspace};
use crate::error::{Error, Result};
use crate::kernels::topk::{ItemDtype, ItemElement, PackedItems, TopK};
use crate::kernels::KernelTable;
use crate::models::Options;
use crate::weights::{Arch, Dtype, Element, WeightFile};

/// One search result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// The item's id (from the index's `ids`).
    pub id: i64,
    /// Dot product of the query with the item's vector.
    pub score: f32,
    /// The item's row in the index.
    pub index: u32,
}

/// Per-thread scratch for searches; reuse one per thread so warmed-up searches allocate little.
#[derive(Clone, Debug, Default)]
pub struct SearchWorkspace {
    topk: TopK,
    /// One per helper thread of a split exact scan.
    helpers: Vec<TopK>,
    batch: Vec<TopK>,
    /// One list of `nq` per helper thread of a split batch.
    batch_helpers: Vec<Vec<TopK>>,
    exclude: Vec<u32>,
    exclude_flat: Vec<u32>,
    exclude_ranges: Vec<(usize, usize)>,
    ivf: IvfWorkspace,
}

/// Item vectors ready for exact and IVF search. Immutable and `Send + Sync`: share one across
/// threads, each with its own [`SearchWorkspace`].
///
/// Memory: the vectors packed at their own width, plus an 8-bit
/// screen of one byte per value that exact single queries stream first (for 1M × 64 f32,
/// 256 MiB and 64 MiB), plus the IVF lists' copy when the file has them. Opening packs and
/// screens every vector: about 1–2 s per 64M values on one core of the development VM.
#[derive(Debug)]
pub struct ItemIndex {
    file: Arc<WeightFile>,
    ids: Vec<i64>,
    /// (id, row) sorted by id: maps excluded ids to rows.
    by_id: Vec<(i64, u32)>,
    category: Option<Vec<i64>>,
    items: PackedItems,
    ivf: Option<Ivf>,
    /// Threads an exact scan may use ([`Options::threads`]).
    threads: usize,
}

impl ItemIndex {
    /// Maps and validates the index file at `path` with the default kernels.
    pub fn open(path: impl AsRef<Path>) -> Result<ItemIndex> {
        Self::open_with(path, &Options::default())
    }

    /// As [`open`](Self::open), with the kernels `opts` selects (`opts.isa`).
    pub fn open_with(path: impl AsRef<Path>, opts: &Options) -> Result<ItemIndex> {
        Self::from_file(Arc::new(WeightFile::open(path)?), opts)
    }

    /// Builds the index held in an opened file. Errors: not an `item_index` file
    /// ([`Error::InvalidArgument`]); shapes that disagree ([`Error::WrongShape`]); duplicate ids
    /// or malformed IVF lists ([`Error::BadTensorValue`]).
    pub fn from_file(file: Arc<WeightFile>, opts: &Options) -> Result<ItemIndex> {
        if file.arch() != Arch::ItemIndex {
            return Err(Error::InvalidArgument {
                arg: "path",
                reason: format!("a '{}' file is not an item_index", file.arch().name()),
            });
        }
        let kernels = opts.kernels()?;
        let ids = file.tensor("ids")?.as_i64()?.into_owned();
        let n = ids.len();
        let v = file.tensor("vectors")?;
        let d = v.shape()[1];
        if v.shape()[0] != n || d == 0 || n == 0 {
            return Err(Error::WrongShape {
                tensor: "vectors".into(),
                expected: format!("[{n} (ids), dim >= 1] with at least one item"),
                actual: v.shape().to_vec(),
            });
        }
        let category = match file.contains("category") {
            false => None,
            true => {
                let c = file.tensor("category")?;
                if c.shape() != [n] {
                    return Err(Error::WrongShape {
                        tensor: "category".into(),
                        expected: format!("[{n}] (one per id)"),
                        actual: c.shape().to_vec(),
                    });
                }
                Some(c.as_i64()?.into_owned())
            }
        };
        let mut by_id: Vec<(i64, u32)> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        by_id.sort_unstable();
        if let Some(w) = by_id.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::BadTensorValue {
                tensor: "ids".into(),
                reason: format!(
                    "duplicate item id {} (rows {} and {})",
                    w[0].0, w[0].1, w[1].1
                ),
            });
        }
        let (items, ivf) = match v.dtype() {
            // Exact single queries stream an 8-bit screen and rescore their few candidates
            // exactly: results equal a plain scan's bit for bit (`kernels::topk::screen`).
            // f32 stays plain rather than planes: batches are compute-bound, and over planes
            // they measured 1.07× the plain time (1M × 64, b64, median of 15 paired rounds);
            // single queries go through the screen either way.
            Dtype::F32 => pack(&file, &v.as_f32()?, n, d, kernels, |v, n, d, k| {
                PackedItems::new::<f32>(v, n, d, k)?.screened()
            })?,
            Dtype::F16 => pack(&file, &v.as_f16()?, n, d, kernels, |v, n, d, k| {
                PackedItems::new::<f16>(v, n, d, k)?.screened()
            })?,
            Dtype::BF16 => pack(&file, &v.as_bf16()?, n, d, kernels, |v, n, d, k| {
                PackedItems::new::<bf16>(v, n, d, k)?.screened()
            })?,
            other => {
                return Err(Error::WrongDtype {
                    tensor: "vectors".into(),
                    expected: "F32, F16 or BF16",
                    actual: other.name(),
                })
            }
        };
        Ok(ItemIndex {
            file,
            ids,
            by_id,
            category,
            items,
            ivf,
            threads: opts.threads.max(1),
        })
    }

    /// Threads one exact search (or batch) may use from now on; 0 and 1 mean the caller's
    /// thread only. See [`Options::threads`].
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Threads one exact search may use (at least 1).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the index is empty (never: opening rejects an empty index).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Vector width.
    pub fn dim(&self) -> usize {
        self.items.d()
    }

    /// Stored precision of the vectors.
    pub fn dtype(&self) -> ItemDtype {
        self.items.dtype()
    }

    /// Item ids by row.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// Item categories by row, when the index has them.
    pub fn categories(&self) -> Option<&[i64]> {
        self.category.as_deref()
    }

    /// The row of item `id`, if present.
    pub fn row_of(&self, id: i64) -> Option<u32> {
        self.by_id
            .binary_search_by_key(&id, |e| e.0)
            .ok()
            .map(|i| self.by_id[i].1)
    }

    /// Copies row `index`'s vector (widened to f32) into `out` (length [`dim`](Self::dim)).
    pub fn vector(&self, index: u32, out: &mut [f32]) -> Result<()> {
        let d = self.dim();
        let i = index as usize;
        if i >= self.len() {
            return Err(Error::InvalidArgument {
                arg: "index",
                reason: format!("row {i} of {} items", self.len()),
            });
        }
        if out.len() != d {
            return Err(Error::BufferLength {
                op: "item_vector",
                arg: "out",
                expected: d,
                actual: out.len(),
            });
        }
        let v = self.file.tensor("vectors")?;
        let size = v.dtype().size();
        let row = &v.bytes()[i * d * size..(i + 1) * d * size];
        let widen = |o: &mut [f32], f: &dyn Fn(&[u8]) -> f32| {
            o.iter_mut()
                .zip(row.chunks_exact(size))
                .for_each(|(o, b)| *o = f(b))
        };
        match v.dtype() {
            Dtype::F16 => widen(out, &|b| f16::from_le(b).to_f32()),
            Dtype::BF16 => widen(out, &|b| bf16::from_le(b).to_f32()),
            _ => widen(out, &|b| f32::from_le(b)),
        }
        Ok(())
    }

    /// The underlying file (to save it, or read its tensors).
    pub fn file(&self) -> &Arc<WeightFile> {
        &self.file
    }

    /// The packed row-order matrix exact search scans.
    pub fn packed(&self) -> &PackedItems {
        &self.items
    }

    /// The kernel table searches run with.
    pub fn kernels(&self) -> &'static KernelTable {
        self.items.kernels()
    }

    /// IVF list sizes, when the index has IVF lists.
    pub fn ivf_info(&self) -> Option<IvfInfo> {
        self.ivf.as_ref().map(Ivf::info)
    }

    /// Writes the index file to `path` (temporary file + rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let tmp = path.with_extension("tmp-index");
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        std::fs::write(&tmp, self.file.file_bytes()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The `k` best items for `query` by exact scan, skipping the items whose ids are in
    /// `exclude` (any order; ids not in the index are ignored), into `out`, best first.
    ///
    /// Errors: `k == 0` or `k > len()` ([`Error::InvalidArgument`]), wrong query length
    /// ([`Error::BufferLength`]), a NaN or infinite query value ([`Error::NonFiniteInput`]).
    /// Returns fewer than k hits only when exclusions leave fewer than k items.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        exclude: &[i64],
        ws: &mut SearchWorkspace,
        out: &mut Vec<Hit>,
    ) -> Result<()> {
        self.check(query, 1, k)?;
        self.rows_of(exclude, &mut ws.exclude);
        ws.helpers.resize_with(self.threads - 1, TopK::new);
        self.items
            .search_excluding_split(query, k, &ws.exclude, &mut ws.topk, &mut ws.helpers)?;
        out.clear();
        out.extend(ws.topk.iter().map(|(i, s)| self.hit(i, s)));
        Ok(())
    }

    /// Exact search for `nq` queries (row-major `nq × dim`) at once: each item block is loaded
    /// once per tile of queries, so a batch costs far less than `nq` single searches.
    /// `excludes` is empty or holds one id list per query. `outs` is resized to `nq`.
    pub fn search_batch(
        &self,
        queries: &[f32],
        nq: usize,
        k: usize,
        excludes: &[&[i64]],
        ws: &mut SearchWorkspace,
        outs: &mut Vec<Vec<Hit>>,
    ) -> Result<()> {
        self.check(queries, nq, k)?;
        if !excludes.is_empty() && excludes.len() != nq {
            return Err(Error::BufferLength {
                op: "search_batch",
                arg: "excludes",
                expected: nq,
                actual: excludes.len(),
            });
        }
        ws.exclude_flat.clear();
        ws.exclude_ranges.clear();
        for ex in excludes {
            self.rows_of(ex, &mut ws.exclude);
            let start = ws.exclude_flat.len();
            ws.exclude_flat.extend_from_slice(&ws.exclude);
            ws.exclude_ranges.push((start, ws.exclude_flat.len()));
        }
        let lists: Vec<&[u32]> = ws
            .exclude_ranges
            .iter()
            .map(|&(a, b)| &ws.exclude_flat[a..b])
            .collect();
        ws.batch.resize_with(nq, TopK::new);
        ws.batch_helpers.resize_with(self.threads - 1, Vec::new);
        self.items.search_batch_excluding_split(
            queries,
            nq,
            k,
            &lists,
            &mut ws.batch[..nq],
            &mut ws.batch_helpers,
        )?;
        outs.resize_with(nq, Vec::new);
        for (out, top) in outs.iter_mut().zip(&ws.batch) {
            out.clear();
            out.extend(top.iter().map(|(i, s)| self.hit(i, s)));
        }
        Ok(())
    }

    /// Approximate search: scans only the `nprobe` IVF lists whose centroids score best against
    /// `query` (`nprobe ≥ nlist` scans every list and equals [`search`](Self::search)).
    /// Exclusions and errors as [`search`](Self::search), plus [`Error::InvalidArgument`] when
    /// the index has no IVF lists or `nprobe == 0`. Returns fewer than k hits when the probed
    /// lists hold fewer items.
    pub fn search_ivf(
        &self,
        query: &[f32],
        k: usize,
        nprobe: usize,
        exclude: &[i64],
        ws: &mut SearchWorkspace,
        out: &mut Vec<Hit>,
    ) -> Result<()> {
        let Some(ivf) = &self.ivf else {
            return Err(Error::InvalidArgument {
                arg: "nprobe",
                reason: "the index has no IVF lists (build it with IVF)".into(),
            });
        };
        self.check(query, 1, k)?;
        self.rows_of(exclude, &mut ws.exclude);
        ivf.search(query, k, nprobe, &ws.exclude, &mut ws.ivf)?;
        out.clear();
        out.extend(Ivf::merged(&ws.ivf).iter().map(|&(s, i)| self.hit(i, s)));
        Ok(())
    }

    fn hit(&self, index: u32, score: f32) -> Hit {
        Hit {
            id: self.ids[index as usize],
            score,
            index,
        }
    }

    /// Sorted, deduplicated rows of the known ids in `exclude`.
    fn rows_of(&self, exclude: &[i64], rows: &mut Vec<u32>) {
        rows.clear();
        rows.extend(exclude.iter().filter_map(|&id| self.row_of(id)));
        rows.sort_unstable();
        rows.dedup();
    }

    fn check(&self, queries: &[f32], nq: usize, k: usize) -> Result<()> {
        if k == 0 || k > self.len() {
            return Err(Error::InvalidArgument {
                arg: "k",
                reason: format!("k = {k}, must be in 1..={}", self.len()),
            });
        }
        let d = self.dim();
        let expected = nq.saturating_mul(d);
        if queries.len() != expected {
            return Err(Error::BufferLength {
                op: "search",
                arg: "query",
                expected,
                actual: queries.len(),
            });
        }
        if let Some(p) = queries.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFiniteInput {
                row: p / d,
                col: p % d,
            });
        }
        Ok(())
    }
}

/// The items packed for the exact scan by `pack_items`, and the IVF lists if the file has them.
fn pack<T: ItemElement + Element>(
    file: &WeightFile,
    vectors: &[T],
    n: usize,
    d: usize,
    kernels: &'static KernelTable,
    pack_items: fn(&[T], usize, usize, &'static KernelTable) -> Result<PackedItems>,
) -> Result<(PackedItems, Option<Ivf>)> {
    let items = pack_items(vectors, n, d, kernels)?;
    let ivf = Ivf::load(file, vectors, n, d, kernels)?;
    Ok((items, ivf))
}
