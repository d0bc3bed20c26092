//! A parsed container over borrowed bytes, with no reckon rules applied: what `reckon inspect`
//! shows and what the fuzz target hammers.

use std::collections::BTreeMap;

use super::header::{Header, TensorInfo};
use super::metadata::Metadata;
use super::schema;
use super::view::TensorView;
use crate::error::{Error, Result};

/// A valid safetensors container (header and data layout checked), not yet checked against
/// reckon's metadata and architecture rules.
#[derive(Clone, Debug)]
pub struct Container<'a> {
    bytes: &'a [u8],
    header: Header,
}

impl<'a> Container<'a> {
    /// Parses and validates the container layout of `bytes` (a whole file).
    pub fn parse(bytes: &'a [u8]) -> Result<Container<'a>> {
        Ok(Container {
            bytes,
            header: Header::parse(bytes)?,
        })
    }

    /// The raw `__metadata__` map (empty when absent).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.header.metadata
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.header.tensors.len()
    }

    /// Whether the file holds no tensors.
    pub fn is_empty(&self) -> bool {
        self.header.tensors.is_empty()
    }

    /// Size of the data area in bytes.
    pub fn data_len(&self) -> usize {
        self.header.data_len
    }

    /// Every tensor, sorted by name.
    pub fn tensors(&self) -> impl ExactSizeIterator<Item = TensorView<'_>> + '_ {
        self.header
            .tensors
            .iter()
            .map(|t| view(&self.header, self.bytes, t))
    }

    /// The tensor called `name`, or [`Error::NoSuchTensor`].
    pub fn tensor(&self, name: &str) -> Result<TensorView<'_>> {
        lookup(&self.header, self.bytes, name)
    }

    /// Applies reckon's rules: `reckon.*` metadata, then the architecture's tensor names.
    pub fn validate(&self) -> Result<Metadata> {
        validate(&self.header)
    }
}

pub(crate) fn validate(header: &Header) -> Result<Metadata> {
    let metadata = Metadata::from_map(&header.metadata)?;
    schema::check(metadata.arch, &header.tensors)?;
    Ok(metadata)
}

pub(crate) fn view<'a>(header: &'a Header, bytes: &'a [u8], t: &'a TensorInfo) -> TensorView<'a> {
    TensorView::new(&t.name, t.dtype, &t.shape, header.tensor_bytes(bytes, t))
}

pub(crate) fn lookup<'a>(
    header: &'a Header,
    bytes: &'a [u8],
    name: &str,
) -> Result<TensorView<'a>> {
    match header.find(name) {
        Some(i) => Ok(view(header, bytes, &header.tensors[i])),
        None => Err(Error::NoSuchTensor {
            tensor: name.to_string(),
        }),
    }
}
