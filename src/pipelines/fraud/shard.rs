//! One lock shard: a table from id to state, the queue that expires idle ids incrementally, and
//! the lock-free hint of where the table lives (for prefetching).

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::device::DeviceState;
use super::table::{KeyHasher, Table};
use super::user::UserState;

/// Expiry-queue entries examined per shard touched by a transaction. Each id has exactly one
/// entry and each transaction creates at most one id per shard, so two steps keep up with any
/// stream while costing O(1).
pub(crate) const SWEEP_STEPS: usize = 2;

/// What a shard needs from a state.
pub(crate) trait Keyed: Default {
    /// Newest timestamp of the id's transactions.
    fn last_seen(&self) -> f64;
    /// Forgets everything (the TTL expired).
    fn forget(&mut self);
}

impl Keyed for UserState {
    fn last_seen(&self) -> f64 {
        self.last_seen
    }
    fn forget(&mut self) {
        UserState::forget(self)
    }
}

impl Keyed for DeviceState {
    fn last_seen(&self) -> f64 {
        self.last_seen
    }
    fn forget(&mut self) {
        DeviceState::forget(self)
    }
}

/// The states of the ids that hash to one shard.
#[derive(Debug)]
pub(crate) struct Shard<S> {
    pub table: Table<S>,
    /// One `(id, newest timestamp when queued)` per id in `table`, roughly oldest first.
    queue: VecDeque<(u64, f64)>,
}

impl<S: Keyed> Shard<S> {
    pub fn new(hasher: KeyHasher) -> Shard<S> {
        Shard {
            table: Table::new(hasher),
            queue: VecDeque::new(),
        }
    }

    /// Inserts a state (restore path; the caller guarantees the id is absent).
    pub fn insert(&mut self, key: u64, state: S) {
        self.queue.push_back((key, state.last_seen()));
        self.table.insert_new(key, state);
    }

    /// The state of `key`: created if absent, emptied if it was idle past the TTL (newest
    /// timestamp ≤ `forget`). Whether a sweep already removed it makes no difference.
    pub fn touch(&mut self, key: u64, ts: f64, forget: f64) -> &mut S {
        let (state, inserted) = self.table.get_or_insert(key);
        if inserted {
            self.queue.push_back((key, ts));
        } else if state.last_seen() <= forget {
            state.forget();
        }
        state
    }

    /// The state of `key` if present and not idle past the TTL.
    pub fn get(&self, key: u64, forget: f64) -> Option<&S> {
        self.table.get(key).filter(|s| s.last_seen() > forget)
    }

    /// Up to `steps` expiry steps: the oldest queued id is dropped if still idle past the TTL,
    /// else queued again with its newer timestamp. An id idle for the TTL is freed within about
    /// one more TTL (the queue is only roughly ordered); features never depend on when.
    pub fn sweep(&mut self, forget: f64, steps: usize) {
        for _ in 0..steps {
            match self.queue.front() {
                Some(&(key, stamp)) if stamp <= forget => {
                    self.queue.pop_front();
                    match self.table.get(key).map(|s| s.last_seen()) {
                        Some(seen) if seen <= forget => self.table.remove(key),
                        Some(seen) => self.queue.push_back((key, seen)),
                        None => {}
                    }
                }
                _ => break,
            }
        }
    }

    /// Drops every id idle past the TTL now (a full pass, for maintenance); returns how many.
    pub fn expire_all(&mut self, forget: f64) -> usize {
        let gone = self.table.retain(|s| s.last_seen() > forget);
        let table = &self.table;
        self.queue.retain(|&(key, _)| table.get(key).is_some());
        gone
    }
}

/// A shard behind its lock, with the table's address published for lock-free prefetching.
#[derive(Debug)]
pub(crate) struct ShardCell<S> {
    shard: Mutex<Shard<S>>,
    /// `Table::layout()` as of the last unlock. Read without the lock only to compute an
    /// address to prefetch, never to dereference, so a stale value is harmless.
    base: AtomicUsize,
    mask: AtomicUsize,
}

/// A locked shard; publishes the table's layout when unlocked (it may have grown).
pub(crate) struct Locked<'a, S: Keyed> {
    guard: MutexGuard<'a, Shard<S>>,
    cell: &'a ShardCell<S>,
}

impl<S: Keyed> Drop for Locked<'_, S> {
    fn drop(&mut self) {
        let (base, mask) = self.guard.table.layout();
        if self.cell.base.load(Ordering::Relaxed) != base
            || self.cell.mask.load(Ordering::Relaxed) != mask
        {
            self.cell.base.store(base, Ordering::Relaxed);
            self.cell.mask.store(mask, Ordering::Relaxed);
        }
    }
}

impl<S: Keyed> Deref for Locked<'_, S> {
    type Target = Shard<S>;
    fn deref(&self) -> &Shard<S> {
        &self.guard
    }
}

impl<S: Keyed> DerefMut for Locked<'_, S> {
    fn deref_mut(&mut self) -> &mut Shard<S> {
        &mut self.guard
    }
}

impl<S: Keyed> ShardCell<S> {
    pub fn new(hasher: KeyHasher) -> ShardCell<S> {
        ShardCell {
            shard: Mutex::new(Shard::new(hasher)),
            base: AtomicUsize::new(0),
            mask: AtomicUsize::new(0),
        }
    }

    /// Locks the shard. A panic while holding one can only come from a bug in this module
    /// (inputs are checked before any state changes) and leaves at most one id's state half
    /// updated, so serving on beats failing every later call: poisoning is ignored.
    pub fn lock(&self) -> Locked<'_, S> {
        Locked {
            guard: self.shard.lock().unwrap_or_else(PoisonError::into_inner),
            cell: self,
        }
    }

    /// The shard if no one holds it now (prefetch paths never wait).
    pub fn try_lock(&self) -> Option<MutexGuard<'_, Shard<S>>> {
        self.shard.try_lock().ok()
    }

    /// Starts loading the slot `key` most likely occupies, without the lock.
    pub fn prefetch_slot(&self, hasher: &KeyHasher, key: u64) {
        let layout = (
            self.base.load(Ordering::Relaxed),
            self.mask.load(Ordering::Relaxed),
        );
        if layout.0 == 0 {
            return;
        }
        let p = Table::<S>::prefetch_addr(hasher, layout, key);
        let size = Table::<S>::slot_size();
        for offset in (0..size).step_by(64) {
            prefetch(p.wrapping_add(offset));
        }
        prefetch(p.wrapping_add(size - 1));
    }
}

/// Asks the CPU to start loading the cache line holding `p` into L1. A hint: nothing is read,
/// any address (even a dangling one) is fine.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is SSE, which every x86-64 CPU has; it never faults and reads nothing
    // the program can observe, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
