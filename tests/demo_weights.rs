//! The bundled demo weights (weights/demo/, made by weights/train_demo.py) open, run and give
//! sensible outputs, and the request sets beside them fit their models.

use std::path::{Path, PathBuf};

use reckon::models::Tower;
use reckon::weights::{Arch, Container, WeightFile};
use reckon::{Model, Options, Workspace};

/// SPEC §4.4's feature order, which the fraud file must declare.
const FRAUD_FEATURES: [&str; 11] = [
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

/// Two-tower vectors are L2-normalised in f32; a norm off by more than a few ulps per element
/// would mean a broken normalisation, not rounding.
const NORM_TOL: f32 = 1e-4;

/// The DeepFM demo model scored 0.72 held-out AUC when trained (weights/demo/README.md); the
/// 2000 request rows are held-out rows, so well below that means weights and requests disagree.
const MIN_DEEPFM_REQUEST_AUC: f64 = 0.65;

fn demo(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("weights/demo")
        .join(file)
}

fn open(name: &str) -> Model {
    let model = Model::open(demo(&format!("{name}.safetensors")), &Options::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(model.arch().name(), name);
    model
}

fn assert_finite(what: &str, v: &[f32]) {
    assert!(!v.is_empty(), "{what}: no output");
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        panic!("{what}[{i}] = {}", v[i]);
    }
}

fn assert_probabilities(what: &str, v: &[f32]) {
    assert_finite(what, v);
    assert!(v.iter().all(|p| (0.0..=1.0).contains(p)), "{what}: {v:?}");
}

/// Dense rows: `rows × cols` values spread over `[-scale, scale]`, deterministic.
fn dense_rows(rows: usize, cols: usize, scale: f32) -> Vec<f32> {
    (0..rows * cols)
        .map(|i| scale * (((i * 37 + 11) % 101) as f32 / 50.0 - 1.0))
        .collect()
}

fn predict(model: &Model, x: &[f32], rows: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows * model.dims().1];
    model
        .predict(x, rows, &mut out, &mut Workspace::default())
        .expect("predict");
    out
}

fn requests(name: &str) -> Vec<u8> {
    std::fs::read(demo(&format!("requests/{name}.safetensors"))).expect("request file")
}

#[test]
fn two_tower_gives_unit_vectors_for_both_towers() {
    let Model::TwoTower(tt) = open("two_tower") else {
        panic!("not a two-tower model")
    };
    let mut ws = Workspace::default();
    for tower in [Tower::User, Tower::Item] {
        let ids = [0, 1, tt.vocab(tower) as i64 - 1];
        let mut out = vec![0f32; ids.len() * tt.dim()];
        tt.embed(tower, &ids, &mut out, &mut ws.two_tower)
            .expect("embed");
        assert_finite("two_tower vectors", &out);
        for row in out.chunks(tt.dim()) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < NORM_TOL, "{tower:?} norm {norm}");
        }
    }
}

#[test]
fn ranker_gives_three_probabilities_and_a_score() {
    let model = open("ranker");
    let (cols, out_cols) = model.dims();
    assert_eq!(out_cols, 4);
    let out = predict(&model, &dense_rows(3, cols, 1.0), 3);
    assert_finite("ranker", &out);
    for row in out.chunks(4) {
        assert_probabilities("ranker heads", &row[..3]);
    }
}

#[test]
fn ltr_scores_the_request_queries() {
    let model = open("ltr");
    let bytes = requests("ltr");
    let req = Container::parse(&bytes).expect("ltr requests");
    let x = req
        .tensor("features")
        .and_then(|t| t.to_f32_vec())
        .expect("features");
    let rows = x.len() / model.dims().0;
    assert_eq!(
        rows * model.dims().0,
        x.len(),
        "request width != model width"
    );
    let out = predict(&model, &x, rows);
    assert_finite("ltr", &out);
    let rel = req
        .tensor("relevance")
        .and_then(|t| t.as_i64().map(|c| c.into_owned()))
        .expect("relevance");
    assert_eq!(rel.len(), rows);
}

#[test]
fn fraud_declares_the_spec_features_and_scores_probabilities() {
    let file = WeightFile::open(demo("fraud.safetensors")).expect("open");
    assert_eq!(file.arch(), Arch::Fraud);
    let names = file
        .metadata()
        .feature_names
        .clone()
        .expect("reckon.feature_names");
    assert_eq!(names, FRAUD_FEATURES);
    let model = open("fraud");
    assert_eq!(model.dims(), (11, 1));
    // A quiet daytime purchase, and a night-time burst of a large amount on a new device abroad.
    #[rustfmt::skip]
    let x = [
        25.0, 26f32.ln(), 14.5, 0.0, 0.0, 0.0, 1.0, 30.0, -0.1, 1.0, 0.0,
        900.0, 901f32.ln(), 3.2, 1.0, 1.0, 4.0, 5.0, 3200.0, 8.0, 0.0, 1.0,
    ];
    let out = predict(&model, &x, 2);
    assert_probabilities("fraud", &out);
    assert!(out[1] > out[0], "the burst should look riskier: {out:?}");
    let bytes = requests("fraud");
    let req = Container::parse(&bytes).expect("fraud requests");
    for name in [
        "ts",
        "user",
        "device",
        "amount",
        "is_international",
        "label",
    ] {
        assert!(req.tensor(name).is_ok(), "fraud requests lack {name}");
    }
}

#[test]
fn deepfm_scores_its_request_rows_better_than_chance() {
    let model = open("deepfm");
    let Model::DeepFm(m) = &model else {
        panic!("not a DeepFM model")
    };
    let edge: Vec<i64> = m.vocab_sizes().map(|v| v as i64 - 1).collect();
    let mut out = vec![0f32; 1];
    model
        .predict_ids(&edge, 1, &mut out, &mut Workspace::default())
        .expect("last ids");
    assert_probabilities("deepfm", &out);

    let bytes = requests("deepfm");
    let req = Container::parse(&bytes).expect("deepfm requests");
    let ids = req
        .tensor("ids")
        .and_then(|t| t.as_i64().map(|c| c.into_owned()))
        .expect("ids");
    let label = req
        .tensor("label")
        .and_then(|t| t.as_i64().map(|c| c.into_owned()))
        .expect("label");
    let mut p = vec![0f32; label.len()];
    model
        .predict_ids(&ids, label.len(), &mut p, &mut Workspace::default())
        .expect("request rows");
    assert_probabilities("deepfm requests", &p);
    let auc = pairwise_auc(&label, &p);
    assert!(auc > MIN_DEEPFM_REQUEST_AUC, "AUC {auc}");
}

/// Fraction of (positive, negative) pairs ordered correctly, ties counting half.
fn pairwise_auc(label: &[i64], p: &[f32]) -> f64 {
    let pos: Vec<f32> = p
        .iter()
        .zip(label)
        .filter(|(_, &y)| y == 1)
        .map(|(&s, _)| s)
        .collect();
    let neg: Vec<f32> = p
        .iter()
        .zip(label)
        .filter(|(_, &y)| y == 0)
        .map(|(&s, _)| s)
        .collect();
    let wins: f64 = pos
        .iter()
        .flat_map(|a| {
            neg.iter().map(move |b| {
                if a > b {
                    1.0
                } else if a == b {
                    0.5
                } else {
                    0.0
                }
            })
        })
        .sum();
    wins / (pos.len() * neg.len()) as f64
}
