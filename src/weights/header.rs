//! Pure parse and validation of a safetensors container: bytes in, typed header out, no I/O.
//!
//! Layout: an 8-byte little-endian header length `n`, `n` bytes of UTF-8 JSON, then the data
//! area. Every number in the header is untrusted: lengths are capped, arithmetic is checked, and
//! the tensors must tile the data area exactly (no overlaps, holes or trailing bytes), as the
//! safetensors crate requires. Unlike `serde_json::Map`, which silently keeps the last of two
//! equal keys, duplicate tensor names are an error: a file must not mean two things.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use super::dtype::Dtype;
use crate::error::{Error, Result};

/// Largest header accepted. The safetensors crate uses the same cap; real headers are a few KiB
/// to a few MiB, so anything above this is hostile or broken and must not drive an allocation.
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// The header key holding the string→string metadata map.
const METADATA_KEY: &str = "__metadata__";

/// One validated tensor entry. Offsets are relative to the start of the data area.
#[derive(Clone, Debug)]
pub(crate) struct TensorInfo {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub start: usize,
    pub end: usize,
}

/// A validated header: every entry's bytes lie inside the data area and the entries tile it.
#[derive(Clone, Debug)]
pub(crate) struct Header {
    /// Offset of the data area from the start of the file (8 + header length).
    pub data_start: usize,
    /// Size of the data area in bytes.
    pub data_len: usize,
    /// `__metadata__`, empty when absent.
    pub metadata: BTreeMap<String, String>,
    /// Entries sorted by name (names are unique).
    pub tensors: Vec<TensorInfo>,
}

impl Header {
    /// Parses and validates the container in `bytes` (the whole file).
    pub fn parse(bytes: &[u8]) -> Result<Header> {
        let (json, data_start) = split_header(bytes)?;
        let raw = parse_json(json)?;
        let data_len = bytes.len() - data_start;
        let mut tensors = raw
            .entries
            .into_iter()
            .map(|(name, entry)| check_entry(name, entry, data_len as u64))
            .collect::<Result<Vec<_>>>()?;
        check_tiling(&mut tensors, data_len)?;
        tensors.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(Header {
            data_start,
            data_len,
            metadata: raw.metadata.unwrap_or_default(),
            tensors,
        })
    }

    /// Index of the tensor called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.tensors
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .ok()
    }

    /// The bytes of tensor `t` within `file`, the buffer this header was parsed from.
    pub fn tensor_bytes<'a>(&self, file: &'a [u8], t: &TensorInfo) -> &'a [u8] {
        // Parse proved `data_start + end <= file.len()`; a different buffer is a caller bug.
        &file[self.data_start + t.start..self.data_start + t.end]
    }
}

/// Reads the length prefix and returns the header's JSON bytes and where the data area starts.
fn split_header(bytes: &[u8]) -> Result<(&[u8], usize)> {
    let available = bytes.len() as u64;
    let prefix: [u8; 8] = match bytes.get(..8).and_then(|p| p.try_into().ok()) {
        Some(p) => p,
        None => {
            return Err(Error::Truncated {
                what: "header length prefix",
                needed: 8,
                available,
            })
        }
    };
    let len = u64::from_le_bytes(prefix);
    if len > MAX_HEADER_LEN {
        return Err(Error::HeaderTooLarge {
            len,
            max: MAX_HEADER_LEN,
        });
    }
    // `len` is capped, so neither the sum nor the casts can overflow.
    let end = 8 + len;
    match bytes.get(8..end as usize) {
        Some(json) => Ok((json, end as usize)),
        None => Err(Error::Truncated {
            what: "header",
            needed: end,
            available,
        }),
    }
}

/// A header entry as written, before any checks beyond JSON types.
struct RawEntry {
    dtype: String,
    shape: Vec<u64>,
    offsets: [u64; 2],
}

/// The JSON object: metadata plus entries in file order.
#[derive(Default)]
struct RawHeader {
    metadata: Option<BTreeMap<String, String>>,
    entries: Vec<(String, RawEntry)>,
}

fn parse_json(json: &[u8]) -> Result<RawHeader> {
    let text = std::str::from_utf8(json).map_err(|e| Error::HeaderSyntax {
        reason: format!("header is not UTF-8 ({e})"),
    })?;
    // The visitor stores a typed error here (naming the tensor) before failing, because a serde
    // error can only carry a string.
    let mut failure = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = HeaderSeed {
        failure: &mut failure,
    }
    .deserialize(&mut de)
    .and_then(|h| {
        de.end()?; // trailing non-whitespace after the object
        Ok(h)
    });
    match (parsed, failure) {
        // A header cut short is not the fault of the entry the parser happened to be in.
        (Err(e), _) if e.is_eof() => Err(Error::HeaderSyntax {
            reason: e.to_string(),
        }),
        (_, Some(err)) => Err(err),
        (Ok(raw), None) => Ok(raw),
        (Err(e), None) => Err(Error::HeaderSyntax {
            reason: e.to_string(),
        }),
    }
}

struct HeaderSeed<'s> {
    failure: &'s mut Option<Error>,
}

impl<'de> DeserializeSeed<'de> for HeaderSeed<'_> {
    type Value = RawHeader;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<RawHeader, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed<'_> {
    type Value = RawHeader;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object mapping tensor names to {dtype, shape, data_offsets}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
        let mut seen = HashSet::new();
        let mut out = RawHeader::default();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                *self.failure = Some(if key == METADATA_KEY {
                    Error::HeaderSyntax {
                        reason: format!("duplicate key '{METADATA_KEY}'"),
                    }
                } else {
                    Error::TensorEntry {
                        tensor: key,
                        reason: "duplicate tensor name".into(),
                    }
                });
                return Err(de::Error::custom("duplicate key"));
            }
            if key == METADATA_KEY {
                match map.next_value_seed(StringMapSeed) {
                    Ok(m) => out.metadata = Some(m),
                    Err(e) => {
                        *self.failure = Some(Error::HeaderSyntax {
                            reason: format!("'{METADATA_KEY}' must map strings to strings: {e}"),
                        });
                        return Err(e);
                    }
                }
            } else {
                match map.next_value_seed(EntrySeed) {
                    Ok(entry) => out.entries.push((key, entry)),
                    Err(e) => {
                        *self.failure = Some(Error::TensorEntry {
                            tensor: key,
                            reason: e.to_string(),
                        });
                        return Err(e);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// `__metadata__`: string → string, duplicate keys rejected.
struct StringMapSeed;

impl<'de> DeserializeSeed<'de> for StringMapSeed {
    type Value = BTreeMap<String, String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for StringMapSeed {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: String = map.next_value()?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key '{key}'")));
            }
            out.insert(key, value);
        }
        Ok(out)
    }
}

/// One tensor entry object. Unknown fields are ignored, as the safetensors crate does.
struct EntrySeed;

impl<'de> DeserializeSeed<'de> for EntrySeed {
    type Value = RawEntry;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<RawEntry, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed {
    type Value = RawEntry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object {dtype, shape, data_offsets}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEntry, A::Error> {
        let (mut dtype, mut shape, mut offsets) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "dtype" => set_once(&mut dtype, "dtype", map.next_value()?)?,
                "shape" => set_once(&mut shape, "shape", map.next_value()?)?,
                "data_offsets" => set_once(&mut offsets, "data_offsets", map.next_value()?)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(RawEntry {
            dtype: dtype.ok_or_else(|| de::Error::missing_field("dtype"))?,
            shape: shape.ok_or_else(|| de::Error::missing_field("shape"))?,
            offsets: offsets.ok_or_else(|| de::Error::missing_field("data_offsets"))?,
        })
    }
}

fn set_once<T, E: de::Error>(slot: &mut Option<T>, field: &'static str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(field));
    }
    *slot = Some(value);
    Ok(())
}

/// Checks one entry on its own: dtype, shape size, offsets inside the data area, exact length.
fn check_entry(name: String, raw: RawEntry, data_len: u64) -> Result<TensorInfo> {
    let dtype = Dtype::parse(&name, &raw.dtype)?;
    // The product of the non-zero dims must fit, so later code may multiply dims in any order
    // without overflow; a zero dim makes the tensor empty.
    let nbytes = raw
        .shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .and_then(|n| n.checked_mul(dtype.size() as u64))
        .filter(|&n| usize::try_from(n).is_ok());
    let Some(nbytes) = nbytes else {
        return Err(Error::ShapeOverflow { tensor: name });
    };
    let nbytes = if raw.shape.contains(&0) { 0 } else { nbytes };
    let [start, end] = raw.offsets;
    if start > end || end > data_len {
        return Err(Error::OffsetsOutOfRange {
            tensor: name,
            start,
            end,
            data_len,
        });
    }
    if end - start != nbytes {
        return Err(Error::ByteLengthMismatch {
            tensor: name,
            expected: nbytes,
            actual: end - start,
        });
    }
    // Offsets are within `data_len` and every dim divides a product that fits in usize.
    let shape = raw.shape.iter().map(|&d| d as usize).collect();
    Ok(TensorInfo {
        name,
        dtype,
        shape,
        start: start as usize,
        end: end as usize,
    })
}

/// Checks that the entries tile `[0, data_len)` exactly. Reorders `tensors` by offset.
fn check_tiling(tensors: &mut [TensorInfo], data_len: usize) -> Result<()> {
    tensors.sort_unstable_by_key(|t| (t.start, t.end));
    let mut cursor = 0usize;
    let mut last: Option<&TensorInfo> = None;
    for t in tensors.iter() {
        if t.start < cursor {
            let other = last.map(|l| l.name.clone()).unwrap_or_default();
            return Err(Error::OverlappingTensors {
                tensor: t.name.clone(),
                other,
            });
        }
        if t.start > cursor {
            return Err(Error::DataNotCovered {
                offset: cursor as u64,
                data_len: data_len as u64,
            });
        }
        cursor = t.end;
        last = Some(t);
    }
    if cursor != data_len {
        return Err(Error::DataNotCovered {
            offset: cursor as u64,
            data_len: data_len as u64,
        });
    }
    Ok(())
}
