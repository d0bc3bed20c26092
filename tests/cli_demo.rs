//! `reckon demo`, the README's main job, runs every pipeline and reports each.

use std::process::Command;

#[test]
fn demo_runs_all_five_pipelines_and_reports_latencies() {
    let out = Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(["demo", "--requests", "20"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run reckon demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    for needle in [
        "Retrieval + recommendation",
        "IVF recall@100",
        "from the user's own cluster",
        "Search",
        "mean NDCG@10",
        "Fraud",
        "precision",
        "CTR",
        "isotonic",
        "Latency per stage",
        "p99",
    ] {
        assert!(
            stdout.contains(needle),
            "demo output lacks {needle:?}:\n{stdout}"
        );
    }
}

#[test]
fn demo_with_a_missing_weights_folder_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(["demo", "--weights", "/nonexistent/demo"])
        .output()
        .expect("run reckon demo");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("demo weights not found"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn bench_prints_a_row_per_pipeline_on_small_synthetic_data() {
    let out = Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args([
            "bench",
            "--items",
            "3000",
            "--dim",
            "16",
            "--queries",
            "5",
            "--txns",
            "2000",
            "--batches",
            "1,64",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run reckon bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "model ranker batch 64",
        "model deepfm batch 1",
        "retrieval exact bf16",
        "retrieval IVF nprobe",
        "fraud features + score",
    ] {
        assert!(
            stdout.contains(needle),
            "bench output lacks {needle:?}:\n{stdout}"
        );
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(["bench", "--k", "0"])
        .output()
        .expect("run");
    assert!(!bad.status.success());
}
