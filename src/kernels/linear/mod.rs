//! (stub, being written)

use super::dispatch::Isa;

/// Kernel entries of this family for one ISA level.
#[derive(Clone, Debug)]
pub struct LinearKernels {}

impl LinearKernels {
    /// Portable entries overlaid with `isa`'s.
    pub fn for_isa(_isa: Isa) -> Self {
        LinearKernels {}
    }
}
