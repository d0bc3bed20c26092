//! Crafted malformed weight files: each case asserts its own error variant and that the message
//! names the offending tensor where there is one. No input may panic.

mod common;

use common::st::{f32_bytes, linear, minimal, St};
use reckon::weights::{Container, WeightFile, MAX_HEADER_LEN};
use reckon::Error;

/// A container-level failure: `Container::parse` and `WeightFile::from_bytes` must agree.
fn container_err(bytes: Vec<u8>) -> Error {
    let shallow = Container::parse(&bytes).expect_err("container parse must fail");
    let deep = WeightFile::from_bytes(bytes).expect_err("open must fail");
    assert_eq!(shallow.to_string(), deep.to_string());
    deep
}

/// A failure of reckon's own rules on a well-formed container.
fn rules_err(bytes: Vec<u8>) -> Error {
    Container::parse(&bytes).expect("the container itself is valid");
    WeightFile::from_bytes(bytes).expect_err("open must fail")
}

fn names(err: &Error, tensor: &str) {
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("'{tensor}'")),
        "message does not name '{tensor}': {msg}"
    );
}

/// A valid ltr file with one 2×2 F32 tensor, to corrupt.
fn one() -> St {
    St::new()
        .meta("reckon.arch", "ltr")
        .f32("model.0.weight", &[2, 2])
}

// ---- length prefix and header bytes ------------------------------------------------------

#[test]
fn empty_file() {
    let e = container_err(vec![]);
    assert!(
        matches!(
            e,
            Error::Truncated {
                needed: 8,
                available: 0,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn seven_bytes() {
    let e = container_err(vec![1; 7]);
    assert!(
        matches!(
            e,
            Error::Truncated {
                needed: 8,
                available: 7,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn header_length_past_end_of_file() {
    let st = one();
    let real = st.header_json().len() as u64;
    let e = container_err(st.header_len(real + 1000).build());
    assert!(
        matches!(e, Error::Truncated { what: "header", .. }),
        "{e:?}"
    );
}

#[test]
fn header_length_u64_max() {
    let e = container_err(one().header_len(u64::MAX).build());
    assert!(
        matches!(
            e,
            Error::HeaderTooLarge {
                len: u64::MAX,
                max: MAX_HEADER_LEN
            }
        ),
        "{e:?}"
    );
}

#[test]
fn header_length_just_over_the_cap() {
    let e = container_err(one().header_len(MAX_HEADER_LEN + 1).build());
    assert!(matches!(e, Error::HeaderTooLarge { .. }), "{e:?}");
}

#[test]
fn header_not_utf8() {
    let mut bytes = one().build();
    bytes[9] = 0xff; // inside the JSON, after the opening brace
    let e = container_err(bytes);
    assert!(
        matches!(&e, Error::HeaderSyntax { reason } if reason.contains("UTF-8")),
        "{e:?}"
    );
}

#[test]
fn bad_json() {
    let e = container_err(St::new().raw_header("{\"a\": {\"dtype\": ").build());
    assert!(matches!(e, Error::HeaderSyntax { .. }), "{e:?}");
}

#[test]
fn json_array_instead_of_object() {
    let e = container_err(St::new().raw_header("[1, 2, 3]").build());
    assert!(matches!(e, Error::HeaderSyntax { .. }), "{e:?}");
}

#[test]
fn garbage_after_the_json_object() {
    let e = container_err(St::new().raw_header("{} x").build());
    assert!(matches!(e, Error::HeaderSyntax { .. }), "{e:?}");
}

// ---- tensor entries ----------------------------------------------------------------------

#[test]
fn entry_missing_dtype() {
    let e = container_err(
        St::new()
            .raw_entry("w", r#"{"shape":[0],"data_offsets":[0,0]}"#)
            .build(),
    );
    assert!(
        matches!(&e, Error::TensorEntry { reason, .. } if reason.contains("dtype")),
        "{e:?}"
    );
    names(&e, "w");
}

#[test]
fn entry_missing_shape() {
    let e = container_err(
        St::new()
            .raw_entry("w", r#"{"dtype":"F32","data_offsets":[0,0]}"#)
            .build(),
    );
    assert!(
        matches!(&e, Error::TensorEntry { reason, .. } if reason.contains("shape")),
        "{e:?}"
    );
    names(&e, "w");
}

#[test]
fn entry_missing_data_offsets() {
    let e = container_err(
        St::new()
            .raw_entry("w", r#"{"dtype":"F32","shape":[0]}"#)
            .build(),
    );
    assert!(
        matches!(&e, Error::TensorEntry { reason, .. } if reason.contains("data_offsets")),
        "{e:?}"
    );
    names(&e, "w");
}

#[test]
fn entry_not_an_object() {
    let e = container_err(St::new().raw_entry("w", "[1, 2]").build());
    assert!(matches!(e, Error::TensorEntry { .. }), "{e:?}");
    names(&e, "w");
}

#[test]
fn entry_with_three_offsets() {
    let raw = r#"{"dtype":"F32","shape":[0],"data_offsets":[0,0,0]}"#;
    let e = container_err(St::new().raw_entry("w", raw).build());
    assert!(matches!(e, Error::TensorEntry { .. }), "{e:?}");
    names(&e, "w");
}

#[test]
fn negative_dimension() {
    let raw = r#"{"dtype":"F32","shape":[-1,4],"data_offsets":[0,0]}"#;
    let e = container_err(St::new().raw_entry("w", raw).build());
    assert!(matches!(e, Error::TensorEntry { .. }), "{e:?}");
    names(&e, "w");
}

#[test]
fn non_integer_dimension() {
    let raw = r#"{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}"#;
    let e = container_err(St::new().raw_entry("w", raw).build());
    assert!(matches!(e, Error::TensorEntry { .. }), "{e:?}");
    names(&e, "w");
}

#[test]
fn unknown_dtype() {
    let e = container_err(St::new().tensor("w", "F31", &[1], vec![0; 4]).build());
    assert!(
        matches!(&e, Error::UnsupportedDtype { tensor, dtype } if tensor == "w" && dtype.contains("F31")),
        "{e:?}"
    );
    names(&e, "w");
}

#[test]
fn known_but_unsupported_dtype() {
    let e = container_err(St::new().tensor("w", "F64", &[1], vec![0; 8]).build());
    assert!(
        matches!(&e, Error::UnsupportedDtype { dtype, .. } if dtype == "F64"),
        "{e:?}"
    );
}

#[test]
fn duplicate_tensor_name() {
    let st = St::new()
        .f32("w", &[1])
        .tensor_at("w", "F32", &[1], vec![0; 4], (4, 8));
    let e = container_err(st.build());
    assert!(
        matches!(&e, Error::TensorEntry { tensor, reason } if tensor == "w" && reason.contains("duplicate")),
        "{e:?}"
    );
    names(&e, "w");
}

// ---- shapes and offsets ------------------------------------------------------------------

#[test]
fn offsets_reversed() {
    let st = St::new().tensor_at("w", "F32", &[1], vec![0; 8], (8, 4));
    let e = container_err(st.build());
    assert!(
        matches!(
            e,
            Error::OffsetsOutOfRange {
                start: 8,
                end: 4,
                ..
            }
        ),
        "{e:?}"
    );
    names(&e, "w");
}

#[test]
fn offsets_past_end_of_data() {
    let st = St::new().tensor_at("w", "F32", &[2], vec![0; 4], (0, 8));
    let e = container_err(st.build());
    assert!(
        matches!(
            e,
            Error::OffsetsOutOfRange {
                end: 8,
                data_len: 4,
                ..
            }
        ),
        "{e:?}"
    );
    names(&e, "w");
}

#[test]
fn offsets_near_u64_max() {
    let st = St::new().tensor_at("w", "F32", &[1], vec![0; 4], (u64::MAX - 3, u64::MAX));
    let e = container_err(st.build());
    assert!(matches!(e, Error::OffsetsOutOfRange { .. }), "{e:?}");
}

#[test]
fn overlapping_tensors() {
    // Data area: a's 8 bytes + b's 8 bytes; b claims [4, 12) and c the last 4 bytes.
    let st = St::new()
        .f32("a", &[2])
        .tensor_at("b", "F32", &[2], vec![0; 8], (4, 12));
    let st = st.tensor_at("c", "F32", &[1], vec![], (12, 16));
    let e = container_err(st.build());
    assert!(
        matches!(&e, Error::OverlappingTensors { tensor, other } if tensor == "b" && other == "a"),
        "{e:?}"
    );
    names(&e, "b");
}

#[test]
fn shape_times_dtype_differs_from_byte_span() {
    let st = St::new().tensor("w", "F32", &[3], vec![0; 8]);
    let e = container_err(st.build());
    assert!(
        matches!(
            e,
            Error::ByteLengthMismatch {
                expected: 12,
                actual: 8,
                ..
            }
        ),
        "{e:?}"
    );
    names(&e, "w");
}

#[test]
fn overflowing_shape() {
    let big = 1u64 << 40;
    let e = container_err(
        St::new()
            .tensor("w", "F32", &[big, big, big], vec![0; 4])
            .build(),
    );
    assert!(
        matches!(&e, Error::ShapeOverflow { tensor } if tensor == "w"),
        "{e:?}"
    );
    names(&e, "w");
}

#[test]
fn overflow_hidden_behind_a_zero_dimension() {
    // Empty, but any code multiplying the dims in another order would overflow: rejected.
    let big = 1u64 << 40;
    let e = container_err(
        St::new()
            .tensor("w", "F32", &[big, big, big, 0], vec![])
            .build(),
    );
    assert!(matches!(e, Error::ShapeOverflow { .. }), "{e:?}");
}

#[test]
fn hole_in_data_area() {
    let st = St::new()
        .f32("a", &[1])
        .tensor_at("b", "F32", &[1], vec![0; 8], (8, 12));
    let e = container_err(st.build());
    assert!(
        matches!(
            e,
            Error::DataNotCovered {
                offset: 4,
                data_len: 12
            }
        ),
        "{e:?}"
    );
}

#[test]
fn trailing_bytes_after_data() {
    let e = container_err(St::new().f32("a", &[1]).trailing(&[1, 2, 3]).build());
    assert!(
        matches!(
            e,
            Error::DataNotCovered {
                offset: 4,
                data_len: 7
            }
        ),
        "{e:?}"
    );
}

// ---- metadata ----------------------------------------------------------------------------

#[test]
fn metadata_not_string_to_string() {
    let e = container_err(St::new().raw_metadata(r#"{"reckon.arch": 3}"#).build());
    assert!(
        matches!(&e, Error::HeaderSyntax { reason } if reason.contains("__metadata__")),
        "{e:?}"
    );
}

#[test]
fn metadata_with_duplicate_key() {
    let e = container_err(St::new().raw_metadata(r#"{"a":"1","a":"2"}"#).build());
    assert!(
        matches!(&e, Error::HeaderSyntax { reason } if reason.contains("duplicate")),
        "{e:?}"
    );
}

#[test]
fn missing_arch() {
    let e = rules_err(St::new().f32("model.0.weight", &[1, 1]).build());
    assert!(matches!(e, Error::MissingArch), "{e:?}");
}

#[test]
fn unknown_arch() {
    let e = rules_err(St::new().meta("reckon.arch", "transformer").build());
    assert!(
        matches!(&e, Error::UnknownArch { arch } if arch == "transformer"),
        "{e:?}"
    );
}

#[test]
fn unknown_reckon_metadata_key() {
    let e = rules_err(minimal("fraud").meta("reckon.bn_esp", "1e-3").build());
    assert!(
        matches!(&e, Error::UnknownMetadataKey { key } if key == "reckon.bn_esp"),
        "{e:?}"
    );
}

#[test]
fn bad_bn_eps_value() {
    let e = rules_err(minimal("fraud").meta("reckon.bn_eps", "-0.1").build());
    assert!(
        matches!(&e, Error::BadMetadataValue { key, .. } if key == "reckon.bn_eps"),
        "{e:?}"
    );
}

// ---- architecture schema -----------------------------------------------------------------

#[test]
fn missing_required_tensor() {
    // A fraud model without its classifier.
    let st = linear(St::new().meta("reckon.arch", "fraud"), "network.0", 3, 4);
    let e = rules_err(st.build());
    assert!(
        matches!(&e, Error::MissingTensor { arch: "fraud", tensor } if tensor == "classifier.weight"),
        "{e:?}"
    );
    names(&e, "classifier.weight");
}

#[test]
fn extra_tensor_for_the_arch() {
    let e = rules_err(minimal("fraud").f32("click_head.weight", &[1, 4]).build());
    assert!(
        matches!(&e, Error::UnexpectedTensor { arch: "fraud", tensor } if tensor == "click_head.weight"),
        "{e:?}"
    );
    names(&e, "click_head.weight");
}

#[test]
fn item_index_ids_as_f32() {
    let st = St::new()
        .meta("reckon.arch", "item_index")
        .f32("ids", &[3])
        .f32("vectors", &[3, 4]);
    let e = rules_err(st.build());
    assert!(
        matches!(&e, Error::WrongDtype { tensor, expected: "I64", actual: "F32" } if tensor == "ids"),
        "{e:?}"
    );
    names(&e, "ids");
}

#[test]
fn num_batches_tracked_as_float() {
    let st = linear(St::new().meta("reckon.arch", "fraud"), "network.0", 3, 4)
        .f32("network.2.running_mean", &[4])
        .f32("network.2.running_var", &[4])
        .f32("network.2.num_batches_tracked", &[]);
    let e = rules_err(linear(st, "classifier", 4, 1).build());
    assert!(
        matches!(&e, Error::WrongDtype { tensor, expected: "I64", .. } if tensor == "network.2.num_batches_tracked"),
        "{e:?}"
    );
    names(&e, "network.2.num_batches_tracked");
}

#[test]
fn one_dimensional_linear_weight() {
    let st = St::new()
        .meta("reckon.arch", "fraud")
        .f32("classifier.weight", &[4]);
    let e = rules_err(st.build());
    assert!(
        matches!(&e, Error::WrongShape { tensor, actual, .. } if tensor == "classifier.weight" && actual == &[4]),
        "{e:?}"
    );
    names(&e, "classifier.weight");
}

#[test]
fn one_dimensional_weight_in_a_sequential_without_running_stats() {
    let st = St::new()
        .meta("reckon.arch", "ltr")
        .f32("model.0.weight", &[4]);
    let e = rules_err(st.build());
    assert!(
        matches!(&e, Error::WrongShape { tensor, .. } if tensor == "model.0.weight"),
        "{e:?}"
    );
}

#[test]
fn float_weights_as_i64() {
    let st = St::new()
        .meta("reckon.arch", "ltr")
        .i64("model.0.weight", &[2, 2]);
    let e = rules_err(st.build());
    assert!(
        matches!(&e, Error::WrongDtype { tensor, .. } if tensor == "model.0.weight"),
        "{e:?}"
    );
}

#[test]
fn every_minimal_arch_file_is_valid() {
    for arch in common::st::ARCHS {
        let w =
            WeightFile::from_bytes(minimal(arch).build()).unwrap_or_else(|e| panic!("{arch}: {e}"));
        assert_eq!(w.arch().name(), arch);
    }
}

#[test]
fn f32_bytes_helper_is_little_endian() {
    assert_eq!(f32_bytes(&[1.0]), 1.0f32.to_le_bytes());
}
