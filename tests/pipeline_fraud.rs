//! The fraud pipeline's public calls: hand-computed features, bad inputs (typed errors, state
//! unchanged), settings, snapshots (round trip; truncated and corrupted files), bounded memory,
//! the model checks, batch = one-by-one, and the demo stream's metrics.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::st::{linear, minimal, St};
use reckon::pipelines::fraud::{
    FraudConfig, FraudDecision, FraudFeatureRow, FraudFeatures, FraudPipeline, FraudWorkspace,
    Transaction, FEATURE_NAMES_CSV, MAX_AMOUNT,
};
use reckon::weights::{Container, WeightFile};
use reckon::{Error, Model, Options, Workspace};

/// 2026-01-01 02:00 UTC.
const T0: f64 = 1_767_225_600.0 + 2.0 * 3600.0;

fn txn(user: u64, device: u64, timestamp: f64, amount: f64) -> Transaction {
    Transaction {
        user,
        device,
        timestamp,
        amount,
        is_international: false,
    }
}

fn engine() -> FraudFeatures {
    FraudFeatures::new(FraudConfig::default()).expect("default config")
}

fn root(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("reckon-fraud-{}-{name}", std::process::id()))
}

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
    let cases: [(f64, f64, &str); 9] = [
        (T0, f64::NAN, "amount"),
        (T0, f64::INFINITY, "amount"),
        (T0, -0.01, "amount"),
        (T0, MAX_AMOUNT * 1.01, "amount"),
        (f64::NAN, 1.0, "timestamp"),
        (-1.0, 1.0, "timestamp"),
        (f64::INFINITY, 1.0, "timestamp"),
        (f64::NEG_INFINITY, 1.0, "timestamp"),
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

/// A small engine with users, devices, late records and a full amount ring.
fn busy_engine() -> FraudFeatures {
    let e = engine();
    for i in 0..300u64 {
        let ts = T0 + (i * 97 % 1000) as f64 + i as f64 * 50.0;
        let _ = e.process(&txn(i % 7, i % 5, ts, (i % 13) as f64 * 1.25 + 0.1));
    }
    e
}

fn probes() -> Vec<Transaction> {
    (0..9)
        .flat_map(|u| (0..6).map(move |d| txn(u, d, T0 + 15_000.0, 3.5)))
        .collect()
}

fn same_answers(a: &FraudFeatures, b: &FraudFeatures) {
    for p in probes() {
        assert_eq!(
            a.peek(&p).expect("peek a"),
            b.peek(&p).expect("peek b"),
            "{p:?}"
        );
    }
}

#[test]
fn snapshot_file_round_trip_is_exact() {
    let e = busy_engine();
    let path = tmp("roundtrip.snap");
    e.snapshot(&path).expect("snapshot");
    let loaded = FraudFeatures::load(&path, 4).expect("load");
    same_answers(&e, &loaded);
    assert_eq!(loaded.snapshot_bytes(), e.snapshot_bytes());
    let other = engine();
    other.restore(&path).expect("restore");
    same_answers(&e, &other);
    // Both go on identically.
    for p in probes() {
        assert_eq!(e.process(&p).expect("a"), other.process(&p).expect("b"));
    }
    std::fs::remove_file(&path).ok();
    assert!(matches!(
        FraudFeatures::load(&path, 4),
        Err(Error::Io { .. })
    ));
}

#[test]
fn truncated_or_corrupted_snapshots_are_typed_errors_and_change_nothing() {
    let good = busy_engine().snapshot_bytes();
    let target = engine();
    target.process(&txn(42, 42, T0, 1.0)).expect("valid");
    let before = target.snapshot_bytes();
    let expect_snapshot_error = |bytes: &[u8], what: &str| match target.restore_bytes(bytes) {
        Err(Error::Snapshot { path: None, reason }) => assert!(!reason.is_empty()),
        other => panic!("{what}: {other:?}"),
    };
    for len in (0..good.len())
        .step_by(7)
        .chain([good.len() - 1, 31, 32, 33])
    {
        expect_snapshot_error(&good[..len], &format!("truncated to {len}"));
    }
    let mut padded = good.clone();
    padded.push(0);
    expect_snapshot_error(&padded, "padded");
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x10;
        expect_snapshot_error(&bad, &format!("byte {i} flipped"));
    }
    assert_eq!(
        target.snapshot_bytes(),
        before,
        "a failed restore changed the state"
    );

    // Another version, and a snapshot taken under other settings.
    let mut v2 = good.clone();
    v2[8] = 2;
    expect_snapshot_error(&v2, "version 2");
    let strict = FraudFeatures::new(FraudConfig {
        max_device_users: 3,
        ..FraudConfig::default()
    })
    .expect("config");
    assert!(matches!(
        strict.restore_bytes(&good),
        Err(Error::Snapshot { .. })
    ));

    // A file: the error names it.
    let path = tmp("corrupt.snap");
    std::fs::write(&path, &good[..good.len() / 2]).expect("write");
    match target.restore(&path) {
        Err(Error::Snapshot { path: Some(p), .. }) => assert_eq!(p, path),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        FraudFeatures::load(&path, 1),
        Err(Error::Snapshot { .. })
    ));
    std::fs::remove_file(&path).ok();
    assert_eq!(target.snapshot_bytes(), before);
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

fn fixture_pipeline(threshold: f32) -> FraudPipeline {
    FraudPipeline::open(
        root("tests/fixtures/fraud_default.safetensors"),
        &Options::default(),
        FraudConfig::default(),
        threshold,
    )
    .expect("fixture pipeline")
}

#[test]
fn pipeline_scores_the_features_with_the_model() {
    let pipe = fixture_pipeline(0.5);
    let model = Model::open(
        root("tests/fixtures/fraud_default.safetensors"),
        &Options::default(),
    )
    .expect("model");
    let (mut ws, mut mws) = (FraudWorkspace::default(), Workspace::default());
    for (i, t) in probes().iter().enumerate() {
        let t = Transaction {
            timestamp: t.timestamp + i as f64,
            ..*t
        };
        let d = pipe.score(&t, &mut ws).expect("score");
        let mut x = [0f32; 11];
        d.features.write_f32(&mut x);
        let mut p = [0f32];
        model.predict(&x, 1, &mut p, &mut mws).expect("predict");
        assert_eq!(d.score, p[0]);
        assert_eq!(d.flagged, d.score >= 0.5);
    }
}

#[test]
fn batch_equals_one_by_one_and_rejects_bad_input_whole() {
    let txns: Vec<Transaction> = (0..700u64)
        .map(|i| Transaction {
            is_international: i % 3 == 0,
            ..txn(
                i % 37,
                i % 11,
                T0 + i as f64 * 20.0 - (i % 5) as f64 * 30.0,
                (i % 17) as f64 * 3.0,
            )
        })
        .collect();
    let (one, batch) = (fixture_pipeline(0.3), fixture_pipeline(0.3));
    let mut ws = FraudWorkspace::default();
    let singles: Vec<FraudDecision> = txns
        .iter()
        .map(|t| one.score(t, &mut ws).expect("score"))
        .collect();
    let mut out = Vec::new();
    batch.score_batch(&txns, &mut ws, &mut out).expect("batch");
    assert_eq!(out.len(), singles.len());
    for (i, (b, s)) in out.iter().zip(&singles).enumerate() {
        assert_eq!(b.features, s.features, "txn {i}");
        assert!(
            (b.score - s.score).abs() <= 1e-6,
            "txn {i}: batch {} vs single {}",
            b.score,
            s.score
        );
    }

    let before = batch.engine().snapshot_bytes();
    let mut bad = vec![
        txn(1, 1, T0 + 20_000.0, 1.0),
        txn(2, 2, T0 + 20_001.0, f64::NAN),
    ];
    assert!(matches!(
        batch.score_batch(&bad, &mut ws, &mut out),
        Err(Error::InvalidArgument { arg: "amount", .. })
    ));
    bad[1] = txn(2, 2, T0 + 20_001.0 - 3600.0 - 2.0, 1.0);
    bad.insert(0, txn(3, 3, T0 + 20_002.0, 1.0));
    assert!(matches!(
        batch.score_batch(&bad, &mut ws, &mut out),
        Err(Error::LateTransaction { .. })
    ));
    assert_eq!(
        batch.engine().snapshot_bytes(),
        before,
        "a rejected batch changed the state"
    );
}

#[test]
fn pipeline_refuses_the_wrong_model() {
    let opts = Options::default();
    let open = |bytes: Vec<u8>| {
        let file = Arc::new(WeightFile::from_bytes(bytes).expect("valid file"));
        FraudPipeline::from_file(file, &opts, engine(), 0.5)
    };
    // Feature names other than the engine's, in order.
    let swapped = FEATURE_NAMES_CSV.replace("amount,amount_log", "amount_log,amount");
    let st = linear(
        linear(
            St::new()
                .meta("reckon.arch", "fraud")
                .meta("reckon.feature_names", &swapped),
            "network.0",
            11,
            4,
        ),
        "classifier",
        4,
        1,
    );
    match open(st.build()) {
        Err(Error::BadMetadataValue { key, expected, .. }) => {
            assert_eq!(
                (key.as_str(), expected),
                ("reckon.feature_names", FEATURE_NAMES_CSV)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        open(minimal("fraud").build()),
        Err(Error::BadMetadataValue { .. })
    ));
    // Right names, or none, but not 11 inputs.
    let narrow = linear(
        linear(St::new().meta("reckon.arch", "fraud"), "network.0", 3, 4),
        "classifier",
        4,
        1,
    );
    assert!(matches!(
        open(narrow.build()),
        Err(Error::InvalidArgument { arg: "model", .. })
    ));
    let named = linear(
        linear(
            St::new()
                .meta("reckon.arch", "fraud")
                .meta("reckon.feature_names", FEATURE_NAMES_CSV),
            "network.0",
            11,
            4,
        ),
        "classifier",
        4,
        1,
    );
    assert!(open(named.build()).is_ok());
    // Another architecture; a bad threshold.
    assert!(matches!(
        open(minimal("ltr").build()),
        Err(Error::InvalidArgument { arg: "model", .. })
    ));
    let path = root("tests/fixtures/fraud_default.safetensors");
    for threshold in [f32::NAN, -0.1, 1.5] {
        assert!(matches!(
            FraudPipeline::open(&path, &opts, FraudConfig::default(), threshold),
            Err(Error::InvalidArgument {
                arg: "threshold",
                ..
            })
        ));
    }
}

/// Replays the demo's transaction stream through the demo model. PyTorch, scoring this file's
/// stream with `weights/train_demo.py`'s own `fraud_features` and the exported weights, flags 91
/// transactions at 0.5, 74 of them fraud (precision 0.813, recall 0.787, FPR 0.0030), and reckon
/// flags exactly the same; the bounds below leave room for the demo weights being retrained.
#[test]
fn demo_stream_scores_like_the_trained_model() {
    let model = root("weights/demo/fraud.safetensors");
    let requests = root("weights/demo/requests/fraud.safetensors");
    if !model.exists() || !requests.exists() {
        eprintln!("skipped: demo weights absent");
        return;
    }
    let bytes = std::fs::read(&requests).expect("read requests");
    let c = Container::parse(&bytes).expect("requests file");
    let col = |name: &str| {
        c.tensor(name)
            .and_then(|t| t.as_slice::<i64>().map(|v| v.into_owned()))
            .expect(name)
    };
    let (ts, user, device, intl, label) = (
        col("ts"),
        col("user"),
        col("device"),
        col("is_international"),
        col("label"),
    );
    let amount = c
        .tensor("amount")
        .and_then(|t| t.as_f32().map(|v| v.into_owned()))
        .expect("amount");
    let txns: Vec<Transaction> = (0..ts.len())
        .map(|i| Transaction {
            user: user[i] as u64,
            device: device[i] as u64,
            timestamp: ts[i] as f64,
            amount: f64::from(amount[i]),
            is_international: intl[i] != 0,
        })
        .collect();
    let pipe = FraudPipeline::open(&model, &Options::default(), FraudConfig::default(), 0.5)
        .expect("demo model");
    let mut out = Vec::new();
    pipe.score_batch(&txns, &mut FraudWorkspace::default(), &mut out)
        .expect("replay");
    let labels: Vec<f32> = label.iter().map(|&l| l as f32).collect();
    let m = pipe.metrics(&out, &labels).expect("metrics");
    assert_eq!(txns.len(), 5829);
    assert_eq!(
        m.true_positives + m.false_negatives,
        94,
        "the stream's fraud labels"
    );
    assert!(
        m.precision >= 0.7 && m.recall >= 0.7 && m.false_positive_rate <= 0.006,
        "{m:?}"
    );
    let decisions = out.iter().filter(|d| d.flagged).count();
    assert_eq!(decisions, m.true_positives + m.false_positives);
}
