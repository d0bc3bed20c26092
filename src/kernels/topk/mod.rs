//! (stub, being written)

use super::dispatch::Isa;

/// Kernel entries of this family for one ISA level.
#[derive(Clone, Debug)]
pub struct TopkKernels {}

impl TopkKernels {
    /// Portable entries overlaid with `isa`'s.
    pub fn for_isa(_isa: Isa) -> Self {
        TopkKernels {}
    }
}
