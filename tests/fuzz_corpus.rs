//! Replays the fuzz corpus (`tests/corpus/open_weights`) in an ordinary `cargo test`, so every
//! seed and every past crash stays a regression test without a fuzzer installed.
//!
//! File names say what is expected: `valid_*` must open, `bad_*` must fail, anything else
//! (e.g. `crash_*` inputs found by the fuzzer) must merely not panic. The seeds are written by
//! `cargo test --test fuzz_corpus -- --ignored write_corpus`.

mod common;

use std::path::{Path, PathBuf};

use common::st::{minimal, St};
use reckon::weights::{Container, Dtype, WeightFile};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/open_weights")
}

/// Mirrors the fuzz target: parse every way, read every view of what is accepted.
fn exercise(bytes: &[u8]) -> Result<(), reckon::Error> {
    if let Ok(c) = Container::parse(bytes) {
        for t in c.tensors() {
            let n = t.numel();
            let len = match t.dtype() {
                Dtype::F32 => t.as_f32().map(|v| v.len()),
                Dtype::F16 => t.as_f16().map(|v| v.len()),
                Dtype::BF16 => t.as_bf16().map(|v| v.len()),
                Dtype::I64 => t.as_i64().map(|v| v.len()),
            };
            assert_eq!(len.ok(), Some(n), "{}", t.name());
        }
        let _ = c.validate();
    }
    WeightFile::from_bytes(bytes.to_vec()).map(|_| ())
}

#[test]
fn replay_corpus() {
    let mut entries: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("corpus dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    assert!(entries.len() >= 10, "corpus looks empty: {}", entries.len());
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let result = exercise(&bytes);
        if name.starts_with("valid_") {
            assert!(result.is_ok(), "{name}: {result:?}");
        } else if name.starts_with("bad_") {
            assert!(result.is_err(), "{name} was accepted");
        }
    }
}

/// The seeds: one valid file per architecture (the fuzzer mutates them into every corner of
/// the format) and a few hand-made near misses.
#[test]
#[ignore = "writes the committed corpus; run by hand after changing the format rules"]
fn write_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = common::st::ARCHS
        .iter()
        .map(|a| (format!("valid_{a}"), minimal(a).build()))
        .collect();
    files.push((
        "valid_misaligned_item_index".into(),
        minimal("item_index").data_start_residue(3).build(),
    ));
    let bad = [
        ("bad_empty", vec![]),
        ("bad_short_prefix", vec![0; 7]),
        (
            "bad_header_too_long",
            St::new().header_len(u64::MAX).build(),
        ),
        ("bad_not_json", St::new().raw_header("{\"a\":").build()),
        (
            "bad_duplicate",
            St::new()
                .meta("reckon.arch", "ltr")
                .f32("model.0.weight", &[1, 1])
                .f32("model.0.weight", &[1, 1])
                .build(),
        ),
        (
            "bad_overlap",
            St::new()
                .f32("a", &[2])
                .tensor_at("b", "F32", &[1], vec![0; 4], (4, 8))
                .build(),
        ),
        ("bad_trailing", minimal("fraud").trailing(&[0]).build()),
        (
            "bad_wrong_dtype_ids",
            St::new()
                .meta("reckon.arch", "item_index")
                .f32("ids", &[2])
                .f32("vectors", &[2, 2])
                .build(),
        ),
        (
            "bad_no_arch",
            St::new().f32("model.0.weight", &[1, 1]).build(),
        ),
    ];
    files.extend(bad.into_iter().map(|(n, b)| (n.to_string(), b)));
    for (name, bytes) in files {
        std::fs::write(dir.join(format!("{name}.safetensors")), bytes).unwrap();
    }
}
