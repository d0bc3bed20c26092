//! One user's state, single-threaded (the engine wraps it in a shard lock).
//!
//! A user keeps (1) the records `(ts, amount)` of its recent transactions, sorted by timestamp
//! (equal ones in arrival order); (2) two cursors, the first record inside the 1 h and the
//! 24 h window of the last in-order query, and the exact sum of the records from the 24 h
//! cursor on, so a stream in time order finds both windows and the 24 h sum in amortised O(1)
//! (each record passes each cursor once); and (3) a ring of its last 100 amounts in arrival
//! order with their exact running sum. A late transaction (older than the last in-order query)
//! falls back to binary searches and sums its window directly.

use std::collections::VecDeque;

use super::features::{RECENT_AMOUNTS, WINDOW_1H, WINDOW_24H};
use super::fixed::{to_f64, to_fixed, Fixed};
use super::shard::prefetch;

/// One remembered transaction of a user (16 bytes: a user's day of records stays compact).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rec {
    pub ts: f64,
    pub amount: f64,
}

/// Where a transaction at some `ts` falls among a user's records.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    /// First record inside the 1 h window.
    lo_1h: usize,
    /// First record inside the 24 h window.
    lo_24h: usize,
    /// One past the last record with a timestamp ≤ ts (also where the new record goes).
    hi: usize,
    /// Exact sum of the amounts in `lo_24h..hi`.
    sum_24h: Fixed,
}

/// The user-dependent features.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct UserStats {
    pub count_1h: u64,
    pub count_24h: u64,
    pub sum_24h: f64,
    pub deviation: f64,
}

/// One user's state.
#[derive(Clone, Debug)]
pub(crate) struct UserState {
    /// Newest timestamp of the user's transactions (−∞ when it has none).
    pub last_seen: f64,
    /// Records still inside some future window, by timestamp.
    pub recent: VecDeque<Rec>,
    /// The last in-order query's timestamp `q`. Invariants: records before `c1` have
    /// `ts ≤ q − 1h` and the rest `ts > q − 1h`; likewise `c24` with `q − 24h`; `sum_c24` is the
    /// exact sum of the amounts from `c24` on. `q = −∞` puts both cursors at 0.
    q: f64,
    c1: usize,
    c24: usize,
    sum_c24: Fixed,
    /// Last amounts in arrival order: appended while shorter than 100, then a ring whose oldest
    /// element is at `next`.
    pub amounts: Vec<f64>,
    pub next: usize,
    sum_amounts: Fixed,
}

impl Default for UserState {
    fn default() -> Self {
        UserState {
            last_seen: f64::NEG_INFINITY,
            recent: VecDeque::new(),
            q: f64::NEG_INFINITY,
            c1: 0,
            c24: 0,
            sum_c24: 0,
            amounts: Vec::new(),
            next: 0,
            sum_amounts: 0,
        }
    }
}

fn sum(recs: impl Iterator<Item = Rec>) -> Fixed {
    recs.fold(0, |s, r| s + to_fixed(r.amount))
}

impl UserState {
    /// Rebuilds a state from its serialised parts (checked by the caller); the cursors start
    /// over, which changes no answer.
    pub fn from_parts(
        last_seen: f64,
        recent: VecDeque<Rec>,
        amounts: Vec<f64>,
        next: usize,
    ) -> Self {
        UserState {
            last_seen,
            sum_c24: sum(recent.iter().copied()),
            recent,
            sum_amounts: amounts.iter().map(|&a| to_fixed(a)).sum(),
            amounts,
            next,
            ..UserState::default()
        }
    }

    /// Forgets everything (the TTL expired), keeping the allocations.
    pub fn forget(&mut self) {
        let mut recent = std::mem::take(&mut self.recent);
        let mut amounts = std::mem::take(&mut self.amounts);
        recent.clear();
        amounts.clear();
        *self = UserState {
            recent,
            amounts,
            ..UserState::default()
        };
    }

    /// Prefetches what the next `process` of this user touches beyond the state itself: the
    /// records at both ends and at the 1 h cursor, and the amount slot to be written.
    pub fn prefetch(&self) {
        if let (Some(front), Some(back)) = (self.recent.front(), self.recent.back()) {
            prefetch(front);
            prefetch(back);
        }
        if let Some(r) = self.recent.get(self.c1) {
            prefetch(r);
        }
        let slot = if self.amounts.len() < RECENT_AMOUNTS {
            self.amounts.len()
        } else {
            self.next
        };
        prefetch(self.amounts.as_ptr().wrapping_add(slot));
    }

    /// Drops records that no future window can hold (`ts ≤ cut`).
    pub fn evict(&mut self, cut: f64) {
        while let Some(&front) = self.recent.front() {
            if front.ts > cut {
                break;
            }
            self.recent.pop_front();
            self.c1 = self.c1.saturating_sub(1);
            if self.c24 > 0 {
                self.c24 -= 1;
            } else {
                self.sum_c24 -= to_fixed(front.amount);
            }
        }
    }

    fn upper(&self, ts: f64) -> usize {
        match self.recent.back() {
            Some(last) if last.ts > ts => self.recent.partition_point(|r| r.ts <= ts),
            _ => self.recent.len(),
        }
    }

    /// Locates `ts` among the records, moving the cursors when `ts` is not older than the last
    /// in-order query (the processing path).
    pub fn locate(&mut self, ts: f64) -> Window {
        if ts < self.q {
            return self.locate_ro(ts);
        }
        // `fl(ts − w) ≥ fl(q − w)` (rounding is monotone), so the cursors only move forward.
        let (t1, t24) = (ts - WINDOW_1H, ts - WINDOW_24H);
        while let Some(r) = self.recent.get(self.c24).filter(|r| r.ts <= t24) {
            self.sum_c24 -= to_fixed(r.amount);
            self.c24 += 1;
        }
        while self.recent.get(self.c1).is_some_and(|r| r.ts <= t1) {
            self.c1 += 1;
        }
        self.q = ts;
        let hi = self.upper(ts);
        // Records newer than `ts` exist only after a restore (cursors reset): subtract them.
        let sum_24h = self.sum_c24 - sum(self.recent.range(hi..).copied());
        Window {
            lo_1h: self.c1,
            lo_24h: self.c24,
            hi,
            sum_24h,
        }
    }

    /// Locates `ts` without changing anything (the read-only and late path).
    pub fn locate_ro(&self, ts: f64) -> Window {
        let lo = |t: f64| self.recent.partition_point(|r| r.ts <= t);
        let (lo_1h, lo_24h, hi) = (lo(ts - WINDOW_1H), lo(ts - WINDOW_24H), self.upper(ts));
        Window {
            lo_1h,
            lo_24h,
            hi,
            sum_24h: sum(self.recent.range(lo_24h..hi).copied()),
        }
    }

    /// The features of a transaction of `amount` located at `w`.
    pub fn stats(&self, amount: f64, w: Window) -> UserStats {
        let deviation = if self.amounts.is_empty() {
            0.0
        } else {
            let avg = to_f64(self.sum_amounts) / self.amounts.len() as f64;
            (amount - avg) / (avg + 1.0)
        };
        UserStats {
            count_1h: (w.hi - w.lo_1h) as u64,
            count_24h: (w.hi - w.lo_24h) as u64,
            sum_24h: to_f64(w.sum_24h),
            deviation,
        }
    }

    /// Records a transaction located at `w`.
    pub fn record(&mut self, ts: f64, amount: f64, w: Window) {
        let q = to_fixed(amount);
        self.recent.insert(w.hi, Rec { ts, amount });
        // Keep the cursor partitions exact: a record at or before a cursor's bound goes before
        // it (it sorts before the first record past the bound).
        if ts <= self.q - WINDOW_1H {
            self.c1 += 1;
        }
        if ts <= self.q - WINDOW_24H {
            self.c24 += 1;
        } else {
            self.sum_c24 += q;
        }
        if self.amounts.len() < RECENT_AMOUNTS {
            self.amounts.push(amount);
        } else {
            let old = std::mem::replace(&mut self.amounts[self.next], amount);
            self.sum_amounts -= to_fixed(old);
            self.next = (self.next + 1) % RECENT_AMOUNTS;
        }
        self.sum_amounts += q;
        self.last_seen = self.last_seen.max(ts);
    }
}
