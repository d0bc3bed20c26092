//! `reckon_model`: open any of the five models and run it from C.

use std::cell::RefCell;
use std::ffi::c_char;
use std::sync::Arc;

use super::boundary::{
    arg_out, arg_ref, arg_slice, arg_str, checked_len, free_box, guard, guard_void, hand_out,
    opening, optional_out, out_prefix, FfiError, FfiResult,
};
use super::core::{options_or_default, reckon_options};
use super::status::{reckon_status, Status};
use crate::models::{Model, Tower, Workspace};
use crate::weights::Arch;

/// A loaded model. Opaque; immutable after opening, so one handle may be shared by any number
/// of threads calling it at once.
#[allow(non_camel_case_types)]
pub struct reckon_model {
    pub(crate) inner: Arc<Model>,
}

/// Which tower of a `two_tower` model `reckon_tower_embed` runs, a `reckon_tower_code` value
/// (an int rather than the enum, so that any value C passes is safe to check).
#[allow(non_camel_case_types)]
pub type reckon_tower = std::ffi::c_int;

/// The values a `reckon_tower` takes.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum reckon_tower_code {
    /// The user tower (what `reckon_model_predict_ids` runs).
    RECKON_TOWER_USER = 0,
    /// The item tower.
    RECKON_TOWER_ITEM = 1,
}

thread_local! {
    /// Each calling thread's scratch, reused across calls and models so a warmed-up call
    /// allocates nothing.
    static WORKSPACE: RefCell<Workspace> = RefCell::new(Workspace::default());
}

/// Runs `f` with this thread's workspace.
fn with_workspace<T>(f: impl FnOnce(&mut Workspace) -> FfiResult<T>) -> FfiResult<T> {
    WORKSPACE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut ws) => f(&mut ws),
        Err(_) => Err(FfiError::invalid(
            "thread",
            "reckon was re-entered on this thread during a call",
        )),
    })
}

/// The model behind a handle argument.
///
/// # Safety
/// A non-NULL `m` must point to a live `reckon_model`.
pub(crate) unsafe fn model_arg<'a>(m: *const reckon_model, arg: &str) -> FfiResult<&'a Arc<Model>> {
    // SAFETY: forwarded contract.
    Ok(&unsafe { arg_ref(m, arg) }?.inner)
}

/// Opens the weight file at `path` (UTF-8, NUL-terminated) and builds the model its
/// `reckon.arch` metadata names. `opts` may be NULL (defaults). On success `*out` holds a handle
/// to free with `reckon_model_free`; on failure `*out` is left unchanged.
#[no_mangle]
pub unsafe extern "C" fn reckon_model_open(
    path: *const c_char,
    opts: *const reckon_options,
    out: *mut *mut reckon_model,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract for each pointer argument (documented in the header).
        let (path, opts, out) = unsafe {
            (
                arg_str(path, "path")?,
                options_or_default(opts)?,
                arg_out(out, "out")?,
            )
        };
        let model = Model::open(path, &opts).map_err(opening(path))?;
        hand_out(
            out,
            reckon_model {
                inner: Arc::new(model),
            },
        );
        Ok(())
    })
}

/// Frees a model. NULL is fine. Pipelines built from the model keep their own reference, so
/// they stay usable after this.
#[no_mangle]
pub unsafe extern "C" fn reckon_model_free(m: *mut reckon_model) {
    // SAFETY: C contract: `m` is NULL or came from reckon_model_open, freed once.
    guard_void(|| unsafe { free_box(m) })
}

/// The model's architecture name in `*out`: `"two_tower"`, `"ranker"`, `"ltr"`, `"fraud"` or
/// `"deepfm"`. Static storage: valid forever.
#[no_mangle]
pub unsafe extern "C" fn reckon_model_arch(
    m: *const reckon_model,
    out: *mut *const c_char,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract for each pointer argument.
        let (model, out) = unsafe { (model_arg(m, "m")?, arg_out(out, "out")?) };
        *out = arch_cstr(model.arch()).as_ptr() as *const c_char;
        Ok(())
    })
}

fn arch_cstr(arch: Arch) -> &'static str {
    match arch {
        Arch::TwoTower => "two_tower\0",
        Arch::Ranker => "ranker\0",
        Arch::Ltr => "ltr\0",
        Arch::Fraud => "fraud\0",
        Arch::DeepFm => "deepfm\0",
        Arch::ItemIndex => "item_index\0",
    }
}

/// Columns per input row and per output row. Dense models (ranker, ltr, fraud): features in,
/// scores out (ranker: p_click, p_engage, p_share, score; ltr: score; fraud: probability).
/// deepfm: fields in, 1 out. two_tower: 1 id in, D vector values out. Either out-pointer may
/// be NULL if that value is not wanted.
#[no_mangle]
pub unsafe extern "C" fn reckon_model_dims(
    m: *const reckon_model,
    in_cols: *mut usize,
    out_cols: *mut usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `m` is a live handle.
        let model = unsafe { model_arg(m, "m") }?;
        let (i, o) = model.dims();
        // SAFETY: C contract: each out-pointer is NULL or writable.
        let (in_out, out_out) = unsafe {
            (
                optional_out(in_cols, "in_cols")?,
                optional_out(out_cols, "out_cols")?,
            )
        };
        // Both checked before either is written.
        if let Some(v) = in_out {
            *v = i;
        }
        if let Some(v) = out_out {
            *v = o;
        }
        Ok(())
    })
}

/// Checks `cols` against the model and returns `rows × out_cols`.
fn check_call(model: &Model, rows: usize, cols: usize, want_ids: bool) -> FfiResult<usize> {
    if model.takes_ids() != want_ids {
        return Err(FfiError::invalid(
            "m",
            format_args!(
                "{} takes {}; call {}",
                model.arch(),
                if model.takes_ids() {
                    "ids"
                } else {
                    "dense features"
                },
                if model.takes_ids() {
                    "reckon_model_predict_ids"
                } else {
                    "reckon_model_predict"
                }
            ),
        ));
    }
    if rows == 0 {
        return Err(FfiError::invalid("rows", "is 0"));
    }
    let (in_cols, out_cols) = model.dims();
    if cols != in_cols {
        return Err(FfiError::new(
            Status::RECKON_SHAPE,
            format!(
                "cols: {} takes {in_cols} columns per row, got {cols}",
                model.arch()
            ),
        ));
    }
    checked_len(rows, out_cols, "rows")
}

/// Dense models: `rows × cols` row-major features in `x`, `rows × out_cols` results written to
/// `out` (which holds `out_len` floats, at least `rows × out_cols` from `reckon_model_dims`;
/// extra room is left alone). Nothing is written unless the call succeeds. Errors: `rows` 0, a
/// NULL or misaligned pointer, or an id model (`RECKON_INVALID_ARGUMENT`); `cols` not the
/// model's (`RECKON_SHAPE`); `out_len` too small (`RECKON_BUFFER_TOO_SMALL`); a NaN or infinite
/// feature (`RECKON_NON_FINITE`, unless the options allow them: then it flows through the
/// arithmetic and that row's outputs may be NaN).
#[no_mangle]
pub unsafe extern "C" fn reckon_model_predict(
    m: *const reckon_model,
    x: *const f32,
    rows: usize,
    cols: usize,
    out: *mut f32,
    out_len: usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `m` is a live handle.
        let model = unsafe { model_arg(m, "m") }?;
        let needed = check_call(model, rows, cols, false)?;
        // SAFETY: C contract: `x` holds rows × cols floats, `out` holds out_len floats.
        let (x, out) = unsafe {
            (
                arg_slice(x, checked_len(rows, cols, "rows")?, "x")?,
                out_prefix(out, out_len, needed, "out")?,
            )
        };
        with_workspace(|ws| Ok(model.predict(x, rows, out, ws)?))
    })
}

/// Id models: deepfm (`cols` = fields, one pCTR per row, uncalibrated) and two_tower (`cols` =
/// 1, one L2-normalised user vector of D floats per row; `out_len` ≥ `rows × out_cols`).
/// Nothing is written unless the call succeeds. Errors as `reckon_model_predict` (a dense model
/// is `RECKON_INVALID_ARGUMENT`), plus an id outside its table, negative ones included
/// (`RECKON_OUT_OF_RANGE`, unless the options set a fallback row, which then serves it).
#[no_mangle]
pub unsafe extern "C" fn reckon_model_predict_ids(
    m: *const reckon_model,
    ids: *const i64,
    rows: usize,
    cols: usize,
    out: *mut f32,
    out_len: usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `m` is a live handle.
        let model = unsafe { model_arg(m, "m") }?;
        let needed = check_call(model, rows, cols, true)?;
        // SAFETY: C contract: `ids` holds rows × cols ids, `out` holds out_len floats.
        let (ids, out) = unsafe {
            (
                arg_slice(ids, checked_len(rows, cols, "rows")?, "ids")?,
                out_prefix(out, out_len, needed, "out")?,
            )
        };
        with_workspace(|ws| Ok(model.predict_ids(ids, rows, out, ws)?))
    })
}

/// two_tower only: runs the chosen tower over `rows` ids and writes `rows × D` L2-normalised
/// vectors to `out` (`D` = `out_cols` of `reckon_model_dims`; `out_len` ≥ `rows × D`). Nothing
/// is written unless the call succeeds. Errors: another architecture or a `tower` other than
/// `RECKON_TOWER_USER`/`RECKON_TOWER_ITEM` (`RECKON_INVALID_ARGUMENT`), an id outside that
/// tower's table (`RECKON_OUT_OF_RANGE`, unless the options set a fallback row), others as
/// `reckon_model_predict_ids`.
#[no_mangle]
pub unsafe extern "C" fn reckon_tower_embed(
    m: *const reckon_model,
    tower: reckon_tower,
    ids: *const i64,
    rows: usize,
    out: *mut f32,
    out_len: usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `m` is a live handle.
        let model = unsafe { model_arg(m, "m") }?;
        let Model::TwoTower(towers) = model.as_ref() else {
            return Err(FfiError::invalid(
                "m",
                format_args!(
                    "{} has no towers; reckon_tower_embed needs two_tower",
                    model.arch()
                ),
            ));
        };
        let tower = match tower {
            t if t == reckon_tower_code::RECKON_TOWER_USER as reckon_tower => Tower::User,
            t if t == reckon_tower_code::RECKON_TOWER_ITEM as reckon_tower => Tower::Item,
            other => {
                return Err(FfiError::invalid(
                    "tower",
                    format_args!("{other} is neither RECKON_TOWER_USER nor RECKON_TOWER_ITEM"),
                ))
            }
        };
        if rows == 0 {
            return Err(FfiError::invalid("rows", "is 0"));
        }
        let needed = checked_len(rows, towers.dim(), "rows")?;
        // SAFETY: C contract: `ids` holds `rows` ids, `out` holds out_len floats.
        let (ids, out) = unsafe {
            (
                arg_slice(ids, rows, "ids")?,
                out_prefix(out, out_len, needed, "out")?,
            )
        };
        with_workspace(|ws| Ok(towers.embed(tower, ids, out, &mut ws.two_tower)?))
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, CString};
    use std::ptr;

    use super::super::boundary::trigger_panic_next;
    use super::super::core::*;
    use super::*;
    use crate::ffi::test_support::*;
    use crate::models::Options;

    fn demo(name: &str) -> CString {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/weights/demo/").to_string() + name;
        CString::new(path).unwrap_or_default()
    }

    fn open(name: &str) -> *mut reckon_model {
        let mut m = ptr::null_mut();
        // SAFETY: valid path string and out slot.
        let s = unsafe { reckon_model_open(demo(name).as_ptr(), ptr::null(), &mut m) };
        assert_eq!(s, Status::RECKON_OK as reckon_status);
        m
    }

    #[test]
    fn results_equal_the_rust_api() {
        let fraud = open("fraud.safetensors");
        let towers = open("two_tower.safetensors");
        let rust = Model::open(
            demo("fraud.safetensors").to_str().unwrap_or_default(),
            &Options::default(),
        )
        .expect("demo fraud model");
        let x: Vec<f32> = (0..3 * 11).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
        let mut want = vec![0.0f32; 3];
        rust.predict(&x, 3, &mut want, &mut Workspace::default())
            .expect("rust predict");
        let mut got = vec![f32::NAN; 4];
        // SAFETY: buffers hold the lengths passed.
        let s = unsafe { reckon_model_predict(fraud, x.as_ptr(), 3, 11, got.as_mut_ptr(), 4) };
        assert_eq!(s, OK, "{}", last_error());
        assert_eq!(&got[..3], &want[..]);
        assert!(got[3].is_nan(), "only rows × out_cols values are written");

        let mut dims = (0usize, 0usize);
        let mut arch = ptr::null();
        // SAFETY: valid handle and out-pointers.
        unsafe {
            assert_eq!(reckon_model_dims(towers, &mut dims.0, &mut dims.1), OK);
            assert_eq!(reckon_model_arch(towers, &mut arch), OK);
            assert_eq!(CStr::from_ptr(arch).to_str().ok(), Some("two_tower"));
        }
        let ids = [0i64, 5, 7];
        let mut user = vec![0.0f32; 3 * dims.1];
        let mut item = vec![0.0f32; 3 * dims.1];
        // SAFETY: buffers hold the lengths passed.
        unsafe {
            assert_eq!(
                reckon_model_predict_ids(towers, ids.as_ptr(), 3, 1, user.as_mut_ptr(), user.len()),
                OK
            );
            let item_tower = reckon_tower_code::RECKON_TOWER_ITEM as reckon_tower;
            let s = reckon_tower_embed(
                towers,
                item_tower,
                ids.as_ptr(),
                3,
                item.as_mut_ptr(),
                item.len(),
            );
            assert_eq!(s, OK);
            // An int that names no tower is an error, not undefined behaviour.
            let s = reckon_tower_embed(towers, 7, ids.as_ptr(), 3, item.as_mut_ptr(), item.len());
            assert_eq!(s, Status::RECKON_INVALID_ARGUMENT as reckon_status);
            reckon_model_free(fraud);
            reckon_model_free(towers);
        }
        assert_ne!(user, item, "the two towers differ");
    }

    #[test]
    fn every_core_and_model_export_has_a_panic_boundary() {
        let m = open("fraud.safetensors");
        let towers = open("two_tower.safetensors");
        let x = [0.5f32; 11];
        let ids = [1i64];
        let mut out = [0.0f32; 64];
        let out = out.as_mut_ptr();
        let mut opts = ptr::null_mut();
        let mut handle = ptr::null_mut();
        let mut arch = ptr::null();
        let (mut i, mut o) = (0usize, 0usize);
        type Call<'a> = Box<dyn FnMut() -> reckon_status + 'a>;
        // Each call below gets valid handles, strings and buffers of the lengths it passes.
        let mut calls: Vec<(&str, Call<'_>)> = vec![
            (
                "options_create",
                // SAFETY: handles from `open`, buffers as long as the lengths passed.
                Box::new(|| unsafe { reckon_options_create(&mut opts) }),
            ),
            (
                "model_open",
                // SAFETY: handles from `open`, buffers as long as the lengths passed.
                Box::new(|| unsafe {
                    reckon_model_open(demo("fraud.safetensors").as_ptr(), ptr::null(), &mut handle)
                }),
            ),
            (
                "model_arch",
                // SAFETY: handles from `open`, buffers as long as the lengths passed.
                Box::new(|| unsafe { reckon_model_arch(m, &mut arch) }),
            ),
            (
                "model_dims",
                // SAFETY: handles from `open`, buffers as long as the lengths passed.
                Box::new(|| unsafe { reckon_model_dims(m, &mut i, &mut o) }),
            ),
            (
                "model_predict",
                // SAFETY: handles from `open`, buffers as long as the lengths passed.
                Box::new(|| unsafe { reckon_model_predict(m, x.as_ptr(), 1, 11, out, 64) }),
            ),
            (
                "model_predict_ids",
                // SAFETY: handles from `open`, buffers as long as the lengths passed.
                Box::new(|| unsafe {
                    reckon_model_predict_ids(towers, ids.as_ptr(), 1, 1, out, 64)
                }),
            ),
            (
                "tower_embed",
                // SAFETY: handles from `open`, buffers as long as the lengths passed.
                Box::new(|| unsafe { reckon_tower_embed(towers, 0, ids.as_ptr(), 1, out, 64) }),
            ),
        ];
        for (name, call) in calls.iter_mut() {
            trigger_panic_next();
            assert_eq!(call(), PANIC, "{name}");
            assert!(last_error().contains("panic"), "{name}: {}", last_error());
            assert_eq!(call(), OK, "{name} after the panic: {}", last_error());
        }
        drop(calls);
        let mut opts2 = ptr::null_mut();
        // SAFETY: options handle made above; strings are NUL-terminated.
        unsafe {
            assert_eq!(reckon_options_create(&mut opts2), OK);
            for (name, call) in [
                (
                    "set_isa",
                    reckon_options_set_isa(opts2, c"portable".as_ptr()),
                ),
                (
                    "set_allow_non_finite",
                    reckon_options_set_allow_non_finite(opts2, true),
                ),
                (
                    "set_oov_fallback",
                    reckon_options_set_oov_fallback(opts2, 0),
                ),
                (
                    "set_device",
                    reckon_options_set_device(opts2, c"cpu".as_ptr()),
                ),
                ("set_threads", reckon_options_set_threads(opts2, 2)),
            ] {
                assert_eq!(call, OK, "{name}");
            }
            trigger_panic_next();
            assert_eq!(reckon_options_set_isa(opts2, ptr::null()), PANIC);
            trigger_panic_next();
            assert_eq!(reckon_options_set_allow_non_finite(opts2, false), PANIC);
            trigger_panic_next();
            assert_eq!(reckon_options_set_oov_fallback(opts2, -1), PANIC);
            trigger_panic_next();
            assert_eq!(reckon_options_set_device(opts2, c"cpu".as_ptr()), PANIC);
            trigger_panic_next();
            assert_eq!(reckon_options_set_threads(opts2, 2), PANIC);
            // `*_free` swallow a panic rather than unwinding into C.
            trigger_panic_next();
            reckon_options_free(opts2);
            reckon_options_free(opts2);
            reckon_options_free(opts);
            reckon_model_free(handle);
            reckon_model_free(m);
            reckon_model_free(towers);
        }
    }

    #[test]
    fn option_errors() {
        let mut opts = ptr::null_mut();
        // SAFETY: valid out slot, then the handle made; strings NUL-terminated.
        unsafe {
            assert_eq!(reckon_options_create(&mut opts), OK);
            let s = reckon_options_set_isa(opts, c"sse9".as_ptr());
            assert_eq!(s, Status::RECKON_INVALID_ARGUMENT as reckon_status);
            assert!(last_error().contains("sse9"));
            let s = reckon_options_set_device(opts, c"cuda".as_ptr());
            assert_eq!(s, Status::RECKON_DEVICE as reckon_status);
            let s = reckon_options_set_isa(ptr::null_mut(), c"avx2".as_ptr());
            assert_eq!(s, Status::RECKON_INVALID_ARGUMENT as reckon_status);
            let s = reckon_options_set_threads(ptr::null_mut(), 2);
            assert_eq!(s, Status::RECKON_INVALID_ARGUMENT as reckon_status);
            // Format errors name the file they come from.
            let mut m = ptr::null_mut();
            let s = reckon_model_open(demo("requests/fraud.safetensors").as_ptr(), opts, &mut m);
            assert_eq!(s, Status::RECKON_FORMAT as reckon_status);
            assert!(
                last_error().contains("requests/fraud.safetensors"),
                "{}",
                last_error()
            );
            // A fallback row no table has is refused when a model opens.
            assert_eq!(reckon_options_set_oov_fallback(opts, 1 << 40), OK);
            let mut m = ptr::null_mut();
            let s = reckon_model_open(demo("deepfm.safetensors").as_ptr(), opts, &mut m);
            assert_ne!(s, OK);
            assert!(m.is_null(), "out is untouched on failure");
            reckon_options_free(opts);
        }
    }
}
