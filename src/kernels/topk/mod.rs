//! Fused dot-product + top-k scan over an item matrix (exact retrieval).
//!
//! [`PackedItems`] packs an N×D item matrix (f32, f16 or bf16) once into a scan-friendly layout;
//! [`PackedItems::search`] scores one query against every item and keeps the k best in a
//! [`TopK`]; [`PackedItems::search_batch`] does the same for a batch, loading each item block
//! once for a tile of queries so a batch costs compute, not Q× the memory traffic.
//!
//! The scan is memory-bound: each item byte is used once per query. The hot loop therefore only
//! streams, multiplies and compares the block's 16 scores against the current k-th best score
//! with one vector compare; the scalar heap insert runs on the rare block that beats it.
//!
//! Ordering contract (the same in every kernel and in [`topk_reference`]): scores descending,
//! ties broken by the lower item index, `-0.0 == +0.0`, and NaN scores rank below every number
//! (including `-inf`), so a NaN item is only returned when fewer than k numbers are left.
//!
//! Exact search on fewer bytes, same results bit for bit: [`PackedItems::new_f32_planes`]
//! stores f32 as a bf16 high plane plus low bits (`planes.rs`), and [`PackedItems::screened`]
//! adds an 8-bit screen that single queries stream first (`screen.rs`); each scans in *slack
//! mode* under a proven error bound and rescores its few candidates with the plain kernel.
//!
//! Layout: see `layout.rs`. Kernels: one generic body (`body.rs`) over a 16-lane vector trait,
//! instantiated per ISA (`portable.rs`, `avx2.rs`, `avx512.rs`). For bf16 items there is also
//! an `avx512_bf16` body (`vdpbf16ps` on a hi+lo split query, `avx512bf16.rs`); widening by
//! shift and mask measured faster (1M×64, top-100: 9.3 ms vs 10.4 ms on a quiet Xeon of this
//! family, both memory-bound), so the table uses widening and the `vdpbf16ps` body is only
//! offered by [`TopkKernels::scan_variants`], tested and benched so the choice can be revisited
//! on other CPUs.

mod body;
mod layout;
mod packed;
mod planes;
mod portable;
mod reference;
mod result;
mod screen;
mod split;
mod storage;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod avx512bf16;

pub use packed::{ItemDtype, ItemElement, PackedItems};
pub use reference::topk_reference;
pub use result::TopK;
pub use split::MIN_GROUPS_PER_THREAD;

use std::ops::Range;

use super::dispatch::{Isa, Kernel};

/// A single-query scan: scores the items of the 64-item groups `groups` (a sub-range of
/// `0..groups()`, so threads can split one matrix) against the query prepared in the [`TopK`]
/// and leaves the k best of them in its heap.
pub type ScanFn = fn(&PackedItems, Range<usize>, &mut TopK);

/// A batch scan: like [`ScanFn`] (over the same kind of group range) for every query, each with
/// its own [`TopK`].
pub type BatchScanFn = fn(&PackedItems, Range<usize>, &mut [TopK]);

/// Kernel entries of this family for one ISA level.
#[derive(Clone, Debug)]
pub struct TopkKernels {
    /// One query over f32 items.
    pub scan_f32: Kernel<ScanFn>,
    /// One query over f16 items.
    pub scan_f16: Kernel<ScanFn>,
    /// One query over bf16 items.
    pub scan_bf16: Kernel<ScanFn>,
    /// A batch of queries over f32 items.
    pub batch_f32: Kernel<BatchScanFn>,
    /// A batch of queries over f16 items.
    pub batch_f16: Kernel<BatchScanFn>,
    /// A batch of queries over bf16 items.
    pub batch_bf16: Kernel<BatchScanFn>,
    /// One query over the 8-bit screen of screened items ([`PackedItems::screened`]), the
    /// approximate first pass of their exact search.
    pub screen_i8: Kernel<ScanFn>,
}

impl TopkKernels {
    /// Portable entries overlaid with `isa`'s. A level this CPU lacks adds nothing (the
    /// dispatch table refuses to build one anyway), so an entry never points at code the CPU
    /// cannot run.
    pub fn for_isa(isa: Isa) -> Self {
        #[allow(unused_mut)]
        let mut table = portable::kernels();
        #[cfg(target_arch = "x86_64")]
        {
            if isa >= Isa::Avx2 {
                table = avx2::kernels().unwrap_or(table);
            }
            if isa >= Isa::Avx512 {
                table = avx512::kernels().unwrap_or(table);
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = isa;
        table
    }

    /// The single-query entry for `dtype`.
    pub fn scan(&self, dtype: ItemDtype) -> &Kernel<ScanFn> {
        match dtype {
            ItemDtype::F32 => &self.scan_f32,
            ItemDtype::F16 => &self.scan_f16,
            ItemDtype::Bf16 => &self.scan_bf16,
        }
    }

    /// Every single-query body this CPU can run at `isa` for `dtype`, the table's choice
    /// first: for bf16 at AVX-512 also the `vdpbf16ps` body (where `avx512_bf16` exists), so
    /// tests check and benches compare the body the table did not choose.
    pub fn scan_variants(isa: Isa, dtype: ItemDtype) -> Vec<Kernel<ScanFn>> {
        let chosen = *Self::for_isa(isa).scan(dtype);
        #[allow(unused_mut)]
        let mut all = vec![chosen];
        #[cfg(target_arch = "x86_64")]
        if isa >= Isa::Avx512 && dtype == ItemDtype::Bf16 {
            let dot = avx512bf16::scan_bf16();
            all.extend(dot.filter(|k| k.name != chosen.name));
        }
        all
    }

    /// The batch entry for `dtype`.
    pub fn batch(&self, dtype: ItemDtype) -> &Kernel<BatchScanFn> {
        match dtype {
            ItemDtype::F32 => &self.batch_f32,
            ItemDtype::F16 => &self.batch_f16,
            ItemDtype::Bf16 => &self.batch_bf16,
        }
    }
}
