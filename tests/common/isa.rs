//! Which ISA levels a kernel test must run under, and proof that it did.
//!
//! Without `RECKON_ISA`, every level the CPU has is tested in one run. With it, only the forced
//! level is tested, and a level the CPU lacks fails the run instead of being skipped: a CI job
//! that asks for `avx512` and quietly tests `portable` would prove nothing.

use reckon::kernels::{Isa, Kernel, KernelTable};
use std::sync::OnceLock;

/// The kernel tables to test, lowest level first.
pub fn tables_under_test() -> &'static [&'static KernelTable] {
    static TABLES: OnceLock<Vec<&'static KernelTable>> = OnceLock::new();
    TABLES.get_or_init(|| match Isa::forced() {
        Ok(Some(isa)) => {
            let table = KernelTable::for_isa(isa).expect("forced level must build");
            assert_eq!(table.isa, isa);
            vec![&*Box::leak(Box::new(table))]
        }
        Ok(None) => KernelTable::all_available(),
        Err(e) => panic!("RECKON_ISA cannot be honoured on this machine: {e}"),
    })
}

/// Asserts that a hot kernel's body really is the table's level (or, for levels that have no
/// body of their own for this op, at most the table's level). `requires_own_body` is true for
/// the kernels the ISA must implement itself (GEMM, GEMV, scan, gather).
pub fn assert_body<F: Copy>(table: &KernelTable, kernel: &Kernel<F>, requires_own_body: bool) {
    assert!(
        kernel.isa <= table.isa,
        "{} is a {} body in the {} table",
        kernel.name,
        kernel.isa,
        table.isa
    );
    if requires_own_body {
        assert_eq!(
            kernel.isa, table.isa,
            "{} table fell back to {} for a hot kernel",
            table.isa, kernel.name
        );
    }
    assert!(
        kernel.name.ends_with(kernel.isa.name()),
        "kernel name {} does not end with its level {}",
        kernel.name,
        kernel.isa
    );
}
