//! Eight threads score one fraud stream through one shared pipeline, each a disjoint slice of
//! the transactions, with users and devices shared across threads. No transaction is lost:
//! afterwards every user's 24 h count and sum, and every device's user count, are exactly what
//! the whole stream holds; and a snapshot taken then restores to an engine that answers every
//! probe exactly as the original.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::thread;

use reckon::pipelines::fraud::{
    FraudConfig, FraudFeatures, FraudPipeline, FraudWorkspace, Transaction,
};
use reckon::Options;

const THREADS: usize = 8;
const TXNS: usize = 160_000;
const USERS: u64 = 300;
const DEVICES: u64 = 200;
const T0: f64 = 1_767_225_600.0;
/// The stream spans 40 000 s (< 24 h), so after it a 24 h window at its end sees all of it.
const SPAN: f64 = 40_000.0;

fn stream() -> Vec<Transaction> {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    (0..TXNS)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            Transaction {
                user: s % USERS,
                device: (s >> 16) % DEVICES,
                timestamp: T0 + i as f64 * (SPAN / TXNS as f64),
                // Multiples of 1/4: exact in binary, so sums compare exactly.
                amount: ((s >> 32) % 4000) as f64 * 0.25,
                is_international: (s >> 40).is_multiple_of(10),
            }
        })
        .collect()
}

#[test]
fn eight_threads_lose_no_transaction_and_snapshot_afterwards() {
    // Threads run their slices in parallel, so one thread's transactions arrive up to the whole
    // span after another's newer ones: allow that much lateness.
    let config = FraudConfig {
        max_lateness: SPAN,
        ttl: 86400.0 + SPAN,
        shards: 16,
        max_device_users: 512,
    };
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fraud_default.safetensors");
    let pipe = FraudPipeline::open(model, &Options::default(), config, 0.5).expect("pipeline");
    let txns = stream();

    let flagged: usize = thread::scope(|scope| {
        let workers: Vec<_> = txns
            .chunks(TXNS / THREADS)
            .map(|slice| {
                let pipe = &pipe;
                scope.spawn(move || {
                    let (mut ws, mut out) = (FraudWorkspace::default(), Vec::new());
                    let mut flagged = 0;
                    // Small batches interleave the threads finely.
                    for batch in slice.chunks(37) {
                        pipe.score_batch(batch, &mut ws, &mut out)
                            .expect("score_batch");
                        assert_eq!(out.len(), batch.len());
                        flagged += out.iter().filter(|d| d.flagged).count();
                    }
                    flagged
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    assert!(flagged <= TXNS);

    // What the whole stream holds, per user and per device.
    let mut per_user: BTreeMap<u64, (u64, f64)> = BTreeMap::new();
    let mut per_device: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for t in &txns {
        let e = per_user.entry(t.user).or_default();
        e.0 += 1;
        e.1 += t.amount;
        per_device.entry(t.device).or_default().insert(t.user);
    }

    let engine = pipe.engine();
    let end = T0 + SPAN;
    let probe = |user: u64, device: u64| Transaction {
        user,
        device,
        timestamp: end,
        amount: 1.0,
        is_international: false,
    };
    let mut total = 0;
    for (&user, &(count, sum)) in &per_user {
        let f = engine.peek(&probe(user, u64::MAX)).expect("peek");
        assert_eq!(f.txn_count_24h, count, "user {user}");
        assert_eq!(f.amount_sum_24h, sum, "user {user}");
        total += f.txn_count_24h;
    }
    assert_eq!(total as usize, TXNS, "transactions lost");
    for (&device, users) in &per_device {
        let f = engine.peek(&probe(u64::MAX, device)).expect("peek");
        assert_eq!(f.device_user_count, users.len() as u64, "device {device}");
    }

    // A snapshot now restores to the same answers, for every user and device.
    let restored =
        FraudFeatures::from_snapshot_bytes(&engine.snapshot_bytes(), 4).expect("restore");
    for user in 0..USERS {
        for device in [user % DEVICES, (user * 7 + 3) % DEVICES] {
            let p = probe(user, device);
            assert_eq!(
                engine.peek(&p).expect("original"),
                restored.peek(&p).expect("restored"),
                "{p:?}"
            );
        }
    }
}
