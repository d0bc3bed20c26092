//! `reckon bench`: a latency / throughput table per pipeline on synthetic data whose size the
//! flags set. For tuning and capacity planning; the criterion benches in `benches/` are the
//! reference measurements (they also print the machine limits).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reckon::kernels::topk::ItemDtype;
use reckon::models::Model;
use reckon::pipelines::fraud::{
    FraudConfig, FraudPipeline, FraudWorkspace, Transaction, DEFAULT_THRESHOLD,
};
use reckon::pipelines::recommend::{RecommendConfig, RecommendWorkspace, Recommender};
use reckon::pipelines::retrieval::{recall_at_k, ItemIndex, KmeansParams, SearchWorkspace};
use reckon::{Options, Workspace};

use crate::Failure;

/// `reckon bench` flags.
#[derive(clap::Args)]
pub struct Args {
    /// Items in the synthetic retrieval index.
    #[arg(long, default_value_t = 1_000_000)]
    items: usize,
    /// Vector width of the synthetic index.
    #[arg(long, default_value_t = 64)]
    dim: usize,
    /// Results per query.
    #[arg(long, default_value_t = 100)]
    k: usize,
    /// Queries timed per retrieval row.
    #[arg(long, default_value_t = 20)]
    queries: usize,
    /// Transactions in the synthetic fraud stream.
    #[arg(long, default_value_t = 1_000_000)]
    txns: usize,
    /// Model batch sizes (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,256,4096")]
    batches: Vec<usize>,
    /// Folder with the demo models (default: `weights/demo`).
    #[arg(long, default_value = "weights/demo")]
    weights: PathBuf,
}

pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    if args.items == 0 || args.dim == 0 || args.k == 0 || args.k > args.items || args.queries == 0 {
        return Err(Failure::Usage(
            "need items ≥ k ≥ 1, dim ≥ 1 and queries ≥ 1".into(),
        ));
    }
    if args.batches.contains(&0) {
        return Err(Failure::Usage("batch sizes must be at least 1".into()));
    }
    writeln!(
        out,
        "{:<44} {:>12} {:>14}  note",
        "pipeline / case", "median", "throughput"
    )?;
    models(args, out)?;
    retrieval(args, out)?;
    recommend(args, out)?;
    fraud(args, out)?;
    Ok(())
}

fn row(
    out: &mut dyn Write,
    case: &str,
    median: Duration,
    per_sec: f64,
    unit: &str,
    note: &str,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{case:<44} {:>12} {:>10.3e} {unit:<3}  {note}",
        fmt(median),
        per_sec
    )
}

fn fmt(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    match ns {
        n if n < 1e3 => format!("{n:.0} ns"),
        n if n < 1e6 => format!("{:.2} µs", n / 1e3),
        n => format!("{:.2} ms", n / 1e6),
    }
}

/// Median of `reps` timed calls of `f` (after one warm-up call).
fn median<E>(reps: usize, mut f: impl FnMut() -> Result<(), E>) -> Result<Duration, E> {
    f()?;
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let s = Instant::now();
        f()?;
        t.push(s.elapsed());
    }
    t.sort();
    Ok(t[t.len() / 2])
}

/// A deterministic pseudo-random stream (splitmix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn normal(&mut self) -> f32 {
        let (a, b) = (self.unit().max(1e-7), self.unit());
        (-2.0 * a.ln()).sqrt() * (std::f32::consts::TAU * b).cos()
    }
}

fn models(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let mut rng = Rng(1);
    for arch in ["two_tower", "ranker", "ltr", "fraud", "deepfm"] {
        let model = Model::open(
            args.weights.join(format!("{arch}.safetensors")),
            &Options::default(),
        )?;
        let (cols, out_cols) = model.dims();
        let vocab: Vec<u64> = match &model {
            Model::DeepFm(m) => m.vocab_sizes().map(|v| v as u64).collect(),
            Model::TwoTower(m) => vec![m.vocab(reckon::models::Tower::User) as u64],
            Model::Dense(_) => vec![],
        };
        let mut ws = Workspace::default();
        for &b in &args.batches {
            let mut y = vec![0f32; b * out_cols];
            let reps = (200_000 / b).clamp(5, 2000);
            let t = if model.takes_ids() {
                let ids: Vec<i64> = (0..b * cols)
                    .map(|i| (rng.next() % vocab[i % vocab.len()]) as i64)
                    .collect();
                median(reps, || model.predict_ids(&ids, b, &mut y, &mut ws))?
            } else {
                let x: Vec<f32> = (0..b * cols).map(|_| rng.normal()).collect();
                median(reps, || model.predict(&x, b, &mut y, &mut ws))?
            };
            let per_row = t / b as u32;
            row(
                out,
                &format!("model {arch} batch {b}"),
                t,
                b as f64 / t.as_secs_f64(),
                "r/s",
                &format!("{} per row", fmt(per_row)),
            )?;
        }
    }
    Ok(())
}

/// `n` unit vectors of width `d` from a Gaussian mixture: uniform random vectors resemble no
/// real embedding and defeat any ANN index.
fn mixture(n: usize, d: usize, rng: &mut Rng) -> Vec<f32> {
    let clusters = (n / 1000).clamp(1, 1000);
    let centres: Vec<f32> = (0..clusters * d).map(|_| rng.normal()).collect();
    let mut vectors = vec![0f32; n * d];
    for row_v in vectors.chunks_exact_mut(d) {
        let c = (rng.next() % clusters as u64) as usize;
        for (j, x) in row_v.iter_mut().enumerate() {
            *x = centres[c * d + j] + rng.normal();
        }
        let norm = row_v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        row_v.iter_mut().for_each(|x| *x /= norm);
    }
    vectors
}

/// The full recommendation request (demo user tower → IVF top-100 over `items` synthetic items
/// of the towers' width → demo ranker → MMR to 20).
fn recommend(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let towers = Model::open(
        args.weights.join("two_tower.safetensors"),
        &Options::default(),
    )?;
    let ranker = Model::open(args.weights.join("ranker.safetensors"), &Options::default())?;
    let (users, d) = match &towers {
        Model::TwoTower(t) => (t.vocab(reckon::models::Tower::User) as i64, t.dim()),
        _ => {
            return Err(Failure::Usage(
                "two_tower.safetensors is not a two_tower model".into(),
            ))
        }
    };
    let n = args.items;
    let vectors = mixture(n, d, &mut Rng(4));
    let ids: Vec<i64> = (0..n as i64).collect();
    let index = ItemIndex::from_vectors(&ids, &vectors, d, ItemDtype::F32, None)?
        .with_ivf(&KmeansParams::default())?;
    let nprobe = (index.ivf_info().map_or(1, |i| i.nlist) / 64).max(1);
    let k = args.k.min(n);
    let config = RecommendConfig {
        retrieve_k: k,
        top_n: 20.min(k),
        nprobe: Some(nprobe),
        ..RecommendConfig::default()
    };
    let rec = Recommender::new(towers, index, ranker, config)?;
    let context = vec![0f32; rec.context_width().unwrap_or(0)];
    let (mut ws, mut recs, mut u) = (RecommendWorkspace::default(), Vec::new(), 0i64);
    let t = median(args.queries.max(20), || {
        u = (u + 7919) % users;
        rec.recommend_user(u, &context, &[], &mut ws, &mut recs)
    })?;
    row(
        out,
        &format!("recommend {n} items → {k} (IVF nprobe {nprobe}) → 20"),
        t,
        1.0 / t.as_secs_f64(),
        "r/s",
        "full request",
    )?;
    Ok(())
}

fn retrieval(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let (n, d) = (args.items, args.dim);
    let mut rng = Rng(2);
    let vectors = mixture(n, d, &mut rng);
    let ids: Vec<i64> = (0..n as i64).collect();
    let queries: Vec<f32> = (0..args.queries * d)
        .map(|i| vectors[(i / d * 7919 % n) * d + i % d] + 0.1 * rng.normal())
        .collect();
    let mut ws = SearchWorkspace::default();
    let (mut hits, mut exact) = (Vec::new(), Vec::new());
    let k = args.k;
    for (name, dtype) in [("f32", ItemDtype::F32), ("bf16", ItemDtype::Bf16)] {
        let index = ItemIndex::from_vectors(&ids, &vectors, d, dtype, None)?;
        let mut q = 0;
        let t = median(args.queries, || {
            q = (q + 1) % args.queries;
            index.search(&queries[q * d..(q + 1) * d], k, &[], &mut ws, &mut hits)
        })?;
        let bytes = n * d * if name == "f32" { 4 } else { 2 };
        row(
            out,
            &format!("retrieval exact {name} {n}×{d} top-{k}"),
            t,
            bytes as f64 / t.as_secs_f64(),
            "B/s",
            "1 query",
        )?;
        let nq = args.queries.min(64);
        let mut outs = Vec::new();
        let t = median(3, || {
            index.search_batch(&queries[..nq * d], nq, k, &[], &mut ws, &mut outs)
        })?;
        row(
            out,
            &format!("retrieval exact {name} batch of {nq}"),
            t / nq as u32,
            nq as f64 / t.as_secs_f64(),
            "q/s",
            "per query",
        )?;
    }
    let exact_index = ItemIndex::from_vectors(&ids, &vectors, d, ItemDtype::F32, None)?;
    let build = Instant::now();
    let index = exact_index.with_ivf(&KmeansParams::default())?;
    let nlist = index.ivf_info().map_or(1, |i| i.nlist);
    writeln!(
        out,
        "{:<44} {:>12}  (k-means, {nlist} lists)",
        "retrieval IVF build",
        fmt(build.elapsed())
    )?;
    let mut nprobe = 1;
    while nprobe <= nlist {
        let mut recall = 0.0;
        for q in 0..args.queries {
            let query = &queries[q * d..(q + 1) * d];
            exact_index.search(query, k, &[], &mut ws, &mut exact)?;
            index.search_ivf(query, k, nprobe, &[], &mut ws, &mut hits)?;
            recall += recall_at_k(&hits, &exact);
        }
        recall /= args.queries as f64;
        let mut q = 0;
        let t = median(args.queries, || {
            q = (q + 1) % args.queries;
            index.search_ivf(
                &queries[q * d..(q + 1) * d],
                k,
                nprobe,
                &[],
                &mut ws,
                &mut hits,
            )
        })?;
        row(
            out,
            &format!("retrieval IVF nprobe {nprobe}"),
            t,
            1.0 / t.as_secs_f64(),
            "q/s",
            &format!("recall@{k} {recall:.3}"),
        )?;
        if recall >= 0.99 {
            break;
        }
        nprobe *= 2;
    }
    Ok(())
}

fn fraud(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let pipeline = FraudPipeline::open(
        args.weights.join("fraud.safetensors"),
        &Options::default(),
        FraudConfig::default(),
        DEFAULT_THRESHOLD,
    )?;
    let mut rng = Rng(3);
    let users = (args.txns / 10).max(1) as u64;
    let mut ts = 1.7e9;
    let txns: Vec<Transaction> = (0..args.txns)
        .map(|_| {
            ts += (rng.next() % 1000) as f64 / 100.0;
            let user = rng.next() % users;
            Transaction {
                user,
                device: if rng.next().is_multiple_of(50) {
                    rng.next() % (2 * users)
                } else {
                    user
                },
                timestamp: ts,
                amount: (rng.normal() * 0.7 + 3.5).exp() as f64,
                is_international: rng.next().is_multiple_of(50),
            }
        })
        .collect();
    let mut ws = FraudWorkspace::default();
    let start = Instant::now();
    for t in &txns {
        pipeline.score(t, &mut ws)?;
    }
    let took = start.elapsed();
    row(
        out,
        &format!("fraud features + score, {} txns one by one", txns.len()),
        took / txns.len().max(1) as u32,
        txns.len() as f64 / took.as_secs_f64(),
        "t/s",
        &format!("{users} users, one core"),
    )?;
    Ok(())
}
