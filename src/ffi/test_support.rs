//! What the C ABI's unit tests share: the status values as C sees them and the thread's last
//! error message as a Rust string.

use std::ffi::CStr;

use super::core::reckon_last_error;
use super::status::{reckon_status, Status};

pub(crate) const OK: reckon_status = Status::RECKON_OK as reckon_status;
pub(crate) const INVALID: reckon_status = Status::RECKON_INVALID_ARGUMENT as reckon_status;
pub(crate) const PANIC: reckon_status = Status::RECKON_PANIC as reckon_status;

/// A status as the C ABI returns it.
pub(crate) fn st(s: Status) -> reckon_status {
    s as reckon_status
}

/// This thread's `reckon_last_error()` text.
pub(crate) fn last_error() -> String {
    // SAFETY: reckon_last_error never returns NULL and its text is NUL-terminated.
    unsafe { CStr::from_ptr(reckon_last_error()) }
        .to_string_lossy()
        .into_owned()
}
