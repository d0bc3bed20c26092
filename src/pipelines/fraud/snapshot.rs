//! The fraud engine's snapshot format, written and read by reckon alone.
//!
//! ```text
//! header (32 bytes, little-endian)
//!   magic     8 bytes  "RKFRAUD\0"
//!   version   u32      1
//!   reserved  u32      0
//!   length    u64      payload bytes that follow
//!   checksum  u64      over the payload (below)
//! payload
//!   ttl f64, max_lateness f64, max_device_users u32, watermark f64
//!   users u64, then per user, by increasing id:
//!     id u64, last_seen f64, records u32, amounts u32, next u32,
//!     records × (ts f64, amount f64), amounts × f64   (amounts in ring storage order)
//!   devices u64, then per device, by increasing id:
//!     id u64, last_seen f64, users u32, users × u64
//! ```
//! Every number is stored bit-exactly, so a restored engine answers exactly as the original.
//! Shard layout, hash keys, window cursors and the expiry queue are not stored: they never
//! change a feature and are rebuilt. The checksum (64-bit words through splitmix64's bijective
//! mix) catches truncation and corruption — any single changed word for certain — but is not
//! cryptographic; a deliberately forged file still cannot cause a panic or undefined behaviour,
//! because every count is bounded by the bytes present and every invariant the engine relies on
//! (sorted records, amounts and timestamps in range, distinct device users) is checked.

use std::collections::VecDeque;
use std::path::Path;

use crate::error::{Error, Result};

use super::config::FraudConfig;
use super::device::DeviceState;
use super::features::{MAX_AMOUNT, RECENT_AMOUNTS};
use super::table::mix;
use super::user::{Rec, UserState};

const MAGIC: &[u8; 8] = b"RKFRAUD\0";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 32;
/// Bytes of a user with no records and no amounts, and of one record: bound counts by these.
const USER_MIN: usize = 8 + 8 + 4 * 3;
const REC_LEN: usize = 8 + 8;
const DEVICE_MIN: usize = 8 + 8 + 4;

/// A consistent view of an engine's state, borrowed while its shards are locked.
pub(crate) struct Snapshot<'a> {
    pub config: FraudConfig,
    pub watermark: f64,
    pub users: Vec<(u64, &'a UserState)>,
    pub devices: Vec<(u64, &'a DeviceState)>,
}

/// A decoded, fully checked state.
pub(crate) struct Decoded {
    pub config: FraudConfig,
    pub watermark: f64,
    pub users: Vec<(u64, UserState)>,
    pub devices: Vec<(u64, DeviceState)>,
}

fn checksum(payload: &[u8]) -> u64 {
    let mut h = 0x6a09_e667_f3bc_c908_u64 ^ payload.len() as u64;
    let mut words = payload.chunks_exact(8);
    for w in &mut words {
        h = mix(h ^ u64::from_le_bytes(w.try_into().unwrap_or_default()));
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    mix(h ^ u64::from_le_bytes(tail))
}

/// Serialises a state (ids sorted, so equal states give equal bytes).
pub(crate) fn encode(s: &Snapshot<'_>) -> Vec<u8> {
    let mut users = s.users.clone();
    users.sort_unstable_by_key(|(k, _)| *k);
    let mut devices = s.devices.clone();
    devices.sort_unstable_by_key(|(k, _)| *k);

    let mut p = Vec::new();
    p.extend_from_slice(&s.config.ttl.to_le_bytes());
    p.extend_from_slice(&s.config.max_lateness.to_le_bytes());
    p.extend_from_slice(&s.config.max_device_users.to_le_bytes());
    p.extend_from_slice(&s.watermark.to_le_bytes());
    p.extend_from_slice(&(users.len() as u64).to_le_bytes());
    for (key, u) in users {
        p.extend_from_slice(&key.to_le_bytes());
        p.extend_from_slice(&u.last_seen.to_le_bytes());
        p.extend_from_slice(&(u.recent.len() as u32).to_le_bytes());
        p.extend_from_slice(&(u.amounts.len() as u32).to_le_bytes());
        p.extend_from_slice(&(u.next as u32).to_le_bytes());
        for r in &u.recent {
            p.extend_from_slice(&r.ts.to_le_bytes());
            p.extend_from_slice(&r.amount.to_le_bytes());
        }
        for a in &u.amounts {
            p.extend_from_slice(&a.to_le_bytes());
        }
    }
    p.extend_from_slice(&(devices.len() as u64).to_le_bytes());
    for (key, d) in devices {
        p.extend_from_slice(&key.to_le_bytes());
        p.extend_from_slice(&d.last_seen.to_le_bytes());
        p.extend_from_slice(&(d.stats().0 as u32).to_le_bytes());
        for u in d.users() {
            p.extend_from_slice(&u.to_le_bytes());
        }
    }

    let mut out = Vec::with_capacity(HEADER_LEN + p.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(p.len() as u64).to_le_bytes());
    out.extend_from_slice(&checksum(&p).to_le_bytes());
    out.extend_from_slice(&p);
    out
}

/// Bounds-checked little-endian reads; every failure names what was being read.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self, what: &str) -> std::result::Result<[u8; N], String> {
        let bytes = self
            .buf
            .get(self.pos..self.pos.saturating_add(N))
            .ok_or_else(|| format!("ends inside {what} at byte {}", self.pos))?;
        self.pos += N;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
    fn u32(&mut self, what: &str) -> std::result::Result<u32, String> {
        self.take(what).map(u32::from_le_bytes)
    }
    fn u64(&mut self, what: &str) -> std::result::Result<u64, String> {
        self.take(what).map(u64::from_le_bytes)
    }
    fn f64(&mut self, what: &str) -> std::result::Result<f64, String> {
        self.take(what).map(f64::from_le_bytes)
    }
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// A count of items of at least `min_len` bytes each, bounded by the bytes left.
    fn count(&mut self, what: &str, n: u64, min_len: usize) -> std::result::Result<usize, String> {
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() / min_len => Ok(n),
            _ => Err(format!(
                "{what} count {n} exceeds the {} bytes left",
                self.remaining()
            )),
        }
    }
}

/// A finite, non-negative timestamp not after the watermark.
fn check_time(what: &str, t: f64, watermark: f64) -> std::result::Result<f64, String> {
    if t >= 0.0 && t <= watermark {
        Ok(t + 0.0)
    } else {
        Err(format!("{what} {t} is outside [0, watermark {watermark}]"))
    }
}

/// An amount in `[0, MAX_AMOUNT]`.
fn check_amount(user: u64, a: f64) -> std::result::Result<f64, String> {
    if (0.0..=MAX_AMOUNT).contains(&a) {
        Ok(a + 0.0)
    } else {
        Err(format!(
            "user {user}: amount {a} outside [0, {MAX_AMOUNT:e}]"
        ))
    }
}

/// Parses and checks snapshot bytes; `path` only labels errors.
pub(crate) fn decode(bytes: &[u8], path: Option<&Path>) -> Result<Decoded> {
    decode_inner(bytes).map_err(|reason| Error::Snapshot {
        path: path.map(Path::to_path_buf),
        reason,
    })
}

fn decode_inner(bytes: &[u8]) -> std::result::Result<Decoded, String> {
    let mut h = Reader { buf: bytes, pos: 0 };
    if h.take::<8>("the magic")? != *MAGIC {
        return Err("not a reckon fraud-engine snapshot (bad magic)".into());
    }
    let version = h.u32("the version")?;
    if version != VERSION {
        return Err(format!(
            "version {version}; this reckon reads version {VERSION}"
        ));
    }
    if h.u32("the reserved word")? != 0 {
        return Err("reserved header word is not 0 (corrupted)".into());
    }
    let len = h.u64("the payload length")?;
    let sum = h.u64("the checksum")?;
    let payload = &bytes[HEADER_LEN..];
    if len != payload.len() as u64 {
        return Err(format!(
            "header promises {len} payload bytes, file holds {} (truncated or padded)",
            payload.len()
        ));
    }
    if checksum(payload) != sum {
        return Err("checksum mismatch (corrupted)".into());
    }

    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    let config = FraudConfig {
        ttl: r.f64("ttl")?,
        max_lateness: r.f64("max_lateness")?,
        max_device_users: r.u32("max_device_users")?,
        ..FraudConfig::default()
    };
    config.validate().map_err(|e| format!("settings: {e}"))?;
    let watermark = r.f64("watermark")?;
    if !(watermark >= 0.0 && watermark.is_finite()) {
        return Err(format!("watermark {watermark} is not a finite time ≥ 0"));
    }
    let watermark = watermark + 0.0;

    let n = r.u64("user count")?;
    let n = r.count("user", n, USER_MIN)?;
    let mut users = Vec::with_capacity(n);
    for _ in 0..n {
        let key = r.u64("a user id")?;
        if users.last().is_some_and(|(k, _)| *k >= key) {
            return Err(format!("user {key} out of order or repeated"));
        }
        let last_seen = check_time("user last_seen", r.f64("user last_seen")?, watermark)?;
        let n_rec = r.u32("record count")?;
        let n_amt = r.u32("amount count")? as usize;
        let next = r.u32("ring position")? as usize;
        if n_amt > RECENT_AMOUNTS
            || (n_amt < RECENT_AMOUNTS && next != 0)
            || (n_amt == RECENT_AMOUNTS && next >= n_amt)
        {
            return Err(format!(
                "user {key}: {n_amt} amounts with ring position {next}"
            ));
        }
        let n_rec = r.count("record", n_rec.into(), REC_LEN)?;
        let mut recent = VecDeque::with_capacity(n_rec);
        for _ in 0..n_rec {
            let ts = check_time("record timestamp", r.f64("a record timestamp")?, last_seen)?;
            if recent.back().is_some_and(|p: &Rec| p.ts > ts) {
                return Err(format!("user {key}: records out of time order"));
            }
            recent.push_back(Rec {
                ts,
                amount: check_amount(key, r.f64("a record amount")?)?,
            });
        }
        let n_amt = r.count("amount", n_amt as u64, 8)?;
        let mut amounts = Vec::with_capacity(n_amt);
        for _ in 0..n_amt {
            amounts.push(check_amount(key, r.f64("an amount")?)?);
        }
        users.push((key, UserState::from_parts(last_seen, recent, amounts, next)));
    }

    let n = r.u64("device count")?;
    let n = r.count("device", n, DEVICE_MIN)?;
    let mut devices: Vec<(u64, DeviceState)> = Vec::with_capacity(n);
    for _ in 0..n {
        let key = r.u64("a device id")?;
        if devices.last().is_some_and(|(k, _)| *k >= key) {
            return Err(format!("device {key} out of order or repeated"));
        }
        let last_seen = check_time("device last_seen", r.f64("device last_seen")?, watermark)?;
        let n_users = r.u32("device user count")?;
        if n_users == 0 || n_users > config.max_device_users {
            return Err(format!(
                "device {key}: {n_users} users, expected 1..={}",
                config.max_device_users
            ));
        }
        let n_users = r.count("device user", n_users.into(), 8)?;
        let mut users = Vec::with_capacity(n_users);
        for _ in 0..n_users {
            users.push(r.u64("a device user")?);
        }
        let mut sorted = users.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(format!("device {key}: a user is listed twice"));
        }
        devices.push((key, DeviceState::from_parts(last_seen, &users)));
    }
    if r.remaining() != 0 {
        return Err(format!("{} bytes after the last device", r.remaining()));
    }
    Ok(Decoded {
        config,
        watermark,
        users,
        devices,
    })
}
