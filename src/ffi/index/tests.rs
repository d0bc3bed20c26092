//! Tests of the `reckon_index` exports: success on the demo two_tower items (bit-identical to
//! the Rust API), every reachable error with outputs left untouched, and the panic boundary.

use std::ffi::{CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use super::super::boundary::trigger_panic_next;
use super::super::core::{reckon_options_create, reckon_options_free, reckon_options_set_threads};
use super::super::model::{reckon_model_free, reckon_model_open};
use super::*;
pub(crate) use crate::ffi::test_support::{last_error, INVALID, OK, PANIC};
use crate::models::{Options, TwoTower, TwoTowerWorkspace};

pub(crate) const SHAPE: c_int = Status::RECKON_SHAPE as c_int;
pub(crate) const SMALL: c_int = Status::RECKON_BUFFER_TOO_SMALL as c_int;
pub(crate) const RANGE: c_int = Status::RECKON_OUT_OF_RANGE as c_int;
pub(crate) const NON_FINITE: c_int = Status::RECKON_NON_FINITE as c_int;
pub(crate) const DIM: usize = 32;
const SENTINEL: reckon_hit = reckon_hit { id: 77, score: 7.0 };

pub(crate) fn demo(name: &str) -> CString {
    let path = format!("{}/weights/demo/{name}", env!("CARGO_MANIFEST_DIR"));
    CString::new(path).expect("no NUL in the path")
}

/// Opens a demo model through the C ABI.
pub(crate) fn open_model(name: &str) -> *mut reckon_model {
    let mut m = null_mut();
    // SAFETY: a valid path and out-pointer.
    let s = unsafe { reckon_model_open(demo(name).as_ptr(), null(), &mut m) };
    assert_eq!(s, OK, "{}", last_error());
    m
}

pub(crate) fn tt() -> &'static TwoTower {
    static TOWERS: OnceLock<Model> = OnceLock::new();
    let m = TOWERS.get_or_init(|| {
        let path = demo("two_tower.safetensors");
        Model::open(path.to_str().expect("utf-8"), &Options::default()).expect("demo model")
    });
    match m {
        Model::TwoTower(t) => t,
        _ => panic!("the demo two_tower is a two_tower"),
    }
}

fn categories() -> Vec<i64> {
    (0..tt().vocab(Tower::Item) as i64).map(|i| i % 7).collect()
}

fn ivf_params() -> KmeansParams {
    KmeansParams {
        nlist: 32,
        iters: 4,
        seed: 9,
        ..KmeansParams::default()
    }
}

fn rust_build(dtype: ItemDtype, cats: Option<&[i64]>, ivf: bool) -> ItemIndex {
    let ids: Vec<i64> = (0..tt().vocab(Tower::Item) as i64).collect();
    let index = ItemIndex::build_from_model(tt(), &ids, dtype, cats).expect("index");
    match ivf {
        true => index.with_ivf(&ivf_params()).expect("ivf"),
        false => index,
    }
}

/// The demo items with categories and 32 IVF lists, built once with the Rust API.
pub(crate) fn shared() -> &'static Arc<ItemIndex> {
    static INDEX: OnceLock<Arc<ItemIndex>> = OnceLock::new();
    INDEX.get_or_init(|| Arc::new(rust_build(ItemDtype::F32, Some(&categories()), true)))
}

fn handle() -> reckon_index {
    reckon_index {
        inner: shared().clone(),
    }
}

pub(crate) fn user(id: i64) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    let mut ws = TwoTowerWorkspace::default();
    tt().embed(Tower::User, &[id], &mut v, &mut ws)
        .expect("user");
    v
}

fn assert_bits(got: &[reckon_hit], want: &[Hit]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.id, g.score.to_bits()), (w.id, w.score.to_bits()));
    }
}

fn temp_path(name: &str) -> CString {
    let p = std::env::temp_dir().join(format!("reckon-ffi-{}-{name}", std::process::id()));
    CString::new(p.to_str().expect("utf-8 temp dir")).expect("no NUL")
}

/// One search call's arguments, so each error test changes one field.
#[derive(Clone, Copy)]
struct Args {
    index: *const reckon_index,
    query: *const f32,
    dim: usize,
    k: usize,
    exclude: *const i64,
    exclude_len: usize,
    out: *mut reckon_hit,
    out_len: usize,
    count: *mut usize,
}

impl Args {
    fn search(self) -> reckon_status {
        // SAFETY: the tests pass buffers of the lengths given, or deliberately bad ones
        // that the checks reject before any access.
        unsafe {
            reckon_index_search(
                self.index,
                self.query,
                self.dim,
                self.k,
                self.exclude,
                self.exclude_len,
                self.out,
                self.out_len,
                self.count,
            )
        }
    }

    fn ivf(self, nprobe: usize) -> reckon_status {
        // SAFETY: as in `search`.
        unsafe {
            reckon_index_search_ivf(
                self.index,
                self.query,
                self.dim,
                self.k,
                nprobe,
                self.exclude,
                self.exclude_len,
                self.out,
                self.out_len,
                self.count,
            )
        }
    }

    /// Batch search over `dim`-wide queries with CSR exclusions `offsets`.
    fn batch(self, n: usize, offsets: *const usize) -> reckon_status {
        // SAFETY: as in `search`.
        unsafe {
            reckon_index_search_batch(
                self.index,
                self.query,
                n,
                self.dim,
                self.k,
                self.exclude,
                offsets,
                self.out,
                self.out_len,
                self.count,
            )
        }
    }
}

/// Buffers for one call: results prefilled with SENTINEL, count with 999.
struct Bufs {
    out: Vec<reckon_hit>,
    count: Vec<usize>,
}

impl Bufs {
    fn new(out_len: usize, counts: usize) -> Bufs {
        Bufs {
            out: vec![SENTINEL; out_len],
            count: vec![999; counts],
        }
    }

    fn args(&mut self, index: &reckon_index, query: &[f32], k: usize, ex: &[i64]) -> Args {
        Args {
            index,
            query: query.as_ptr(),
            dim: DIM,
            k,
            exclude: ex.as_ptr(),
            exclude_len: ex.len(),
            out: self.out.as_mut_ptr(),
            out_len: self.out.len(),
            count: self.count.as_mut_ptr(),
        }
    }

    fn untouched(&self) -> bool {
        self.out.iter().all(|h| *h == SENTINEL) && self.count.iter().all(|&c| c == 999)
    }
}

#[test]
fn build_writes_what_the_rust_api_builds() {
    let m = open_model("two_tower.safetensors");
    let cats = categories();
    let mut opts = reckon_index_build_options_default();
    opts.categories = cats.as_ptr();
    opts.categories_len = cats.len();
    opts.dtype = reckon_item_dtype_code::RECKON_ITEM_F16 as c_int;
    (opts.ivf, opts.nlist, opts.iterations, opts.seed) = (true, 32, 4, 9);
    opts.threads = 3;
    let (mut a, mut b) = (null_mut(), null_mut());
    // SAFETY: live model handle, readable options, writable out-pointers; `a` and `b` are
    // freed once, after their last use.
    unsafe {
        assert_eq!(reckon_index_build(m, &opts, &mut a), OK, "{}", last_error());
        assert_eq!(
            reckon_index_build(m, null(), &mut b),
            OK,
            "{}",
            last_error()
        );
        reckon_model_free(m);
        let want = rust_build(ItemDtype::F16, Some(&cats), true);
        assert_eq!((*a).inner.file().file_bytes(), want.file().file_bytes());
        assert_eq!(((*a).inner.threads(), (*b).inner.threads()), (3, 1));
        let want = rust_build(ItemDtype::F32, None, false);
        assert_eq!((*b).inner.file().file_bytes(), want.file().file_bytes());
        let mut info = std::mem::zeroed::<reckon_index_info>();
        assert_eq!(reckon_index_describe(a, &mut info), OK);
        assert_eq!(
            (info.len, info.dim, info.has_ivf, info.nlist),
            (10_000, DIM, true, 32)
        );
        assert!(info.has_categories);
        assert_eq!(CStr::from_ptr(info.dtype).to_str().ok(), Some("f16"));
        assert_eq!(reckon_index_describe(b, &mut info), OK);
        assert!(!info.has_ivf && !info.has_categories && info.nlist == 0);
        assert_eq!(CStr::from_ptr(info.dtype).to_str().ok(), Some("f32"));
        reckon_index_free(a);
        reckon_index_free(b);
        reckon_index_free(null_mut());
    }
}

#[test]
fn build_errors_leave_out_untouched() {
    let (m, ranker) = (
        open_model("two_tower.safetensors"),
        open_model("ranker.safetensors"),
    );
    let sentinel = 0x10 as *mut reckon_index;
    let mut out = sentinel;
    let cats = [1i64, 2, 3];
    let mut opts = reckon_index_build_options_default();
    let with = |f: &dyn Fn(&mut reckon_index_build_options)| {
        let mut o = reckon_index_build_options_default();
        f(&mut o);
        o
    };
    // SAFETY: each call passes NULL, a bad value, or valid handles and pointers.
    unsafe {
        assert_eq!(reckon_index_build(null(), null(), &mut out), INVALID);
        assert_eq!(reckon_index_build(m, null(), null_mut()), INVALID);
        assert_eq!(reckon_index_build(ranker, null(), &mut out), INVALID);
        assert!(last_error().contains("two_tower"), "{}", last_error());
        let bad_dtype = with(&|o| o.dtype = 7);
        assert_eq!(reckon_index_build(m, &bad_dtype, &mut out), INVALID);
        let short = with(&|o| (o.categories, o.categories_len) = (cats.as_ptr(), 3));
        assert_eq!(reckon_index_build(m, &short, &mut out), SHAPE);
        let null_cats = with(&|o| o.categories_len = 3);
        assert_eq!(reckon_index_build(m, &null_cats, &mut out), INVALID);
        let big = with(&|o| (o.ivf, o.nlist) = (true, 1_000_000));
        assert_eq!(reckon_index_build(m, &big, &mut out), INVALID);
        let odd = (&mut opts as *mut _ as *mut u8).add(1) as *const reckon_index_build_options;
        assert_eq!(reckon_index_build(m, odd, &mut out), INVALID);
        assert_eq!(out, sentinel);
        reckon_model_free(m);
        reckon_model_free(ranker);
    }
}

#[test]
fn save_then_open_round_trips() {
    let h = handle();
    let path = temp_path("round-trip.safetensors");
    let mut opened = null_mut();
    // SAFETY: a live handle, valid strings and out-pointers; `opened` is freed once.
    unsafe {
        assert_eq!(reckon_index_save(&h, path.as_ptr()), OK, "{}", last_error());
        // Threads only change how a search runs, never its results (compared below).
        let mut opts = null_mut();
        assert_eq!(reckon_options_create(&mut opts), OK);
        assert_eq!(reckon_options_set_threads(opts, 2), OK);
        let s = reckon_index_open(path.as_ptr(), opts, &mut opened);
        reckon_options_free(opts);
        assert_eq!(s, OK, "{}", last_error());
        assert_eq!((*opened).inner.threads(), 2);
        assert_eq!(
            (*opened).inner.file().file_bytes(),
            shared().file().file_bytes()
        );
        let q = user(5);
        let (mut a, mut b) = (Bufs::new(10, 1), Bufs::new(10, 1));
        assert_eq!(a.args(&h, &q, 10, &[]).search(), OK);
        assert_eq!(b.args(&*opened, &q, 10, &[]).search(), OK);
        assert_eq!(a.out, b.out);
        reckon_index_free(opened);
    }
    let _ = std::fs::remove_file(path.to_str().expect("utf-8"));
}

#[test]
fn open_save_and_describe_errors() {
    let h = handle();
    let sentinel = 0x10 as *mut reckon_index;
    let mut out = sentinel;
    let missing = temp_path("does-not-exist.safetensors");
    let bad_dir = c"/nonexistent-reckon-dir/x.safetensors";
    let model = demo("two_tower.safetensors");
    let io = Status::RECKON_IO as c_int;
    // SAFETY: each call passes NULL, or a valid string / handle / out-pointer.
    unsafe {
        assert_eq!(reckon_index_open(null(), null(), &mut out), INVALID);
        assert_eq!(
            reckon_index_open(c"\xff".as_ptr(), null(), &mut out),
            INVALID
        );
        assert_eq!(reckon_index_open(missing.as_ptr(), null(), &mut out), io);
        assert_eq!(reckon_index_open(model.as_ptr(), null(), &mut out), INVALID);
        assert!(last_error().contains("item_index"), "{}", last_error());
        assert_eq!(
            reckon_index_open(model.as_ptr(), null(), null_mut()),
            INVALID
        );
        assert_eq!(out, sentinel);
        assert_eq!(reckon_index_save(null(), missing.as_ptr()), INVALID);
        assert_eq!(reckon_index_save(&h, null()), INVALID);
        assert_eq!(reckon_index_save(&h, bad_dir.as_ptr()), io);
        let mut info = std::mem::zeroed::<reckon_index_info>();
        assert_eq!(reckon_index_describe(null(), &mut info), INVALID);
        assert_eq!(reckon_index_describe(&h, null_mut()), INVALID);
    }
}

#[test]
fn search_equals_the_rust_api() {
    let h = handle();
    let (mut ws, mut want) = (SearchWorkspace::default(), Vec::new());
    for (u, k, exclude) in [
        (0, 10, vec![]),
        (42, 100, vec![3, 99, -5, 3]),
        (7, 10_000, vec![1]),
    ] {
        let q = user(u);
        shared()
            .search(&q, k, &exclude, &mut ws, &mut want)
            .expect("rust search");
        let mut b = Bufs::new(k + 3, 1);
        assert_eq!(b.args(&h, &q, k, &exclude).search(), OK, "{}", last_error());
        assert_eq!(b.count[0], want.len());
        assert_bits(&b.out[..want.len()], &want);
        assert!(b.out[want.len()..].iter().all(|x| *x == SENTINEL));
    }
}

#[test]
fn search_errors_leave_outputs_untouched() {
    let h = handle();
    let q = user(1);
    let mut nan = q.clone();
    nan[3] = f32::NAN;
    let mut b = Bufs::new(10, 1);
    let a = b.args(&h, &q, 10, &[]);
    let n = shared().len();
    assert_eq!(Args { k: 0, ..a }.search(), INVALID);
    assert_eq!(
        Args {
            k: n + 1,
            out_len: n + 1,
            ..a
        }
        .search(),
        INVALID
    );
    assert_eq!(Args { dim: DIM - 1, ..a }.search(), SHAPE);
    assert_eq!(Args { out_len: 9, ..a }.search(), SMALL);
    assert_eq!(
        Args {
            query: nan.as_ptr(),
            ..a
        }
        .search(),
        NON_FINITE
    );
    assert_eq!(Args { index: null(), ..a }.search(), INVALID);
    assert_eq!(Args { query: null(), ..a }.search(), INVALID);
    assert_eq!(
        Args {
            exclude: null(),
            exclude_len: 2,
            ..a
        }
        .search(),
        INVALID
    );
    assert_eq!(
        Args {
            out: null_mut(),
            ..a
        }
        .search(),
        INVALID
    );
    assert_eq!(
        Args {
            count: null_mut(),
            ..a
        }
        .search(),
        INVALID
    );
    assert!(b.untouched());
}

#[test]
fn batch_equals_the_rust_api_row_by_row() {
    let h = handle();
    let queries: Vec<f32> = [3i64, 8, 1500].iter().flat_map(|&u| user(u)).collect();
    let exclude = [10i64, 11, 12, 400];
    let offsets = [0usize, 3, 3, 4];
    let k = 20;
    let mut b = Bufs::new(3 * k + 1, 3);
    let a = b.args(&h, &queries, k, &exclude);
    assert_eq!(a.batch(3, offsets.as_ptr()), OK, "{}", last_error());
    let lists: Vec<&[i64]> = vec![&exclude[0..3], &[], &exclude[3..4]];
    let mut want = Vec::new();
    let mut ws = SearchWorkspace::default();
    shared()
        .search_batch(&queries, 3, k, &lists, &mut ws, &mut want)
        .expect("batch");
    for (q, want) in want.iter().enumerate() {
        assert_eq!(b.count[q], k);
        assert_bits(&b.out[q * k..(q + 1) * k], want);
    }
    assert_eq!(b.out[3 * k], SENTINEL);
    // Without exclusions each row equals a single search.
    assert_eq!(a.batch(3, null()), OK);
    let mut single = Bufs::new(k, 1);
    assert_eq!(single.args(&h, &queries[DIM..], k, &[]).search(), OK);
    assert_eq!(&b.out[k..2 * k], &single.out[..]);
}

#[test]
fn batch_pads_rows_that_exclusions_shorten() {
    let v = [1.0, 0.0, 0.0, 1.0, 0.5, 0.5];
    let small = ItemIndex::from_vectors(&[5, 6, 7], &v, 2, ItemDtype::F32, None).expect("index");
    let h = reckon_index {
        inner: Arc::new(small),
    };
    let queries = [1.0f32, 0.0, 0.0, 1.0];
    let mut b = Bufs::new(6, 2);
    let a = Args {
        dim: 2,
        ..b.args(&h, &queries, 3, &[5, 6])
    };
    assert_eq!(a.batch(2, [0usize, 2, 2].as_ptr()), OK, "{}", last_error());
    assert_eq!(b.count, [1, 3]);
    assert_eq!(b.out[0], reckon_hit { id: 7, score: 0.5 });
    assert_eq!(&b.out[1..3], &[UNFILLED; 2]);
    assert_eq!(b.out[3].id, 6);
}

#[test]
fn batch_errors_leave_outputs_untouched() {
    let h = handle();
    let queries: Vec<f32> = [1i64, 2].iter().flat_map(|&u| user(u)).collect();
    let mut b = Bufs::new(8, 2);
    let a = Args {
        exclude: null(),
        ..b.args(&h, &queries, 4, &[1, 2])
    };
    let none = null();
    assert_eq!(Args { index: null(), ..a }.batch(2, none), INVALID);
    assert_eq!(a.batch(0, none), INVALID);
    assert_eq!(a.batch(usize::MAX, none), INVALID);
    assert_eq!(Args { k: 0, ..a }.batch(2, none), INVALID);
    assert_eq!(Args { dim: DIM + 1, ..a }.batch(2, none), SHAPE);
    assert_eq!(Args { out_len: 7, ..a }.batch(2, none), SMALL);
    assert_eq!(Args { query: null(), ..a }.batch(2, none), INVALID);
    assert_eq!(
        Args {
            count: null_mut(),
            ..a
        }
        .batch(2, none),
        INVALID
    );
    assert_eq!(
        Args {
            out: null_mut(),
            ..a
        }
        .batch(2, none),
        INVALID
    );
    let ex = [1i64, 2];
    let with_ex = Args {
        exclude: ex.as_ptr(),
        ..a
    };
    assert_eq!(with_ex.batch(2, [0usize, 2, 1].as_ptr()), INVALID);
    assert_eq!(a.batch(2, [0usize, 1, 2].as_ptr()), INVALID);
    assert!(b.untouched());
}

#[test]
fn ivf_search_equals_the_rust_api() {
    let h = handle();
    let q = user(77);
    let exclude = [1i64, 2, 3];
    let (mut ws, mut want) = (SearchWorkspace::default(), Vec::new());
    let mut b = Bufs::new(50, 1);
    for nprobe in [1, 4, 32, 1000] {
        shared()
            .search_ivf(&q, 50, nprobe, &exclude, &mut ws, &mut want)
            .expect("ivf");
        assert_eq!(
            b.args(&h, &q, 50, &exclude).ivf(nprobe),
            OK,
            "{}",
            last_error()
        );
        assert_bits(&b.out[..b.count[0]], &want);
    }
    let mut exact = Bufs::new(50, 1);
    assert_eq!(exact.args(&h, &q, 50, &exclude).search(), OK);
    assert_eq!(b.out, exact.out, "nprobe >= nlist is exact search");
}

#[test]
fn ivf_errors_leave_outputs_untouched() {
    let h = handle();
    let plain = ItemIndex::build_from_model(tt(), &[0, 1, 2, 3], ItemDtype::F32, None);
    let no_ivf = reckon_index {
        inner: Arc::new(plain.expect("index")),
    };
    let q = user(2);
    let nan = [f32::NAN; DIM];
    let mut b = Bufs::new(10, 1);
    let a = b.args(&h, &q, 2, &[]);
    assert_eq!(
        Args {
            index: &no_ivf,
            ..a
        }
        .ivf(1),
        INVALID
    );
    assert!(last_error().contains("IVF"), "{}", last_error());
    assert_eq!(Args { index: null(), ..a }.ivf(1), INVALID);
    assert_eq!(a.ivf(0), INVALID);
    assert_eq!(Args { k: 0, ..a }.ivf(1), INVALID);
    assert_eq!(Args { dim: 3, ..a }.ivf(1), SHAPE);
    assert_eq!(Args { k: 11, ..a }.ivf(1), SMALL);
    assert_eq!(Args { query: null(), ..a }.ivf(1), INVALID);
    assert_eq!(
        Args {
            exclude: null(),
            exclude_len: 1,
            ..a
        }
        .ivf(1),
        INVALID
    );
    assert_eq!(
        Args {
            count: null_mut(),
            ..a
        }
        .ivf(1),
        INVALID
    );
    assert_eq!(
        Args {
            query: nan.as_ptr(),
            ..a
        }
        .ivf(1),
        NON_FINITE
    );
    assert!(b.untouched());
}

#[test]
fn vector_equals_the_rust_api() {
    let h = handle();
    let mut out = [9.0f32; DIM + 1];
    let mut want = [0.0f32; DIM];
    let row = shared().row_of(123).expect("item 123");
    shared().vector(row, &mut want).expect("rust vector");
    // SAFETY: `out` holds DIM + 1 floats.
    assert_eq!(
        unsafe { reckon_index_vector(&h, 123, out.as_mut_ptr(), DIM + 1) },
        OK
    );
    assert_eq!(
        out[..DIM].iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        want.map(f32::to_bits)
    );
    assert_eq!(out[DIM], 9.0);
    let mut out = [9.0f32; DIM];
    let o = out.as_mut_ptr();
    // SAFETY: each call passes NULL, a bad value, or `out` with its length or less.
    unsafe {
        assert_eq!(reckon_index_vector(&h, 10_000, o, DIM), RANGE);
        assert_eq!(reckon_index_vector(&h, -1, o, DIM), RANGE);
        assert_eq!(reckon_index_vector(&h, 1, o, DIM - 1), SMALL);
        assert_eq!(reckon_index_vector(&h, 1, null_mut(), DIM), INVALID);
        assert_eq!(reckon_index_vector(null(), 1, o, DIM), INVALID);
    }
    assert!(out.iter().all(|&x| x == 9.0));
}

#[test]
fn every_export_stops_panics_at_the_boundary() {
    let h = handle();
    let q = user(4);
    let m = open_model("two_tower.safetensors");
    let model = demo("two_tower.safetensors");
    let path = temp_path("panic.safetensors");
    let mut idx: *mut reckon_index = null_mut();
    let mut v = [0.0f32; DIM];
    let mut b = Bufs::new(4, 1);
    let a = b.args(&h, &q, 4, &[]);
    let (xp, vp) = (&mut idx as *mut *mut reckon_index, v.as_mut_ptr());
    let calls: [(&str, &dyn Fn() -> reckon_status); 8] = [
        // SAFETY: live handles, and buffers of the lengths passed.
        ("open", &|| unsafe {
            reckon_index_open(model.as_ptr(), null(), xp)
        }),
        // SAFETY: live handles, and buffers of the lengths passed.
        ("build", &|| unsafe { reckon_index_build(m, null(), xp) }),
        // SAFETY: live handles, and buffers of the lengths passed.
        ("save", &|| unsafe { reckon_index_save(&h, path.as_ptr()) }),
        // SAFETY: live handles, and buffers of the lengths passed.
        ("describe", &|| unsafe {
            reckon_index_describe(&h, &mut std::mem::zeroed())
        }),
        ("search", &|| a.search()),
        ("batch", &|| a.batch(1, null())),
        ("ivf", &|| a.ivf(2)),
        // SAFETY: live handles, and buffers of the lengths passed.
        ("vector", &|| unsafe { reckon_index_vector(&h, 0, vp, DIM) }),
    ];
    for (name, call) in calls {
        trigger_panic_next();
        assert_eq!(call(), PANIC, "{name}");
        assert!(last_error().contains("panic"), "{name}: {}", last_error());
    }
    trigger_panic_next();
    // SAFETY: NULL is always accepted; the panic inside is swallowed.
    unsafe { reckon_index_free(null_mut()) };
    assert!(
        idx.is_null() && b.untouched(),
        "a panicking call wrote its output"
    );
    // SAFETY: `m` came from reckon_model_open; freed once.
    unsafe { reckon_model_free(m) };
}
