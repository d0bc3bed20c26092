//! The feature engine's settings and the time horizons derived from them.

use crate::error::{Error, Result};

use super::features::WINDOW_24H;

/// Settings of [`super::FraudFeatures`]. `FraudConfig::default()` suits most streams.
#[derive(Clone, Debug, PartialEq)]
pub struct FraudConfig {
    /// Seconds after which an idle user or device is forgotten (and its memory freed). Must be
    /// ≥ 24 h + `max_lateness`, which makes expiry invisible to the windowed features; it does
    /// reset `amount_deviation`'s history and the device features. `f64::INFINITY`: never
    /// (memory then grows with the number of distinct ids). Default: 30 days.
    pub ttl: f64,
    /// How far (seconds) a transaction may be older than the newest one seen and still be
    /// accepted; older ones get [`Error::LateTransaction`]. Default: 1 hour.
    pub max_lateness: f64,
    /// `device_user_count` saturates here, which bounds each device's memory (a device shared by
    /// more users than this is suspicious whatever the exact number). Default: 64.
    pub max_device_users: u32,
    /// Lock shards (a power of two, 1 to 4096); more shards, less contention between threads.
    /// Has no effect on the features. Default: 64.
    pub shards: usize,
}

impl Default for FraudConfig {
    fn default() -> Self {
        FraudConfig {
            ttl: 30.0 * WINDOW_24H,
            max_lateness: 3600.0,
            max_device_users: 64,
            shards: 64,
        }
    }
}

/// Longest shard array accepted.
pub const MAX_SHARDS: usize = 4096;

/// The cut-offs that follow from the newest timestamp seen (the watermark). All are computed
/// with the same f64 expressions in the engine and in the reference, so equality is exact.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Horizon {
    /// Window records with a timestamp ≤ this can never be counted again: every accepted
    /// transaction has `ts ≥ watermark − max_lateness`, so its window starts after it.
    pub evict: f64,
    /// A user or device whose newest timestamp is ≤ this is forgotten (the TTL expired).
    pub forget: f64,
}

impl FraudConfig {
    /// Checks the settings.
    ///
    /// Errors: [`Error::InvalidArgument`] naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |arg: &'static str, reason: String| Err(Error::InvalidArgument { arg, reason });
        if self.max_lateness.is_nan() || self.max_lateness < 0.0 {
            return bad(
                "max_lateness",
                format!("{} is not a number of seconds ≥ 0", self.max_lateness),
            );
        }
        if self.ttl.is_nan() || self.ttl < WINDOW_24H + self.max_lateness {
            return bad(
                "ttl",
                format!(
                    "{} s is shorter than 24 h + max_lateness = {} s; expiry would change the 24 h features",
                    self.ttl,
                    WINDOW_24H + self.max_lateness
                ),
            );
        }
        if self.max_device_users == 0 {
            return bad("max_device_users", "must be at least 1".into());
        }
        if !self.shards.is_power_of_two() || self.shards > MAX_SHARDS {
            return bad(
                "shards",
                format!("{} is not a power of two in 1..={MAX_SHARDS}", self.shards),
            );
        }
        Ok(())
    }

    /// Whether `ts` is too late given the watermark `wm` (the newest timestamp accepted so far).
    #[inline]
    pub(crate) fn is_late(&self, ts: f64, wm: f64) -> bool {
        ts < wm - self.max_lateness
    }

    /// The horizons once a transaction at `ts` is accepted with watermark `wm` before it.
    ///
    /// Why eviction never changes a feature, in f64 arithmetic (rounding is monotone): a later
    /// accepted `t` has `t ≥ fl(wm' − L)` for a watermark `wm' ≥ wm`, so its window start
    /// `fl(t − 24h) ≥ fl(fl(wm − L) − 24h) = evict`, and a record at `r ≤ evict` fails the
    /// window test `r > t − 24h`. `forget ≤ evict` (the `min` guards rounding where
    /// `ttl ≥ 24h + L` alone would not), so a forgotten key holds no countable record either.
    #[inline]
    pub(crate) fn horizon(&self, ts: f64, wm: f64) -> Horizon {
        let wm = wm.max(ts);
        let evict = (wm - self.max_lateness) - WINDOW_24H;
        Horizon {
            evict,
            forget: (wm - self.ttl).min(evict),
        }
    }
}
