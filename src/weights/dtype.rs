//! Element types of a safetensors tensor.

use crate::error::{Error, Result};

/// The element types reckon can compute with. Other safetensors dtypes are recognised by name
/// and rejected with [`Error::UnsupportedDtype`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dtype {
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary16.
    F16,
    /// bfloat16 (the top half of an f32).
    BF16,
    /// Signed 64-bit integer (ids, counters).
    I64,
}

/// Every dtype string the safetensors format defines, so that an unsupported-but-valid dtype and
/// a typo can at least be told apart in the message.
const SAFETENSORS_DTYPES: [&str; 20] = [
    "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "I16", "U16",
    "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64", "C64",
];

impl Dtype {
    /// Parses a safetensors dtype string for tensor `tensor` (named in the error).
    pub fn parse(tensor: &str, s: &str) -> Result<Dtype> {
        match s {
            "F32" => Ok(Dtype::F32),
            "F16" => Ok(Dtype::F16),
            "BF16" => Ok(Dtype::BF16),
            "I64" => Ok(Dtype::I64),
            other => {
                let dtype = if SAFETENSORS_DTYPES.contains(&other) {
                    other.to_string()
                } else {
                    format!("{other} (not a safetensors dtype)")
                };
                Err(Error::UnsupportedDtype {
                    tensor: tensor.to_string(),
                    dtype,
                })
            }
        }
    }

    /// The safetensors spelling (`"F32"`, `"BF16"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::I64 => "I64",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::BF16 => 2,
            Dtype::I64 => 8,
        }
    }

    /// Whether this is a floating-point type (usable for weights).
    pub fn is_float(self) -> bool {
        !matches!(self, Dtype::I64)
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_supported_names() {
        for d in [Dtype::F32, Dtype::F16, Dtype::BF16, Dtype::I64] {
            assert_eq!(Dtype::parse("t", d.name()).ok(), Some(d));
        }
    }

    #[test]
    fn known_but_unsupported_and_unknown_are_told_apart() {
        match Dtype::parse("t", "F64") {
            Err(Error::UnsupportedDtype { dtype, .. }) => assert_eq!(dtype, "F64"),
            other => panic!("{other:?}"),
        }
        match Dtype::parse("t", "f32") {
            Err(Error::UnsupportedDtype { dtype, .. }) => {
                assert!(dtype.contains("not a safetensors"))
            }
            other => panic!("{other:?}"),
        }
    }
}
