//! bf16 items with `avx512_bf16`: `vdpbf16ps` multiplies 16 (even, odd) item pairs by a query
//! pair and adds both products into f32 lanes, so the bf16 pair layout is consumed as stored,
//! with no widening ops.
//!
//! Not the table's choice: it needs two `vdpbf16ps` per pair (hi and lo) where widening needs
//! two FMAs plus two cheap integer ops, and measured 10–12% slower on 1M×64 (10.4 vs 9.3 ms).
//! Reached through `TopkKernels::scan_variants`, so it stays tested and benched.
//!
//! The query is split once into bf16 `hi + lo` (see `packed::split`), scored as
//! `dot(hi, v) + dot(lo, v)`, each in its own accumulator. Error against the exact f32-query
//! score: the split leaves ≤ 2^-17·|q_i| per dimension, so ≤ 2^-17·Σ|q_i·v_i| extra, below the
//! f32 accumulation error for any D ≥ 64; `vdpbf16ps` products are exact (8×8-bit mantissas)
//! and its sums round to nearest like FMA, but it flushes denormal inputs and results to zero
//! (|x| < 1.2e-38: irrelevant for embeddings). An infinite item value scores NaN here even where
//! the exact score is ±inf (the `lo` half multiplies it by 0), one more reason it is not the
//! table's choice.

use std::arch::x86_64::*;
use std::ops::Range;

use super::avx512::Avx512;
use super::body::{offer_blocks, prefetch, Lanes, View, PREFETCH_AHEAD};
use super::layout::{GROUP_BLOCKS, STEP_ELEMS};
use super::packed::PackedItems;
use super::result::TopK;
use super::ScanFn;
use crate::kernels::dispatch::{Isa, Kernel};

/// The entry, when this CPU has AVX-512 F/BW/DQ/VL and `avx512_bf16`.
pub(super) fn scan_bf16() -> Option<Kernel<ScanFn>> {
    let ok = Isa::Avx512.is_available() && std::arch::is_x86_feature_detected!("avx512bf16");
    ok.then_some(Kernel {
        name: "topk_bf16dot_avx512",
        isa: Isa::Avx512,
        f: topk_bf16dot_avx512,
    })
}

fn topk_bf16dot_avx512(items: &PackedItems, groups: Range<usize>, top: &mut TopK) {
    // SAFETY: only handed out by `scan_bf16`, after the features were detected; the table
    // installs it for bf16 items only.
    unsafe { scan(items, groups, top) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c")]
unsafe fn scan(items: &PackedItems, groups: Range<usize>, top: &mut TopK) {
    let v = View::<u16>::range(items.packed_bytes_slice(), items, groups);
    assert_eq!(top.query_bf16.len(), 2 * v.steps);
    let hi = top.query_bf16.as_ptr();
    // SAFETY: query_bf16 holds steps hi pairs then steps lo pairs.
    let lo = unsafe { hi.add(v.steps) };
    let mut thr = _mm512_set1_ps(top.threshold());
    // LOOP 1: groups of 64 items, in index order.
    for g in 0..v.groups {
        // SAFETY: g < groups keeps every read inside the checked buffer (View::new); the query
        // reads stay below 2·steps; the bf16 casts reinterpret 512 bits as 32 bf16.
        unsafe {
            let gp = v.data.add(g * v.group_elems());
            let mut acc_hi = [_mm512_setzero_ps(); GROUP_BLOCKS];
            let mut acc_lo = [_mm512_setzero_ps(); GROUP_BLOCKS];
            // LOOP 2: steps (dimension pairs), front to back.
            for s in 0..v.steps {
                let qh = as_bh(_mm512_set1_epi32(*hi.add(s) as i32));
                let ql = as_bh(_mm512_set1_epi32(*lo.add(s) as i32));
                let sp = gp.add(s * GROUP_BLOCKS * STEP_ELEMS);
                for line in 0..GROUP_BLOCKS {
                    prefetch(sp.cast::<u8>().wrapping_add(PREFETCH_AHEAD + 64 * line));
                }
                // LOOP 3: the group's four blocks.
                for b in 0..GROUP_BLOCKS {
                    let x = as_bh(_mm512_load_si512(sp.add(b * STEP_ELEMS).cast()));
                    acc_hi[b] = _mm512_dpbf16_ps(acc_hi[b], x, qh);
                    acc_lo[b] = _mm512_dpbf16_ps(acc_lo[b], x, ql);
                }
            }
            let mut scores = [_mm512_setzero_ps(); GROUP_BLOCKS];
            let mut hits = [0u32; GROUP_BLOCKS];
            let mut any = 0;
            for b in 0..GROUP_BLOCKS {
                scores[b] = _mm512_add_ps(acc_hi[b], acc_lo[b]);
                hits[b] = Avx512::above(scores[b], thr);
                any |= hits[b];
            }
            if any != 0 {
                offer_blocks::<Avx512, GROUP_BLOCKS>(top, v.item(g), &scores, &hits);
                thr = _mm512_set1_ps(top.threshold());
            }
        }
    }
}

/// Reinterprets 512 bits as 32 bf16.
#[inline(always)]
fn as_bh(x: __m512i) -> __m512bh {
    // SAFETY: both are 64-byte plain-bits vector types; every bit pattern is valid for both.
    unsafe { std::mem::transmute::<__m512i, __m512bh>(x) }
}
