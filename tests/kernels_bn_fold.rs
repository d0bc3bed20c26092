//! BatchNorm folded into the following Linear equals BN then Linear (SPEC §2).

use proptest::prelude::*;
use reckon::kernels::linear::{
    fold_batchnorm_into_next, linear_reference, Activation, WeightSlice,
};
use reckon::Error;

/// Allowed error, relative to the magnitudes involved. Folding rounds each `W'ᵢ = Wᵢ·sᵢ` and `b'`
/// to f32 once (`u = 2⁻²⁴` each, s and t themselves in f64); evaluating the folded layer in
/// f64 and rounding adds one more `u` of the result. So
/// `|folded − unfolded| ≤ u·(Σ|W'ᵢ·xᵢ| + |b'| + |y|)`; allowing `4·EPSILON = 8u` of that sum
/// leaves margin for the unfolded side's own final rounding.
const FOLD_TOL: f64 = 4.0 * f32::EPSILON as f64;

const EPS: f32 = 1e-5;

/// BN then Linear, in f64 from the f32 inputs: the exact value to compare against.
fn unfolded(x: &[f32], w: &[f32], b: &[f32], bn: &Bn, out: usize, inp: usize) -> Vec<f64> {
    let normed: Vec<f64> = (0..inp)
        .map(|i| {
            let s = f64::from(bn.gamma[i]) / (f64::from(bn.var[i]) + f64::from(EPS)).sqrt();
            (f64::from(x[i]) - f64::from(bn.mean[i])) * s + f64::from(bn.beta[i])
        })
        .collect();
    (0..out)
        .map(|o| {
            f64::from(b[o])
                + (0..inp)
                    .map(|i| f64::from(w[o * inp + i]) * normed[i])
                    .sum::<f64>()
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Bn {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    mean: Vec<f32>,
    var: Vec<f32>,
}

fn layer(
    max_in: usize,
    max_out: usize,
) -> impl Strategy<Value = (usize, usize, Vec<f32>, Vec<f32>, Bn, Vec<f32>)> {
    (1..=max_in, 1..=max_out).prop_flat_map(|(inp, out)| {
        let v = |n: usize, lo: f32, hi: f32| prop::collection::vec(lo..hi, n);
        (
            Just(inp),
            Just(out),
            v(out * inp, -1.0, 1.0),
            v(out, -1.0, 1.0),
            (
                v(inp, -2.0, 2.0),
                v(inp, -1.0, 1.0),
                v(inp, -3.0, 3.0),
                v(inp, 1e-4, 4.0),
            )
                .prop_map(|(gamma, beta, mean, var)| Bn {
                    gamma,
                    beta,
                    mean,
                    var,
                }),
            v(inp, -3.0, 3.0),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn folded_linear_equals_batchnorm_then_linear((inp, out, w, b, bn, x) in layer(40, 20)) {
        let want = unfolded(&x, &w, &b, &bn, out, inp);
        let (mut w2, mut b2) = (w.clone(), b.clone());
        fold_batchnorm_into_next(&mut w2, &mut b2, &bn.gamma, &bn.beta, &bn.mean, &bn.var, EPS).unwrap();
        let mut got = vec![0.0f32; out];
        linear_reference(&x, 1, WeightSlice::F32(&w2), Some(&b2), out, inp, Activation::Identity, &mut got).unwrap();
        for o in 0..out {
            let scale: f64 = (0..inp).map(|i| (f64::from(w2[o * inp + i]) * f64::from(x[i])).abs()).sum::<f64>()
                + f64::from(b2[o]).abs()
                + want[o].abs();
            let err = (f64::from(got[o]) - want[o]).abs();
            prop_assert!(err <= FOLD_TOL * scale, "y[{o}] = {}, unfolded {}, err {err}, tol {}", got[o], want[o], FOLD_TOL * scale);
        }
    }
}

#[test]
fn identity_batchnorm_changes_nothing() {
    // γ = √(1 + ε), β = μ = 0, var = 1 gives s = 1, t = 0 up to rounding.
    let (mut w, mut b) = (vec![0.5f32, -1.0, 2.0, 0.25], vec![1.0f32, -1.0]);
    let g = ((1.0f64 + f64::from(EPS)).sqrt()) as f32;
    fold_batchnorm_into_next(
        &mut w,
        &mut b,
        &[g, g],
        &[0.0; 2],
        &[0.0; 2],
        &[1.0; 2],
        EPS,
    )
    .unwrap();
    for (got, want) in w.iter().zip([0.5f32, -1.0, 2.0, 0.25]) {
        assert!(
            (got - want).abs() <= 4.0 * f32::EPSILON * want.abs(),
            "{w:?}"
        );
    }
    assert_eq!(b, vec![1.0, -1.0]);
}

#[test]
fn lengths_are_checked_and_nothing_changes_on_error() {
    let (mut w, mut b) = (vec![1.0f32; 6], vec![0.0f32; 2]);
    let ones = [1.0f32; 3];
    let r = fold_batchnorm_into_next(&mut w, &mut b, &ones, &ones[..2], &ones, &ones, EPS);
    assert!(
        matches!(
            r,
            Err(Error::BufferLength {
                arg: "beta",
                expected: 3,
                actual: 2,
                ..
            })
        ),
        "{r:?}"
    );
    let r = fold_batchnorm_into_next(&mut w[..5], &mut b, &ones, &ones, &ones, &ones, EPS);
    assert!(
        matches!(
            r,
            Err(Error::BufferLength {
                arg: "weight",
                expected: 6,
                actual: 5,
                ..
            })
        ),
        "{r:?}"
    );
    let r = fold_batchnorm_into_next(&mut w, &mut b, &ones, &ones, &ones, &[1.0, -1.0, 1.0], 0.0);
    assert!(
        matches!(
            r,
            Err(Error::InvalidArgument {
                arg: "running_var",
                ..
            })
        ),
        "{r:?}"
    );
    let r = fold_batchnorm_into_next(
        &mut w,
        &mut b,
        &ones,
        &ones,
        &ones,
        &[1.0, f32::NAN, 1.0],
        EPS,
    );
    assert!(
        matches!(
            r,
            Err(Error::InvalidArgument {
                arg: "running_var",
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!((w, b), (vec![1.0; 6], vec![0.0; 2]));
}

#[test]
fn zero_variance_is_fine_with_eps() {
    let (mut w, mut b) = (vec![1.0f32], vec![0.0f32]);
    fold_batchnorm_into_next(&mut w, &mut b, &[1.0], &[0.0], &[2.0], &[0.0], EPS).unwrap();
    assert!(w[0].is_finite() && b[0].is_finite());
}
