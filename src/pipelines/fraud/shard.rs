//! One lock shard: a map from id to state plus the queue that expires idle ids incrementally.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::device::DeviceState;
use super::user::UserState;

/// Expiry-queue entries examined per shard touched by a transaction. Each id has exactly one
/// entry and each transaction creates at most one id per shard, so two steps keep up with any
/// stream while costing O(1).
pub(crate) const SWEEP_STEPS: usize = 2;

/// splitmix64's finaliser: a bijective mix whose every output bit depends on every input bit.
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hashes `u64` ids with a per-engine random key. Ids come from outside, so an unkeyed hash
/// would let a caller pick colliding ids; SipHash (std's default) resists that better but costs
/// about as much as the rest of a feature update. The key is secret; `mix` is not a MAC, which
/// is the usual trade (hashbrown's foldhash makes the same one).
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyHasher {
    pub seed: u64,
}

impl KeyHasher {
    pub fn random() -> KeyHasher {
        KeyHasher {
            seed: std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64),
        }
    }

    /// The shard of `key` among `n` (a power of two). Bits 32.. are used because hashbrown
    /// takes the map's bucket from the low bits and its tag from the top 7.
    #[inline]
    pub fn shard(&self, key: u64, n: usize) -> usize {
        (mix(key ^ self.seed) >> 32) as usize & (n - 1)
    }
}

impl BuildHasher for KeyHasher {
    type Hasher = KeyHash;
    fn build_hasher(&self) -> KeyHash {
        KeyHash {
            seed: self.seed,
            h: 0,
        }
    }
}

/// The hasher [`KeyHasher`] builds; ids hash through `write_u64`.
pub(crate) struct KeyHash {
    seed: u64,
    h: u64,
}

impl Hasher for KeyHash {
    fn finish(&self) -> u64 {
        self.h
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.h = mix(self.h ^ u64::from(b) ^ self.seed);
        }
    }
    fn write_u64(&mut self, key: u64) {
        self.h = mix(key ^ self.seed);
    }
}

/// The states of the ids that hash to one shard.
#[derive(Debug)]
pub(crate) struct Shard<S> {
    pub map: HashMap<u64, S, KeyHasher>,
    /// One `(id, newest timestamp when queued)` per id in `map`, roughly oldest first.
    queue: VecDeque<(u64, f64)>,
}

impl<S: Keyed> Shard<S> {
    pub fn new(hasher: KeyHasher) -> Shard<S> {
        Shard {
            map: HashMap::with_hasher(hasher),
            queue: VecDeque::new(),
        }
    }

    /// Inserts a state (restore path; the caller guarantees the id is absent).
    pub fn insert(&mut self, key: u64, state: S) {
        self.queue.push_back((key, state.last_seen()));
        self.map.insert(key, state);
    }

    /// The state of `key`: created if absent, emptied if it was idle past the TTL (newest
    /// timestamp ≤ `forget`). Whether a sweep already removed it makes no difference.
    pub fn touch(&mut self, key: u64, ts: f64, forget: f64) -> &mut S {
        let queue = &mut self.queue;
        let state = self.map.entry(key).or_insert_with(|| {
            queue.push_back((key, ts));
            S::default()
        });
        if state.last_seen() <= forget {
            state.forget();
        }
        state
    }

    /// The state of `key` if present and not idle past the TTL.
    pub fn get(&self, key: u64, forget: f64) -> Option<&S> {
        self.map.get(&key).filter(|s| s.last_seen() > forget)
    }

    /// Up to `steps` expiry steps: the oldest queued id is dropped if still idle past the TTL,
    /// else queued again with its newer timestamp. An id idle for the TTL is freed within about
    /// one more TTL (the queue is only roughly ordered); features never depend on when.
    pub fn sweep(&mut self, forget: f64, steps: usize) {
        for _ in 0..steps {
            match self.queue.front() {
                Some(&(key, stamp)) if stamp <= forget => {
                    self.queue.pop_front();
                    if let Some(seen) = self.map.get(&key).map(|s| s.last_seen()) {
                        if seen <= forget {
                            self.map.remove(&key);
                        } else {
                            self.queue.push_back((key, seen));
                        }
                    }
                }
                _ => break,
            }
        }
    }

    /// Drops every id idle past the TTL now (a full scan, for maintenance); returns how many.
    pub fn expire_all(&mut self, forget: f64) -> usize {
        let before = self.map.len();
        self.map.retain(|_, s| s.last_seen() > forget);
        let map = &self.map;
        self.queue.retain(|(key, _)| map.contains_key(key));
        before - self.map.len()
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

/// Locks a shard. A panic while holding one can only come from a bug in this module (inputs are
/// checked before any state changes); the state it leaves is one id's, so serving on beats
/// failing every later call.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

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
