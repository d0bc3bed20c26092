//! Fraud-engine test helpers: a fixed clock and plain transactions.

use reckon::pipelines::fraud::{FraudConfig, FraudFeatures, Transaction};

/// 2026-01-01 02:00 UTC.
pub const T0: f64 = 1_767_225_600.0 + 2.0 * 3600.0;

/// A domestic transaction.
pub fn txn(user: u64, device: u64, timestamp: f64, amount: f64) -> Transaction {
    Transaction {
        user,
        device,
        timestamp,
        amount,
        is_international: false,
    }
}

/// An empty engine with the default settings.
pub fn engine() -> FraudFeatures {
    FraudFeatures::new(FraudConfig::default()).expect("default config")
}
