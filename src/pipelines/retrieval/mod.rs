//! Retrieval (SPEC §4.1): an [`ItemIndex`] of item vectors, searched exactly (fused dot-product
//! + top-k scan) or approximately (IVF-Flat with `nprobe`).
//!
//! The index is an `item_index` safetensors file (`ids` i64 `[N]`, `vectors` f32/f16/bf16
//! `[N, D]`, optional `category` i64 `[N]`, optional `ivf.*`), memory-mapped and validated on
//! open like every weight file. Build one from a two-tower model's item tower
//! ([`ItemIndex::build_from_model`]) or from vectors ([`ItemIndex::from_vectors`]), add IVF lists
//! with [`ItemIndex::with_ivf`], and [`save`](ItemIndex::save) it.
//!
//! Results are [`Hit`]s (item id, score, row index), best first: scores descending, ties to the
//! lower row index, NaN scores last (the kernel's contract, see [`crate::kernels::topk`]).
//!
//! Load cost: opening maps the file and packs the vectors once into the scan layout (one copy
//! of the vectors, about 0.2 s per GB), keeping the file's precision (16-bit stays 16-bit). An
//! index with IVF lists packs the vectors a second time in list order, so it holds them twice:
//! once in row order for exact search, once grouped by list for IVF search.

mod build;
mod index;
mod ivf;
mod kmeans;
mod rng;

pub use index::{Hit, ItemIndex, SearchWorkspace};
pub use ivf::IvfInfo;
pub use kmeans::{default_nlist, KmeansParams};

pub use crate::kernels::topk::ItemDtype;

/// Fraction of `exact`'s items that `approx` also returned (recall@k with k = `exact.len()`);
/// 1.0 when `exact` is empty.
pub fn recall_at_k(approx: &[Hit], exact: &[Hit]) -> f64 {
    if exact.is_empty() {
        return 1.0;
    }
    let found = exact
        .iter()
        .filter(|e| approx.iter().any(|a| a.index == e.index))
        .count();
    found as f64 / exact.len() as f64
}
