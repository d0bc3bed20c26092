//! What every C export goes through: the panic boundary, the thread-local last-error message,
//! and checked conversions of raw pointers into Rust references and slices.
//!
//! An export is written as `guard(|| { ...checks...; work; Ok(()) })`. Checks come before any
//! write to caller memory, so a failed call leaves the caller's outputs untouched.

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::status::{reckon_status, Status};
use crate::error::Error;

/// A failed call: the status returned to C and the message `reckon_last_error()` will give.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub status: Status,
    pub message: String,
}

impl FfiError {
    pub fn new(status: Status, message: impl Into<String>) -> FfiError {
        FfiError {
            status,
            message: message.into(),
        }
    }

    /// `RECKON_INVALID_ARGUMENT` naming the argument.
    pub fn invalid(arg: &str, reason: impl std::fmt::Display) -> FfiError {
        FfiError::new(Status::RECKON_INVALID_ARGUMENT, format!("{arg}: {reason}"))
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> FfiError {
        FfiError {
            status: Status::from(&e),
            message: e.to_string(),
        }
    }
}

pub(crate) type FfiResult<T> = std::result::Result<T, FfiError>;

/// For `.map_err` on anything that opens `path`: the message names the file, which a format
/// error's own text does not (an I/O error's already does).
pub(crate) fn opening(path: &str) -> impl FnOnce(Error) -> FfiError + '_ {
    move |e| {
        let named = matches!(e, Error::Io { .. });
        let mut f = FfiError::from(e);
        if !named {
            f.message = format!("{path}: {}", f.message);
        }
        f
    }
}

thread_local! {
    /// NUL-terminated message of this thread's last failed call ("" after a success).
    static LAST_ERROR: RefCell<Vec<u8>> = RefCell::new(vec![0]);
    /// Test-only trigger: the next guarded call panics inside its boundary.
    #[cfg(test)]
    static PANIC_NEXT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn set_last_error(message: &str) {
    LAST_ERROR.with(|cell| {
        if let Ok(mut buf) = cell.try_borrow_mut() {
            buf.clear();
            // An interior NUL would cut the C string short; nothing reckon writes has one, but
            // file paths and tensor names come from users.
            buf.extend(message.bytes().filter(|&b| b != 0));
            buf.push(0);
        }
    });
}

fn clear_last_error() {
    LAST_ERROR.with(|cell| {
        if let Ok(mut buf) = cell.try_borrow_mut() {
            if buf.len() != 1 {
                buf.clear();
                buf.push(0);
            }
        }
    });
}

/// Pointer to this thread's last error message; valid until this thread's next reckon call.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|cell| match cell.try_borrow() {
        Ok(buf) => buf.as_ptr() as *const c_char,
        Err(_) => c"".as_ptr(),
    })
}

/// Runs an export's body: clears the last error, catches any panic, and turns the result into a
/// status (recording the message on failure).
pub(crate) fn guard(body: impl FnOnce() -> FfiResult<()>) -> reckon_status {
    clear_last_error();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        #[cfg(test)]
        if PANIC_NEXT.with(|p| p.replace(false)) {
            panic!("test-only panic trigger");
        }
        body()
    }));
    match outcome {
        Ok(Ok(())) => Status::RECKON_OK as reckon_status,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status as reckon_status
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".to_string());
            set_last_error(&format!(
                "internal error (panic) inside reckon: {what}; please report it"
            ));
            Status::RECKON_PANIC as reckon_status
        }
    }
}

/// For `void` exports (the `*_free` functions): runs the body, swallowing any panic so it
/// never unwinds into C.
pub(crate) fn guard_void(body: impl FnOnce()) {
    let _ = guard(|| {
        body();
        Ok(())
    });
}

/// Makes the next `guard` on this thread panic inside the boundary (tests only).
#[cfg(test)]
pub(crate) fn trigger_panic_next() {
    PANIC_NEXT.with(|p| p.set(true));
}

/// `ptr` as a shared reference; NULL and misaligned pointers are errors.
///
/// # Safety
/// A non-NULL `ptr` must point to a live `T` for the returned lifetime (the C contract of
/// every handle and in-parameter).
pub(crate) unsafe fn arg_ref<'a, T>(ptr: *const T, arg: &str) -> FfiResult<&'a T> {
    check_ptr(ptr, arg)?;
    // SAFETY: non-NULL and aligned (checked above); liveness is the caller's contract.
    Ok(unsafe { &*ptr })
}

/// `ptr` as an exclusive reference for an out-parameter; NULL and misaligned pointers are errors.
///
/// # Safety
/// A non-NULL `ptr` must point to writable memory for one `T`, not aliased during the call.
pub(crate) unsafe fn arg_out<'a, T>(ptr: *mut T, arg: &str) -> FfiResult<&'a mut T> {
    check_ptr(ptr, arg)?;
    // SAFETY: non-NULL and aligned (checked above); validity is the caller's contract.
    Ok(unsafe { &mut *ptr })
}

/// An out-parameter the caller may leave NULL when it does not want that value.
///
/// # Safety
/// A non-NULL `ptr` must point to writable memory for one `T`, not aliased during the call.
pub(crate) unsafe fn optional_out<'a, T>(ptr: *mut T, arg: &str) -> FfiResult<Option<&'a mut T>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { arg_out(ptr, arg) }.map(Some)
}

/// `len` elements at `ptr` as a slice. `len == 0` gives an empty slice whatever `ptr` is; a
/// NULL or misaligned `ptr` with `len > 0`, or a byte length past `isize::MAX`, is an error.
///
/// # Safety
/// With `len > 0`, `ptr` must point to `len` readable, initialised `T`s for the lifetime.
pub(crate) unsafe fn arg_slice<'a, T>(ptr: *const T, len: usize, arg: &str) -> FfiResult<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    check_ptr(ptr, arg)?;
    check_span::<T>(len, arg)?;
    // SAFETY: non-NULL, aligned, length fits isize (checked above); the memory is the
    // caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Like [`arg_slice`], for an output buffer.
///
/// # Safety
/// With `len > 0`, `ptr` must point to `len` writable `T`s, not aliased during the call.
pub(crate) unsafe fn arg_slice_mut<'a, T>(
    ptr: *mut T,
    len: usize,
    arg: &str,
) -> FfiResult<&'a mut [T]> {
    if len == 0 {
        return Ok(&mut []);
    }
    check_ptr(ptr, arg)?;
    check_span::<T>(len, arg)?;
    // SAFETY: non-NULL, aligned, length fits isize (checked above); the memory is the
    // caller's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// A NUL-terminated UTF-8 string argument.
///
/// # Safety
/// A non-NULL `ptr` must point to a NUL-terminated string that stays valid during the call.
pub(crate) unsafe fn arg_str<'a>(ptr: *const c_char, arg: &str) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return Err(FfiError::invalid(arg, "is NULL"));
    }
    // SAFETY: non-NULL; NUL termination and liveness are the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes
        .to_str()
        .map_err(|e| FfiError::invalid(arg, format_args!("is not valid UTF-8 ({e})")))
}

/// `rows × cols`, or an error if it overflows.
pub(crate) fn checked_len(rows: usize, cols: usize, what: &str) -> FfiResult<usize> {
    rows.checked_mul(cols)
        .ok_or_else(|| FfiError::invalid(what, format_args!("{rows} × {cols} overflows")))
}

/// The first `needed` elements of an output buffer of `out_len`, or `RECKON_BUFFER_TOO_SMALL`.
/// Checked before anything is written, so a short buffer is left untouched.
///
/// # Safety
/// As [`arg_slice_mut`] for `out_len` elements.
pub(crate) unsafe fn out_prefix<'a, T>(
    out: *mut T,
    out_len: usize,
    needed: usize,
    arg: &str,
) -> FfiResult<&'a mut [T]> {
    if out_len < needed {
        return Err(FfiError::new(
            Status::RECKON_BUFFER_TOO_SMALL,
            format!("{arg}: holds {out_len} values, this call writes {needed}"),
        ));
    }
    // SAFETY: forwarded contract; only the first `needed` (≤ out_len) elements are used.
    unsafe { arg_slice_mut(out, needed, arg) }
}

/// Frees a handle made by `Box::into_raw`; NULL is a no-op.
///
/// # Safety
/// A non-NULL `ptr` must come from this library's matching create function and not be freed
/// twice.
pub(crate) unsafe fn free_box<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: the pointer came from Box::into_raw in a create function (caller's contract).
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Moves `value` to the heap and stores the pointer in `*out`.
pub(crate) fn hand_out<T>(out: &mut *mut T, value: T) {
    *out = Box::into_raw(Box::new(value));
}

fn check_ptr<T>(ptr: *const T, arg: &str) -> FfiResult<()> {
    if ptr.is_null() {
        return Err(FfiError::invalid(arg, "is NULL"));
    }
    if !(ptr as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return Err(FfiError::invalid(
            arg,
            format_args!(
                "is not aligned to {} bytes as its type requires",
                std::mem::align_of::<T>()
            ),
        ));
    }
    Ok(())
}

fn check_span<T>(len: usize, arg: &str) -> FfiResult<()> {
    match len.checked_mul(std::mem::size_of::<T>()) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(()),
        _ => Err(FfiError::invalid(
            arg,
            format_args!("length {len} is larger than any buffer"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        // SAFETY: last_error_ptr always points to a NUL-terminated thread-local buffer.
        unsafe { CStr::from_ptr(last_error_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn panics_become_a_status_with_a_message() {
        let status = guard(|| panic!("boom {}", 7));
        assert_eq!(status, Status::RECKON_PANIC as reckon_status);
        assert!(last_error().contains("boom 7"), "{}", last_error());
        assert_eq!(guard(|| Ok(())), Status::RECKON_OK as reckon_status);
        assert_eq!(last_error(), "");
    }

    #[test]
    fn errors_keep_their_message_until_the_next_call() {
        let status = guard(|| Err(FfiError::invalid("k", "must be positive")));
        assert_eq!(status, Status::RECKON_INVALID_ARGUMENT as reckon_status);
        assert_eq!(last_error(), "k: must be positive");
        let status = guard(|| Err(FfiError::invalid("path", "a\0b")));
        assert_eq!(status, Status::RECKON_INVALID_ARGUMENT as reckon_status);
        assert_eq!(last_error(), "path: ab");
    }

    #[test]
    fn pointer_checks() {
        let v = [1.0f32, 2.0];
        // SAFETY: the pointers below are either NULL, misaligned (never read), or valid.
        unsafe {
            assert!(arg_slice::<f32>(std::ptr::null(), 0, "x").is_ok());
            assert!(arg_slice::<f32>(std::ptr::null(), 1, "x").is_err());
            let mis = (v.as_ptr() as *const u8).add(1) as *const f32;
            assert!(arg_slice(mis, 1, "x").is_err());
            assert_eq!(arg_slice(v.as_ptr(), 2, "x").map(|s| s.len()).ok(), Some(2));
            assert!(arg_slice(v.as_ptr(), usize::MAX / 2, "x").is_err());
            let mut out = [0.0f32; 2];
            let e = out_prefix(out.as_mut_ptr(), 2, 3, "out").unwrap_err();
            assert_eq!(e.status, Status::RECKON_BUFFER_TOO_SMALL);
            assert!(arg_str(std::ptr::null(), "path").is_err());
            assert!(arg_str(c"\xff".as_ptr(), "path").is_err());
            assert_eq!(arg_str(c"ok".as_ptr(), "path").ok(), Some("ok"));
        }
    }
}
