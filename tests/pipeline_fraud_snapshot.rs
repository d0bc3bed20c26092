//! Fraud engine snapshots: a file round trip restores exactly (same answers, same bytes, same
//! future), and truncated, corrupted, padded, other-version or other-settings snapshots are
//! typed errors that leave the engine unchanged.

mod common;

use std::path::PathBuf;

use reckon::pipelines::fraud::{FraudConfig, FraudFeatures, Transaction};
use reckon::Error;

use common::fraud::{engine, txn, T0};

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("reckon-fraud-{}-{name}", std::process::id()))
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
