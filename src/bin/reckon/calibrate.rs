//! `reckon calibrate MODEL --ids IDS --labels LABELS --method binned|platt|isotonic -o OUT`: fit
//! a calibration of a DeepFM model's pCTR to observed clicks and store it in a copy of the model
//! file (SPEC §4.5).
//!
//! The model scores every row of IDS; the method is fitted to (pCTR, label) pairs; OUT gets
//! every tensor and metadata key of MODEL (dtypes untouched) plus `calibration.*` and
//! `reckon.calibration`, replacing any earlier calibration. ECE and log loss before and after
//! are printed; they are measured on the rows the calibration was fitted to (in-sample), so
//! judge the method on held-out rows with `reckon eval`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use reckon::metrics::{expected_calibration_error, log_loss, DEFAULT_ECE_BINS};
use reckon::models::DeepFm;
use reckon::pipelines::ctr::{write_calibrated, Calibration, Method, DEFAULT_BINS};
use reckon::weights::WeightFile;
use reckon::{Error, Model, Options, Workspace};

use crate::table::{Format, Input};
use crate::Failure;

/// Arguments of `reckon calibrate`.
#[derive(clap::Args)]
pub struct Args {
    /// The DeepFM model's .safetensors file.
    pub model: PathBuf,
    /// Impressions to fit on, .npy or .csv: integer ids, one column per field.
    #[arg(long, value_name = "FILE")]
    pub ids: PathBuf,
    /// Clicks for those rows, .npy or .csv: one 0/1 value per row (integer or float).
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// Calibration method.
    #[arg(long, value_enum)]
    pub method: MethodArg,
    /// Bins of the binned method (equal width over [0, 1]).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BINS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub bins: usize,
    /// Where to write the calibrated model (may be MODEL itself).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,
}

/// `--method` values.
#[derive(Clone, Copy, ValueEnum)]
pub enum MethodArg {
    /// The seed's per-bin ratio map.
    Binned,
    /// Platt scaling, sigmoid(a·logit(p) + b).
    Platt,
    /// Isotonic regression (pool-adjacent-violators), linearly interpolated.
    Isotonic,
}

/// Runs `reckon calibrate`.
pub fn run(args: &Args, out: &mut impl Write) -> Result<(), Failure> {
    let ids_format = Format::of(&args.ids, "ids")?;
    let labels_format = Format::of(&args.labels, "labels")?;
    let file =
        std::sync::Arc::new(WeightFile::open(&args.model).map_err(|e| blame(&args.model, e))?);
    let model = match Model::from_file(file.clone(), &Options::default())
        .map_err(|e| blame(&args.model, e))?
    {
        Model::DeepFm(m) => m,
        other => {
            return Err(Failure::Input(format!(
                "{}: a {} model; calibration is for deepfm CTR models",
                args.model.display(),
                other.arch()
            )))
        }
    };
    let labels = read_labels(&args.labels, labels_format)?;
    let pctr = score(&model, &args.ids, ids_format, labels.len())?;
    if pctr.len() != labels.len() {
        return Err(Failure::Input(format!(
            "{} has {} rows but {} has {}",
            args.ids.display(),
            pctr.len(),
            args.labels.display(),
            labels.len()
        )));
    }
    let method = match args.method {
        MethodArg::Binned => Method::Binned,
        MethodArg::Platt => Method::Platt,
        MethodArg::Isotonic => Method::Isotonic,
    };
    let cal =
        Calibration::fit(method, &pctr, &labels, args.bins).map_err(|e| blame(&args.labels, e))?;
    let mut after = vec![0.0; pctr.len()];
    cal.apply(&pctr, &mut after)?;
    write_calibrated(&file, &cal, &args.output)?;

    writeln!(
        out,
        "{} rows, {} clicks; {} calibration → {}",
        labels.len(),
        labels.iter().filter(|&&y| y == 1.0).count(),
        method.name(),
        args.output.display()
    )?;
    writeln!(out, "{}", describe(&cal))?;
    writeln!(
        out,
        "{:<10} {:>10} {:>10} {:>10}",
        "", "ECE@10", "log loss", "mean p"
    )?;
    for (name, p) in [("before", &pctr), ("after", &after)] {
        let ece = expected_calibration_error(p, &labels, DEFAULT_ECE_BINS)?;
        let ll = log_loss(p, &labels)?;
        let mean = p.iter().map(|&v| f64::from(v)).sum::<f64>() / p.len() as f64;
        writeln!(out, "{name:<10} {ece:>10.5} {ll:>10.5} {mean:>10.5}")?;
    }
    let ctr = labels.iter().map(|&v| f64::from(v)).sum::<f64>() / labels.len() as f64;
    writeln!(
        out,
        "observed CTR {ctr:.5}; metrics are in-sample (measured on the fitting rows)"
    )?;
    Ok(())
}

fn describe(cal: &Calibration) -> String {
    match cal {
        Calibration::Binned(c) => {
            let r: Vec<String> = c.ratios().iter().map(|r| format!("{r:.3}")).collect();
            format!("ratios per bin: {}", r.join(" "))
        }
        Calibration::Platt(c) => format!("sigmoid({:.5}·logit(p) + {:.5})", c.a, c.b),
        Calibration::Isotonic(c) => format!("{} interpolation points", c.x().len()),
    }
}

fn blame(path: &Path, e: Error) -> Failure {
    match e {
        Error::Io { .. } => Failure::from(e),
        e => Failure::in_file(path, e),
    }
}

/// Scores every row of `path` (expecting about `rows_hint` rows).
fn score(
    model: &DeepFm,
    path: &Path,
    format: Format,
    rows_hint: usize,
) -> Result<Vec<f32>, Failure> {
    let mut input = Input::<i64>::open(path, format, "deepfm")?;
    if let Some(cols) = input.cols().filter(|&c| c != model.fields()) {
        return Err(Failure::Input(format!(
            "{}: {cols} columns, expected {} (one id per field)",
            path.display(),
            model.fields()
        )));
    }
    let (mut ids, mut ws) = (Vec::new(), Workspace::default());
    let mut pctr = Vec::with_capacity(rows_hint);
    loop {
        let rows = input.read_rows(4096, &mut ids)?;
        if rows == 0 {
            return Ok(pctr);
        }
        let start = pctr.len();
        pctr.resize(start + rows, 0.0);
        model
            .predict_ids(&ids, rows, &mut pctr[start..], &mut ws.deepfm)
            .map_err(|e| match e {
                Error::IdOutOfRange { table, id, rows } => Failure::Input(format!(
                    "{}: id {id} is outside the vocabulary of '{table}' ({rows} rows)",
                    path.display()
                )),
                e => Failure::in_file(path, e),
            })?;
    }
}

/// Reads a column of 0/1 labels stored as floats (or CSV text), or as integers in a `.npy`.
fn read_labels(path: &Path, format: Format) -> Result<Vec<f32>, Failure> {
    let mut labels: Vec<f32> = match Input::<f32>::open(path, format, "calibrate") {
        Ok(input) => read_all(input)?,
        Err(first) if format == Format::Npy => {
            match Input::<i64>::open(path, format, "calibrate") {
                Ok(input) => read_all(input)?.into_iter().map(|v| v as f32).collect(),
                Err(_) => return Err(first),
            }
        }
        Err(e) => return Err(e),
    };
    labels.shrink_to_fit();
    Ok(labels)
}

fn read_all<T: crate::table::Cell>(mut input: Input<T>) -> Result<Vec<T>, Failure> {
    if let Some(cols) = input.cols().filter(|&c| c != 1) {
        return Err(Failure::Input(format!(
            "{}: {cols} columns, expected one label per row",
            input.path().display()
        )));
    }
    let (mut all, mut chunk) = (Vec::new(), Vec::new());
    while input.read_rows(65_536, &mut chunk)? > 0 {
        all.extend_from_slice(&chunk);
    }
    Ok(all)
}
