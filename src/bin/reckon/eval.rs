//! `reckon eval --metric auc,ndcg@10,... --scores FILE --labels FILE [--groups FILE]`: offline
//! metrics over files of model scores and labels, printed as a small table.
//!
//! Each file holds one number per row: a 1-D (or one-column) `.npy` array of any real or
//! integer dtype (or bool), or text with one number per line (CSV with a single column; a
//! header line is skipped). The format is told by the file's first bytes, not its name, so a
//! `.txt`, `.csv` or extension-less file all read as text. `--groups` gives each row's query id
//! (integers): ranking metrics are then computed per query and averaged; classification and
//! calibration metrics always use all rows.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use npyz::{DType, NpyFile, TypeChar};
use reckon::metrics::{self, RankingMetric, DEFAULT_ECE_BINS};
use reckon::Error;

use crate::table::{Cell, Format, Input};
use crate::Failure;

/// Arguments of `reckon eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Metrics to compute, comma-separated: auc, pr_auc, ece (or ece@BINS), logloss,
    /// ndcg@K, mrr, precision@K, recall@K, hit_rate@K, fraud@THRESHOLD (precision, recall, F1
    /// and false-positive rate of flagging scores ≥ THRESHOLD).
    #[arg(long, value_delimiter = ',', required = true, value_name = "LIST")]
    pub metric: Vec<String>,
    /// Model scores, one per row (.npy or text). Probabilities for ece, logloss and fraud@T.
    #[arg(long, value_name = "FILE")]
    pub scores: PathBuf,
    /// Labels, one per row: 0/1 for classification metrics, relevance grades ≥ 0 for ranking
    /// metrics (a grade above 0 counts as relevant).
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// Query id of each row (integers); without it, all rows are one query.
    #[arg(long, value_name = "FILE")]
    pub groups: Option<PathBuf>,
    /// Bins for `ece` (equal width over [0, 1]).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_ECE_BINS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub bins: usize,
}

/// One requested metric.
#[derive(Clone, Copy)]
enum Metric {
    Auc,
    PrAuc,
    Ece(usize),
    LogLoss,
    Ranking(RankingMetric),
    Threshold(f32),
}

const KNOWN: &str = "auc, pr_auc, ece, ece@BINS, logloss, ndcg@K, mrr, precision@K, recall@K, hit_rate@K, fraud@THRESHOLD";

/// Runs `reckon eval`.
pub fn run(args: &Args, out: &mut impl Write) -> Result<(), Failure> {
    // Names first: a typo should not wait for large files to load.
    let wanted = args
        .metric
        .iter()
        .map(|name| parse_metric(name, args.bins))
        .collect::<Result<Vec<_>, _>>()?;
    let scores: Vec<f32> = read_column(&args.scores)?;
    let labels: Vec<f32> = read_column(&args.labels)?;
    same_rows(&args.scores, scores.len(), &args.labels, labels.len())?;
    let groups: Option<Vec<i64>> = match &args.groups {
        Some(path) => {
            let groups = read_column(path)?;
            same_rows(&args.scores, scores.len(), path, groups.len())?;
            Some(groups)
        }
        None => None,
    };
    let mut table = Vec::new();
    for (name, metric) in args.metric.iter().zip(&wanted) {
        evaluate(
            name.trim(),
            *metric,
            &scores,
            &labels,
            groups.as_deref(),
            &mut table,
        )
        .map_err(|e| blame(name.trim(), e, args))?;
    }
    print_table(&table, out)?;
    Ok(())
}

fn parse_metric(name: &str, bins: usize) -> Result<Metric, Failure> {
    let name = name.trim();
    let usage = |why: &str| Failure::Usage(format!("--metric {name}: {why} (known: {KNOWN})"));
    let (base, arg) = match name.split_once('@') {
        Some((b, a)) => (b, Some(a)),
        None => (name, None),
    };
    let k = || -> Result<usize, Failure> {
        match arg.map(str::parse::<usize>) {
            Some(Ok(k)) if k > 0 => Ok(k),
            Some(_) => Err(usage("the cutoff must be a whole number ≥ 1")),
            None => Err(usage(&format!("{base} needs a cutoff, e.g. {base}@10"))),
        }
    };
    let no_arg = |m: Metric| {
        if arg.is_some() {
            Err(usage("takes no @ argument"))
        } else {
            Ok(m)
        }
    };
    match base.to_ascii_lowercase().as_str() {
        "auc" | "roc_auc" => no_arg(Metric::Auc),
        "pr_auc" | "average_precision" => no_arg(Metric::PrAuc),
        "logloss" | "log_loss" => no_arg(Metric::LogLoss),
        "mrr" => no_arg(Metric::Ranking(RankingMetric::ReciprocalRank)),
        "ece" => match arg {
            None => Ok(Metric::Ece(bins)),
            Some(_) => k().map(Metric::Ece),
        },
        "ndcg" => k().map(|k| Metric::Ranking(RankingMetric::Ndcg(k))),
        "precision" => k().map(|k| Metric::Ranking(RankingMetric::Precision(k))),
        "recall" => k().map(|k| Metric::Ranking(RankingMetric::Recall(k))),
        "hit_rate" | "hit" => k().map(|k| Metric::Ranking(RankingMetric::HitRate(k))),
        "fraud" => match arg.map(str::parse::<f32>) {
            None => Ok(Metric::Threshold(0.5)),
            Some(Ok(t)) if t.is_finite() => Ok(Metric::Threshold(t)),
            Some(_) => Err(usage(
                "the threshold must be a finite number, e.g. fraud@0.5",
            )),
        },
        "" => Err(usage("empty metric name")),
        _ => Err(usage("unknown metric")),
    }
}

/// One printed row: metric, value, what it was computed over.
type Row = (String, String, String);

fn evaluate(
    name: &str,
    metric: Metric,
    scores: &[f32],
    labels: &[f32],
    groups: Option<&[i64]>,
    table: &mut Vec<Row>,
) -> reckon::Result<()> {
    let rows = || {
        let positives = labels.iter().filter(|&&y| y == 1.0).count();
        format!("{} rows, {positives} positive", scores.len())
    };
    let mut push = |n: String, v: f64, over: String| table.push((n, format!("{v:.6}"), over));
    match metric {
        Metric::Auc => push(name.into(), metrics::roc_auc(scores, labels)?, rows()),
        Metric::PrAuc => push(name.into(), metrics::pr_auc(scores, labels)?, rows()),
        Metric::LogLoss => push(name.into(), metrics::log_loss(scores, labels)?, rows()),
        Metric::Ece(bins) => {
            let over = format!("{}, {bins} bins", rows());
            push(
                name.into(),
                metrics::expected_calibration_error(scores, labels, bins)?,
                over,
            )
        }
        Metric::Ranking(m) => {
            let all = vec![0u8; scores.len()];
            let mean = match groups {
                Some(g) => metrics::mean_over_queries(m, scores, labels, g)?,
                None => metrics::mean_over_queries(m, scores, labels, &all)?,
            };
            let mut over = format!(
                "{} {}",
                mean.queries,
                if mean.queries == 1 {
                    "query"
                } else {
                    "queries"
                }
            );
            if mean.skipped > 0 {
                over += &format!(" ({} skipped: no relevant row)", mean.skipped);
            }
            push(name.into(), mean.value, over)
        }
        Metric::Threshold(t) => {
            let m = metrics::threshold_metrics(scores, labels, t)?;
            let counts = format!(
                "TP {} FP {} FN {} TN {}",
                m.true_positives, m.false_positives, m.false_negatives, m.true_negatives
            );
            for (what, v) in [
                ("precision", m.precision),
                ("recall", m.recall),
                ("f1", m.f1),
                ("fpr", m.false_positive_rate),
            ] {
                push(format!("fraud@{t} {what}"), v, counts.clone());
            }
        }
    }
    Ok(())
}

/// Turns a metric's refusal into a message naming the file it concerns.
fn blame(name: &str, e: Error, args: &Args) -> Failure {
    match e {
        Error::InvalidArgument {
            arg: "scores",
            reason,
        } => Failure::Input(format!("{}: {reason}", args.scores.display())),
        Error::InvalidArgument {
            arg: "labels",
            reason,
        } => Failure::Input(format!("{}: {reason}", args.labels.display())),
        e => Failure::Input(format!("{name}: {e}")),
    }
}

fn same_rows(a: &Path, a_len: usize, b: &Path, b_len: usize) -> Result<(), Failure> {
    if a_len != b_len {
        return Err(Failure::Input(format!(
            "{} has {a_len} rows but {} has {b_len}; each row of one must match the same row of the other",
            a.display(),
            b.display()
        )));
    }
    Ok(())
}

fn print_table(table: &[Row], out: &mut impl Write) -> std::io::Result<()> {
    let header = (
        "metric".to_string(),
        "value".to_string(),
        "over".to_string(),
    );
    let all = std::iter::once(&header).chain(table);
    let w0 = all.clone().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let w1 = all.clone().map(|r| r.1.chars().count()).max().unwrap_or(0);
    for (name, value, over) in all {
        writeln!(out, "{name:<w0$}  {value:>w1$}  {over}")?;
    }
    Ok(())
}

// ---- reading one column ------------------------------------------------------------------------

type NpyIn = NpyFile<BufReader<File>>;

/// A value type a column may be read as: scores and labels as f32, query ids as i64.
trait Column: Cell {
    /// The file's values as `Self`, or why they cannot be.
    fn from_npy(npy: NpyIn) -> Result<Vec<Self>, String>;
}

impl Column for f32 {
    fn from_npy(npy: NpyIn) -> Result<Vec<f32>, String> {
        let descr = npy.dtype().descr();
        // Labels and grades are small integers, exact in f32; scores of f64 need no more.
        let v = match kind(&npy.dtype()) {
            Some((TypeChar::Float, 4)) => convert(npy, |x: f32| x),
            Some((TypeChar::Float, 8)) => convert(npy, |x: f64| x as f32),
            Some((TypeChar::Bool, _)) => convert(npy, |b: bool| f32::from(u8::from(b))),
            Some((TypeChar::Int | TypeChar::Uint, _)) => integers(npy, |x| x as f32),
            _ => None,
        };
        v.ok_or_else(|| format!("dtype {descr}; expected numbers (float32/64, integers or bool)"))?
            .map_err(|e| format!("cannot read the values: {e}"))
    }
}

impl Column for i64 {
    fn from_npy(npy: NpyIn) -> Result<Vec<i64>, String> {
        let descr = npy.dtype().descr();
        let v = match kind(&npy.dtype()) {
            // Ids only need to be told apart, so a u64 id above i64::MAX may wrap.
            Some((TypeChar::Int | TypeChar::Uint, _)) => integers(npy, |x| x as i64),
            _ => None,
        };
        v.ok_or_else(|| format!("dtype {descr}; query ids must be integers"))?
            .map_err(|e| format!("cannot read the values: {e}"))
    }
}

fn kind(dtype: &DType) -> Option<(TypeChar, u64)> {
    match dtype {
        DType::Plain(t) => Some((t.type_char(), t.size_field())),
        _ => None,
    }
}

/// Any integer dtype, widened to i128 (which holds every u64 and i64) and converted.
fn integers<T>(npy: NpyIn, f: impl Fn(i128) -> T) -> Option<io::Result<Vec<T>>> {
    match kind(&npy.dtype())? {
        (TypeChar::Int, 1) => convert(npy, |x: i8| f(x.into())),
        (TypeChar::Int, 2) => convert(npy, |x: i16| f(x.into())),
        (TypeChar::Int, 4) => convert(npy, |x: i32| f(x.into())),
        (TypeChar::Int, 8) => convert(npy, |x: i64| f(x.into())),
        (TypeChar::Uint, 1) => convert(npy, |x: u8| f(x.into())),
        (TypeChar::Uint, 2) => convert(npy, |x: u16| f(x.into())),
        (TypeChar::Uint, 4) => convert(npy, |x: u32| f(x.into())),
        (TypeChar::Uint, 8) => convert(npy, |x: u64| f(x.into())),
        _ => None,
    }
}

/// Reads every value as `S` and converts it; `None` when npyz cannot read the dtype as `S`.
fn convert<S: npyz::Deserialize, T>(npy: NpyIn, f: impl Fn(S) -> T) -> Option<io::Result<Vec<T>>> {
    let values = npy.data::<S>().ok()?;
    Some(values.map(|v| v.map(&f)).collect())
}

/// Reads a one-column file, `.npy` or text, told apart by NumPy's magic bytes.
fn read_column<T: Column>(path: &Path) -> Result<Vec<T>, Failure> {
    let io = |source| {
        Failure::Reckon(
            Error::Io {
                path: path.to_path_buf(),
                source,
            },
            None,
        )
    };
    let in_file = |m: String| Failure::Input(format!("{}: {m}", path.display()));
    let mut magic = [0u8; 6];
    let mut file = File::open(path).map_err(io)?;
    let n = file.read(&mut magic).map_err(io)?;
    if magic[..n] == *b"\x93NUMPY" {
        let npy = NpyFile::new(BufReader::new(File::open(path).map_err(io)?))
            .map_err(|e| in_file(format!("not a valid .npy file: {e}")))?;
        match npy.shape() {
            [_] | [_, 1] => {}
            shape => {
                return Err(in_file(format!(
                    "array of shape {shape:?}; expected one value per row (1-D)"
                )))
            }
        }
        return T::from_npy(npy).map_err(in_file);
    }
    let mut input = Input::<T>::open(path, Format::Csv, "eval")?;
    if let Some(cols) = input.cols().filter(|&c| c != 1) {
        return Err(in_file(format!(
            "{cols} columns; expected one number per line"
        )));
    }
    let (mut all, mut chunk) = (Vec::new(), Vec::new());
    while input.read_rows(65536, &mut chunk)? > 0 {
        all.extend_from_slice(&chunk);
    }
    Ok(all)
}
