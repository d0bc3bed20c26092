//! One scan over several threads: the caller's thread plus scoped helpers spawned for the call
//! and joined before it returns (SPEC §6: an optional thread count, no background pool).
//!
//! A single query splits the matrix into contiguous ranges of 64-item groups, one per thread,
//! each kept in its own [`TopK`], merged at the end ([`TopK::absorb`]). Every item's score is
//! computed by the same op sequence whichever thread scores it, and heap keys order by score then
//! lower index, so the result equals the one-thread scan bit for bit. A batch splits the same
//! way, one list per query per thread: splitting its queries instead made every thread stream the
//! whole matrix, and measured 1.55× on two threads against 1.8× wanted (1M × 64, batch 64).
//!
//! A helper the OS refuses to start is not an error: its share runs on the caller's thread
//! ([`crate::scoped`]).

use super::packed::{check_len, PackedItems};
use super::result::TopK;
use crate::error::Result;
use crate::scoped::{part, run_shares};

/// Fewest 64-item groups worth a thread of their own (4096 groups = 256Ki items, 64 MiB of f32
/// at 64 dimensions, about 5 ms of scan): below it, spawning and joining (tens of µs) is not
/// paid back. Batches split by the same bound (they cost more per group, so this errs on the
/// side of fewer threads).
pub const MIN_GROUPS_PER_THREAD: usize = 4096;

/// How many threads a scan of `work` groups gets when `threads` are allowed (at least 1), each
/// given at least `min` groups.
fn threads_for(work: usize, threads: usize, min: usize) -> usize {
    threads.clamp(1, (work / min.max(1)).max(1))
}

impl PackedItems {
    /// As [`search_excluding`](Self::search_excluding), on up to `helpers.len() + 1` threads:
    /// the caller's and one scoped helper per extra range, each range kept in its own
    /// `helpers` entry (reuse them, like `out`, so warmed-up calls allocate nothing but the
    /// threads). Same result as one thread, bit for bit. Matrices under
    /// [`MIN_GROUPS_PER_THREAD`] groups per thread use fewer threads.
    pub fn search_excluding_split(
        &self,
        query: &[f32],
        k: usize,
        exclude: &[u32],
        out: &mut TopK,
        helpers: &mut [TopK],
    ) -> Result<()> {
        self.split_scan(query, k, exclude, out, helpers, MIN_GROUPS_PER_THREAD)
    }

    /// [`search_excluding_split`](Self::search_excluding_split) with the per-thread minimum as
    /// a parameter (tests split tiny matrices).
    fn split_scan(
        &self,
        query: &[f32],
        k: usize,
        exclude: &[u32],
        out: &mut TopK,
        helpers: &mut [TopK],
        min_groups: usize,
    ) -> Result<()> {
        self.check_k(k)?;
        check_len("query", self.d(), query.len())?;
        let groups = self.groups();
        let parts = threads_for(groups, helpers.len() + 1, min_groups);
        let helpers = &mut helpers[..parts - 1];
        // The screen when it has a bound for this query, else the matrix's own scan (itself
        // in slack mode for planes).
        let screen_slack = self.screen_slack(query);
        let (slack, scan) = match screen_slack {
            Some(s) => (Some(s), self.kernels().topk.screen_i8.f),
            None => (
                self.planes_slack(query),
                self.kernels().topk.scan(self.scan_dtype()).f,
            ),
        };
        for top in std::iter::once(&mut *out).chain(helpers.iter_mut()) {
            top.begin(k, self.n(), exclude)?;
            match screen_slack {
                Some(_) => self.prepare_screen_query(query, top),
                None => self.prepare_query(query, top),
            }
            if let Some(s) = slack {
                top.set_slack(s);
            }
        }
        if self.has_planes() && slack.is_none() {
            return self.rescore_all(query, out);
        }
        let rest = helpers
            .iter_mut()
            .enumerate()
            .map(|(i, top)| (part(groups, parts, i + 1), top))
            .collect();
        run_shares((part(groups, parts, 0), &mut *out), rest, |(range, top)| {
            scan(self, range, top)
        });
        for top in helpers.iter() {
            out.absorb(top);
        }
        match screen_slack {
            Some(_) => self.finish_rescore(query, out),
            None => self.finish_scan(query, out),
        }
    }

    /// Ends one query's scan: sorts its heap, or for f32 planes rescores its candidates (or,
    /// with no error bound for this query, every item).
    fn finish_scan(&self, query: &[f32], out: &mut TopK) -> Result<()> {
        if !self.has_planes() {
            out.finish();
            return Ok(());
        }
        match self.planes_slack(query) {
            Some(_) => self.finish_rescore(query, out),
            None => self.rescore_all(query, out),
        }
    }

    /// As [`search_batch_excluding`](Self::search_batch_excluding), on up to `helpers.len() + 1`
    /// threads: each scans one range of the items for every query, keeping its candidates in
    /// `outs` (the caller's range) or its own `helpers` entry (resized to `nq`; reuse them), and
    /// the lists are merged per query. Each item is read once in all, as on one thread. Same
    /// results as one thread, bit for bit; small matrices use fewer threads, as for
    /// [`search_excluding_split`](Self::search_excluding_split).
    pub fn search_batch_excluding_split(
        &self,
        queries: &[f32],
        nq: usize,
        k: usize,
        excludes: &[&[u32]],
        outs: &mut [TopK],
        helpers: &mut [Vec<TopK>],
    ) -> Result<()> {
        self.split_batch(
            queries,
            nq,
            k,
            excludes,
            outs,
            helpers,
            MIN_GROUPS_PER_THREAD,
        )
    }

    /// [`search_batch_excluding_split`](Self::search_batch_excluding_split) with the per-thread
    /// minimum as a parameter.
    #[allow(clippy::too_many_arguments)]
    fn split_batch(
        &self,
        queries: &[f32],
        nq: usize,
        k: usize,
        excludes: &[&[u32]],
        outs: &mut [TopK],
        helpers: &mut [Vec<TopK>],
        min_groups: usize,
    ) -> Result<()> {
        self.begin_batch(queries, nq, k, excludes, outs)?;
        if nq == 0 {
            return Ok(());
        }
        let groups = self.groups();
        let parts = threads_for(groups, helpers.len() + 1, min_groups);
        let helpers = &mut helpers[..parts - 1];
        for tops in helpers.iter_mut() {
            tops.resize_with(nq, TopK::new);
            self.begin_batch(queries, nq, k, excludes, tops)?;
        }
        let batch = self.kernels().topk.batch(self.scan_dtype()).f;
        let rest = helpers
            .iter_mut()
            .enumerate()
            .map(|(i, tops)| (part(groups, parts, i + 1), &mut tops[..]))
            .collect();
        run_shares(
            (part(groups, parts, 0), &mut *outs),
            rest,
            |(range, tops)| batch(self, range, tops),
        );
        for (j, (out, query)) in outs
            .iter_mut()
            .zip(queries.chunks_exact(self.d()))
            .enumerate()
        {
            for tops in helpers.iter() {
                out.absorb(&tops[j]);
            }
            self.finish_scan(query, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_scans_stay_on_fewer_threads() {
        let m = MIN_GROUPS_PER_THREAD;
        assert_eq!(threads_for(0, 8, m), 1);
        assert_eq!(threads_for(m - 1, 8, m), 1);
        assert_eq!(threads_for(2 * m, 8, m), 2);
        assert_eq!(threads_for(100 * m, 3, m), 3);
        assert_eq!(threads_for(100 * m, 0, m), 1);
    }

    /// Split scans and batches against the one-thread calls, for every kernel table this CPU
    /// runs, every dtype, thread counts above the group count, ties and exclusions.
    #[test]
    fn split_results_equal_one_thread_bit_for_bit() {
        use crate::kernels::topk::ItemDtype;
        use crate::kernels::{table_for, Isa};
        use half::{bf16, f16};
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut real = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Coarse values, so equal scores (ties) are common.
            ((state >> 40) % 9) as f32 - 4.0
        };
        for (n, d) in [(1, 3), (64, 2), (1000, 5), (4099, 16)] {
            let data: Vec<f32> = (0..n * d).map(|_| real()).collect();
            let nq = 7;
            let queries: Vec<f32> = (0..nq * d).map(|_| real()).collect();
            let exclude: Vec<u32> = (0..n as u32).filter(|i| i % 7 == 3).collect();
            for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
                let Ok(table) = table_for(isa) else { continue };
                for dtype in [ItemDtype::F32, ItemDtype::F16, ItemDtype::Bf16] {
                    let items = match dtype {
                        ItemDtype::F32 => PackedItems::new(&data, n, d, table),
                        ItemDtype::F16 => {
                            let h: Vec<f16> = data.iter().map(|&x| f16::from_f32(x)).collect();
                            PackedItems::new(&h, n, d, table)
                        }
                        ItemDtype::Bf16 => {
                            let b: Vec<bf16> = data.iter().map(|&x| bf16::from_f32(x)).collect();
                            PackedItems::new(&b, n, d, table)
                        }
                    }
                    .expect("pack");
                    for k in [1, n.div_ceil(2), n] {
                        for helpers in [1, 2, 4] {
                            let (mut one, mut split) = (TopK::new(), TopK::new());
                            let mut tops = vec![TopK::new(); helpers];
                            for q in queries.chunks_exact(d) {
                                items
                                    .search_excluding(q, k, &exclude, &mut one)
                                    .expect("one");
                                items
                                    .split_scan(q, k, &exclude, &mut split, &mut tops, 1)
                                    .expect("split");
                                assert_eq!(one.indices(), split.indices(), "{isa} {dtype:?}");
                                let bits = |t: &TopK| -> Vec<u32> {
                                    t.scores().iter().map(|s| s.to_bits()).collect()
                                };
                                assert_eq!(bits(&one), bits(&split));
                            }
                            let mut outs_one = vec![TopK::new(); nq];
                            let mut outs_split = vec![TopK::new(); nq];
                            let ex: Vec<&[u32]> = vec![&exclude; nq];
                            items
                                .search_batch_excluding(&queries, nq, k, &ex, &mut outs_one)
                                .expect("batch");
                            let mut batch_helpers = vec![Vec::new(); helpers];
                            items
                                .split_batch(
                                    &queries,
                                    nq,
                                    k,
                                    &ex,
                                    &mut outs_split,
                                    &mut batch_helpers,
                                    1,
                                )
                                .expect("split batch");
                            for (a, b) in outs_one.iter().zip(&outs_split) {
                                assert_eq!(a.indices(), b.indices());
                                assert_eq!(a.scores(), b.scores());
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn split_calls_report_bad_arguments_like_one_thread_calls() {
        let table = crate::kernels::table_for(crate::kernels::Isa::Portable).expect("portable");
        let items = PackedItems::new(&[1.0f32; 8], 4, 2, table).expect("pack");
        let (mut out, mut helpers) = (TopK::new(), vec![TopK::new(); 2]);
        let err = |r: Result<()>| r.expect_err("must fail").to_string();
        assert!(
            err(items.search_excluding_split(&[1.0; 2], 0, &[], &mut out, &mut helpers))
                .contains("k")
        );
        assert!(
            err(items.search_excluding_split(&[1.0; 3], 1, &[], &mut out, &mut helpers))
                .contains("query")
        );
        assert!(
            err(items.search_excluding_split(&[1.0; 2], 1, &[2, 1], &mut out, &mut helpers))
                .contains("sorted")
        );
        let mut outs = vec![TopK::new(); 2];
        let mut bh = vec![Vec::new(); 2];
        assert!(
            err(items.search_batch_excluding_split(&[1.0; 3], 2, 1, &[], &mut outs, &mut bh))
                .contains("queries")
        );
        assert!(
            err(items.search_batch_excluding_split(&[1.0; 4], 2, 5, &[], &mut outs, &mut bh))
                .contains("k")
        );
        items
            .search_batch_excluding_split(&[], 0, 1, &[], &mut [], &mut bh)
            .expect("an empty batch is fine");
    }
}
