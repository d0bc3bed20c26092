//! Typed, zero-copy views of tensor bytes.
//!
//! safetensors does not align tensor data (the data area starts wherever the header ends), so a
//! cast can fail on alignment. Then the elements are copied into an owned, aligned buffer: a
//! misaligned file costs a copy, never undefined behaviour.

use std::borrow::Cow;

use half::{bf16, f16};

use super::dtype::Dtype;
use crate::error::{Error, Result};

/// An element type a tensor can be viewed as.
pub trait Element: bytemuck::Pod {
    /// The dtype whose bytes hold this type.
    const DTYPE: Dtype;
    /// Decodes one little-endian element (`bytes.len() == size_of::<Self>()`).
    fn from_le(bytes: &[u8]) -> Self;
}

macro_rules! element {
    ($t:ty, $dtype:expr, $bits:ty, $from_bits:expr) => {
        impl Element for $t {
            const DTYPE: Dtype = $dtype;
            fn from_le(bytes: &[u8]) -> Self {
                let bits = <$bits>::from_le_bytes(bytemuck::pod_read_unaligned(bytes));
                $from_bits(bits)
            }
        }
    };
}

element!(f32, Dtype::F32, u32, f32::from_bits);
element!(f16, Dtype::F16, u16, f16::from_bits);
element!(bf16, Dtype::BF16, u16, bf16::from_bits);
element!(i64, Dtype::I64, i64, std::convert::identity);

/// One tensor of a validated file: its name, dtype, shape and raw little-endian bytes.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    name: &'a str,
    dtype: Dtype,
    shape: &'a [usize],
    bytes: &'a [u8],
}

impl<'a> TensorView<'a> {
    /// Builds a view; `bytes.len()` must equal `numel(shape) × dtype.size()`, as the header
    /// validation guarantees.
    pub(crate) fn new(name: &'a str, dtype: Dtype, shape: &'a [usize], bytes: &'a [u8]) -> Self {
        debug_assert_eq!(bytes.len(), shape.iter().product::<usize>() * dtype.size());
        TensorView {
            name,
            dtype,
            shape,
            bytes,
        }
    }

    /// The tensor's name in the file.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The element type.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// The dimensions (empty for a scalar).
    pub fn shape(&self) -> &'a [usize] {
        self.shape
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.bytes.len() / self.dtype.size()
    }

    /// The raw little-endian bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The elements as `T`: borrowed when the data is aligned (and the host little-endian),
    /// copied otherwise. [`Error::WrongDtype`] when `T` is not the tensor's dtype.
    pub fn as_slice<T: Element>(&self) -> Result<Cow<'a, [T]>> {
        if self.dtype != T::DTYPE {
            return Err(Error::WrongDtype {
                tensor: self.name.to_string(),
                expected: T::DTYPE.name(),
                actual: self.dtype.name(),
            });
        }
        if cfg!(target_endian = "little") {
            if let Ok(slice) = bytemuck::try_cast_slice(self.bytes) {
                return Ok(Cow::Borrowed(slice));
            }
        }
        let size = std::mem::size_of::<T>();
        Ok(Cow::Owned(
            self.bytes.chunks_exact(size).map(T::from_le).collect(),
        ))
    }

    /// The elements as f32 (dtype F32).
    pub fn as_f32(&self) -> Result<Cow<'a, [f32]>> {
        self.as_slice()
    }

    /// The elements as f16 (dtype F16).
    pub fn as_f16(&self) -> Result<Cow<'a, [f16]>> {
        self.as_slice()
    }

    /// The elements as bf16 (dtype BF16).
    pub fn as_bf16(&self) -> Result<Cow<'a, [bf16]>> {
        self.as_slice()
    }

    /// The elements as i64 (dtype I64).
    pub fn as_i64(&self) -> Result<Cow<'a, [i64]>> {
        self.as_slice()
    }

    /// Any float tensor as f32: borrowed for aligned F32, converted (exactly) for F16/BF16.
    /// [`Error::WrongDtype`] for I64.
    pub fn to_f32(&self) -> Result<Cow<'a, [f32]>> {
        match self.dtype {
            Dtype::F32 => self.as_f32(),
            Dtype::F16 => Ok(Cow::Owned(
                self.as_f16()?.iter().map(|x| x.to_f32()).collect(),
            )),
            Dtype::BF16 => Ok(Cow::Owned(
                self.as_bf16()?.iter().map(|x| x.to_f32()).collect(),
            )),
            Dtype::I64 => Err(Error::WrongDtype {
                tensor: self.name.to_string(),
                expected: "a float dtype (F32, F16, BF16)",
                actual: self.dtype.name(),
            }),
        }
    }

    /// Like [`to_f32`](Self::to_f32), always as an owned vector.
    pub fn to_f32_vec(&self) -> Result<Vec<f32>> {
        self.to_f32().map(Cow::into_owned)
    }
}
