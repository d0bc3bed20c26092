//! The fraud feature engine's public calls: hand-computed features at the window edges and for
//! a late arrival, bad inputs (typed errors, state unchanged), settings, bounded memory (idle
//! ids freed and forgotten), the device-user cap, and batch = one at a time.

mod common;

use reckon::pipelines::fraud::{
    FraudConfig, FraudFeatureRow, FraudFeatures, Transaction, MAX_AMOUNT,
};
use reckon::Error;

use common::fraud::{engine, txn, T0};

/// (count_1h, count_24h, amount_sum_24h, amount_deviation, device_user_count, new_device).
type History = (u64, u64, f64, f64, u64, bool);

fn history(r: &FraudFeatureRow) -> History {
    (
        r.txn_count_1h,
        r.txn_count_24h,
        r.amount_sum_24h,
        r.amount_deviation,
        r.device_user_count,
        r.new_device,
    )
}

#[test]
fn hand_computed_stream_with_edges_and_a_late_arrival() {
    let e = engine();
    let t1 = T0 + 1800.0;
    let t4 = t1 + 86400.0;
    let steps: [(Transaction, History); 7] = [
        (txn(1, 10, T0, 100.0), (0, 0, 0.0, 0.0, 0, true)),
        (
            txn(1, 10, t1, 50.0),
            (1, 1, 100.0, (50.0 - 100.0) / 101.0, 1, false),
        ),
        // Exactly 3600 s after the first: it has left the 1 h window, `(ts − 3600, ts]`.
        (
            txn(1, 11, T0 + 3600.0, 200.0),
            (1, 2, 150.0, (200.0 - 75.0) / 76.0, 0, true),
        ),
        (txn(2, 10, T0 + 3600.0, 0.0), (0, 0, 0.0, 0.0, 1, false)),
        // Exactly 86400 s after the second: it has left the 24 h window.
        (
            txn(1, 10, t4, 10.0),
            (
                0,
                1,
                200.0,
                (10.0 - 350.0 / 3.0) / (350.0 / 3.0 + 1.0),
                2,
                false,
            ),
        ),
        // 600 s late: scored against the records up to its own time (not the one at t4).
        (
            txn(1, 12, t4 - 600.0, 5.0),
            (0, 2, 250.0, (5.0 - 90.0) / 91.0, 0, true),
        ),
        // The late one counts for what follows.
        (
            txn(1, 12, t4 + 1.0, 1.0),
            (2, 3, 215.0, (1.0 - 73.0) / 74.0, 1, false),
        ),
    ];
    for (i, (t, want)) in steps.iter().enumerate() {
        let got = e.process(t).expect("valid transaction");
        let g = history(&got);
        assert_eq!(
            (g.0, g.1, g.2, g.4, g.5),
            (want.0, want.1, want.2, want.4, want.5),
            "txn {i}"
        );
        assert!(
            (g.3 - want.3).abs() <= 1e-12 * (1.0 + want.3.abs()),
            "txn {i}: deviation {} vs {}",
            g.3,
            want.3
        );
        assert_eq!(got.amount, t.amount);
        assert_eq!(got.amount_log, t.amount.ln_1p());
    }
    let e = engine();
    let first = e.peek(&txn(9, 99, T0, 1.0)).expect("peek");
    assert_eq!(
        (first.hour_of_day, first.is_night, first.new_device),
        (2.0, true, true)
    );
    let noon = e.peek(&txn(9, 99, T0 + 10.0 * 3600.0, 1.0)).expect("peek");
    assert_eq!((noon.hour_of_day, noon.is_night), (12.0, false));
    let late_evening = e.peek(&txn(9, 99, T0 + 20.5 * 3600.0, 1.0)).expect("peek");
    assert_eq!(
        (late_evening.hour_of_day, late_evening.is_night),
        (22.5, true)
    );
}

#[test]
fn bad_transactions_are_typed_errors_and_change_nothing() {
    let e = engine();
    e.process(&txn(1, 1, T0, 10.0)).expect("valid");
    let before = e.snapshot_bytes();
    let cases: [(f64, f64, &str); 10] = [
        (T0, f64::NAN, "amount"),
        (T0, f64::INFINITY, "amount"),
        (T0, -0.01, "amount"),
        (T0, MAX_AMOUNT * 1.01, "amount"),
        (f64::NAN, 1.0, "timestamp"),
        (-1.0, 1.0, "timestamp"),
        (f64::INFINITY, 1.0, "timestamp"),
        (f64::NEG_INFINITY, 1.0, "timestamp"),
        // Milliseconds by mistake: accepted, it would make every later transaction late.
        (T0 * 1000.0, 1.0, "timestamp"),
        (f64::NAN, f64::NAN, "amount"),
    ];
    for (ts, amount, field) in cases {
        for r in [
            e.process(&txn(1, 1, ts, amount)),
            e.peek(&txn(1, 1, ts, amount)),
        ] {
            match r {
                Err(Error::InvalidArgument { arg, .. }) => {
                    assert_eq!(arg, field, "ts {ts} amount {amount}")
                }
                other => panic!("ts {ts} amount {amount}: {other:?}"),
            }
        }
    }
    // Beyond the default hour of lateness.
    match e.process(&txn(1, 1, T0 - 3601.0, 1.0)) {
        Err(Error::LateTransaction {
            timestamp,
            watermark,
            max_lateness,
        }) => {
            assert_eq!(
                (timestamp, watermark, max_lateness),
                (T0 - 3601.0, T0, 3600.0)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        e.snapshot_bytes(),
        before,
        "a rejected transaction changed the state"
    );
    assert_eq!(e.watermark(), T0);
    // -0.0 is a valid zero, not a negative.
    assert!(e.process(&txn(2, 2, T0, -0.0)).is_ok());
}

#[test]
fn settings_are_checked() {
    let bad = [
        (
            FraudConfig {
                ttl: 86399.0,
                max_lateness: 0.0,
                ..FraudConfig::default()
            },
            "ttl",
        ),
        (
            FraudConfig {
                ttl: 86400.0 + 3599.0,
                ..FraudConfig::default()
            },
            "ttl",
        ),
        (
            FraudConfig {
                ttl: f64::NAN,
                ..FraudConfig::default()
            },
            "ttl",
        ),
        (
            FraudConfig {
                max_lateness: -1.0,
                ..FraudConfig::default()
            },
            "max_lateness",
        ),
        (
            FraudConfig {
                max_lateness: f64::NAN,
                ..FraudConfig::default()
            },
            "max_lateness",
        ),
        (
            FraudConfig {
                max_device_users: 0,
                ..FraudConfig::default()
            },
            "max_device_users",
        ),
        (
            FraudConfig {
                shards: 3,
                ..FraudConfig::default()
            },
            "shards",
        ),
        (
            FraudConfig {
                shards: 0,
                ..FraudConfig::default()
            },
            "shards",
        ),
        (
            FraudConfig {
                shards: 8192,
                ..FraudConfig::default()
            },
            "shards",
        ),
    ];
    for (config, field) in bad {
        match FraudFeatures::new(config.clone()) {
            Err(Error::InvalidArgument { arg, .. }) => assert_eq!(arg, field, "{config:?}"),
            other => panic!("{config:?}: {other:?}"),
        }
    }
    let ok = FraudConfig {
        ttl: 86400.0,
        max_lateness: 0.0,
        max_device_users: 1,
        shards: 1,
    };
    assert!(FraudFeatures::new(ok).is_ok());
    let never = FraudConfig {
        ttl: f64::INFINITY,
        max_lateness: f64::INFINITY,
        ..FraudConfig::default()
    };
    assert!(FraudFeatures::new(never).is_ok());
}

#[test]
fn idle_ids_are_freed_and_forgotten() {
    let config = FraudConfig {
        shards: 1,
        ..FraudConfig::default()
    };
    let ttl = config.ttl;
    let e = FraudFeatures::new(config).expect("config");
    for u in 0..1000 {
        e.process(&txn(u, u, T0 + u as f64, 5.0)).expect("valid");
    }
    assert_eq!((e.user_count(), e.device_count()), (1000, 1000));
    // Past the TTL, one busy user's transactions sweep the idle ids out, a few per call.
    let later = T0 + 1000.0 + ttl + 1.0;
    for i in 0..600 {
        e.process(&txn(5000, 5000, later + i as f64, 1.0))
            .expect("valid");
    }
    assert!(e.user_count() <= 1, "users left: {}", e.user_count());
    assert!(e.device_count() <= 1, "devices left: {}", e.device_count());
    // A returning user is a first-timer again; its old device is new again.
    let back = e.process(&txn(7, 7, later + 700.0, 5.0)).expect("valid");
    assert_eq!(history(&back), (0, 0, 0.0, 0.0, 0, true));

    // The full pass frees everything idle at once, across all shards.
    let e = engine();
    for u in 0..500 {
        e.process(&txn(u, u, T0, 5.0)).expect("valid");
    }
    e.process(&txn(9999, 9999, T0 + e.config().ttl + 3601.0, 1.0))
        .expect("valid");
    let held = e.user_count() + e.device_count();
    assert_eq!(e.expire_idle(), held - 2);
    assert_eq!((e.user_count(), e.device_count()), (1, 1));
}

#[test]
fn device_user_count_saturates_at_the_cap() {
    let e = FraudFeatures::new(FraudConfig {
        max_device_users: 3,
        ..FraudConfig::default()
    })
    .expect("config");
    let counts: Vec<u64> = (0..6)
        .map(|u| {
            e.process(&txn(u, 1, T0 + u as f64, 1.0))
                .expect("valid")
                .device_user_count
        })
        .collect();
    assert_eq!(counts, [0, 1, 2, 3, 3, 3]);
}

#[test]
fn batch_equals_one_at_a_time() {
    let txns: Vec<Transaction> = (0..3000u64)
        .map(|i| {
            txn(
                i % 97,
                i % 41,
                T0 + i as f64 * 7.0 - (i % 9) as f64 * 40.0,
                (i % 23) as f64 * 1.5,
            )
        })
        .collect();
    let (one, batch) = (engine(), engine());
    let singles: Vec<FraudFeatureRow> = txns
        .iter()
        .map(|t| one.process(t).expect("process"))
        .collect();
    let mut out = Vec::new();
    for chunk in txns.chunks(700) {
        let before = out.len();
        let mut part = Vec::new();
        batch
            .process_batch(chunk, &mut part)
            .expect("process_batch");
        out.extend(part);
        assert_eq!(out.len(), before + chunk.len());
    }
    assert_eq!(out, singles);
    // A bad transaction stops the batch there; those before it are recorded.
    let mut part = Vec::new();
    let bad = [
        txn(1, 1, T0 + 30_000.0, 1.0),
        txn(1, 1, T0 + 30_001.0, f64::NAN),
        txn(1, 1, T0 + 30_002.0, 1.0),
    ];
    assert!(matches!(
        batch.process_batch(&bad, &mut part),
        Err(Error::InvalidArgument { arg: "amount", .. })
    ));
    assert_eq!(part.len(), 1);
    assert_eq!(
        batch
            .peek(&txn(1, 1, T0 + 30_003.0, 1.0))
            .expect("peek")
            .txn_count_1h,
        1
    );
}
