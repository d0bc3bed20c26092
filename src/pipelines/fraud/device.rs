//! One device's state, single-threaded (the engine wraps it in a shard lock).

/// Users held inline before spilling to the heap: most devices have one or two, and an inline
/// user saves a dependent cache miss per transaction.
const INLINE: usize = 2;

/// One device's state.
#[derive(Clone, Debug)]
pub(crate) struct DeviceState {
    /// Newest timestamp of the device's transactions (−∞ when it has none).
    pub last_seen: f64,
    /// Distinct users seen, up to the cap, in first-seen order: the first `INLINE` here...
    inline: [u64; INLINE],
    /// ...and the rest here.
    spill: Vec<u64>,
    /// How many users are held (0 exactly when the device is new).
    len: u32,
}

impl Default for DeviceState {
    fn default() -> Self {
        DeviceState {
            last_seen: f64::NEG_INFINITY,
            inline: [0; INLINE],
            spill: Vec::new(),
            len: 0,
        }
    }
}

impl DeviceState {
    /// A state holding `users` (distinct, checked by the caller), newest at `last_seen`.
    pub fn from_parts(last_seen: f64, users: &[u64]) -> DeviceState {
        let mut d = DeviceState {
            last_seen,
            ..DeviceState::default()
        };
        for &u in users {
            d.push(u);
        }
        d
    }

    /// The users held, in first-seen order.
    pub fn users(&self) -> impl Iterator<Item = u64> + '_ {
        let inline = (self.len as usize).min(INLINE);
        self.inline[..inline].iter().chain(&self.spill).copied()
    }

    fn push(&mut self, user: u64) {
        match self.inline.get_mut(self.len as usize) {
            Some(slot) => *slot = user,
            None => self.spill.push(user),
        }
        self.len += 1;
    }

    /// Forgets everything (the TTL expired).
    pub fn forget(&mut self) {
        self.spill.clear();
        self.len = 0;
        self.last_seen = f64::NEG_INFINITY;
    }

    /// `(device_user_count, new_device)`.
    pub fn stats(&self) -> (u64, bool) {
        (u64::from(self.len), self.len == 0)
    }

    /// Records a transaction of `user` at `ts`.
    pub fn record(&mut self, user: u64, ts: f64, cap: u32) {
        if self.len < cap && !self.users().any(|u| u == user) {
            self.push(user);
        }
        self.last_seen = self.last_seen.max(ts);
    }
}
