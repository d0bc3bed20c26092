//! The packed item layout, shared by the packer and every kernel.
//!
//! Items are cut into *blocks* of [`BLOCK`] = 16 (one 512-bit vector of f32 scores) and blocks
//! into *groups* of [`GROUP_BLOCKS`] = 4. Dimensions are padded to an even count `dp` (the
//! extra dimension is zero) and walked in *steps* of two. Within a group the order is
//! step-major, so the single-query kernel, which scores a whole group at once, reads memory
//! strictly sequentially:
//!
//! ```text
//! group g (64 items) = step 0 [block 0 | block 1 | block 2 | block 3], step 1 [...], ...
//! one block-step (32 elements, two dimensions of 16 items):
//!   f32, f16:  [dim 2s: items 0..16][dim 2s+1: items 0..16]   (one dimension = one vector)
//!   bf16:      [item 0: dim 2s, 2s+1][item 1: ...]...          (pairs, as `vdpbf16ps` wants)
//! ```
//!
//! The bf16 pair order also suits widening: a 32-bit lane holds (even, odd), so `lane << 16` is
//! the even dimension and `lane & 0xffff_0000` the odd one, two cheap ops per 16 item pairs.
//! The item count is padded to whole groups with zero items, which kernels score like any other
//! and the result collector drops (their index is ≥ N). 16-bit dtypes stay 16-bit: half the
//! bytes is the whole point of them in a memory-bound scan.

/// Items per block (lanes of one 512-bit f32 vector).
pub(super) const BLOCK: usize = 16;
/// Blocks per group; storage is padded to whole groups.
pub(super) const GROUP_BLOCKS: usize = 4;
/// Items per group.
pub(super) const GROUP_ITEMS: usize = BLOCK * GROUP_BLOCKS;
/// Elements in one block-step (two dimensions of 16 items).
pub(super) const STEP_ELEMS: usize = 2 * BLOCK;
/// Byte alignment of the storage and of every group (a cache line).
pub(super) const ALIGN: usize = 64;

/// Dimensions padded to even.
pub(super) fn padded_dims(d: usize) -> usize {
    d + (d & 1)
}

/// Element offset of (item, dimension) in a layout with `dp` padded dimensions.
/// `pairs` selects the bf16 pair order.
pub(super) fn element_offset(item: usize, dim: usize, dp: usize, pairs: bool) -> usize {
    let group = item / GROUP_ITEMS;
    let block = (item % GROUP_ITEMS) / BLOCK;
    let lane = item % BLOCK;
    let step = dim / 2;
    let parity = dim % 2;
    let within = if pairs {
        lane * 2 + parity
    } else {
        parity * BLOCK + lane
    };
    group * (dp / 2) * GROUP_BLOCKS * STEP_ELEMS
        + step * GROUP_BLOCKS * STEP_ELEMS
        + block * STEP_ELEMS
        + within
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_cover_each_slot_once() {
        for (d, pairs) in [(1, false), (3, true), (4, false), (6, true)] {
            let dp = padded_dims(d);
            let n = 2 * GROUP_ITEMS;
            let mut seen = vec![false; n * dp];
            for item in 0..n {
                for dim in 0..dp {
                    let o = element_offset(item, dim, dp, pairs);
                    assert!(!seen[o], "slot {o} used twice (d={d})");
                    seen[o] = true;
                }
            }
            assert!(seen.iter().all(|&s| s));
        }
    }
}
