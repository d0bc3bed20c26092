//! Real-time fraud scoring (SPEC §4.4): a streaming feature engine ([`FraudFeatures`]) feeding
//! the `fraud` model ([`FraudPipeline`]), with a threshold decision and the seed's metrics.
//!
//! # The features, exactly
//! For a transaction at time `ts` (seconds) of `amount` by `user` on `device`, in this order
//! ([`FEATURE_NAMES`]): `amount`; `amount_log = ln(1 + amount)`; `hour_of_day = (ts mod 86400)
//! / 3600`; `is_night = hour < 6 or hour > 22`; `is_international`; `txn_count_1h`,
//! `txn_count_24h` and `amount_sum_24h` over the user's **earlier** transactions (processed
//! before this one) whose timestamp lies in `(ts − window, ts]`; `amount_deviation = (amount −
//! avg) / (avg + 1)` with `avg` the mean of the user's last 100 amounts in processing order (0
//! if it has none); `device_user_count`, the distinct users of the device's earlier
//! transactions (capped at `max_device_users`); `new_device`, no earlier transaction on the
//! device. Unlike the seed, whose `new_device` is always 0 (its defaultdict lookup inserts the
//! key first), this one is what the name says. Equal timestamps count as earlier (`≤ ts`).
//!
//! # Late transactions
//! The watermark is the newest timestamp accepted so far. A transaction older than
//! `watermark − max_lateness` is rejected with [`crate::Error::LateTransaction`] and nothing is
//! recorded. One within the lateness is scored against the history as it is — its windows
//! count only the earlier-processed transactions with timestamps in `(ts − window, ts]`, so
//! newer ones that arrived first are not counted — and then inserted in timestamp order, so
//! transactions that follow count it wherever its time falls. `amount_deviation` and the device
//! features follow processing order (they are a behaviour baseline, not a time window).
//!
//! # Bounded memory: the idle TTL
//! A user or device whose newest transaction is at or before `watermark − ttl` is forgotten: its
//! next transaction is scored as its first (`amount_deviation` 0; `new_device`, no users).
//! Because `ttl ≥ 24 h + max_lateness` (checked), every record a forgotten id held is outside
//! every window that any acceptable transaction can have, so the 1 h and 24 h features are
//! exactly those of the full, never-forgetting history; the property tests check this against a
//! reference that never forgets them. Forgetting is decided at lookup, so *when* memory is
//! actually freed — a few expiry steps per transaction, or [`FraudFeatures::expire_idle`] —
//! never changes a feature. Window records that no future window can reach are dropped the
//! same way, so a user holds its last 24 h + `max_lateness` of records and 100 amounts, a device
//! at most `max_device_users` ids.
//!
//! # Cost and sharing
//! O(1) amortised per in-order transaction: two shard locks, two hash lookups, cursor steps over
//! the records that left a window, two expiry steps. A late transaction instead binary-searches
//! its windows, sums its 24 h window directly and shifts the records newer than it (so it costs
//! O(records in its window)). Sums are exact fixed-point (`fixed.rs`), so they never drift.
//! State is split into shards, each a lock around an open-addressing table keyed by a keyed
//! hash of the id (`table.rs`); a transaction locks its user's shard, then its device's
//! (always that order, so concurrent calls cannot deadlock), which makes each transaction
//! atomic. With 100k users the state is tens of MiB, so the cost is cache misses:
//! [`FraudFeatures::process_batch`] (and the pipeline's batch call) prefetch the slots and
//! records of the transactions a few places ahead so the misses overlap. Snapshots
//! ([`FraudFeatures::snapshot`]) lock every shard for a consistent cut and restore bit-exactly;
//! a truncated or corrupted file is a [`crate::Error::Snapshot`] and leaves the engine
//! unchanged.

mod config;
mod device;
mod engine;
mod features;
mod fixed;
mod pipeline;
pub mod reference;
mod shard;
mod snapshot;
mod table;
mod user;

pub use config::{FraudConfig, MAX_SHARDS};
pub use engine::{FraudFeatures, PREFETCH_DISTANCE};
pub use features::{
    FraudFeatureRow, Transaction, FEATURE_COUNT, FEATURE_NAMES, FEATURE_NAMES_CSV, MAX_AMOUNT,
    MAX_TIMESTAMP, RECENT_AMOUNTS, WINDOW_1H, WINDOW_24H,
};
pub use pipeline::{FraudDecision, FraudPipeline, FraudWorkspace, DEFAULT_THRESHOLD};
