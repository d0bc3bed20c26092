//! `reckon calibrate` run as a real process on the demo DeepFM and its held-out CTR rows: each
//! method writes a model file whose stored calibration matches a fit done through the library,
//! prints ECE and log loss before and after, and every refusal exits with a message and no panic.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use npyz::WriterBuilder;
use reckon::pipelines::ctr::{Calibration, CtrPipeline, Method};
use reckon::weights::{Container, WeightFile};
use reckon::{Options, Workspace};

fn demo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("weights/demo")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("reckon_cli_calibrate_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(name)
}

fn calibrate(model: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reckon"))
        .arg("calibrate")
        .arg(model)
        .args(args)
        .output()
        .expect("run reckon")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write_npy<T: npyz::AutoSerialize + Copy>(path: &Path, shape: &[u64], values: &[T]) {
    let mut out = Vec::new();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut out)
        .begin_nd()
        .unwrap();
    w.extend(values.iter().copied()).unwrap();
    w.finish().unwrap();
    std::fs::write(path, out).unwrap();
}

/// The demo's held-out rows as `TAG_ids.npy` (i64 [n, 10]), `TAG_labels.npy` (i64),
/// `TAG_ids.csv` (with a header) and `TAG_labels.csv` (floats); returns (ids, labels) too. Each
/// test uses its own tag: tests run in parallel.
fn inputs(tag: &str) -> (Vec<i64>, Vec<f32>) {
    let scratch = |name: &str| scratch(&format!("{tag}_{name}"));
    let bytes = std::fs::read(demo("requests/deepfm.safetensors")).unwrap();
    let c = Container::parse(&bytes).unwrap();
    let ids = c.tensor("ids").unwrap().as_i64().unwrap().into_owned();
    let labels: Vec<i64> = c.tensor("label").unwrap().as_i64().unwrap().into_owned();
    let n = labels.len();
    write_npy(&scratch("ids.npy"), &[n as u64, 10], &ids);
    write_npy(&scratch("labels.npy"), &[n as u64], &labels);
    let mut csv = String::from("f0,f1,f2,f3,f4,f5,f6,f7,f8,f9\n");
    for row in ids.chunks(10) {
        csv += &row.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        csv.push('\n');
    }
    std::fs::write(scratch("ids.csv"), csv).unwrap();
    let lab: String = labels.iter().map(|y| format!("{}.0\n", y)).collect();
    std::fs::write(scratch("labels.csv"), format!("label\n{lab}")).unwrap();
    (ids, labels.iter().map(|&y| y as f32).collect())
}

#[test]
fn each_method_stores_the_fit_the_library_makes() {
    let (ids, labels) = inputs("fit");
    let raw = CtrPipeline::open(demo("deepfm.safetensors"), &Options::default()).unwrap();
    let pctr = raw
        .predict(&ids, labels.len(), &mut Workspace::default())
        .unwrap()
        .pctr;
    for (method, name, ids_file, labels_file) in [
        (Method::Binned, "binned", "ids.npy", "labels.npy"),
        (Method::Platt, "platt", "ids.csv", "labels.csv"),
        (Method::Isotonic, "isotonic", "ids.npy", "labels.csv"),
    ] {
        let out = scratch(&format!("deepfm_{name}.safetensors"));
        let run = calibrate(
            &demo("deepfm.safetensors"),
            &[
                "--ids",
                scratch(&format!("fit_{ids_file}")).to_str().unwrap(),
                "--labels",
                scratch(&format!("fit_{labels_file}")).to_str().unwrap(),
                "--method",
                name,
                "--bins",
                "8",
                "-o",
                out.to_str().unwrap(),
            ],
        );
        let stdout = text(&run.stdout);
        assert_eq!(run.status.code(), Some(0), "{name}: {}", text(&run.stderr));
        for needle in ["before", "after", "ECE@10", "log loss", "2000 rows"] {
            assert!(
                stdout.contains(needle),
                "{name}: no '{needle}' in\n{stdout}"
            );
        }
        let file = WeightFile::open(&out).unwrap();
        assert_eq!(file.metadata().calibration, Some(method));
        let want = Calibration::fit(method, &pctr, &labels, 8).unwrap();
        assert_eq!(Calibration::from_file(&file).unwrap(), Some(want), "{name}");
        // The calibrated file still serves the same pCTR.
        let pipe = CtrPipeline::open(&out, &Options::default()).unwrap();
        assert_eq!(
            pipe.predict(&ids, labels.len(), &mut Workspace::default())
                .unwrap()
                .pctr,
            pctr
        );
    }
}

#[test]
fn refusals_name_the_problem() {
    inputs("refused");
    let out = scratch("refused.safetensors");
    let o = out.to_str().unwrap();
    let ids = scratch("refused_ids.npy");
    let labels = scratch("refused_labels.npy");
    let (ids, labels) = (ids.to_str().unwrap(), labels.to_str().unwrap());

    // Labels that are not 0/1.
    std::fs::write(scratch("bad_labels.csv"), "1\n".repeat(1999) + "2\n").unwrap();
    let run = calibrate(
        &demo("deepfm.safetensors"),
        &[
            "--ids",
            ids,
            "--labels",
            scratch("bad_labels.csv").to_str().unwrap(),
            "--method",
            "platt",
            "-o",
            o,
        ],
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(text(&run.stderr).contains("label"), "{}", text(&run.stderr));

    // Row counts that differ.
    std::fs::write(scratch("short_labels.csv"), "1\n0\n").unwrap();
    let run = calibrate(
        &demo("deepfm.safetensors"),
        &[
            "--ids",
            ids,
            "--labels",
            scratch("short_labels.csv").to_str().unwrap(),
            "--method",
            "isotonic",
            "-o",
            o,
        ],
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(text(&run.stderr).contains("rows"), "{}", text(&run.stderr));

    // Not a DeepFM.
    let run = calibrate(
        &demo("fraud.safetensors"),
        &[
            "--ids", ids, "--labels", labels, "--method", "binned", "-o", o,
        ],
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(
        text(&run.stderr).contains("deepfm"),
        "{}",
        text(&run.stderr)
    );

    // Unknown method, zero bins: usage errors.
    let run = calibrate(
        &demo("deepfm.safetensors"),
        &[
            "--ids", ids, "--labels", labels, "--method", "magic", "-o", o,
        ],
    );
    assert_eq!(run.status.code(), Some(2));
    let run = calibrate(
        &demo("deepfm.safetensors"),
        &[
            "--ids", ids, "--labels", labels, "--method", "binned", "--bins", "0", "-o", o,
        ],
    );
    assert_eq!(run.status.code(), Some(2));

    // Missing file.
    let run = calibrate(
        &scratch("nope.safetensors"),
        &[
            "--ids", ids, "--labels", labels, "--method", "binned", "-o", o,
        ],
    );
    assert_eq!(run.status.code(), Some(2));
    assert!(!text(&run.stderr).contains("panicked"));
    assert!(!out.exists(), "a refused run writes nothing");
}
