//! DeepFM's first step in one pass: gather each field's row into the `[B, F·D]` matrix the linear
//! and DNN parts read, and compute the FM term from the same registers.
//!
//! `ids` is `[B, F]` row-major, one table per field (all of width `D`); `emb_out` is `[B, F·D]`,
//! `fm_out` is `[B]`. The gather is the cost (see `gather.rs`); the FM arithmetic rides along.

use super::fm::fm_chunk;
use super::gather::{prefetch_row, PREFETCH_IDS};
use super::lanes::{load_n, store_n, Lanes, LoadAs};
use super::view::{check_len, EmbeddingView};
use crate::error::{Error, Result};

/// Signature of a gather+FM entry: `(tables[F], ids[B·F], emb_out[B·F·D], fm_out[B])`.
///
/// Checks everything first; on error nothing has been written.
pub type GatherFmFn<T> = fn(&[EmbeddingView<'_, T>], &[i64], &mut [f32], &mut [f32]) -> Result<()>;

/// Checks shapes and every id against its own field's table.
fn check<T>(tables: &[EmbeddingView<'_, T>], ids: &[i64], emb: &[f32], fm: &[f32]) -> Result<()> {
    let Some(first) = tables.first() else {
        return Err(Error::InvalidArgument {
            arg: "tables",
            reason: "gather_fm needs at least one field".into(),
        });
    };
    let dim = first.dim();
    if let Some(t) = tables.iter().find(|t| t.dim() != dim) {
        return Err(Error::WrongShape {
            tensor: t.name().to_string(),
            expected: format!("[rows, {dim}] (the width of '{}')", first.name()),
            actual: vec![t.rows(), t.dim()],
        });
    }
    let fields = tables.len();
    check_len(
        "gather_fm",
        "ids",
        fm.len().saturating_mul(fields),
        ids.len(),
    )?;
    check_len(
        "gather_fm",
        "emb_out",
        ids.len().saturating_mul(dim),
        emb.len(),
    )?;
    // Branch-free over the whole batch (the common, valid case); then locate the first offender.
    let bad = ids.chunks_exact(fields).fold(false, |acc, row| {
        row.iter()
            .zip(tables)
            .fold(acc, |acc, (&id, t)| acc | (id as u64 >= t.rows() as u64))
    });
    if bad {
        for row in ids.chunks_exact(fields) {
            for (&id, t) in row.iter().zip(tables) {
                if id as u64 >= t.rows() as u64 {
                    return Err(t.out_of_range(Some(id)));
                }
            }
        }
    }
    Ok(())
}

/// The reference twin: [`super::gather::gather_ref`] per field, then [`super::fm::fm_ref`].
pub fn gather_fm_ref<T: super::Elem>(
    tables: &[EmbeddingView<'_, T>],
    ids: &[i64],
    emb_out: &mut [f32],
    fm_out: &mut [f32],
) -> Result<()> {
    check(tables, ids, emb_out, fm_out)?;
    let (fields, dim) = (tables.len(), tables[0].dim());
    for b in 0..fm_out.len() {
        for (f, t) in tables.iter().enumerate() {
            let id = ids[b * fields + f] as usize;
            for d in 0..dim {
                emb_out[(b * fields + f) * dim + d] = t.data()[id * dim + d].to_f32();
            }
        }
    }
    super::fm::fm_ref(emb_out, fields, dim, fm_out)
}

/// The one body every level runs.
///
/// # Safety
/// `L`'s level is available; `check` passed for these arguments.
#[inline(always)]
unsafe fn body<L: Lanes, T: LoadAs>(
    tables: &[EmbeddingView<'_, T>],
    ids: &[i64],
    emb: &mut [f32],
    fm: &mut [f32],
) {
    let (fields, dim) = (tables.len(), tables[0].dim());
    let dst = emb.as_mut_ptr();
    // The prefetch cursor runs PREFETCH_IDS ids ahead in the flat [B, F] id order.
    let (mut pf_j, mut pf_f) = (PREFETCH_IDS, PREFETCH_IDS % fields);
    for (b, o) in fm.iter_mut().enumerate() {
        let row_ids = &ids[b * fields..][..fields];
        let out_row = b * fields * dim;
        // SAFETY: (whole block) level available; ids are checked against their own field's table,
        // so `id·dim + k .. + n` is inside it; emb_out is exactly B·F·D (checked).
        unsafe {
            let mut tot = L::splat(0.0);
            let mut k = 0;
            while k < dim {
                let n = (dim - k).min(L::N);
                let chunk = fm_chunk::<L>(fields, |f| {
                    if k == 0 {
                        if let Some(&ahead) = ids.get(pf_j) {
                            let t = tables.get_unchecked(pf_f);
                            prefetch_row::<L, T>(
                                t.data().as_ptr().wrapping_add(ahead as usize * dim),
                                dim,
                            );
                        }
                        pf_j += 1;
                        pf_f = if pf_f + 1 == fields { 0 } else { pf_f + 1 };
                    }
                    let t = tables.get_unchecked(f);
                    let src = t
                        .data()
                        .as_ptr()
                        .add(*row_ids.get_unchecked(f) as usize * dim + k);
                    let e = load_n::<L, T>(src, n);
                    store_n(e, dst.add(out_row + f * dim + k), n);
                    e
                });
                tot = tot.add(chunk);
                k += n;
            }
            *o = 0.5 * tot.reduce_add();
        }
    }
}

/// A level wrapper around `body`.
type Run<T> = unsafe fn(&[EmbeddingView<'_, T>], &[i64], &mut [f32], &mut [f32]);

/// Runs the checks, then `run`.
#[inline(always)]
fn checked<T: LoadAs>(
    tables: &[EmbeddingView<'_, T>],
    ids: &[i64],
    emb: &mut [f32],
    fm: &mut [f32],
    run: Run<T>,
) -> Result<()> {
    check(tables, ids, emb, fm)?;
    // SAFETY: `check` is `body`'s contract; `run`'s level is available because entries are only
    // put in a table after detection (see `ElementwiseKernels::for_isa`).
    unsafe { run(tables, ids, emb, fm) };
    Ok(())
}

/// Portable entry.
pub(super) fn gather_fm_portable<T: LoadAs>(
    t: &[EmbeddingView<'_, T>],
    ids: &[i64],
    emb: &mut [f32],
    fm: &mut [f32],
) -> Result<()> {
    checked(t, ids, emb, fm, body::<super::lanes::Portable, T>)
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{gather_fm_avx2, gather_fm_avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::lanes_x86::{avx2_fn, avx512_fn, Avx2, Avx512};
    use super::*;

    avx2_fn! {
        unsafe fn run_avx2<T: LoadAs>(t: &[EmbeddingView<'_, T>], ids: &[i64], emb: &mut [f32], fm: &mut [f32]) {
            // SAFETY: forwarded contract; this function enables the level.
            unsafe { body::<Avx2, T>(t, ids, emb, fm) }
        }
    }
    avx512_fn! {
        unsafe fn run_avx512<T: LoadAs>(t: &[EmbeddingView<'_, T>], ids: &[i64], emb: &mut [f32], fm: &mut [f32]) {
            // SAFETY: forwarded contract; this function enables the level.
            unsafe { body::<Avx512, T>(t, ids, emb, fm) }
        }
    }
    /// AVX2 entry.
    pub(in super::super) fn gather_fm_avx2<T: LoadAs>(
        t: &[EmbeddingView<'_, T>],
        ids: &[i64],
        emb: &mut [f32],
        fm: &mut [f32],
    ) -> Result<()> {
        checked(t, ids, emb, fm, run_avx2::<T>)
    }
    /// AVX-512 entry.
    pub(in super::super) fn gather_fm_avx512<T: LoadAs>(
        t: &[EmbeddingView<'_, T>],
        ids: &[i64],
        emb: &mut [f32],
        fm: &mut [f32],
    ) -> Result<()> {
        checked(t, ids, emb, fm, run_avx512::<T>)
    }
}
