//! The CTR pipeline (SPEC §4.5): the three calibration fits on hand-computed cases and on
//! synthetic data (proptests), their storage in the model file, and DeepFM → pCTR → calibrated
//! pCTR on the demo model.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::st::{f32_bytes, St};
use proptest::prelude::*;
use reckon::metrics::expected_calibration_error;
use reckon::pipelines::ctr::{
    write_calibrated, Binned, Calibration, CtrPipeline, Isotonic, Method, Platt, DEFAULT_BINS,
};
use reckon::weights::{Container, WeightFile};
use reckon::{Error, Options, Workspace};

/// Hand-computed values go through one f32 multiply or interpolation: a few ulps.
const HAND_TOL: f32 = 1e-6;
/// Platt's fitted (a, b) on 20 000 perfectly calibrated rows: the MLE's standard error at that
/// size is about 0.02 for each parameter, so 0.1 is five sigmas (smoothing adds ~1e-4).
const PLATT_TOL: f64 = 0.1;

// ---- helpers ----------------------------------------------------------------------------------

fn demo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("weights/demo")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("reckon_pipeline_ctr_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(name)
}

/// The demo's 2000 held-out CTR rows: ids `[2000, 10]` and 0/1 labels.
fn demo_requests() -> (Vec<i64>, Vec<f32>) {
    let bytes = std::fs::read(demo("requests/deepfm.safetensors")).expect("demo requests");
    let c = Container::parse(&bytes).expect("container");
    let ids = c.tensor("ids").unwrap().as_i64().unwrap().into_owned();
    let labels = c
        .tensor("label")
        .unwrap()
        .as_i64()
        .unwrap()
        .iter()
        .map(|&y| y as f32)
        .collect();
    (ids, labels)
}

/// xorshift64*: a deterministic stream of uniforms in (0, 1).
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `n` rows whose true click probability is `sigmoid(z)`, z ~ U(−4, 1) (CTR-like, mostly low);
/// the "model" predicts `sigmoid(scale·z + shift)`. Returns (predictions, labels).
fn synthetic(seed: u64, n: usize, scale: f64, shift: f64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng(seed | 1);
    (0..n)
        .map(|_| {
            let z = -4.0 + 5.0 * rng.uniform();
            let y = if rng.uniform() < sigmoid(z) { 1.0 } else { 0.0 };
            (sigmoid(scale * z + shift) as f32, y)
        })
        .unzip()
}

fn calibrated(c: &Calibration, p: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; p.len()];
    c.apply(p, &mut out).expect("apply");
    out
}

// ---- binned -------------------------------------------------------------------------------------

#[test]
fn binned_matches_hand_computed_ratios() {
    let p = [0.05, 0.05, 0.15, 0.95, 1.0];
    let y = [0.0, 1.0, 0.0, 1.0, 1.0];
    let c = Binned::fit(&p, &y, DEFAULT_BINS).unwrap();
    assert_eq!(c.edges().len(), 11);
    let r = c.ratios();
    // bin 0: mean label 0.5 over mean prediction 0.05; bin 1: no clicks; bin 9: 1 / 0.975
    // (1.0 is counted in the last bin; the seed would leave it out and get 1 / 0.95).
    assert!((r[0] - 10.0).abs() < 1e-4, "{}", r[0]);
    assert_eq!(r[1], 0.0);
    assert!((r[9] - 1.0 / 0.975).abs() < HAND_TOL);
    assert!(
        r[2..9].iter().all(|&x| x == 1.0),
        "empty bins keep ratio 1: {r:?}"
    );
    let cal = Calibration::Binned(c);
    let out = calibrated(&cal, &[0.05, 0.15, 0.5, 0.95, 1.0]);
    assert!((out[0] - 0.5).abs() < 1e-5);
    assert_eq!(out[1], 0.0);
    assert_eq!(out[2], 0.5, "an empty bin leaves its predictions unchanged");
    assert!((out[3] - 0.95 / 0.975).abs() < HAND_TOL);
    assert_eq!(out[4], 1.0, "clipped to 1");
}

#[test]
fn binned_boundaries_follow_the_seed() {
    // 0.1 in f32 is just above the seed's f64 edge 0.1, so it belongs to bin 1 as in NumPy.
    let c = Binned::fit(&[0.1, 0.05], &[1.0, 0.0], 10).unwrap();
    assert_eq!(c.ratios()[0], 0.0);
    assert!((c.ratios()[1] - 10.0).abs() < 1e-4);
}

// ---- Platt --------------------------------------------------------------------------------------

#[test]
fn platt_recovers_the_distortion() {
    // The model's logit is 2z − 1 for a true logit z, so the fit should undo it: a = 0.5, b = 0.5.
    let (p, y) = synthetic(7, 20_000, 2.0, -1.0);
    let c = Platt::fit(&p, &y).unwrap();
    assert!(
        (f64::from(c.a) - 0.5).abs() < PLATT_TOL / 2.0,
        "a = {}",
        c.a
    );
    assert!((f64::from(c.b) - 0.5).abs() < PLATT_TOL, "b = {}", c.b);
}

#[test]
fn platt_survives_certain_predictions_and_separable_labels() {
    // p = 0 and 1 have no logit (clipped); perfectly separated labels would send a to ∞ without
    // Platt's target smoothing.
    let c = Platt::fit(&[0.0, 0.0, 1.0, 1.0, 0.3], &[0.0, 0.0, 1.0, 1.0, 0.0]).unwrap();
    assert!(c.a.is_finite() && c.b.is_finite());
    let cal = Calibration::Platt(c);
    let out = calibrated(&cal, &[0.0, 1.0, 0.5]);
    assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(out[0] < out[2] && out[2] < out[1]);
    // All labels alike, all predictions alike: still a finite answer.
    let c = Platt::fit(&[0.2; 10], &[0.0; 10]).unwrap();
    assert!(c.a.is_finite() && c.b.is_finite());
}

// ---- isotonic -----------------------------------------------------------------------------------

#[test]
fn isotonic_pools_violators_and_interpolates() {
    let c = Isotonic::fit(&[0.4, 0.1, 0.3, 0.2], &[1.0, 0.0, 0.0, 1.0]).unwrap();
    // Sorted labels 0, 1, 0, 1: the middle pair pools to 0.5.
    assert_eq!(c.x(), &[0.1, 0.2, 0.3, 0.4]);
    assert_eq!(c.y(), &[0.0, 0.5, 0.5, 1.0]);
    let cal = Calibration::Isotonic(c);
    let out = calibrated(&cal, &[0.05, 0.15, 0.25, 0.35, 0.9]);
    let want = [0.0, 0.25, 0.5, 0.75, 1.0];
    for (o, w) in out.iter().zip(want) {
        assert!((o - w).abs() < HAND_TOL, "{out:?}");
    }
}

#[test]
fn isotonic_pools_ties_whatever_their_order() {
    let a = Isotonic::fit(&[0.5, 0.5, 0.5, 0.9], &[1.0, 0.0, 0.0, 1.0]).unwrap();
    let b = Isotonic::fit(&[0.9, 0.5, 0.5, 0.5], &[1.0, 0.0, 0.0, 1.0]).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.x(), &[0.5, 0.9]);
    assert!((a.y()[0] - 1.0 / 3.0).abs() < HAND_TOL);
}

// ---- bad input ----------------------------------------------------------------------------------

#[test]
fn every_method_refuses_bad_pairs() {
    for method in [Method::Binned, Method::Platt, Method::Isotonic] {
        let fit = |p: &[f32], y: &[f32]| Calibration::fit(method, p, y, 10);
        assert!(matches!(
            fit(&[0.5, 0.5], &[1.0]),
            Err(Error::BufferLength { arg: "labels", .. })
        ));
        assert!(matches!(
            fit(&[], &[]),
            Err(Error::InvalidArgument {
                arg: "predictions",
                ..
            })
        ));
        assert!(matches!(
            fit(&[f32::NAN], &[1.0]),
            Err(Error::InvalidArgument {
                arg: "predictions",
                ..
            })
        ));
        assert!(matches!(
            fit(&[1.5], &[1.0]),
            Err(Error::InvalidArgument {
                arg: "predictions",
                ..
            })
        ));
        assert!(matches!(
            fit(&[0.5], &[2.0]),
            Err(Error::InvalidArgument { arg: "labels", .. })
        ));
        assert!(matches!(
            fit(&[0.5], &[f32::NAN]),
            Err(Error::InvalidArgument { arg: "labels", .. })
        ));
    }
    assert!(matches!(
        Binned::fit(&[0.5], &[1.0], 0),
        Err(Error::InvalidArgument {
            arg: "num_bins",
            ..
        })
    ));
    let c = Calibration::fit(Method::Platt, &[0.2, 0.8], &[0.0, 1.0], 10).unwrap();
    let mut out = [0.0; 1];
    assert!(matches!(
        c.apply(&[0.1, 0.2], &mut out),
        Err(Error::BufferLength { .. })
    ));
    assert!(matches!(
        c.apply(&[f32::NAN], &mut out),
        Err(Error::InvalidArgument { .. })
    ));
}

// ---- properties ---------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn isotonic_is_monotone_and_a_probability(
        pairs in prop::collection::vec((0.0f32..=1.0, any::<bool>()), 1..200),
        queries in prop::collection::vec(-0.5f32..1.5, 1..50),
    ) {
        let (p, y): (Vec<f32>, Vec<f32>) = pairs.iter().map(|&(p, b)| (p, f32::from(u8::from(b)))).unzip();
        let c = Calibration::fit(Method::Isotonic, &p, &y, 10).unwrap();
        let mut q = queries.clone();
        q.extend_from_slice(&p);
        q.sort_by(f32::total_cmp);
        let out: Vec<f32> = q.iter().map(|&v| c.apply_one(v)).collect();
        prop_assert!(out.iter().all(|v| (0.0..=1.0).contains(v)), "{:?}", out);
        prop_assert!(out.windows(2).all(|w| w[0] <= w[1]), "not monotone: {:?}", out);
    }
}

proptest! {
    // Each case fits on thousands of rows; a few cases cover the seeds well enough.
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn platt_leaves_calibrated_data_alone(seed in any::<u64>()) {
        let (p, y) = synthetic(seed, 20_000, 1.0, 0.0);
        let c = Platt::fit(&p, &y).unwrap();
        prop_assert!((f64::from(c.a) - 1.0).abs() < PLATT_TOL, "a = {}", c.a);
        prop_assert!(f64::from(c.b).abs() < PLATT_TOL, "b = {}", c.b);
    }

    #[test]
    fn every_method_lowers_ece_on_miscalibrated_data(
        seed in any::<u64>(),
        scale in 0.5f64..2.0,
        shift in prop_oneof![-2.0f64..-1.0, 1.0f64..2.0],
    ) {
        let (p, y) = synthetic(seed, 5_000, scale, shift);
        let before = expected_calibration_error(&p, &y, 10).unwrap();
        for method in [Method::Binned, Method::Platt, Method::Isotonic] {
            let c = Calibration::fit(method, &p, &y, 10).unwrap();
            let after = expected_calibration_error(&calibrated(&c, &p), &y, 10).unwrap();
            prop_assert!(after < before / 2.0, "{:?}: ECE {} -> {}", method, before, after);
        }
    }
}

// ---- storage ------------------------------------------------------------------------------------

#[test]
fn calibration_round_trips_through_the_model_file_and_replaces_the_last() {
    for fixture in ["deepfm_default_bf16", "deepfm_default_f16"] {
        let src_path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/{fixture}.safetensors"));
        let src = WeightFile::open(&src_path).unwrap();
        let out = scratch(&format!("{fixture}.safetensors"));
        let (p, y) = synthetic(3, 2000, 1.5, 1.0);
        let mut last = None;
        for method in [Method::Isotonic, Method::Binned, Method::Platt] {
            let cal = Calibration::fit(method, &p, &y, 7).unwrap();
            // Calibrate the previous output in place: the earlier method must disappear.
            let from = if last.is_some() {
                WeightFile::open(&out).unwrap()
            } else {
                WeightFile::open(&src_path).unwrap()
            };
            write_calibrated(&from, &cal, &out).unwrap();
            drop(from);
            let got = WeightFile::open(&out).unwrap();
            assert_eq!(got.metadata().calibration, Some(method));
            assert_eq!(Calibration::from_file(&got).unwrap().as_ref(), Some(&cal));
            let own: Vec<&str> = cal.tensors().iter().map(|t| t.0).collect();
            for t in got
                .tensors()
                .filter(|t| t.name().starts_with("calibration."))
            {
                assert!(
                    own.contains(&t.name()),
                    "{} left over from an earlier calibration",
                    t.name()
                );
            }
            // Every model tensor is copied byte for byte, dtype and shape kept.
            for t in src.tensors() {
                let g = got.tensor(t.name()).unwrap();
                assert_eq!(
                    (g.dtype(), g.shape(), g.bytes()),
                    (t.dtype(), t.shape(), t.bytes()),
                    "{}",
                    t.name()
                );
            }
            assert_eq!(got.metadata().other, src.metadata().other);
            assert_eq!(got.tensors().len(), src.tensors().len() + own.len());
            last = Some(cal);
        }
    }
}

fn tiny_deepfm(meta: &[(&str, &str)], extra: &[(&str, Vec<f32>)]) -> Vec<u8> {
    let mut st = St::new().meta("reckon.arch", "deepfm");
    for (k, v) in meta {
        st = st.meta(k, v);
    }
    st = st
        .f32("embeddings.0.weight", &[4, 2])
        .f32("linear.weight", &[1, 2])
        .f32("linear.bias", &[1])
        .f32("dnn.0.weight", &[1, 2])
        .f32("dnn.0.bias", &[1]);
    for (name, v) in extra {
        st = st.tensor(name, "F32", &[v.len() as u64], f32_bytes(v));
    }
    st.build()
}

#[test]
fn a_broken_stored_calibration_is_a_typed_error() {
    let load = |meta: &[(&str, &str)], extra: &[(&str, Vec<f32>)]| {
        let file = WeightFile::from_bytes(tiny_deepfm(meta, extra)).expect("valid container");
        Calibration::from_file(&file)
    };
    assert!(matches!(load(&[], &[]), Ok(None)));
    let platt = [("reckon.calibration", "platt")];
    assert!(matches!(
        load(&platt, &[]),
        Err(Error::MissingTensor { .. })
    ));
    assert!(matches!(
        load(&platt, &[("calibration.platt", vec![1.0, 0.0, 3.0])]),
        Err(Error::WrongShape { .. })
    ));
    assert!(matches!(
        load(&platt, &[("calibration.platt", vec![f32::NAN, 0.0])]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        load(
            &platt,
            &[
                ("calibration.platt", vec![1.0, 0.0]),
                ("calibration.isotonic.x", vec![0.5])
            ]
        ),
        Err(Error::UnexpectedTensor { .. })
    ));
    assert!(matches!(
        load(&[], &[("calibration.platt", vec![1.0, 0.0])]),
        Err(Error::UnexpectedTensor { .. })
    ));
    let iso = [("reckon.calibration", "isotonic")];
    let bad_y = [
        ("calibration.isotonic.x", vec![0.1, 0.2]),
        ("calibration.isotonic.y", vec![0.6, 0.5]),
    ];
    assert!(matches!(
        load(&iso, &bad_y),
        Err(Error::InvalidArgument { .. })
    ));
    let binned = [("reckon.calibration", "binned")];
    let bad_edges = [
        ("calibration.binned.edges", vec![0.0, 0.5]),
        ("calibration.binned.ratios", vec![1.0, 1.0]),
    ];
    assert!(matches!(
        load(&binned, &bad_edges),
        Err(Error::InvalidArgument { .. })
    ));
    let ok = [
        ("calibration.isotonic.x", vec![0.1, 0.2]),
        ("calibration.isotonic.y", vec![0.2, 0.5]),
    ];
    assert!(matches!(
        load(&iso, &ok),
        Ok(Some(Calibration::Isotonic(_)))
    ));
}

// ---- pipeline -----------------------------------------------------------------------------------

#[test]
fn uncalibrated_file_passes_pctr_through() {
    let pipe = CtrPipeline::open(demo("deepfm.safetensors"), &Options::default()).unwrap();
    assert!(pipe.calibration().is_none());
    let (ids, _) = demo_requests();
    let rows = ids.len() / pipe.fields();
    let s = pipe.predict(&ids, rows, &mut Workspace::default()).unwrap();
    assert_eq!(s.pctr.len(), rows);
    assert_eq!(s.pctr, s.calibrated);
    assert!(s.pctr.iter().all(|p| (0.0..=1.0).contains(p)));
}

#[test]
fn calibrated_demo_model_applies_its_calibration_on_every_thread() {
    let (ids, labels) = demo_requests();
    let raw = CtrPipeline::open(demo("deepfm.safetensors"), &Options::default()).unwrap();
    let rows = labels.len();
    let pctr = raw
        .predict(&ids, rows, &mut Workspace::default())
        .unwrap()
        .pctr;
    let cal = Calibration::fit(Method::Isotonic, &pctr, &labels, 10).unwrap();
    let out = scratch("deepfm_isotonic.safetensors");
    write_calibrated(
        &WeightFile::open(demo("deepfm.safetensors")).unwrap(),
        &cal,
        &out,
    )
    .unwrap();

    let pipe = Arc::new(CtrPipeline::open(&out, &Options::default()).unwrap());
    assert_eq!(pipe.calibration(), Some(&cal));
    let want = calibrated(&cal, &pctr);
    let ids = Arc::new(ids);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (pipe, ids) = (Arc::clone(&pipe), Arc::clone(&ids));
            std::thread::spawn(move || pipe.predict(&ids, rows, &mut Workspace::default()).unwrap())
        })
        .collect();
    for h in handles {
        let s = h.join().unwrap();
        assert_eq!(s.pctr, pctr);
        assert_eq!(s.calibrated, want);
    }
    // Wrong buffer sizes and unknown ids are the model's typed errors.
    let mut ws = Workspace::default();
    let (mut a, mut b) = (vec![0.0; rows], vec![0.0; rows - 1]);
    assert!(matches!(
        pipe.predict_into(&ids, rows, &mut a, &mut b, &mut ws),
        Err(Error::BufferLength { .. })
    ));
    let mut bad = ids.to_vec();
    bad[0] = 1_000_000;
    assert!(pipe.predict(&bad, rows, &mut ws).is_err());
    // Not a DeepFM.
    assert!(matches!(
        CtrPipeline::open(demo("fraud.safetensors"), &Options::default()),
        Err(Error::InvalidArgument { .. })
    ));
}
