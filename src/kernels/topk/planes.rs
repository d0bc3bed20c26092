//! Exact f32 search at bf16 bandwidth: f32 items stored as two 16-bit planes.
//!
//! A single-query scan is bound by memory bandwidth, and f32 items are twice the bytes of bf16.
//! [`PackedItems::new_f32_planes`] splits each f32 `x` into its high 16 bits `hi` (a bf16, `x`
//! truncated toward zero) and its low 16 bits, so `x = hi + r` exactly with `|r| < 2^-7·|x|`:
//!
//! - the *high plane* is an ordinary bf16 matrix in the scan layout (`layout.rs`);
//! - the *low plane* holds each item's low bits item-major (`dp` u16 per item), so gathering
//!   one item touches two cache lines of it.
//!
//! A search runs the bf16 scan over the high plane in slack mode (`result.rs`), then gathers
//! the candidates' full f32 rows into a small matrix of the ordinary f32 layout and scores them
//! with the f32 scan kernel of the same table. Scores, ranks and ties therefore equal the plain
//! f32 layout's bit for bit: every score is computed by the f32 kernel's own op sequence.
//!
//! Why no true top-k item is lost. Let `e` be an item's score as the f32 kernel computes it,
//! `a` as the bf16 pass computes it, `s = Σ q·x` the real number. With `P = Σ|q_d·x_d|`,
//! `n = dp + 2` roundings at most along any score's chain (two per term without FMA),
//! `γ = n·u/(1 − n·u)`, `u = 2^-24`:
//!
//! - `|e − s| ≤ γ·P` and `|a − Σ q·hi| ≤ γ·P` (`|hi| ≤ |x|`);
//! - `|Σ q·hi − s| = |Σ q·r| ≤ ‖q‖·‖r‖` (Cauchy–Schwarz);
//! - `P ≤ ‖q‖·‖x‖`;
//!
//! so `|e − a| ≤ B = ‖q‖·(R + (2γ + 2^-16)·X) + A`, with `R`, `X` the largest `‖r‖`, `‖x‖` over
//! the items (measured at packing, in f64, rounded up). The 2^-16 term and the absolute
//! `A` (gradual underflow, and the flush-to-zero of `vdpbf16ps` should a table ever pick it)
//! keep the bound valid for every bf16 body. Once the heap holds k items of approximate score
//! ≥ `T`, each has `e ≥ T − B`; an item with `a < T − 2B` has `e < T − B`, strictly below all
//! k of them, so it cannot be in the exact top k even on a tie. Slack mode keeps everything
//! from the threshold `T − 2B` up (rounded strictly below), so the candidates hold the exact
//! top k. Non-finite queries, and magnitudes where a score could overflow, skip the bound and
//! rescore every item ([`PackedItems::rescore_all`]): slow, but still exact.
//!
//! Measured (1M × 64, top-100, one thread): see `benches/topk.rs` and `benches/retrieval.rs`.

use super::layout::{element_offset, padded_dims, GROUP_ITEMS};
use super::packed::{check_shape, ItemDtype, PackedItems};
use super::result::TopK;
use crate::error::Result;
use crate::kernels::dispatch::KernelTable;

/// Items rescored per gathered matrix (1 MiB of f32 at 64 dimensions).
const RESCORE_CHUNK: usize = 4096;

/// The item norms that bound the high plane's score error (see the module comment).
#[derive(Clone, Copy, Debug)]
pub(super) struct PlaneBounds {
    /// Largest `‖x − hi‖₂` over the items, rounded up.
    max_low_norm: f64,
    /// Largest `‖x‖₂` over the items, rounded up.
    max_norm: f64,
}

/// Scratch of the rescoring pass, kept in the query's [`TopK`] so warmed-up searches reuse it.
#[derive(Default)]
pub(crate) struct Rescore {
    /// Candidate item indices, ascending.
    pub(super) ids: Vec<u32>,
    /// The candidates' rows as a plain matrix (f32 rows for planes).
    gathered: Option<PackedItems>,
    /// Their exact scores (k = every row).
    scores: TopK,
}

impl Clone for Rescore {
    /// Scratch carries no result: a clone starts empty.
    fn clone(&self) -> Self {
        Rescore::default()
    }
}

impl std::fmt::Debug for Rescore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rescore")
            .field("candidates", &self.ids.len())
            .finish()
    }
}

impl PackedItems {
    /// Packs f32 `items` (row-major, `n` rows of `d`) as a bf16 high plane plus the low 16 bits
    /// of every value: a single-query scan streams half the bytes of [`new`](Self::new) and
    /// returns the same results bit for bit (scores, order, ties). Same memory as `new`.
    ///
    /// Items holding a non-finite value have no error bound, so they are packed by
    /// [`new`](Self::new) instead (check with [`has_planes`](Self::has_planes)).
    ///
    /// Errors: as [`new`](Self::new).
    pub fn new_f32_planes(
        items: &[f32],
        n: usize,
        d: usize,
        kernels: &'static KernelTable,
    ) -> Result<Self> {
        check_shape(items.len(), n, d)?;
        if items.iter().any(|x| !x.is_finite()) {
            return Self::new(items, n, d, kernels);
        }
        let mut packed = Self::zeroed(n, d, ItemDtype::Bf16, 2, kernels)?;
        let dp = padded_dims(d);
        let bytes = packed.buf.bytes_mut();
        let (hi_bytes, lo_bytes) = bytes.split_at_mut(bytes.len() / 2);
        let hi: &mut [u16] = bytemuck::cast_slice_mut(hi_bytes);
        let lo: &mut [u16] = bytemuck::cast_slice_mut(lo_bytes);
        let (mut max_low, mut max_norm) = (0.0f64, 0.0f64);
        for (i, row) in items.chunks_exact(d).enumerate() {
            let (mut low2, mut norm2) = (0.0f64, 0.0f64);
            for (j, &x) in row.iter().enumerate() {
                let bits = x.to_bits();
                hi[element_offset(i, j, dp, true)] = (bits >> 16) as u16;
                lo[i * dp + j] = bits as u16;
                let r = f64::from(x) - f64::from(f32::from_bits(bits & 0xffff_0000));
                low2 += r * r;
                norm2 += f64::from(x) * f64::from(x);
            }
            max_low = max_low.max(low2);
            max_norm = max_norm.max(norm2);
        }
        packed.dtype = ItemDtype::F32;
        packed.planes = Some(PlaneBounds {
            max_low_norm: norm_up(max_low),
            max_norm: norm_up(max_norm),
        });
        Ok(packed)
    }

    /// The slack (twice the bound `B` of the module comment, as an f32 rounded up) for
    /// `query`, or `None` when no bound holds (non-finite query, or scores that could
    /// overflow): then every item is rescored.
    pub(super) fn planes_slack(&self, query: &[f32]) -> Option<f32> {
        let bounds = self.planes?;
        let qn = bounded_query_norm(query, bounds.max_norm)?;
        let dp = padded_dims(self.d);
        let b = qn * (bounds.max_low_norm + (2.0 * gamma(dp) + 2f64.powi(-16)) * bounds.max_norm)
            + underflow_slop(dp, qn, bounds.max_norm);
        Some(slack_of(b))
    }

    /// Slack mode's second pass (planes or screen): rescores the candidates `out` kept with
    /// the matrix's own kernel and leaves the exact k best in `out`, sorted.
    pub(super) fn finish_rescore(&self, query: &[f32], out: &mut TopK) -> Result<()> {
        let mut scratch = out.rescore.take().unwrap_or_default();
        out.take_candidates(&mut scratch.ids);
        let ids = std::mem::take(&mut scratch.ids);
        let result = ids
            .chunks(RESCORE_CHUNK)
            .try_for_each(|chunk| self.rescore(query, chunk, &mut scratch, out));
        scratch.ids = ids;
        out.rescore = Some(scratch);
        result?;
        out.finish();
        Ok(())
    }

    /// Every item not excluded, scored exactly (the no-bound case): `out` must be begun.
    pub(super) fn rescore_all(&self, query: &[f32], out: &mut TopK) -> Result<()> {
        let mut scratch = out.rescore.take().unwrap_or_default();
        out.restart_exact();
        let mut ids = std::mem::take(&mut scratch.ids);
        let mut result = Ok(());
        for start in (0..self.n).step_by(RESCORE_CHUNK) {
            let end = (start + RESCORE_CHUNK).min(self.n);
            ids.clear();
            ids.extend(
                (start..end)
                    .filter(|&i| !out.is_excluded(i))
                    .map(|i| i as u32),
            );
            result = self.rescore(query, &ids, &mut scratch, out);
            if result.is_err() {
                break;
            }
        }
        scratch.ids = ids;
        out.rescore = Some(scratch);
        result?;
        out.finish();
        Ok(())
    }

    /// Scores the items `ids` (ascending) with the matrix's own scan kernel (f32 for planes)
    /// and inserts them into `out`. Gathered rows keep the items' order, so the kernel's
    /// lower-index tie rule still holds.
    fn rescore(
        &self,
        query: &[f32],
        ids: &[u32],
        scratch: &mut Rescore,
        out: &mut TopK,
    ) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let gathered = match &mut scratch.gathered {
            Some(g) if g.dtype == self.dtype && g.d == self.d => g,
            slot => slot.insert(PackedItems::zeroed(0, self.d, self.dtype, 1, self.kernels)?),
        };
        self.gather(ids, gathered)?;
        let rows = ids.len();
        scratch.scores.begin(rows, rows, &[])?;
        gathered.prepare_query(query, &mut scratch.scores);
        let scan = self.kernels.topk.scan(self.dtype).f;
        scan(gathered, 0..gathered.groups, &mut scratch.scores);
        out.insert_rekeyed(&scratch.scores, ids);
        Ok(())
    }

    /// Rebuilds the items `ids` as rows `0..ids.len()` of `dst`, a plain matrix of this
    /// matrix's dtype (f32 rows for planes).
    fn gather(&self, ids: &[u32], dst: &mut PackedItems) -> Result<()> {
        dst.reshape_zeroed(ids.len())?;
        let dp = padded_dims(self.d);
        let bytes = self.buf.bytes();
        if self.planes.is_none() {
            let size = self.dtype.size();
            let pairs = self.dtype == ItemDtype::Bf16;
            let out = dst.buf.bytes_mut();
            for (row, &id) in ids.iter().enumerate() {
                debug_assert!((id as usize) < self.groups * GROUP_ITEMS);
                for j in 0..dp {
                    let from = size * element_offset(id as usize, j, dp, pairs);
                    let to = size * element_offset(row, j, dp, pairs);
                    out[to..to + size].copy_from_slice(&bytes[from..from + size]);
                }
            }
            return Ok(());
        }
        let (hi_bytes, lo_bytes) = bytes.split_at(bytes.len() / 2);
        let hi: &[u16] = bytemuck::cast_slice(hi_bytes);
        let lo: &[u16] = bytemuck::cast_slice(lo_bytes);
        let out: &mut [f32] = bytemuck::cast_slice_mut(dst.buf.bytes_mut());
        for (row, &id) in ids.iter().enumerate() {
            let id = id as usize;
            debug_assert!(id < self.groups * GROUP_ITEMS);
            let low = &lo[id * dp..(id + 1) * dp];
            for (j, &l) in low.iter().enumerate() {
                let h = hi[element_offset(id, j, dp, true)];
                out[element_offset(row, j, dp, false)] =
                    f32::from_bits((u32::from(h) << 16) | u32::from(l));
            }
        }
        Ok(())
    }
}

/// `γ = n·u/(1 − n·u)` for `n = dp + 2` roundings along a score's chain, `u = 2^-24`.
pub(super) fn gamma(dp: usize) -> f64 {
    let nu = (dp as f64 + 2.0) * 2f64.powi(-24);
    nu / (1.0 - nu)
}

/// `√sq` rounded up past the error of an f64 sum of squares (relative error far below the
/// 2^-20 margin added).
pub(super) fn norm_up(sq: f64) -> f64 {
    sq.sqrt() * (1.0 + 2f64.powi(-20))
}

/// `‖query‖₂` rounded up, or `None` when no error bound holds: a non-finite query, or one whose
/// scores against items of norm up to `max_item_norm` could come near overflow.
pub(super) fn bounded_query_norm(query: &[f32], max_item_norm: f64) -> Option<f64> {
    let qn = norm_up(query.iter().map(|&x| f64::from(x) * f64::from(x)).sum());
    (qn.is_finite() && qn * max_item_norm <= 2f64.powi(100)).then_some(qn)
}

/// The absolute error gradual underflow (and a flush-to-zero body) can add to a score of
/// `dp` terms with query norm `qn` and item norm at most `x`.
pub(super) fn underflow_slop(dp: usize, qn: f64, x: f64) -> f64 {
    let dp = dp as f64;
    2f64.powi(-126) * (dp.sqrt() * (qn + x) + 4.0 * (dp + 2.0))
}

/// Slack mode's slack for an error bound `b` on both passes' score difference: `2b` as an
/// f32, rounded up.
pub(super) fn slack_of(b: f64) -> f32 {
    ((2.0 * b * (1.0 + 2f64.powi(-20))) as f32).next_up()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::kernels::{table_for, Isa};

    /// `n × d` values uniform in [-1, 1) (xorshift), shared with the screen's tests.
    pub(in crate::kernels::topk) fn data(n: usize, d: usize, seed: u64) -> Vec<f32> {
        let mut s = seed | 1;
        (0..n * d)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The fast path must really be taken on ordinary data (few candidates), and the
    /// no-bound path must really rescore everything: otherwise "planes equal plain" tests
    /// could pass while the planes did nothing.
    #[test]
    fn ordinary_queries_rescore_few_candidates_and_odd_ones_all() {
        let table = table_for(Isa::Portable).expect("portable");
        let (n, d, k) = (20_000, 16, 10);
        let items = data(n, d, 7);
        let packed = PackedItems::new_f32_planes(&items, n, d, table).expect("pack");
        assert!(packed.has_planes());
        let q = data(1, d, 99);
        let mut out = TopK::new();
        packed.search(&q, k, &mut out).expect("search");
        let rescored = out.rescore.as_ref().expect("rescored").ids.len();
        assert!(
            (k..n / 100).contains(&rescored),
            "{rescored} candidates rescored"
        );
        let mut huge = q.clone();
        huge[0] = f32::MAX;
        packed.search(&huge, k, &mut out).expect("search");
        let rescored = out.rescore.as_ref().expect("rescored").ids.len();
        assert_eq!(rescored, n % RESCORE_CHUNK, "last chunk of every item");
    }

    #[test]
    fn non_finite_items_pack_without_planes() {
        let table = table_for(Isa::Portable).expect("portable");
        let mut items = data(10, 3, 1);
        items[4] = f32::INFINITY;
        let packed = PackedItems::new_f32_planes(&items, 10, 3, table).expect("pack");
        assert!(!packed.has_planes());
    }
}
