//! `reckon_fraud`: the real-time fraud system of SPEC §4.4 from C — a streaming feature engine
//! per user and device, the `fraud` model, and a threshold decision; snapshots to a file.

use std::cell::RefCell;
use std::ffi::c_char;

use super::boundary::{
    arg_out, arg_ref, arg_slice, arg_str, free_box, guard, guard_void, hand_out, opening,
    optional_out, out_prefix, FfiError, FfiResult,
};
use super::core::{options_or_default, reckon_options};
use super::status::{reckon_status, Status};
use crate::pipelines::fraud::{
    FraudConfig, FraudDecision, FraudPipeline, FraudWorkspace, Transaction, DEFAULT_THRESHOLD,
    FEATURE_COUNT,
};

/// A fraud model with its feature engine (the streaming state of every user and device).
/// Opaque. Every call takes a `const` handle: the state is internally locked per shard, so
/// one handle may be shared by any number of threads scoring at once, and each transaction
/// is applied atomically.
#[allow(non_camel_case_types)]
pub struct reckon_fraud {
    inner: FraudPipeline,
}

/// Settings of a fraud engine; start from `reckon_fraud_config_default()` and change fields.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct reckon_fraud_config {
    /// Seconds after which an idle user or device is forgotten and its memory freed; at least
    /// 86400 + `max_lateness_seconds`. `INFINITY`: never. Default 30 days.
    pub ttl_seconds: f64,
    /// How much older (seconds) than the newest transaction seen a transaction may be and
    /// still be accepted; older ones get `RECKON_LATE`. Default 3600. `INFINITY` (accept any
    /// order) needs `ttl_seconds` = `INFINITY` too.
    pub max_lateness_seconds: f64,
    /// `device_user_count` saturates here (bounds each device's memory); at least 1.
    /// Default 64.
    pub max_device_users: u32,
    /// Lock shards: a power of two from 1 to 4096; more, less contention between threads.
    /// Never changes a feature. Default 64.
    pub shards: usize,
    /// Decision threshold: a transaction is flagged when its score ≥ this; in [0, 1].
    /// Default 0.5 (the seed's).
    pub threshold: f32,
}

/// One payment, as the features read it.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct reckon_transaction {
    /// The paying user (opaque: hash string ids to 64 bits first).
    pub user_id: u64,
    /// The device it came from (opaque).
    pub device_id: u64,
    /// Seconds since the Unix epoch, UTC (finite, ≥ 0; fractions allowed). Seconds, not
    /// milliseconds: there is no upper bound, and one timestamp far in the future becomes the
    /// newest seen, so every later transaction is `RECKON_LATE` until a restore.
    pub timestamp: f64,
    /// Amount in currency units (finite, 0 ≤ amount ≤ 1e15).
    pub amount: f64,
    /// Whether the payment crosses a border.
    pub is_international: bool,
}

/// What the system says about one transaction.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct reckon_fraud_decision {
    /// Fraud probability from the model, in [0, 1].
    pub score: f32,
    /// `score ≥ threshold`.
    pub flagged: bool,
    /// The 11 features the model saw, in the order `reckon_fraud_feature_name` names them
    /// (booleans as 0/1).
    pub features: [f32; 11],
}

// The C struct spells the width out; keep it in step with the engine.
const _: () = assert!(FEATURE_COUNT == 11);

/// `FEATURE_NAMES`, NUL-terminated for C (a test checks they agree).
const FEATURE_NAMES_C: [&str; FEATURE_COUNT] = [
    "amount\0",
    "amount_log\0",
    "hour_of_day\0",
    "is_night\0",
    "is_international\0",
    "txn_count_1h\0",
    "txn_count_24h\0",
    "amount_sum_24h\0",
    "amount_deviation\0",
    "device_user_count\0",
    "new_device\0",
];

/// Each calling thread's model scratch and batch results, reused so a warmed-up call
/// allocates nothing.
#[derive(Default)]
struct Scratch {
    ws: FraudWorkspace,
    txns: Vec<Transaction>,
    decisions: Vec<FraudDecision>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
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

/// The default settings: 30-day TTL, 1 h lateness, 64 users per device, 64 shards, threshold
/// 0.5. Never fails.
#[no_mangle]
pub extern "C" fn reckon_fraud_config_default() -> reckon_fraud_config {
    let d = FraudConfig::default();
    reckon_fraud_config {
        ttl_seconds: d.ttl,
        max_lateness_seconds: d.max_lateness,
        max_device_users: d.max_device_users,
        shards: d.shards,
        threshold: DEFAULT_THRESHOLD,
    }
}

impl reckon_fraud_config {
    fn engine(&self) -> FraudConfig {
        FraudConfig {
            ttl: self.ttl_seconds,
            max_lateness: self.max_lateness_seconds,
            max_device_users: self.max_device_users,
            shards: self.shards,
        }
    }
}

impl reckon_transaction {
    fn rust(&self) -> Transaction {
        Transaction {
            user: self.user_id,
            device: self.device_id,
            timestamp: self.timestamp,
            amount: self.amount,
            is_international: self.is_international,
        }
    }
}

fn decision_c(d: &FraudDecision) -> reckon_fraud_decision {
    let mut features = [0f32; FEATURE_COUNT];
    d.features.write_f32(&mut features);
    reckon_fraud_decision {
        score: d.score,
        flagged: d.flagged,
        features,
    }
}

/// Opens the `fraud` model at `model_path` (UTF-8; it must take the 11 features in order) and
/// starts an empty engine with `config` (NULL: `reckon_fraud_config_default()`). `opts` may be
/// NULL (defaults). On success `*out` holds a handle to free with `reckon_fraud_free`; on
/// failure `*out` is left unchanged. A setting out of range or a model of another architecture
/// or width is `RECKON_INVALID_ARGUMENT` (the message names the field).
#[no_mangle]
pub unsafe extern "C" fn reckon_fraud_open(
    model_path: *const c_char,
    config: *const reckon_fraud_config,
    opts: *const reckon_options,
    out: *mut *mut reckon_fraud,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract for each pointer argument (documented in the header).
        let (path, opts, out) = unsafe {
            (
                arg_str(model_path, "model_path")?,
                options_or_default(opts)?,
                arg_out(out, "out")?,
            )
        };
        let config = if config.is_null() {
            reckon_fraud_config_default()
        } else {
            // SAFETY: C contract: a non-NULL `config` points to a readable config.
            *unsafe { arg_ref(config, "config") }?
        };
        let inner = FraudPipeline::open(path, &opts, config.engine(), config.threshold)
            .map_err(opening(path))?;
        hand_out(out, reckon_fraud { inner });
        Ok(())
    })
}

/// Frees a fraud handle and all its state. NULL is fine. No other thread may be using it.
#[no_mangle]
pub unsafe extern "C" fn reckon_fraud_free(f: *mut reckon_fraud) {
    // SAFETY: C contract: `f` is NULL or came from reckon_fraud_open, freed once.
    guard_void(|| unsafe { free_box(f) })
}

/// Features, score and decision for `*txn` from the history before it, written to `*out`;
/// then the transaction is recorded. Errors, with nothing recorded and `*out` untouched:
/// `RECKON_INVALID_ARGUMENT` for a NaN, infinite or negative amount or timestamp (or an amount
/// above 1e15), `RECKON_LATE` for a timestamp more than `max_lateness_seconds` older than the
/// newest one seen.
#[no_mangle]
pub unsafe extern "C" fn reckon_fraud_score(
    f: *const reckon_fraud,
    txn: *const reckon_transaction,
    out: *mut reckon_fraud_decision,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `f` is a live handle, `txn` readable, `out` writable.
        let (f, txn, out) =
            unsafe { (arg_ref(f, "f")?, arg_ref(txn, "txn")?, arg_out(out, "out")?) };
        let d = with_scratch(|s| Ok(f.inner.score(&txn.rust(), &mut s.ws)?))?;
        *out = decision_c(&d);
        Ok(())
    })
}

/// `reckon_fraud_score` for `n` (≥ 1) transactions in order, each seeing those before it, into
/// `out[0..n)` (`out` holds `out_len` decisions); faster than `n` single calls.
///
/// Every transaction is checked first — values, and lateness against the newest timestamp as
/// the batch itself advances it — so one bad transaction anywhere in the batch fails the call
/// with nothing recorded and `out` untouched. The one exception: another thread scoring on the
/// same handle meanwhile can advance the newest timestamp so that a later transaction of this
/// batch becomes late after earlier ones were recorded; the call then returns `RECKON_LATE`
/// with those earlier ones recorded (and `out` still untouched).
#[no_mangle]
pub unsafe extern "C" fn reckon_fraud_score_batch(
    f: *const reckon_fraud,
    txns: *const reckon_transaction,
    n: usize,
    out: *mut reckon_fraud_decision,
    out_len: usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `f` is a live handle.
        let f = unsafe { arg_ref(f, "f") }?;
        if n == 0 {
            return Err(FfiError::invalid("n", "is 0"));
        }
        // SAFETY: C contract: `txns` holds `n` transactions, `out` holds `out_len` decisions.
        let (txns, out) = unsafe {
            (
                arg_slice(txns, n, "txns")?,
                out_prefix(out, out_len, n, "out")?,
            )
        };
        with_scratch(|s| {
            s.txns.clear();
            s.txns.extend(txns.iter().map(reckon_transaction::rust));
            f.inner.score_batch(&s.txns, &mut s.ws, &mut s.decisions)?;
            for (o, d) in out.iter_mut().zip(&s.decisions) {
                *o = decision_c(d);
            }
            Ok(())
        })
    })
}

/// Writes the engine's whole state to the file at `path` (UTF-8), through a temporary file
/// `path` + ".tmp" renamed into place, so a crash never leaves a half-written snapshot under
/// `path`. A consistent cut: concurrent scoring waits while it is taken. `RECKON_IO` if the
/// file cannot be written.
#[no_mangle]
pub unsafe extern "C" fn reckon_fraud_snapshot(
    f: *const reckon_fraud,
    path: *const c_char,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `f` is a live handle, `path` a NUL-terminated string.
        let (f, path) = unsafe { (arg_ref(f, "f")?, arg_str(path, "path")?) };
        Ok(f.inner.engine().snapshot(path)?)
    })
}

/// Replaces the engine's state by the snapshot in the file at `path` (UTF-8), exactly as it
/// was taken. The file is read and fully checked first: on any error the state is unchanged.
/// Errors: `RECKON_IO` (unreadable), `RECKON_FORMAT` (truncated, corrupted, another version,
/// or taken with another `ttl_seconds`, `max_lateness_seconds` or `max_device_users`).
#[no_mangle]
pub unsafe extern "C" fn reckon_fraud_restore(
    f: *const reckon_fraud,
    path: *const c_char,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `f` is a live handle, `path` a NUL-terminated string.
        let (f, path) = unsafe { (arg_ref(f, "f")?, arg_str(path, "path")?) };
        Ok(f.inner.engine().restore(path)?)
    })
}

/// How many users and devices the engine holds in memory (including idle ones not yet
/// swept). Either out-pointer may be NULL if that count is not wanted.
#[no_mangle]
pub unsafe extern "C" fn reckon_fraud_counts(
    f: *const reckon_fraud,
    users: *mut usize,
    devices: *mut usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `f` is a live handle; each out-pointer NULL or writable.
        let (f, users, devices) = unsafe {
            (
                arg_ref(f, "f")?,
                optional_out(users, "users")?,
                optional_out(devices, "devices")?,
            )
        };
        if let Some(u) = users {
            *u = f.inner.engine().user_count();
        }
        if let Some(d) = devices {
            *d = f.inner.engine().device_count();
        }
        Ok(())
    })
}

/// The newest timestamp accepted so far (0 before the first transaction), in `*out`.
/// Transactions older than this minus `max_lateness_seconds` are refused.
#[no_mangle]
pub unsafe extern "C" fn reckon_fraud_watermark(
    f: *const reckon_fraud,
    out: *mut f64,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `f` is a live handle, `out` writable.
        let (f, out) = unsafe { (arg_ref(f, "f")?, arg_out(out, "out")?) };
        *out = f.inner.engine().watermark();
        Ok(())
    })
}

/// Frees every user and device idle past the TTL now, in one pass (scoring already does this
/// a little at a time; call it from a maintenance thread for a tighter memory bound). Never
/// changes a feature. `dropped` (may be NULL) receives how many ids were freed.
#[no_mangle]
pub unsafe extern "C" fn reckon_fraud_expire_idle(
    f: *const reckon_fraud,
    dropped: *mut usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `f` is a live handle, `dropped` NULL or writable.
        let (f, dropped) = unsafe { (arg_ref(f, "f")?, optional_out(dropped, "dropped")?) };
        let n = f.inner.engine().expire_idle();
        if let Some(d) = dropped {
            *d = n;
        }
        Ok(())
    })
}

/// The name of feature `i` (0 ≤ i < 11) of `reckon_fraud_decision.features` in `*out`, e.g.
/// `"txn_count_1h"`. Static storage: valid forever. `RECKON_OUT_OF_RANGE` for i ≥ 11, so a
/// loop may also stop there.
#[no_mangle]
pub unsafe extern "C" fn reckon_fraud_feature_name(
    i: usize,
    out: *mut *const c_char,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `out` is writable.
        let out = unsafe { arg_out(out, "out") }?;
        let name = FEATURE_NAMES_C.get(i).ok_or_else(|| {
            FfiError::new(
                Status::RECKON_OUT_OF_RANGE,
                format!("i: {i} is not a feature index (there are {FEATURE_COUNT})"),
            )
        })?;
        *out = name.as_ptr() as *const c_char;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::test_support::*;
    use crate::models::Options;
    use crate::pipelines::fraud::FEATURE_NAMES;
    use crate::weights::Container;
    use std::ffi::{CStr, CString};
    use std::path::{Path, PathBuf};
    use std::ptr::{null, null_mut};

    fn demo(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("weights/demo")
            .join(name)
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("reckon_ffi_fraud_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn cpath(p: &Path) -> CString {
        CString::new(p.to_str().unwrap()).unwrap()
    }

    /// The demo's replay stream (time-ordered).
    fn stream() -> Vec<reckon_transaction> {
        let bytes = std::fs::read(demo("requests/fraud.safetensors")).unwrap();
        let c = Container::parse(&bytes).unwrap();
        let col = |name: &str| c.tensor(name).unwrap().as_i64().unwrap().into_owned();
        let (ts, user, device, intl) = (
            col("ts"),
            col("user"),
            col("device"),
            col("is_international"),
        );
        let amount = c.tensor("amount").unwrap().as_f32().unwrap().into_owned();
        (0..ts.len())
            .map(|i| reckon_transaction {
                user_id: user[i] as u64,
                device_id: device[i] as u64,
                timestamp: ts[i] as f64,
                amount: f64::from(amount[i]),
                is_international: intl[i] != 0,
            })
            .collect()
    }

    fn open(config: *const reckon_fraud_config) -> *mut reckon_fraud {
        let mut f = null_mut();
        let path = cpath(&demo("fraud.safetensors"));
        // SAFETY: valid path and out slot; config valid or NULL.
        let status = unsafe { reckon_fraud_open(path.as_ptr(), config, null(), &mut f) };
        assert_eq!(status, OK, "{}", last_error());
        f
    }

    fn rust_pipeline() -> FraudPipeline {
        FraudPipeline::open(
            demo("fraud.safetensors"),
            &Options::default(),
            FraudConfig::default(),
            DEFAULT_THRESHOLD,
        )
        .unwrap()
    }

    fn counts(f: *const reckon_fraud) -> (usize, usize) {
        let (mut u, mut d) = (0, 0);
        // SAFETY: live handle, valid out slots.
        assert_eq!(unsafe { reckon_fraud_counts(f, &mut u, &mut d) }, OK);
        (u, d)
    }

    fn free(f: *mut reckon_fraud) {
        // SAFETY: handle from reckon_fraud_open, freed once.
        unsafe { reckon_fraud_free(f) }
    }

    const BLANK: reckon_fraud_decision = reckon_fraud_decision {
        score: -1.0,
        flagged: true,
        features: [-1.0; 11],
    };

    fn same(a: &reckon_fraud_decision, b: &FraudDecision) -> bool {
        decision_c(b).features.map(f32::to_bits) == a.features.map(f32::to_bits)
            && a.score.to_bits() == b.score.to_bits()
            && a.flagged == b.flagged
    }

    #[test]
    fn single_and_batch_scoring_match_rust_bit_for_bit() {
        let txns = stream();
        let rust = rust_pipeline();
        let mut want = Vec::new();
        let rust_txns: Vec<Transaction> = txns.iter().map(reckon_transaction::rust).collect();
        rust.score_batch(&rust_txns, &mut FraudWorkspace::default(), &mut want)
            .unwrap();

        let batch = open(null());
        let mut out = vec![BLANK; txns.len() + 1];
        // SAFETY: live handle, `txns` and `out` hold the stated lengths.
        let status = unsafe {
            reckon_fraud_score_batch(
                batch,
                txns.as_ptr(),
                txns.len(),
                out.as_mut_ptr(),
                out.len(),
            )
        };
        assert_eq!(status, OK, "{}", last_error());
        assert!(out.iter().zip(&want).all(|(a, b)| same(a, b)));
        assert_eq!(out[txns.len()], BLANK, "past n: untouched");
        assert!(out.iter().any(|d| d.flagged), "the demo stream has fraud");

        let single = open(null());
        let mut ws = FraudWorkspace::default();
        let one_by_one = rust_pipeline();
        for t in &txns[..500] {
            let mut d = BLANK;
            // SAFETY: live handle, valid transaction and out slot.
            assert_eq!(unsafe { reckon_fraud_score(single, t, &mut d) }, OK);
            assert!(same(&d, &one_by_one.score(&t.rust(), &mut ws).unwrap()));
        }
        assert_eq!(
            counts(single),
            (
                one_by_one.engine().user_count(),
                one_by_one.engine().device_count()
            )
        );
        let mut wm = 0.0;
        // SAFETY: live handle, valid out slot.
        assert_eq!(unsafe { reckon_fraud_watermark(single, &mut wm) }, OK);
        assert_eq!(wm, txns[499].timestamp);
        free(batch);
        free(single);
        free(null_mut());
    }

    #[test]
    fn config_reaches_the_engine_and_bad_settings_are_refused() {
        let d = reckon_fraud_config_default();
        let rust = FraudConfig::default();
        assert_eq!(
            (
                d.ttl_seconds,
                d.max_lateness_seconds,
                d.max_device_users,
                d.shards
            ),
            (
                rust.ttl,
                rust.max_lateness,
                rust.max_device_users,
                rust.shards
            )
        );
        assert_eq!(d.threshold, DEFAULT_THRESHOLD);
        // Threshold 0 flags everything.
        let f = open(&reckon_fraud_config {
            threshold: 0.0,
            shards: 1,
            ..d
        });
        let mut out = BLANK;
        let t = stream()[0];
        // SAFETY: live handle, valid transaction and out slot.
        assert_eq!(unsafe { reckon_fraud_score(f, &t, &mut out) }, OK);
        assert!(out.flagged);
        free(f);

        let path = cpath(&demo("fraud.safetensors"));
        let bad = [
            reckon_fraud_config {
                threshold: 1.5,
                ..d
            },
            reckon_fraud_config {
                threshold: f32::NAN,
                ..d
            },
            reckon_fraud_config { shards: 3, ..d },
            reckon_fraud_config { shards: 0, ..d },
            reckon_fraud_config {
                max_device_users: 0,
                ..d
            },
            reckon_fraud_config {
                ttl_seconds: 3600.0,
                ..d
            },
            reckon_fraud_config {
                max_lateness_seconds: f64::NAN,
                ..d
            },
        ];
        for config in bad {
            let mut f = null_mut();
            // SAFETY: valid path, config and out slot.
            let status = unsafe { reckon_fraud_open(path.as_ptr(), &config, null(), &mut f) };
            assert_eq!(status, INVALID, "{config:?}");
            assert!(f.is_null());
        }
    }

    #[test]
    fn open_errors() {
        let mut f = null_mut();
        let good = cpath(&demo("fraud.safetensors"));
        let ltr = cpath(&demo("ltr.safetensors"));
        let missing = cpath(&demo("none.safetensors"));
        // SAFETY: valid or NULL pointers; `*out` is only written on success.
        unsafe {
            assert_eq!(
                reckon_fraud_open(missing.as_ptr(), null(), null(), &mut f),
                st(Status::RECKON_IO)
            );
            assert_eq!(
                reckon_fraud_open(ltr.as_ptr(), null(), null(), &mut f),
                INVALID
            );
            assert!(last_error().contains("fraud"), "{}", last_error());
            assert_eq!(reckon_fraud_open(null(), null(), null(), &mut f), INVALID);
            assert_eq!(
                reckon_fraud_open(c"\xfe".as_ptr(), null(), null(), &mut f),
                INVALID
            );
            assert_eq!(
                reckon_fraud_open(good.as_ptr(), null(), null(), null_mut()),
                INVALID
            );
            let config = [reckon_fraud_config_default(); 2];
            let misaligned = (config.as_ptr() as *const u8).add(1) as *const reckon_fraud_config;
            assert_eq!(
                reckon_fraud_open(good.as_ptr(), misaligned, null(), &mut f),
                INVALID
            );
            assert!(f.is_null());
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_fraud_open(good.as_ptr(), null(), null(), &mut f),
                st(Status::RECKON_PANIC)
            );
            assert!(last_error().contains("panic"));
            assert!(f.is_null());
        }
    }

    #[test]
    fn score_errors_record_nothing_and_write_nothing() {
        let f = open(null());
        let txns = stream();
        let mut out = BLANK;
        // SAFETY: live handle (or NULL), valid transactions and out slots (or NULL).
        unsafe {
            assert_eq!(reckon_fraud_score(f, &txns[100], &mut out), OK);
            let before = counts(f);
            out = BLANK;
            let nan = reckon_transaction {
                amount: f64::NAN,
                ..txns[101]
            };
            let negative_ts = reckon_transaction {
                timestamp: -1.0,
                ..txns[101]
            };
            let late = reckon_transaction {
                timestamp: txns[100].timestamp - 7200.0,
                ..txns[101]
            };
            assert_eq!(reckon_fraud_score(f, &nan, &mut out), INVALID);
            assert!(last_error().contains("amount"), "{}", last_error());
            assert_eq!(reckon_fraud_score(f, &negative_ts, &mut out), INVALID);
            assert_eq!(
                reckon_fraud_score(f, &late, &mut out),
                st(Status::RECKON_LATE)
            );
            assert_eq!(reckon_fraud_score(null(), &txns[101], &mut out), INVALID);
            assert_eq!(reckon_fraud_score(f, null(), &mut out), INVALID);
            assert_eq!(reckon_fraud_score(f, &txns[101], null_mut()), INVALID);
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_fraud_score(f, &txns[101], &mut out),
                st(Status::RECKON_PANIC)
            );
            assert!(last_error().contains("panic"));
            assert_eq!(out, BLANK);
            assert_eq!(counts(f), before);
        }
        free(f);
    }

    /// A bad transaction in the middle of a batch fails the whole call before anything is
    /// recorded: the engine's state (snapshot bytes) is exactly as before, `out` untouched.
    #[test]
    fn a_bad_transaction_mid_batch_applies_nothing() {
        let f = open(null());
        let txns = stream();
        // SAFETY: live handle, valid buffers of the stated lengths (or refused ones).
        unsafe {
            let mut warm = vec![BLANK; 50];
            assert_eq!(
                reckon_fraud_score_batch(f, txns.as_ptr(), 50, warm.as_mut_ptr(), 50),
                OK
            );
            let before = (*f).inner.engine().snapshot_bytes();
            let mut batch = txns[50..150].to_vec();
            let mut out = vec![BLANK; 100];
            batch[60].amount = f64::NAN;
            let status = reckon_fraud_score_batch(f, batch.as_ptr(), 100, out.as_mut_ptr(), 100);
            assert_eq!(status, INVALID);
            batch[60] = reckon_transaction {
                timestamp: batch[59].timestamp - 3601.0,
                ..txns[110]
            };
            let status = reckon_fraud_score_batch(f, batch.as_ptr(), 100, out.as_mut_ptr(), 100);
            assert_eq!(status, st(Status::RECKON_LATE), "{}", last_error());
            batch[60] = txns[110];
            assert_eq!(
                reckon_fraud_score_batch(f, batch.as_ptr(), 100, out.as_mut_ptr(), 99),
                st(Status::RECKON_BUFFER_TOO_SMALL)
            );
            assert_eq!(
                reckon_fraud_score_batch(f, batch.as_ptr(), 0, out.as_mut_ptr(), 100),
                INVALID
            );
            assert_eq!(
                reckon_fraud_score_batch(f, null(), 100, out.as_mut_ptr(), 100),
                INVALID
            );
            assert_eq!(
                reckon_fraud_score_batch(f, batch.as_ptr(), 100, null_mut(), 100),
                INVALID
            );
            assert_eq!(
                reckon_fraud_score_batch(null(), batch.as_ptr(), 100, out.as_mut_ptr(), 100),
                INVALID
            );
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_fraud_score_batch(f, batch.as_ptr(), 100, out.as_mut_ptr(), 100),
                st(Status::RECKON_PANIC)
            );
            assert!(out.iter().all(|d| *d == BLANK));
            assert_eq!((*f).inner.engine().snapshot_bytes(), before);
        }
        free(f);
    }

    #[test]
    fn snapshot_restore_round_trip_and_bad_files() {
        let txns = stream();
        let (head, tail) = txns.split_at(3000);
        let a = open(null());
        let path = scratch("state.snap");
        let cp = cpath(&path);
        let mut out_a = vec![BLANK; tail.len()];
        let mut out_b = vec![BLANK; tail.len()];
        // SAFETY: live handles, valid paths and buffers of the stated lengths.
        unsafe {
            let mut sink = vec![BLANK; head.len()];
            assert_eq!(
                reckon_fraud_score_batch(
                    a,
                    head.as_ptr(),
                    head.len(),
                    sink.as_mut_ptr(),
                    sink.len()
                ),
                OK
            );
            assert_eq!(
                reckon_fraud_snapshot(a, cp.as_ptr()),
                OK,
                "{}",
                last_error()
            );
            // A fresh engine restored from the file continues exactly as the original.
            let b = open(&reckon_fraud_config {
                shards: 4,
                ..reckon_fraud_config_default()
            });
            assert_eq!(reckon_fraud_restore(b, cp.as_ptr()), OK, "{}", last_error());
            assert_eq!(counts(a), counts(b));
            assert_eq!(
                reckon_fraud_score_batch(
                    a,
                    tail.as_ptr(),
                    tail.len(),
                    out_a.as_mut_ptr(),
                    tail.len()
                ),
                OK
            );
            assert_eq!(
                reckon_fraud_score_batch(
                    b,
                    tail.as_ptr(),
                    tail.len(),
                    out_b.as_mut_ptr(),
                    tail.len()
                ),
                OK
            );
            assert_eq!(out_a, out_b);

            // Truncated and corrupted files: RECKON_FORMAT, state unchanged.
            let bytes = std::fs::read(&path).unwrap();
            let before = (*b).inner.engine().snapshot_bytes();
            let bad_path = scratch("bad.snap");
            let bad = cpath(&bad_path);
            let mut corrupted = bytes.clone();
            let mid = corrupted.len() / 2;
            corrupted[mid] ^= 0x5a;
            for broken in [
                &bytes[..bytes.len() / 2],
                &bytes[..3],
                &corrupted[..],
                &[][..],
            ] {
                std::fs::write(&bad_path, broken).unwrap();
                assert_eq!(
                    reckon_fraud_restore(b, bad.as_ptr()),
                    st(Status::RECKON_FORMAT)
                );
                assert!(!last_error().is_empty());
                assert_eq!((*b).inner.engine().snapshot_bytes(), before);
            }
            // A snapshot taken under other settings.
            let other = open(&reckon_fraud_config {
                max_device_users: 3,
                ..reckon_fraud_config_default()
            });
            assert_eq!(
                reckon_fraud_restore(other, cp.as_ptr()),
                st(Status::RECKON_FORMAT)
            );
            assert_eq!(counts(other), (0, 0));
            let missing = cpath(&scratch("missing.snap"));
            assert_eq!(
                reckon_fraud_restore(b, missing.as_ptr()),
                st(Status::RECKON_IO)
            );
            let unwritable = cpath(&scratch("no/such/dir/x.snap"));
            assert_eq!(
                reckon_fraud_snapshot(b, unwritable.as_ptr()),
                st(Status::RECKON_IO)
            );
            for (status, what) in [
                (reckon_fraud_snapshot(null(), cp.as_ptr()), "f"),
                (reckon_fraud_snapshot(b, null()), "path"),
                (reckon_fraud_snapshot(b, c"\xff".as_ptr()), "path"),
                (reckon_fraud_restore(null(), cp.as_ptr()), "f"),
                (reckon_fraud_restore(b, null()), "path"),
            ] {
                assert_eq!(status, INVALID, "{what}");
            }
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_fraud_snapshot(b, cp.as_ptr()),
                st(Status::RECKON_PANIC)
            );
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_fraud_restore(b, cp.as_ptr()),
                st(Status::RECKON_PANIC)
            );
            assert_eq!((*b).inner.engine().snapshot_bytes(), before);
            free(b);
            free(other);
        }
        free(a);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn counts_watermark_expiry_and_their_errors() {
        let f = open(null());
        let txns = stream();
        // SAFETY: live handle (or NULL), valid out slots (or NULL).
        unsafe {
            let mut sink = vec![BLANK; 10];
            assert_eq!(
                reckon_fraud_score_batch(f, txns.as_ptr(), 10, sink.as_mut_ptr(), 10),
                OK
            );
            let (mut u, mut d) = (0usize, 0usize);
            assert_eq!(reckon_fraud_counts(f, &mut u, null_mut()), OK);
            assert_eq!(reckon_fraud_counts(f, null_mut(), &mut d), OK);
            assert!(u > 0 && d > 0);
            assert_eq!(reckon_fraud_counts(null(), &mut u, &mut d), INVALID);
            // Far in the future: everyone is idle past the TTL.
            let later = reckon_transaction {
                timestamp: txns[9].timestamp + 40.0 * 86400.0,
                ..txns[0]
            };
            assert_eq!(reckon_fraud_score(f, &later, &mut sink[0]), OK);
            let mut dropped = 0usize;
            assert_eq!(reckon_fraud_expire_idle(f, &mut dropped), OK);
            assert!(dropped > 0);
            assert_eq!(reckon_fraud_expire_idle(f, null_mut()), OK);
            assert_eq!(reckon_fraud_expire_idle(null(), &mut dropped), INVALID);
            let mut wm = -1.0;
            assert_eq!(reckon_fraud_watermark(f, &mut wm), OK);
            assert_eq!(wm, later.timestamp);
            assert_eq!(reckon_fraud_watermark(f, null_mut()), INVALID);
            assert_eq!(reckon_fraud_watermark(null(), &mut wm), INVALID);
            let sentinel = (u, d, dropped, wm);
            for call in 0..3 {
                super::super::boundary::trigger_panic_next();
                let status = match call {
                    0 => reckon_fraud_counts(f, &mut u, &mut d),
                    1 => reckon_fraud_expire_idle(f, &mut dropped),
                    _ => reckon_fraud_watermark(f, &mut wm),
                };
                assert_eq!(status, st(Status::RECKON_PANIC));
            }
            assert_eq!((u, d, dropped, wm), sentinel);
            super::super::boundary::trigger_panic_next();
            reckon_fraud_free(f);
        }
        // The panic swallowed by the free left the handle alive; free it for real.
        free(f);
    }

    #[test]
    fn feature_names_are_the_engines() {
        for (i, want) in FEATURE_NAMES.iter().enumerate() {
            let mut name = null();
            // SAFETY: valid out slot.
            assert_eq!(unsafe { reckon_fraud_feature_name(i, &mut name) }, OK);
            // SAFETY: static NUL-terminated string.
            assert_eq!(unsafe { CStr::from_ptr(name) }.to_str().unwrap(), *want);
        }
        let mut name = null();
        // SAFETY: valid out slot, or NULL to refuse.
        unsafe {
            assert_eq!(
                reckon_fraud_feature_name(11, &mut name),
                st(Status::RECKON_OUT_OF_RANGE)
            );
            assert_eq!(reckon_fraud_feature_name(0, null_mut()), INVALID);
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_fraud_feature_name(0, &mut name),
                st(Status::RECKON_PANIC)
            );
        }
        assert!(name.is_null());
    }
}
