//! Exact search at one byte per value: an 8-bit *screen* in front of any item matrix.
//!
//! A single-query scan is bound by memory bandwidth. [`PackedItems::screened`] adds to a
//! matrix (f32 planes, f32, f16 or bf16) a copy of its values as signed 8-bit codes,
//! `x ≈ s_d·c` with one scale `s_d = max |x_d| / 127` per dimension, in the f32 scan layout
//! (`layout.rs`) at one byte per value. A single query then:
//!
//! 1. scans the codes against the scaled query `q'_d = fl(q_d·s_d)` in slack mode
//!    (`result.rs`), streaming a quarter of f32's bytes and half of bf16's;
//! 2. gathers the candidates' rows from the matrix itself and scores them with the matrix's own
//!    scan kernel (`planes.rs`, [`PackedItems::finish_rescore`]).
//!
//! Every returned score is computed by the kernel and op sequence the unscreened matrix uses,
//! so results (scores, order, ties) equal an unscreened search bit for bit. Batches keep
//! using the matrix: they are compute-bound, and the codes would add a convert per value.
//!
//! Why no true top-k item is lost (notation of `planes.rs`: `e` the exact kernel's score, `a`
//! the screen's, `γ = n·u/(1 − n·u)` with `n = dp + 2`, `u = 2^-24`; `x̂ = s·c` the decoded
//! item, `r = x − x̂`):
//!
//! - `|e − q·x| ≤ (γ + 2^-16)·‖q‖·‖x‖ + A` (the 2^-16 covers the hi+lo query split of the
//!   `vdpbf16ps` body, should a table pick it for bf16 items);
//! - `|a − Σ q'·c| ≤ γ·Σ|q'·c| ≤ γ·(1 + u)·‖q‖·‖x̂‖ + A'` (codes are small integers, so each
//!   product `q'·c` is exact inside the FMA);
//! - `|Σ q'·c − q·x̂| ≤ u·Σ|q_d·s_d·c_d| ≤ u·‖q‖·‖x̂‖ + A''` (one rounding per `q'_d`);
//! - `|q·x̂ − q·x| = |q·r| ≤ ‖q‖·‖r‖` (Cauchy–Schwarz);
//!
//! so `|e − a| ≤ B = ‖q‖·(R + (γ + 2^-16)·X + (γ·(1 + u) + u)·X̂) + A`, with `R`, `X`, `X̂` the
//! largest `‖r‖`, `‖x‖`, `‖x̂‖` over the items (f64 at packing, rounded up) and `A` the
//! absolute slop of gradual underflow (`planes::underflow_slop`, plus `128·dp·2^-149` for
//! subnormal `q'`). Slack mode with slack `2B` then keeps every item of the exact top k, by
//! the argument in `planes.rs`. Queries with no bound (non-finite, or scores that could
//! overflow) skip the screen and run the matrix's own exact path.

use super::layout::{padded_dims, BLOCK, GROUP_BLOCKS, GROUP_ITEMS, STEP_ELEMS};
use super::packed::{ItemDtype, PackedItems};
use super::planes::{bounded_query_norm, gamma, norm_up, slack_of, underflow_slop};
use super::result::TopK;
use super::storage::AlignedBuf;
use crate::error::Result;

/// Largest code magnitude (symmetric, so `-128` is never used).
const CODE_MAX: f32 = 127.0;

/// The 8-bit codes of a screened matrix and the norms bounding their score error.
pub(super) struct Screen {
    /// i8 codes in the f32 scan layout (one byte per value), zero for padding.
    codes: AlignedBuf,
    /// Per padded dimension `s_d` (zero for the padding dimension and all-zero columns).
    scales: Vec<f32>,
    /// Largest `‖x − s·c‖₂`, rounded up.
    max_residual_norm: f64,
    /// Largest `‖x‖₂`, rounded up.
    max_norm: f64,
    /// Largest `‖s·c‖₂`, rounded up.
    max_decoded_norm: f64,
}

impl PackedItems {
    /// Adds an 8-bit screen (`n·dp` more bytes, padding included): single-query searches then
    /// stream one byte per value and rescore their few candidates exactly, returning the same
    /// results as without the screen, bit for bit. Batches are unchanged.
    ///
    /// A matrix holding a non-finite value has no error bound and is returned unscreened
    /// (check with [`has_screen`](Self::has_screen)).
    ///
    /// Errors: [`crate::Error::InvalidArgument`] if the codes' size overflows, which only a
    /// matrix that could not exist would make (the codes are smaller than it).
    pub fn screened(mut self) -> Result<Self> {
        let dp = padded_dims(self.d);
        // Group by group, in storage order: one 64-item tile of values at a time.
        let mut tile = vec![0.0f32; GROUP_ITEMS * dp];
        let mut max_abs = vec![0.0f32; dp];
        let mut non_finite = false;
        for g in 0..self.groups {
            self.decode_group(g, &mut tile);
            for row in tile.chunks_exact(dp) {
                for (m, &x) in max_abs.iter_mut().zip(row) {
                    non_finite |= !x.is_finite();
                    *m = m.max(x.abs());
                }
            }
        }
        if non_finite {
            return Ok(self);
        }
        let scales: Vec<f32> = max_abs.iter().map(|&m| m / CODE_MAX).collect();
        let inverse: Vec<f64> = scales.iter().map(|&s| inverse_scale(s)).collect();
        let group_len = GROUP_ITEMS * dp;
        let mut codes = AlignedBuf::zeroed(self.groups * group_len)?;
        let out: &mut [i8] = bytemuck::cast_slice_mut(codes.bytes_mut());
        let mut code_tile = vec![0i8; group_len];
        let (mut max_r, mut max_x, mut max_xh) = (0.0f64, 0.0f64, 0.0f64);
        for g in 0..self.groups {
            self.decode_group(g, &mut tile);
            // Padding items are zero: codes 0, norms 0.
            for (row, codes_row) in tile.chunks_exact(dp).zip(code_tile.chunks_exact_mut(dp)) {
                let (mut r2, mut x2, mut xh2) = (0.0f64, 0.0f64, 0.0f64);
                for (j, (&x, c)) in row.iter().zip(codes_row.iter_mut()).enumerate() {
                    let x = f64::from(x);
                    *c = encode(x, inverse[j]);
                    // Exact in f64: a 24-bit scale times an 8-bit code.
                    let xh = f64::from(scales[j]) * f64::from(*c);
                    r2 += (x - xh) * (x - xh);
                    x2 += x * x;
                    xh2 += xh * xh;
                }
                max_r = max_r.max(r2);
                max_x = max_x.max(x2);
                max_xh = max_xh.max(xh2);
            }
            let group = &mut out[g * group_len..(g + 1) * group_len];
            for_group_slots(dp, false, |slot, item, dim| {
                group[slot] = code_tile[item * dp + dim];
            });
        }
        self.screen = Some(Box::new(Screen {
            codes,
            scales,
            max_residual_norm: norm_up(max_r),
            max_norm: norm_up(max_x),
            max_decoded_norm: norm_up(max_xh),
        }));
        Ok(self)
    }

    /// Whether single-query searches run through an 8-bit screen ([`screened`](Self::screened)).
    pub fn has_screen(&self) -> bool {
        self.screen.is_some()
    }

    /// The screen's codes, for the `I8` scan body (only installed for screened matrices).
    pub(super) fn screen_codes(&self) -> &[u8] {
        let screen = self.screen.as_ref();
        screen
            .expect("screen kernel on an unscreened matrix")
            .codes
            .bytes()
    }

    /// The slack (`2B` of the module comment, rounded up) for screening `query`, or `None`
    /// when there is no screen or no bound for this query.
    pub(super) fn screen_slack(&self, query: &[f32]) -> Option<f32> {
        let s = self.screen.as_ref()?;
        let biggest = s.max_norm.max(s.max_decoded_norm);
        let qn = bounded_query_norm(query, biggest)?;
        let dp = padded_dims(self.d);
        let (g, u) = (gamma(dp), 2f64.powi(-24));
        let slop = underflow_slop(dp, qn, biggest) + 2f64.powi(-149) * 128.0 * dp as f64;
        let b = qn
            * (s.max_residual_norm
                + (g + 2f64.powi(-16)) * s.max_norm
                + (g * (1.0 + u) + u) * s.max_decoded_norm)
            + slop;
        Some(slack_of(b))
    }

    /// Puts the scaled query `q'_d = q_d·s_d` (zero-padded) in `out` for the screen scan.
    pub(super) fn prepare_screen_query(&self, query: &[f32], out: &mut TopK) {
        let Some(s) = self.screen.as_ref() else {
            return self.prepare_query(query, out);
        };
        out.query.clear();
        out.query
            .extend(query.iter().zip(&s.scales).map(|(q, s)| q * s));
        out.query.resize(s.scales.len(), 0.0);
        out.query_bf16.clear();
    }

    /// Group `g`'s values exactly as stored, into `tile` (64 items × `dp`, item-major; zero
    /// for padding), read in storage order.
    fn decode_group(&self, g: usize, tile: &mut [f32]) {
        let dp = padded_dims(self.d);
        let group_len = GROUP_ITEMS * dp;
        let bytes = self.buf.bytes();
        let first = g * group_len;
        match (self.dtype, self.planes.is_some()) {
            (ItemDtype::F32, true) => {
                let (hi, lo) = bytes.split_at(bytes.len() / 2);
                let hi: &[u16] = bytemuck::cast_slice(hi);
                let lo: &[u16] = bytemuck::cast_slice(lo);
                let (hi, lo) = (&hi[first..][..group_len], &lo[first..][..group_len]);
                for_group_slots(dp, true, |slot, item, dim| {
                    let low = u32::from(lo[item * dp + dim]);
                    tile[item * dp + dim] = f32::from_bits((u32::from(hi[slot]) << 16) | low);
                });
            }
            (ItemDtype::F32, false) => {
                let all: &[f32] = bytemuck::cast_slice(bytes);
                let group = &all[first..][..group_len];
                for_group_slots(dp, false, |slot, item, dim| {
                    tile[item * dp + dim] = group[slot];
                });
            }
            (ItemDtype::F16, _) => {
                let all: &[u16] = bytemuck::cast_slice(bytes);
                let group = &all[first..][..group_len];
                for_group_slots(dp, false, |slot, item, dim| {
                    tile[item * dp + dim] = half::f16::from_bits(group[slot]).to_f32();
                });
            }
            (ItemDtype::Bf16, _) => {
                let all: &[u16] = bytemuck::cast_slice(bytes);
                let group = &all[first..][..group_len];
                for_group_slots(dp, true, |slot, item, dim| {
                    tile[item * dp + dim] = f32::from_bits(u32::from(group[slot]) << 16);
                });
            }
        }
    }
}

/// Calls `f(slot, item, dim)` for every slot of one group in storage order (`layout.rs`):
/// `slot` counts from the group's first element, `item` from its first item.
#[inline(always)]
fn for_group_slots(dp: usize, pairs: bool, mut f: impl FnMut(usize, usize, usize)) {
    let mut slot = 0;
    for step in 0..dp / 2 {
        for block in 0..GROUP_BLOCKS {
            for within in 0..STEP_ELEMS {
                let (lane, parity) = match pairs {
                    true => (within / 2, within % 2),
                    false => (within % BLOCK, within / BLOCK),
                };
                f(slot, block * BLOCK + lane, 2 * step + parity);
                slot += 1;
            }
        }
    }
}

/// `1 / s` in f64 (finite for every positive f32), or zero for a zero scale: all codes 0.
fn inverse_scale(s: f32) -> f64 {
    let inv = 1.0 / f64::from(s);
    if inv.is_finite() {
        inv
    } else {
        0.0
    }
}

/// The code of `x` given the inverse scale: nearest (half away from zero), clamped to ±127.
/// Any code keeps the bound valid (the residual is measured), so this only needs to be close.
fn encode(x: f64, inverse: f64) -> i8 {
    let v = (x * inverse).clamp(-f64::from(CODE_MAX), f64::from(CODE_MAX));
    // Truncation after adding ±0.5: one inline conversion, where `round` is a libm call.
    (v + 0.5f64.copysign(v)) as i8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::topk::planes::tests::data as uniform;
    use crate::kernels::topk::topk_reference;
    use crate::kernels::{table_for, Isa};

    fn tables() -> Vec<&'static crate::kernels::KernelTable> {
        Isa::ALL
            .iter()
            .filter(|i| i.is_available())
            .map(|&i| table_for(i).expect("table"))
            .collect()
    }

    /// Integer items whose every column reaches ±127 have scale 1, so codes equal the items
    /// and integer queries score exactly: each ISA's screen kernel, run alone (no slack),
    /// must equal the scalar reference exactly, ties included.
    #[test]
    fn screen_kernel_matches_the_reference_on_exact_codes() {
        for (n, d) in [(1, 1), (17, 3), (64, 16), (1037, 17), (200, 65)] {
            let mut s = (n * 31 + d) as u64 | 1;
            let mut next = |m: u64| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % (2 * m + 1)) as f32 - m as f32
            };
            let mut items: Vec<f32> = (0..n * d).map(|_| next(127)).collect();
            items[..d].fill(127.0);
            let q: Vec<f32> = (0..d).map(|_| next(4)).collect();
            for table in tables() {
                let packed = PackedItems::new(&items, n, d, table).expect("pack");
                let packed = packed.screened().expect("screen");
                let screen = packed.screen.as_ref().expect("screened");
                assert!(screen.scales[..d].iter().all(|&x| x == 1.0));
                for k in [1, n.div_ceil(2), n] {
                    let mut top = TopK::new();
                    top.begin(k, n, &[]).expect("begin");
                    packed.prepare_screen_query(&q, &mut top);
                    (table.topk.screen_i8.f)(&packed, 0..packed.groups, &mut top);
                    top.finish();
                    let (idx, sc) = topk_reference(&items, n, d, &q, k, &[]);
                    let ctx = format!("{} n={n} d={d} k={k}", table.isa);
                    assert_eq!(top.indices(), &idx[..], "{ctx}");
                    assert_eq!(top.scores(), &sc[..], "{ctx}");
                }
            }
        }
    }

    /// The screen must really do the work on ordinary data (few candidates rescored), or
    /// "screened equals plain" tests could pass with a screen that keeps everything.
    #[test]
    fn ordinary_queries_rescore_few_candidates() {
        let (n, d, k) = (20_000, 16, 10);
        let (items, q) = (uniform(n, d, 7), uniform(1, d, 99));
        let b16: Vec<half::bf16> = items.iter().map(|&x| half::bf16::from_f32(x)).collect();
        for table in tables() {
            let f32_planes = PackedItems::new_f32_planes(&items, n, d, table).expect("pack");
            let bf16 = PackedItems::new(&b16, n, d, table).expect("pack");
            for packed in [f32_planes, bf16] {
                let packed = packed.screened().expect("screen");
                assert_eq!(
                    packed.packed_bytes(),
                    n.div_ceil(GROUP_ITEMS) * GROUP_ITEMS * d
                );
                let mut out = TopK::new();
                packed.search(&q, k, &mut out).expect("search");
                let rescored = out.rescore.as_ref().expect("rescored").ids.len();
                assert!((k..n / 100).contains(&rescored), "{rescored} rescored");
            }
        }
    }

    #[test]
    fn group_slots_agree_with_element_offsets() {
        for (dp, pairs) in [(2, false), (2, true), (18, false), (66, true)] {
            let mut seen = 0;
            for_group_slots(dp, pairs, |slot, item, dim| {
                let at = crate::kernels::topk::layout::element_offset(item, dim, dp, pairs);
                assert_eq!(slot, at, "dp={dp} pairs={pairs}");
                seen += 1;
            });
            assert_eq!(seen, GROUP_ITEMS * dp);
        }
    }

    #[test]
    fn codes_round_to_nearest_and_clamp() {
        assert_eq!(encode(0.0, inverse_scale(0.0)), 0);
        assert_eq!(encode(5.0, inverse_scale(0.0)), 0);
        assert_eq!(encode(5.0, inverse_scale(f32::from_bits(1))), 127);
        assert_eq!(encode(1.0, 127.0), 127);
        assert_eq!(encode(-1.0, 127.0), -127);
        // A scale rounded down can put the column maximum just above 127 steps.
        assert_eq!(encode(2.0, 127.0), 127);
        assert_eq!(encode(0.26, 10.0), 3);
        assert_eq!(encode(-0.24, 10.0), -2);
        assert_eq!(encode(-0.25, 10.0), -3);
        assert_eq!(encode(-0.0, 10.0), 0);
    }
}
