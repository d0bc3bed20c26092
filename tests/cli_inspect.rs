//! `reckon inspect` run as a real process: output, exit codes, and no panics on bad files.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::st::{linear, St};

fn reckon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(args)
        .output()
        .expect("run reckon")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "reckon-cli-{}-{name}.safetensors",
        std::process::id()
    ));
    std::fs::write(&path, bytes).expect("temp file");
    path
}

fn assert_no_panic(out: &Output) {
    let stderr = text(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

#[test]
fn inspect_the_bundled_sample() {
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/weights/sample/fraud_sample.safetensors"
    );
    let out = reckon(&["inspect", sample]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    for needle in [
        "arch: fraud",
        "reckon.feature_names",
        "network.0.weight",
        "[128, 11]",
        "classifier.bias",
        "I64",
        "total: 23 tensors",
        "valid: fraud model",
    ] {
        assert!(stdout.contains(needle), "missing '{needle}' in:\n{stdout}");
    }
    // Layers are listed in the order they run: network.2 before network.10.
    assert!(
        stdout.find("network.2.bias") < stdout.find("network.10.bias"),
        "{stdout}"
    );
    assert_no_panic(&out);
}

#[test]
fn inspect_a_malformed_container_names_the_tensor() {
    let path = temp_file(
        "malformed",
        &St::new()
            .tensor("user_embedding.weight", "F32", &[3], vec![0; 8])
            .build(),
    );
    let out = reckon(&["inspect", path.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("'user_embedding.weight'"), "{stderr}");
    assert!(
        stderr.contains(path.to_str().unwrap()),
        "the message should name the file: {stderr}"
    );
    assert_no_panic(&out);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn inspect_still_lists_tensors_when_the_arch_check_fails() {
    let st = linear(St::new().meta("reckon.arch", "fraud"), "network.0", 3, 4);
    let path = temp_file("no-classifier", &st.build());
    let out = reckon(&["inspect", path.to_str().unwrap()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("network.0.weight") && stdout.contains("[4, 3]"),
        "{stdout}"
    );
    assert!(stderr.contains("'classifier.weight'"), "{stderr}");
    assert_no_panic(&out);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn inspect_a_missing_file_exits_2() {
    let out = reckon(&["inspect", "/nonexistent/model.safetensors"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/model.safetensors"));
    assert_no_panic(&out);
}

#[test]
fn bad_usage_exits_2() {
    let out = reckon(&["inspect"]);
    assert_eq!(out.status.code(), Some(2));
    assert_no_panic(&out);
}
