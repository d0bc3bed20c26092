//! A hash table from `u64` ids to states, made for prefetching.
//!
//! Open addressing with linear probing, the key and its state side by side in one slot, so the
//! slot an id most likely sits in is an address computable from the id alone: a batch can ask
//! the CPU for it several transactions early, without a lock and without reading the table
//! (std's `HashMap` finds a slot only by reading its control bytes). Removal shifts later
//! entries back (no tombstones); the table doubles at 3/4 load.

/// splitmix64's finaliser: a bijective mix whose every output bit depends on every input bit.
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hashes ids with a per-engine random key. Ids come from outside, so an unkeyed hash would let
/// a caller pick colliding ids; SipHash resists that better but costs about as much as the rest
/// of a feature update. The key is secret; `mix` is not a MAC, the usual trade for hash tables.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyHasher {
    seed: u64,
}

impl KeyHasher {
    pub fn random() -> KeyHasher {
        use std::hash::BuildHasher;
        KeyHasher {
            seed: std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64),
        }
    }

    /// The id's hash, never 0 (0 marks an empty slot).
    #[inline]
    pub fn tag(&self, key: u64) -> u64 {
        mix(key ^ self.seed) | 1
    }

    /// The shard of `key` among `n` (a power of two): bits 32.., which no table below 2³¹
    /// slots uses for its index.
    #[inline]
    pub fn shard(&self, key: u64, n: usize) -> usize {
        (self.tag(key) >> 32) as usize & (n - 1)
    }
}

/// An id's first-choice slot: bits 1..31 of its tag.
#[inline]
fn home(tag: u64, mask: usize) -> usize {
    (tag >> 1) as usize & mask
}

#[derive(Debug, Default)]
struct Slot<S> {
    /// 0: empty.
    tag: u64,
    key: u64,
    state: S,
}

/// The table. Empty slots hold `S::default()`, which must not allocate.
#[derive(Debug)]
pub(crate) struct Table<S> {
    slots: Vec<Slot<S>>,
    len: usize,
    hasher: KeyHasher,
}

impl<S: Default> Table<S> {
    pub fn new(hasher: KeyHasher) -> Table<S> {
        Table {
            slots: Vec::new(),
            len: 0,
            hasher,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// `(first slot's address, index mask)`, for [`Table::prefetch_addr`] without the lock.
    pub fn layout(&self) -> (usize, usize) {
        (self.slots.as_ptr() as usize, self.mask())
    }

    /// Where `key`'s slot most likely is, given a (possibly stale) `layout`: an address to
    /// prefetch, never to read.
    pub fn prefetch_addr(hasher: &KeyHasher, (base, mask): (usize, usize), key: u64) -> *const u8 {
        let i = home(hasher.tag(key), mask);
        (base as *const u8).wrapping_add(i.wrapping_mul(std::mem::size_of::<Slot<S>>()))
    }

    /// Bytes per slot.
    pub fn slot_size() -> usize {
        std::mem::size_of::<Slot<S>>()
    }

    fn find(&self, key: u64) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let (tag, mask) = (self.hasher.tag(key), self.mask());
        let mut i = home(tag, mask);
        loop {
            let s = &self.slots[i];
            if s.tag == 0 {
                return None;
            }
            if s.tag == tag && s.key == key {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    pub fn get(&self, key: u64) -> Option<&S> {
        self.find(key).map(|i| &self.slots[i].state)
    }

    /// The state of `key`, inserted with `S::default()` if absent; `true` when inserted.
    pub fn get_or_insert(&mut self, key: u64) -> (&mut S, bool) {
        if let Some(i) = self.find(key) {
            return (&mut self.slots[i].state, false);
        }
        let i = self.insert_new(key, S::default());
        (&mut self.slots[i].state, true)
    }

    /// Inserts `key` (absent: the caller knows) and returns its slot.
    pub fn insert_new(&mut self, key: u64, state: S) -> usize {
        // Keep load ≤ 3/4: probes stay short and a search always meets an empty slot.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.resize((self.slots.len() * 2).max(16));
        }
        let (tag, mask) = (self.hasher.tag(key), self.mask());
        let mut i = home(tag, mask);
        while self.slots[i].tag != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot { tag, key, state };
        self.len += 1;
        i
    }

    fn resize(&mut self, capacity: usize) {
        let old = std::mem::replace(
            &mut self.slots,
            (0..capacity).map(|_| Slot::default()).collect(),
        );
        self.len = 0;
        for s in old.into_iter().filter(|s| s.tag != 0) {
            self.insert_new(s.key, s.state);
        }
    }

    /// Removes `key` if present, shifting back the entries whose probe ran through its slot.
    pub fn remove(&mut self, key: u64) {
        let Some(mut hole) = self.find(key) else {
            return;
        };
        let mask = self.mask();
        let mut j = (hole + 1) & mask;
        while self.slots[j].tag != 0 {
            // An entry may move into the hole if its home is not cyclically in (hole, j].
            let h = home(self.slots[j].tag, mask);
            if (j.wrapping_sub(h) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots.swap(hole, j);
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.slots[hole] = Slot::default();
        self.len -= 1;
    }

    /// Keeps the entries `keep` approves of; returns how many went. Rebuilds the table (a full
    /// pass: for maintenance, not per transaction).
    pub fn retain(&mut self, mut keep: impl FnMut(&S) -> bool) -> usize {
        let before = self.len;
        let old = std::mem::take(&mut self.slots);
        self.len = 0;
        let kept: Vec<Slot<S>> = old
            .into_iter()
            .filter(|s| s.tag != 0 && keep(&s.state))
            .collect();
        let mut capacity = 16;
        while kept.len() * 4 > capacity * 3 {
            capacity *= 2;
        }
        self.slots = (0..capacity).map(|_| Slot::default()).collect();
        for s in kept {
            self.insert_new(s.key, s.state);
        }
        before - self.len
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, &S)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.tag != 0)
            .map(|s| (s.key, &s.state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Random inserts, lookups and removals against std's map, with a hasher made to collide
    /// (seed fixed, many keys) so probe runs wrap and removals shift.
    #[test]
    fn behaves_like_a_map() {
        let mut t: Table<u64> = Table::new(KeyHasher { seed: 7 });
        let mut m: HashMap<u64, u64> = HashMap::new();
        let mut s = 0x1234_5678_9abc_def1u64;
        for step in 0..200_000u64 {
            s = mix(s.wrapping_add(step));
            let key = s % 3000;
            match s >> 62 {
                0 | 1 => {
                    let (v, inserted) = t.get_or_insert(key);
                    assert_eq!(inserted, !m.contains_key(&key));
                    *v += step;
                    *m.entry(key).or_default() += step;
                }
                2 => {
                    t.remove(key);
                    m.remove(&key);
                }
                _ => assert_eq!(t.get(key), m.get(&key)),
            }
            assert_eq!(t.len(), m.len());
        }
        for (k, v) in t.iter() {
            assert_eq!(m.get(&k), Some(v));
        }
        let gone = t.retain(|v| v % 2 == 0);
        m.retain(|_, v| *v % 2 == 0);
        assert_eq!(t.len(), m.len());
        assert_eq!(gone + t.len(), gone + m.len());
        for (k, v) in &m {
            assert_eq!(t.get(*k), Some(v));
        }
    }
}
