//! What goes into the feature engine and what comes out: the transaction, its checks, and the
//! 11 features in SPEC §4.4's order (the order the fraud model's first Linear expects).

use crate::error::{Error, Result};

/// Number of features per transaction.
pub const FEATURE_COUNT: usize = 11;

/// The feature names in model-input order, as a fraud model's `reckon.feature_names` must list them.
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = [
    "amount",
    "amount_log",
    "hour_of_day",
    "is_night",
    "is_international",
    "txn_count_1h",
    "txn_count_24h",
    "amount_sum_24h",
    "amount_deviation",
    "device_user_count",
    "new_device",
];

/// [`FEATURE_NAMES`] joined by commas, the way `reckon.feature_names` writes them.
pub const FEATURE_NAMES_CSV: &str = "amount,amount_log,hour_of_day,is_night,is_international,\
txn_count_1h,txn_count_24h,amount_sum_24h,amount_deviation,device_user_count,new_device";

/// The short velocity window (seconds).
pub const WINDOW_1H: f64 = 3600.0;
/// The long velocity window (seconds); also the shortest allowed idle-key TTL.
pub const WINDOW_24H: f64 = 86400.0;
/// How many of a user's latest amounts `amount_deviation` averages (the seed's `[-100:]`).
pub const RECENT_AMOUNTS: usize = 100;
/// Largest accepted amount. Amounts are summed in exact fixed point (see `fixed.rs`); this bound
/// keeps every window sum exact. 10¹⁵ is beyond any real payment in any currency.
pub const MAX_AMOUNT: f64 = 1e15;

/// Latest accepted timestamp: 10¹¹ s is the year 5138. A timestamp in milliseconds (≈ 1.7·10¹²
/// today) would otherwise become the newest one seen and make every later, correct transaction
/// late; refusing it turns a unit mistake into an error at the first call.
pub const MAX_TIMESTAMP: f64 = 1e11;

/// One payment, reduced to what the features read. Ids are opaque: hash strings to `u64` first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transaction {
    /// The paying user.
    pub user: u64,
    /// The device it came from.
    pub device: u64,
    /// Seconds since the Unix epoch (finite, ≥ 0; fractions allowed).
    pub timestamp: f64,
    /// Amount in currency units (finite, 0 ≤ amount ≤ [`MAX_AMOUNT`]).
    pub amount: f64,
    /// Whether the payment crosses a border.
    pub is_international: bool,
}

impl Transaction {
    /// The transaction after its checks, with `-0.0` made `+0.0` (so timestamps order as bits).
    ///
    /// Errors: [`Error::InvalidArgument`] with `arg` = `"amount"` (NaN, infinite, negative or
    /// above [`MAX_AMOUNT`]) or `"timestamp"` (NaN, negative or above [`MAX_TIMESTAMP`]).
    pub fn validated(&self) -> Result<Transaction> {
        if !(self.amount >= 0.0 && self.amount <= MAX_AMOUNT) {
            return Err(Error::InvalidArgument {
                arg: "amount",
                reason: format!("{} is not a number in [0, {MAX_AMOUNT:e}]", self.amount),
            });
        }
        if !(self.timestamp >= 0.0 && self.timestamp <= MAX_TIMESTAMP) {
            return Err(Error::InvalidArgument {
                arg: "timestamp",
                reason: format!(
                    "{:e} is not a number of seconds since 1970 in [0, {MAX_TIMESTAMP:e}] \
                     (milliseconds instead of seconds?)",
                    self.timestamp
                ),
            });
        }
        Ok(Transaction {
            timestamp: self.timestamp + 0.0,
            amount: self.amount + 0.0,
            ..*self
        })
    }
}

/// The 11 features of one transaction (SPEC §4.4). Counts and sums cover the user's earlier
/// transactions with timestamp in `(ts − window, ts]`; see the module docs for late arrivals
/// and idle-key expiry.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FraudFeatureRow {
    /// The amount.
    pub amount: f64,
    /// `ln(1 + amount)`.
    pub amount_log: f64,
    /// `(ts mod 86400) / 3600`, in `[0, 24)` (UTC).
    pub hour_of_day: f64,
    /// `hour_of_day < 6 or > 22`.
    pub is_night: bool,
    /// From the transaction.
    pub is_international: bool,
    /// The user's earlier transactions in the last hour.
    pub txn_count_1h: u64,
    /// The user's earlier transactions in the last 24 hours.
    pub txn_count_24h: u64,
    /// Their amounts' sum.
    pub amount_sum_24h: f64,
    /// `(amount − avg) / (avg + 1)`, avg over the user's last 100 amounts; 0 for a first one.
    pub amount_deviation: f64,
    /// Distinct users of the device's earlier transactions (saturates at the configured cap).
    pub device_user_count: u64,
    /// No earlier transaction on this device (or it was forgotten after the idle TTL).
    pub new_device: bool,
}

impl FraudFeatureRow {
    /// The transaction-only features; the history-dependent ones are left at zero.
    pub(crate) fn of_transaction(txn: &Transaction) -> FraudFeatureRow {
        let hour_of_day = (txn.timestamp % WINDOW_24H) / 3600.0;
        FraudFeatureRow {
            amount: txn.amount,
            amount_log: txn.amount.ln_1p(),
            hour_of_day,
            // hour < 6 or hour > 22
            is_night: !(6.0..=22.0).contains(&hour_of_day),
            is_international: txn.is_international,
            ..FraudFeatureRow::default()
        }
    }

    /// The features as numbers, in [`FEATURE_NAMES`] order (booleans as 0/1).
    pub fn to_array(&self) -> [f64; FEATURE_COUNT] {
        let b = |v: bool| if v { 1.0 } else { 0.0 };
        [
            self.amount,
            self.amount_log,
            self.hour_of_day,
            b(self.is_night),
            b(self.is_international),
            self.txn_count_1h as f64,
            self.txn_count_24h as f64,
            self.amount_sum_24h,
            self.amount_deviation,
            self.device_user_count as f64,
            b(self.new_device),
        ]
    }

    /// Writes the features as one f32 model-input row.
    pub fn write_f32(&self, row: &mut [f32; FEATURE_COUNT]) {
        for (o, v) in row.iter_mut().zip(self.to_array()) {
            *o = v as f32;
        }
    }
}
