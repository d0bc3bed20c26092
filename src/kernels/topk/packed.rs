//! [`PackedItems`]: the item matrix packed once for the scan, and the checked search entries.

use half::{bf16, f16};

use super::layout::{element_offset, padded_dims, GROUP_ITEMS};
use super::planes::PlaneBounds;
use super::result::TopK;
use super::screen::Screen;
use super::storage::AlignedBuf;
use crate::error::{Error, Result};
use crate::kernels::dispatch::KernelTable;

/// Element type of a packed item matrix (scores are always f32).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemDtype {
    /// 32-bit float.
    F32,
    /// IEEE half precision.
    F16,
    /// bfloat16.
    Bf16,
}

impl ItemDtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            ItemDtype::F32 => 4,
            ItemDtype::F16 | ItemDtype::Bf16 => 2,
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}

/// An element type items can be given in: `f32`, `half::f16` or `half::bf16`. The packed
/// matrix keeps this type (16-bit items stay 16-bit).
pub trait ItemElement: sealed::Sealed + Copy {
    /// The matching [`ItemDtype`].
    const DTYPE: ItemDtype;
    /// The stored representation (`f32`, or the 16 bits).
    #[doc(hidden)]
    type Stored: bytemuck::Pod;
    /// This value as stored.
    #[doc(hidden)]
    fn stored(self) -> Self::Stored;
    /// This value widened to f32 (exactly).
    fn to_f32(self) -> f32;
}

impl ItemElement for f32 {
    const DTYPE: ItemDtype = ItemDtype::F32;
    type Stored = f32;
    fn stored(self) -> f32 {
        self
    }
    fn to_f32(self) -> f32 {
        self
    }
}

impl ItemElement for f16 {
    const DTYPE: ItemDtype = ItemDtype::F16;
    type Stored = u16;
    fn stored(self) -> u16 {
        self.to_bits()
    }
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

impl ItemElement for bf16 {
    const DTYPE: ItemDtype = ItemDtype::Bf16;
    type Stored = u16;
    fn stored(self) -> u16 {
        self.to_bits()
    }
    fn to_f32(self) -> f32 {
        bf16::to_f32(self)
    }
}

/// An N×D item matrix packed for [`search`](Self::search) (layout: see the `layout` module),
/// 64-byte aligned, in huge pages when large. Immutable and `Send + Sync`: one index serves
/// many threads, each with its own [`TopK`].
pub struct PackedItems {
    pub(super) buf: AlignedBuf,
    pub(super) n: usize,
    pub(super) d: usize,
    pub(super) groups: usize,
    pub(super) dtype: ItemDtype,
    pub(super) kernels: &'static KernelTable,
    /// f32 items stored as a bf16 high plane plus low bits (`planes.rs`), with the norms
    /// that bound the high plane's score error.
    pub(super) planes: Option<PlaneBounds>,
    /// The 8-bit screen single-query searches run through first (`screen.rs`).
    pub(super) screen: Option<Box<Screen>>,
}

impl std::fmt::Debug for PackedItems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedItems")
            .field("n", &self.n)
            .field("d", &self.d)
            .field("dtype", &self.dtype)
            .field("isa", &self.kernels.isa)
            .field("planes", &self.planes.is_some())
            .field("screen", &self.screen.is_some())
            .finish()
    }
}

impl PackedItems {
    /// Packs `items` (row-major, `n` rows of `d`) for scans with `kernels`.
    ///
    /// Errors: `items.len() != n·d` ([`Error::BufferLength`]); `d == 0`, `n > u32::MAX` or a
    /// size that overflows ([`Error::InvalidArgument`]).
    pub fn new<T: ItemElement>(
        items: &[T],
        n: usize,
        d: usize,
        kernels: &'static KernelTable,
    ) -> Result<Self> {
        check_shape(items.len(), n, d)?;
        let mut packed = Self::zeroed(n, d, T::DTYPE, 1, kernels)?;
        pack(
            items,
            d,
            T::DTYPE == ItemDtype::Bf16,
            packed.buf.bytes_mut(),
        );
        Ok(packed)
    }

    /// An all-zero matrix of `n` items (padded to whole groups) with room for `planes` planes
    /// of `dtype` elements; the shape must be checked already.
    pub(super) fn zeroed(
        n: usize,
        d: usize,
        dtype: ItemDtype,
        planes: usize,
        kernels: &'static KernelTable,
    ) -> Result<Self> {
        let bytes = plane_bytes(n, d, dtype)?
            .checked_mul(planes)
            .ok_or_else(|| invalid("n", format!("{n} x {d} overflows")))?;
        Ok(PackedItems {
            buf: AlignedBuf::zeroed(bytes)?,
            n,
            d,
            groups: n.div_ceil(GROUP_ITEMS),
            dtype,
            kernels,
            planes: None,
            screen: None,
        })
    }

    /// Reshapes to `n` zeroed items, reusing the buffer when it is large enough.
    pub(super) fn reshape_zeroed(&mut self, n: usize) -> Result<()> {
        let bytes = plane_bytes(n, self.d, self.dtype)?;
        self.buf.resize_zeroed(bytes)?;
        self.n = n;
        self.groups = n.div_ceil(GROUP_ITEMS);
        Ok(())
    }

    /// Number of items.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Dimensions per item.
    pub fn d(&self) -> usize {
        self.d
    }

    /// Element type.
    pub fn dtype(&self) -> ItemDtype {
        self.dtype
    }

    /// Bytes a single-query scan streams, padding included: the packed matrix; for
    /// [`new_f32_planes`](Self::new_f32_planes), the high plane only; for a
    /// [`screened`](Self::screened) matrix, the screen's codes.
    pub fn packed_bytes(&self) -> usize {
        match &self.screen {
            Some(_) => self.screen_codes().len(),
            None => self.packed_bytes_slice().len(),
        }
    }

    /// Whether this f32 matrix is stored as planes ([`new_f32_planes`](Self::new_f32_planes)).
    pub fn has_planes(&self) -> bool {
        self.planes.is_some()
    }

    /// The kernel table scans run with.
    pub fn kernels(&self) -> &'static KernelTable {
        self.kernels
    }

    /// The k best items for `query` (length d) by dot product, into `out`, best first; ties go
    /// to the lower index and NaN scores rank below every number.
    ///
    /// Errors: `k == 0` or `k > n` ([`Error::InvalidArgument`]); wrong query length
    /// ([`Error::BufferLength`]).
    pub fn search(&self, query: &[f32], k: usize, out: &mut TopK) -> Result<()> {
        self.search_excluding(query, k, &[], out)
    }

    /// As [`search`](Self::search), skipping the items in `exclude` (sorted ascending; indices
    /// ≥ n are ignored). Returns fewer than k results when fewer than k items are left.
    pub fn search_excluding(
        &self,
        query: &[f32],
        k: usize,
        exclude: &[u32],
        out: &mut TopK,
    ) -> Result<()> {
        // The split scan with no helpers: one range, on this thread.
        self.search_excluding_split(query, k, exclude, out, &mut [])
    }

    /// The k best items for each of `nq` queries (`queries` is row-major `nq × d`), into
    /// `outs[i]`. Each item block is loaded once per tile of queries, so a batch costs far less
    /// than `nq` single searches. Errors as [`search`](Self::search), plus
    /// [`Error::BufferLength`] when `outs.len() != nq`.
    pub fn search_batch(
        &self,
        queries: &[f32],
        nq: usize,
        k: usize,
        outs: &mut [TopK],
    ) -> Result<()> {
        self.search_batch_excluding(queries, nq, k, &[], outs)
    }

    /// As [`search_batch`](Self::search_batch) with one sorted exclusion list per query
    /// (`excludes.len() == nq`), or none at all (`excludes` empty).
    pub fn search_batch_excluding(
        &self,
        queries: &[f32],
        nq: usize,
        k: usize,
        excludes: &[&[u32]],
        outs: &mut [TopK],
    ) -> Result<()> {
        // The split batch with no helpers: one range, on this thread.
        self.search_batch_excluding_split(queries, nq, k, excludes, outs, &mut [])
    }

    /// Checks a batch call's arguments and readies each query's [`TopK`] for the batch kernel.
    pub(super) fn begin_batch(
        &self,
        queries: &[f32],
        nq: usize,
        k: usize,
        excludes: &[&[u32]],
        outs: &mut [TopK],
    ) -> Result<()> {
        self.check_k(k)?;
        let expected = nq
            .checked_mul(self.d)
            .ok_or_else(|| invalid("nq", format!("{nq} queries overflow")))?;
        check_len("queries", expected, queries.len())?;
        check_len("outs", nq, outs.len())?;
        if !excludes.is_empty() {
            check_len("excludes", nq, excludes.len())?;
        }
        for (i, (out, query)) in outs
            .iter_mut()
            .zip(queries.chunks_exact(self.d))
            .enumerate()
        {
            out.begin(k, self.n, excludes.get(i).copied().unwrap_or(&[]))?;
            self.prepare_query(query, out);
            // A query with no bound scans in exact mode and is rescored whole afterwards.
            if let Some(s) = self.planes_slack(query) {
                out.set_slack(s);
            }
        }
        Ok(())
    }

    /// The packed bytes the scan kernels read: the whole buffer, or the high plane.
    pub(super) fn packed_bytes_slice(&self) -> &[u8] {
        let all = self.buf.bytes();
        match self.planes {
            Some(_) => &all[..all.len() / 2],
            None => all,
        }
    }

    /// The element type the scan kernels read: bf16 for the high plane of f32 planes.
    pub(super) fn scan_dtype(&self) -> ItemDtype {
        match self.planes {
            Some(_) => ItemDtype::Bf16,
            None => self.dtype,
        }
    }

    /// Dimensions padded to even.
    pub(super) fn padded_dims(&self) -> usize {
        padded_dims(self.d)
    }

    /// Number of 64-item groups.
    pub(super) fn groups(&self) -> usize {
        self.groups
    }

    pub(super) fn check_k(&self, k: usize) -> Result<()> {
        if k == 0 || k > self.n {
            return Err(invalid("k", format!("k = {k}, must be in 1..={}", self.n)));
        }
        Ok(())
    }

    /// Copies the query into `out`, zero-padded to `dp`, and for bf16 items also as (hi, lo)
    /// bf16 pairs: `q ≈ hi + lo` to about 16 mantissa bits, for `vdpbf16ps`.
    pub(super) fn prepare_query(&self, query: &[f32], out: &mut TopK) {
        let dp = self.padded_dims();
        out.query.clear();
        out.query.extend_from_slice(query);
        out.query.resize(dp, 0.0);
        out.query_bf16.clear();
        if self.dtype == ItemDtype::Bf16 {
            let (q, qb) = (&out.query, &mut out.query_bf16);
            let pair = |a: u16, b: u16| u32::from(a) | (u32::from(b) << 16);
            qb.extend(
                q.chunks_exact(2)
                    .map(|p| pair(split(p[0]).0, split(p[1]).0)),
            );
            qb.extend(
                q.chunks_exact(2)
                    .map(|p| pair(split(p[0]).1, split(p[1]).1)),
            );
        }
    }
}

/// Splits `x` into bf16 (hi, lo) bits with `hi + lo ≈ x` to within 2^-17·|x|: `hi` rounds to
/// nearest (truncated instead when rounding would overflow to infinity), `lo` rounds the exact
/// remainder. Non-finite `x` gets `lo = 0`, so `inf` stays `inf` instead of `inf - inf = NaN`.
fn split(x: f32) -> (u16, u16) {
    if !x.is_finite() {
        return (bf16::from_f32(x).to_bits(), 0);
    }
    let mut hi = bf16::from_f32(x);
    if !hi.is_finite() {
        hi = bf16::from_bits((x.to_bits() >> 16) as u16);
    }
    (hi.to_bits(), bf16::from_f32(x - hi.to_f32()).to_bits())
}

/// Writes `items` into the zeroed packed buffer.
fn pack<T: ItemElement>(items: &[T], d: usize, pairs: bool, bytes: &mut [u8]) {
    let dst: &mut [T::Stored] = bytemuck::cast_slice_mut(bytes);
    let dp = padded_dims(d);
    for (i, row) in items.chunks_exact(d).enumerate() {
        for (j, &x) in row.iter().enumerate() {
            dst[element_offset(i, j, dp, pairs)] = x.stored();
        }
    }
}

/// Checks `len` items' elements against the shape `n × d` (shared by every packer).
pub(super) fn check_shape(len: usize, n: usize, d: usize) -> Result<()> {
    if d == 0 {
        return Err(invalid("d", "items need at least one dimension".into()));
    }
    if u32::try_from(n).is_err() {
        return Err(invalid(
            "n",
            format!("{n} items exceed the u32 index range"),
        ));
    }
    let expected = n
        .checked_mul(d)
        .ok_or_else(|| invalid("n", format!("{n} x {d} overflows")))?;
    if len != expected {
        return Err(Error::BufferLength {
            op: "topk",
            arg: "items",
            expected,
            actual: len,
        });
    }
    Ok(())
}

/// Bytes of one plane of `n` items of `dtype` (whole groups, padded dimensions).
fn plane_bytes(n: usize, d: usize, dtype: ItemDtype) -> Result<usize> {
    (n.div_ceil(GROUP_ITEMS) * GROUP_ITEMS)
        .checked_mul(padded_dims(d))
        .and_then(|e| e.checked_mul(dtype.size()))
        .ok_or_else(|| invalid("n", format!("{n} x {d} overflows")))
}

pub(super) fn invalid(arg: &'static str, reason: String) -> Error {
    Error::InvalidArgument { arg, reason }
}

pub(super) fn check_len(arg: &'static str, expected: usize, actual: usize) -> Result<()> {
    if expected != actual {
        return Err(Error::BufferLength {
            op: "topk",
            arg,
            expected,
            actual,
        });
    }
    Ok(())
}
