//! One model shared by eight threads gives bit-identical outputs to one thread.

use std::path::Path;
use std::sync::Arc;

use reckon::{Model, Options, Workspace};

/// One fixture of each model kind, plus a bf16 one.
const EVERY_KIND: [&str; 6] = [
    "ranker_default",
    "ltr_default",
    "fraud_default",
    "deepfm_default",
    "two_tower_default",
    "ranker_default_bf16",
];

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.safetensors"))
}

/// Deterministic pseudo-random inputs (xorshift), so every thread scores the same rows.
fn inputs(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 2000) as f32 / 500.0 - 2.0
        })
        .collect()
}

fn run(model: &Model, rows: usize, ws: &mut Workspace) -> Vec<f32> {
    let (cols, out_cols) = model.dims();
    let mut out = vec![0f32; rows * out_cols];
    if model.takes_ids() {
        let ids: Vec<i64> = inputs(rows * cols, 7)
            .iter()
            .map(|v| ((v + 2.0) * 10.0) as i64)
            .collect();
        model
            .predict_ids(&ids, rows, &mut out, ws)
            .expect("predict_ids");
    } else {
        let x = inputs(rows * cols, 11);
        model.predict(&x, rows, &mut out, ws).expect("predict");
    }
    out
}

#[test]
fn eight_threads_sharing_a_model_match_one_thread_bit_for_bit() {
    for name in EVERY_KIND {
        let model = Arc::new(Model::open(fixture(name), &Options::default()).expect("open"));
        let single: Vec<Vec<f32>> = [1, 17, 300]
            .iter()
            .map(|&r| run(&model, r, &mut Workspace::default()))
            .collect();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let model = Arc::clone(&model);
                std::thread::spawn(move || {
                    let mut ws = Workspace::default();
                    (0..20)
                        .map(|i| {
                            let rows = [1, 17, 300][i % 3];
                            (i % 3, run(&model, rows, &mut ws))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (which, out) in h.join().expect("thread") {
                let same = out
                    .iter()
                    .zip(&single[which])
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same,
                    "{name}: a thread's output differs from the single-thread run"
                );
            }
        }
    }
}

#[test]
fn models_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Model>();
}

#[test]
fn large_batches_cross_row_blocks_without_changing_results() {
    // 600 rows span three of the MLP's 256-row blocks; scoring them 100 at a time must agree.
    for name in ["ranker_default", "deepfm_default", "two_tower_default"] {
        let model = Model::open(fixture(name), &Options::default()).expect("open");
        let whole = run(&model, 600, &mut Workspace::default());
        let (cols, out_cols) = model.dims();
        let mut ws = Workspace::default();
        let mut pieces = Vec::new();
        for chunk in 0..6 {
            let mut out = vec![0f32; 100 * out_cols];
            if model.takes_ids() {
                let ids: Vec<i64> = inputs(600 * cols, 7)
                    .iter()
                    .map(|v| ((v + 2.0) * 10.0) as i64)
                    .collect();
                model
                    .predict_ids(
                        &ids[chunk * 100 * cols..][..100 * cols],
                        100,
                        &mut out,
                        &mut ws,
                    )
                    .expect("ids");
            } else {
                let x = inputs(600 * cols, 11);
                model
                    .predict(
                        &x[chunk * 100 * cols..][..100 * cols],
                        100,
                        &mut out,
                        &mut ws,
                    )
                    .expect("dense");
            }
            pieces.extend(out);
        }
        for (i, (a, b)) in whole.iter().zip(&pieces).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6 * a.abs().max(1.0),
                "{name}[{i}]: {a} vs {b}"
            );
        }
    }
}

/// `Options::threads`: a batch split over threads (cut at whole row blocks) gives the
/// one-thread outputs bit for bit, for every model kind, with a short last block and a
/// workspace reused across thread counts.
#[test]
fn split_batches_match_one_thread_bit_for_bit() {
    use reckon::models::split::MIN_ROWS_PER_THREAD;
    let rows = 3 * MIN_ROWS_PER_THREAD + 77;
    for name in EVERY_KIND {
        let one = Model::open(fixture(name), &Options::default()).expect("open");
        let want = run(&one, rows, &mut Workspace::default());
        let mut ws = Workspace::default();
        for threads in [2, 3, 4] {
            let opts = Options {
                threads,
                ..Options::default()
            };
            let model = Model::open(fixture(name), &opts).expect("open");
            let got = run(&model, rows, &mut ws);
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{name} on {threads} threads differs from one thread"
            );
            // Small batches stay on the caller's thread, same results.
            let small = run(&model, 17, &mut ws);
            assert_eq!(small, run(&one, 17, &mut Workspace::default()), "{name}");
        }
        if let Model::TwoTower(towers) = &Model::open(
            fixture(name),
            &Options {
                threads: 2,
                ..Options::default()
            },
        )
        .expect("open")
        {
            // The item tower (what `reckon index build` runs over every item) splits too.
            let Model::TwoTower(single) = &one else {
                unreachable!()
            };
            let ids: Vec<i64> = (0..rows as i64).map(|i| i % 300).collect();
            let dim = towers.dim();
            let (mut a, mut b) = (vec![0f32; rows * dim], vec![0f32; rows * dim]);
            let tower = reckon::models::Tower::Item;
            let mut tws = reckon::models::TwoTowerWorkspace::default();
            towers.embed(tower, &ids, &mut a, &mut tws).expect("split");
            single.embed(tower, &ids, &mut b, &mut tws).expect("one");
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }
}

/// An input error anywhere in a split batch is reported before any output is written.
#[test]
fn split_batches_report_bad_input_without_writing() {
    use reckon::models::split::MIN_ROWS_PER_THREAD;
    let rows = 2 * MIN_ROWS_PER_THREAD + 5;
    let opts = Options {
        threads: 2,
        ..Options::default()
    };
    let fraud = Model::open(fixture("fraud_default"), &opts).expect("open");
    let (cols, _) = fraud.dims();
    let mut x = inputs(rows * cols, 3);
    x[(rows - 1) * cols] = f32::NAN;
    let mut out = vec![-7.0f32; rows];
    let err = fraud.predict(&x, rows, &mut out, &mut Workspace::default());
    assert!(
        matches!(err, Err(reckon::Error::NonFiniteInput { .. })),
        "{err:?}"
    );
    assert!(out.iter().all(|&v| v == -7.0), "nothing written");

    let deepfm = Model::open(fixture("deepfm_default"), &opts).expect("open");
    let (fields, _) = deepfm.dims();
    let mut ids = vec![1i64; rows * fields];
    ids[rows * fields - 1] = 1 << 40;
    let mut out = vec![-7.0f32; rows];
    let err = deepfm.predict_ids(&ids, rows, &mut out, &mut Workspace::default());
    assert!(
        matches!(err, Err(reckon::Error::IdOutOfRange { .. })),
        "{err:?}"
    );
    assert!(out.iter().all(|&v| v == -7.0), "nothing written");
}
