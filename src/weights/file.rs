//! Weight files on disk: memory-mapped, validated once, then handed out as zero-copy views.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::arch::Arch;
use super::container;
use super::header::Header;
use super::metadata::Metadata;
use super::view::TensorView;
use crate::error::{Error, Result};

/// Tensors at least this large are advised onto transparent huge pages: random row gathers
/// from a big embedding table are TLB-bound (SPEC §6: 20.6 → 7.5 ns/row at 512 MiB).
const HUGE_PAGE_MIN_BYTES: usize = 2 << 20;

/// The bytes of a file: memory-mapped from disk, or owned (tests, fuzzing, embedded data).
#[derive(Debug)]
pub struct MappedFile {
    path: Option<PathBuf>,
    bytes: Backing,
}

#[derive(Debug)]
enum Backing {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl MappedFile {
    /// Maps the file at `path` read-only. [`Error::Io`] names the path.
    pub fn open(path: impl AsRef<Path>) -> Result<MappedFile> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the map is only ever read through `&[u8]`. We assume no one truncates or
        // rewrites the file while it is mapped: that would change bytes under a shared borrow
        // (or SIGBUS on truncation), the contract of every mmap loader (safetensors, llama.cpp).
        // Model files are written once and replaced by rename, which leaves this mapping intact.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        Ok(MappedFile {
            path: Some(path.to_path_buf()),
            bytes: Backing::Mapped(map),
        })
    }

    /// Wraps bytes already in memory.
    pub fn from_vec(bytes: Vec<u8>) -> MappedFile {
        MappedFile {
            path: None,
            bytes: Backing::Owned(bytes),
        }
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
        }
    }

    /// The path it was opened from (`None` for in-memory bytes).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Best-effort `madvise(MADV_HUGEPAGE)` on a byte range of a mapped file; errors (no THP
    /// support, owned bytes, other OS) only cost speed, so they are ignored.
    fn advise_huge_pages(&self, offset: usize, len: usize) {
        #[cfg(target_os = "linux")]
        if let Backing::Mapped(m) = &self.bytes {
            let _ = m.advise_range(memmap2::Advice::HugePage, offset, len);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (offset, len);
    }
}

/// A validated reckon weight file: container layout, `reckon.*` metadata and the
/// architecture's tensor names all checked on open.
#[derive(Debug)]
pub struct WeightFile {
    file: MappedFile,
    header: Header,
    metadata: Metadata,
}

impl WeightFile {
    /// Maps and validates the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<WeightFile> {
        let weights = WeightFile::from_mapped(MappedFile::open(path)?)?;
        for t in weights
            .header
            .tensors
            .iter()
            .filter(|t| t.end - t.start >= HUGE_PAGE_MIN_BYTES)
        {
            weights
                .file
                .advise_huge_pages(weights.header.data_start + t.start, t.end - t.start);
        }
        Ok(weights)
    }

    /// Validates a file held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<WeightFile> {
        WeightFile::from_mapped(MappedFile::from_vec(bytes))
    }

    /// Validates an already mapped (or loaded) file.
    pub fn from_mapped(file: MappedFile) -> Result<WeightFile> {
        let header = Header::parse(file.bytes())?;
        let metadata = container::validate(&header)?;
        Ok(WeightFile {
            file,
            header,
            metadata,
        })
    }

    /// The architecture (`reckon.arch`).
    pub fn arch(&self) -> Arch {
        self.metadata.arch
    }

    /// The parsed metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The tensor called `name`, or [`Error::NoSuchTensor`].
    pub fn tensor(&self, name: &str) -> Result<TensorView<'_>> {
        container::lookup(&self.header, self.file.bytes(), name)
    }

    /// Whether a tensor called `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.header.find(name).is_some()
    }

    /// Every tensor, sorted by name.
    pub fn tensors(&self) -> impl ExactSizeIterator<Item = TensorView<'_>> + '_ {
        let bytes = self.file.bytes();
        self.header
            .tensors
            .iter()
            .map(move |t| container::view(&self.header, bytes, t))
    }

    /// The path the file was opened from (`None` for in-memory bytes).
    pub fn path(&self) -> Option<&Path> {
        self.file.path()
    }

    /// The whole file's bytes; a [`TensorView::bytes`] is a sub-slice of these, so holders of an
    /// `Arc<WeightFile>` can keep a tensor as a byte range instead of a borrow.
    pub fn file_bytes(&self) -> &[u8] {
        self.file.bytes()
    }
}
