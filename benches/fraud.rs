//! Fraud stream throughput on one core (SPEC §7: ≥ 1M transactions/s, features + score).
//!
//! A synthetic stream of 1M transactions over one day: 100k users, 200k devices (each user
//! mostly on one of its two devices, 5% on a random one), timestamps increasing, amounts spread
//! over four orders of magnitude. The stream repeats with its timestamps moved one day on per
//! lap, so the engine stays in its steady state: every user known, 24 h of records each.
//!
//! Criterion ids: `fraud/features/b4096` (the engine alone, `FraudFeatures::process_batch`) and `fraud/features+score/b4096` (`FraudPipeline::score_batch`, which scores
//! the model in batches of 256). The model is `tests/fixtures/fraud_default.safetensors` (the
//! seed's default sizes, 11→128→64→32→1, the SPEC §7 row). The summary lines time whole laps
//! of the 1M stream, cold (empty engine) and warm, against the 1M txn/s target, and say in
//! which cache level the engine's state lives (its working set is what limits it: each
//! transaction touches one user's and one device's state at random).
//!
//! `FRAUD_BENCH_QUICK=1` skips criterion and prints only the summaries; `FRAUD_BENCH_USERS=N`
//! changes the number of users (devices: 2N), to see how the state's size moves the figures.
//! Summaries give wall-clock rates and, beside them, on-CPU time (what the figure would be if
//! no other process shared the core).

use std::cell::Cell;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use reckon::kernels::probe;
use reckon::pipelines::fraud::{
    FraudConfig, FraudDecision, FraudFeatures, FraudPipeline, FraudWorkspace, Transaction,
};
use reckon::Options;

const TXNS: usize = 1_000_000;
const USERS: u64 = 100_000;
const SPAN: f64 = 86_400.0;
const CHUNK: usize = 4096;
/// SPEC §7: transactions per second on one core, features + score.
const TARGET_TPS: f64 = 1e6;

fn users() -> u64 {
    std::env::var("FRAUD_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(USERS)
}

fn stream() -> Vec<Transaction> {
    let (users, devices) = (users(), 2 * users());
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    (0..TXNS)
        .map(|i| {
            let r = next();
            let user = r % users;
            let device = if (r >> 20) % 20 == 0 {
                (r >> 32) % devices
            } else {
                user * 2 + (r >> 40) % 2
            };
            // 1.00 to ~10 000.00: 10^(4·u), rounded to cents.
            let amount = (10f64.powf(((r >> 11) % 10_000) as f64 / 2500.0) * 100.0).round() / 100.0;
            Transaction {
                user,
                device,
                timestamp: i as f64 * (SPAN / TXNS as f64),
                amount,
                is_international: (r >> 50) % 50 == 0,
            }
        })
        .collect()
}

fn model_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fraud_default.safetensors")
}

/// Walks the stream endlessly, one chunk at a time, moving timestamps a day on per lap.
struct Feed<'a> {
    txns: &'a [Transaction],
    pos: Cell<usize>,
    lap: Cell<u32>,
    buf: std::cell::RefCell<Vec<Transaction>>,
}

impl<'a> Feed<'a> {
    fn new(txns: &'a [Transaction], lap: u32) -> Feed<'a> {
        Feed {
            txns,
            pos: Cell::new(0),
            lap: Cell::new(lap),
            buf: Default::default(),
        }
    }

    fn with_chunk<R>(&self, f: impl FnOnce(&[Transaction]) -> R) -> R {
        let (pos, lap) = (self.pos.get(), self.lap.get());
        let end = (pos + CHUNK).min(self.txns.len());
        let shift = f64::from(lap) * SPAN;
        let mut buf = self.buf.borrow_mut();
        buf.clear();
        buf.extend(self.txns[pos..end].iter().map(|t| Transaction {
            timestamp: t.timestamp + shift,
            ..*t
        }));
        if end == self.txns.len() {
            self.pos.set(0);
            self.lap.set(lap + 1);
        } else {
            self.pos.set(end);
        }
        f(&buf)
    }
}

fn config() -> FraudConfig {
    FraudConfig {
        shards: 64,
        ..FraudConfig::default()
    }
}

/// This thread's time on a CPU so far (Linux `/proc/thread-self/schedstat`), in seconds: on a
/// shared machine it leaves out the time other processes held the core.
fn cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(s.split_whitespace().next()?.parse::<f64>().ok()? / 1e9)
}

/// (wall, on-CPU) seconds of `f`.
fn timed(f: impl FnOnce()) -> (f64, f64) {
    let (t, c) = (Instant::now(), cpu_secs());
    f();
    let wall = t.elapsed().as_secs_f64();
    (wall, cpu_secs().zip(c).map_or(wall, |(b, a)| b - a))
}

/// One lap of the stream, shifted by `lap` days, through the engine alone, in chunks.
fn lap_features(engine: &FraudFeatures, txns: &[Transaction], lap: u32) -> (f64, f64) {
    let feed = Feed::new(txns, lap);
    let mut out = Vec::with_capacity(CHUNK);
    timed(|| {
        while feed.lap.get() == lap {
            feed.with_chunk(|c| engine.process_batch(c, &mut out).expect("process_batch"));
            black_box(&out);
        }
    })
}

/// One lap through the whole pipeline in chunks (timestamp shifting included: a copy of 40
/// bytes per transaction, noise next to the rest).
fn lap_pipeline(
    pipe: &FraudPipeline,
    txns: &[Transaction],
    lap: u32,
    ws: &mut FraudWorkspace,
) -> (f64, f64) {
    let feed = Feed::new(txns, lap);
    let mut out: Vec<FraudDecision> = Vec::with_capacity(CHUNK);
    timed(|| {
        while feed.lap.get() == lap {
            feed.with_chunk(|c| pipe.score_batch(c, ws, &mut out).expect("score_batch"));
            black_box(&out);
        }
    })
}

/// The lap with the least CPU time among `laps`.
fn best(laps: impl Iterator<Item = (f64, f64)>) -> (f64, f64) {
    laps.fold((f64::INFINITY, f64::INFINITY), |a, b| {
        if b.1 < a.1 {
            b
        } else {
            a
        }
    })
}

/// Rough bytes of engine state after `days` laps: per user its map slot (~140 B), a day of
/// records (16 B each) and its ring of amounts (8 B each); per device its slot (~64 B).
fn state_bytes(txns: usize, days: f64) -> usize {
    let per_user = txns as f64 / users() as f64;
    let user = 140.0 + per_user * 16.0 + (per_user * days).min(100.0) * 8.0;
    (users() as f64 * user + 2.0 * users() as f64 * 64.0) as usize
}

fn summaries(txns: &[Transaction]) {
    let tps = |secs: f64| txns.len() as f64 / secs;
    let line = |what: &str, (wall, cpu): (f64, f64)| {
        println!(
            "summary fraud/{what}: {:.2} M txn/s = {:.0}% of target {:.1} M txn/s ({:.0} ns/txn; on-CPU {:.0} ns/txn = {:.2} M txn/s)",
            tps(wall) / 1e6,
            100.0 * tps(wall) / TARGET_TPS,
            TARGET_TPS / 1e6,
            wall * 1e9 / txns.len() as f64,
            cpu * 1e9 / txns.len() as f64,
            tps(cpu) / 1e6,
        )
    };
    println!(
        "summary fraud/stream: {} txns, {} users, {} devices, one day per lap",
        txns.len(),
        users(),
        2 * users()
    );
    let engine = FraudFeatures::new(config()).expect("engine");
    line(
        "features cold (empty engine)",
        lap_features(&engine, txns, 0),
    );
    let warm = best((1..4).map(|lap| lap_features(&engine, txns, lap)));
    line("features warm (best of 3 laps)", warm);

    let pipe =
        FraudPipeline::open(model_path(), &Options::default(), config(), 0.5).expect("pipeline");
    let mut ws = FraudWorkspace::default();
    line("features+score cold", lap_pipeline(&pipe, txns, 0, &mut ws));
    let warm = best((1..4).map(|lap| lap_pipeline(&pipe, txns, lap, &mut ws)));
    line("features+score warm (best of 3 laps)", warm);

    let bytes = state_bytes(txns.len(), 4.0);
    println!(
        "summary fraud/state: ~{} MiB for {} users + {} devices, in {} (random access: each transaction misses to it twice or more)",
        bytes >> 20,
        engine.user_count(),
        engine.device_count(),
        probe::cache_level(bytes)
    );
}

fn main() {
    let txns = stream();
    if std::env::var_os("FRAUD_BENCH_QUICK").is_none() {
        let mut c = Criterion::default()
            .configure_from_args()
            .sample_size(20)
            .warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(4));
        let mut g = c.benchmark_group("fraud");
        g.throughput(Throughput::Elements(CHUNK as u64));

        let engine = FraudFeatures::new(config()).expect("engine");
        lap_features(&engine, &txns, 0);
        let feed = Feed::new(&txns, 1);
        let mut out = Vec::with_capacity(CHUNK);
        g.bench_function(BenchmarkId::new("features", format!("b{CHUNK}")), |b| {
            b.iter(|| {
                feed.with_chunk(|c| engine.process_batch(c, &mut out).expect("process_batch"));
                black_box(&out);
            })
        });

        let pipe = FraudPipeline::open(model_path(), &Options::default(), config(), 0.5)
            .expect("pipeline");
        let mut ws = FraudWorkspace::default();
        lap_pipeline(&pipe, &txns, 0, &mut ws);
        let feed = Feed::new(&txns, 1);
        let mut out = Vec::with_capacity(CHUNK);
        g.bench_function(
            BenchmarkId::new("features+score", format!("b{CHUNK}")),
            |b| {
                b.iter(|| {
                    feed.with_chunk(|c| {
                        pipe.score_batch(c, &mut ws, &mut out).expect("score_batch")
                    });
                    black_box(&out);
                })
            },
        );
        g.finish();
        c.final_summary();
    }
    summaries(&txns);
}
