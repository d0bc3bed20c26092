//! `reckon_recommender`: the recommendation pipeline (SPEC §4.2) from C: user → retrieval →
//! ranker on `[u, v, u⊙v, context]` → weighted score → MMR re-rank → top-N with every score.

use std::cell::RefCell;
use std::sync::Arc;

use super::boundary::{
    arg_out, arg_ref, arg_slice, free_box, guard, guard_void, hand_out, out_prefix, FfiError,
    FfiResult,
};
use super::index::{index_arg, reckon_index};
use super::model::{model_arg, reckon_model};
use super::status::{reckon_status, Status};
use crate::pipelines::recommend::{
    MmrConfig, RecommendConfig, RecommendWorkspace, Recommendation, Recommender,
};

/// A recommender: a two_tower model, an item index and a ranker. Opaque; immutable, so one
/// handle may serve any number of threads at once. It holds its own references to the model
/// and index handles' contents, so those handles may be freed before or after it.
#[allow(non_camel_case_types)]
pub struct reckon_recommender {
    inner: Recommender,
}

/// Request-independent settings. Start from `reckon_recommend_config_default()`. The ranker's
/// head weights (`score = w₁·p_click + w₂·p_engage + w₃·p_share`) come from the ranker file
/// (`reckon.score_weights`, default 1, 2, 3), not from here.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct reckon_recommend_config {
    /// Candidates retrieved from the index (default 100); at least 1. More than the index holds
    /// retrieves every item.
    pub retrieve_k: usize,
    /// Items returned after re-ranking (default 20); at least 1. The output buffer must hold
    /// this many, even when `retrieve_k` is smaller and fewer can come back.
    pub top_n: usize,
    /// IVF lists probed during retrieval; 0 (the default) searches exactly. Non-zero needs an
    /// index with IVF lists.
    pub nprobe: usize,
    /// MMR relevance weight in [0, 1] (default 0.7): 1 orders by ranker score alone, 0 by
    /// diversity alone.
    pub mmr_lambda: f32,
    /// At most this many items per category; 0 (the default) means no cap. A cap needs an index
    /// with categories: with one that has none, `reckon_recommender_create` fails with
    /// `RECKON_INVALID_ARGUMENT`.
    pub per_category_cap: usize,
}

/// One recommended item with every score that led to it.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct reckon_recommendation {
    /// The item's id.
    pub item_id: i64,
    /// The item's category when `has_category`, else 0.
    pub category: i64,
    /// Dot product of the user and item vectors (the retrieval score).
    pub retrieval_score: f32,
    /// Ranker head: probability of a click.
    pub p_click: f32,
    /// Ranker head: probability of engagement.
    pub p_engage: f32,
    /// Ranker head: probability of a share.
    pub p_share: f32,
    /// Weighted ranker score `w₁·p_click + w₂·p_engage + w₃·p_share`.
    pub score: f32,
    /// Marginal MMR score when the item was picked (what the final order follows).
    pub mmr_score: f32,
    /// Whether the index has categories (`category` is meaningful).
    pub has_category: bool,
}

impl From<&Recommendation> for reckon_recommendation {
    fn from(r: &Recommendation) -> Self {
        reckon_recommendation {
            item_id: r.item_id,
            category: r.category.unwrap_or(0),
            retrieval_score: r.retrieval_score,
            p_click: r.p_click,
            p_engage: r.p_engage,
            p_share: r.p_share,
            score: r.score,
            mmr_score: r.mmr_score,
            has_category: r.category.is_some(),
        }
    }
}

/// Per-thread scratch: a warmed-up request reuses every buffer, and results land here first
/// so that a failed request leaves the caller's buffers untouched.
#[derive(Default)]
struct Scratch {
    ws: RecommendWorkspace,
    out: Vec<Recommendation>,
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

/// The settings the Rust pipeline takes.
fn rust_config(c: &reckon_recommend_config) -> FfiResult<RecommendConfig> {
    if !(0.0..=1.0).contains(&c.mmr_lambda) {
        return Err(FfiError::invalid(
            "config->mmr_lambda",
            format_args!("{} is outside [0, 1]", c.mmr_lambda),
        ));
    }
    Ok(RecommendConfig {
        retrieve_k: c.retrieve_k,
        top_n: c.top_n,
        nprobe: (c.nprobe > 0).then_some(c.nprobe),
        mmr: MmrConfig {
            lambda: c.mmr_lambda,
            per_category_cap: (c.per_category_cap > 0).then_some(c.per_category_cap),
        },
    })
}

/// The defaults (the seed's 100 → 20, exact retrieval, λ = 0.7, no category cap).
#[no_mangle]
pub extern "C" fn reckon_recommend_config_default() -> reckon_recommend_config {
    let d = RecommendConfig::default();
    reckon_recommend_config {
        retrieve_k: d.retrieve_k,
        top_n: d.top_n,
        nprobe: d.nprobe.unwrap_or(0),
        mmr_lambda: d.mmr.lambda,
        per_category_cap: d.mmr.per_category_cap.unwrap_or(0),
    }
}

/// Builds a recommender from a two_tower model (`towers`), an index of its item vectors
/// (`index`, same width) and a ranker whose inputs are `3·D + C` columns (`C` context features
/// per request). `config` may be NULL (`reckon_recommend_config_default()`). The recommender
/// keeps what it needs: the three handles may be freed at any time afterwards. On success
/// `*out` holds a handle to free with `reckon_recommender_free`. Errors
/// (`RECKON_INVALID_ARGUMENT`): wrong model kinds, widths that disagree, `retrieve_k` or
/// `top_n` 0, λ outside [0, 1], `nprobe` with an index without IVF lists; `RECKON_SHAPE` when
/// the ranker takes fewer than `3·D` columns.
#[no_mangle]
pub unsafe extern "C" fn reckon_recommender_create(
    towers: *const reckon_model,
    index: *const reckon_index,
    ranker: *const reckon_model,
    config: *const reckon_recommend_config,
    out: *mut *mut reckon_recommender,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: live handles, `config` NULL or readable, `out` writable.
        let (towers, index, ranker, config, out) = unsafe {
            (
                model_arg(towers, "towers")?,
                index_arg(index, "index")?,
                model_arg(ranker, "ranker")?,
                match config.is_null() {
                    true => reckon_recommend_config_default(),
                    false => *arg_ref(config, "config")?,
                },
                arg_out(out, "out")?,
            )
        };
        let config = rust_config(&config)?;
        if config.nprobe.is_some() && index.ivf_info().is_none() {
            return Err(FfiError::invalid(
                "config->nprobe",
                "the index has no IVF lists; use 0 for exact retrieval",
            ));
        }
        let rec = Recommender::new_shared(
            Arc::clone(towers),
            Arc::clone(index),
            Arc::clone(ranker),
            config,
        )?;
        if rec.context_width().is_none() {
            return Err(FfiError::new(
                Status::RECKON_SHAPE,
                format!(
                    "ranker: takes fewer than the 3·{} columns of [u, v, u⊙v]",
                    index.dim()
                ),
            ));
        }
        hand_out(out, reckon_recommender { inner: rec });
        Ok(())
    })
}

/// Frees a recommender. NULL is fine.
#[no_mangle]
pub unsafe extern "C" fn reckon_recommender_free(rec: *mut reckon_recommender) {
    // SAFETY: C contract: `rec` is NULL or came from reckon_recommender_create, freed once.
    guard_void(|| unsafe { free_box(rec) })
}

/// Sizes a caller needs: `dim`, the user vector width; `context_cols`, the context features
/// each request passes; `top_n`, the most results a request writes (the `out_len` to
/// allocate). Any out-pointer may be NULL if that value is not wanted.
#[no_mangle]
pub unsafe extern "C" fn reckon_recommender_dims(
    rec: *const reckon_recommender,
    dim: *mut usize,
    context_cols: *mut usize,
    top_n: *mut usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `rec` is a live handle.
        let rec = &unsafe { arg_ref(rec, "rec") }?.inner;
        let values = [
            (dim, rec.index().dim(), "dim"),
            (
                context_cols,
                rec.context_width().unwrap_or(0),
                "context_cols",
            ),
            (top_n, rec.config().top_n, "top_n"),
        ];
        // Check every pointer before writing any.
        for &(p, _, name) in &values {
            if !p.is_null() {
                // SAFETY: C contract: each out-pointer is NULL or writable.
                unsafe { arg_out(p, name) }?;
            }
        }
        for (p, v, name) in values {
            if !p.is_null() {
                // SAFETY: as above (checked non-NULL and aligned).
                *unsafe { arg_out(p, name) }? = v;
            }
        }
        Ok(())
    })
}

/// What both request functions check and write: the context width, the exclusions, and the
/// output buffers.
struct Request<'a> {
    context: &'a [f32],
    exclude: &'a [i64],
    out: &'a mut [reckon_recommendation],
    out_count: &'a mut usize,
}

/// # Safety
/// As the request functions' C contract: each buffer holds the length passed with it.
#[allow(clippy::too_many_arguments)]
unsafe fn request<'a>(
    rec: &Recommender,
    context: *const f32,
    context_len: usize,
    exclude: *const i64,
    exclude_len: usize,
    out: *mut reckon_recommendation,
    out_len: usize,
    out_count: *mut usize,
) -> FfiResult<Request<'a>> {
    let want = rec.context_width().unwrap_or(0);
    if context_len != want {
        return Err(FfiError::new(
            Status::RECKON_SHAPE,
            format!("context_len: the ranker takes {want} context features, got {context_len}"),
        ));
    }
    // SAFETY: forwarded contract.
    unsafe {
        Ok(Request {
            context: arg_slice(context, context_len, "context")?,
            exclude: arg_slice(exclude, exclude_len, "exclude")?,
            out: out_prefix(out, out_len, rec.config().top_n, "out")?,
            out_count: arg_out(out_count, "out_count")?,
        })
    }
}

impl Request<'_> {
    /// Copies a successful request's results to the caller.
    fn finish(self, recs: &[Recommendation]) {
        for (o, r) in self.out.iter_mut().zip(recs) {
            *o = r.into();
        }
        *self.out_count = recs.len();
    }
}

/// Recommends up to `top_n` items for a known user: embeds `user_id` with the user tower,
/// retrieves, ranks with `[u, v, u⊙v, context]` (`context`: `context_len` floats, exactly the
/// ranker's context width from `reckon_recommender_dims`; NULL if 0), skips the
/// `exclude_len` item ids in `exclude` (NULL if 0; e.g. items already seen) and re-ranks.
/// `out` holds `out_len` ≥ `top_n` results, written best first; `*out_count` receives how many
/// (below `top_n` only when there are too few candidates or the category cap leaves too few).
/// Errors: a user id outside the user table (`RECKON_OUT_OF_RANGE`, unless the model was
/// opened with an out-of-vocabulary fallback row), a wrong `context_len` (`RECKON_SHAPE`), a
/// NaN or infinite context value (`RECKON_NON_FINITE`). Nothing is written on failure.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn reckon_recommender_recommend(
    rec: *const reckon_recommender,
    user_id: i64,
    context: *const f32,
    context_len: usize,
    exclude: *const i64,
    exclude_len: usize,
    out: *mut reckon_recommendation,
    out_len: usize,
    out_count: *mut usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `rec` is a live handle; each buffer holds the length passed
        // with it.
        let (rec, req) = unsafe {
            let rec = &arg_ref(rec, "rec")?.inner;
            let req = request(
                rec,
                context,
                context_len,
                exclude,
                exclude_len,
                out,
                out_len,
                out_count,
            )?;
            (rec, req)
        };
        with_scratch(|s| {
            rec.recommend_user(user_id, req.context, req.exclude, &mut s.ws, &mut s.out)?;
            req.finish(&s.out);
            Ok(())
        })
    })
}

/// As `reckon_recommender_recommend`, for a user vector computed elsewhere or cached (`user`:
/// `dim` floats, the towers' width; normally L2-normalised, as the user tower makes them). A
/// wrong `dim` is `RECKON_SHAPE`; a NaN or infinite value `RECKON_NON_FINITE`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn reckon_recommender_recommend_vector(
    rec: *const reckon_recommender,
    user: *const f32,
    dim: usize,
    context: *const f32,
    context_len: usize,
    exclude: *const i64,
    exclude_len: usize,
    out: *mut reckon_recommendation,
    out_len: usize,
    out_count: *mut usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `rec` is a live handle.
        let rec = &unsafe { arg_ref(rec, "rec") }?.inner;
        if dim != rec.index().dim() {
            return Err(FfiError::new(
                Status::RECKON_SHAPE,
                format!(
                    "dim: user vectors have {} values, got {dim}",
                    rec.index().dim()
                ),
            ));
        }
        // SAFETY: C contract: each buffer holds the length passed with it.
        let (user, req) = unsafe {
            (
                arg_slice(user, dim, "user")?,
                request(
                    rec,
                    context,
                    context_len,
                    exclude,
                    exclude_len,
                    out,
                    out_len,
                    out_count,
                )?,
            )
        };
        with_scratch(|s| {
            rec.recommend_vector(user, req.context, req.exclude, &mut s.ws, &mut s.out)?;
            req.finish(&s.out);
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests;
