//! FM sum-square and the fused gather+FM, under every level, against the reference twins (helpers in the parent).

use proptest::prelude::*;
use proptest::sample::select;
use reckon::kernels::elementwise::*;
use reckon::kernels::KernelTable;
use reckon::Error;

use super::*;

// ---- FM and gather+FM ---------------------------------------------------------------------

/// FM error bound, in units of u·½Σ_d(Σ_f|e|)²: the field sums (F), squaring (F+1), the Σe²
/// FMAs (F), the subtraction (1), then the chunk and lane reduction (≤ D/8 + 16); doubled.
fn fm_tol(fields: usize, dim: usize) -> f64 {
    2.0 * (3 * fields + dim / 8 + 18) as f64 * U
}

/// Asserts `got` is within the FM bound of the f64 oracle for sample-major `emb`.
fn assert_fm_close(name: &str, got: &[f32], want: &[f32], emb: &[f32], fields: usize, dim: usize) {
    for (b, (&g, &w)) in got.iter().zip(want).enumerate() {
        let scale: f64 = (0..dim)
            .map(|d| {
                (0..fields)
                    .map(|f| (emb[(b * fields + f) * dim + d] as f64).abs())
                    .sum::<f64>()
                    .powi(2)
            })
            .sum::<f64>()
            * 0.5;
        let err = (g as f64 - w as f64).abs();
        assert!(
            err <= fm_tol(fields, dim) * scale + SUBNORMAL_ABS,
            "{name}: F {fields} D {dim} b {b}: {g} vs {w}"
        );
    }
}

prop_compose! {
    fn fm_case()(fields in select(FIELDS.to_vec()), dim in select(DIMS.to_vec()), b in batch())
        (emb in prop::collection::vec(fm_value(), b * fields * dim), fields in Just(fields), dim in Just(dim), b in Just(b))
        -> (Vec<f32>, usize, usize, usize) {
        (emb, fields, dim, b)
    }
}

prop_compose! {
    /// (per-field table values, rows per field, dim, ids [B, F]).
    fn gather_fm_case()(fields in select(FIELDS.to_vec()), dim in select(DIMS.to_vec()), b in batch(), rows in 1usize..12)
        (vals in prop::collection::vec(prop::collection::vec(fm_value(), rows * dim), fields),
         ids in prop::collection::vec(0..rows as i64, b * fields), dim in Just(dim))
        -> (Vec<Vec<f32>>, usize, Vec<i64>) {
        (vals, dim, ids)
    }
}

fn check_gather_fm<T: TestElem>(vals: &[Vec<f32>], dim: usize, ids: &[i64]) {
    let data: Vec<Vec<T>> = vals
        .iter()
        .map(|v| v.iter().map(|&x| T::from_f32(x)).collect())
        .collect();
    let names: Vec<String> = (0..vals.len())
        .map(|f| format!("embeddings.{f}.weight"))
        .collect();
    let views: Vec<EmbeddingView<T>> = data
        .iter()
        .zip(&names)
        .map(|(d, n)| EmbeddingView::new(n, d, dim).expect("view"))
        .collect();
    let (fields, b) = (views.len(), ids.len() / views.len());
    let (mut emb_want, mut fm_want) = (vec![0.0f32; b * fields * dim], vec![0.0f32; b]);
    gather_fm_ref(&views, ids, &mut emb_want, &mut fm_want).expect("reference");
    for t in tables_under_test() {
        let k = T::gather_fm(&t.elementwise);
        hot(t, &k, "gather_fm", T::DTYPE);
        let (mut emb, mut fm) = (vec![1.0f32; b * fields * dim], vec![1.0f32; b]);
        (k.f)(&views, ids, &mut emb, &mut fm).expect("kernel");
        assert!(same(&emb, &emb_want), "{}: gathered rows differ", k.name);
        assert_fm_close(k.name, &fm, &fm_want, &emb_want, fields, dim);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn fm_matches_reference((emb, fields, dim, b) in fm_case()) {
        let mut want = vec![0.0f32; b];
        fm_ref(&emb, fields, dim, &mut want).expect("reference");
        for t in tables_under_test() {
            let k = t.elementwise.fm_f32;
            assert_body(t, &k, false);
            let mut got = vec![0.0f32; b];
            (k.f)(&emb, fields, dim, &mut got).expect("kernel");
            assert_fm_close(k.name, &got, &want, &emb, fields, dim);
        }
    }

    #[test]
    fn gather_fm_matches_reference((vals, dim, ids) in gather_fm_case()) {
        check_gather_fm::<f32>(&vals, dim, &ids);
        check_gather_fm::<f16>(&vals, dim, &ids);
        check_gather_fm::<bf16>(&vals, dim, &ids);
    }
}

#[test]
fn gather_fm_rejects_bad_arguments_before_writing() {
    let (a, b, c) = (
        vec![0.5f32; 3 * 4],
        vec![0.25f32; 2 * 4],
        vec![0.0f32; 3 * 5],
    );
    let va = EmbeddingView::new("embeddings.0.weight", &a, 4).expect("view");
    let vb = EmbeddingView::new("embeddings.1.weight", &b, 4).expect("view");
    let vc = EmbeddingView::new("embeddings.2.weight", &c, 5).expect("view");
    let run = |t: &KernelTable,
               tables: &[EmbeddingView<f32>],
               ids: &[i64],
               emb: &mut [f32],
               fm_len: usize| {
        let mut fm = vec![3.25f32; fm_len];
        let r = (t.elementwise.gather_fm_f32.f)(tables, ids, emb, &mut fm);
        assert!(fm.iter().all(|&v| v == 3.25), "fm written before the error");
        r
    };
    // Field 1 has 2 rows: id 2 there is out of range, though valid for field 0.
    assert_rejects(
        16,
        |t, e| run(t, &[va, vb], &[0, 1, 2, 2], e, 2),
        |e| matches!(e, Error::IdOutOfRange { table, id: 2, rows: 2 } if table == "embeddings.1.weight"),
    );
    assert_rejects(
        16,
        |t, e| run(t, &[va, vb], &[0, 1, 2], e, 2),
        |e| matches!(e, Error::BufferLength { arg: "ids", .. }),
    );
    assert_rejects(
        15,
        |t, e| run(t, &[va, vb], &[0, 1, 2, 1], e, 2),
        |e| matches!(e, Error::BufferLength { arg: "emb_out", .. }),
    );
    assert_rejects(
        16,
        |t, e| run(t, &[va, vc], &[0, 1, 2, 1], e, 2),
        |e| matches!(e, Error::WrongShape { tensor, .. } if tensor == "embeddings.2.weight"),
    );
    assert_rejects(
        0,
        |t, e| run(t, &[], &[], e, 0),
        |e| matches!(e, Error::InvalidArgument { arg: "tables", .. }),
    );
    assert_rejects(
        8,
        |t, out| (t.elementwise.fm_f32.f)(&[1.0; 7], 2, 4, &mut out[..1]),
        |e| {
            matches!(
                e,
                Error::BufferLength {
                    op: "fm",
                    arg: "emb",
                    expected: 8,
                    actual: 7
                }
            )
        },
    );
}
