//! The one error type of the library.
//!
//! Every fallible call returns [`Result<T>`]. Variants say *which* tensor, key, op or argument was
//! wrong and what was expected, so a log line is enough to fix a bad export without a debugger.
//! Weight-file variants are fine-grained on purpose: each malformed-file test asserts its own
//! variant, so a regression that turns one failure into another is caught.

use std::fmt;
use std::path::PathBuf;

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in reckon.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    // ---- I/O -------------------------------------------------------------------------------
    /// The file could not be opened, read or mapped.
    Io {
        /// The file involved.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },

    // ---- safetensors container ---------------------------------------------------------------
    /// The file ends before something it promises (the 8-byte length prefix or the header).
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// The header length prefix is larger than reckon accepts.
    HeaderTooLarge {
        /// Length the prefix claims.
        len: u64,
        /// Largest accepted header.
        max: u64,
    },
    /// The header is not valid UTF-8 / JSON, or not a JSON object of tensor entries.
    HeaderSyntax {
        /// What the parser said.
        reason: String,
    },
    /// A tensor entry in the header is malformed (missing or mistyped field, duplicate name...).
    TensorEntry {
        /// Tensor name as written in the header.
        tensor: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tensor's dtype string is not one safetensors defines, or one reckon cannot use.
    UnsupportedDtype {
        /// Tensor name.
        tensor: String,
        /// The dtype string found.
        dtype: String,
    },
    /// The product of a tensor's dimensions (times its element size) overflows.
    ShapeOverflow {
        /// Tensor name.
        tensor: String,
    },
    /// A tensor's `data_offsets` point outside the data area or are reversed.
    OffsetsOutOfRange {
        /// Tensor name.
        tensor: String,
        /// `data_offsets[0]`.
        start: u64,
        /// `data_offsets[1]`.
        end: u64,
        /// Size of the data area.
        data_len: u64,
    },
    /// `shape × dtype size` differs from the byte span given by `data_offsets`.
    ByteLengthMismatch {
        /// Tensor name.
        tensor: String,
        /// Bytes implied by shape and dtype.
        expected: u64,
        /// Bytes covered by the offsets.
        actual: u64,
    },
    /// Two tensors' byte ranges overlap.
    OverlappingTensors {
        /// The tensor found overlapping.
        tensor: String,
        /// The tensor it overlaps.
        other: String,
    },
    /// The data area has bytes no tensor covers (a hole or trailing garbage).
    DataNotCovered {
        /// First uncovered byte offset within the data area.
        offset: u64,
        /// Size of the data area.
        data_len: u64,
    },

    // ---- reckon metadata and architecture ----------------------------------------------------
    /// `__metadata__` has no `reckon.arch`.
    MissingArch,
    /// `reckon.arch` names an architecture reckon does not know.
    UnknownArch {
        /// The value found.
        arch: String,
    },
    /// A `reckon.*` metadata key reckon does not know (likely a typo that would be silently ignored).
    UnknownMetadataKey {
        /// The key.
        key: String,
    },
    /// A known `reckon.*` metadata key has a value that does not parse.
    BadMetadataValue {
        /// The key.
        key: String,
        /// The value found.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A tensor the architecture needs is absent.
    MissingTensor {
        /// Architecture being loaded.
        arch: &'static str,
        /// Name of the missing tensor.
        tensor: String,
    },
    /// A tensor that the architecture has no use for (often a sign of the wrong `reckon.arch`).
    UnexpectedTensor {
        /// Architecture being loaded.
        arch: &'static str,
        /// Name of the extra tensor.
        tensor: String,
    },
    /// A tensor has a dtype other than the one its role requires (e.g. float ids).
    WrongDtype {
        /// Tensor name.
        tensor: String,
        /// What was required.
        expected: &'static str,
        /// What was found.
        actual: &'static str,
    },
    /// A tensor's shape does not fit its role or its neighbours.
    WrongShape {
        /// Tensor name.
        tensor: String,
        /// What was expected, in words (e.g. `"[out, 192]"`).
        expected: String,
        /// Shape found.
        actual: Vec<usize>,
    },
    /// A tensor was looked up by name and is not in the file.
    NoSuchTensor {
        /// The requested name.
        tensor: String,
    },
    /// A tensor's values break a rule of its role (e.g. duplicate item ids in an index, IVF
    /// list offsets out of order).
    BadTensorValue {
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },

    // ---- kernel and call arguments ----------------------------------------------------------
    /// A buffer passed to an op has the wrong length for the shapes given.
    BufferLength {
        /// Op name (`linear`, `topk`, ...).
        op: &'static str,
        /// Which argument.
        arg: &'static str,
        /// Required length.
        expected: usize,
        /// Length passed.
        actual: usize,
    },
    /// An id is outside the rows of the table it indexes.
    IdOutOfRange {
        /// Table (tensor) name.
        table: String,
        /// The id.
        id: i64,
        /// Number of rows in the table.
        rows: usize,
    },
    /// An argument is invalid for a reason not covered above.
    InvalidArgument {
        /// Argument name.
        arg: &'static str,
        /// Why.
        reason: String,
    },
    /// A tensor layout reckon understands but cannot serve (e.g. a BatchNorm with no Linear after it).
    Unsupported {
        /// Tensor name.
        tensor: String,
        /// What is unsupported and why.
        reason: String,
    },
    /// An input value that the model refuses (NaN or infinite feature, by default).
    NonFiniteInput {
        /// Row of the offending value.
        row: usize,
        /// Column of the offending value.
        col: usize,
    },
    /// `RECKON_ISA` asks for an instruction set this CPU lacks, or names none reckon knows.
    UnsupportedIsa {
        /// The value of `RECKON_ISA`.
        requested: String,
        /// Why it cannot be honoured.
        reason: &'static str,
    },

    // ---- pipelines ---------------------------------------------------------------------------
    /// A state snapshot (e.g. the fraud feature engine's) is truncated, corrupted, of another
    /// version or taken under another configuration; the state it was meant for is unchanged.
    Snapshot {
        /// The snapshot file (`None` for an in-memory snapshot).
        path: Option<PathBuf>,
        /// What is wrong with it.
        reason: String,
    },
    /// A transaction older than the stream's newest timestamp minus the allowed lateness.
    LateTransaction {
        /// The transaction's timestamp (seconds).
        timestamp: f64,
        /// The newest timestamp seen so far.
        watermark: f64,
        /// The configured maximum lateness (seconds).
        max_lateness: f64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        match self {
            Io { path, source } => write!(f, "{}: {source}", path.display()),
            Truncated { what, needed, available } => {
                write!(f, "file truncated: {what} needs {needed} bytes, {available} present")
            }
            HeaderTooLarge { len, max } => {
                write!(f, "header length {len} exceeds the {max}-byte limit")
            }
            HeaderSyntax { reason } => write!(f, "malformed safetensors header: {reason}"),
            TensorEntry { tensor, reason } => write!(f, "tensor '{tensor}': {reason}"),
            UnsupportedDtype { tensor, dtype } => {
                write!(f, "tensor '{tensor}': unsupported dtype '{dtype}'")
            }
            ShapeOverflow { tensor } => write!(f, "tensor '{tensor}': shape size overflows"),
            OffsetsOutOfRange { tensor, start, end, data_len } => write!(
                f,
                "tensor '{tensor}': data_offsets [{start}, {end}) outside the {data_len}-byte data area"
            ),
            ByteLengthMismatch { tensor, expected, actual } => write!(
                f,
                "tensor '{tensor}': shape and dtype need {expected} bytes, offsets cover {actual}"
            ),
            OverlappingTensors { tensor, other } => {
                write!(f, "tensor '{tensor}' overlaps tensor '{other}'")
            }
            DataNotCovered { offset, data_len } => write!(
                f,
                "data area byte {offset} (of {data_len}) belongs to no tensor"
            ),
            MissingArch => write!(f, "metadata has no 'reckon.arch'"),
            UnknownArch { arch } => write!(
                f,
                "unknown reckon.arch '{arch}' (known: two_tower, ranker, ltr, fraud, deepfm, item_index)"
            ),
            UnknownMetadataKey { key } => write!(f, "unknown metadata key '{key}'"),
            BadMetadataValue { key, value, expected } => {
                write!(f, "metadata '{key}' = '{value}': expected {expected}")
            }
            MissingTensor { arch, tensor } => {
                write!(f, "{arch}: required tensor '{tensor}' is missing")
            }
            UnexpectedTensor { arch, tensor } => {
                write!(f, "{arch}: tensor '{tensor}' is not part of this architecture")
            }
            WrongDtype { tensor, expected, actual } => {
                write!(f, "tensor '{tensor}': dtype {actual}, expected {expected}")
            }
            WrongShape { tensor, expected, actual } => {
                write!(f, "tensor '{tensor}': shape {actual:?}, expected {expected}")
            }
            NoSuchTensor { tensor } => write!(f, "no tensor named '{tensor}'"),
            BadTensorValue { tensor, reason } => write!(f, "tensor '{tensor}': {reason}"),
            BufferLength { op, arg, expected, actual } => {
                write!(f, "{op}: '{arg}' has length {actual}, expected {expected}")
            }
            IdOutOfRange { table, id, rows } => {
                write!(f, "id {id} out of range for '{table}' ({rows} rows)")
            }
            InvalidArgument { arg, reason } => write!(f, "invalid '{arg}': {reason}"),
            Unsupported { tensor, reason } => write!(f, "tensor '{tensor}': unsupported: {reason}"),
            NonFiniteInput { row, col } => {
                write!(f, "input row {row}, column {col} is not a finite number")
            }
            UnsupportedIsa { requested, reason } => {
                write!(f, "RECKON_ISA={requested}: {reason}")
            }
            Snapshot { path: Some(path), reason } => {
                write!(f, "snapshot {}: {reason}", path.display())
            }
            Snapshot { path: None, reason } => write!(f, "snapshot: {reason}"),
            LateTransaction { timestamp, watermark, max_lateness } => write!(
                f,
                "transaction at {timestamp} s is more than {max_lateness} s older than the newest one ({watermark} s)"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
