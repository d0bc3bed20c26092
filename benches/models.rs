//! Whole models at serving batch sizes: every seed architecture at its default layer sizes
//! (`tests/fixtures/*_default.safetensors`) at batch 1, 256 and 4096, and the bf16 files at
//! batch 1 and 4096. Ids: `model/{name}/b{rows}` (`ranker_bf16` for the bf16 file); two-tower
//! times the user tower (`TwoTower::embed(Tower::User, ..)`), DeepFM the whole model from ids.
//!
//! Each case owns one warmed-up [`Workspace`], so the figures are the allocation-free steady
//! state. After criterion, one `summary` line per case gives the median ns per call and per row
//! beside the SPEC §7 target (batch 1: per call; batch 4096: per row; batch 256 has no cell and
//! shows the 4096 one for reference), and the limit the MLP part is judged against: the read
//! bandwidth of the cache level holding the weights at batch 1, the one-thread FMA peak above.
//! Summaries are printed only for the cases criterion ran, so a filter
//! (`cargo bench --bench models -- ranker`) narrows both.
//!
//! `MODELS_BENCH_QUICK=1` skips criterion and prints only the summaries (positional arguments
//! are then plain substring filters). `benches/peers/compare.py` reads criterion's
//! `target/criterion/model/{name}/b{rows}/new/estimates.json` or, in its quick mode, the
//! summary lines, so keep their format.

#[path = "common/mod.rs"]
mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use reckon::kernels::probe;
use reckon::models::Tower;
use reckon::weights::WeightFile;
use reckon::{Model, Options, Workspace};

/// (fixture arch, SPEC §7 target ns per call at batch 1, target ns per row at batch 4096).
const MODELS: [(&str, f64, f64); 5] = [
    ("two_tower", 1500.0, 400.0),
    ("ranker", 3000.0, 1600.0),
    ("ltr", 2500.0, 1350.0),
    ("fraud", 1000.0, 250.0),
    ("deepfm", 3000.0, 1200.0),
];
/// (file suffix, batches).
const VARIANTS: [(&str, &[usize]); 2] = [("", &[1, 256, 4096]), ("_bf16", &[1, 4096])];

/// xorshift64*: deterministic inputs without an RNG crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [-2, 2): the scale of standardised features.
    fn feature(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
    }
    fn id(&mut self, vocab: usize) -> i64 {
        (self.next() % vocab as u64) as i64
    }
}

enum Input {
    Dense(Vec<f32>),
    Ids(Vec<i64>),
}

/// The MLP work behind one row, from the file: every 2-D weight except embedding tables (for
/// two-tower only the user tower's). Embedding gathers and epilogues are not counted.
struct MlpCost {
    flop_per_row: f64,
    weight_bytes: usize,
}

impl MlpCost {
    fn of(file: &WeightFile, arch: &str) -> MlpCost {
        let (mut macs, mut bytes) = (0usize, 0usize);
        for t in file.tensors() {
            let counted = if arch == "two_tower" {
                t.name().starts_with("user_mlp.")
            } else {
                !t.name().contains("embedding")
            };
            if counted && t.shape().len() == 2 {
                macs += t.numel();
                bytes += t.bytes().len();
            }
        }
        MlpCost {
            flop_per_row: 2.0 * macs as f64,
            weight_bytes: bytes,
        }
    }
}

struct Case {
    name: String,
    path: PathBuf,
    rows: usize,
    model: Model,
    input: Input,
    out: Vec<f32>,
    ws: Workspace,
    cost: MlpCost,
    target_b1_ns: f64,
    target_row_ns: f64,
    ran: Cell<bool>,
}

impl Case {
    fn new(arch: &str, suffix: &str, rows: usize, targets: (f64, f64)) -> Case {
        let path: PathBuf = [
            env!("CARGO_MANIFEST_DIR"),
            "tests",
            "fixtures",
            &format!("{arch}_default{suffix}.safetensors"),
        ]
        .iter()
        .collect();
        let file = WeightFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let path_kept = path.clone();
        let cost = MlpCost::of(&file, arch);
        let model = Model::from_file(file.into(), &Options::default()).expect("model");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ rows as u64);
        let (cols_in, cols_out) = model.dims();
        let input = match &model {
            Model::TwoTower(m) => {
                Input::Ids((0..rows).map(|_| rng.id(m.vocab(Tower::User))).collect())
            }
            Model::DeepFm(m) => {
                let vocabs: Vec<usize> = m.vocab_sizes().collect();
                Input::Ids(
                    (0..rows)
                        .flat_map(|_| vocabs.iter().map(|&v| rng.id(v)).collect::<Vec<_>>())
                        .collect(),
                )
            }
            Model::Dense(_) => Input::Dense((0..rows * cols_in).map(|_| rng.feature()).collect()),
        };
        let mut case = Case {
            name: format!("{arch}{suffix}"),
            path: path_kept,
            rows,
            model,
            input,
            out: vec![0.0; rows * cols_out],
            ws: Workspace::default(),
            cost,
            target_b1_ns: targets.0,
            target_row_ns: targets.1,
            ran: Cell::new(false),
        };
        // Warm-up: the workspace grows to this batch once, so timed calls allocate nothing.
        case.run();
        case
    }

    fn run(&mut self) {
        let result = match (&self.model, &self.input) {
            (Model::TwoTower(m), Input::Ids(ids)) => m.embed(
                Tower::User,
                black_box(ids),
                &mut self.out,
                &mut self.ws.two_tower,
            ),
            (m, Input::Ids(ids)) => {
                m.predict_ids(black_box(ids), self.rows, &mut self.out, &mut self.ws)
            }
            (m, Input::Dense(x)) => m.predict(black_box(x), self.rows, &mut self.out, &mut self.ws),
        };
        result.expect("model call");
        black_box(&mut self.out);
    }

    fn id(&self) -> String {
        format!("model/{}/b{}", self.name, self.rows)
    }

    fn matches(&self, filters: &[String]) -> bool {
        filters.is_empty() || filters.iter().any(|f| self.id().contains(f.as_str()))
    }

    /// `PASS`/`FAIL` against the SPEC cell for this batch (none at batch 256).
    fn target(&self, ns_call: f64, ns_row: f64) -> String {
        let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
        match self.rows {
            1 => format!(
                "target <= {:.0} ns/call {}",
                self.target_b1_ns,
                verdict(ns_call <= self.target_b1_ns)
            ),
            4096 => format!(
                "target <= {:.0} ns/row {}",
                self.target_row_ns,
                verdict(ns_row <= self.target_row_ns)
            ),
            _ => format!(
                "no SPEC cell (b4096 target <= {:.0} ns/row)",
                self.target_row_ns
            ),
        }
    }

    fn summary(&mut self, peak_gflops: f64) {
        let (secs, best) = time_secs(|| self.run());
        let (ns_call, ns_row) = (secs * 1e9, secs * 1e9 / self.rows as f64);
        let limit = if self.rows == 1 {
            let bytes = self.cost.weight_bytes;
            let (bw, level) = (probe::read_bandwidth_gbs(bytes), probe::cache_level(bytes));
            let (gbs, best_gbs) = (bytes as f64 / secs / 1e9, bytes as f64 / best / 1e9);
            format!(
                "MLP weights {} KiB at {gbs:.1} GB/s = {:.0}% of {level} read bandwidth {bw:.1} GB/s (best {:.0}%)",
                bytes / 1024,
                100.0 * gbs / bw,
                100.0 * best_gbs / bw
            )
        } else {
            let flop = self.cost.flop_per_row * self.rows as f64;
            let (gflops, best_gflops) = (flop / secs / 1e9, flop / best / 1e9);
            format!(
                "MLP {gflops:.1} GFLOP/s = {:.0}% of FMA peak {peak_gflops:.1} (best {:.0}%)",
                100.0 * gflops / peak_gflops,
                100.0 * best_gflops / peak_gflops
            )
        };
        println!(
            "summary {}: {ns_call:.0} ns/call, {ns_row:.1} ns/row; {}; {limit}",
            self.id(),
            self.target(ns_call, ns_row)
        );
    }
}

impl Case {
    /// SPEC §7: two threads ≥ 1.8× one thread on large batches. The same model opened with
    /// `Options::threads = 2` alternates with the one-thread model in each round, so the VM's
    /// drift moves both sides of each paired ratio.
    fn two_threads_summary(&mut self) {
        let opts = Options {
            threads: 2,
            ..Options::default()
        };
        let mut other = Model::open(&self.path, &opts).expect("model");
        let (one, two, ratio) = common::paired(5, |second| {
            if second {
                std::mem::swap(&mut self.model, &mut other);
            }
            let t = time_secs(|| self.run()).0;
            if second {
                std::mem::swap(&mut self.model, &mut other);
            }
            t
        });
        let per_row = 1e9 / self.rows as f64;
        println!(
            "summary {} threads 2: {:.1} ns/row vs {:.1} on 1 thread = {:.2}x (paired median; \
             target >= 1.8x)",
            self.id(),
            two * per_row,
            one * per_row,
            ratio
        );
    }
}

/// (median, best) seconds per call; see `common::time_secs`.
fn time_secs(f: impl FnMut()) -> (f64, f64) {
    common::time_secs(31, Duration::from_micros(500), f)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = std::env::var("MODELS_BENCH_QUICK").is_ok_and(|v| v == "1");
    // Without `--bench` (e.g. `cargo test --benches`) criterion runs each bench once as a smoke
    // test; summaries would only slow that down.
    let benchmarking = args.iter().any(|a| a == "--bench");
    let quick_filters: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .cloned()
        .collect();

    let mut cases: Vec<Case> = Vec::new();
    for (suffix, batches) in VARIANTS {
        for (arch, b1, row) in MODELS {
            for &rows in batches {
                cases.push(Case::new(arch, suffix, rows, (b1, row)));
            }
        }
    }

    if quick {
        for case in &cases {
            case.ran.set(case.matches(&quick_filters));
        }
    } else {
        let mut c = Criterion::default().configure_from_args();
        let mut group = c.benchmark_group("model");
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for case in &mut cases {
            group.throughput(Throughput::Elements(case.rows as u64));
            let id = BenchmarkId::new(case.name.clone(), format!("b{}", case.rows));
            // Criterion calls the routine only for ids its filter accepts.
            group.bench_function(id, |b| {
                case.ran.set(true);
                b.iter(|| case.run())
            });
        }
        group.finish();
        c.final_summary();
    }

    if !(quick || benchmarking) || !cases.iter().any(|c| c.ran.get()) {
        return;
    }
    let peak = probe::fma_peak_gflops();
    println!(
        "limit model: one-thread FMA peak {peak:.1} GFLOP/s (batch >= 256); batch 1: read bandwidth of the \
         cache level holding the MLP weights"
    );
    for case in cases.iter_mut().filter(|c| c.ran.get()) {
        case.summary(peak);
    }
    for case in cases
        .iter_mut()
        .filter(|c| c.ran.get() && c.rows == 4096 && !c.name.ends_with("_bf16"))
    {
        case.two_threads_summary();
    }
}
