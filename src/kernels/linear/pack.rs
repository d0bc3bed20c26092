//! Packing `[out, in]` weights into the panels the kernels read, once, at load.

/// Bytes every packed buffer starts on: one cache line, so a panel row of 16 f32 (or 32 halves)
/// never straddles two lines and the GEMV stream is line-aligned.
pub(crate) const ALIGN_BYTES: usize = 64;

/// A zero-initialised buffer whose first element sits on a 64-byte boundary, without `unsafe`:
/// it over-allocates by one line and starts at the aligned offset (a `Vec`'s heap block does not
/// move when the `Vec` does).
pub(crate) struct AlignedVec<T> {
    buf: Vec<T>,
    start: usize,
    len: usize,
}

impl<T: Copy + Default> AlignedVec<T> {
    /// `len` default (zero) values.
    pub(crate) fn zeroed(len: usize) -> Self {
        let size = std::mem::size_of::<T>().max(1);
        let slack = ALIGN_BYTES / size;
        let buf = vec![T::default(); len + slack];
        let start = buf.as_ptr().align_offset(ALIGN_BYTES).min(slack);
        AlignedVec { buf, start, len }
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        &self.buf[self.start..self.start + self.len]
    }

    /// The first element, without the slice's bounds check (for the per-call kernel entries).
    pub(crate) fn as_ptr(&self) -> *const T {
        self.buf.as_ptr().wrapping_add(self.start)
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

/// Packs row-major `w[n][k]` into `ceil(n / nr)` panels of `padded_k × nr` elements. Within a
/// panel, element `(kk, j)` (column `j` of the panel) sits at
/// `(kk / kstep) · kstep · nr + j · kstep + kk % kstep`: k-major for `kstep = 1`, pairs of `k`
/// interleaved per column for `kstep = 2`. Padding columns and the padding `k` stay zero, so
/// the kernels can run over them without effect.
pub(crate) fn pack_panels<T: Copy + Default>(
    w: &[T],
    n: usize,
    k: usize,
    nr: usize,
    kstep: usize,
) -> AlignedVec<T> {
    debug_assert_eq!(w.len(), n * k);
    let panel_len = super::padded_k(k, kstep) * nr;
    let n_panels = n.div_ceil(nr);
    let mut packed = AlignedVec::zeroed(n_panels * panel_len);
    let dst = packed.as_mut_slice();
    for (col, row) in w.chunks_exact(k.max(1)).take(n).enumerate() {
        let (p, j) = (col / nr, col % nr);
        let panel = &mut dst[p * panel_len..(p + 1) * panel_len];
        for (kk, &v) in row.iter().enumerate().take(k) {
            panel[(kk / kstep) * kstep * nr + j * kstep + kk % kstep] = v;
        }
    }
    packed
}

/// Bias copied into a zero-padded, aligned buffer of `ceil(n / nr) · nr` (all zeros if absent).
pub(crate) fn pad_bias(bias: Option<&[f32]>, n: usize, nr: usize) -> AlignedVec<f32> {
    let mut padded = AlignedVec::zeroed(n.div_ceil(nr) * nr);
    if let Some(b) = bias {
        padded.as_mut_slice()[..n].copy_from_slice(&b[..n]);
    }
    padded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_vec_starts_on_a_line() {
        for len in [0, 1, 17, 1000] {
            let v = AlignedVec::<u16>::zeroed(len);
            assert_eq!(v.as_slice().len(), len);
            assert_eq!(v.as_slice().as_ptr() as usize % ALIGN_BYTES, 0);
        }
    }

    #[test]
    fn pairs_interleave_k_per_column() {
        // n = 3, k = 3, nr = 2, kstep = 2: two panels of 4 × 2.
        let w: Vec<u32> = (0..9).collect(); // w[c][kk] = 3c + kk
        let p = pack_panels(&w, 3, 3, 2, 2);
        assert_eq!(
            p.as_slice(),
            &[0, 1, 3, 4, 2, 0, 5, 0, 6, 7, 0, 0, 8, 0, 0, 0]
        );
        let p = pack_panels(&w, 3, 3, 2, 1);
        assert_eq!(p.as_slice(), &[0, 3, 1, 4, 2, 5, 6, 0, 7, 0, 8, 0]);
    }

    #[test]
    fn zero_k_packs_nothing() {
        let p = pack_panels::<f32>(&[], 5, 0, 4, 1);
        assert!(p.as_slice().is_empty());
    }
}
