//! Tests of the `reckon_recommender` exports: the demo models through the C ABI give the Rust
//! pipeline's results bit for bit, every reachable error leaves outputs untouched, handles free
//! in any order, and panics stop at the boundary.

use std::ptr::{null, null_mut};
use std::sync::{Arc, OnceLock};

use super::super::boundary::trigger_panic_next;
use super::super::index::reckon_index_free;
use super::super::index::tests::{
    demo, last_error, open_model, shared, tt, user, DIM, INVALID, NON_FINITE, OK, PANIC, RANGE,
    SHAPE, SMALL,
};
use super::super::model::reckon_model_free;
use super::*;
use crate::models::{Model, Options};
use crate::pipelines::retrieval::{ItemDtype, ItemIndex};
use crate::weights::{SafetensorsWriter, WeightFile, KEY_ARCH};

const CONTEXT: [f32; 4] = [0.0, 1.0, 1.0, 0.3];
const UNSET: reckon_recommendation = reckon_recommendation {
    item_id: 77,
    category: 77,
    retrieval_score: 7.0,
    p_click: 7.0,
    p_engage: 7.0,
    p_share: 7.0,
    score: 7.0,
    mmr_score: 7.0,
    has_category: false,
};

fn rust_model(name: &str) -> Arc<Model> {
    static MODELS: OnceLock<(Arc<Model>, Arc<Model>)> = OnceLock::new();
    let (t, r) = MODELS.get_or_init(|| {
        let open = |n: &str| {
            let path = demo(n);
            Arc::new(Model::open(path.to_str().expect("utf-8"), &Options::default()).expect(n))
        };
        (open("two_tower.safetensors"), open("ranker.safetensors"))
    });
    Arc::clone(if name == "two_tower" { t } else { r })
}

fn rust_recommender(config: &reckon_recommend_config) -> Recommender {
    let config = rust_config(config).expect("config");
    let (t, r) = (rust_model("two_tower"), rust_model("ranker"));
    Recommender::new_shared(t, shared().clone(), r, config).expect("recommender")
}

fn index_handle(index: ItemIndex) -> reckon_index {
    reckon_index {
        inner: Arc::new(index),
    }
}

/// Creates a recommender through the C ABI from freshly opened handles, freeing them at once.
fn create(config: &reckon_recommend_config) -> *mut reckon_recommender {
    let (t, r) = (
        open_model("two_tower.safetensors"),
        open_model("ranker.safetensors"),
    );
    let index = Box::into_raw(Box::new(index_handle_shared()));
    let mut rec = null_mut();
    // SAFETY: live handles and a writable out-pointer; each handle is freed once.
    unsafe {
        let s = reckon_recommender_create(t, index, r, config, &mut rec);
        assert_eq!(s, OK, "{}", last_error());
        reckon_model_free(t);
        reckon_index_free(index);
        reckon_model_free(r);
    }
    rec
}

fn index_handle_shared() -> reckon_index {
    reckon_index {
        inner: shared().clone(),
    }
}

/// One request's arguments, so each error test changes one field.
#[derive(Clone, Copy)]
struct Args {
    rec: *const reckon_recommender,
    context: *const f32,
    context_len: usize,
    exclude: *const i64,
    exclude_len: usize,
    out: *mut reckon_recommendation,
    out_len: usize,
    count: *mut usize,
}

impl Args {
    fn new(
        rec: *const reckon_recommender,
        exclude: &[i64],
        out: &mut [reckon_recommendation],
        count: &mut usize,
    ) -> Args {
        Args {
            rec,
            context: CONTEXT.as_ptr(),
            context_len: CONTEXT.len(),
            exclude: exclude.as_ptr(),
            exclude_len: exclude.len(),
            out: out.as_mut_ptr(),
            out_len: out.len(),
            count,
        }
    }

    fn user(self, id: i64) -> reckon_status {
        // SAFETY: the tests pass buffers of the lengths given, or deliberately bad ones that
        // the checks reject before any access.
        unsafe {
            reckon_recommender_recommend(
                self.rec,
                id,
                self.context,
                self.context_len,
                self.exclude,
                self.exclude_len,
                self.out,
                self.out_len,
                self.count,
            )
        }
    }

    fn vector(self, v: *const f32, dim: usize) -> reckon_status {
        // SAFETY: as in `user`.
        unsafe {
            reckon_recommender_recommend_vector(
                self.rec,
                v,
                dim,
                self.context,
                self.context_len,
                self.exclude,
                self.exclude_len,
                self.out,
                self.out_len,
                self.count,
            )
        }
    }
}

fn assert_bits(got: &[reckon_recommendation], want: &[Recommendation]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        let w = reckon_recommendation::from(w);
        let bits = |r: &reckon_recommendation| {
            let f = [
                r.retrieval_score,
                r.p_click,
                r.p_engage,
                r.p_share,
                r.score,
                r.mmr_score,
            ];
            (r.item_id, r.category, r.has_category, f.map(f32::to_bits))
        };
        assert_eq!(bits(g), bits(&w));
    }
}

#[test]
fn config_default_is_the_rust_default() {
    let c = reckon_recommend_config_default();
    assert_eq!(rust_config(&c).ok(), Some(RecommendConfig::default()));
    let custom = reckon_recommend_config {
        nprobe: 8,
        per_category_cap: 2,
        ..c
    };
    let r = rust_config(&custom).expect("valid");
    assert_eq!((r.nprobe, r.mmr.per_category_cap), (Some(8), Some(2)));
}

#[test]
fn recommendations_equal_the_rust_api_after_handles_are_freed() {
    let exact = reckon_recommend_config_default();
    let diverse = reckon_recommend_config {
        retrieve_k: 60,
        top_n: 12,
        nprobe: 8,
        mmr_lambda: 0.4,
        per_category_cap: 2,
    };
    for config in [exact, diverse] {
        let rec = create(&config);
        let want_rec = rust_recommender(&config);
        let mut ws = RecommendWorkspace::default();
        let (mut want, mut want_v) = (Vec::new(), Vec::new());
        for (u, exclude) in [(42i64, vec![]), (7, vec![1, 2, 3, 4000])] {
            let mut out = vec![UNSET; config.top_n + 1];
            let mut count = 0;
            let a = Args::new(rec, &exclude, &mut out, &mut count);
            assert_eq!(a.user(u), OK, "{}", last_error());
            want_rec
                .recommend_user(u, &CONTEXT, &exclude, &mut ws, &mut want)
                .expect("rust");
            assert_eq!(count, config.top_n);
            assert_bits(&out[..count], &want);
            assert_eq!(out[count], UNSET);
            assert!(want
                .iter()
                .all(|r| !exclude.contains(&r.item_id) && r.category.is_some()));
            let v = user(u);
            assert_eq!(a.vector(v.as_ptr(), DIM), OK, "{}", last_error());
            want_rec
                .recommend_vector(&v, &CONTEXT, &exclude, &mut ws, &mut want_v)
                .expect("rust");
            assert_bits(&out[..count], &want_v);
            assert_eq!(want, want_v);
        }
        // SAFETY: `rec` came from reckon_recommender_create; freed once.
        unsafe { reckon_recommender_free(rec) };
    }
}

#[test]
fn dims_report_what_a_request_needs() {
    let rec = create(&reckon_recommend_config_default());
    let (mut d, mut c, mut n) = (0usize, 0usize, 0usize);
    // SAFETY: `rec` is live; the pointers are NULL, misaligned (rejected), or writable.
    unsafe {
        assert_eq!(reckon_recommender_dims(rec, &mut d, &mut c, &mut n), OK);
        assert_eq!((d, c, n), (DIM, 4, 20));
        assert_eq!(
            reckon_recommender_dims(rec, null_mut(), null_mut(), null_mut()),
            OK
        );
        assert_eq!(
            reckon_recommender_dims(null(), &mut d, &mut c, &mut n),
            INVALID
        );
        let (mut d2, mut n2) = (9usize, 9usize);
        let odd = (&mut c as *mut usize as *mut u8).add(1) as *mut usize;
        assert_eq!(reckon_recommender_dims(rec, &mut d2, odd, &mut n2), INVALID);
        assert_eq!(
            (d2, n2),
            (9, 9),
            "no value is written when a later pointer is bad"
        );
        reckon_recommender_free(rec);
        reckon_recommender_free(null_mut());
    }
}

/// A ranker over `inputs` features (one hidden layer of 4).
fn tiny_ranker(inputs: usize) -> reckon_model {
    let w = SafetensorsWriter::new()
        .metadata(KEY_ARCH, "ranker")
        .tensor_f32("shared.0.weight", &[4, inputs], &vec![0.1; 4 * inputs])
        .tensor_f32("shared.0.bias", &[4], &[0.0; 4]);
    let w = ["click_head", "engage_head", "share_head"]
        .iter()
        .fold(w, |w, h| {
            w.tensor_f32(&format!("{h}.weight"), &[1, 4], &[0.2; 4])
                .tensor_f32(&format!("{h}.bias"), &[1], &[0.0])
        });
    let file = WeightFile::from_bytes(w.to_bytes().expect("bytes")).expect("file");
    let model = Model::from_file(Arc::new(file), &Options::default()).expect("tiny ranker");
    reckon_model {
        inner: Arc::new(model),
    }
}

#[test]
fn create_errors_leave_out_untouched() {
    let (t, r) = (
        open_model("two_tower.safetensors"),
        open_model("ranker.safetensors"),
    );
    let index = index_handle_shared();
    let no_ivf = ItemIndex::build_from_model(tt(), &[0, 1, 2], ItemDtype::F32, None);
    let no_ivf = index_handle(no_ivf.expect("index"));
    let narrow = index_handle(
        ItemIndex::from_vectors(&[1, 2], &[1.0, 0.0, 0.0, 1.0], 2, ItemDtype::F32, None)
            .expect("index"),
    );
    let short_ranker = tiny_ranker(3 * DIM - 1);
    let d = reckon_recommend_config_default();
    let sentinel = 0x10 as *mut reckon_recommender;
    let mut out = sentinel;
    let ix: *const reckon_index = &index;
    // SAFETY: each call passes NULL, a bad value, or live handles and a writable out-pointer.
    unsafe {
        let create =
            |t, i, r, c: &reckon_recommend_config, o| reckon_recommender_create(t, i, r, c, o);
        let o: *mut *mut reckon_recommender = &mut out;
        assert_eq!(create(null(), ix, r, &d, o), INVALID);
        assert_eq!(create(t, null(), r, &d, o), INVALID);
        assert_eq!(create(t, ix, null(), &d, o), INVALID);
        assert_eq!(create(t, ix, r, &d, null_mut()), INVALID);
        assert_eq!(create(r, ix, r, &d, o), INVALID);
        assert_eq!(create(t, ix, t, &d, o), INVALID);
        assert_eq!(create(t, &narrow, r, &d, o), INVALID);
        assert_eq!(
            create(
                t,
                &no_ivf,
                r,
                &reckon_recommend_config { nprobe: 4, ..d },
                o
            ),
            INVALID
        );
        assert_eq!(create(t, ix, &short_ranker, &d, o), SHAPE);
        for bad in [
            reckon_recommend_config { retrieve_k: 0, ..d },
            reckon_recommend_config { top_n: 0, ..d },
            reckon_recommend_config {
                mmr_lambda: 1.5,
                ..d
            },
            reckon_recommend_config {
                mmr_lambda: f32::NAN,
                ..d
            },
        ] {
            assert_eq!(create(t, ix, r, &bad, o), INVALID, "{bad:?}");
        }
        assert_eq!(out, sentinel);
        // NULL config means the defaults.
        assert_eq!(reckon_recommender_create(t, ix, r, null(), o), OK);
        reckon_recommender_free(out);
        reckon_model_free(t);
        reckon_model_free(r);
    }
}

#[test]
fn request_errors_leave_outputs_untouched() {
    let rec = create(&reckon_recommend_config_default());
    let mut out = vec![UNSET; 20];
    let mut count = 999usize;
    let a = Args::new(rec, &[], &mut out, &mut count);
    let nan = [f32::NAN; 4];
    let v = user(3);
    let nan_v = [f32::NAN; DIM];
    assert_eq!(a.user(2000), RANGE);
    assert_eq!(a.user(-1), RANGE);
    assert_eq!(Args { rec: null(), ..a }.user(1), INVALID);
    assert_eq!(
        Args {
            context_len: 3,
            ..a
        }
        .user(1),
        SHAPE
    );
    assert_eq!(
        Args {
            context: null(),
            ..a
        }
        .user(1),
        INVALID
    );
    assert_eq!(
        Args {
            context: nan.as_ptr(),
            ..a
        }
        .user(1),
        NON_FINITE
    );
    assert_eq!(
        Args {
            exclude: null(),
            exclude_len: 1,
            ..a
        }
        .user(1),
        INVALID
    );
    assert_eq!(Args { out_len: 19, ..a }.user(1), SMALL);
    assert_eq!(
        Args {
            out: null_mut(),
            ..a
        }
        .user(1),
        INVALID
    );
    assert_eq!(
        Args {
            count: null_mut(),
            ..a
        }
        .user(1),
        INVALID
    );
    assert_eq!(a.vector(v.as_ptr(), DIM - 1), SHAPE);
    assert_eq!(a.vector(null(), DIM), INVALID);
    assert_eq!(a.vector(nan_v.as_ptr(), DIM), NON_FINITE);
    assert_eq!(Args { rec: null(), ..a }.vector(v.as_ptr(), DIM), INVALID);
    assert_eq!(
        Args {
            context_len: 5,
            ..a
        }
        .vector(v.as_ptr(), DIM),
        SHAPE
    );
    assert_eq!(Args { out_len: 0, ..a }.vector(v.as_ptr(), DIM), SMALL);
    assert_eq!(
        Args {
            count: null_mut(),
            ..a
        }
        .vector(v.as_ptr(), DIM),
        INVALID
    );
    assert!(out.iter().all(|r| *r == UNSET) && count == 999);
    // SAFETY: `rec` came from reckon_recommender_create; freed once.
    unsafe { reckon_recommender_free(rec) };
}

#[test]
fn every_export_stops_panics_at_the_boundary() {
    let rec = create(&reckon_recommend_config_default());
    let (t, r) = (
        open_model("two_tower.safetensors"),
        open_model("ranker.safetensors"),
    );
    let index = index_handle_shared();
    let mut made: *mut reckon_recommender = null_mut();
    let mp: *mut *mut reckon_recommender = &mut made;
    let mut out = vec![UNSET; 20];
    let mut count = 999usize;
    let a = Args::new(rec, &[], &mut out, &mut count);
    let v = user(9);
    let mut n = 0usize;
    let np: *mut usize = &mut n;
    let calls: [(&str, &dyn Fn() -> reckon_status); 4] = [
        // SAFETY: live handles, and buffers of the lengths passed.
        ("create", &|| unsafe {
            reckon_recommender_create(t, &index, r, null(), mp)
        }),
        // SAFETY: live handles, and buffers of the lengths passed.
        ("dims", &|| unsafe {
            reckon_recommender_dims(rec, np, null_mut(), null_mut())
        }),
        ("recommend", &|| a.user(1)),
        ("recommend_vector", &|| a.vector(v.as_ptr(), DIM)),
    ];
    for (name, call) in calls {
        trigger_panic_next();
        assert_eq!(call(), PANIC, "{name}");
        assert!(last_error().contains("panic"), "{name}: {}", last_error());
    }
    trigger_panic_next();
    // SAFETY: NULL is always accepted; the panic inside is swallowed. The other handles came
    // from their create/open functions and are freed once.
    unsafe {
        reckon_recommender_free(null_mut());
        reckon_recommender_free(rec);
        reckon_model_free(t);
        reckon_model_free(r);
    }
    assert!(made.is_null() && n == 0 && count == 999 && out.iter().all(|x| *x == UNSET));
}
