//! `reckon index build MODEL -o INDEX` (item tower over every item → an `item_index` file,
//! optionally with IVF lists) and `reckon index eval INDEX` (recall@k of IVF against exact
//! search, and latency per query).
//!
//! `eval` draws its queries from the index itself: randomly chosen item vectors (seeded), the
//! same distribution real queries of a two-tower model live in, with no model needed.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use npyz::NpyFile;
use reckon::models::{Model, Options, Tower};
use reckon::pipelines::retrieval::{
    recall_at_k, ItemDtype, ItemIndex, KmeansParams, SearchWorkspace,
};

use crate::Failure;

/// Arguments of `reckon index`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: IndexCommand,
}

#[derive(clap::Subcommand)]
enum IndexCommand {
    /// Run a two-tower model's item tower over its items and write an item_index file.
    Build(BuildArgs),
    /// Report recall@k of IVF search against exact search, and latency per query.
    Eval(EvalArgs),
}

#[derive(clap::Args)]
struct BuildArgs {
    /// The two_tower model file.
    model: PathBuf,
    /// Where to write the index.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Index item ids 0..N (default: every item of the item tower's table).
    #[arg(long, value_name = "N")]
    items: Option<usize>,
    /// Stored precision of the vectors.
    #[arg(long, default_value = "f32", value_parser = ["f32", "f16", "bf16"])]
    dtype: String,
    /// Also build IVF lists by k-means: NLIST lists (0 or no value: about 4·√N).
    #[arg(long, value_name = "NLIST", num_args = 0..=1, default_missing_value = "0")]
    ivf: Option<usize>,
    /// Per-item category ids: a 1-D integer .npy with one entry per indexed item.
    #[arg(long, value_name = "FILE.npy")]
    category: Option<PathBuf>,
    /// k-means seed.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
}

#[derive(clap::Args)]
struct EvalArgs {
    /// The item_index file.
    index: PathBuf,
    /// Number of queries.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Results per query.
    #[arg(long, default_value_t = 100)]
    k: usize,
    /// IVF lists to probe, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    nprobe: Vec<usize>,
}

/// Runs `reckon index ...`.
pub fn run(args: &Args, out: &mut impl Write) -> Result<(), Failure> {
    match &args.command {
        IndexCommand::Build(a) => build(a, out),
        IndexCommand::Eval(a) => eval(a, out),
    }
}

fn build(a: &BuildArgs, out: &mut impl Write) -> Result<(), Failure> {
    let model =
        Model::open(&a.model, &Options::default()).map_err(|e| Failure::in_file(&a.model, e))?;
    let Model::TwoTower(model) = model else {
        return Err(Failure::Usage(format!(
            "{}: not a two_tower model",
            a.model.display()
        )));
    };
    let vocab = model.vocab(Tower::Item);
    let n = a.items.unwrap_or(vocab);
    if n == 0 || n > vocab {
        return Err(Failure::Usage(format!(
            "--items {n}: the item tower has {vocab} items"
        )));
    }
    let ids: Vec<i64> = (0..n as i64).collect();
    let category = match &a.category {
        Some(p) => Some(read_ids(p, n)?),
        None => None,
    };
    let dtype = match a.dtype.as_str() {
        "f16" => ItemDtype::F16,
        "bf16" => ItemDtype::Bf16,
        _ => ItemDtype::F32,
    };
    let start = Instant::now();
    let bar = ProgressBar::new(n as u64).with_style(
        ProgressStyle::with_template("item tower {bar:40} {pos}/{len} items ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut index = ItemIndex::build_from_model_with_progress(
        &model,
        &ids,
        dtype,
        category.as_deref(),
        &mut |done| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    if let Some(nlist) = a.ivf {
        let spinner = ProgressBar::new_spinner().with_message("k-means for IVF lists");
        spinner.enable_steady_tick(Duration::from_millis(100));
        let params = KmeansParams {
            nlist,
            seed: a.seed,
            ..KmeansParams::default()
        };
        let built = index.with_ivf(&params);
        spinner.finish_and_clear();
        index = built?;
    }
    index
        .save(&a.output)
        .map_err(|e| Failure::in_file(&a.output, e))?;
    write!(
        out,
        "{}: {n} items x {} ({:?})",
        a.output.display(),
        index.dim(),
        index.dtype()
    )?;
    if let Some(info) = index.ivf_info() {
        write!(
            out,
            ", IVF {} lists of {}..={} items",
            info.nlist, info.min_list, info.max_list
        )?;
    }
    writeln!(out, ", built in {:.2} s", start.elapsed().as_secs_f64())?;
    Ok(())
}

/// A 1-D integer .npy of `n` entries, as i64.
fn read_ids(path: &Path, n: usize) -> Result<Vec<i64>, Failure> {
    let input = |m: String| Failure::Input(format!("{}: {m}", path.display()));
    let file = File::open(path).map_err(|e| {
        Failure::Reckon(
            reckon::Error::Io {
                path: path.into(),
                source: e,
            },
            None,
        )
    })?;
    let npy = NpyFile::new(BufReader::new(file)).map_err(|e| input(e.to_string()))?;
    if npy.shape().len() != 1 || npy.shape()[0] as usize != n {
        return Err(input(format!(
            "shape {:?}, expected [{n}] (one per item)",
            npy.shape()
        )));
    }
    let ids: Vec<i64> = match npy.dtype() {
        npyz::DType::Plain(t) if t.size_field() == 4 => npy
            .into_vec::<i32>()
            .map_err(|e| input(e.to_string()))?
            .into_iter()
            .map(i64::from)
            .collect(),
        _ => npy
            .into_vec::<i64>()
            .map_err(|e| input(format!("{e} (expected int64 or int32)")))?,
    };
    Ok(ids)
}

fn eval(a: &EvalArgs, out: &mut impl Write) -> Result<(), Failure> {
    let index = ItemIndex::open(&a.index).map_err(|e| Failure::in_file(&a.index, e))?;
    let (n, d, k) = (index.len(), index.dim(), a.k);
    if k == 0 || k > n {
        return Err(Failure::Usage(format!("--k {k}: must be in 1..={n}")));
    }
    if a.queries == 0 {
        return Err(Failure::Usage("--queries must be at least 1".into()));
    }
    // Queries: item vectors at seeded random rows.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut queries = vec![0.0f32; a.queries * d];
    for q in queries.chunks_exact_mut(d) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        index.vector((state % n as u64) as u32, q)?;
    }
    let mut ws = SearchWorkspace::default();
    let mut exact = Vec::with_capacity(a.queries);
    let mut hits = Vec::new();
    let t = Instant::now();
    for q in queries.chunks_exact(d) {
        index.search(q, k, &[], &mut ws, &mut hits)?;
        exact.push(hits.clone());
    }
    let exact_us = t.elapsed().as_secs_f64() * 1e6 / a.queries as f64;
    writeln!(
        out,
        "{}: {n} items x {d} ({:?}), {} queries, k = {k}",
        a.index.display(),
        index.dtype(),
        a.queries
    )?;
    writeln!(
        out,
        "{:>8}  {:>10}  {:>12}",
        "nprobe",
        format!("recall@{k}"),
        "us/query"
    )?;
    writeln!(out, "{:>8}  {:>10.4}  {:>12.1}", "exact", 1.0, exact_us)?;
    let Some(info) = index.ivf_info() else {
        writeln!(
            out,
            "(no IVF lists in this index: build it with --ivf to compare)"
        )?;
        return Ok(());
    };
    for &nprobe in &a.nprobe {
        if nprobe == 0 || nprobe > info.nlist {
            writeln!(
                out,
                "{nprobe:>8}  (skipped: the index has {} lists)",
                info.nlist
            )?;
            continue;
        }
        let mut recall = 0.0;
        let mut elapsed = Duration::ZERO;
        for (q, e) in queries.chunks_exact(d).zip(&exact) {
            let t = Instant::now();
            index.search_ivf(q, k, nprobe, &[], &mut ws, &mut hits)?;
            elapsed += t.elapsed();
            recall += recall_at_k(&hits, e);
        }
        let us = elapsed.as_secs_f64() * 1e6 / a.queries as f64;
        writeln!(
            out,
            "{nprobe:>8}  {:>10.4}  {us:>12.1}",
            recall / a.queries as f64
        )?;
    }
    Ok(())
}
