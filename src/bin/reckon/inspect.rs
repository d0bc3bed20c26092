//! `reckon inspect FILE`: what is in a weight file, and whether reckon accepts it.
//!
//! The container is printed before reckon's own rules run, so a file that fails validation
//! still shows its tensors: that listing is what someone debugging an export needs to see.

use std::io::Write;
use std::path::Path;

use reckon::weights::{Container, MappedFile, KEY_ARCH};

use crate::Failure;

/// Prints the listing of `path` to `out`, then validates it.
pub fn run(path: &Path, out: &mut impl Write) -> Result<(), Failure> {
    let file = MappedFile::open(path)?; // the I/O error already names the path
    let in_file = |e| Failure::in_file(path, e);
    let container = Container::parse(file.bytes()).map_err(in_file)?;
    print_listing(path, &container, out)?;
    out.flush()?;
    let metadata = container.validate().map_err(in_file)?;
    writeln!(out, "valid: {} model", metadata.arch)?;
    Ok(())
}

fn print_listing(path: &Path, c: &Container<'_>, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "file: {}", path.display())?;
    let arch = c.metadata().get(KEY_ARCH).map_or("(none)", String::as_str);
    writeln!(out, "arch: {arch}")?;
    writeln!(out, "metadata: {} keys", c.metadata().len())?;
    for (k, v) in c.metadata() {
        writeln!(out, "  {k} = {v}")?;
    }
    let mut rows: Vec<(&str, &str, String)> = c
        .tensors()
        .map(|t| (t.name(), t.dtype().name(), format!("{:?}", t.shape())))
        .collect();
    rows.sort_by(|a, b| natural_key(a.0).cmp(&natural_key(b.0)));
    let name_w = rows
        .iter()
        .map(|r| r.0.len())
        .max()
        .unwrap_or(0)
        .max("name".len());
    writeln!(out, "tensors: {}", rows.len())?;
    writeln!(out, "  {:name_w$}  {:5}  shape", "name", "dtype")?;
    for (name, dtype, shape) in &rows {
        writeln!(out, "  {name:name_w$}  {dtype:5}  {shape}")?;
    }
    let elements: usize = c.tensors().map(|t| t.numel()).sum();
    writeln!(
        out,
        "total: {} tensors, {elements} elements, {}",
        rows.len(),
        human_bytes(c.data_len())
    )
}

/// Sort key that orders `network.2` before `network.10`, as the layers run.
fn natural_key(name: &str) -> Vec<(u8, u64, &str)> {
    name.split('.')
        .map(|part| match part.parse::<u64>() {
            Ok(n) if !part.starts_with('+') => (0, n, part),
            _ => (1, 0, part),
        })
        .collect()
}

fn human_bytes(n: usize) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = "bytes";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    if unit == "bytes" {
        format!("{n} bytes")
    } else {
        format!("{n} bytes ({value:.1} {unit})")
    }
}
