//! Embedding gather: rows picked by id, widened to f32, written at a caller-given stride.
//!
//! From DRAM this is a latency game, not a bandwidth one: a 32–64-byte row costs a full miss
//! (~100–250 ns, plus a page walk without huge pages). The loop keeps many misses in flight by making
//! each row's loads independent of the previous row's and by prefetching the row `PREFETCH_IDS`
//! ids ahead, so the row is on its way before the out-of-order window reaches it.

use super::lanes::{Lanes, LoadAs};
use super::view::{EmbeddingView, OutLayout};
use crate::error::Result;

/// How many ids ahead rows are prefetched (into L2: `prefetcht1`). Measured here (1 GiB of
/// tables, huge pages, DRAM latency ~250 ns under KVM): demand loads alone saturate at the ~16
/// L1 fill buffers; prefetching 32–64 ids ahead into L2 adds ~10%; 16 or T0 hints gain little.
pub(super) const PREFETCH_IDS: usize = 32;

/// Signature of a gather entry: `out[i * stride + offset ..][..dim] = table[ids[i]]` as f32.
///
/// Checks everything first; on error nothing has been written.
pub type GatherFn<T> = fn(EmbeddingView<'_, T>, &[i64], &mut [f32], OutLayout) -> Result<()>;

/// The reference twin: plain indexing, no unsafe, no SIMD.
pub fn gather_ref<T: super::Elem>(
    table: EmbeddingView<'_, T>,
    ids: &[i64],
    out: &mut [f32],
    layout: OutLayout,
) -> Result<()> {
    layout.check("gather", table.dim(), ids.len(), out.len())?;
    table.check_ids(ids)?;
    let dim = table.dim();
    for (i, &id) in ids.iter().enumerate() {
        let src = &table.data()[id as usize * dim..][..dim];
        let dst = &mut out[i * layout.stride + layout.offset..][..dim];
        for (d, s) in dst.iter_mut().zip(src) {
            *d = s.to_f32();
        }
    }
    Ok(())
}

/// Issues prefetches for the first and last byte of a row (a row that is not line-aligned in an
/// mmap'd file can straddle two cache lines).
///
/// # Safety
/// `L`'s level is available. `row` need not be valid: prefetch never faults, and the address is
/// formed with wrapping arithmetic.
#[inline(always)]
pub(super) unsafe fn prefetch_row<L: Lanes, T>(row: *const T, dim: usize) {
    let first = row.cast::<u8>();
    let last = first.wrapping_add(dim * size_of::<T>() - 1);
    // SAFETY: level available (caller); prefetch of any address is harmless.
    unsafe {
        L::prefetch(first);
        L::prefetch(last);
    }
}

/// Copies one row of `dim` elements, widened, from `src` to `dst`.
///
/// # Safety
/// `L`'s level is available; `src..src+dim` readable, `dst..dst+dim` writable.
#[inline(always)]
pub(super) unsafe fn copy_row<L: Lanes, T: LoadAs>(src: *const T, dst: *mut f32, dim: usize) {
    let mut k = 0;
    // SAFETY: every access stays within `k + N <= dim` or the `dim - k` tail (caller's contract).
    unsafe {
        while k + L::N <= dim {
            T::load::<L>(src.add(k)).store(dst.add(k));
            k += L::N;
        }
        if k < dim {
            T::load_part::<L>(src.add(k), dim - k).store_part(dst.add(k), dim - k);
        }
    }
}

/// The one body every level runs.
///
/// # Safety
/// `L`'s level is available; `layout.check` and `table.check_ids` passed for these arguments.
#[inline(always)]
unsafe fn body<L: Lanes, T: LoadAs>(
    table: EmbeddingView<'_, T>,
    ids: &[i64],
    out: &mut [f32],
    layout: OutLayout,
) {
    let dim = table.dim();
    let src = table.data().as_ptr();
    let dst = out.as_mut_ptr();
    for (i, &id) in ids.iter().enumerate() {
        if let Some(&ahead) = ids.get(i + PREFETCH_IDS) {
            // SAFETY: level available (caller); the address is only prefetched.
            unsafe { prefetch_row::<L, T>(src.wrapping_add(ahead as usize * dim), dim) };
        }
        // SAFETY: ids are checked (< rows, so the row is inside the table) and the layout check
        // guarantees row i's destination is inside `out`.
        unsafe {
            copy_row::<L, T>(
                src.add(id as usize * dim),
                dst.add(i * layout.stride + layout.offset),
                dim,
            )
        };
    }
}

/// Runs the checks, then `body` at level `L` via `run`.
#[inline(always)]
fn checked<T: LoadAs>(
    table: EmbeddingView<'_, T>,
    ids: &[i64],
    out: &mut [f32],
    layout: OutLayout,
    run: unsafe fn(EmbeddingView<'_, T>, &[i64], &mut [f32], OutLayout),
) -> Result<()> {
    layout.check("gather", table.dim(), ids.len(), out.len())?;
    table.check_ids(ids)?;
    // SAFETY: the checks above are `body`'s contract; `run`'s level is available because entries
    // are only put in a table after detection (see `ElementwiseKernels::for_isa`).
    unsafe { run(table, ids, out, layout) };
    Ok(())
}

/// Portable entry.
pub(super) fn gather_portable<T: LoadAs>(
    t: EmbeddingView<'_, T>,
    ids: &[i64],
    out: &mut [f32],
    l: OutLayout,
) -> Result<()> {
    checked(t, ids, out, l, body::<super::lanes::Portable, T>)
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{gather_avx2, gather_avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::lanes_x86::{avx2_fn, avx512_fn, Avx2, Avx512};
    use super::*;

    avx2_fn! {
        unsafe fn run_avx2<T: LoadAs>(t: EmbeddingView<'_, T>, ids: &[i64], out: &mut [f32], l: OutLayout) {
            // SAFETY: forwarded contract; this function enables the level.
            unsafe { body::<Avx2, T>(t, ids, out, l) }
        }
    }
    avx512_fn! {
        unsafe fn run_avx512<T: LoadAs>(t: EmbeddingView<'_, T>, ids: &[i64], out: &mut [f32], l: OutLayout) {
            // SAFETY: forwarded contract; this function enables the level.
            unsafe { body::<Avx512, T>(t, ids, out, l) }
        }
    }
    /// AVX2 entry.
    pub(in super::super) fn gather_avx2<T: LoadAs>(
        t: EmbeddingView<'_, T>,
        ids: &[i64],
        out: &mut [f32],
        l: OutLayout,
    ) -> Result<()> {
        checked(t, ids, out, l, run_avx2::<T>)
    }
    /// AVX-512 entry.
    pub(in super::super) fn gather_avx512<T: LoadAs>(
        t: EmbeddingView<'_, T>,
        ids: &[i64],
        out: &mut [f32],
        l: OutLayout,
    ) -> Result<()> {
        checked(t, ids, out, l, run_avx512::<T>)
    }
}
