//! CPU kernels. Each op family lives in its own folder with its scalar reference twin;
//! [`dispatch`] picks the instruction set once per process.

pub mod dispatch;
pub mod elementwise;
pub mod linear;
pub mod probe;
pub mod topk;

pub use dispatch::{selected, table_for, Isa, Kernel, KernelTable};
