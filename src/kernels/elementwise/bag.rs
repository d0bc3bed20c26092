//! `EmbeddingBag(mode="sum")`: each bag's rows summed into one f32 row.
//!
//! Bags are given PyTorch-style by offsets, with the end included: bag `b` is
//! `ids[offsets[b]..offsets[b + 1]]`, so `offsets.len() == bags + 1`. An empty bag yields zeros.

use super::gather::{prefetch_row, PREFETCH_IDS};
use super::lanes::{load_n, store_n, Lanes, LoadAs};
use super::view::{check_len, EmbeddingView};
use crate::error::{Error, Result};

/// Signature of a bag-sum entry: `(table, ids, offsets, out[bags * dim])`.
///
/// Checks everything first; on error nothing has been written.
pub type BagSumFn<T> = fn(EmbeddingView<'_, T>, &[i64], &[usize], &mut [f32]) -> Result<()>;

/// Checks offsets (start at 0, non-decreasing, end at `ids.len()`), `out`'s length and the ids.
fn check<T>(
    table: EmbeddingView<'_, T>,
    ids: &[i64],
    offsets: &[usize],
    out: &[f32],
) -> Result<()> {
    let bad = |reason: String| {
        Err(Error::InvalidArgument {
            arg: "offsets",
            reason,
        })
    };
    let (Some(&first), Some(&last)) = (offsets.first(), offsets.last()) else {
        return bad("needs bags + 1 entries, got none".into());
    };
    if first != 0 || last != ids.len() {
        return bad(format!(
            "must run from 0 to ids.len() = {}, got {first}..{last}",
            ids.len()
        ));
    }
    if let Some(w) = offsets.windows(2).find(|w| w[0] > w[1]) {
        return bad(format!("must not decrease, got {} then {}", w[0], w[1]));
    }
    let expected = (offsets.len() - 1).saturating_mul(table.dim());
    check_len("bag_sum", "out", expected, out.len())?;
    table.check_ids(ids)
}

/// The reference twin: plain indexing, f32 accumulation in id order.
pub fn bag_sum_ref<T: super::Elem>(
    table: EmbeddingView<'_, T>,
    ids: &[i64],
    offsets: &[usize],
    out: &mut [f32],
) -> Result<()> {
    check(table, ids, offsets, out)?;
    let dim = table.dim();
    for (b, w) in offsets.windows(2).enumerate() {
        let dst = &mut out[b * dim..][..dim];
        dst.fill(0.0);
        for &id in &ids[w[0]..w[1]] {
            let src = &table.data()[id as usize * dim..][..dim];
            for (d, s) in dst.iter_mut().zip(src) {
                *d += s.to_f32();
            }
        }
    }
    Ok(())
}

/// The one body every level runs: per bag, per `N`-lane chunk of the row, sum over the bag.
///
/// # Safety
/// `L`'s level is available; `check` passed for these arguments.
#[inline(always)]
unsafe fn body<L: Lanes, T: LoadAs>(
    table: EmbeddingView<'_, T>,
    ids: &[i64],
    offsets: &[usize],
    out: &mut [f32],
) {
    let dim = table.dim();
    let src = table.data().as_ptr();
    let dst = out.as_mut_ptr();
    for (b, w) in offsets.windows(2).enumerate() {
        let mut k = 0;
        while k < dim {
            let n = (dim - k).min(L::N);
            // SAFETY: (whole block) level available (caller); ids are checked so each row lies in
            // the table; chunk k..k+n lies inside the row and inside out's bag b (length checked).
            unsafe {
                let mut acc = L::splat(0.0);
                for j in w[0]..w[1] {
                    if k == 0 {
                        if let Some(&ahead) = ids.get(j + PREFETCH_IDS) {
                            prefetch_row::<L, T>(src.wrapping_add(ahead as usize * dim), dim);
                        }
                    }
                    let row = src.add(*ids.get_unchecked(j) as usize * dim + k);
                    acc = acc.add(load_n::<L, T>(row, n));
                }
                store_n(acc, dst.add(b * dim + k), n);
            }
            k += n;
        }
    }
}

/// A level wrapper around `body`.
type Run<T> = unsafe fn(EmbeddingView<'_, T>, &[i64], &[usize], &mut [f32]);

/// Runs the checks, then `run`.
#[inline(always)]
fn checked<T: LoadAs>(
    table: EmbeddingView<'_, T>,
    ids: &[i64],
    offsets: &[usize],
    out: &mut [f32],
    run: Run<T>,
) -> Result<()> {
    check(table, ids, offsets, out)?;
    // SAFETY: `check` is `body`'s contract; `run`'s level is available because entries are only
    // put in a table after detection (see `ElementwiseKernels::for_isa`).
    unsafe { run(table, ids, offsets, out) };
    Ok(())
}

/// Portable entry.
pub(super) fn bag_sum_portable<T: LoadAs>(
    t: EmbeddingView<'_, T>,
    ids: &[i64],
    offs: &[usize],
    out: &mut [f32],
) -> Result<()> {
    checked(t, ids, offs, out, body::<super::lanes::Portable, T>)
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{bag_sum_avx2, bag_sum_avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::lanes_x86::{avx2_fn, avx512_fn, Avx2, Avx512};
    use super::*;

    avx2_fn! {
        unsafe fn run_avx2<T: LoadAs>(t: EmbeddingView<'_, T>, ids: &[i64], offs: &[usize], out: &mut [f32]) {
            // SAFETY: forwarded contract; this function enables the level.
            unsafe { body::<Avx2, T>(t, ids, offs, out) }
        }
    }
    avx512_fn! {
        unsafe fn run_avx512<T: LoadAs>(t: EmbeddingView<'_, T>, ids: &[i64], offs: &[usize], out: &mut [f32]) {
            // SAFETY: forwarded contract; this function enables the level.
            unsafe { body::<Avx512, T>(t, ids, offs, out) }
        }
    }
    /// AVX2 entry.
    pub(in super::super) fn bag_sum_avx2<T: LoadAs>(
        t: EmbeddingView<'_, T>,
        ids: &[i64],
        offs: &[usize],
        out: &mut [f32],
    ) -> Result<()> {
        checked(t, ids, offs, out, run_avx2::<T>)
    }
    /// AVX-512 entry.
    pub(in super::super) fn bag_sum_avx512<T: LoadAs>(
        t: EmbeddingView<'_, T>,
        ids: &[i64],
        offs: &[usize],
        out: &mut [f32],
    ) -> Result<()> {
        checked(t, ids, offs, out, run_avx512::<T>)
    }
}
