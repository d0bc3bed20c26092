//! The one generic scan body, instantiated per ISA through [`Lanes`] and per dtype through
//! [`Elem`]. ISA files only implement the 16-lane vector ops and wrap the bodies in
//! `#[target_feature]` functions; the loops, the tile shapes and the tail handling live here.
//!
//! Every (item, query) score is computed by the same op sequence wherever the item sits (block
//! position, group, single or batch path): `even = Σ fma over even dims`, `odd = Σ fma over odd
//! dims`, `score = even + odd`, dimensions in ascending order. Two bit-identical item rows
//! therefore get bit-identical scores, and the tie rule (lower index wins) is exact.

use super::layout::{BLOCK, GROUP_BLOCKS, GROUP_ITEMS, STEP_ELEMS};
use super::packed::PackedItems;
use super::result::TopK;

/// 16 f32 lanes: one 512-bit vector, or two 256-bit halves. Methods are `unsafe` because ISA
/// implementations use intrinsics the caller's `#[target_feature]` must enable; pointer
/// arguments must be valid for the bytes read (alignment as stated).
pub(super) trait Lanes {
    /// The 16-lane vector.
    type V: Copy;
    /// All zeros.
    unsafe fn zero() -> Self::V;
    /// `x` in every lane.
    unsafe fn splat(x: f32) -> Self::V;
    /// `a * b + c` (fused where the ISA has FMA).
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a + b`.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// 16 f32 from a 64-byte aligned pointer.
    unsafe fn load_f32(p: *const f32) -> Self::V;
    /// 16 f16 (bits) from a 32-byte aligned pointer, widened.
    unsafe fn load_f16(p: *const u16) -> Self::V;
    /// 16 bf16 pairs from a 64-byte aligned pointer, widened to (even dims, odd dims).
    unsafe fn load_bf16_pairs(p: *const u32) -> (Self::V, Self::V);
    /// 16 i8 from a 16-byte aligned pointer, converted (exactly) to f32.
    unsafe fn load_i8(p: *const i8) -> Self::V;
    /// Bit i set where lane i of `s` is NOT `<= t` (greater, or either is NaN).
    unsafe fn above(s: Self::V, t: Self::V) -> u32;
    /// Stores 16 lanes.
    unsafe fn store(p: *mut f32, v: Self::V);
}

/// How one block-step of a dtype is read: `load(p)` returns (even dim, odd dim) of 16 items
/// from the block-step at `p` (64-byte aligned for f32 and bf16, 32-byte for f16).
pub(super) trait Elem {
    /// Stored element type.
    type T;
    /// Widens one block-step.
    unsafe fn load<L: Lanes>(p: *const Self::T) -> (L::V, L::V);
    /// The bytes of `items` holding this element type in the scan layout.
    fn bytes(items: &PackedItems) -> &[u8] {
        items.packed_bytes_slice()
    }
}

/// f32 items: two dimension vectors.
pub(super) struct F32;
/// f16 items: two dimension vectors, widened.
pub(super) struct F16;
/// bf16 items: 16 (even, odd) pairs, widened by shift and mask.
pub(super) struct Bf16;
/// The 8-bit screen of screened items (`screen.rs`): two dimension vectors of i8 codes.
pub(super) struct I8;

impl Elem for F32 {
    type T = f32;
    #[inline(always)]
    unsafe fn load<L: Lanes>(p: *const f32) -> (L::V, L::V) {
        // SAFETY: the caller passes a whole block-step (32 elements).
        unsafe { (L::load_f32(p), L::load_f32(p.add(BLOCK))) }
    }
}

impl Elem for F16 {
    type T = u16;
    #[inline(always)]
    unsafe fn load<L: Lanes>(p: *const u16) -> (L::V, L::V) {
        // SAFETY: the caller passes a whole block-step (32 elements).
        unsafe { (L::load_f16(p), L::load_f16(p.add(BLOCK))) }
    }
}

impl Elem for Bf16 {
    type T = u16;
    #[inline(always)]
    unsafe fn load<L: Lanes>(p: *const u16) -> (L::V, L::V) {
        // SAFETY: the caller passes a whole block-step (32 elements = 16 u32 pairs).
        unsafe { L::load_bf16_pairs(p.cast::<u32>()) }
    }
}

impl Elem for I8 {
    type T = i8;
    #[inline(always)]
    unsafe fn load<L: Lanes>(p: *const i8) -> (L::V, L::V) {
        // SAFETY: the caller passes a whole block-step (32 codes, 32-byte aligned).
        unsafe { (L::load_i8(p), L::load_i8(p.add(BLOCK))) }
    }
    fn bytes(items: &PackedItems) -> &[u8] {
        items.screen_codes()
    }
}

/// The packed matrix, or a range of its groups, as the kernels see it: a pointer, group count
/// and steps per group. Group `g` of the view is group `first + g` of the matrix.
pub(super) struct View<T> {
    /// First element of the view's first group, 64-byte aligned.
    pub(super) data: *const T,
    /// Number of 64-item groups in the view.
    pub(super) groups: usize,
    /// The matrix's index of the view's first group.
    pub(super) first: usize,
    /// Dimension pairs.
    pub(super) steps: usize,
}

impl<T> View<T> {
    /// Checks the buffer size against the shape: every kernel's pointer arithmetic rests on it.
    /// `bytes` are the elements of `items` the kernel reads (the scan matrix or its screen).
    pub(super) fn new(bytes: &[u8], items: &PackedItems) -> Self {
        let steps = items.padded_dims() / 2;
        let groups = items.groups();
        // The invariant every pointer offset below relies on.
        assert_eq!(
            bytes.len(),
            groups * steps * GROUP_BLOCKS * STEP_ELEMS * std::mem::size_of::<T>()
        );
        assert_eq!(bytes.as_ptr() as usize % 64, 0);
        View {
            data: bytes.as_ptr().cast::<T>(),
            groups,
            first: 0,
            steps,
        }
    }

    /// The groups `range` of `items` (panics unless `range` lies inside `0..groups`).
    pub(super) fn range(bytes: &[u8], items: &PackedItems, range: std::ops::Range<usize>) -> Self {
        let whole = Self::new(bytes, items);
        assert!(range.start <= range.end && range.end <= whole.groups);
        View {
            // In bounds: range.start ≤ groups, and each group is group_elems elements.
            data: whole.data.wrapping_add(range.start * whole.group_elems()),
            groups: range.end - range.start,
            first: range.start,
            steps: whole.steps,
        }
    }

    /// The matrix index of the first item of the view's group `g`.
    pub(super) fn item(&self, g: usize) -> usize {
        (self.first + g) * GROUP_ITEMS
    }

    /// Elements per group.
    pub(super) fn group_elems(&self) -> usize {
        self.steps * GROUP_BLOCKS * STEP_ELEMS
    }
}

/// How far ahead of the scan the single-query bodies prefetch. Measured on a quiet Xeon of this
/// family (1M×64, medians of 9, ±5% run to run): bf16 12.5–19 ms without prefetch, 9.6–10.4
/// ms at 4–16 KiB ahead (best at 12–16 KiB); f16 13.4 → 9.8 ms; f32 unchanged at 17–18 ms, the
/// probe's read bandwidth. The hardware streamer alone keeps too few lines in flight when each
/// line costs so little work.
pub(super) const PREFETCH_AHEAD: usize = 12 << 10;

/// Prefetches the line at `p` into all cache levels (T0: `prefetchnta` measured 1.7–2.5× slower
/// for f32 here). Never faults, so `p` may point past the buffer.
#[inline(always)]
pub(super) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that never faults, whatever the address; SSE is baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Prefetches the `bytes` at `p + ahead`, one line at a time (`p` 64-byte aligned). The batch
/// scans call it from the first query tile of a chunk with `ahead` = the chunk's size, so the
/// next chunk arrives while this one is scored: paired against no prefetch on 1M×64 f32,
/// batch 64, 0.92–0.95× the time (the hardware streamer alone leaves the first tile waiting
/// on DRAM).
#[inline(always)]
fn prefetch_ahead(p: *const u8, ahead: usize, bytes: usize) {
    for line in (0..bytes).step_by(64) {
        prefetch(p.wrapping_add(ahead + line));
    }
}

/// Stores the flagged blocks' scores and offers them, in ascending item order.
#[inline(always)]
pub(super) unsafe fn offer_blocks<L: Lanes, const B: usize>(
    top: &mut TopK,
    base: usize,
    scores: &[L::V; B],
    hits: &[u32; B],
) {
    let mut buf = [0.0f32; BLOCK];
    for b in 0..B {
        if hits[b] != 0 {
            // SAFETY: `buf` holds 16 f32.
            unsafe { L::store(buf.as_mut_ptr(), scores[b]) };
            top.offer(base + b * BLOCK, &buf, hits[b]);
        }
    }
}

/// One query over all items: each group's four blocks are scored together (eight independent
/// FMA chains), compared against the threshold, and only a hit leaves the loop.
///
/// # Safety
/// The CPU must support `L`'s instructions; `items` must hold `E::T` elements.
#[inline(always)]
pub(super) unsafe fn scan<L: Lanes, E: Elem>(
    items: &PackedItems,
    groups: std::ops::Range<usize>,
    top: &mut TopK,
) {
    let v = View::<E::T>::range(E::bytes(items), items, groups);
    assert_eq!(top.query.len(), 2 * v.steps);
    let q = top.query.as_ptr();
    let step_bytes = GROUP_BLOCKS * STEP_ELEMS * std::mem::size_of::<E::T>();
    // SAFETY: lanes ops need only the target features the caller guarantees.
    let mut thr = unsafe { L::splat(top.threshold()) };
    // LOOP 1: groups of 64 items, in index order.
    for g in 0..v.groups {
        // SAFETY: g < groups, so the group lies inside the checked buffer.
        let gp = unsafe { v.data.add(g * v.group_elems()) };
        // SAFETY: as above; all reads below stay inside this group.
        unsafe {
            let mut even = [L::zero(); GROUP_BLOCKS];
            let mut odd = [L::zero(); GROUP_BLOCKS];
            // LOOP 2: steps (dimension pairs); the group is read front to back.
            for s in 0..v.steps {
                let qe = L::splat(*q.add(2 * s));
                let qo = L::splat(*q.add(2 * s + 1));
                let sp = gp.add(s * GROUP_BLOCKS * STEP_ELEMS);
                // One prefetch per line of this step, PREFETCH_AHEAD bytes on.
                for line in (0..step_bytes).step_by(64) {
                    prefetch(sp.cast::<u8>().wrapping_add(PREFETCH_AHEAD + line));
                }
                // LOOP 3: the group's blocks, unrolled.
                for b in 0..GROUP_BLOCKS {
                    let (ve, vo) = E::load::<L>(sp.add(b * STEP_ELEMS));
                    even[b] = L::fma(ve, qe, even[b]);
                    odd[b] = L::fma(vo, qo, odd[b]);
                }
            }
            let mut scores = [L::zero(); GROUP_BLOCKS];
            let mut hits = [0u32; GROUP_BLOCKS];
            let mut any = 0;
            for b in 0..GROUP_BLOCKS {
                scores[b] = L::add(even[b], odd[b]);
                hits[b] = L::above(scores[b], thr);
                any |= hits[b];
            }
            if any != 0 {
                offer_blocks::<L, GROUP_BLOCKS>(top, v.item(g), &scores, &hits);
                thr = L::splat(top.threshold());
            }
        }
    }
}

/// Bytes of items per chunk of the batch scan: every query tile re-reads the chunk, so it must
/// stay in L2 (2 MiB) while the next one streams in. Measured on 1M×64, batch 64, quiet Xeon of
/// this family: 256 KiB 1.29–1.30 ms/query (f32), 512 KiB 1.30–1.35, 1 MiB 1.37–1.47, 2 MiB
/// 1.51–1.59.
const BATCH_CHUNK_BYTES: usize = 256 << 10;

/// A batch of queries: the matrix is read once in L2-sized chunks, and each chunk is scored
/// against tiles of `Q` queries with `BB` blocks at a time held in registers
/// (`2 × BB × Q` accumulators), so each item load feeds `2 × Q` FMAs. Serves AVX2, the portable
/// path, and AVX-512 above 256 dimensions; AVX-512 otherwise runs [`scan_batch_qpacked`].
/// (AVX-512, before that body existed: 2×6 measured best, 1.29 ms/query, against 1×8, 1×12,
/// 2×4, 2×7 and 4×3 at 1.38–1.72; those 1×Q tiles broadcast from one pointer per query, so no
/// broadcast folded into its FMA.)
///
/// # Safety
/// As [`scan`]; `GROUP_BLOCKS` must be a multiple of `BB`.
#[inline(always)]
pub(super) unsafe fn scan_batch<L: Lanes, E: Elem, const BB: usize, const Q: usize>(
    items: &PackedItems,
    groups: std::ops::Range<usize>,
    tops: &mut [TopK],
) {
    assert_eq!(GROUP_BLOCKS % BB, 0);
    let v = View::<E::T>::range(E::bytes(items), items, groups);
    let group_bytes = v.group_elems() * std::mem::size_of::<E::T>();
    let chunk_groups = (BATCH_CHUNK_BYTES / group_bytes.max(1)).max(1);
    // LOOP 1: items in L2-sized chunks of whole groups.
    let mut g0 = 0;
    while g0 < v.groups {
        let g1 = (g0 + chunk_groups).min(v.groups);
        // LOOP 2: queries in tiles of Q (a short last tile repeats its last query's pointer
        // and drops those scores).
        for (ti, tile) in tops.chunks_mut(Q).enumerate() {
            // The first tile of a chunk fetches the next chunk.
            let pf = ti == 0;
            for t in tile.iter() {
                assert_eq!(t.query.len(), 2 * v.steps);
            }
            let last = tile.len() - 1;
            let qs: [*const f32; Q] = std::array::from_fn(|j| tile[j.min(last)].query.as_ptr());
            // SAFETY: chunk groups lie inside the buffer; query pointers hold 2·steps floats.
            unsafe { batch_tile::<L, E, BB, Q>(&v, g0, g1, &qs, tile, pf) };
        }
        g0 = g1;
    }
}

/// Most dimension pairs [`scan_batch_qpacked`] packs on the stack (dimensions ≤ 256); wider
/// items take [`scan_batch`].
#[cfg(target_arch = "x86_64")]
pub(super) const QPACKED_MAX_STEPS: usize = 128;

/// Largest query tile of [`scan_batch_qpacked`].
#[cfg(target_arch = "x86_64")]
const QPACKED_MAX_Q: usize = 12;

/// A query tile packed step-major: for step `s`, the `Q` even-dimension values, then the `Q`
/// odd ones (`2 · Q` floats per step), so one bumped pointer plus constant offsets reaches every
/// broadcast.
#[cfg(target_arch = "x86_64")]
#[repr(C, align(64))]
struct QPack([f32; 2 * QPACKED_MAX_Q * QPACKED_MAX_STEPS]);

/// A batch of queries on 32-register ISAs: like [`scan_batch`], but one block at a time against
/// tiles of up to 12 queries packed step-major ([`QPack`]), so every query value feeds exactly
/// one FMA and LLVM folds its broadcast into the FMA (`vfmadd231ps m32{1to16}`). Per step: one
/// item load (two vectors) and `2 · Q` fused FMAs, against [`scan_batch`]'s four item loads,
/// twelve separate broadcasts and 24 FMAs: about 1.1 instead of 1.7 front-end uops per FMA.
/// The op sequence per score is the one every body uses (see the module comment).
/// Measured on 1M×64 f32, batch 64, 15 interleaved rounds in one process: 0.93–1.03× the time
/// of [`scan_batch`] alone, 0.79–0.86× with both bodies' next-chunk prefetch (against
/// 0.92–0.95× for `scan_batch` with it).
///
/// # Safety
/// As [`scan`]; `items` has at most [`QPACKED_MAX_STEPS`] steps.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn scan_batch_qpacked<L: Lanes, E: Elem>(
    items: &PackedItems,
    groups: std::ops::Range<usize>,
    tops: &mut [TopK],
) {
    let v = View::<E::T>::range(E::bytes(items), items, groups);
    assert!(v.steps <= QPACKED_MAX_STEPS);
    for t in tops.iter() {
        assert_eq!(t.query.len(), 2 * v.steps);
    }
    let group_bytes = v.group_elems() * std::mem::size_of::<E::T>();
    let chunk_groups = (BATCH_CHUNK_BYTES / group_bytes.max(1)).max(1);
    let mut pack = QPack([0.0; 2 * QPACKED_MAX_Q * QPACKED_MAX_STEPS]);
    // LOOP 1: items in L2-sized chunks of whole groups.
    let mut g0 = 0;
    while g0 < v.groups {
        let g1 = (g0 + chunk_groups).min(v.groups);
        // LOOP 2: full tiles of 12 queries, then the rest as one tile of 4, 8 or 12 (a short
        // tile repeats its last query and drops those scores).
        for (ti, tile) in tops.chunks_mut(QPACKED_MAX_Q).enumerate() {
            // SAFETY: (all arms) chunk groups lie inside the buffer, the pack holds
            // 2 · Q · steps floats for Q ≤ QPACKED_MAX_Q, steps ≤ QPACKED_MAX_STEPS (asserted).
            unsafe {
                // The first tile of a chunk fetches the next chunk.
                let pf = ti == 0;
                match tile.len() {
                    1..=4 => qpacked_tile::<L, E, 4>(&v, g0, g1, tile, &mut pack, pf),
                    5..=8 => qpacked_tile::<L, E, 8>(&v, g0, g1, tile, &mut pack, pf),
                    _ => qpacked_tile::<L, E, 12>(&v, g0, g1, tile, &mut pack, pf),
                }
            }
        }
        g0 = g1;
    }
}

/// Packs `tile` (padded to `Q` with its last query) into `pack`, then scores groups `g0..g1`;
/// with `pf`, also prefetches the next chunk (see [`prefetch_ahead`]).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn qpacked_tile<L: Lanes, E: Elem, const Q: usize>(
    v: &View<E::T>,
    g0: usize,
    g1: usize,
    tile: &mut [TopK],
    pack: &mut QPack,
    pf: bool,
) {
    let last = tile.len() - 1;
    for s in 0..v.steps {
        for j in 0..Q {
            let q = &tile[j.min(last)].query;
            pack.0[s * 2 * Q + j] = q[2 * s];
            pack.0[s * 2 * Q + Q + j] = q[2 * s + 1];
        }
    }
    let mut thr = [0.0f32; Q];
    for (j, t) in tile.iter().enumerate() {
        thr[j] = t.threshold();
    }
    let qp0 = pack.0.as_ptr();
    let ahead = (g1 - g0) * v.group_elems() * size_of::<E::T>();
    // SAFETY: (whole body) g < g1 <= groups keeps every item read inside the buffer; the pack
    // holds 2 · Q · steps floats; lanes ops need only the caller's target features.
    unsafe {
        // LOOP 3: groups, then the group's blocks one at a time.
        for g in g0..g1 {
            let gp = v.data.add(g * v.group_elems());
            for b in 0..GROUP_BLOCKS {
                let mut even = [L::zero(); Q];
                let mut odd = [L::zero(); Q];
                // Bumped pointers: a `[base + index]` broadcast would not fold into its FMA.
                let (mut sp, mut qp) = (gp.add(b * STEP_ELEMS), qp0);
                // LOOP 4: steps; one block load feeds 2 · Q FMAs.
                for _ in 0..v.steps {
                    if pf {
                        prefetch_ahead(sp.cast(), ahead, STEP_ELEMS * size_of::<E::T>());
                    }
                    let (ve, vo) = E::load::<L>(sp);
                    for j in 0..Q {
                        even[j] = L::fma(ve, L::splat(*qp.add(j)), even[j]);
                        odd[j] = L::fma(vo, L::splat(*qp.add(Q + j)), odd[j]);
                    }
                    sp = sp.add(GROUP_BLOCKS * STEP_ELEMS);
                    qp = qp.add(2 * Q);
                }
                let base = v.item(g) + b * BLOCK;
                for (j, t) in tile.iter_mut().enumerate() {
                    let score = L::add(even[j], odd[j]);
                    let hits = L::above(score, L::splat(thr[j]));
                    if hits != 0 {
                        offer_blocks::<L, 1>(t, base, &[score], &[hits]);
                        thr[j] = t.threshold();
                    }
                }
            }
        }
    }
}

/// Groups `g0..g1` against one tile of queries; with `pf`, also prefetches the next chunk (see
/// [`prefetch_ahead`]).
#[inline(always)]
unsafe fn batch_tile<L: Lanes, E: Elem, const BB: usize, const Q: usize>(
    v: &View<E::T>,
    g0: usize,
    g1: usize,
    qs: &[*const f32; Q],
    tile: &mut [TopK],
    pf: bool,
) {
    let mut thr = [0.0f32; Q];
    for (j, t) in tile.iter().enumerate() {
        thr[j] = t.threshold();
    }
    let ahead = (g1 - g0) * v.group_elems() * size_of::<E::T>();
    // SAFETY: (whole body) g < g1 <= groups keeps every read inside the buffer; each query
    // pointer holds 2·steps floats; lanes ops need only the caller's target features.
    unsafe {
        // LOOP 3: groups, then the group's blocks BB at a time.
        for g in g0..g1 {
            let gp = v.data.add(g * v.group_elems());
            for b0 in (0..GROUP_BLOCKS).step_by(BB) {
                let mut even = [[L::zero(); BB]; Q];
                let mut odd = [[L::zero(); BB]; Q];
                // LOOP 4: steps; one load of BB blocks feeds 2·BB·Q FMAs.
                for s in 0..v.steps {
                    let sp = gp.add(s * GROUP_BLOCKS * STEP_ELEMS + b0 * STEP_ELEMS);
                    if pf {
                        prefetch_ahead(sp.cast(), ahead, BB * STEP_ELEMS * size_of::<E::T>());
                    }
                    let mut ve = [L::zero(); BB];
                    let mut vo = [L::zero(); BB];
                    for b in 0..BB {
                        (ve[b], vo[b]) = E::load::<L>(sp.add(b * STEP_ELEMS));
                    }
                    for j in 0..Q {
                        let qe = L::splat(*qs[j].add(2 * s));
                        let qo = L::splat(*qs[j].add(2 * s + 1));
                        for b in 0..BB {
                            even[j][b] = L::fma(ve[b], qe, even[j][b]);
                            odd[j][b] = L::fma(vo[b], qo, odd[j][b]);
                        }
                    }
                }
                let base = v.item(g) + b0 * BLOCK;
                for (j, t) in tile.iter_mut().enumerate() {
                    let t_v = L::splat(thr[j]);
                    let mut scores = [L::zero(); BB];
                    let mut hits = [0u32; BB];
                    let mut any = 0;
                    for b in 0..BB {
                        scores[b] = L::add(even[j][b], odd[j][b]);
                        hits[b] = L::above(scores[b], t_v);
                        any |= hits[b];
                    }
                    if any != 0 {
                        offer_blocks::<L, BB>(t, base, &scores, &hits);
                        thr[j] = t.threshold();
                    }
                }
            }
        }
    }
}
