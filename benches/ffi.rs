//! What the C ABI costs on top of the Rust call: `reckon_model_predict` at batch 1 (called from
//! Rust through `reckon::ffi`, the same machine code a C program reaches through the symbol)
//! against `Model::predict` with a caller-held workspace, on two small models where a fixed
//! overhead shows: the demo fraud model (11 → 64 → 32 → 1) and the demo ranker (100 → 64 →
//! 32 → 4). The boundary adds the panic guard, the last-error reset, the pointer/shape checks
//! and the thread-local workspace lookup. Issue 5's limit: ≤ 100 ns above the Rust call.
//!
//! Criterion ids: `ffi/<model>/rust`, `ffi/<model>/c_abi`, and `ffi/boundary/dims` (an export
//! that does no work: the fixed cost alone). With `--bench`, summary lines time the two calls
//! in alternating rounds (so drift from a busy neighbour hits both alike) and print both
//! medians, the difference, and the limit. `cargo bench --bench ffi -- summaries_only` (a
//! filter no criterion id matches) prints only the summaries.

mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use reckon::ffi::{reckon_model, reckon_model_dims, reckon_model_free, reckon_model_open};
use reckon::{Model, Options, Workspace};

/// Issue 5: the C call may cost at most this much more than the Rust call, at batch 1.
const LIMIT_NS: f64 = 100.0;
const MODELS: [&str; 2] = ["fraud", "ranker"];

fn path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("weights/demo/{name}.safetensors"))
}

/// One model opened both ways, with a row of features and an output slot.
struct Case {
    name: &'static str,
    model: Model,
    handle: *mut reckon_model,
    ws: Workspace,
    x: Vec<f32>,
    out: Vec<f32>,
}

impl Case {
    fn open(name: &'static str) -> Case {
        let file = path(name);
        let model = Model::open(&file, &Options::default()).expect("open model");
        let (cols, out_cols) = model.dims();
        let c_path = std::ffi::CString::new(file.to_string_lossy().into_owned()).expect("path");
        let mut handle = std::ptr::null_mut();
        // SAFETY: a valid NUL-terminated path, NULL options, a valid out-pointer.
        let status = unsafe { reckon_model_open(c_path.as_ptr(), std::ptr::null(), &mut handle) };
        assert_eq!(status, 0, "reckon_model_open({name})");
        let x = (0..cols).map(|i| (i % 7) as f32 * 0.25 - 0.5).collect();
        Case {
            name,
            model,
            handle,
            ws: Workspace::default(),
            x,
            out: vec![0.0; out_cols],
        }
    }

    fn rust(&mut self) {
        self.model
            .predict(black_box(&self.x), 1, &mut self.out, &mut self.ws)
            .expect("predict");
        black_box(&self.out);
    }

    fn c_abi(&mut self) {
        // SAFETY: a live handle; `x` holds one row of `cols` floats, `out` holds out_len floats.
        let status = unsafe {
            reckon::ffi::reckon_model_predict(
                self.handle,
                black_box(self.x.as_ptr()),
                1,
                self.x.len(),
                self.out.as_mut_ptr(),
                self.out.len(),
            )
        };
        assert_eq!(status, 0);
        black_box(&self.out);
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        // SAFETY: the handle came from reckon_model_open and is freed once.
        unsafe { reckon_model_free(self.handle) };
    }
}

/// The fixed cost of crossing the boundary: an export that only reads the handle.
fn dims(handle: *const reckon_model) {
    let (mut i, mut o) = (0usize, 0usize);
    // SAFETY: a live handle and two valid out-pointers.
    let status = unsafe { reckon_model_dims(black_box(handle), &mut i, &mut o) };
    assert_eq!(status, 0);
    black_box((i, o));
}

/// Seconds per call of `a` and `b` timed in alternating rounds: (median of a, median of b,
/// median of the per-round differences b − a, best b − best a). Pairing each round's two
/// timings cancels slow drift in a neighbour's load; the best-to-best difference is the
/// overhead with the least noise in it.
fn alternating(mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64, f64, f64) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..31 {
        ta.push(common::time_secs(5, Duration::from_millis(2), &mut a).0);
        tb.push(common::time_secs(5, Duration::from_millis(2), &mut b).0);
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let diffs: Vec<f64> = ta.iter().zip(&tb).map(|(a, b)| b - a).collect();
    (
        median(&ta),
        median(&tb),
        median(&diffs),
        best(&tb) - best(&ta),
    )
}

fn summaries(cases: &mut [Case]) {
    for case in cases.iter_mut() {
        let case = std::cell::RefCell::new(case);
        let (rust, c_abi, over, best_over) =
            alternating(|| case.borrow_mut().rust(), || case.borrow_mut().c_abi());
        let over = over * 1e9;
        println!(
            "summary ffi/{}/b1: Rust {:.0} ns, C ABI {:.0} ns (medians); overhead {over:.0} ns \
             (median of paired rounds; best-to-best {:.0} ns); limit {LIMIT_NS:.0} ns: {}",
            case.borrow().name,
            rust * 1e9,
            c_abi * 1e9,
            best_over * 1e9,
            if over <= LIMIT_NS { "met" } else { "NOT met" }
        );
    }
    let handle = cases[0].handle;
    let (secs, best) = common::time_secs(31, Duration::from_millis(2), || dims(handle));
    println!(
        "summary ffi/boundary: reckon_model_dims {:.1} ns/call (best {:.1}): guard, error reset, handle check",
        secs * 1e9,
        best * 1e9
    );
}

fn main() {
    // Without `--bench` (e.g. `cargo test --benches`) criterion runs each bench once as a smoke
    // test; the summaries would only slow that down.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let mut cases: Vec<Case> = MODELS.iter().map(|&m| Case::open(m)).collect();

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("ffi");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(1));
    for case in &mut cases {
        group.bench_function(BenchmarkId::new(case.name, "rust"), |b| {
            b.iter(|| case.rust())
        });
        group.bench_function(BenchmarkId::new(case.name, "c_abi"), |b| {
            b.iter(|| case.c_abi())
        });
    }
    let handle = cases[0].handle;
    group.bench_function(BenchmarkId::new("boundary", "dims"), |b| {
        b.iter(|| dims(handle))
    });
    group.finish();
    c.final_summary();

    if benchmarking {
        summaries(&mut cases);
    }
}
