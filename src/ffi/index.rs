//! `reckon_index`: item indexes for retrieval (SPEC §4.1) from C: open an `item_index` file or
//! build one from a two_tower model, save it, and search it exactly or through IVF lists.

use std::cell::RefCell;
use std::ffi::{c_char, c_int};
use std::sync::Arc;

use super::boundary::{
    arg_out, arg_ref, arg_slice, arg_slice_mut, arg_str, checked_len, free_box, guard, guard_void,
    hand_out, opening, out_prefix, FfiError, FfiResult,
};
use super::core::{options_or_default, reckon_options};
use super::model::{model_arg, reckon_model};
use super::status::{reckon_status, Status};
use crate::models::{Model, Tower};
use crate::pipelines::retrieval::{Hit, ItemDtype, ItemIndex, KmeansParams, SearchWorkspace};

/// An item index: ids, vectors, optional categories and optional IVF lists. Opaque; immutable,
/// so one handle may be searched by any number of threads at once.
#[allow(non_camel_case_types)]
pub struct reckon_index {
    pub(crate) inner: Arc<ItemIndex>,
}

/// One search result.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct reckon_hit {
    /// The item's id.
    pub id: i64,
    /// Dot product of the query with the item's vector.
    pub score: f32,
}

/// What a batch search writes into the slots of a row that the query left unfilled (only when
/// exclusions leave fewer than k items); `counts` says how many slots are real.
const UNFILLED: reckon_hit = reckon_hit {
    id: -1,
    score: f32::NEG_INFINITY,
};

/// Precision an index stores its vectors in, a `reckon_item_dtype_code` value (an int rather
/// than the enum, so that any value C passes is safe to check).
#[allow(non_camel_case_types)]
pub type reckon_item_dtype = c_int;

/// The values a `reckon_item_dtype` takes.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum reckon_item_dtype_code {
    /// 32-bit float (exact).
    RECKON_ITEM_F32 = 0,
    /// IEEE half precision (half the memory; scores differ slightly from f32).
    RECKON_ITEM_F16 = 1,
    /// bfloat16 (half the memory; coarser than f16).
    RECKON_ITEM_BF16 = 2,
}

/// How `reckon_index_build` builds an index. Start from `reckon_index_build_options_default()`
/// and change the fields you need.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct reckon_index_build_options {
    /// Stored precision, a `reckon_item_dtype_code` (default `RECKON_ITEM_F32`).
    pub dtype: reckon_item_dtype,
    /// NULL (no categories, the default), or one category per item: `categories[i]` is item
    /// id i's category, any `int64_t` value (only equality matters). Only read during the call.
    pub categories: *const i64,
    /// Entries in `categories`: 0 with NULL, else the item tower's vocabulary size.
    pub categories_len: usize,
    /// Train IVF lists (k-means) so that `reckon_index_search_ivf` works (default false).
    pub ivf: bool,
    /// IVF lists, 1..=items; 0 (the default) means about 4·√items.
    pub nlist: usize,
    /// k-means iterations (default 10).
    pub iterations: usize,
    /// k-means seed: the same seed and items give the same lists (default 0x5eed).
    pub seed: u64,
    /// Threads one exact search on the built index may use, as `reckon_options_set_threads`
    /// (default 1: the calling thread only).
    pub threads: usize,
}

/// What `reckon_index_describe` reports.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct reckon_index_info {
    /// Number of items.
    pub len: usize,
    /// Vector width: the `dim` every query must have.
    pub dim: usize,
    /// Stored precision: `"f32"`, `"f16"` or `"bf16"`. Static storage: valid forever.
    pub dtype: *const c_char,
    /// Whether the index has IVF lists (`reckon_index_search_ivf` works).
    pub has_ivf: bool,
    /// Number of IVF lists (0 without IVF).
    pub nlist: usize,
    /// Whether the index has a category per item.
    pub has_categories: bool,
}

/// Per-thread scratch: a warmed-up search reuses every buffer, and results land here first so
/// that a failed search leaves the caller's buffers untouched.
#[derive(Default)]
struct Scratch {
    search: SearchWorkspace,
    hits: Vec<Hit>,
    batch: Vec<Vec<Hit>>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> FfiResult<T>) -> FfiResult<T> {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => Err(FfiError::invalid(
            "thread",
            "reckon was re-entered on this thread during a call",
        )),
    })
}

/// The index behind a handle argument.
///
/// # Safety
/// A non-NULL `index` must point to a live `reckon_index`.
pub(crate) unsafe fn index_arg<'a>(
    index: *const reckon_index,
    arg: &str,
) -> FfiResult<&'a Arc<ItemIndex>> {
    // SAFETY: forwarded contract.
    Ok(&unsafe { arg_ref(index, arg) }?.inner)
}

/// `k` and the query width against the index, checked before anything runs.
fn check_query(index: &ItemIndex, k: usize, dim: usize) -> FfiResult<()> {
    if k == 0 || k > index.len() {
        return Err(FfiError::invalid(
            "k",
            format_args!("is {k}; must be in 1..={} (the index's items)", index.len()),
        ));
    }
    if dim != index.dim() {
        return Err(FfiError::new(
            Status::RECKON_SHAPE,
            format!("dim: the index holds {}-d vectors, got {dim}", index.dim()),
        ));
    }
    Ok(())
}

fn copy_hits(hits: &[Hit], out: &mut [reckon_hit]) {
    for (o, h) in out.iter_mut().zip(hits) {
        *o = reckon_hit {
            id: h.id,
            score: h.score,
        };
    }
}

/// The defaults: f32 vectors, no categories, no IVF (nlist 0 = about 4·√items, 10 iterations,
/// seed 0x5eed when `ivf` is set).
#[no_mangle]
pub extern "C" fn reckon_index_build_options_default() -> reckon_index_build_options {
    let k = KmeansParams::default();
    reckon_index_build_options {
        dtype: reckon_item_dtype_code::RECKON_ITEM_F32 as reckon_item_dtype,
        categories: std::ptr::null(),
        categories_len: 0,
        ivf: false,
        nlist: k.nlist,
        iterations: k.iters,
        seed: k.seed,
        threads: 1,
    }
}

/// Opens the `item_index` file at `path` (UTF-8, NUL-terminated; as written by
/// `reckon_index_save` or `reckon index build`). `opts` may be NULL (defaults; only the ISA
/// and thread settings matter here). On success `*out` holds a handle to free with `reckon_index_free`;
/// on failure `*out` is left unchanged. A file of another kind gives `RECKON_INVALID_ARGUMENT`,
/// a malformed one `RECKON_FORMAT`.
#[no_mangle]
pub unsafe extern "C" fn reckon_index_open(
    path: *const c_char,
    opts: *const reckon_options,
    out: *mut *mut reckon_index,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract for each pointer argument (documented in the header).
        let (path, opts, out) = unsafe {
            (
                arg_str(path, "path")?,
                options_or_default(opts)?,
                arg_out(out, "out")?,
            )
        };
        let index = ItemIndex::open_with(path, &opts).map_err(opening(path))?;
        hand_out(
            out,
            reckon_index {
                inner: Arc::new(index),
            },
        );
        Ok(())
    })
}

/// Builds an index in memory from a two_tower model: runs the item tower over every item id
/// (0 .. item vocabulary − 1) and, if `opts->ivf`, trains IVF lists. `opts` may be NULL
/// (`reckon_index_build_options_default()`). The stored vectors are the item tower's, equal to
/// `reckon_tower_embed`'s to within float rounding (the tower runs in large batches here). The
/// index does not keep the model. On success `*out` holds a handle to free with
/// `reckon_index_free`. Errors: a model that is not two_tower, a bad dtype or nlist
/// (`RECKON_INVALID_ARGUMENT`), `categories_len` not the item count (`RECKON_SHAPE`).
#[no_mangle]
pub unsafe extern "C" fn reckon_index_build(
    model: *const reckon_model,
    opts: *const reckon_index_build_options,
    out: *mut *mut reckon_index,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `model` is a live handle, `opts` NULL or readable, `out` writable.
        let (model, opts, out) = unsafe {
            (
                model_arg(model, "model")?,
                match opts.is_null() {
                    true => reckon_index_build_options_default(),
                    false => *arg_ref(opts, "opts")?,
                },
                arg_out(out, "out")?,
            )
        };
        let Model::TwoTower(towers) = model.as_ref() else {
            return Err(FfiError::invalid(
                "model",
                format_args!(
                    "is {}; an index is built from a two_tower model",
                    model.arch()
                ),
            ));
        };
        let dtype = match opts.dtype {
            d if d == reckon_item_dtype_code::RECKON_ITEM_F32 as c_int => ItemDtype::F32,
            d if d == reckon_item_dtype_code::RECKON_ITEM_F16 as c_int => ItemDtype::F16,
            d if d == reckon_item_dtype_code::RECKON_ITEM_BF16 as c_int => ItemDtype::Bf16,
            other => {
                return Err(FfiError::invalid(
                    "opts->dtype",
                    format_args!("{other} is not a reckon_item_dtype_code"),
                ))
            }
        };
        let n = towers.vocab(Tower::Item);
        // SAFETY: C contract: `categories` holds `categories_len` ids when non-NULL.
        let categories =
            unsafe { arg_slice(opts.categories, opts.categories_len, "opts->categories") }?;
        if !categories.is_empty() && categories.len() != n {
            return Err(FfiError::new(
                Status::RECKON_SHAPE,
                format!(
                    "opts->categories_len: the model has {n} items, got {}",
                    categories.len()
                ),
            ));
        }
        if opts.ivf && opts.nlist > n {
            return Err(FfiError::invalid(
                "opts->nlist",
                format_args!(
                    "{} lists for {n} items; need 0 (default) or 1..={n}",
                    opts.nlist
                ),
            ));
        }
        let ids: Vec<i64> = (0..n as i64).collect();
        let cats = (!categories.is_empty()).then_some(categories);
        let mut index = ItemIndex::build_from_model(towers, &ids, dtype, cats)?;
        if opts.ivf {
            index = index.with_ivf(&KmeansParams {
                nlist: opts.nlist,
                iters: opts.iterations,
                seed: opts.seed,
                ..KmeansParams::default()
            })?;
        }
        index.set_threads(opts.threads);
        hand_out(
            out,
            reckon_index {
                inner: Arc::new(index),
            },
        );
        Ok(())
    })
}

/// Writes the index (with its IVF lists, if any) to `path` (UTF-8, NUL-terminated) through a
/// temporary file and a rename, so readers never see half a file. `RECKON_IO` on failure.
#[no_mangle]
pub unsafe extern "C" fn reckon_index_save(
    index: *const reckon_index,
    path: *const c_char,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract for each pointer argument.
        let (index, path) = unsafe { (index_arg(index, "index")?, arg_str(path, "path")?) };
        Ok(index.save(path)?)
    })
}

/// Frees an index. NULL is fine. Recommenders built from it keep their own reference.
#[no_mangle]
pub unsafe extern "C" fn reckon_index_free(index: *mut reckon_index) {
    // SAFETY: C contract: `index` is NULL or came from reckon_index_open/build, freed once.
    guard_void(|| unsafe { free_box(index) })
}

/// Size, width, precision and IVF state of the index, written to `*out`.
#[no_mangle]
pub unsafe extern "C" fn reckon_index_describe(
    index: *const reckon_index,
    out: *mut reckon_index_info,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract for each pointer argument.
        let (index, out) = unsafe { (index_arg(index, "index")?, arg_out(out, "out")?) };
        let ivf = index.ivf_info();
        let dtype = match index.dtype() {
            ItemDtype::F32 => "f32\0",
            ItemDtype::F16 => "f16\0",
            ItemDtype::Bf16 => "bf16\0",
        };
        *out = reckon_index_info {
            len: index.len(),
            dim: index.dim(),
            dtype: dtype.as_ptr() as *const c_char,
            has_ivf: ivf.is_some(),
            nlist: ivf.map_or(0, |i| i.nlist),
            has_categories: index.categories().is_some(),
        };
        Ok(())
    })
}

/// Exact search: the `k` items whose vectors have the largest dot product with `query` (`dim`
/// floats, the index's width), best first (ties to the lower row), skipping the
/// `exclude_len` ids in `exclude` (any order; unknown ids are ignored; NULL if 0). `k` must be
/// in 1..=items: a larger `k` is `RECKON_INVALID_ARGUMENT`, not a clamp. `out` holds `out_len`
/// hits and must hold at least `k`; `*out_count` receives how many were written, which is `k`
/// unless exclusions leave fewer items. Errors: wrong `dim` (`RECKON_SHAPE`), a NaN or
/// infinite query value (`RECKON_NON_FINITE`). Nothing is written unless the call succeeds.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn reckon_index_search(
    index: *const reckon_index,
    query: *const f32,
    dim: usize,
    k: usize,
    exclude: *const i64,
    exclude_len: usize,
    out: *mut reckon_hit,
    out_len: usize,
    out_count: *mut usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `index` is a live handle.
        let index = unsafe { index_arg(index, "index") }?;
        check_query(index, k, dim)?;
        // SAFETY: C contract: each buffer holds the length passed with it.
        let (query, exclude, out, out_count) = unsafe {
            (
                arg_slice(query, dim, "query")?,
                arg_slice(exclude, exclude_len, "exclude")?,
                out_prefix(out, out_len, k, "out")?,
                arg_out(out_count, "out_count")?,
            )
        };
        with_scratch(|s| {
            index.search(query, k, exclude, &mut s.search, &mut s.hits)?;
            copy_hits(&s.hits, out);
            *out_count = s.hits.len();
            Ok(())
        })
    })
}

/// Exact search for `n_queries` queries at once (row-major `n_queries × dim` in `queries`);
/// much faster than one call per query. Query q's results fill row q of `out` (`n_queries × k`
/// hits, row-major; `out_len` ≥ `n_queries × k`) and `counts[q]` (`counts` holds `n_queries`
/// entries) says how many of the row's slots are real; the rest are set to
/// `{ .id = -1, .score = -INFINITY }`. Exclusions: `exclude_offsets` NULL for none, else
/// `n_queries + 1` non-decreasing offsets, query q skipping the ids
/// `exclude[exclude_offsets[q] .. exclude_offsets[q + 1]]` (so `exclude` holds
/// `exclude_offsets[n_queries]` ids; `exclude_offsets[0]` need not be 0, and decreasing
/// offsets are `RECKON_INVALID_ARGUMENT`). `k`, `dim` and errors as `reckon_index_search`;
/// `n_queries` = 0 is `RECKON_INVALID_ARGUMENT`. Nothing is written unless the call succeeds.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn reckon_index_search_batch(
    index: *const reckon_index,
    queries: *const f32,
    n_queries: usize,
    dim: usize,
    k: usize,
    exclude: *const i64,
    exclude_offsets: *const usize,
    out: *mut reckon_hit,
    out_len: usize,
    counts: *mut usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `index` is a live handle.
        let index = unsafe { index_arg(index, "index") }?;
        if n_queries == 0 {
            return Err(FfiError::invalid("n_queries", "is 0"));
        }
        check_query(index, k, dim)?;
        let needed = checked_len(n_queries, k, "n_queries")?;
        // SAFETY: C contract: each buffer holds the length documented for it.
        let (queries, offsets) = unsafe {
            (
                arg_slice(
                    queries,
                    checked_len(n_queries, dim, "n_queries")?,
                    "queries",
                )?,
                match exclude_offsets.is_null() {
                    true => &[][..],
                    false => arg_slice(exclude_offsets, n_queries + 1, "exclude_offsets")?,
                },
            )
        };
        if offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err(FfiError::invalid("exclude_offsets", "must not decrease"));
        }
        let exclude_len = offsets.last().copied().unwrap_or(0);
        // SAFETY: C contract: `exclude` holds exclude_offsets[n_queries] ids, `out` out_len
        // hits, `counts` n_queries counts.
        let (exclude, out, counts) = unsafe {
            (
                arg_slice(exclude, exclude_len, "exclude")?,
                out_prefix(out, out_len, needed, "out")?,
                arg_slice_mut(counts, n_queries, "counts")?,
            )
        };
        let lists: Vec<&[i64]> = offsets.windows(2).map(|w| &exclude[w[0]..w[1]]).collect();
        with_scratch(|s| {
            index.search_batch(queries, n_queries, k, &lists, &mut s.search, &mut s.batch)?;
            for ((row, hits), count) in out.chunks_exact_mut(k).zip(&s.batch).zip(counts) {
                row.fill(UNFILLED);
                copy_hits(hits, row);
                *count = hits.len();
            }
            Ok(())
        })
    })
}

/// Approximate search through the index's IVF lists: scores the list centroids, scans the
/// `nprobe` best lists (`nprobe` ≥ nlist scans all and equals `reckon_index_search`). Arguments,
/// results and errors as `reckon_index_search`, plus `RECKON_INVALID_ARGUMENT` when the index
/// has no IVF lists or `nprobe` is 0. `*out_count` is below `k` when the probed lists hold
/// fewer items.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn reckon_index_search_ivf(
    index: *const reckon_index,
    query: *const f32,
    dim: usize,
    k: usize,
    nprobe: usize,
    exclude: *const i64,
    exclude_len: usize,
    out: *mut reckon_hit,
    out_len: usize,
    out_count: *mut usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `index` is a live handle.
        let index = unsafe { index_arg(index, "index") }?;
        if index.ivf_info().is_none() {
            return Err(FfiError::invalid(
                "index",
                "has no IVF lists (build it with opts->ivf set)",
            ));
        }
        if nprobe == 0 {
            return Err(FfiError::invalid("nprobe", "is 0"));
        }
        check_query(index, k, dim)?;
        // SAFETY: C contract: each buffer holds the length passed with it.
        let (query, exclude, out, out_count) = unsafe {
            (
                arg_slice(query, dim, "query")?,
                arg_slice(exclude, exclude_len, "exclude")?,
                out_prefix(out, out_len, k, "out")?,
                arg_out(out_count, "out_count")?,
            )
        };
        with_scratch(|s| {
            index.search_ivf(query, k, nprobe, exclude, &mut s.search, &mut s.hits)?;
            copy_hits(&s.hits, out);
            *out_count = s.hits.len();
            Ok(())
        })
    })
}

/// Copies item `id`'s vector (widened to f32; `dim` floats) into `out`, which holds `out_len`
/// floats. An id not in the index is `RECKON_OUT_OF_RANGE`. Nothing is written on failure.
#[no_mangle]
pub unsafe extern "C" fn reckon_index_vector(
    index: *const reckon_index,
    id: i64,
    out: *mut f32,
    out_len: usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `index` is a live handle.
        let index = unsafe { index_arg(index, "index") }?;
        let row = index.row_of(id).ok_or_else(|| {
            FfiError::new(
                Status::RECKON_OUT_OF_RANGE,
                format!("id: item {id} is not in the index"),
            )
        })?;
        // SAFETY: C contract: `out` holds out_len floats.
        let out = unsafe { out_prefix(out, out_len, index.dim(), "out") }?;
        Ok(index.vector(row, out)?)
    })
}

#[cfg(test)]
pub(crate) mod tests;
