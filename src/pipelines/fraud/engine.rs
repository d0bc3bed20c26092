//! [`FraudFeatures`]: the streaming feature engine, shareable across threads.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

use super::config::FraudConfig;
use super::device::DeviceState;
use super::features::{FraudFeatureRow, Transaction};
use super::shard::{Keyed, Shard, ShardCell, SWEEP_STEPS};
use super::snapshot::{self, Snapshot};
use super::table::KeyHasher;
use super::user::{UserState, UserStats};

/// Transactions between the prefetch stages of [`FraudFeatures::process_batch`] (see
/// `prefetch_ahead`).
pub const PREFETCH_DISTANCE: usize = 8;

/// The streaming state behind the fraud features (SPEC §4.4): per user and per device, O(1)
/// amortised per transaction, bounded by the idle TTL, `&self` everywhere so one engine serves
/// many threads. See the [module docs](super) for the exact definitions.
pub struct FraudFeatures {
    config: FraudConfig,
    hasher: KeyHasher,
    users: Box<[ShardCell<UserState>]>,
    devices: Box<[ShardCell<DeviceState>]>,
    /// Newest accepted timestamp, as f64 bits (timestamps are ≥ +0.0, whose bits order like
    /// the numbers, so `fetch_max` on the bits is the float max).
    watermark: AtomicU64,
}

impl fmt::Debug for FraudFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FraudFeatures")
            .field("config", &self.config)
            .field("users", &self.user_count())
            .field("devices", &self.device_count())
            .field("watermark", &self.watermark())
            .finish()
    }
}

impl FraudFeatures {
    /// An empty engine.
    ///
    /// Errors: [`Error::InvalidArgument`] for settings [`FraudConfig::validate`] refuses.
    pub fn new(config: FraudConfig) -> Result<FraudFeatures> {
        config.validate()?;
        let hasher = KeyHasher::random();
        Ok(FraudFeatures {
            users: shards(config.shards, hasher),
            devices: shards(config.shards, hasher),
            config,
            hasher,
            watermark: AtomicU64::new(0),
        })
    }

    /// The settings.
    pub fn config(&self) -> &FraudConfig {
        &self.config
    }

    /// The newest accepted timestamp (0 before the first transaction).
    pub fn watermark(&self) -> f64 {
        f64::from_bits(self.watermark.load(Ordering::Acquire))
    }

    /// Users held in memory (including idle ones not yet swept).
    pub fn user_count(&self) -> usize {
        self.users.iter().map(|s| s.lock().table.len()).sum()
    }

    /// Devices held in memory (including idle ones not yet swept).
    pub fn device_count(&self) -> usize {
        self.devices.iter().map(|s| s.lock().table.len()).sum()
    }

    fn user_shard(&self, user: u64) -> &ShardCell<UserState> {
        &self.users[self.hasher.shard(user, self.users.len())]
    }

    fn device_shard(&self, device: u64) -> &ShardCell<DeviceState> {
        &self.devices[self.hasher.shard(device, self.devices.len())]
    }

    fn check_late(&self, ts: f64, wm: f64) -> Result<()> {
        if self.config.is_late(ts, wm) {
            return Err(Error::LateTransaction {
                timestamp: ts,
                watermark: wm,
                max_lateness: self.config.max_lateness,
            });
        }
        Ok(())
    }

    /// The features of `txn` from the history before it; then records it.
    ///
    /// Errors (nothing recorded): [`Error::InvalidArgument`] for a bad amount or timestamp
    /// (see [`Transaction::validated`]), [`Error::LateTransaction`] beyond `max_lateness`.
    pub fn process(&self, txn: &Transaction) -> Result<FraudFeatureRow> {
        let txn = txn.validated()?;
        let ts = txn.timestamp;
        // Lock order: the user's shard, then the device's. Every path that holds both (this
        // one, `peek`) or all (snapshots, restores) takes them in that order: no deadlock.
        let mut users = self.user_shard(txn.user).lock();
        // Read under the user's lock: whoever last evicted this user's records did so with a
        // watermark read under the same lock, which this read cannot be older than, so the
        // lateness check below keeps this transaction's window clear of anything evicted.
        let wm = self.watermark();
        self.check_late(ts, wm)?;
        let h = self.config.horizon(ts, wm);
        let mut devices = self.device_shard(txn.device).lock();

        let user = users.touch(txn.user, ts, h.forget);
        user.evict(h.evict);
        let at = user.locate(ts);
        let u = user.stats(txn.amount, at);
        user.record(ts, txn.amount, at);
        let device = devices.touch(txn.device, ts, h.forget);
        let (device_users, new_device) = device.stats();
        device.record(txn.user, ts, self.config.max_device_users);

        users.sweep(h.forget, SWEEP_STEPS);
        devices.sweep(h.forget, SWEEP_STEPS);
        if ts > wm {
            self.watermark.fetch_max(ts.to_bits(), Ordering::AcqRel);
        }
        Ok(row(&txn, u, device_users, new_device))
    }

    /// [`FraudFeatures::process`] for each transaction in order, into `out` (cleared first);
    /// stops at the first error, with `out` holding the features of those before it (they are
    /// recorded). Faster than one call at a time: it prefetches the state of the transactions
    /// ahead, so their cache misses overlap the work on the current one.
    ///
    /// Errors: as [`FraudFeatures::process`].
    pub fn process_batch(
        &self,
        txns: &[Transaction],
        out: &mut Vec<FraudFeatureRow>,
    ) -> Result<()> {
        out.clear();
        out.reserve(txns.len());
        for (i, t) in txns.iter().enumerate() {
            self.prefetch_ahead(txns, i);
            out.push(self.process(t)?);
        }
        Ok(())
    }

    /// Call before processing `txns[i]`: a two-stage prefetch. `2·PREFETCH_DISTANCE` ahead, the
    /// table slots where that transaction's user and device most likely sit (an address from
    /// the id alone, no lock); `PREFETCH_DISTANCE` ahead, with those slots now cached, what
    /// the user's state points to (records, amounts). A DRAM miss costs about as much as
    /// processing a transaction, so by a transaction's turn its lines have arrived.
    pub(crate) fn prefetch_ahead(&self, txns: &[Transaction], i: usize) {
        if let Some(t) = txns.get(i + 2 * PREFETCH_DISTANCE) {
            self.user_shard(t.user).prefetch_slot(&self.hasher, t.user);
            self.device_shard(t.device)
                .prefetch_slot(&self.hasher, t.device);
        }
        if let Some(t) = txns.get(i + PREFETCH_DISTANCE) {
            if let Some(users) = self.user_shard(t.user).try_lock() {
                if let Some(user) = users.table.get(t.user) {
                    user.prefetch();
                }
            }
        }
    }

    /// The features `process` would return for `txn` now, recording nothing (for probes and
    /// what-if scoring). Binary searches, and a direct sum over the user's 24 h window.
    ///
    /// Errors: as [`FraudFeatures::process`].
    pub fn peek(&self, txn: &Transaction) -> Result<FraudFeatureRow> {
        let txn = txn.validated()?;
        let ts = txn.timestamp;
        let users = self.user_shard(txn.user).lock();
        let wm = self.watermark();
        self.check_late(ts, wm)?;
        let h = self.config.horizon(ts, wm);
        let devices = self.device_shard(txn.device).lock();
        let u = users
            .get(txn.user, h.forget)
            .map(|user| user.stats(txn.amount, user.locate_ro(ts)))
            .unwrap_or_default();
        let (device_users, new_device) = devices
            .get(txn.device, h.forget)
            .map_or((0, true), |d| d.stats());
        Ok(row(&txn, u, device_users, new_device))
    }

    /// Frees every user and device idle past the TTL now, in one full pass (the per-transaction
    /// sweep does this incrementally; call this from a maintenance thread for a tighter bound).
    /// Never changes a feature. Returns how many ids were dropped.
    pub fn expire_idle(&self) -> usize {
        let wm = self.watermark();
        let forget = self.config.horizon(wm, wm).forget;
        let users: usize = self.users.iter().map(|s| s.lock().expire_all(forget)).sum();
        users
            + self
                .devices
                .iter()
                .map(|s| s.lock().expire_all(forget))
                .sum::<usize>()
    }

    /// The whole state as snapshot bytes (format in `snapshot.rs`). A consistent cut: every
    /// shard is locked while it is taken, so concurrent `process` calls wait.
    pub fn snapshot_bytes(&self) -> Vec<u8> {
        let users: Vec<_> = self.users.iter().map(ShardCell::lock).collect();
        let devices: Vec<_> = self.devices.iter().map(ShardCell::lock).collect();
        snapshot::encode(&Snapshot {
            config: self.config.clone(),
            watermark: self.watermark(),
            users: users.iter().flat_map(|s| s.table.iter()).collect(),
            devices: devices.iter().flat_map(|s| s.table.iter()).collect(),
        })
    }

    /// Writes a snapshot to `path` (through a temporary file renamed into place, so a crash
    /// never leaves a half-written snapshot under that name).
    ///
    /// Errors: [`Error::Io`].
    pub fn snapshot(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, self.snapshot_bytes()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// A new engine holding exactly the state in snapshot `bytes`, under the snapshot's
    /// settings (`shards` from `shards`: it does not affect the state).
    ///
    /// Errors: [`Error::Snapshot`] for a truncated, corrupted or unknown snapshot.
    pub fn from_snapshot_bytes(bytes: &[u8], shards: usize) -> Result<FraudFeatures> {
        let decoded = snapshot::decode(bytes, None)?;
        let engine = FraudFeatures::new(FraudConfig {
            shards,
            ..decoded.config.clone()
        })?;
        engine.install(decoded);
        Ok(engine)
    }

    /// [`FraudFeatures::from_snapshot_bytes`] from a file.
    ///
    /// Errors: [`Error::Io`], [`Error::Snapshot`].
    pub fn load(path: impl AsRef<Path>, shards: usize) -> Result<FraudFeatures> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let decoded = snapshot::decode(&bytes, Some(path))?;
        let engine = FraudFeatures::new(FraudConfig {
            shards,
            ..decoded.config.clone()
        })?;
        engine.install(decoded);
        Ok(engine)
    }

    /// Replaces this engine's state by the one in snapshot `bytes`. The snapshot is fully
    /// decoded and checked first, so on any error the state is unchanged.
    ///
    /// Errors: [`Error::Snapshot`] for a truncated, corrupted or unknown snapshot, or one taken
    /// under other settings (`ttl`, `max_lateness`, `max_device_users`).
    pub fn restore_bytes(&self, bytes: &[u8]) -> Result<()> {
        let decoded = snapshot::decode(bytes, None)?;
        self.check_config(&decoded.config, None)?;
        self.install(decoded);
        Ok(())
    }

    /// [`FraudFeatures::restore_bytes`] from a file.
    ///
    /// Errors: [`Error::Io`], [`Error::Snapshot`].
    pub fn restore(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let decoded = snapshot::decode(&bytes, Some(path))?;
        self.check_config(&decoded.config, Some(path))?;
        self.install(decoded);
        Ok(())
    }

    fn check_config(&self, theirs: &FraudConfig, path: Option<&Path>) -> Result<()> {
        let ours = &self.config;
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits();
        if same(ours.ttl, theirs.ttl)
            && same(ours.max_lateness, theirs.max_lateness)
            && ours.max_device_users == theirs.max_device_users
        {
            return Ok(());
        }
        Err(Error::Snapshot {
            path: path.map(Path::to_path_buf),
            reason: format!(
                "taken with ttl {} s, max_lateness {} s, max_device_users {}; this engine has {} s, {} s, {}",
                theirs.ttl, theirs.max_lateness, theirs.max_device_users, ours.ttl, ours.max_lateness, ours.max_device_users
            ),
        })
    }

    /// Swaps a decoded state in (infallible: everything was checked while decoding).
    fn install(&self, decoded: snapshot::Decoded) {
        let mut users: Vec<Shard<UserState>> = (0..self.users.len())
            .map(|_| Shard::new(self.hasher))
            .collect();
        let mut devices: Vec<Shard<DeviceState>> = (0..self.devices.len())
            .map(|_| Shard::new(self.hasher))
            .collect();
        for (key, state) in decoded.users {
            users[self.hasher.shard(key, self.users.len())].insert(key, state);
        }
        for (key, state) in decoded.devices {
            devices[self.hasher.shard(key, self.devices.len())].insert(key, state);
        }
        let mut user_locks: Vec<_> = self.users.iter().map(ShardCell::lock).collect();
        let mut device_locks: Vec<_> = self.devices.iter().map(ShardCell::lock).collect();
        for (guard, shard) in user_locks.iter_mut().zip(users) {
            **guard = shard;
        }
        for (guard, shard) in device_locks.iter_mut().zip(devices) {
            **guard = shard;
        }
        // Stored while every shard is locked, so no transaction sees the old watermark with
        // the new state.
        self.watermark
            .store(decoded.watermark.to_bits(), Ordering::Release);
    }
}

fn shards<S: Keyed>(n: usize, hasher: KeyHasher) -> Box<[ShardCell<S>]> {
    (0..n).map(|_| ShardCell::new(hasher)).collect()
}

fn row(
    txn: &Transaction,
    u: UserStats,
    device_user_count: u64,
    new_device: bool,
) -> FraudFeatureRow {
    FraudFeatureRow {
        txn_count_1h: u.count_1h,
        txn_count_24h: u.count_24h,
        amount_sum_24h: u.sum_24h,
        amount_deviation: u.deviation,
        device_user_count,
        new_device,
        ..FraudFeatureRow::of_transaction(txn)
    }
}
