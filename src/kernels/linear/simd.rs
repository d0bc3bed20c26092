//! The two small traits the generic kernel bodies in [`super::driver`] are written against.
//!
//! Each ISA implements them with `#[inline(always)]` intrinsics and no `#[target_feature]` of
//! their own; they are only ever inlined into a `#[target_feature]` wrapper of that ISA, which is
//! what lets LLVM emit the wide instructions (the matrixmultiply pattern).

/// An f32 SIMD register and the handful of operations the kernels need.
pub(crate) trait F32Vec: Copy {
    /// f32 lanes per vector.
    const LANES: usize;
    /// Architectural vector registers of this width (the small-K kernel keeps a whole panel
    /// column of weights in registers, so it only runs where there are 32).
    const REGS: usize = 16;
    /// All lanes zero.
    ///
    /// # Safety
    /// The CPU must support the vector type's ISA.
    unsafe fn zero() -> Self;
    /// Every lane set to `*p`.
    ///
    /// # Safety
    /// As [`F32Vec::zero`]; `p` is valid for one f32 read.
    unsafe fn splat(p: *const f32) -> Self;
    /// `LANES` floats from `p` (unaligned).
    ///
    /// # Safety
    /// As [`F32Vec::zero`]; `p` is valid for `LANES` f32 reads.
    unsafe fn load(p: *const f32) -> Self;
    /// `LANES` floats to `p` (unaligned).
    ///
    /// # Safety
    /// As [`F32Vec::zero`]; `p` is valid for `LANES` f32 writes.
    unsafe fn store(p: *mut f32, v: Self);
    /// The first `n < LANES` floats from `p`, the other lanes zero. Reads nothing past `p + n`.
    ///
    /// # Safety
    /// As [`F32Vec::zero`]; `p` is valid for `n` f32 reads.
    unsafe fn load_partial(p: *const f32, n: usize) -> Self;
    /// Sum of the lanes (order unspecified).
    ///
    /// # Safety
    /// As [`F32Vec::zero`].
    unsafe fn reduce_add(a: Self) -> f32;
    /// Lane sums of `N` vectors at once (order unspecified). An ISA may override this with a
    /// transposing tree, which shares the shuffles between vectors (AVX-512: 3 ops per vector
    /// instead of 8 for `N` = 4 or 8).
    ///
    /// # Safety
    /// As [`F32Vec::zero`].
    #[inline(always)]
    unsafe fn reduce_add_many<const N: usize>(v: &[Self; N]) -> [f32; N] {
        // SAFETY: forwarded (trait contract).
        std::array::from_fn(|i| unsafe { Self::reduce_add(v[i]) })
    }
    /// `a·b + c`, fused where the ISA has FMA.
    ///
    /// # Safety
    /// As [`F32Vec::zero`].
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self;
    /// `a + b`.
    ///
    /// # Safety
    /// As [`F32Vec::zero`].
    unsafe fn add(a: Self, b: Self) -> Self;
    /// `max(a, 0)` lane-wise, NaN kept.
    ///
    /// # Safety
    /// As [`F32Vec::zero`].
    unsafe fn relu(a: Self) -> Self;
    /// Packs `R` rows of `k` floats (row stride `ld`) k-major: `dst[kk · R + i] = src[i · ld + kk]`
    /// (the X layout of the packed-X tile). An ISA may override the plain loop with register
    /// transposes.
    ///
    /// # Safety
    /// As [`F32Vec::zero`]; `src` is valid for `R` rows of `k` reads, `dst` for `k · R` writes.
    #[inline(always)]
    unsafe fn pack_k_major<const R: usize>(src: *const f32, ld: usize, k: usize, dst: *mut f32) {
        // SAFETY: i < R, kk < k: inside both ranges (caller).
        unsafe {
            for i in 0..R {
                for kk in 0..k {
                    *dst.add(kk * R + i) = *src.add(i * ld + kk);
                }
            }
        }
    }
    /// Hints that the cache line holding `p` will be written soon (a no-op where the ISA has
    /// no such hint). Never faults.
    ///
    /// # Safety
    /// As [`F32Vec::zero`].
    #[inline(always)]
    unsafe fn prefetch_write(p: *const f32) {
        let _ = p;
    }
}

/// How the packed panels of one weight dtype become f32 vectors.
///
/// A panel is a sequence of *steps*; a step covers `KSTEP` consecutive `k` and `nr` columns
/// (`KSTEP·nr` elements). Vector `j` of sub-step `sub` holds columns `j·LANES .. (j+1)·LANES` of
/// row `k = step·KSTEP + sub`.
pub(crate) trait Panel<V: F32Vec> {
    /// Stored element type.
    type Elem: Copy;
    /// `k` values per step: 1 for plain k-major panels, 2 for pair-interleaved bf16.
    const KSTEP: usize;
    /// Whether the GEMM widens panel chunks to f32 before its tiles run (16-bit dtypes); when
    /// false, `Elem` is `f32` and the tiles read the panels in place.
    const WIDEN: bool;
    /// Loads vector `j` of sub-step `sub` of step `step`, widened to f32.
    ///
    /// # Safety
    /// The CPU must support `V`'s ISA; `panel` must be valid for the whole step.
    unsafe fn load(panel: *const Self::Elem, nr: usize, step: usize, sub: usize, j: usize) -> V;
}

/// Plain k-major f32 panels.
pub(crate) struct F32Panel;
/// Plain k-major f16 panels, widened on the fly.
pub(crate) struct F16Panel;
/// Pair-interleaved bf16 panels: sub-step 0 is the low half of each 32-bit lane, 1 the high.
pub(crate) struct Bf16PairPanel;

/// Mask keeping the high bf16 of a 32-bit lane in place, which is that bf16 as an f32.
#[cfg(target_arch = "x86_64")]
pub(crate) const BF16_HI_MASK: u32 = 0xFFFF_0000;
