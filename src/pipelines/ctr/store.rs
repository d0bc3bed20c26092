//! Calibration in the model file (SPEC §4.5): `calibration.*` float tensors plus metadata
//! `reckon.calibration` = `binned` | `platt` | `isotonic`.
//!
//! | method   | tensors (f32)                                                        |
//! |----------|----------------------------------------------------------------------|
//! | binned   | `calibration.binned.edges` `[n + 1]`, `calibration.binned.ratios` `[n]` |
//! | platt    | `calibration.platt` `[2]` = `[a, b]`                                  |
//! | isotonic | `calibration.isotonic.x` `[k]`, `calibration.isotonic.y` `[k]`        |
//!
//! Writing copies every other tensor byte for byte (dtype and shape untouched) and every
//! metadata key, replacing any earlier calibration. The safetensors writer here is a minimal
//! private one; the file is written beside the target and renamed over it, so calibrating a
//! model in place never truncates the file other processes may have mapped.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::{Binned, Calibration, Isotonic, Method, Platt};
use crate::error::{Error, Result};
use crate::weights::{Container, Dtype, WeightFile, KEY_CALIBRATION};

const PREFIX: &str = "calibration.";
const BINNED_EDGES: &str = "calibration.binned.edges";
const BINNED_RATIOS: &str = "calibration.binned.ratios";
const PLATT: &str = "calibration.platt";
const ISO_X: &str = "calibration.isotonic.x";
const ISO_Y: &str = "calibration.isotonic.y";

impl Calibration {
    /// The calibration stored in `file`, or `None` when it has none. Errors: `reckon.calibration`
    /// without its tensors ([`Error::MissingTensor`]), tensors of another method or without the
    /// metadata ([`Error::UnexpectedTensor`]), a tensor of the wrong rank or length
    /// ([`Error::WrongShape`]), values that do not form a valid map ([`Error::InvalidArgument`]).
    pub fn from_file(file: &WeightFile) -> Result<Option<Calibration>> {
        let method = file.metadata().calibration;
        let expected: &[&str] = match method {
            None => &[],
            Some(Method::Binned) => &[BINNED_EDGES, BINNED_RATIOS],
            Some(Method::Platt) => &[PLATT],
            Some(Method::Isotonic) => &[ISO_X, ISO_Y],
        };
        if let Some(t) = file
            .tensors()
            .find(|t| t.name().starts_with(PREFIX) && !expected.contains(&t.name()))
        {
            return Err(Error::UnexpectedTensor {
                arch: "deepfm",
                tensor: t.name().to_string(),
            });
        }
        let vector = |name: &str| -> Result<Vec<f32>> {
            let t = file.tensor(name).map_err(|_| Error::MissingTensor {
                arch: "deepfm",
                tensor: name.to_string(),
            })?;
            if t.shape().len() != 1 {
                return Err(Error::WrongShape {
                    tensor: name.to_string(),
                    expected: "rank 1".into(),
                    actual: t.shape().to_vec(),
                });
            }
            t.to_f32_vec()
        };
        Ok(match method {
            None => None,
            Some(Method::Binned) => Some(Calibration::Binned(Binned::from_parts(
                vector(BINNED_EDGES)?,
                vector(BINNED_RATIOS)?,
            )?)),
            Some(Method::Platt) => {
                let ab = vector(PLATT)?;
                if ab.len() != 2 {
                    return Err(Error::WrongShape {
                        tensor: PLATT.into(),
                        expected: "[2] (a, b)".into(),
                        actual: vec![ab.len()],
                    });
                }
                Some(Calibration::Platt(Platt::new(ab[0], ab[1])?))
            }
            Some(Method::Isotonic) => Some(Calibration::Isotonic(Isotonic::from_parts(
                vector(ISO_X)?,
                vector(ISO_Y)?,
            )?)),
        })
    }

    /// The tensors this calibration is stored as: `(name, values)`, each 1-D f32.
    pub fn tensors(&self) -> Vec<(&'static str, Vec<f32>)> {
        match self {
            Calibration::Binned(c) => vec![
                (BINNED_EDGES, c.edges().to_vec()),
                (BINNED_RATIOS, c.ratios().to_vec()),
            ],
            Calibration::Platt(c) => vec![(PLATT, vec![c.a, c.b])],
            Calibration::Isotonic(c) => vec![(ISO_X, c.x().to_vec()), (ISO_Y, c.y().to_vec())],
        }
    }
}

/// One tensor to write.
struct Entry<'a> {
    name: &'a str,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: &'a [u8],
}

/// Writes `model` with `calibration` to `out` (which may be `model`'s own path): every tensor
/// and metadata key of `model` except an earlier calibration, plus the new one.
pub fn write_calibrated(model: &WeightFile, calibration: &Calibration, out: &Path) -> Result<()> {
    let container = Container::parse(model.file_bytes())?;
    let mut metadata: BTreeMap<String, String> = container.metadata().clone();
    metadata.insert(
        KEY_CALIBRATION.to_string(),
        calibration.method().name().to_string(),
    );

    // Widest dtypes first: with the header padded to 8 bytes, every tensor then starts aligned
    // to its element size and maps without a copy.
    let own = calibration.tensors();
    let own_bytes: Vec<Vec<u8>> = own
        .iter()
        .map(|(_, v)| bytemuck::cast_slice::<f32, u8>(v).to_vec())
        .collect();
    let mut entries: Vec<Entry<'_>> = model
        .tensors()
        .filter(|t| !t.name().starts_with(PREFIX))
        .map(|t| Entry {
            name: t.name(),
            dtype: t.dtype(),
            shape: t.shape().to_vec(),
            bytes: t.bytes(),
        })
        .collect();
    for ((name, values), bytes) in own.iter().zip(&own_bytes) {
        entries.push(Entry {
            name,
            dtype: Dtype::F32,
            shape: vec![values.len()],
            bytes,
        });
    }
    entries.sort_by(|a, b| {
        b.dtype
            .size()
            .cmp(&a.dtype.size())
            .then_with(|| a.name.cmp(b.name))
    });

    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for e in &entries {
        header.insert(
            e.name.to_string(),
            serde_json::json!({ "dtype": e.dtype.name(), "shape": e.shape, "data_offsets": [offset, offset + e.bytes.len()] }),
        );
        offset += e.bytes.len();
    }
    header.insert("__metadata__".into(), serde_json::json!(metadata));
    let mut json = serde_json::to_vec(&header).map_err(|e| Error::HeaderSyntax {
        reason: e.to_string(),
    })?;
    while json.len() % 8 != 0 {
        json.push(b' ');
    }

    let tmp = out.with_file_name(format!(
        ".{}.tmp{}",
        out.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("calibrated"),
        std::process::id()
    ));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let written = (|| -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        f.write_all(&(json.len() as u64).to_le_bytes())?;
        f.write_all(&json)?;
        for e in &entries {
            f.write_all(e.bytes)?;
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(out)(e));
    }
    std::fs::rename(&tmp, out).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(out)(e)
    })
}
