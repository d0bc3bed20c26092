//! `reckon_status`: the one return type of every C function, and how each [`Error`] maps onto it.
//!
//! In C the status type is a plain `int` whose values are named by the `reckon_status_code`
//! enum: a C caller may hand any int back to `reckon_status_str`, and receiving an out-of-range
//! value as a Rust enum would be undefined behaviour. Inside Rust, [`Status`] keeps matches
//! exhaustive.

use std::ffi::c_int;

use crate::error::Error;

/// What a reckon C function reports: `RECKON_OK` (0) or one of the `RECKON_*` failure classes;
/// `reckon_last_error()` holds the full message for this thread.
#[allow(non_camel_case_types)]
pub type reckon_status = c_int;

/// The short Rust name for [`reckon_status_code`].
pub(crate) use self::reckon_status_code as Status;

/// The values a `reckon_status` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum reckon_status_code {
    /// Success.
    RECKON_OK = 0,
    /// A NULL or misaligned pointer, a zero or overflowing count, or a value outside what the
    /// function accepts (k = 0, an unknown option string...).
    RECKON_INVALID_ARGUMENT = 1,
    /// A file could not be opened, read, mapped or written.
    RECKON_IO = 2,
    /// A weight, index or snapshot file is malformed or does not fit what it claims to be.
    RECKON_FORMAT = 3,
    /// Input dimensions do not fit the model or index (wrong `cols`, wrong vector width).
    RECKON_SHAPE = 4,
    /// The output buffer (`out_len`) is smaller than the call needs; nothing was written.
    RECKON_BUFFER_TOO_SMALL = 5,
    /// An id outside its embedding table, an unknown user or item.
    RECKON_OUT_OF_RANGE = 6,
    /// A NaN or infinite input that the options do not allow.
    RECKON_NON_FINITE = 7,
    /// A feature this build or this CPU does not have (a forced instruction set, a dtype...).
    RECKON_UNSUPPORTED = 8,
    /// A compute device could not be used (e.g. CUDA requested in a build without it).
    RECKON_DEVICE = 9,
    /// A transaction arrived later than the fraud engine's lateness allowance.
    RECKON_LATE = 10,
    /// A bug inside reckon was caught at the boundary; the message says where. The handle
    /// involved is still valid, but the call's outputs are unspecified.
    RECKON_PANIC = 11,
}

impl reckon_status_code {
    /// A static NUL-terminated description, for `reckon_status_str`.
    pub(crate) fn describe(self) -> &'static str {
        use reckon_status_code::*;
        match self {
            RECKON_OK => "ok\0",
            RECKON_INVALID_ARGUMENT => "invalid argument\0",
            RECKON_IO => "I/O error\0",
            RECKON_FORMAT => "malformed file\0",
            RECKON_SHAPE => "shape mismatch\0",
            RECKON_BUFFER_TOO_SMALL => "output buffer too small\0",
            RECKON_OUT_OF_RANGE => "out of range\0",
            RECKON_NON_FINITE => "non-finite input\0",
            RECKON_UNSUPPORTED => "unsupported\0",
            RECKON_DEVICE => "device error\0",
            RECKON_LATE => "late transaction\0",
            RECKON_PANIC => "internal panic\0",
        }
    }

    /// Every status, in numeric order (for tests and `reckon_status_str` checks).
    pub const ALL: [Status; 12] = {
        use reckon_status_code::*;
        [
            RECKON_OK,
            RECKON_INVALID_ARGUMENT,
            RECKON_IO,
            RECKON_FORMAT,
            RECKON_SHAPE,
            RECKON_BUFFER_TOO_SMALL,
            RECKON_OUT_OF_RANGE,
            RECKON_NON_FINITE,
            RECKON_UNSUPPORTED,
            RECKON_DEVICE,
            RECKON_LATE,
            RECKON_PANIC,
        ]
    };
}

impl From<&Error> for Status {
    /// No wildcard arm: a new error variant must be given a status on purpose.
    fn from(e: &Error) -> Status {
        use Error::*;
        match e {
            Io { .. } => Status::RECKON_IO,
            Truncated { .. }
            | HeaderTooLarge { .. }
            | HeaderSyntax { .. }
            | TensorEntry { .. }
            | UnsupportedDtype { .. }
            | ShapeOverflow { .. }
            | OffsetsOutOfRange { .. }
            | ByteLengthMismatch { .. }
            | OverlappingTensors { .. }
            | DataNotCovered { .. }
            | MissingArch
            | UnknownArch { .. }
            | UnknownMetadataKey { .. }
            | BadMetadataValue { .. }
            | MissingTensor { .. }
            | UnexpectedTensor { .. }
            | WrongDtype { .. }
            | WrongShape { .. }
            | NoSuchTensor { .. }
            | BadTensorValue { .. }
            | Snapshot { .. } => Status::RECKON_FORMAT,
            BufferLength { .. } => Status::RECKON_SHAPE,
            IdOutOfRange { .. } => Status::RECKON_OUT_OF_RANGE,
            InvalidArgument { .. } => Status::RECKON_INVALID_ARGUMENT,
            Unsupported { .. } | UnsupportedIsa { .. } => Status::RECKON_UNSUPPORTED,
            NonFiniteInput { .. } => Status::RECKON_NON_FINITE,
            LateTransaction { .. } => Status::RECKON_LATE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_numbered_in_order_and_described() {
        for (i, s) in Status::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            let text = s.describe();
            assert!(text.ends_with('\0') && text.len() > 1);
            assert!(!text[..text.len() - 1].contains('\0'));
        }
    }
}
