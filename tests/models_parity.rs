//! Every committed fixture (weights/make_fixtures.py: PyTorch `eval()` outputs) is reproduced.
//!
//! Expected values are PyTorch `eval()` in float64 from the file's weights (the exact answer;
//! PyTorch's own f32 output is itself ~1e-5 off where a model cancels large terms).
//!
//! Error measure: `|got − want| ≤ tol · max(|want|, FLOOR · max|want|)`, i.e. relative, except
//! that values far below the output's own scale are compared at that scale (an output of 1e-12
//! next to outputs of 1 carries no meaningful relative digits in f32). Two-tower vectors are
//! compared relative to their norm: they are only ever used in dot products.

use std::path::{Path, PathBuf};

use reckon::weights::Container;
use reckon::{Model, Options, Workspace};

/// f32 weights: the acceptance bound of SPEC §3.
const TOL_F32: f32 = 1e-5;
/// f16 weights, compared with PyTorch evaluating the same rounded weights in f64. reckon folds
/// BatchNorm into the next Linear and rounds the folded weights back to f16 (to keep half the
/// bytes), which adds one f16 rounding (2^-11 relative) per folded weight. Worst seen over all
/// fixtures and ISAs: 3.3e-4.
const TOL_F16: f32 = 1e-3;
/// bf16 weights, likewise: one extra bf16 rounding (2^-8 relative) per folded weight. Worst seen:
/// 5.6e-3.
const TOL_BF16: f32 = 1e-2;
/// Values below this fraction of the output's largest magnitude are compared at that scale.
const FLOOR: f32 = 1e-3;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".io.safetensors").map(str::to_string))
        .collect();
    names.sort();
    names
}

fn tolerance(name: &str) -> f32 {
    if name.ends_with("_bf16") {
        TOL_BF16
    } else if name.ends_with("_f16") {
        TOL_F16
    } else {
        TOL_F32
    }
}

/// Largest error in units of the allowed error (≤ 1 passes), and where it is. With `row_len`,
/// each row's scale is its norm.
fn worst(got: &[f32], want: &[f32], tol: f32, row_len: Option<usize>) -> (f32, usize) {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let mut worst = (0f32, 0);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let magnitude = match row_len {
            Some(n) => want[i / n * n..][..n]
                .iter()
                .map(|v| v * v)
                .sum::<f32>()
                .sqrt(),
            None => w.abs().max(FLOOR * scale),
        };
        let allowed = tol * magnitude.max(f32::MIN_POSITIVE);
        let units = if g == w { 0.0 } else { (g - w).abs() / allowed };
        // Negated on purpose: a NaN `units` (a NaN output) must become the worst, not be skipped.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if !(units <= worst.0) {
            worst = (units, i);
        }
    }
    worst
}

fn check(
    name: &str,
    what: &str,
    got: &[f32],
    want: &[f32],
    row_len: Option<usize>,
) -> Result<(), String> {
    let (units, i) = worst(got, want, tolerance(name), row_len);
    if units <= 1.0 {
        Ok(())
    } else {
        Err(format!(
            "{name} {what}[{i}]: got {} want {} ({units:.2}x the {} bound)",
            got[i],
            want[i],
            tolerance(name)
        ))
    }
}

fn run_fixture(name: &str, opts: &Options) -> Result<(), String> {
    let dir = fixtures_dir();
    let model = Model::open(dir.join(format!("{name}.safetensors")), opts)
        .map_err(|e| format!("{name}: {e}"))?;
    let io_bytes =
        std::fs::read(dir.join(format!("{name}.io.safetensors"))).map_err(|e| e.to_string())?;
    let io = Container::parse(&io_bytes).map_err(|e| e.to_string())?;
    let f32s = |t: &str| {
        io.tensor(t)
            .and_then(|t| t.to_f32_vec())
            .map_err(|e| format!("{name}: {e}"))
    };
    let i64s = |t: &str| {
        io.tensor(t)
            .and_then(|t| t.as_i64().map(|c| c.into_owned()))
            .map_err(|e| e.to_string())
    };
    let mut ws = Workspace::default();
    match &model {
        Model::TwoTower(tt) => {
            use reckon::models::Tower;
            for (tower, ids, vecs) in [
                (Tower::User, "user_ids", "user_vectors"),
                (Tower::Item, "item_ids", "item_vectors"),
            ] {
                let ids = i64s(ids)?;
                let want = f32s(vecs)?;
                let mut got = vec![0f32; want.len()];
                tt.embed(tower, &ids, &mut got, &mut ws.two_tower)
                    .map_err(|e| e.to_string())?;
                check(name, vecs, &got, &want, Some(tt.dim()))?;
            }
        }
        Model::DeepFm(_) => {
            let ids = i64s("input")?;
            let want = f32s("output")?;
            let mut got = vec![0f32; want.len()];
            model
                .predict_ids(&ids, want.len(), &mut got, &mut ws)
                .map_err(|e| e.to_string())?;
            check(name, "output", &got, &want, None)?;
        }
        Model::Dense(m) => {
            let x = f32s("input")?;
            let want = f32s("output")?;
            let rows = x.len() / m.in_cols();
            let mut got = vec![0f32; rows * m.out_cols()];
            model
                .predict(&x, rows, &mut got, &mut ws)
                .map_err(|e| e.to_string())?;
            check(name, "output", &got, &want, None)?;
        }
    }
    Ok(())
}

#[test]
fn every_fixture_matches_pytorch_under_every_isa() {
    let names = fixture_names();
    assert!(names.len() >= 10, "fixtures missing: found {names:?}");
    let mut failures = Vec::new();
    for isa in reckon::kernels::Isa::available() {
        let opts = Options {
            isa: Some(isa),
            ..Options::default()
        };
        for name in &names {
            if let Err(e) = run_fixture(name, &opts) {
                failures.push(format!("[{isa}] {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn both_configurations_of_every_arch_are_covered() {
    let names = fixture_names();
    for arch in ["two_tower", "ranker", "ltr", "fraud", "deepfm"] {
        for suffix in ["_default", "_alt", "_default_f16", "_default_bf16"] {
            let want = format!("{arch}{suffix}");
            assert!(names.contains(&want), "missing fixture {want}");
        }
    }
}
