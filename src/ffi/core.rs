//! Library-wide C functions: version, error text, and `reckon_options`.

use std::ffi::c_char;

use super::boundary::{arg_out, arg_str, free_box, guard, guard_void, hand_out, FfiError};
use super::status::{reckon_status, Status};
use crate::kernels::Isa;
use crate::models::{Options, OutOfVocabulary};

/// Options for opening models, indexes and pipelines. Opaque; NULL wherever a
/// `const reckon_options *` is taken means the defaults (CPU, caller's thread, best ISA,
/// non-finite inputs rejected, out-of-vocabulary ids rejected).
#[allow(non_camel_case_types)]
pub struct reckon_options {
    pub(crate) inner: Options,
}

/// The options a (possibly NULL) `reckon_options` pointer stands for.
///
/// # Safety
/// A non-NULL `opts` must point to a live `reckon_options`.
pub(crate) unsafe fn options_or_default(opts: *const reckon_options) -> Result<Options, FfiError> {
    if opts.is_null() {
        return Ok(Options::default());
    }
    // SAFETY: forwarded contract.
    Ok(unsafe { super::boundary::arg_ref(opts, "opts") }?
        .inner
        .clone())
}

/// The library version, e.g. `"0.1.0"`. Static storage: never freed, valid forever.
#[no_mangle]
pub extern "C" fn reckon_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// This thread's message for its last failed reckon call, or `""` if that call succeeded.
/// Never NULL. The text is owned by reckon and valid until this thread's next reckon call
/// (other than `reckon_last_error` and `reckon_status_str`); copy it to keep it.
#[no_mangle]
pub extern "C" fn reckon_last_error() -> *const c_char {
    super::boundary::last_error_ptr()
}

/// A short static description of a status (`"invalid argument"`, ...). Never NULL; valid
/// forever. Unknown values give `"unknown status"`.
#[no_mangle]
pub extern "C" fn reckon_status_str(status: reckon_status) -> *const c_char {
    Status::ALL
        .iter()
        .find(|s| **s as reckon_status == status)
        .map_or("unknown status\0", |s| s.describe())
        .as_ptr() as *const c_char
}

/// Creates default options in `*out`; free them with `reckon_options_free`. Options are copied
/// by every function that takes them, so they may be freed right after use.
#[no_mangle]
pub unsafe extern "C" fn reckon_options_create(out: *mut *mut reckon_options) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `out` is NULL or a writable pointer slot.
        let out = unsafe { arg_out(out, "out") }?;
        hand_out(
            out,
            reckon_options {
                inner: Options::default(),
            },
        );
        Ok(())
    })
}

/// Frees options made by `reckon_options_create`. NULL is fine.
#[no_mangle]
pub unsafe extern "C" fn reckon_options_free(opts: *mut reckon_options) {
    // SAFETY: C contract: `opts` is NULL or came from reckon_options_create, freed once.
    guard_void(|| unsafe { free_box(opts) })
}

/// Pins the instruction-set level: `"portable"`, `"avx2"` or `"avx512"`; NULL or `"auto"`
/// restores the default (the `RECKON_ISA` environment variable, else the best the CPU has).
/// A level the CPU lacks is reported when a model is opened with these options.
#[no_mangle]
pub unsafe extern "C" fn reckon_options_set_isa(
    opts: *mut reckon_options,
    isa: *const c_char,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `opts` is NULL or a live reckon_options.
        let opts = unsafe { arg_out(opts, "opts") }?;
        if isa.is_null() {
            opts.inner.isa = None;
            return Ok(());
        }
        // SAFETY: C contract: `isa` is a NUL-terminated string.
        let name = unsafe { arg_str(isa, "isa") }?;
        opts.inner.isa = match name {
            "auto" => None,
            "portable" => Some(Isa::Portable),
            "avx2" => Some(Isa::Avx2),
            "avx512" => Some(Isa::Avx512),
            other => {
                return Err(FfiError::invalid(
                    "isa",
                    format_args!("'{other}' is not one of auto, portable, avx2, avx512"),
                ))
            }
        };
        Ok(())
    })
}

/// Whether NaN/±inf dense features are accepted (non-zero) or rejected with
/// `RECKON_NON_FINITE` (zero, the default).
#[no_mangle]
pub unsafe extern "C" fn reckon_options_set_allow_non_finite(
    opts: *mut reckon_options,
    allow: bool,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `opts` is NULL or a live reckon_options.
        unsafe { arg_out(opts, "opts") }?.inner.allow_non_finite = allow;
        Ok(())
    })
}

/// Out-of-vocabulary ids use row `row` of each embedding table instead of failing with
/// `RECKON_OUT_OF_RANGE` (negative ids count as out of vocabulary); a negative `row` restores
/// the default (fail). The row must exist in every table, which is checked when a model is
/// opened: a missing one fails the open with `RECKON_OUT_OF_RANGE`.
#[no_mangle]
pub unsafe extern "C" fn reckon_options_set_oov_fallback(
    opts: *mut reckon_options,
    row: i64,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `opts` is NULL or a live reckon_options.
        let opts = unsafe { arg_out(opts, "opts") }?;
        opts.inner.out_of_vocabulary = if row < 0 {
            OutOfVocabulary::Error
        } else {
            OutOfVocabulary::FallbackRow(row)
        };
        Ok(())
    })
}

/// Threads one call may use: a model's large batch or one exact index search (or batch of
/// queries) runs on the calling thread plus `threads - 1` helpers started for that call and
/// joined before it returns (reckon keeps no thread pool). 0 and 1 mean the calling thread only,
/// the default. Results are identical whatever the count; batches under 1024 rows and indexes
/// under about 256Ki items per thread use fewer threads. Applies to models and indexes opened
/// with these options, and the pipelines built on them.
#[no_mangle]
pub unsafe extern "C" fn reckon_options_set_threads(
    opts: *mut reckon_options,
    threads: usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `opts` is NULL or a live reckon_options.
        unsafe { arg_out(opts, "opts") }?.inner.threads = threads;
        Ok(())
    })
}

/// Chooses the compute device: `"cpu"` (the default). This build has no GPU backend, so any
/// other name fails with `RECKON_DEVICE`.
#[no_mangle]
pub unsafe extern "C" fn reckon_options_set_device(
    opts: *mut reckon_options,
    device: *const c_char,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `opts` is NULL or a live reckon_options.
        unsafe { arg_out(opts, "opts") }?;
        // SAFETY: C contract: `device` is a NUL-terminated string.
        match unsafe { arg_str(device, "device") }? {
            "cpu" => Ok(()),
            other => Err(FfiError::new(
                Status::RECKON_DEVICE,
                format!(
                    "device '{other}' is not available: this build of reckon runs on the CPU only"
                ),
            )),
        }
    })
}
