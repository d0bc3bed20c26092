//! Exact sums of amounts in fixed point.
//!
//! Sliding-window sums add each amount once and subtract it once when it leaves. In floating
//! point that drifts without bound on a long stream (add 10⁹, later subtract it, and a 0.01 sum
//! reads 1e-7 off); recomputing periodically only bounds the drift. Instead each amount is
//! rounded once to a multiple of 2⁻³² (≈ 2.3·10⁻¹⁰ currency units, far below any real unit)
//! and held as an `i128`: then additions and subtractions are exact, a window sum is the same
//! whatever order records entered or left in, and a snapshot restores it bit for bit. Amounts
//! are ≤ 10¹⁵ < 2⁵⁰, so one is < 2⁸²; cumulative sums use wrapping arithmetic, and the
//! difference of two is exact whenever the true window sum is below 2¹²⁷ (always).

use super::features::MAX_AMOUNT;

/// A fixed-point amount or sum: value × 2³².
pub(crate) type Fixed = i128;

const FRAC_BITS: u32 = 32;
const SCALE: f64 = (1u64 << FRAC_BITS) as f64;

/// `amount` (validated: finite, in `[0, MAX_AMOUNT]`) rounded to a multiple of 2⁻³² (the nearest,
/// or within one quantum).
#[inline]
pub(crate) fn to_fixed(amount: f64) -> Fixed {
    debug_assert!((0.0..=MAX_AMOUNT).contains(&amount));
    // Split so each part converts with a plain `cvttsd2si`: the integer part is exact in an
    // i64 (< 2⁵⁰) and `amount − int` is exact in f64, so the only rounding is the last step.
    let int = amount.trunc();
    // `+ 0.5` then truncation rounds to nearest (`f64::round` is a libm call here); where
    // `x + 0.5` itself rounds up, the result is still within one quantum.
    let frac = ((amount - int) * SCALE + 0.5) as i64;
    ((int as i64 as i128) << FRAC_BITS) + frac as i128
}

/// The nearest f64 to a fixed-point value (deterministic: the same bits in, the same f64 out).
#[inline]
pub(crate) fn to_f64(q: Fixed) -> f64 {
    // Through i64: an i128 → f64 cast is a libgcc call.
    let frac = (q & ((1 << FRAC_BITS) - 1)) as i64 as f64 / SCALE;
    match i64::try_from(q >> FRAC_BITS) {
        Ok(int) => int as f64 + frac,
        Err(_) => q as f64 / SCALE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_representable_amounts_exactly() {
        for a in [
            0.0,
            1.0,
            0.5,
            0.25,
            123456.75,
            1e15,
            2f64.powi(-32),
            3.0 * 2f64.powi(-20),
        ] {
            assert_eq!(to_f64(to_fixed(a)), a, "{a}");
        }
    }

    #[test]
    fn rounds_other_amounts_to_the_nearest_quantum() {
        for a in [0.1, 0.01, 999.99, 1e-12, 12345678.901] {
            assert!(
                (to_f64(to_fixed(a)) - a).abs() <= 0.5 / SCALE + a * f64::EPSILON,
                "{a}"
            );
        }
    }

    #[test]
    fn sums_are_order_independent() {
        let xs = [1e15, 0.01, 3.3, 1e-3, 7.25];
        let fwd: Fixed = xs.iter().map(|&x| to_fixed(x)).sum();
        let rev: Fixed = xs.iter().rev().map(|&x| to_fixed(x)).sum();
        assert_eq!(fwd, rev);
        assert_eq!(
            fwd - to_fixed(1e15),
            xs[1..].iter().map(|&x| to_fixed(x)).sum::<Fixed>()
        );
    }
}
