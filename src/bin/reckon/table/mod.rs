//! Tables of numbers in files: what `reckon predict` reads and writes.
//!
//! Two formats, chosen by extension: `.npy` (NumPy, through `npyz`) and `.csv` (through `csv`).
//! Input is read a chunk of rows at a time, so memory stays bounded by the chunk size whatever
//! the file's size (except a Fortran-ordered `.npy`, which has to be read whole to transpose it).
//!
//! In messages, rows and columns count from 0 (as NumPy indexes them); CSV lines count from 1
//! (as editors show them).

mod csv;
mod npy;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::Failure;

/// A file format, chosen by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// NumPy `.npy`.
    Npy,
    /// Comma-separated text, optionally with one header row.
    Csv,
}

impl Format {
    /// The format of `path`; `role` ("input", "output") is for the message.
    pub fn of(path: &Path, role: &str) -> Result<Format, Failure> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("npy") => Ok(Format::Npy),
            Some("csv") => Ok(Format::Csv),
            _ => Err(Failure::Input(format!(
                "{}: unknown {role} format; the file name must end in .npy or .csv",
                path.display()
            ))),
        }
    }
}

/// A value type an input table can hold.
pub trait Cell: npy::NpyCell + Copy + Default + 'static {
    /// What each value must be, for messages ("a number").
    const WHAT: &'static str;
    /// The `.npy` dtypes accepted, for messages.
    const NPY_DTYPES: &'static str;
    /// Parses one CSV field (already trimmed).
    fn parse(field: &str) -> Option<Self>;
}

impl Cell for f32 {
    const WHAT: &'static str = "a number";
    const NPY_DTYPES: &'static str = "dense features (float32 or float64)";
    fn parse(field: &str) -> Option<f32> {
        field.parse().ok()
    }
}

impl Cell for i64 {
    const WHAT: &'static str = "an integer id";
    const NPY_DTYPES: &'static str = "integer ids (int64 or int32)";
    fn parse(field: &str) -> Option<i64> {
        field.parse().ok()
    }
}

/// An input table being read in chunks of rows.
pub struct Input<T> {
    path: PathBuf,
    source: Source<T>,
}

enum Source<T> {
    Npy(npy::Reader<T>),
    Csv(csv::Reader<T>),
}

impl<T: Cell> Input<T> {
    /// Opens `path` and reads its shape (and, for CSV, its first row). `model` names who will
    /// read the values, for the wrong-dtype message.
    pub fn open(path: &Path, format: Format, model: &str) -> Result<Input<T>, Failure> {
        let file = File::open(path).map_err(|source| reckon::Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let source = match format {
            Format::Npy => {
                Source::Npy(npy::Reader::open(file, model).map_err(|m| in_file(path, m))?)
            }
            Format::Csv => Source::Csv(csv::Reader::open(file).map_err(|m| in_file(path, m))?),
        };
        Ok(Input {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Columns per row; `None` for a CSV file with no rows at all.
    pub fn cols(&self) -> Option<usize> {
        match &self.source {
            Source::Npy(r) => Some(r.cols()),
            Source::Csv(r) => r.cols(),
        }
    }

    /// Replaces `buf` with up to `max_rows` rows, row-major; returns how many (0 at the end).
    pub fn read_rows(&mut self, max_rows: usize, buf: &mut Vec<T>) -> Result<usize, Failure> {
        buf.clear();
        let read = match &mut self.source {
            Source::Npy(r) => r.read_rows(max_rows, buf),
            Source::Csv(r) => r.read_rows(max_rows, buf),
        };
        read.map_err(|m| in_file(&self.path, m))
    }

    /// Where row `i` of the last chunk sits in the file, for messages: `" (line 7)"` in a CSV
    /// file, nothing in a `.npy` one.
    pub fn locate(&self, i: usize) -> String {
        match &self.source {
            Source::Npy(_) => String::new(),
            Source::Csv(r) => r
                .line_of(i)
                .map_or(String::new(), |l| format!(" (line {l})")),
        }
    }
}

/// An output table being written in chunks of rows.
pub struct Output {
    path: PathBuf,
    sink: Sink,
}

enum Sink {
    Npy(npy::Writer),
    Csv(Box<csv::Writer>), // boxed: it holds its own buffer
}

impl Output {
    /// Creates `path` for rows of `names.len()` columns. A CSV file gets `names` as its header;
    /// a `.npy` file is 1-D when there is one column, else 2-D, as NumPy code would expect.
    pub fn create(path: &Path, format: Format, names: &[String]) -> Result<Output, Failure> {
        let cannot =
            |e: io::Error| Failure::Input(format!("{}: cannot write: {e}", path.display()));
        let file = File::create(path).map_err(cannot)?;
        let sink = match format {
            Format::Npy => npy::Writer::create(file, names.len()).map(Sink::Npy),
            Format::Csv => csv::Writer::create(file, names).map(|w| Sink::Csv(Box::new(w))),
        };
        match sink {
            Ok(sink) => Ok(Output {
                path: path.to_path_buf(),
                sink,
            }),
            Err(e) => {
                let _ = std::fs::remove_file(path);
                Err(cannot(e))
            }
        }
    }

    /// Appends rows (`values` holds whole rows, row-major).
    pub fn write_rows(&mut self, values: &[f32]) -> Result<(), Failure> {
        let written = match &mut self.sink {
            Sink::Npy(w) => w.write_rows(values),
            Sink::Csv(w) => w.write_rows(values),
        };
        written.map_err(|e| Failure::Input(format!("{}: cannot write: {e}", self.path.display())))
    }

    /// Completes the file; on failure, removes it.
    pub fn finish(self) -> Result<(), Failure> {
        let finished = match self.sink {
            Sink::Npy(w) => w.finish(),
            Sink::Csv(w) => (*w).finish(),
        };
        finished.map_err(|e| {
            let _ = std::fs::remove_file(&self.path);
            Failure::Input(format!("{}: cannot write: {e}", self.path.display()))
        })
    }

    /// Removes the unfinished file, so a failed run leaves no half-written output behind.
    pub fn discard(self) {
        let Output { path, sink } = self;
        drop(sink); // close the file before removing it
        let _ = std::fs::remove_file(path);
    }
}

fn in_file(path: &Path, message: String) -> Failure {
    Failure::Input(format!("{}: {message}", path.display()))
}
