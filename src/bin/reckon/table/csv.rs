//! CSV tables through the `csv` crate: one row per line, an optional header row.
//!
//! The first row is taken as a header when none of its fields is a number: a header
//! (`f0,f1,...`) never parses, while a data row with one typo still has numbers in it and is
//! reported as an error rather than silently dropped.

use std::fmt::Write as _;
use std::fs::File;
use std::io;

use ::csv::{ReaderBuilder, StringRecord, Trim, WriterBuilder};

/// Reads rows of numbers, checking each has as many fields as the first.
pub struct Reader<T> {
    inner: ::csv::Reader<File>,
    record: StringRecord,
    /// The first row, when it was data rather than a header.
    pending: Option<StringRecord>,
    cols: Option<usize>,
    /// What set the column count, for messages.
    cols_from: &'static str,
    /// Line of each row of the last chunk.
    lines: Vec<u64>,
    _cell: std::marker::PhantomData<T>,
}

impl<T: super::Cell> Reader<T> {
    /// Reads the first row to learn the column count and whether there is a header.
    pub fn open(file: File) -> Result<Reader<T>, String> {
        let inner = ReaderBuilder::new()
            .has_headers(false) // detected below instead
            .flexible(true) // ragged rows get our message, with the line number
            .trim(Trim::All)
            .from_reader(file);
        let mut reader = Reader {
            inner,
            record: StringRecord::new(),
            pending: None,
            cols: None,
            cols_from: "the first row",
            lines: Vec::new(),
            _cell: std::marker::PhantomData,
        };
        if reader.next_record()? {
            let first = reader.record.clone();
            reader.cols = Some(first.len());
            if first.iter().any(|f| f.parse::<f64>().is_ok()) {
                reader.pending = Some(first);
            } else {
                reader.cols_from = "the header";
            }
        }
        Ok(reader)
    }

    /// Columns per row; `None` when the file has no rows at all.
    pub fn cols(&self) -> Option<usize> {
        self.cols
    }

    /// Line of row `i` of the last chunk.
    pub fn line_of(&self, i: usize) -> Option<u64> {
        self.lines.get(i).copied()
    }

    /// Appends up to `max_rows` rows to `buf`; returns how many.
    pub fn read_rows(&mut self, max_rows: usize, buf: &mut Vec<T>) -> Result<usize, String> {
        self.lines.clear();
        while self.lines.len() < max_rows {
            match self.pending.take() {
                Some(first) => self.record = first,
                None if self.next_record()? => {}
                None => break,
            }
            let line = self.record.position().map_or(0, |p| p.line());
            let cols = self.cols.unwrap_or(0);
            if self.record.len() != cols {
                return Err(format!(
                    "line {line}: {} fields, expected {cols} like {}",
                    self.record.len(),
                    self.cols_from
                ));
            }
            for (c, field) in self.record.iter().enumerate() {
                let value = T::parse(field).ok_or_else(|| {
                    format!("line {line}, column {c}: '{field}' is not {}", T::WHAT)
                })?;
                buf.push(value);
            }
            self.lines.push(line);
        }
        Ok(self.lines.len())
    }

    fn next_record(&mut self) -> Result<bool, String> {
        // The crate's message already names the record, line and byte.
        self.inner
            .read_record(&mut self.record)
            .map_err(|e| e.to_string())
    }
}

/// Writes a header row, then rows of numbers, each in the shortest form that reads back as
/// the same f32.
pub struct Writer {
    inner: ::csv::Writer<File>,
    cols: usize,
    field: String,
}

impl Writer {
    /// Writes the header row.
    pub fn create(file: File, names: &[String]) -> io::Result<Writer> {
        let mut inner = WriterBuilder::new().from_writer(file);
        inner.write_record(names)?;
        Ok(Writer {
            inner,
            cols: names.len(),
            field: String::new(),
        })
    }

    /// Appends whole rows.
    pub fn write_rows(&mut self, values: &[f32]) -> io::Result<()> {
        for row in values.chunks(self.cols.max(1)) {
            for v in row {
                self.field.clear();
                let _ = write!(self.field, "{v}"); // writing to a String cannot fail
                self.inner.write_field(&self.field)?;
            }
            self.inner.write_record(None::<&[u8]>)?;
        }
        Ok(())
    }

    /// Flushes.
    pub fn finish(mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
