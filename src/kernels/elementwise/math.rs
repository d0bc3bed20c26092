//! `exp` on lanes, for the ops that need it (sigmoid, softmax). Only non-positive arguments occur
//! there (`-|x|`, `x - max`), which keeps the result in [0, 1] and the code free of overflow cases.

use super::lanes::Lanes;

/// e^y for y ≤ 0, to within a few ulp (proved by the exhaustive sigmoid test), including the
/// subnormal range; -inf → 0, NaN → NaN, y < -104 → 0 (e^-104 is below half the least subnormal).
///
/// Cephes `expf`: y = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two so n·ln2_hi is exact), a
/// degree-5 minimax polynomial for e^r, then the 2^n scaling done in two steps so that results
/// below f32::MIN_POSITIVE round once, gradually, instead of flushing to zero.
///
/// # Safety
/// `L`'s level is available.
#[inline(always)]
pub(crate) unsafe fn exp_nonpos<L: Lanes>(y: L) -> L {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4; // 0.693359375: 9 significant bits, so n·LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    const P: [f32; 6] = [
        1.987_569_1e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ];
    // SAFETY: level available (caller).
    unsafe {
        // `max` returns its right operand on NaN, so NaN survives and -inf becomes -104.
        let y = L::splat(-104.0).max(y);
        let n = y.mul(L::splat(LOG2E)).round();
        let r = n.mul_add(L::splat(-LN2_HI), y);
        let r = n.mul_add(L::splat(-LN2_LO), r);
        let mut p = L::splat(P[0]);
        for &c in &P[1..] {
            p = p.mul_add(r, L::splat(c));
        }
        let p = p.mul_add(r.mul(r), r).add(L::splat(1.0));
        // n ∈ [-150, 0]: split as n_a ∈ [-100, 0] and n_b = n - n_a ∈ [-50, 0], both normal powers.
        let n_a = L::splat(-100.0).max(n);
        let n_b = n.sub(n_a);
        p.mul(n_a.pow2i()).mul(n_b.pow2i())
    }
}
