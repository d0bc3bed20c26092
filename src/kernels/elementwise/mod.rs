//! The small kernels: embedding gather (plain, bag-sum, and fused with the FM term), FM
//! sum-square, L2-normalise, sigmoid, softmax.
//!
//! One file per op, each holding its reference twin (`*_ref`, plain scalar) next to one generic
//! body written against the `Lanes` vector trait; each level is a thin `#[target_feature]` wrapper around
//! that body. Every entry checks its arguments before writing anything and returns
//! [`crate::Error`] on bad input; ids outside a table give `Error::IdOutOfRange` naming the table.
//!
//! Gathers are hot (SPEC §7: ≥ 100M rows/s per core from DRAM) and have a body per level; the
//! others are cold next to GEMM but reuse the same generic bodies, so AVX2 and AVX-512 cost
//! a wrapper each.

mod bag;
mod fm;
mod gather;
mod gather_fm;
mod lanes;
#[cfg(target_arch = "x86_64")]
mod lanes_x86;
mod math;
mod normalize;
mod sigmoid;
mod softmax;
mod view;

use half::{bf16, f16};

use super::dispatch::{Isa, Kernel};

pub use bag::{bag_sum_ref, BagSumFn};
pub use fm::{fm_ref, FmFn};
pub use gather::{gather_ref, GatherFn};
pub use gather_fm::{gather_fm_ref, GatherFmFn};
pub use normalize::{l2_normalize_ref, L2NormalizeFn, L2_EPS};
pub use sigmoid::{sigmoid_ref, SigmoidFn};
pub use softmax::{softmax_ref, SoftmaxFn};
pub use view::{EmbeddingView, OutLayout};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}

/// An embedding element type: f32, f16 or bf16 (arithmetic is always f32).
pub trait Elem: Copy + Send + Sync + 'static + sealed::Sealed {
    /// dtype as written in kernel names (`f32`, `f16`, `bf16`).
    const DTYPE: &'static str;
    /// Exact widening to f32.
    fn to_f32(self) -> f32;
    /// This dtype's gather entry in `k`.
    fn gather(k: &ElementwiseKernels) -> Kernel<GatherFn<Self>>;
    /// This dtype's bag-sum entry in `k`.
    fn bag_sum(k: &ElementwiseKernels) -> Kernel<BagSumFn<Self>>;
    /// This dtype's fused gather+FM entry in `k`.
    fn gather_fm(k: &ElementwiseKernels) -> Kernel<GatherFmFn<Self>>;
}

macro_rules! elem {
    ($t:ty, $name:literal, $to_f32:expr, $gather:ident, $bag:ident, $gfm:ident) => {
        impl Elem for $t {
            const DTYPE: &'static str = $name;
            #[inline(always)]
            fn to_f32(self) -> f32 {
                let widen: fn($t) -> f32 = $to_f32;
                widen(self)
            }
            fn gather(k: &ElementwiseKernels) -> Kernel<GatherFn<Self>> {
                k.$gather
            }
            fn bag_sum(k: &ElementwiseKernels) -> Kernel<BagSumFn<Self>> {
                k.$bag
            }
            fn gather_fm(k: &ElementwiseKernels) -> Kernel<GatherFmFn<Self>> {
                k.$gfm
            }
        }
    };
}
elem!(f32, "f32", |x| x, gather_f32, bag_sum_f32, gather_fm_f32);
elem!(
    f16,
    "f16",
    f16::to_f32,
    gather_f16,
    bag_sum_f16,
    gather_fm_f16
);
elem!(
    bf16,
    "bf16",
    bf16::to_f32,
    gather_bf16,
    bag_sum_bf16,
    gather_fm_bf16
);

/// Kernel entries of this family for one ISA level.
#[derive(Clone, Debug)]
pub struct ElementwiseKernels {
    /// Embedding gather, f32 table.
    pub gather_f32: Kernel<GatherFn<f32>>,
    /// Embedding gather, f16 table.
    pub gather_f16: Kernel<GatherFn<f16>>,
    /// Embedding gather, bf16 table.
    pub gather_bf16: Kernel<GatherFn<bf16>>,
    /// `EmbeddingBag(mode="sum")`, f32 table.
    pub bag_sum_f32: Kernel<BagSumFn<f32>>,
    /// `EmbeddingBag(mode="sum")`, f16 table.
    pub bag_sum_f16: Kernel<BagSumFn<f16>>,
    /// `EmbeddingBag(mode="sum")`, bf16 table.
    pub bag_sum_bf16: Kernel<BagSumFn<bf16>>,
    /// DeepFM gather into `[B, F·D]` + FM term, f32 tables.
    pub gather_fm_f32: Kernel<GatherFmFn<f32>>,
    /// DeepFM gather into `[B, F·D]` + FM term, f16 tables.
    pub gather_fm_f16: Kernel<GatherFmFn<f16>>,
    /// DeepFM gather into `[B, F·D]` + FM term, bf16 tables.
    pub gather_fm_bf16: Kernel<GatherFmFn<bf16>>,
    /// FM sum-square over `[B, F, D]`.
    pub fm_f32: Kernel<FmFn>,
    /// Row-wise L2 normalisation in place.
    pub l2_normalize_f32: Kernel<L2NormalizeFn>,
    /// Sigmoid in place.
    pub sigmoid_f32: Kernel<SigmoidFn>,
    /// Row-wise softmax in place.
    pub softmax_f32: Kernel<SoftmaxFn>,
}

/// One entry; the name must be `{op}_{dtype}_{isa}` of the body `f` points to.
fn k<F: Copy>(name: &'static str, isa: Isa, f: F) -> Kernel<F> {
    Kernel { name, isa, f }
}

impl ElementwiseKernels {
    /// Portable entries overlaid with `isa`'s. A level this CPU lacks is never overlaid, so every
    /// entry of the result is safe to call here (the table's `isa` field, in `KernelTable`, is
    /// what the caller asked for; `KernelTable::for_isa` refuses unavailable levels upstream).
    pub fn for_isa(isa: Isa) -> Self {
        let table = Self::portable();
        #[cfg(target_arch = "x86_64")]
        let table = table.overlaid(isa);
        #[cfg(not(target_arch = "x86_64"))]
        let _ = isa;
        table
    }

    /// Applies each x86 level up to `isa` that this CPU has.
    #[cfg(target_arch = "x86_64")]
    fn overlaid(mut self, isa: Isa) -> Self {
        if isa >= Isa::Avx2 && Isa::Avx2.is_available() {
            self.overlay_avx2();
        }
        if isa >= Isa::Avx512 && Isa::Avx512.is_available() {
            self.overlay_avx512();
        }
        self
    }

    fn portable() -> Self {
        use Isa::Portable as P;
        ElementwiseKernels {
            gather_f32: k("gather_f32_portable", P, gather::gather_portable::<f32>),
            gather_f16: k("gather_f16_portable", P, gather::gather_portable::<f16>),
            gather_bf16: k("gather_bf16_portable", P, gather::gather_portable::<bf16>),
            bag_sum_f32: k("bag_sum_f32_portable", P, bag::bag_sum_portable::<f32>),
            bag_sum_f16: k("bag_sum_f16_portable", P, bag::bag_sum_portable::<f16>),
            bag_sum_bf16: k("bag_sum_bf16_portable", P, bag::bag_sum_portable::<bf16>),
            gather_fm_f32: k(
                "gather_fm_f32_portable",
                P,
                gather_fm::gather_fm_portable::<f32>,
            ),
            gather_fm_f16: k(
                "gather_fm_f16_portable",
                P,
                gather_fm::gather_fm_portable::<f16>,
            ),
            gather_fm_bf16: k(
                "gather_fm_bf16_portable",
                P,
                gather_fm::gather_fm_portable::<bf16>,
            ),
            fm_f32: k("fm_f32_portable", P, fm::fm_f32_portable),
            l2_normalize_f32: k(
                "l2_normalize_f32_portable",
                P,
                normalize::l2_normalize_f32_portable,
            ),
            sigmoid_f32: k("sigmoid_f32_portable", P, sigmoid::sigmoid_f32_portable),
            softmax_f32: k("softmax_f32_portable", P, softmax::softmax_f32_portable),
        }
    }

    /// AVX2 + FMA + F16C bodies for every op. Call only after detecting AVX2.
    #[cfg(target_arch = "x86_64")]
    fn overlay_avx2(&mut self) {
        use Isa::Avx2 as A;
        self.gather_f32 = k("gather_f32_avx2", A, gather::gather_avx2::<f32>);
        self.gather_f16 = k("gather_f16_avx2", A, gather::gather_avx2::<f16>);
        self.gather_bf16 = k("gather_bf16_avx2", A, gather::gather_avx2::<bf16>);
        self.bag_sum_f32 = k("bag_sum_f32_avx2", A, bag::bag_sum_avx2::<f32>);
        self.bag_sum_f16 = k("bag_sum_f16_avx2", A, bag::bag_sum_avx2::<f16>);
        self.bag_sum_bf16 = k("bag_sum_bf16_avx2", A, bag::bag_sum_avx2::<bf16>);
        self.gather_fm_f32 = k("gather_fm_f32_avx2", A, gather_fm::gather_fm_avx2::<f32>);
        self.gather_fm_f16 = k("gather_fm_f16_avx2", A, gather_fm::gather_fm_avx2::<f16>);
        self.gather_fm_bf16 = k("gather_fm_bf16_avx2", A, gather_fm::gather_fm_avx2::<bf16>);
        self.fm_f32 = k("fm_f32_avx2", A, fm::fm_f32_avx2);
        self.l2_normalize_f32 = k("l2_normalize_f32_avx2", A, normalize::l2_normalize_f32_avx2);
        self.sigmoid_f32 = k("sigmoid_f32_avx2", A, sigmoid::sigmoid_f32_avx2);
        self.softmax_f32 = k("softmax_f32_avx2", A, softmax::softmax_f32_avx2);
    }

    /// AVX-512 bodies for every op. Call only after detecting AVX-512 (F/BW/DQ/VL + AVX2 set).
    #[cfg(target_arch = "x86_64")]
    fn overlay_avx512(&mut self) {
        use Isa::Avx512 as A;
        self.gather_f32 = k("gather_f32_avx512", A, gather::gather_avx512::<f32>);
        self.gather_f16 = k("gather_f16_avx512", A, gather::gather_avx512::<f16>);
        self.gather_bf16 = k("gather_bf16_avx512", A, gather::gather_avx512::<bf16>);
        self.bag_sum_f32 = k("bag_sum_f32_avx512", A, bag::bag_sum_avx512::<f32>);
        self.bag_sum_f16 = k("bag_sum_f16_avx512", A, bag::bag_sum_avx512::<f16>);
        self.bag_sum_bf16 = k("bag_sum_bf16_avx512", A, bag::bag_sum_avx512::<bf16>);
        self.gather_fm_f32 = k(
            "gather_fm_f32_avx512",
            A,
            gather_fm::gather_fm_avx512::<f32>,
        );
        self.gather_fm_f16 = k(
            "gather_fm_f16_avx512",
            A,
            gather_fm::gather_fm_avx512::<f16>,
        );
        self.gather_fm_bf16 = k(
            "gather_fm_bf16_avx512",
            A,
            gather_fm::gather_fm_avx512::<bf16>,
        );
        self.fm_f32 = k("fm_f32_avx512", A, fm::fm_f32_avx512);
        self.l2_normalize_f32 = k(
            "l2_normalize_f32_avx512",
            A,
            normalize::l2_normalize_f32_avx512,
        );
        self.sigmoid_f32 = k("sigmoid_f32_avx512", A, sigmoid::sigmoid_f32_avx512);
        self.softmax_f32 = k("softmax_f32_avx512", A, softmax::softmax_f32_avx512);
    }
}
