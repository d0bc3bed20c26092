//! Every error a user can reach when opening or calling a model.

mod common;

use std::path::{Path, PathBuf};

use common::st::{batchnorm, linear, minimal, St};
use reckon::models::OutOfVocabulary;
use reckon::weights::WeightFile;
use reckon::{Error, Model, Options, Workspace};

fn build(st: St) -> reckon::Result<Model> {
    let file = WeightFile::from_bytes(st.build())?;
    Model::from_file(std::sync::Arc::new(file), &Options::default())
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.safetensors"))
}

#[test]
fn every_minimal_model_file_builds() {
    for arch in ["two_tower", "ranker", "ltr", "fraud", "deepfm"] {
        build(minimal(arch)).unwrap_or_else(|e| panic!("{arch}: {e}"));
    }
}

#[test]
fn item_index_file_is_not_a_model() {
    assert!(matches!(
        build(minimal("item_index")),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn sequential_layer_whose_input_does_not_fit_names_that_tensor() {
    let st = St::new().meta("reckon.arch", "fraud");
    let st = batchnorm(linear(st, "network.0", 3, 4), "network.2", 4);
    let st = linear(st, "network.4", 5, 2); // takes 5, previous layer gives 4
    let st = linear(st, "classifier", 2, 1);
    match build(st) {
        Err(Error::WrongShape { tensor, .. }) => assert_eq!(tensor, "network.4.weight"),
        other => panic!("expected WrongShape, got {other:?}"),
    }
}

#[test]
fn batchnorm_width_that_does_not_fit_names_it() {
    let st = St::new().meta("reckon.arch", "fraud");
    let st = batchnorm(linear(st, "network.0", 3, 4), "network.2", 5);
    let st = linear(st, "classifier", 5, 1);
    match build(st) {
        Err(Error::WrongShape { tensor, .. }) => assert_eq!(tensor, "network.2.running_mean"),
        other => panic!("expected WrongShape, got {other:?}"),
    }
}

#[test]
fn ranker_head_of_wrong_width_names_it() {
    let st = St::new().meta("reckon.arch", "ranker");
    let st = batchnorm(linear(st, "shared.0", 6, 4), "shared.2", 4);
    let st = linear(linear(st, "click_head", 4, 1), "engage_head", 3, 1);
    let st = linear(st, "share_head", 4, 1);
    match build(st) {
        Err(Error::WrongShape { tensor, .. }) => assert_eq!(tensor, "engage_head.weight"),
        other => panic!("expected WrongShape, got {other:?}"),
    }
}

#[test]
fn ranker_needs_exactly_three_score_weights() {
    let st = St::new()
        .meta("reckon.arch", "ranker")
        .meta("reckon.score_weights", "1,2");
    let st = linear(linear(st, "click_head", 4, 1), "engage_head", 4, 1);
    let st = linear(st, "share_head", 4, 1);
    match build(st) {
        Err(Error::BadMetadataValue { key, .. }) => assert_eq!(key, "reckon.score_weights"),
        other => panic!("expected BadMetadataValue, got {other:?}"),
    }
}

#[test]
fn fraud_feature_names_must_match_the_input_width() {
    let st = St::new()
        .meta("reckon.arch", "fraud")
        .meta("reckon.feature_names", "a,b");
    let st = linear(st, "classifier", 3, 1);
    assert!(matches!(build(st), Err(Error::BadMetadataValue { .. })));
}

#[test]
fn ltr_must_end_in_one_score() {
    let st = St::new().meta("reckon.arch", "ltr");
    let st = linear(linear(st, "model.0", 5, 4), "model.3", 4, 2);
    match build(st) {
        Err(Error::WrongShape { tensor, .. }) => assert_eq!(tensor, "model.3.weight"),
        other => panic!("expected WrongShape, got {other:?}"),
    }
}

#[test]
fn deepfm_fields_of_different_width_name_the_field() {
    let st = St::new().meta("reckon.arch", "deepfm");
    let st = st
        .f32("embeddings.0.weight", &[10, 2])
        .f32("embeddings.1.weight", &[7, 3]);
    let st = linear(st, "linear", 4, 1);
    let st = linear(st, "dnn.0", 4, 1);
    match build(st) {
        Err(Error::WrongShape { tensor, .. }) => assert_eq!(tensor, "embeddings.1.weight"),
        other => panic!("expected WrongShape, got {other:?}"),
    }
}

#[test]
fn deepfm_linear_must_cover_every_field() {
    let st = St::new().meta("reckon.arch", "deepfm");
    let st = st
        .f32("embeddings.0.weight", &[10, 2])
        .f32("embeddings.1.weight", &[7, 2]);
    let st = linear(st, "linear", 3, 1);
    let st = linear(st, "dnn.0", 4, 1);
    match build(st) {
        Err(Error::WrongShape { tensor, .. }) => assert_eq!(tensor, "linear.weight"),
        other => panic!("expected WrongShape, got {other:?}"),
    }
}

#[test]
fn towers_of_different_output_width_are_refused() {
    let st = St::new().meta("reckon.arch", "two_tower");
    let st = st
        .f32("user_embedding.weight", &[5, 4])
        .f32("item_embedding.weight", &[6, 4]);
    let st = linear(st, "user_mlp.0", 4, 3);
    let st = linear(st, "item_mlp.0", 4, 2);
    assert!(matches!(build(st), Err(Error::WrongShape { .. })));
}

#[test]
fn negative_running_var_is_refused() {
    let st = St::new().meta("reckon.arch", "fraud");
    let st = linear(st, "network.0", 3, 2);
    let st = st
        .f32("network.2.weight", &[2])
        .f32("network.2.bias", &[2])
        .f32("network.2.running_mean", &[2])
        .tensor(
            "network.2.running_var",
            "F32",
            &[2],
            common::st::f32_bytes(&[1.0, -1.0]),
        );
    let st = linear(st, "classifier", 2, 1);
    match build(st) {
        Err(Error::Unsupported { tensor, .. }) => assert_eq!(tensor, "network.2.running_var"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn wrong_input_width_and_output_length_are_buffer_errors() {
    let model = Model::open(fixture("fraud_default"), &Options::default()).expect("open");
    let mut ws = Workspace::default();
    let mut out = vec![0f32; 2];
    let err = model.predict(&[0.0; 21], 2, &mut out, &mut ws).unwrap_err();
    assert!(
        matches!(
            err,
            Error::BufferLength {
                arg: "x",
                expected: 22,
                actual: 21,
                ..
            }
        ),
        "{err}"
    );
    let err = model
        .predict(&[0.0; 22], 2, &mut out[..1], &mut ws)
        .unwrap_err();
    assert!(
        matches!(err, Error::BufferLength { arg: "out", .. }),
        "{err}"
    );
}

#[test]
fn non_finite_input_is_rejected_by_default_and_allowed_on_request() {
    let mut x = vec![1.0f32; 22];
    x[11 + 4] = f32::NAN;
    let mut out = vec![0f32; 2];
    let model = Model::open(fixture("fraud_default"), &Options::default()).expect("open");
    let err = model
        .predict(&x, 2, &mut out, &mut Workspace::default())
        .unwrap_err();
    assert!(
        matches!(err, Error::NonFiniteInput { row: 1, col: 4 }),
        "{err}"
    );
    x[15] = f32::INFINITY;
    assert!(model
        .predict(&x, 2, &mut out, &mut Workspace::default())
        .is_err());

    let lenient = Options {
        allow_non_finite: true,
        ..Options::default()
    };
    let model = Model::open(fixture("fraud_default"), &lenient).expect("open");
    model
        .predict(&x, 2, &mut out, &mut Workspace::default())
        .expect("allowed");
    assert!(out[0].is_finite());
}

#[test]
fn out_of_vocabulary_ids_name_the_table_or_use_the_fallback() {
    let model = Model::open(fixture("deepfm_default"), &Options::default()).expect("open");
    let mut ids = vec![1i64; 10];
    ids[3] = 400; // vocabularies are 400
    let mut out = vec![0f32; 1];
    match model.predict_ids(&ids, 1, &mut out, &mut Workspace::default()) {
        Err(Error::IdOutOfRange { table, id, rows }) => {
            assert_eq!(
                (table.as_str(), id, rows),
                ("embeddings.3.weight", 400, 400)
            );
        }
        other => panic!("expected IdOutOfRange, got {other:?}"),
    }
    ids[3] = -1;
    assert!(model
        .predict_ids(&ids, 1, &mut out, &mut Workspace::default())
        .is_err());

    let fallback = Options {
        out_of_vocabulary: OutOfVocabulary::FallbackRow(0),
        ..Options::default()
    };
    let model = Model::open(fixture("deepfm_default"), &fallback).expect("open");
    model
        .predict_ids(&ids, 1, &mut out, &mut Workspace::default())
        .expect("fallback");
    let mut same = ids.clone();
    same[3] = 0;
    let mut expected = vec![0f32; 1];
    model
        .predict_ids(&same, 1, &mut expected, &mut Workspace::default())
        .expect("row 0");
    assert_eq!(out, expected);

    let bad = Options {
        out_of_vocabulary: OutOfVocabulary::FallbackRow(400),
        ..Options::default()
    };
    assert!(matches!(
        Model::open(fixture("deepfm_default"), &bad),
        Err(Error::IdOutOfRange { .. })
    ));
    assert!(matches!(
        Model::open(fixture("two_tower_default"), &bad),
        Err(Error::IdOutOfRange { .. })
    ));
}

#[test]
fn two_tower_user_id_out_of_range_names_the_table() {
    let model = Model::open(fixture("two_tower_default"), &Options::default()).expect("open");
    let (_, d) = model.dims();
    let mut out = vec![0f32; d];
    match model.predict_ids(&[200], 1, &mut out, &mut Workspace::default()) {
        Err(Error::IdOutOfRange { table, .. }) => assert_eq!(table, "user_embedding.weight"),
        other => panic!("expected IdOutOfRange, got {other:?}"),
    }
}

#[test]
fn calling_the_wrong_entry_point_is_an_invalid_argument() {
    let dense = Model::open(fixture("ltr_default"), &Options::default()).expect("open");
    let ids_model = Model::open(fixture("deepfm_default"), &Options::default()).expect("open");
    let mut out = vec![0f32; 1];
    let mut ws = Workspace::default();
    assert!(matches!(
        dense.predict_ids(&[0; 136], 1, &mut out, &mut ws),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        ids_model.predict(&[0.0; 10], 1, &mut out, &mut ws),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn zero_rows_is_fine() {
    let model = Model::open(fixture("ranker_default"), &Options::default()).expect("open");
    model
        .predict(&[], 0, &mut [], &mut Workspace::default())
        .expect("zero rows");
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    match Model::open("/nonexistent/model.safetensors", &Options::default()) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("model.safetensors")),
        other => panic!("expected Io, got {other:?}"),
    }
}
