//! Large batches over several threads (SPEC §6's optional thread count, [`Options::threads`]).
//!
//! A batch is cut at multiples of [`ROW_BLOCK`] rows, so every row block a thread runs is one
//! the single-thread call would have run, with the same rows in the same positions: the same
//! kernels see the same tiles, and outputs are identical bit for bit. Callers validate the whole
//! batch first, so an input error still writes nothing.
//!
//! [`Options::threads`]: super::Options::threads

use std::ops::Range;

use crate::error::Result;
use crate::nn::mlp::ROW_BLOCK;
use crate::scoped::{part, run_shares};

/// Fewest rows worth a thread of their own: four row blocks, a few hundred µs even for the
/// smallest seed model, against tens of µs to start and join a thread.
pub const MIN_ROWS_PER_THREAD: usize = 4 * ROW_BLOCK;

/// Runs `run(rows, out_rows, ws)` over `0..rows` on up to `threads` threads: the caller's with
/// `mine`, helpers with entries of `helpers` (grown as needed and kept for reuse). `out` holds
/// `out_cols` values per row; each call gets its rows' share. Returns the first error in row
/// order.
pub(crate) fn split_rows<W, F>(
    rows: usize,
    threads: usize,
    out: &mut [f32],
    out_cols: usize,
    mine: &mut W,
    helpers: &mut Vec<W>,
    run: F,
) -> Result<()>
where
    W: Default + Send,
    F: Fn(Range<usize>, &mut [f32], &mut W) -> Result<()> + Sync,
{
    let blocks = rows.div_ceil(ROW_BLOCK);
    let parts = threads.clamp(1, (rows / MIN_ROWS_PER_THREAD).max(1));
    if parts == 1 {
        return run(0..rows, out, mine);
    }
    if helpers.len() < parts - 1 {
        helpers.resize_with(parts - 1, W::default);
    }
    let rows_of = |i: usize| {
        let b = part(blocks, parts, i);
        (b.start * ROW_BLOCK)..(b.end * ROW_BLOCK).min(rows)
    };
    let (first, mut tail) = out.split_at_mut(rows_of(0).len() * out_cols);
    let mut rest = Vec::with_capacity(parts - 1);
    for (i, ws) in helpers.iter_mut().take(parts - 1).enumerate() {
        let range = rows_of(i + 1);
        let (chunk, after) = tail.split_at_mut(range.len() * out_cols);
        tail = after;
        rest.push((range, chunk, ws));
    }
    let (mine, theirs) = run_shares((rows_of(0), first, mine), rest, |(range, out, ws)| {
        run(range, out, ws)
    });
    // The first error in row order.
    theirs.into_iter().fold(mine, Result::and)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    /// Writes each row's index into its output row, per chunk.
    fn fill(range: Range<usize>, out: &mut [f32], calls: &mut usize) -> Result<()> {
        *calls += 1;
        for (r, o) in range.zip(out.chunks_exact_mut(2)) {
            o.fill(r as f32);
        }
        Ok(())
    }

    #[test]
    fn every_row_lands_in_its_place_whatever_the_split() {
        for rows in [
            0,
            1,
            ROW_BLOCK,
            MIN_ROWS_PER_THREAD,
            2 * MIN_ROWS_PER_THREAD + 7,
            10_000,
        ] {
            for threads in [0, 1, 2, 3, 8] {
                let mut out = vec![-1.0; rows * 2];
                let (mut mine, mut helpers) = (0usize, Vec::new());
                split_rows(rows, threads, &mut out, 2, &mut mine, &mut helpers, fill)
                    .expect("fill");
                for (r, o) in out.chunks_exact(2).enumerate() {
                    assert_eq!(o, [r as f32; 2], "rows {rows} threads {threads}");
                }
                let used = 1 + helpers.iter().filter(|&&c| c > 0).count();
                assert_eq!(used, threads.clamp(1, (rows / MIN_ROWS_PER_THREAD).max(1)));
            }
        }
    }

    #[test]
    fn the_first_error_in_row_order_is_returned() {
        let rows = 4 * MIN_ROWS_PER_THREAD;
        let mut out = vec![0.0; rows];
        let (mut mine, mut helpers) = ((), Vec::<()>::new());
        let err = split_rows(rows, 4, &mut out, 1, &mut mine, &mut helpers, |r, _, _| {
            if r.start == 0 {
                Ok(())
            } else {
                Err(Error::InvalidArgument {
                    arg: "rows",
                    reason: format!("from row {}", r.start),
                })
            }
        })
        .expect_err("a chunk fails");
        assert!(
            err.to_string()
                .contains(&format!("from row {MIN_ROWS_PER_THREAD}")),
            "{err}"
        );
    }
}
