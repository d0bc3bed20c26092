//! `reckon demo`: the five pipelines on the bundled demo weights and request sets, as a readable
//! report with per-stage latencies. Everything it reads is under `weights/demo/` (made by
//! `weights/train_demo.py`); it writes nothing.

mod ctr;
mod fraud;
mod latency;
mod recommend;
mod search;

use std::io::Write;
use std::path::{Path, PathBuf};

use reckon::weights::Container;

use crate::Failure;
use latency::Latencies;

/// `reckon demo` flags.
#[derive(clap::Args)]
pub struct Args {
    /// Folder holding the demo weights (default: `weights/demo`, else the one this binary was
    /// built from).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Requests per latency measurement.
    #[arg(long, default_value_t = 300)]
    requests: usize,
}

/// Runs every section and prints the report.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let dir = demo_dir(args.weights.as_deref())?;
    let isa = reckon::kernels::selected()?.isa;
    writeln!(
        out,
        "reckon {} demo — weights from {} — kernels: {isa}",
        env!("CARGO_PKG_VERSION"),
        dir.display()
    )?;
    let requests = args.requests.max(10);
    let mut lat = Latencies::default();
    recommend::run(&dir, requests, &mut lat, out)?;
    search::run(&dir, requests, &mut lat, out)?;
    fraud::run(&dir, &mut lat, out)?;
    ctr::run(&dir, requests, &mut lat, out)?;
    heading(out, "Latency per stage (one thread)")?;
    lat.report(out)?;
    Ok(())
}

fn demo_dir(given: Option<&Path>) -> Result<PathBuf, Failure> {
    let candidates: Vec<PathBuf> = match given {
        Some(p) => vec![p.to_path_buf()],
        None => vec![
            PathBuf::from("weights/demo"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/demo"),
        ],
    };
    candidates
        .into_iter()
        .find(|p| p.join("two_tower.safetensors").is_file())
        .ok_or_else(|| {
            Failure::Usage(
                "demo weights not found: pass --weights DIR (the repository's weights/demo)".into(),
            )
        })
}

/// A section title.
fn heading(out: &mut dyn Write, title: &str) -> std::io::Result<()> {
    writeln!(
        out,
        "\n== {title} {}",
        "=".repeat(78usize.saturating_sub(title.len() + 4))
    )
}

/// A request set: a plain safetensors file of named arrays.
struct Requests {
    bytes: Vec<u8>,
    path: PathBuf,
}

impl Requests {
    fn open(dir: &Path, name: &str) -> Result<Requests, Failure> {
        let path = dir.join("requests").join(name);
        let bytes = std::fs::read(&path).map_err(|source| {
            Failure::Reckon(
                reckon::Error::Io {
                    path: path.clone(),
                    source,
                },
                None,
            )
        })?;
        Ok(Requests { bytes, path })
    }

    fn f32s(&self, name: &str) -> Result<Vec<f32>, Failure> {
        let c = Container::parse(&self.bytes).map_err(|e| Failure::in_file(&self.path, e))?;
        c.tensor(name)
            .and_then(|t| t.to_f32_vec())
            .map_err(|e| Failure::in_file(&self.path, e))
    }

    fn i64s(&self, name: &str) -> Result<Vec<i64>, Failure> {
        let c = Container::parse(&self.bytes).map_err(|e| Failure::in_file(&self.path, e))?;
        c.tensor(name)
            .and_then(|t| t.as_i64().map(|v| v.into_owned()))
            .map_err(|e| Failure::in_file(&self.path, e))
    }
}
