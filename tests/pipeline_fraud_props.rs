//! The streaming fraud engine against its naive full-history twin
//! (`reckon::pipelines::fraud::reference`), over random streams built to hit the awkward cases:
//! few users and devices (so histories repeat), equal timestamps, window edges exactly 3600 s
//! and 86400 s after an earlier transaction (and a hair either side), late arrivals within and
//! beyond the allowed lateness, idle gaps longer than the TTL (set to its minimum, 24 h +
//! lateness, so ids really expire), and a snapshot/restore round trip mid-stream.
//!
//! Every feature is compared: counts, flags and the transaction-only features exactly; sums
//! and deviations within the tolerances below. A second engine that frees idle ids after
//! every transaction must give bit-identical rows: when expiry runs never changes a feature.

use proptest::prelude::*;
use reckon::pipelines::fraud::reference::NaiveFraudFeatures;
use reckon::pipelines::fraud::{
    FraudConfig, FraudFeatureRow, FraudFeatures, Transaction, MAX_AMOUNT,
};
use reckon::Error;

/// The engine rounds each amount once to a multiple of 2⁻³² (fixed.rs; within one quantum), so
/// a window sum of n amounts may differ from the exact one by n·2⁻³²; the reference's plain f64
/// sum adds at most (n + 1)·ε relative. With the engine's final rounding: `n·2⁻³² + (n + 2)·ε·|sum|`.
const SUM_QUANTUM: f64 = 1.0 / (1u64 << 32) as f64;
/// `amount_deviation = (a − avg)/(avg + 1)`: avg is off by ≤ 2⁻³² + 102·ε·avg (quantisation of
/// ≤ 100 amounts, then f64 sums), which moves the deviation by ≤ that × (a + 1)/(avg + 1)²;
/// that is ≤ 2.4·10⁻¹⁰·(1 + |deviation|) for any a, avg ≥ 0. 10⁻⁹ leaves room for the divisions.
const DEVIATION_REL: f64 = 1e-9;

#[derive(Clone, Debug)]
enum Step {
    /// Same timestamp as the previous transaction.
    Same,
    /// Forward by whole seconds.
    Ahead(u32),
    /// Forward by tenths of a second (not exact in binary).
    AheadTenths(u32),
    /// Exactly `edge` seconds (+ `nudge` × 2⁻⁸) after the `pick`-th earlier transaction.
    Edge { pick: usize, edge: f64, nudge: i8 },
    /// `fraction` of the allowed lateness (> 1: too late) before the newest timestamp.
    Late(f64),
    /// Forward by more than the TTL (idle ids expire).
    Idle(u32),
}

#[derive(Clone, Debug)]
struct Op {
    user: u64,
    device: u64,
    step: Step,
    amount: f64,
    intl: bool,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => Just(Step::Same),
        6 => (0u32..900).prop_map(Step::Ahead),
        2 => (1u32..40).prop_map(Step::AheadTenths),
        4 => (any::<prop::sample::Index>(), prop_oneof![Just(3600.0), Just(86400.0)], -1i8..=1)
            .prop_map(|(i, edge, nudge)| Step::Edge { pick: i.index(usize::MAX), edge, nudge }),
        2 => prop_oneof![0.0..=1.0f64, 1.0..3.0f64].prop_map(Step::Late),
        1 => (0u32..200_000).prop_map(Step::Idle),
    ]
}

fn amount() -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => Just(0.0),
        4 => (0u64..1_000_000).prop_map(|c| c as f64 / 100.0),
        3 => 0.0..10_000.0f64,
        1 => 1e6..1e9f64,
        1 => Just(MAX_AMOUNT),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = (0u64..5, 0u64..4, step(), amount(), any::<bool>()).prop_map(
        |(user, device, step, amount, intl)| Op {
            user,
            device,
            step,
            amount,
            intl,
        },
    );
    prop::collection::vec(op, 1..160)
}

fn config() -> impl Strategy<Value = FraudConfig> {
    (
        prop_oneof![
            Just(0.0),
            Just(600.0),
            Just(3600.0),
            Just(5000.0),
            Just(200_000.0)
        ],
        prop_oneof![Just(1u32), Just(2), Just(64)],
        prop_oneof![Just(1usize), Just(4)],
    )
        .prop_map(|(max_lateness, max_device_users, shards)| FraudConfig {
            // The smallest TTL allowed, so the idle steps make ids expire.
            ttl: 86400.0 + max_lateness,
            max_lateness,
            max_device_users,
            shards,
        })
}

/// Turns ops into transactions (timestamps from the steps, starting at a day boundary + 1 h).
fn transactions(ops: &[Op], max_lateness: f64) -> Vec<Transaction> {
    let (mut out, mut prev, mut newest) = (Vec::<Transaction>::new(), 1_767_229_200.0f64, 0.0f64);
    for op in ops {
        let ts = match op.step {
            Step::Same => prev,
            Step::Ahead(s) => newest.max(prev) + f64::from(s),
            Step::AheadTenths(t) => newest.max(prev) + f64::from(t) * 0.1,
            Step::Edge { pick, edge, nudge } if !out.is_empty() => {
                out[pick % out.len()].timestamp + edge + f64::from(nudge) / 256.0
            }
            Step::Edge { .. } => prev,
            Step::Late(f) => (newest - f * max_lateness - 1.0).max(0.0),
            Step::Idle(s) => newest + 86400.0 + max_lateness + f64::from(s),
        };
        out.push(Transaction {
            user: op.user,
            device: op.device,
            timestamp: ts,
            amount: op.amount,
            is_international: op.intl,
        });
        prev = ts;
        newest = newest.max(ts);
    }
    out
}

fn assert_rows(i: usize, got: &FraudFeatureRow, want: &FraudFeatureRow) {
    assert_eq!(
        (
            got.amount,
            got.amount_log,
            got.hour_of_day,
            got.is_night,
            got.is_international
        ),
        (
            want.amount,
            want.amount_log,
            want.hour_of_day,
            want.is_night,
            want.is_international
        ),
        "txn {i}: transaction features"
    );
    assert_eq!(
        (
            got.txn_count_1h,
            got.txn_count_24h,
            got.device_user_count,
            got.new_device
        ),
        (
            want.txn_count_1h,
            want.txn_count_24h,
            want.device_user_count,
            want.new_device
        ),
        "txn {i}: counts\n got {got:?}\nwant {want:?}"
    );
    let n = want.txn_count_24h as f64;
    let sum_tol = n * SUM_QUANTUM + (n + 2.0) * f64::EPSILON * want.amount_sum_24h.abs();
    assert!(
        (got.amount_sum_24h - want.amount_sum_24h).abs() <= sum_tol,
        "txn {i}: amount_sum_24h {} vs {} (tol {sum_tol})",
        got.amount_sum_24h,
        want.amount_sum_24h
    );
    let dev_tol = DEVIATION_REL * (1.0 + want.amount_deviation.abs());
    assert!(
        (got.amount_deviation - want.amount_deviation).abs() <= dev_tol,
        "txn {i}: amount_deviation {} vs {}",
        got.amount_deviation,
        want.amount_deviation
    );
}

/// Runs `txns` through the engine (restored from its own snapshot before `restore_at`), an
/// engine swept after every transaction, and the reference; compares them all.
fn check_stream(config: FraudConfig, txns: &[Transaction], restore_at: usize) {
    let mut engine = FraudFeatures::new(config.clone()).expect("engine");
    let swept = FraudFeatures::new(config.clone()).expect("engine");
    let mut naive = NaiveFraudFeatures::new(config.clone()).expect("reference");
    for (i, t) in txns.iter().enumerate() {
        if i == restore_at {
            let bytes = engine.snapshot_bytes();
            engine = FraudFeatures::from_snapshot_bytes(&bytes, config.shards).expect("restore");
            assert_eq!(
                engine.snapshot_bytes(),
                bytes,
                "a restored engine snapshots to the same bytes"
            );
        }
        let want = naive.process(t);
        let got = engine.process(t);
        let got_swept = swept.process(t);
        swept.expire_idle();
        match (&got, &want) {
            (Ok(g), Ok(w)) => {
                assert_rows(i, g, w);
                assert_eq!(
                    got_swept.as_ref().ok(),
                    Some(g),
                    "txn {i}: expiry timing changed a feature"
                );
            }
            (Err(Error::LateTransaction { .. }), Err(Error::LateTransaction { .. })) => {
                assert!(matches!(got_swept, Err(Error::LateTransaction { .. })));
            }
            _ => panic!("txn {i} {t:?}: engine {got:?}, reference {want:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_naive_reference(config in config(), ops in ops(), restore in any::<prop::sample::Index>()) {
        let txns = transactions(&ops, config.max_lateness);
        check_stream(config, &txns, restore.index(txns.len() + 1));
    }
}

/// A burst long enough to fill the 100-amount ring and evict from it many times, with windows
/// sliding over many records and late ones landing before the window cursors (what the short
/// random streams above rarely reach).
#[test]
fn long_single_user_stream_matches_the_reference() {
    for max_lateness in [600.0, 20_000.0, 200_000.0] {
        long_stream(max_lateness);
    }
}

fn long_stream(max_lateness: f64) {
    let config = FraudConfig {
        max_lateness,
        ttl: 86400.0 + max_lateness,
        ..FraudConfig::default()
    };
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut ts = 1_000_000.0;
    let txns: Vec<Transaction> = (0..1500)
        .map(|_| {
            let r = rnd();
            ts += (r % 400) as f64;
            let late = if r % 7 == 0 {
                (r >> 20) as f64 % (max_lateness * 1.1)
            } else {
                0.0
            };
            Transaction {
                user: r % 2,
                device: (r >> 8) % 3,
                timestamp: ts - late,
                amount: ((r >> 32) % 100_000) as f64 / 100.0,
                is_international: r % 5 == 0,
            }
        })
        .collect();
    check_stream(config, &txns, 750);
}
