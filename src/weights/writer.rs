//! [`SafetensorsWriter`]: a minimal writer for the files reckon itself produces (item indexes,
//! calibrated models), the inverse of [`WeightFile`](super::WeightFile)'s reader.
//!
//! Layout choices, so that the reader can borrow tensors without copying:
//! - the JSON header is padded with spaces to a multiple of 8 bytes (as the safetensors crate
//!   does), so the data area starts 8-byte aligned;
//! - tensors are laid out by element size, largest first, then by name (again as the
//!   safetensors crate does), so every i64 tensor and (when all i64 tensors precede it) every
//!   f32 tensor starts aligned. The header lists entries by name (a JSON object).
//!
//! [`write`](SafetensorsWriter::write) writes a temporary file next to the target and renames it
//! over the target, so a reader that has the old file mapped keeps a consistent view and a crash
//! never leaves a half-written file under the final name.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use half::{bf16, f16};

use super::dtype::Dtype;
use crate::error::{Error, Result};

struct Pending {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// Collects metadata and tensors, then serialises them as one safetensors file.
#[derive(Default)]
pub struct SafetensorsWriter {
    metadata: BTreeMap<String, String>,
    tensors: BTreeMap<String, Pending>,
    error: Option<Error>,
}

impl std::fmt::Debug for SafetensorsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafetensorsWriter")
            .field("metadata", &self.metadata)
            .field("tensors", &self.tensors.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SafetensorsWriter {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a `__metadata__` entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Adds an f32 tensor.
    pub fn tensor_f32(self, name: &str, shape: &[usize], data: &[f32]) -> Self {
        self.tensor(name, Dtype::F32, shape, data.len(), |out| {
            le_bytes(data, out, |x| x.to_le_bytes())
        })
    }

    /// Adds an f16 tensor.
    pub fn tensor_f16(self, name: &str, shape: &[usize], data: &[f16]) -> Self {
        self.tensor(name, Dtype::F16, shape, data.len(), |out| {
            le_bytes(data, out, |x| x.to_le_bytes())
        })
    }

    /// Adds a bf16 tensor.
    pub fn tensor_bf16(self, name: &str, shape: &[usize], data: &[bf16]) -> Self {
        self.tensor(name, Dtype::BF16, shape, data.len(), |out| {
            le_bytes(data, out, |x| x.to_le_bytes())
        })
    }

    /// Adds an i64 tensor.
    pub fn tensor_i64(self, name: &str, shape: &[usize], data: &[i64]) -> Self {
        self.tensor(name, Dtype::I64, shape, data.len(), |out| {
            le_bytes(data, out, |x| x.to_le_bytes())
        })
    }

    /// Records a tensor; the first problem (shape/length mismatch, duplicate name) is kept and
    /// returned by [`to_bytes`](Self::to_bytes) / [`write`](Self::write), so calls chain.
    fn tensor(
        mut self,
        name: &str,
        dtype: Dtype,
        shape: &[usize],
        len: usize,
        fill: impl FnOnce(&mut Vec<u8>),
    ) -> Self {
        if self.error.is_some() {
            return self;
        }
        let numel = shape.iter().try_fold(1usize, |a, &s| a.checked_mul(s));
        if numel != Some(len) {
            self.error = Some(Error::BufferLength {
                op: "safetensors_write",
                arg: "data",
                expected: numel.unwrap_or(usize::MAX),
                actual: len,
            });
            return self;
        }
        if name == "__metadata__" || self.tensors.contains_key(name) {
            self.error = Some(Error::InvalidArgument {
                arg: "name",
                reason: format!("tensor name '{name}' is reserved or already used"),
            });
            return self;
        }
        let mut bytes = Vec::with_capacity(len * dtype.size());
        fill(&mut bytes);
        self.tensors.insert(
            name.to_string(),
            Pending {
                dtype,
                shape: shape.to_vec(),
                bytes,
            },
        );
        self
    }

    /// The whole file as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_to(&mut out)
            .map_err(|e| self.io_error(Path::new("<memory>"), e))?;
        Ok(out)
    }

    /// Writes the file to `path` (via a temporary file in the same folder and a rename).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if let Some(e) = &self.error {
            return Err(clone_error(e));
        }
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let result = (|| {
            let file = std::fs::File::create(&tmp)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            self.write_to(&mut w)?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        result.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.io_error(path, e)
        })
    }

    fn io_error(&self, path: &Path, source: std::io::Error) -> Error {
        match &self.error {
            Some(e) => clone_error(e),
            None => Error::Io {
                path: path.to_path_buf(),
                source,
            },
        }
    }

    fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        if self.error.is_some() {
            return Err(std::io::Error::other("invalid tensor"));
        }
        // Largest element first, then by name: keeps the wide types aligned.
        let mut order: Vec<(&String, &Pending)> = self.tensors.iter().collect();
        order.sort_by(|a, b| b.1.dtype.size().cmp(&a.1.dtype.size()).then(a.0.cmp(b.0)));
        let mut header = serde_json::Map::new();
        if !self.metadata.is_empty() {
            let meta = self
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            header.insert("__metadata__".into(), serde_json::Value::Object(meta));
        }
        let mut offset = 0usize;
        for (name, t) in &order {
            let end = offset + t.bytes.len();
            header.insert(
                (*name).clone(),
                serde_json::json!({
                    "dtype": t.dtype.name(),
                    "shape": t.shape,
                    "data_offsets": [offset, end],
                }),
            );
            offset = end;
        }
        let mut json = serde_json::to_vec(&serde_json::Value::Object(header))?;
        // 8 (length prefix) + header is a multiple of 8: the data area starts aligned.
        json.resize(json.len().div_ceil(8) * 8, b' ');
        w.write_all(&(json.len() as u64).to_le_bytes())?;
        w.write_all(&json)?;
        for (_, t) in &order {
            w.write_all(&t.bytes)?;
        }
        w.flush()
    }
}

/// Appends `data` little-endian: one copy on little-endian hosts, element by element elsewhere.
fn le_bytes<T: bytemuck::Pod, const B: usize>(
    data: &[T],
    out: &mut Vec<u8>,
    le: impl Fn(&T) -> [u8; B],
) {
    if cfg!(target_endian = "little") {
        out.extend_from_slice(bytemuck::cast_slice(data));
    } else {
        data.iter().for_each(|x| out.extend_from_slice(&le(x)));
    }
}

/// The writer's stored errors are only the two argument kinds; rebuild them for each call.
fn clone_error(e: &Error) -> Error {
    match e {
        Error::BufferLength {
            op,
            arg,
            expected,
            actual,
        } => Error::BufferLength {
            op,
            arg,
            expected: *expected,
            actual: *actual,
        },
        Error::InvalidArgument { arg, reason } => Error::InvalidArgument {
            arg,
            reason: reason.clone(),
        },
        other => Error::InvalidArgument {
            arg: "tensor",
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::{Arch, WeightFile};

    #[test]
    fn round_trips_through_the_reader() {
        let bytes = SafetensorsWriter::new()
            .metadata("reckon.arch", "item_index")
            .tensor_f32("vectors", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
            .tensor_i64("ids", &[2], &[7, 9])
            .to_bytes()
            .expect("bytes");
        let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        assert_eq!((8 + header_len) % 8, 0);
        let f = WeightFile::from_bytes(bytes).expect("valid file");
        assert_eq!(f.arch(), Arch::ItemIndex);
        assert_eq!(
            &*f.tensor("ids").expect("ids").as_i64().expect("i64"),
            &[7, 9]
        );
        let v = f.tensor("vectors").expect("vectors");
        assert_eq!(v.shape(), &[2, 3]);
        assert!(matches!(
            v.as_f32().expect("f32"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn shape_mismatch_and_duplicates_are_errors() {
        let w = SafetensorsWriter::new().tensor_f32("x", &[2, 2], &[1.0]);
        assert!(matches!(w.to_bytes(), Err(Error::BufferLength { .. })));
        let w = SafetensorsWriter::new()
            .tensor_i64("x", &[1], &[1])
            .tensor_i64("x", &[1], &[2]);
        assert!(matches!(w.to_bytes(), Err(Error::InvalidArgument { .. })));
    }
}
