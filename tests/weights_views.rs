//! Typed views, alignment handling, opening from disk, the bundled sample, and no-panic
//! properties over random and mutated files.

mod common;

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use common::st::{bf16_bytes, f16_bytes, f32_bytes, i64_bytes, minimal, St};
use half::{bf16, f16};
use proptest::prelude::*;
use reckon::weights::{Arch, Container, Dtype, TensorView, WeightFile};
use reckon::Error;

const VALUES: [f32; 7] = [0.0, 1.0, -2.5, 3.25, 1e-3, -65504.0, 0.1];

/// Writes `bytes` to a fresh file under the temp dir, named after the test.
fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("reckon-{}-{name}.safetensors", std::process::id()));
    std::fs::write(&path, bytes).expect("temp file");
    path
}

fn item_index(vectors_dtype: &str, data: Vec<u8>) -> St {
    St::new()
        .meta("reckon.arch", "item_index")
        .tensor(
            "ids",
            "I64",
            &[7],
            i64_bytes(&[5, -1, i64::MAX, i64::MIN, 0, 42, 7]),
        )
        .tensor("vectors", vectors_dtype, &[7, 1], data)
}

#[test]
fn f32_round_trip() {
    let w = WeightFile::from_bytes(item_index("F32", f32_bytes(&VALUES)).build()).unwrap();
    let v = w.tensor("vectors").unwrap();
    assert_eq!(
        (v.dtype(), v.shape(), v.numel()),
        (Dtype::F32, &[7usize, 1][..], 7)
    );
    assert_eq!(&*v.as_f32().unwrap(), &VALUES);
    assert_eq!(v.to_f32_vec().unwrap(), VALUES);
}

#[test]
fn f16_round_trip() {
    let w = WeightFile::from_bytes(item_index("F16", f16_bytes(&VALUES)).build()).unwrap();
    let v = w.tensor("vectors").unwrap();
    let want: Vec<f16> = VALUES.iter().map(|&x| f16::from_f32(x)).collect();
    assert_eq!(&*v.as_f16().unwrap(), &want[..]);
    let widened: Vec<f32> = want.iter().map(|x| x.to_f32()).collect();
    assert_eq!(v.to_f32_vec().unwrap(), widened);
}

#[test]
fn bf16_round_trip() {
    let w = WeightFile::from_bytes(item_index("BF16", bf16_bytes(&VALUES)).build()).unwrap();
    let v = w.tensor("vectors").unwrap();
    let want: Vec<bf16> = VALUES.iter().map(|&x| bf16::from_f32(x)).collect();
    assert_eq!(&*v.as_bf16().unwrap(), &want[..]);
    let widened: Vec<f32> = want.iter().map(|x| x.to_f32()).collect();
    assert_eq!(v.to_f32_vec().unwrap(), widened);
}

#[test]
fn i64_round_trip() {
    let w = WeightFile::from_bytes(item_index("F32", f32_bytes(&VALUES)).build()).unwrap();
    let ids = w.tensor("ids").unwrap();
    assert_eq!(
        &*ids.as_i64().unwrap(),
        &[5, -1, i64::MAX, i64::MIN, 0, 42, 7]
    );
}

#[test]
fn wrong_typed_access_is_an_error() {
    let w = WeightFile::from_bytes(item_index("F16", f16_bytes(&VALUES)).build()).unwrap();
    let v = w.tensor("vectors").unwrap();
    let e = v.as_f32().unwrap_err();
    assert!(
        matches!(&e, Error::WrongDtype { tensor, expected: "F32", actual: "F16" } if tensor == "vectors"),
        "{e:?}"
    );
    let e = w.tensor("ids").unwrap().to_f32_vec().unwrap_err();
    assert!(
        matches!(e, Error::WrongDtype { actual: "I64", .. }),
        "{e:?}"
    );
}

#[test]
fn no_such_tensor() {
    let w = WeightFile::from_bytes(minimal("fraud").build()).unwrap();
    let e = w.tensor("classifier.wieght").unwrap_err();
    assert!(
        matches!(&e, Error::NoSuchTensor { tensor } if tensor == "classifier.wieght"),
        "{e:?}"
    );
    assert!(!w.contains("classifier.wieght") && w.contains("classifier.weight"));
}

/// Opens from disk (the map is page-aligned, so the header length alone sets the alignment).
fn open_with_residue(
    name: &str,
    residue: usize,
    vectors: (&str, Vec<u8>),
) -> (WeightFile, PathBuf) {
    let st = item_index(vectors.0, vectors.1).data_start_residue(residue);
    let path = temp_file(name, &st.build());
    (WeightFile::open(&path).unwrap(), path)
}

#[allow(clippy::ptr_arg)] // the question is which `Cow` variant it is, so it must be a `Cow`
fn is_borrowed_from<T: Clone>(cow: &Cow<'_, [T]>, view: &TensorView<'_>) -> bool {
    matches!(cow, Cow::Borrowed(s) if s.as_ptr() as *const u8 == view.bytes().as_ptr())
}

#[test]
fn aligned_data_is_borrowed_not_copied() {
    let (w, path) = open_with_residue("aligned", 0, ("F32", f32_bytes(&VALUES)));
    let ids = w.tensor("ids").unwrap(); // data starts at offset 0 of an 8-aligned area
    let vectors = w.tensor("vectors").unwrap(); // at 56: 8-aligned too
    let (a, b) = (ids.as_i64().unwrap(), vectors.as_f32().unwrap());
    assert!(is_borrowed_from(&a, &ids) && is_borrowed_from(&b, &vectors));
    assert_eq!(&*b, &VALUES);
    drop(w);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn misaligned_data_is_copied_correctly() {
    for residue in 1..8 {
        let (w, path) = open_with_residue(
            &format!("odd{residue}"),
            residue,
            ("F32", f32_bytes(&VALUES)),
        );
        let ids = w.tensor("ids").unwrap();
        let vectors = w.tensor("vectors").unwrap();
        assert_eq!(ids.bytes().as_ptr() as usize % 8, residue);
        let (a, b) = (ids.as_i64().unwrap(), vectors.as_f32().unwrap());
        assert!(
            matches!(a, Cow::Owned(_)),
            "i64 at residue {residue} must be copied"
        );
        assert_eq!(
            matches!(b, Cow::Owned(_)),
            residue % 4 != 0,
            "f32 at residue {residue}"
        );
        assert_eq!(&*a, &[5, -1, i64::MAX, i64::MIN, 0, 42, 7]);
        assert_eq!(&*b, &VALUES);
        drop(w);
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn misaligned_half_precision_is_copied_correctly() {
    let (w, path) = open_with_residue("odd-f16", 3, ("F16", f16_bytes(&VALUES)));
    let v = w.tensor("vectors").unwrap();
    assert_eq!(v.bytes().as_ptr() as usize % 2, 1);
    let want: Vec<f16> = VALUES.iter().map(|&x| f16::from_f32(x)).collect();
    assert_eq!(&*v.as_f16().unwrap(), &want[..]);
    drop(w);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn tensors_large_enough_for_huge_pages_read_back_exactly() {
    // 2.4 MiB of vectors takes the madvise(MADV_HUGEPAGE) path on open; it must change nothing.
    let values: Vec<f32> = (0..600_000).map(|i| i as f32).collect();
    let st = St::new()
        .meta("reckon.arch", "item_index")
        .i64("ids", &[100_000])
        .tensor("vectors", "F32", &[100_000, 6], f32_bytes(&values));
    let path = temp_file("huge", &st.build());
    let w = WeightFile::open(&path).unwrap();
    assert_eq!(
        &*w.tensor("vectors").unwrap().as_f32().unwrap(),
        &values[..]
    );
    drop(w);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn open_missing_path_names_it() {
    let path = Path::new("/nonexistent/dir/model.safetensors");
    let e = WeightFile::open(path).unwrap_err();
    assert!(
        matches!(&e, Error::Io { path: p, .. } if p == path),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("/nonexistent/dir/model.safetensors"),
        "{e}"
    );
}

#[test]
fn open_a_directory_is_an_io_error() {
    let e = WeightFile::open(std::env::temp_dir()).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
}

#[test]
fn open_an_empty_file_is_truncated() {
    let path = temp_file("empty", &[]);
    let e = WeightFile::open(&path).unwrap_err();
    assert!(matches!(e, Error::Truncated { available: 0, .. }), "{e:?}");
    std::fs::remove_file(path).unwrap();
}

fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/sample/fraud_sample.safetensors")
}

#[test]
fn bundled_sample_opens_with_the_seed_fraud_names() {
    let w = WeightFile::open(sample_path()).unwrap();
    assert_eq!(w.arch(), Arch::Fraud);
    assert_eq!(w.path(), Some(sample_path().as_path()));
    let names = w.metadata().feature_names.as_ref().expect("feature names");
    assert_eq!(names.len(), 11);
    assert_eq!(
        (names[0].as_str(), names[10].as_str()),
        ("amount", "new_device")
    );
    let shape = |n: &str| w.tensor(n).unwrap().shape().to_vec();
    // Linear at 0/4/8, BatchNorm at 2/6/10 (Linear, ReLU, BatchNorm1d, Dropout per layer).
    assert_eq!(shape("network.0.weight"), [128, 11]);
    assert_eq!(shape("network.4.weight"), [64, 128]);
    assert_eq!(shape("network.8.weight"), [32, 64]);
    assert_eq!(shape("network.10.running_var"), [32]);
    assert_eq!(shape("classifier.weight"), [1, 32]);
    let counter = w.tensor("network.2.num_batches_tracked").unwrap();
    assert_eq!((counter.dtype(), counter.shape()), (Dtype::I64, &[][..]));
    assert_eq!(w.tensors().len(), 23);
    let names: Vec<&str> = w.tensors().map(|t| t.name()).collect();
    assert!(
        names.windows(2).all(|p| p[0] < p[1]),
        "tensors() must be sorted by name"
    );
    for t in w.tensors().filter(|t| t.dtype() == Dtype::F32) {
        assert!(
            t.as_f32().unwrap().iter().all(|x| x.is_finite()),
            "{}",
            t.name()
        );
    }
}

/// Parses `bytes` every way and reads every view of whatever parses; must never panic.
fn exercise(bytes: &[u8]) {
    if let Ok(c) = Container::parse(bytes) {
        for t in c.tensors() {
            touch(&t);
        }
        let _ = c.validate();
    }
    if let Ok(w) = WeightFile::from_bytes(bytes.to_vec()) {
        for t in w.tensors() {
            touch(&t);
        }
    }
}

fn touch(t: &TensorView<'_>) {
    let n = t.numel();
    match t.dtype() {
        Dtype::F32 => assert_eq!(t.as_f32().unwrap().len(), n),
        Dtype::F16 => assert_eq!(t.as_f16().unwrap().len(), n),
        Dtype::BF16 => assert_eq!(t.as_bf16().unwrap().len(), n),
        Dtype::I64 => assert_eq!(t.as_i64().unwrap().len(), n),
    }
    if t.dtype().is_float() {
        assert_eq!(t.to_f32_vec().unwrap().len(), n);
    }
}

/// Valid files of every architecture, as mutation seeds.
fn seeds() -> Vec<Vec<u8>> {
    common::st::ARCHS
        .iter()
        .map(|a| minimal(a).build())
        .collect()
}

#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        // Printable bytes inside the JSON make more of it still parse and reach later checks.
        (any::<usize>(), 0x20u8..0x7f).prop_map(|(i, b)| Mutation::Set(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len().max(1);
    match *m {
        Mutation::Set(i, b) if !bytes.is_empty() => bytes[i % len] = b,
        Mutation::Truncate(i) => bytes.truncate(i % len),
        Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
        Mutation::Remove(i) if !bytes.is_empty() => {
            bytes.remove(i % len);
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        exercise(&bytes);
    }

    #[test]
    fn random_header_after_a_valid_prefix_never_panics(
        json in "[{}\\[\\]\",:0-9a-zA-Z_. -]{0,120}",
        data in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(json.as_bytes());
        bytes.extend_from_slice(&data);
        exercise(&bytes);
    }

    #[test]
    fn mutated_valid_files_never_panic(
        seed in 0usize..6,
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = seeds().swap_remove(seed);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        exercise(&bytes);
    }
}
