//! `reckon_ctr`: the CTR pipeline of SPEC §4.5 from C — DeepFM → pCTR → the calibration stored
//! in the model file → calibrated pCTR.

use std::cell::RefCell;
use std::ffi::c_char;

use super::boundary::{
    arg_out, arg_ref, arg_slice, arg_str, checked_len, free_box, guard, guard_void, hand_out,
    opening, out_prefix, FfiError, FfiResult,
};
use super::core::{options_or_default, reckon_options};
use super::status::{reckon_status, Status};
use crate::models::Workspace;
use crate::pipelines::ctr::{CtrPipeline, Method};

/// A DeepFM model with the calibration stored in its file, if any. Opaque; immutable after
/// opening, so one handle may be shared by any number of threads calling it at once.
#[allow(non_camel_case_types)]
pub struct reckon_ctr {
    inner: CtrPipeline,
}

/// Each calling thread's model scratch and result buffers, reused so a warmed-up call
/// allocates nothing.
#[derive(Default)]
struct Scratch {
    ws: Workspace,
    pctr: Vec<f32>,
    calibrated: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Opens a `deepfm` weight file at `path` (UTF-8) and the calibration stored in it
/// (`calibration.*` tensors and `reckon.calibration`; a file without them passes pCTR through).
/// `opts` may be NULL (defaults). On success `*out` holds a handle to free with
/// `reckon_ctr_free`; on failure `*out` is left unchanged. Another architecture is
/// `RECKON_INVALID_ARGUMENT`; a malformed calibration is `RECKON_FORMAT`.
#[no_mangle]
pub unsafe extern "C" fn reckon_ctr_open(
    path: *const c_char,
    opts: *const reckon_options,
    out: *mut *mut reckon_ctr,
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
        let inner = CtrPipeline::open(path, &opts).map_err(opening(path))?;
        hand_out(out, reckon_ctr { inner });
        Ok(())
    })
}

/// Frees a CTR pipeline. NULL is fine.
#[no_mangle]
pub unsafe extern "C" fn reckon_ctr_free(c: *mut reckon_ctr) {
    // SAFETY: C contract: `c` is NULL or came from reckon_ctr_open, freed once.
    guard_void(|| unsafe { free_box(c) })
}

/// The number of id columns (fields) per row in `*out`.
#[no_mangle]
pub unsafe extern "C" fn reckon_ctr_fields(c: *const reckon_ctr, out: *mut usize) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `c` is a live handle, `out` is writable.
        let (c, out) = unsafe { (arg_ref(c, "c")?, arg_out(out, "out")?) };
        *out = c.inner.fields();
        Ok(())
    })
}

/// The calibration method stored with the model in `*out`: `"binned"` (the seed's ratio map),
/// `"platt"`, `"isotonic"`, or `"none"` when the file has no calibration (then calibrated pCTR
/// equals raw pCTR bit for bit). Static storage: valid forever.
#[no_mangle]
pub unsafe extern "C" fn reckon_ctr_calibration(
    c: *const reckon_ctr,
    out: *mut *const c_char,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `c` is a live handle, `out` is writable.
        let (c, out) = unsafe { (arg_ref(c, "c")?, arg_out(out, "out")?) };
        let name = match c.inner.calibration().map(|cal| cal.method()) {
            None => "none\0",
            Some(Method::Binned) => "binned\0",
            Some(Method::Platt) => "platt\0",
            Some(Method::Isotonic) => "isotonic\0",
        };
        *out = name.as_ptr() as *const c_char;
        Ok(())
    })
}

/// Scores `rows` impressions of `cols` ids each (row-major `int64_t`, `cols` must equal
/// `reckon_ctr_fields`, else `RECKON_SHAPE`). Writes one raw pCTR per row to `pctr` (which
/// holds `pctr_len` floats) and one calibrated pCTR per row to `calibrated` (`calibrated_len`
/// floats); calibrated equals raw when the file has no calibration. Either output may be NULL
/// when it is not wanted (pass length 0; a NULL output's length is not read), not both. An id
/// outside its field's vocabulary is `RECKON_OUT_OF_RANGE` unless the options set a fallback
/// row. Nothing is written unless the call succeeds.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn reckon_ctr_predict(
    c: *const reckon_ctr,
    ids: *const i64,
    rows: usize,
    cols: usize,
    pctr: *mut f32,
    pctr_len: usize,
    calibrated: *mut f32,
    calibrated_len: usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `c` is a live handle.
        let c = unsafe { arg_ref(c, "c") }?;
        if rows == 0 {
            return Err(FfiError::invalid("rows", "is 0"));
        }
        let fields = c.inner.fields();
        if cols != fields {
            return Err(FfiError::new(
                Status::RECKON_SHAPE,
                format!("cols: this deepfm takes {fields} ids per row, got {cols}"),
            ));
        }
        if pctr.is_null() && calibrated.is_null() {
            return Err(FfiError::invalid(
                "pctr",
                "and calibrated are both NULL; ask for at least one",
            ));
        }
        // SAFETY: C contract: `ids` holds rows × cols ids; each non-NULL output holds its
        // length in floats.
        let (ids, pctr, calibrated) = unsafe {
            (
                arg_slice(ids, checked_len(rows, cols, "rows")?, "ids")?,
                optional_out(pctr, pctr_len, rows, "pctr")?,
                optional_out(calibrated, calibrated_len, rows, "calibrated")?,
            )
        };
        with_scratch(|s| {
            s.pctr.resize(rows, 0.0);
            s.calibrated.resize(rows, 0.0);
            c.inner
                .predict_into(ids, rows, &mut s.pctr, &mut s.calibrated, &mut s.ws)?;
            if let Some(out) = pctr {
                out.copy_from_slice(&s.pctr);
            }
            if let Some(out) = calibrated {
                out.copy_from_slice(&s.calibrated);
            }
            Ok(())
        })
    })
}

/// An output that may be NULL (not wanted); when given it must hold `needed` floats.
///
/// # Safety
/// A non-NULL `ptr` must hold `len` writable floats.
unsafe fn optional_out<'a>(
    ptr: *mut f32,
    len: usize,
    needed: usize,
    arg: &str,
) -> FfiResult<Option<&'a mut [f32]>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { out_prefix(ptr, len, needed, arg) }.map(Some)
}

fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> FfiResult<T>) -> FfiResult<T> {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => Err(FfiError::invalid(
            "thread",
            "reckon was re-entered on this thread during a call",
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::core::{
        reckon_options_create, reckon_options_free, reckon_options_set_oov_fallback,
    };
    use crate::ffi::test_support::*;
    use crate::pipelines::ctr::{write_calibrated, Calibration};
    use crate::weights::{Container, WeightFile};
    use std::ffi::{CStr, CString};
    use std::path::{Path, PathBuf};
    use std::ptr::{null, null_mut};

    fn demo(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("weights/demo")
            .join(name)
    }

    fn cpath(p: &Path) -> CString {
        CString::new(p.to_str().unwrap()).unwrap()
    }

    /// The demo's first `n` request rows (ids `[n, 10]`) and all labels.
    fn requests(n: usize) -> (Vec<i64>, Vec<f32>) {
        let bytes = std::fs::read(demo("requests/deepfm.safetensors")).unwrap();
        let c = Container::parse(&bytes).unwrap();
        let ids = c.tensor("ids").unwrap().as_i64().unwrap().into_owned();
        let labels = c.tensor("label").unwrap().as_i64().unwrap();
        (
            ids[..n * 10].to_vec(),
            labels[..n].iter().map(|&y| y as f32).collect(),
        )
    }

    fn open(path: &Path, opts: *const reckon_options) -> *mut reckon_ctr {
        let mut c = null_mut();
        // SAFETY: valid path string and out slot.
        let status = unsafe { reckon_ctr_open(cpath(path).as_ptr(), opts, &mut c) };
        assert_eq!(status, OK, "{}", last_error());
        c
    }

    fn calibration_name(c: *const reckon_ctr) -> String {
        let mut name = null();
        // SAFETY: live handle, valid out slot.
        assert_eq!(unsafe { reckon_ctr_calibration(c, &mut name) }, OK);
        // SAFETY: static NUL-terminated string.
        unsafe { CStr::from_ptr(name) }
            .to_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn uncalibrated_demo_model_matches_rust_and_passes_through() {
        let c = open(&demo("deepfm.safetensors"), null());
        let rust = CtrPipeline::open(demo("deepfm.safetensors"), &Default::default()).unwrap();
        let (ids, _) = requests(300);
        let mut fields = 0;
        // SAFETY: live handle and valid buffers throughout.
        unsafe {
            assert_eq!(reckon_ctr_fields(c, &mut fields), OK);
            assert_eq!(fields, 10);
            let (mut raw, mut cal) = (vec![0f32; 300], vec![0f32; 301]);
            let status = reckon_ctr_predict(
                c,
                ids.as_ptr(),
                300,
                10,
                raw.as_mut_ptr(),
                300,
                cal.as_mut_ptr(),
                301,
            );
            assert_eq!(status, OK, "{}", last_error());
            let want = rust.predict(&ids, 300, &mut Workspace::default()).unwrap();
            assert_eq!(bits(&raw), bits(&want.pctr));
            assert_eq!(bits(&cal[..300]), bits(&raw));
            assert_eq!(cal[300], 0.0, "past the rows: untouched");
            // Only one output wanted.
            let mut only = vec![0f32; 300];
            let status = reckon_ctr_predict(
                c,
                ids.as_ptr(),
                300,
                10,
                null_mut(),
                0,
                only.as_mut_ptr(),
                300,
            );
            assert_eq!(status, OK);
            assert_eq!(bits(&only), bits(&raw));
        }
        assert_eq!(calibration_name(c), "none");
        // SAFETY: handle from reckon_ctr_open, freed once; NULL is fine.
        unsafe {
            reckon_ctr_free(c);
            reckon_ctr_free(null_mut());
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn stored_calibration_is_applied_and_named() {
        let dir = std::env::temp_dir().join(format!("reckon_ffi_ctr_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model = WeightFile::open(demo("deepfm.safetensors")).unwrap();
        let rust = CtrPipeline::open(demo("deepfm.safetensors"), &Default::default()).unwrap();
        let (ids, labels) = requests(500);
        let raw = rust
            .predict(&ids, 500, &mut Workspace::default())
            .unwrap()
            .pctr;
        for (method, name) in [
            (Method::Binned, "binned"),
            (Method::Platt, "platt"),
            (Method::Isotonic, "isotonic"),
        ] {
            let cal = Calibration::fit(method, &raw, &labels, 10).unwrap();
            let path = dir.join(format!("{name}.safetensors"));
            write_calibrated(&model, &cal, &path).unwrap();
            let c = open(&path, null());
            assert_eq!(calibration_name(c), name);
            let want = CtrPipeline::open(&path, &Default::default())
                .unwrap()
                .predict(&ids, 500, &mut Workspace::default())
                .unwrap();
            let (mut p, mut q) = (vec![0f32; 500], vec![0f32; 500]);
            // SAFETY: live handle and valid buffers.
            let status = unsafe {
                reckon_ctr_predict(
                    c,
                    ids.as_ptr(),
                    500,
                    10,
                    p.as_mut_ptr(),
                    500,
                    q.as_mut_ptr(),
                    500,
                )
            };
            assert_eq!(status, OK, "{}", last_error());
            assert_eq!(bits(&p), bits(&want.pctr));
            assert_eq!(bits(&q), bits(&want.calibrated));
            assert_ne!(bits(&p), bits(&q), "{name} changed nothing");
            // SAFETY: handle from reckon_ctr_open, freed once.
            unsafe { reckon_ctr_free(c) };
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn open_errors() {
        let mut c = 0x10 as *mut reckon_ctr;
        let sentinel = c;
        let missing = cpath(&demo("nope.safetensors"));
        let ranker = cpath(&demo("ranker.safetensors"));
        let good = cpath(&demo("deepfm.safetensors"));
        // SAFETY: valid or NULL pointers; `*out` is only written on success.
        unsafe {
            assert_eq!(
                reckon_ctr_open(missing.as_ptr(), null(), &mut c),
                st(Status::RECKON_IO)
            );
            assert_eq!(reckon_ctr_open(ranker.as_ptr(), null(), &mut c), INVALID);
            assert!(last_error().contains("deepfm"), "{}", last_error());
            assert_eq!(reckon_ctr_open(null(), null(), &mut c), INVALID);
            assert_eq!(reckon_ctr_open(c"\xff".as_ptr(), null(), &mut c), INVALID);
            assert_eq!(reckon_ctr_open(good.as_ptr(), null(), null_mut()), INVALID);
            assert_eq!(c, sentinel);
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_ctr_open(good.as_ptr(), null(), &mut c),
                st(Status::RECKON_PANIC)
            );
            assert!(last_error().contains("panic"));
            assert_eq!(c, sentinel);
        }
    }

    #[test]
    fn predict_errors_leave_outputs_untouched() {
        let c = open(&demo("deepfm.safetensors"), null());
        let (mut ids, _) = requests(4);
        let (mut p, mut q) = ([7f32; 4], [7f32; 4]);
        let call = |c: *const reckon_ctr,
                    ids: *const i64,
                    rows: usize,
                    cols: usize,
                    p: *mut f32,
                    pl: usize,
                    q: *mut f32,
                    ql: usize| {
            // SAFETY: the test passes valid buffers of the stated lengths, or NULL.
            unsafe { reckon_ctr_predict(c, ids, rows, cols, p, pl, q, ql) }
        };
        let (pp, qp) = (p.as_mut_ptr(), q.as_mut_ptr());
        assert_eq!(call(null(), ids.as_ptr(), 4, 10, pp, 4, qp, 4), INVALID);
        assert_eq!(call(c, null(), 4, 10, pp, 4, qp, 4), INVALID);
        assert_eq!(call(c, ids.as_ptr(), 0, 10, pp, 4, qp, 4), INVALID);
        assert_eq!(
            call(c, ids.as_ptr(), 4, 9, pp, 4, qp, 4),
            st(Status::RECKON_SHAPE)
        );
        assert_eq!(
            call(c, ids.as_ptr(), 4, 10, null_mut(), 0, null_mut(), 0),
            INVALID
        );
        let small = st(Status::RECKON_BUFFER_TOO_SMALL);
        assert_eq!(call(c, ids.as_ptr(), 4, 10, pp, 3, qp, 4), small);
        assert_eq!(call(c, ids.as_ptr(), 4, 10, pp, 4, qp, 3), small);
        assert_eq!(call(c, ids.as_ptr(), usize::MAX, 10, pp, 4, qp, 4), INVALID);
        ids[37] = 1_000_000; // row 3, past its field's vocabulary
        assert_eq!(
            call(c, ids.as_ptr(), 4, 10, pp, 4, qp, 4),
            st(Status::RECKON_OUT_OF_RANGE)
        );
        assert!(!last_error().is_empty());
        super::super::boundary::trigger_panic_next();
        ids[37] = 0;
        assert_eq!(
            call(c, ids.as_ptr(), 4, 10, pp, 4, qp, 4),
            st(Status::RECKON_PANIC)
        );
        assert_eq!((p, q), ([7f32; 4], [7f32; 4]));
        // SAFETY: live handle (or NULL) and valid out slots, or NULL ones to refuse.
        unsafe {
            let mut n = 0;
            let mut name = null();
            assert_eq!(reckon_ctr_fields(null(), &mut n), INVALID);
            assert_eq!(reckon_ctr_fields(c, null_mut()), INVALID);
            assert_eq!(reckon_ctr_calibration(null(), &mut name), INVALID);
            assert_eq!(reckon_ctr_calibration(c, null_mut()), INVALID);
            assert_eq!((n, name), (0, null()));
            super::super::boundary::trigger_panic_next();
            assert_eq!(reckon_ctr_fields(c, &mut n), st(Status::RECKON_PANIC));
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_ctr_calibration(c, &mut name),
                st(Status::RECKON_PANIC)
            );
            assert_eq!((n, name), (0, null()));
            super::super::boundary::trigger_panic_next();
            reckon_ctr_free(c);
            // The panic swallowed by the free left the handle unfreed; free it for real.
            reckon_ctr_free(c);
        }
    }

    #[test]
    fn oov_fallback_option_reaches_the_pipeline() {
        let mut opts = null_mut();
        // SAFETY: valid out slot and live options handle.
        unsafe {
            assert_eq!(reckon_options_create(&mut opts), OK);
            assert_eq!(reckon_options_set_oov_fallback(opts, 0), OK);
        }
        let c = open(&demo("deepfm.safetensors"), opts);
        // SAFETY: options handle from reckon_options_create, freed once.
        unsafe { reckon_options_free(opts) };
        let mut ids = requests(1).0;
        ids[0] = 1_000_000;
        let mut p = [0f32];
        // SAFETY: live handle and valid buffers.
        let status =
            unsafe { reckon_ctr_predict(c, ids.as_ptr(), 1, 10, p.as_mut_ptr(), 1, null_mut(), 0) };
        assert_eq!(status, OK, "{}", last_error());
        assert!(p[0] > 0.0 && p[0] < 1.0);
        // SAFETY: handle from reckon_ctr_open, freed once.
        unsafe { reckon_ctr_free(c) };
    }
}
