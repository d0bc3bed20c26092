//! Any bytes as a weight file: the container parse, the full validation, and every view of
//! whatever is accepted must return, never panic or read out of bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reckon::weights::{Container, Dtype, TensorView, WeightFile};

fn touch(t: &TensorView<'_>) {
    let n = t.numel();
    let len = match t.dtype() {
        Dtype::F32 => t.as_f32().map(|v| v.len()),
        Dtype::F16 => t.as_f16().map(|v| v.len()),
        Dtype::BF16 => t.as_bf16().map(|v| v.len()),
        Dtype::I64 => t.as_i64().map(|v| v.len()),
    };
    assert_eq!(
        len.ok(),
        Some(n),
        "{}: typed view of the tensor's own dtype",
        t.name()
    );
    assert_eq!(t.to_f32_vec().is_ok(), t.dtype().is_float());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Container::parse(data) {
        c.tensors().for_each(|t| touch(&t));
        let _ = c.validate();
    }
    if let Ok(w) = WeightFile::from_bytes(data.to_vec()) {
        w.tensors().for_each(|t| touch(&t));
    }
});
