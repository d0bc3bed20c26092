//! The naive twin of [`super::FraudFeatures`]: the module docs' definitions written out
//! plainly over the full history, rescanned for every transaction (O(n) each). Never optimise
//! it; the property tests compare the engine with it.
//!
//! Window features scan *all* earlier transactions and never forget anything, so agreement
//! shows that eviction and idle-key expiry cannot change them. Sums are plain f64 sums of the
//! raw amounts (the engine's are exact fixed-point sums: they agree within the quantum).

use std::collections::HashMap;

use crate::error::{Error, Result};

use super::config::FraudConfig;
use super::features::{FraudFeatureRow, Transaction, RECENT_AMOUNTS, WINDOW_1H, WINDOW_24H};

/// Full-history reference engine (single-threaded).
#[derive(Debug)]
pub struct NaiveFraudFeatures {
    config: FraudConfig,
    history: Vec<Transaction>,
    watermark: f64,
    /// Index in `history` where each user's / device's memory starts (it restarts when the id
    /// comes back after being idle past the TTL).
    user_epoch: HashMap<u64, usize>,
    device_epoch: HashMap<u64, usize>,
}

impl NaiveFraudFeatures {
    /// An empty reference engine.
    ///
    /// Errors: as [`FraudConfig::validate`].
    pub fn new(config: FraudConfig) -> Result<NaiveFraudFeatures> {
        config.validate()?;
        Ok(NaiveFraudFeatures {
            config,
            history: Vec::new(),
            watermark: 0.0,
            user_epoch: HashMap::new(),
            device_epoch: HashMap::new(),
        })
    }

    /// Same contract as [`super::FraudFeatures::process`].
    pub fn process(&mut self, txn: &Transaction) -> Result<FraudFeatureRow> {
        let txn = txn.validated()?;
        let ts = txn.timestamp;
        if ts < self.watermark - self.config.max_lateness {
            return Err(Error::LateTransaction {
                timestamp: ts,
                watermark: self.watermark,
                max_lateness: self.config.max_lateness,
            });
        }
        // The idle horizon, from the watermark including this transaction.
        let wm = self.watermark.max(ts);
        let forget = (wm - self.config.ttl).min((wm - self.config.max_lateness) - WINDOW_24H);
        let now = self.history.len();

        // Restart an id's memory if its newest transaction in the current epoch is at or before
        // the forget horizon (or it has none).
        let user_start = restart(
            &mut self.user_epoch,
            txn.user,
            now,
            forget,
            self.history.iter().map(|t| (t.user, t.timestamp)),
        );
        let device_start = restart(
            &mut self.device_epoch,
            txn.device,
            now,
            forget,
            self.history.iter().map(|t| (t.device, t.timestamp)),
        );

        let mine: Vec<&Transaction> = self.history.iter().filter(|t| t.user == txn.user).collect();
        let in_window = |w: f64| {
            mine.iter()
                .filter(move |t| t.timestamp > ts - w && t.timestamp <= ts)
        };
        let epoch: Vec<f64> = self.history[user_start..]
            .iter()
            .filter(|t| t.user == txn.user)
            .map(|t| t.amount)
            .collect();
        let last = &epoch[epoch.len().saturating_sub(RECENT_AMOUNTS)..];
        let amount_deviation = if last.is_empty() {
            0.0
        } else {
            let avg = last.iter().sum::<f64>() / last.len() as f64;
            (txn.amount - avg) / (avg + 1.0)
        };
        let mut users: Vec<u64> = self.history[device_start..]
            .iter()
            .filter(|t| t.device == txn.device)
            .map(|t| t.user)
            .collect();
        users.sort_unstable();
        users.dedup();

        let row = FraudFeatureRow {
            txn_count_1h: in_window(WINDOW_1H).count() as u64,
            txn_count_24h: in_window(WINDOW_24H).count() as u64,
            amount_sum_24h: in_window(WINDOW_24H).map(|t| t.amount).sum(),
            amount_deviation,
            device_user_count: users.len().min(self.config.max_device_users as usize) as u64,
            new_device: users.is_empty(),
            ..FraudFeatureRow::of_transaction(&txn)
        };
        self.history.push(txn);
        self.watermark = self.watermark.max(ts);
        Ok(row)
    }
}

/// The start of `key`'s epoch, restarted at `now` when its newest timestamp since the current
/// start is ≤ `forget` or it has no transaction yet.
fn restart(
    epochs: &mut HashMap<u64, usize>,
    key: u64,
    now: usize,
    forget: f64,
    history: impl Iterator<Item = (u64, f64)>,
) -> usize {
    let start = epochs.get(&key).copied().unwrap_or(now);
    let newest = history
        .skip(start)
        .filter(|&(k, _)| k == key)
        .map(|(_, t)| t)
        .fold(f64::NEG_INFINITY, f64::max);
    let start = if newest <= forget { now } else { start };
    epochs.insert(key, start);
    start
}
