//! `.npy` tables through `npyz`: 1-D (one column) or 2-D arrays of one numeric dtype.

use std::fs::File;
use std::io::{self, BufReader, BufWriter};

use npyz::{DType, NpyFile, Order, TypeChar, WriteOptions, WriterBuilder};

/// Values in file order, converted to the cell type.
type Values<T> = Box<dyn Iterator<Item = io::Result<T>>>;
type NpyIn = NpyFile<BufReader<File>>;

/// How each cell type is read from the dtypes it accepts.
pub trait NpyCell: Sized {
    /// The file's values as `Self`, or `None` if its dtype is not one `Self` accepts.
    fn values(npy: NpyIn) -> Option<Values<Self>>;
}

/// `(kind, bytes)` of a plain scalar dtype.
fn scalar(dtype: &DType) -> Option<(TypeChar, u64)> {
    match dtype {
        DType::Plain(t) => Some((t.type_char(), t.size_field())),
        _ => None,
    }
}

impl NpyCell for f32 {
    fn values(npy: NpyIn) -> Option<Values<f32>> {
        match scalar(&npy.dtype())? {
            (TypeChar::Float, 4) => Some(Box::new(npy.data::<f32>().ok()?)),
            // float64 is what NumPy makes by default; features need no more than f32.
            (TypeChar::Float, 8) => Some(Box::new(
                npy.data::<f64>().ok()?.map(|v| v.map(|v| v as f32)),
            )),
            _ => None,
        }
    }
}

impl NpyCell for i64 {
    fn values(npy: NpyIn) -> Option<Values<i64>> {
        match scalar(&npy.dtype())? {
            (TypeChar::Int, 8) => Some(Box::new(npy.data::<i64>().ok()?)),
            (TypeChar::Int, 4) => Some(Box::new(npy.data::<i32>().ok()?.map(|v| v.map(i64::from)))),
            _ => None,
        }
    }
}

/// Reads rows of a `.npy` array in order.
pub struct Reader<T> {
    values: Values<T>,
    cols: usize,
    rows_left: u64,
    total: u64,
    read: u64,
}

impl<T: super::Cell> Reader<T> {
    /// Reads the header; `model` names the reader of the values, for the wrong-dtype message.
    pub fn open(file: File, model: &str) -> Result<Reader<T>, String> {
        let npy = NpyFile::new(BufReader::new(file))
            .map_err(|e| format!("not a valid .npy file: {e}"))?;
        let shape = npy.shape().to_vec();
        let (rows, cols) = match shape[..] {
            [n] => (n, 1),
            [r, c] => (r, c),
            _ => {
                return Err(format!(
                    "array of shape {shape:?}; expected a table (1-D or 2-D)"
                ))
            }
        };
        let cols = usize::try_from(cols).map_err(|_| format!("{cols} columns is too many"))?;
        let fortran = shape.len() == 2 && npy.order() == Order::Fortran;
        let descr = npy.dtype().descr();
        let Some(values) = T::values(npy) else {
            return Err(format!(
                "dtype {descr}, but the {model} model takes {}",
                T::NPY_DTYPES
            ));
        };
        let total = rows.saturating_mul(cols as u64);
        let mut reader = Reader {
            values,
            cols,
            rows_left: rows,
            total,
            read: 0,
        };
        if fortran {
            reader.values = Box::new(reader.transposed(rows)?.into_iter().map(Ok));
        }
        Ok(reader)
    }

    /// Columns per row.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Appends up to `max_rows` rows to `buf`; returns how many.
    pub fn read_rows(&mut self, max_rows: usize, buf: &mut Vec<T>) -> Result<usize, String> {
        let rows = self.rows_left.min(max_rows as u64) as usize;
        for _ in 0..rows * self.cols {
            buf.push(self.next()?);
        }
        self.rows_left -= rows as u64;
        Ok(rows)
    }

    fn next(&mut self) -> Result<T, String> {
        let what = |e: Option<io::Error>| {
            let why = e.map_or(String::new(), |e| format!(": {e}"));
            format!(
                "data ends at value {} of {} (truncated file?){why}",
                self.read, self.total
            )
        };
        match self.values.next() {
            Some(Ok(v)) => {
                self.read += 1;
                Ok(v)
            }
            Some(Err(e)) => Err(what(Some(e))),
            None => Err(what(None)),
        }
    }

    /// A column-major (Fortran-order) file, read whole and returned row-major. NumPy writes this
    /// order for a transposed array, e.g. `np.save(path, x.T)`.
    fn transposed(&mut self, rows: u64) -> Result<Vec<T>, String> {
        let too_many = || format!("{rows} rows × {} columns is too many", self.cols);
        let rows = usize::try_from(rows).map_err(|_| too_many())?;
        let n = rows.checked_mul(self.cols).ok_or_else(too_many)?;
        let mut by_column = Vec::new();
        for _ in 0..n {
            by_column.push(self.next()?);
        }
        let mut by_row = vec![T::default(); by_column.len()];
        for (c, column) in by_column.chunks_exact(rows.max(1)).enumerate() {
            for (r, &v) in column.iter().enumerate() {
                by_row[r * self.cols + c] = v;
            }
        }
        Ok(by_row)
    }
}

/// Writes float32 rows: a 1-D array for one column, else 2-D. The row count goes into the
/// header when the writer finishes, so rows can be streamed.
pub struct Writer {
    inner: npyz::NpyWriter<f32, BufWriter<File>>,
}

impl Writer {
    /// Writes the header of an array with `cols` columns and a row count to be filled in.
    pub fn create(file: File, cols: usize) -> io::Result<Writer> {
        let options = WriteOptions::new()
            .default_dtype()
            .writer(BufWriter::new(file));
        let inner = if cols == 1 {
            options.begin_1d()?
        } else {
            options.begin_2d(cols as u64)?
        };
        Ok(Writer { inner })
    }

    /// Appends whole rows.
    pub fn write_rows(&mut self, values: &[f32]) -> io::Result<()> {
        self.inner.extend(values.iter().copied())
    }

    /// Fills in the row count and flushes.
    pub fn finish(self) -> io::Result<()> {
        self.inner.finish()
    }
}
