//! A warmed-up call allocates nothing: a counting global allocator proves it.
//! (Its own test binary, so no other test's allocations are counted.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use reckon::{Model, Options, Workspace};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn warmed_up_calls_allocate_nothing() {
    for name in [
        "ranker_default",
        "ltr_default",
        "fraud_default",
        "deepfm_default",
        "two_tower_default",
        "deepfm_default_f16",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(format!("{name}.safetensors"));
        let model = Model::open(&path, &Options::default()).expect("open");
        let (cols, out_cols) = model.dims();
        let mut ws = Workspace::default();
        for rows in [256usize, 1, 64] {
            let mut out = vec![0f32; rows * out_cols];
            let x = vec![0.5f32; rows * cols];
            let ids = vec![3i64; rows * cols];
            let mut call = |ws: &mut Workspace| {
                if model.takes_ids() {
                    model
                        .predict_ids(&ids, rows, &mut out, ws)
                        .expect("predict_ids");
                } else {
                    model.predict(&x, rows, &mut out, ws).expect("predict");
                }
            };
            call(&mut ws); // warm-up (the first 256-row call sizes the workspace)
            let before = ALLOCATIONS.load(Ordering::Relaxed);
            call(&mut ws);
            call(&mut ws);
            let after = ALLOCATIONS.load(Ordering::Relaxed);
            assert_eq!(
                after - before,
                0,
                "{name}: {rows}-row call allocated after warm-up"
            );
        }
    }
}
