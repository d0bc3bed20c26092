//! `RECKON_ISA` is honoured exactly, or the run fails.

mod common;

use reckon::kernels::{selected, Isa};

#[test]
fn forced_level_is_the_selected_level() {
    let tables = common::isa::tables_under_test();
    assert!(!tables.is_empty());
    match Isa::forced() {
        Ok(Some(isa)) => {
            assert_eq!(selected().expect("selected").isa, isa);
            assert_eq!(tables.len(), 1);
            assert_eq!(tables[0].isa, isa);
        }
        Ok(None) => {
            assert_eq!(selected().expect("selected").isa, Isa::best());
            assert_eq!(tables.len(), Isa::available().len());
        }
        Err(e) => panic!("RECKON_ISA cannot be honoured: {e}"),
    }
}
