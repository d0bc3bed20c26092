//! `reckon predict MODEL INPUT OUTPUT`: score every row of a table with a model.
//!
//! Dense models (ranker, ltr, fraud) read rows of features; DeepFM reads one integer id per
//! field; two-tower reads one id per row and writes its vector. Rows are scored `--batch` at a
//! time, so memory does not grow with the file. Every refusal (wrong width or dtype, NaN, an
//! unknown id) names the file and where in it, and leaves no half-written output behind.

use std::io::Write;
use std::path::PathBuf;

use clap::ValueEnum;
use reckon::kernels::Isa;
use reckon::models::{OutOfVocabulary, Tower};
use reckon::weights::Arch;
use reckon::{Error, Model, Options, Workspace};

use crate::table::{Cell, Format, Input, Output};
use crate::Failure;

/// Arguments of `reckon predict`.
#[derive(clap::Args)]
pub struct Args {
    /// The model's .safetensors file.
    pub model: PathBuf,
    /// Rows to score, .npy or .csv: features (floats) for ranker/ltr/fraud, integer ids for
    /// deepfm (one column per field) and two_tower (one column). A CSV file may start with a
    /// header row.
    pub input: PathBuf,
    /// Where to write the outputs, .npy or .csv (a CSV file gets a header naming the columns).
    pub output: PathBuf,
    /// Score rows holding NaN or ±inf instead of rejecting them.
    #[arg(long)]
    pub allow_non_finite: bool,
    /// Map ids outside a table's vocabulary to row N instead of failing (deepfm, two_tower).
    #[arg(long, value_name = "N")]
    pub oov_fallback_row: Option<i64>,
    /// Pin an instruction set (default: RECKON_ISA, else the best this CPU has).
    #[arg(long, value_enum)]
    pub isa: Option<IsaArg>,
    /// two_tower only: which tower embeds the ids [default: user].
    #[arg(long, value_enum)]
    pub tower: Option<TowerArg>,
    /// Rows scored per call; bounds memory.
    #[arg(long, value_name = "N", default_value_t = 4096,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub batch: usize,
}

/// `--isa` values.
#[derive(Clone, Copy, ValueEnum)]
pub enum IsaArg {
    /// Baseline SIMD through `wide`.
    Portable,
    /// AVX2 + FMA.
    Avx2,
    /// AVX-512.
    Avx512,
}

/// `--tower` values.
#[derive(Clone, Copy, ValueEnum)]
pub enum TowerArg {
    /// user_embedding + user_mlp.
    User,
    /// item_embedding + item_mlp.
    Item,
}

/// What a model reads and writes, worked out once.
struct Plan<'m> {
    model: &'m Model,
    tower: Tower,
    in_cols: usize,
    /// In words, for the wrong-width message.
    takes: String,
    out_names: Vec<String>,
}

impl<'m> Plan<'m> {
    fn new(model: &'m Model, args: &Args) -> Result<Plan<'m>, Failure> {
        let arch = model.arch();
        if args.tower.is_some() && !matches!(model, Model::TwoTower(_)) {
            return Err(Failure::Usage(format!(
                "--tower applies to two_tower models; this is a {arch} model"
            )));
        }
        if args.oov_fallback_row.is_some() && !model.takes_ids() {
            return Err(Failure::Usage(format!(
                "--oov-fallback-row applies to id models; {arch} takes dense features"
            )));
        }
        let tower = match args.tower {
            Some(TowerArg::Item) => Tower::Item,
            _ => Tower::User,
        };
        let names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        let (in_cols, out_cols) = model.dims();
        let (takes, out_names) = match model {
            Model::Dense(_) => {
                let out = match out_cols {
                    4 => names(&["p_click", "p_engage", "p_share", "score"]),
                    _ if arch == Arch::Fraud => names(&["probability"]),
                    _ => names(&["score"]),
                };
                (format!("{in_cols} dense feature columns"), out)
            }
            Model::DeepFm(_) => (
                format!("{in_cols} integer id columns, one per field"),
                names(&["pctr"]),
            ),
            Model::TwoTower(_) => {
                let side = if tower == Tower::User { "user" } else { "item" };
                (
                    format!("1 column: a {side} id per row"),
                    (0..out_cols).map(|i| format!("{side}_{i}")).collect(),
                )
            }
        };
        Ok(Plan {
            model,
            tower,
            in_cols,
            takes: format!("the {arch} model takes {takes}"),
            out_names,
        })
    }
}

/// Scores `args.input` into `args.output` and prints a one-line summary to `out`.
pub fn run(args: &Args, out: &mut impl Write) -> Result<(), Failure> {
    // Extensions first: a typo should not wait for a large model to load.
    let in_format = Format::of(&args.input, "input")?;
    let out_format = Format::of(&args.output, "output")?;
    // Creating the output truncates it: writing over the input would destroy the data being read.
    if let (Ok(a), Ok(b)) = (args.input.canonicalize(), args.output.canonicalize()) {
        if a == b {
            return Err(Failure::Usage(format!(
                "{}: output would overwrite the input",
                b.display()
            )));
        }
    }
    let model = open_model(args)?;
    let plan = Plan::new(&model, args)?;
    let rows = if model.takes_ids() {
        score::<i64>(&plan, args, in_format, out_format)?
    } else {
        score::<f32>(&plan, args, in_format, out_format)?
    };
    let names = match &plan.out_names[..] {
        [first, .., last] if plan.out_names.len() > 4 => format!("{first}..{last}"),
        names => names.join(","),
    };
    writeln!(
        out,
        "{rows} rows scored by {} → {} ({names})",
        model.arch(),
        args.output.display()
    )?;
    Ok(())
}

fn open_model(args: &Args) -> Result<Model, Failure> {
    let opts = Options {
        isa: args.isa.map(|i| match i {
            IsaArg::Portable => Isa::Portable,
            IsaArg::Avx2 => Isa::Avx2,
            IsaArg::Avx512 => Isa::Avx512,
        }),
        allow_non_finite: args.allow_non_finite,
        out_of_vocabulary: args
            .oov_fallback_row
            .map_or(OutOfVocabulary::Error, OutOfVocabulary::FallbackRow),
        ..Options::default()
    };
    Model::open(&args.model, &opts).map_err(|e| match e {
        Error::Io { .. } => Failure::from(e), // already names the file
        Error::UnsupportedIsa { requested, reason } if args.isa.is_some() => {
            Failure::Usage(format!("--isa {requested}: {reason}"))
        }
        Error::IdOutOfRange { .. } if args.oov_fallback_row.is_some() => {
            Failure::Usage(format!("--oov-fallback-row: {e}"))
        }
        e => Failure::in_file(&args.model, e),
    })
}

/// Reads, scores and writes chunk by chunk; returns the row count.
fn score<T: Infer>(
    plan: &Plan,
    args: &Args,
    in_format: Format,
    out_format: Format,
) -> Result<u64, Failure> {
    let mut input = Input::<T>::open(&args.input, in_format, plan.model.arch().name())?;
    if let Some(cols) = input.cols().filter(|&c| c != plan.in_cols) {
        return Err(Failure::Input(format!(
            "{}: {cols} columns, expected {}: {}",
            input.path().display(),
            plan.in_cols,
            plan.takes
        )));
    }
    let mut output = Output::create(&args.output, out_format, &plan.out_names)?;
    match stream(plan, args.batch, &mut input, &mut output) {
        Ok(rows) => output.finish().map(|()| rows),
        Err(e) => {
            output.discard();
            Err(e)
        }
    }
}

fn stream<T: Infer>(
    plan: &Plan,
    batch: usize,
    input: &mut Input<T>,
    output: &mut Output,
) -> Result<u64, Failure> {
    let (mut x, mut y, mut ws) = (Vec::new(), Vec::new(), Workspace::default());
    let mut done = 0u64;
    loop {
        let rows = input.read_rows(batch, &mut x)?;
        if rows == 0 {
            return Ok(done);
        }
        y.resize(rows * plan.out_names.len(), 0.0);
        T::infer(plan, &x, rows, &mut y, &mut ws).map_err(|e| explain(e, input, done))?;
        output.write_rows(&y)?;
        done += rows as u64;
    }
}

/// Turns a refusal of the chunk starting at row `first` into a message about the file.
fn explain<T: Cell>(e: Error, input: &Input<T>, first: u64) -> Failure {
    let file = input.path().display();
    match e {
        Error::NonFiniteInput { row, col } => Failure::Input(format!(
            "{file}: row {}{}, column {col} is not a finite number; \
             pass --allow-non-finite to score such rows anyway",
            first + row as u64,
            input.locate(row)
        )),
        Error::IdOutOfRange { table, id, rows } => Failure::Input(format!(
            "{file}: id {id} is outside the vocabulary of '{table}' ({rows} rows: ids 0 to {}); \
             pass --oov-fallback-row N to map unknown ids to row N",
            rows.saturating_sub(1)
        )),
        e => Failure::in_file(input.path(), e),
    }
}

/// Runs a model on one chunk of cells of this type.
trait Infer: Cell {
    fn infer(
        plan: &Plan,
        x: &[Self],
        rows: usize,
        out: &mut [f32],
        ws: &mut Workspace,
    ) -> reckon::Result<()>;
}

impl Infer for f32 {
    fn infer(
        plan: &Plan,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        ws: &mut Workspace,
    ) -> reckon::Result<()> {
        plan.model.predict(x, rows, out, ws)
    }
}

impl Infer for i64 {
    fn infer(
        plan: &Plan,
        ids: &[i64],
        rows: usize,
        out: &mut [f32],
        ws: &mut Workspace,
    ) -> reckon::Result<()> {
        match plan.model {
            Model::TwoTower(m) => m.embed(plan.tower, ids, out, &mut ws.two_tower),
            m => m.predict_ids(ids, rows, out, ws),
        }
    }
}
