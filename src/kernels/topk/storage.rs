//! 64-byte aligned, zero-initialised storage for packed items, without `unsafe`.
//!
//! Small matrices over-allocate a `Vec<u8>` by one cache line and start at the first aligned
//! byte. Large ones (≥ [`HUGE_MIN`]) are an anonymous mapping advised for transparent huge
//! pages and started on a 2 MiB boundary: a scan touches every page once, and with 4 KiB pages
//! a 256 MB matrix is 65 536 TLB misses and a prefetcher restart at every page.

use memmap2::MmapMut;

use super::layout::ALIGN;
use crate::error::{Error, Result};

/// Smallest buffer placed in a huge-page mapping.
const HUGE_MIN: usize = 4 << 20;
/// Huge-page size the mapping start is aligned to.
const HUGE_PAGE: usize = 2 << 20;

enum Backing {
    Heap(Vec<u8>),
    Map(MmapMut),
}

/// A zeroed byte buffer whose usable range starts 64-byte aligned.
pub(super) struct AlignedBuf {
    backing: Backing,
    offset: usize,
    len: usize,
}

impl AlignedBuf {
    /// A zeroed buffer of `len` bytes.
    pub(super) fn zeroed(len: usize) -> Result<Self> {
        if len >= HUGE_MIN {
            if let Some(buf) = Self::mapped(len) {
                return Ok(buf);
            }
        }
        let total = len
            .checked_add(ALIGN)
            .ok_or_else(|| Error::InvalidArgument {
                arg: "items",
                reason: format!("packed size {len} bytes overflows"),
            })?;
        let vec = vec![0u8; total];
        let offset = vec.as_ptr().align_offset(ALIGN);
        assert!(offset < ALIGN, "u8 pointers can always be aligned");
        Ok(AlignedBuf {
            backing: Backing::Heap(vec),
            offset,
            len,
        })
    }

    /// An anonymous mapping (zero-filled by the OS), or `None` to fall back to the heap.
    fn mapped(len: usize) -> Option<Self> {
        let total = len.checked_add(HUGE_PAGE)?;
        let map = MmapMut::map_anon(total).ok()?;
        let offset = map.as_ptr().align_offset(HUGE_PAGE);
        if offset >= HUGE_PAGE {
            return None;
        }
        #[cfg(target_os = "linux")]
        {
            // Advice only; without THP the scan is slower, not wrong.
            let _ = map.advise_range(memmap2::Advice::HugePage, offset, len);
        }
        Some(AlignedBuf {
            backing: Backing::Map(map),
            offset,
            len,
        })
    }

    /// Makes the buffer `len` zeroed bytes, reusing its allocation when that is large enough
    /// (scratch matrices rebuilt per search allocate only while they grow).
    pub(super) fn resize_zeroed(&mut self, len: usize) -> Result<()> {
        let room = match &self.backing {
            Backing::Heap(v) => v.len() - self.offset,
            Backing::Map(m) => m.len() - self.offset,
        };
        if len > room {
            *self = Self::zeroed(len)?;
            return Ok(());
        }
        self.len = len;
        self.bytes_mut().fill(0);
        Ok(())
    }

    /// The usable bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        let all: &[u8] = match &self.backing {
            Backing::Heap(v) => v,
            Backing::Map(m) => m,
        };
        &all[self.offset..self.offset + self.len]
    }

    /// The usable bytes, mutably.
    pub(super) fn bytes_mut(&mut self) -> &mut [u8] {
        let all: &mut [u8] = match &mut self.backing {
            Backing::Heap(v) => v,
            Backing::Map(m) => m,
        };
        &mut all[self.offset..self.offset + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backings_are_aligned_and_zeroed() {
        for len in [0, 1, 100, HUGE_MIN + 3] {
            let mut buf = AlignedBuf::zeroed(len).expect("alloc");
            assert_eq!(buf.bytes().len(), len);
            assert_eq!(buf.bytes().as_ptr() as usize % ALIGN, 0);
            assert!(buf.bytes().iter().all(|&b| b == 0));
            if len > 0 {
                buf.bytes_mut()[len - 1] = 7;
                assert_eq!(buf.bytes()[len - 1], 7);
            }
        }
    }

    #[test]
    fn resizing_zeroes_and_keeps_alignment() {
        let mut buf = AlignedBuf::zeroed(100).expect("alloc");
        buf.bytes_mut().fill(9);
        for len in [50, 100, 0, 5000, 64] {
            buf.resize_zeroed(len).expect("resize");
            assert_eq!(buf.bytes().len(), len);
            assert_eq!(buf.bytes().as_ptr() as usize % ALIGN, 0);
            assert!(buf.bytes().iter().all(|&b| b == 0), "len {len}");
            buf.bytes_mut().fill(9);
        }
    }
}
