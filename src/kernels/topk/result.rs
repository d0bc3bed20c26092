//! [`TopK`]: the reusable result buffer, and the scan's slow path (the heap insert).
//!
//! During a scan the buffer is a fixed-capacity binary min-heap of packed `u64` keys: the high
//! half is the score mapped to an order-preserving `u32` (NaN lowest, `-0.0` = `+0.0`), the low
//! half is `!index`, so one integer compare orders by (score desc, index asc) and the heap root
//! is the entry to evict. Items arrive in ascending index order, so a newcomer whose score
//! merely *equals* the root's never displaces it: the lower index wins ties for free.
//!
//! Kernels only see [`TopK::threshold`]: a block whose scores are all `<=` it cannot enter the
//! heap (NaN threshold = everything may enter). The rare hit goes to [`TopK::offer`].
//!
//! *Slack mode* serves the approximate pass of exact search over f32 planes (`planes.rs`) or
//! an 8-bit screen (`screen.rs`): scores there are within a bound of the exact ones, so anything within twice that bound of
//! the heap root may still belong to the exact top k. The threshold is then strictly below
//! `root − slack`, and entries between it and the root (including evicted roots) are kept in a
//! `near` list, pruned as the threshold rises, until the caller takes them all as candidates.

use crate::error::{Error, Result};

/// The k best items of one query, best first, plus the scratch a search reuses, so a warmed-up
/// search (same or smaller k and d) allocates nothing.
#[derive(Clone, Debug, Default)]
pub struct TopK {
    indices: Vec<u32>,
    scores: Vec<f32>,
    heap: Vec<u64>,
    k: usize,
    n: usize,
    threshold: f32,
    exclude: Vec<u32>,
    exclude_pos: usize,
    /// Slack mode when > 0 (see the module comment).
    slack: f32,
    /// Slack mode: entries below the heap root but above the threshold.
    near: Vec<u64>,
    /// Slack mode: `near` is pruned when it grows past this.
    near_cap: usize,
    /// Scratch of the exact rescoring pass (boxed: most searches never use it).
    pub(super) rescore: Option<Box<super::planes::Rescore>>,
    /// The query padded with zeros to the packed dimension count.
    pub(super) query: Vec<f32>,
    /// bf16 (hi, lo) query pairs for `vdpbf16ps`: `dp/2` hi pairs then `dp/2` lo pairs.
    pub(super) query_bf16: Vec<u32>,
}

impl TopK {
    /// An empty buffer; the first search sizes it.
    pub fn new() -> Self {
        Self::default()
    }

    /// A buffer already sized for searches with this `k` over `d`-dimensional items.
    pub fn with_capacity(k: usize, d: usize) -> Self {
        let mut t = Self::default();
        t.indices.reserve(k);
        t.scores.reserve(k);
        t.heap.reserve(k);
        t.query.reserve(d + 1);
        t.query_bf16.reserve(d + 1);
        t
    }

    /// Item indices, best first.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// Scores, matching [`indices`](Self::indices) (non-increasing; NaN last).
    pub fn scores(&self) -> &[f32] {
        &self.scores
    }

    /// Number of results: k, or fewer when exclusions leave fewer than k items.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether there are no results.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// (index, score) pairs, best first.
    pub fn iter(&self) -> impl Iterator<Item = (u32, f32)> + '_ {
        self.indices
            .iter()
            .copied()
            .zip(self.scores.iter().copied())
    }

    /// Resets the buffer for a scan of `n` items keeping `k`, skipping the sorted `exclude`.
    /// The query must be stored separately (`query`, `query_bf16`).
    pub(super) fn begin(&mut self, k: usize, n: usize, exclude: &[u32]) -> Result<()> {
        if let Some(w) = exclude.windows(2).position(|w| w[0] > w[1]) {
            return Err(Error::InvalidArgument {
                arg: "exclude",
                reason: format!(
                    "exclusion list must be sorted ascending; entry {} ({}) > entry {} ({})",
                    w,
                    exclude[w],
                    w + 1,
                    exclude[w + 1]
                ),
            });
        }
        self.indices.clear();
        self.scores.clear();
        self.heap.clear();
        self.heap.reserve(k);
        self.k = k;
        self.n = n;
        self.threshold = f32::NAN;
        self.exclude.clear();
        self.exclude.extend_from_slice(exclude);
        self.exclude_pos = 0;
        self.slack = 0.0;
        self.near.clear();
        Ok(())
    }

    /// Switches a freshly begun buffer to slack mode with this `slack` (finite, > 0).
    pub(super) fn set_slack(&mut self, slack: f32) {
        debug_assert!(slack > 0.0 && slack.is_finite());
        self.slack = slack;
        self.near_cap = self.near_cap.max(self.k.max(64));
    }

    /// Slack mode: every candidate index (heap and `near` above the threshold), ascending, into
    /// `ids`; then empties the heap and returns to exact mode for the rescored entries
    /// ([`insert_rekeyed`](Self::insert_rekeyed), then [`finish`](Self::finish)).
    pub(super) fn take_candidates(&mut self, ids: &mut Vec<u32>) {
        let t = ordered(self.threshold);
        let above = |e: &u64| self.threshold.is_nan() || (*e >> 32) as u32 > t;
        ids.clear();
        ids.extend(self.heap.iter().map(|&e| !(e as u32)));
        ids.extend(self.near.iter().filter(|e| above(e)).map(|&e| !(e as u32)));
        ids.sort_unstable();
        self.restart_exact();
    }

    /// Empties the heap for an exact fill with the same k (exclusions already applied).
    pub(super) fn restart_exact(&mut self) {
        self.heap.clear();
        self.near.clear();
        self.slack = 0.0;
        self.threshold = f32::NAN;
        self.exclude_pos = 0;
    }

    /// Inserts every entry of `other` (a full-k buffer over gathered rows) under the item index
    /// `ids[row]` of its row: the score half of each key is kept bit for bit.
    pub(super) fn insert_rekeyed(&mut self, other: &TopK, ids: &[u32]) {
        for &e in &other.heap {
            let row = !(e as u32) as usize;
            self.insert((e & !0xffff_ffff) | u64::from(!ids[row]));
        }
    }

    /// Scores `<=` this cannot enter the heap; NaN means any score may (heap not full yet, or
    /// its worst entry is NaN, which every number beats).
    #[inline(always)]
    pub(super) fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Offers the lanes of `mask` from a block of 16 scores starting at item `base`. Lanes must
    /// arrive in ascending item order across calls (the tie rule depends on it).
    #[cold]
    #[inline(never)]
    pub(super) fn offer(&mut self, base: usize, scores: &[f32; 16], mut mask: u32) {
        while mask != 0 {
            let lane = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let index = base + lane;
            if index >= self.n {
                break; // padding items, and every later lane is padding too
            }
            if self.is_excluded(index) {
                continue;
            }
            self.insert(key(scores[lane], index as u32));
        }
    }

    /// Merges the candidates `other` kept (same query, k and exclusions, other items) into this
    /// heap; call before [`finish`](Self::finish). Heap keys order by score, then lower index, so
    /// the merged k best are exactly those one scan over both item ranges keeps.
    pub(super) fn absorb(&mut self, other: &TopK) {
        for &e in other.heap.iter().chain(&other.near) {
            self.insert(e);
        }
    }

    /// Sorts the heap into the result lists.
    pub(super) fn finish(&mut self) {
        self.heap.sort_unstable_by(|a, b| b.cmp(a));
        self.indices.extend(self.heap.iter().map(|&e| !(e as u32)));
        self.scores.extend(self.heap.iter().map(|&e| score_of(e)));
    }

    /// Whether `index` is excluded; calls must come in ascending index order.
    pub(super) fn is_excluded(&mut self, index: usize) -> bool {
        while let Some(&e) = self.exclude.get(self.exclude_pos) {
            if (e as usize) < index {
                self.exclude_pos += 1;
            } else {
                return e as usize == index;
            }
        }
        false
    }

    fn insert(&mut self, e: u64) {
        if self.heap.len() < self.k {
            self.heap.push(e);
            sift_up(&mut self.heap);
            if self.heap.len() == self.k {
                self.refresh_threshold();
            }
        } else if e > self.heap[0] {
            let evicted = self.heap[0];
            self.heap[0] = e;
            sift_down(&mut self.heap);
            self.refresh_threshold();
            self.keep_near(evicted);
        } else {
            self.keep_near(e);
        }
    }

    /// Threshold for the full heap: its root's score, or in slack mode a value strictly below
    /// `root − slack`.
    fn refresh_threshold(&mut self) {
        let root = score_of(self.heap[0]); // NaN root → NaN threshold: every number beats it
        self.threshold = if self.slack > 0.0 {
            strictly_below(root, self.slack)
        } else {
            root
        };
    }

    /// Slack mode: keeps an entry that lost its heap place but may still rescore into the top.
    fn keep_near(&mut self, e: u64) {
        if self.slack <= 0.0 || self.threshold.is_nan() {
            return;
        }
        let t = ordered(self.threshold);
        if (e >> 32) as u32 <= t {
            return;
        }
        self.near.push(e);
        if self.near.len() > self.near_cap {
            self.near.retain(|&e| (e >> 32) as u32 > t);
            if self.near.len() > self.near_cap / 2 {
                self.near_cap *= 2;
            }
        }
    }
}

/// An f32 strictly below the real number `x − slack` (NaN when that is not a number). The f64
/// difference is within 2^-53 relative of the real one; two steps down from its f32 rounding
/// clear both roundings.
fn strictly_below(x: f32, slack: f32) -> f32 {
    let t = (f64::from(x) - f64::from(slack)) as f32;
    if t.is_nan() {
        return f32::NAN;
    }
    t.next_down().next_down()
}

/// Order-preserving map of a score to `u32`: NaN → 0 (below `-inf`), `-0.0` → `+0.0`.
fn ordered(score: f32) -> u32 {
    if score.is_nan() {
        return 0;
    }
    let bits = (score + 0.0).to_bits(); // -0.0 + 0.0 = +0.0
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

fn key(score: f32, index: u32) -> u64 {
    (u64::from(ordered(score)) << 32) | u64::from(!index)
}

fn score_of(e: u64) -> f32 {
    let o = (e >> 32) as u32;
    if o == 0 {
        f32::NAN
    } else if o >> 31 == 1 {
        f32::from_bits(o & 0x7fff_ffff)
    } else {
        f32::from_bits(!o)
    }
}

fn sift_up(h: &mut [u64]) {
    let mut i = h.len() - 1;
    while i > 0 {
        let p = (i - 1) / 2;
        if h[i] >= h[p] {
            break;
        }
        h.swap(i, p);
        i = p;
    }
}

fn sift_down(h: &mut [u64]) {
    let mut i = 0;
    loop {
        let l = 2 * i + 1;
        if l >= h.len() {
            break;
        }
        let r = l + 1;
        let c = if r < h.len() && h[r] < h[l] { r } else { l };
        if h[i] <= h[c] {
            break;
        }
        h.swap(i, c);
        i = c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_orders_scores_then_lower_index() {
        let order = [
            f32::INFINITY,
            1.0,
            0.0,
            -1e-30,
            -1.0,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        for w in order.windows(2) {
            assert!(key(w[0], 5) > key(w[1], 5), "{} vs {}", w[0], w[1]);
        }
        assert!(key(1.0, 3) > key(1.0, 4));
        assert_eq!(key(-0.0, 2), key(0.0, 2));
        for s in [1.5f32, -2.25, 0.0, f32::NEG_INFINITY, f32::MAX] {
            assert_eq!(score_of(key(s, 0)).to_bits(), s.to_bits());
        }
        assert!(score_of(key(f32::NAN, 0)).is_nan());
    }

    #[test]
    fn offer_keeps_k_best_and_skips_exclusions() {
        let mut t = TopK::new();
        t.begin(2, 20, &[1]).expect("sorted");
        let mut s = [0.0f32; 16];
        s[0] = 1.0;
        s[1] = 9.0; // excluded
        s[2] = 5.0;
        s[3] = 5.0; // ties with index 2: ranks after it
        s[4] = 3.0;
        t.offer(0, &s, 0b11111);
        t.finish();
        assert_eq!(t.indices(), &[2, 3]);
        assert_eq!(t.scores(), &[5.0, 5.0]);
        t.begin(1, 20, &[]).expect("sorted");
        s[1] = 0.0;
        t.offer(0, &s, 0b11111);
        t.finish();
        assert_eq!(
            t.indices(),
            &[2],
            "the tie at index 3 must not displace index 2"
        );
    }

    #[test]
    fn unsorted_exclusions_are_rejected() {
        let mut t = TopK::new();
        assert!(matches!(
            t.begin(1, 5, &[3, 1]),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
