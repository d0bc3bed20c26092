//! The `reckon` command-line tool. Each subcommand lives in its own module under `reckon/`;
//! this file only parses arguments and turns errors into exit codes.
//!
//! Exit codes: 0 success, 1 the input is invalid or the command failed, 2 bad usage or a file
//! that cannot be read.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

// A crate root resolves `mod x` next to itself, so subcommand files need an explicit path.
#[path = "reckon/bench.rs"]
mod bench;
#[path = "reckon/calibrate.rs"]
mod calibrate;
#[path = "reckon/demo/mod.rs"]
mod demo;
#[path = "reckon/eval.rs"]
mod eval;
#[path = "reckon/index.rs"]
mod index;
#[path = "reckon/inspect.rs"]
mod inspect;
#[path = "reckon/predict.rs"]
mod predict;
#[path = "reckon/table/mod.rs"]
mod table;

#[derive(Parser)]
#[command(
    name = "reckon",
    version,
    about = "Inference engine for recommendation, search, fraud and ads models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run all five pipelines on the bundled demo weights and print a report with latencies.
    Demo(demo::Args),
    /// Latency / throughput per pipeline on synthetic data sized by flags.
    Bench(bench::Args),
    /// Print a weight file's architecture, metadata and tensors, then validate it.
    Inspect {
        /// The .safetensors file.
        file: PathBuf,
    },
    /// Score every row of a .npy or .csv table with a model and write the outputs.
    Predict(predict::Args),
    /// Compute offline metrics (AUC, NDCG@k, ECE, ...) from files of scores and labels.
    Eval(eval::Args),
    /// Fit a calibration (binned, Platt or isotonic) of a DeepFM model's pCTR to observed clicks
    /// and store it in the model file. `reckon predict` still writes the uncalibrated pCTR (as
    /// the C ABI does); the CTR pipeline (`reckon::pipelines::ctr`) applies the calibration.
    Calibrate(calibrate::Args),
    /// Build an item index from a two-tower model, or evaluate IVF recall against exact search.
    Index(index::Args),
}

/// How a command failed.
pub enum Failure {
    /// A library error, with the file it concerns when the error itself does not say.
    Reckon(reckon::Error, Option<PathBuf>),
    /// Writing the report failed (e.g. a closed pipe).
    Output(io::Error),
    /// Input the command refuses (wrong width, NaN, unknown id...); the message names the file.
    Input(String),
    /// Flags that do not fit together or do not fit the model.
    Usage(String),
}

impl Failure {
    /// An error about the contents of `path`.
    pub fn in_file(path: &std::path::Path, e: reckon::Error) -> Failure {
        Failure::Reckon(e, Some(path.to_path_buf()))
    }
}

impl From<reckon::Error> for Failure {
    fn from(e: reckon::Error) -> Self {
        Failure::Reckon(e, None)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse(); // prints usage and exits with 2 on bad arguments
    let stdout = io::stdout();
    let result = match &cli.command {
        Command::Demo(args) => demo::run(args, &mut stdout.lock()),
        Command::Bench(args) => bench::run(args, &mut stdout.lock()),
        Command::Inspect { file } => inspect::run(file, &mut stdout.lock()),
        Command::Predict(args) => predict::run(args, &mut stdout.lock()),
        Command::Eval(args) => eval::run(args, &mut stdout.lock()),
        Command::Calibrate(args) => calibrate::run(args, &mut stdout.lock()),
        Command::Index(args) => index::run(args, &mut stdout.lock()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `reckon inspect f | head` closes the pipe early; that is not an error worth a message.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => report(&format!("cannot write output: {e}"), 1),
        Err(Failure::Input(message)) => report(&message, 1),
        Err(Failure::Usage(message)) => report(&message, 2),
        Err(Failure::Reckon(e, path)) => {
            let code = if matches!(e, reckon::Error::Io { .. }) {
                2
            } else {
                1
            };
            match path {
                Some(p) => report(&format!("{}: {e}", p.display()), code),
                None => report(&e.to_string(), code),
            }
        }
    }
}

fn report(message: &str, code: u8) -> ExitCode {
    let _ = writeln!(io::stderr(), "error: {message}");
    ExitCode::from(code)
}
