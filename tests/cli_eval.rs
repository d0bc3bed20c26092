//! `reckon eval` run as a real process: text and `.npy` inputs of several dtypes give the
//! library's values, per-query averaging with `--groups`, and every refusal exits with a
//! message naming the file or flag at fault, never a panic.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use npyz::WriterBuilder;
use reckon::metrics::{self, RankingMetric};

struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("reckon-eval-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn text(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write");
        path
    }

    fn npy<T: npyz::AutoSerialize + Copy>(
        &self,
        name: &str,
        shape: &[u64],
        values: &[T],
    ) -> PathBuf {
        let path = self.0.join(name);
        let mut out = Vec::new();
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(&mut out)
            .begin_nd()
            .unwrap();
        w.extend(values.iter().copied()).unwrap();
        w.finish().unwrap();
        std::fs::write(&path, out).expect("write");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn eval(metric: &str, scores: &Path, labels: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(["eval", "--metric", metric, "--scores"])
        .arg(scores)
        .arg("--labels")
        .arg(labels)
        .args(extra)
        .output()
        .expect("run reckon")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The value column of the row named `metric`.
fn value(out: &Output, metric: &str) -> f64 {
    assert!(out.status.success(), "reckon eval failed: {}", stderr(out));
    let text = stdout(out);
    let line = text
        .lines()
        .find(|l| l.split("  ").next() == Some(metric))
        .unwrap_or_else(|| panic!("no row {metric} in\n{text}"));
    line[metric.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The table prints 6 decimals.
const PRINTED: f64 = 5e-7;

fn refused(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
}

#[test]
fn text_files_give_hand_computed_values() {
    let dir = Scratch::new("text");
    let s = dir.text("s.csv", "score\n0.1\n0.4\n0.35\n0.8\n");
    let l = dir.text("l.txt", "0\n0\n1\n1\n");
    let out = eval(
        "auc,pr_auc,ece,logloss,mrr,precision@2,fraud@0.5",
        &s,
        &l,
        &[],
    );
    assert!((value(&out, "auc") - 0.75).abs() < PRINTED);
    assert!((value(&out, "pr_auc") - 5.0 / 6.0).abs() < PRINTED);
    // |0−0.1| + |0−0.4| + |1−0.35| + |1−0.8|, each in its own bin, over 4.
    assert!((value(&out, "ece") - 0.3375).abs() < PRINTED);
    assert!((value(&out, "mrr") - 1.0).abs() < PRINTED);
    assert!((value(&out, "precision@2") - 0.5).abs() < PRINTED);
    assert!((value(&out, "fraud@0.5 recall") - 0.5).abs() < PRINTED);
    assert!((value(&out, "fraud@0.5 fpr") - 0.0).abs() < PRINTED);
    let text = stdout(&out);
    assert!(text.starts_with("metric"), "{text}");
    assert!(text.contains("4 rows, 2 positive"), "{text}");
}

#[test]
fn npy_of_any_numeric_dtype_with_groups_matches_the_library() {
    let dir = Scratch::new("npy");
    // Three queries of four documents; query 9 has nothing relevant.
    let scores: Vec<f64> = vec![0.9, 0.1, 0.5, 0.3, 0.2, 0.8, 0.6, 0.4, 0.7, 0.6, 0.5, 0.4];
    let grades: Vec<i64> = vec![0, 2, 1, 0, 3, 0, 1, 2, 0, 0, 0, 0];
    let groups: Vec<i32> = vec![4, 4, 4, 4, 7, 7, 7, 7, 9, 9, 9, 9];
    let s = dir.npy("s.npy", &[12], &scores);
    let l = dir.npy("l.npy", &[12, 1], &grades); // a one-column 2-D array is fine
    let g = dir.npy("g.npy", &[12], &groups);
    let out = eval(
        "ndcg@3,mrr,recall@2,hit_rate@1",
        &s,
        &l,
        &["--groups", g.to_str().unwrap()],
    );
    let s32: Vec<f32> = scores.iter().map(|&x| x as f32).collect();
    let g32: Vec<f32> = grades.iter().map(|&x| x as f32).collect();
    for (name, m) in [
        ("ndcg@3", RankingMetric::Ndcg(3)),
        ("mrr", RankingMetric::ReciprocalRank),
        ("recall@2", RankingMetric::Recall(2)),
        ("hit_rate@1", RankingMetric::HitRate(1)),
    ] {
        let want = metrics::mean_over_queries(m, &s32, &g32, &groups).unwrap();
        assert_eq!(want.queries, 2);
        assert!((value(&out, name) - want.value).abs() < PRINTED, "{name}");
    }
    assert!(
        stdout(&out).contains("2 queries (1 skipped: no relevant row)"),
        "{}",
        stdout(&out)
    );

    // Binary labels as bool and uint8; scores as f32.
    let y: Vec<bool> = grades.iter().map(|&r| r > 0).collect();
    let yb = dir.npy("y.npy", &[12], &y);
    let y8: Vec<u8> = y.iter().map(|&b| u8::from(b)).collect();
    let yu = dir.npy("y8.npy", &[12], &y8);
    let s4 = dir.npy("s32.npy", &[12], &s32);
    let labels: Vec<f32> = y8.iter().map(|&b| f32::from(b)).collect();
    let want = metrics::roc_auc(&s32, &labels).unwrap();
    assert!((value(&eval("auc", &s4, &yb, &[]), "auc") - want).abs() < PRINTED);
    assert!((value(&eval("auc", &s, &yu, &[]), "auc") - want).abs() < PRINTED);
}

#[test]
fn bad_metric_names_are_usage_errors() {
    let dir = Scratch::new("names");
    let s = dir.text("s.txt", "0.5\n");
    let l = dir.text("l.txt", "1\n");
    refused(
        &eval("auc,accuracy", &s, &l, &[]),
        2,
        &["accuracy", "unknown metric", "ndcg@K"],
    );
    refused(&eval("ndcg", &s, &l, &[]), 2, &["ndcg@10"]);
    refused(&eval("precision@0", &s, &l, &[]), 2, &["cutoff"]);
    refused(&eval("auc@3", &s, &l, &[]), 2, &["no @ argument"]);
    refused(&eval("fraud@x", &s, &l, &[]), 2, &["threshold"]);
    refused(&eval("ece", &s, &l, &["--bins", "0"]), 2, &["--bins"]);
}

#[test]
fn bad_files_are_refused_naming_them() {
    let dir = Scratch::new("files");
    let s = dir.text("s.txt", "0.1\n0.9\n0.4\n");
    let l = dir.text("l.txt", "0\n1\n0\n");
    refused(
        &eval("auc", &s, &dir.text("short.txt", "0\n1\n"), &[]),
        1,
        &["s.txt has 3 rows", "short.txt has 2"],
    );
    refused(
        &eval("auc", &s, &dir.text("two.txt", "0\n1\n2\n"), &[]),
        1,
        &["two.txt", "labels[2] = 2"],
    );
    refused(
        &eval("auc", &dir.text("nan.txt", "0.1\nnan\n0.2\n"), &l, &[]),
        1,
        &["nan.txt", "scores[1] is NaN"],
    );
    refused(
        &eval("auc", &dir.text("word.txt", "0.1\nzero\n0.2\n"), &l, &[]),
        1,
        &["word.txt", "line 2", "'zero'"],
    );
    refused(
        &eval(
            "auc",
            &dir.text("wide.csv", "0.1,1\n0.9,2\n0.4,3\n"),
            &l,
            &[],
        ),
        1,
        &["wide.csv", "2 columns"],
    );
    refused(
        &eval("auc", &s, &dir.text("one_class.txt", "1\n1\n1\n"), &[]),
        1,
        &["one_class.txt", "both classes"],
    );
    refused(
        &eval("logloss", &dir.text("logits.txt", "-2\n3\n0.5\n"), &l, &[]),
        1,
        &["logits.txt", "[0, 1]"],
    );
    refused(
        &eval("auc", &dir.0.join("missing.txt"), &l, &[]),
        2,
        &["missing.txt"],
    );
    let groups = dir.text("g.txt", "1\n1\n");
    refused(
        &eval("mrr", &s, &l, &["--groups", groups.to_str().unwrap()]),
        1,
        &["g.txt has 2"],
    );
    let groups = dir.text("gf.txt", "1\n1.5\n2\n");
    refused(
        &eval("mrr", &s, &l, &["--groups", groups.to_str().unwrap()]),
        1,
        &["gf.txt", "integer"],
    );
    // .npy: a 2-D array of two columns, float query ids, a truncated file.
    let wide = dir.npy("wide.npy", &[3, 2], &[0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6]);
    refused(&eval("auc", &wide, &l, &[]), 1, &["wide.npy", "[3, 2]"]);
    let gf = dir.npy("gf.npy", &[3], &[1.0f32, 1.0, 2.0]);
    refused(
        &eval("mrr", &s, &l, &["--groups", gf.to_str().unwrap()]),
        1,
        &["gf.npy", "integers"],
    );
    let full = std::fs::read(dir.npy("s.npy", &[3], &[0.1f64, 0.9, 0.4])).unwrap();
    let cut = dir.0.join("cut.npy");
    std::fs::write(&cut, &full[..full.len() - 5]).unwrap();
    refused(&eval("auc", &cut, &l, &[]), 1, &["cut.npy"]);
}
