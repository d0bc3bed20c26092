//! Exact top-100 scan over 1M × 64 items: one query (memory-bound: judged against one thread's
//! read bandwidth for the packed matrix) and a batch of 64 (compute-bound: judged against the
//! FMA peak), in f32, f32 planes (exact f32 results from a bf16 high plane plus rescoring: what
//! `ItemIndex` runs for f32), f16 and bf16 (every bf16 body this CPU has). Ends with one summary
//! line per case, plus each case's speed-up over plain f32 and recall@100 against it (1 for the
//! planes, which return the same results bit for bit).

#[path = "common/mod.rs"]
mod common;
use common::median;

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use half::{bf16, f16};
use reckon::kernels::probe;
use reckon::kernels::topk::{ItemDtype, PackedItems, TopK, TopkKernels};
use reckon::kernels::{selected, KernelTable};

const N: usize = 1 << 20;
const D: usize = 64;
const K: usize = 100;
const NQ: usize = 64;
/// Queries the recall figure averages over.
const RECALL_QUERIES: usize = 16;

/// Tiny xorshift: uniform in [-1, 1), fixed seed, fast enough for 64M values.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// One packed matrix and the name of the single-query body it runs.
struct Case {
    name: String,
    batch_name: String,
    items: PackedItems,
}

/// `table` with `dtype`'s single-query entry replaced by `variant`, leaked for `'static`.
fn with_variant(
    table: &KernelTable,
    dtype: ItemDtype,
    variant: reckon::kernels::Kernel<reckon::kernels::topk::ScanFn>,
) -> &'static KernelTable {
    let mut t = table.clone();
    match dtype {
        ItemDtype::F32 => t.topk.scan_f32 = variant,
        ItemDtype::F16 => t.topk.scan_f16 = variant,
        ItemDtype::Bf16 => t.topk.scan_bf16 = variant,
    }
    Box::leak(Box::new(t))
}

fn build_cases(table: &'static KernelTable, data: &[f32]) -> Vec<Case> {
    let mut cases = Vec::new();
    let case = |items: PackedItems, dtype| Case {
        name: items.kernels().topk.scan(dtype).name.into(),
        batch_name: items.kernels().topk.batch(dtype).name.into(),
        items,
    };
    cases.push(case(
        PackedItems::new(data, N, D, table).expect("pack f32"),
        ItemDtype::F32,
    ));
    // Exact f32 over a bf16 high plane, rescored (the layout `ItemIndex` uses for f32).
    let mut planes = case(
        PackedItems::new_f32_planes(data, N, D, table).expect("pack f32 planes"),
        ItemDtype::Bf16,
    );
    planes.name = format!("f32planes({})", planes.name);
    planes.batch_name = format!("f32planes({})", planes.batch_name);
    cases.push(planes);
    let h: Vec<f16> = data.iter().map(|&x| f16::from_f32(x)).collect();
    cases.push(case(
        PackedItems::new(&h, N, D, table).expect("pack f16"),
        ItemDtype::F16,
    ));
    drop(h);
    let b: Vec<bf16> = data.iter().map(|&x| bf16::from_f32(x)).collect();
    for variant in TopkKernels::scan_variants(table.isa, ItemDtype::Bf16) {
        let t = with_variant(table, ItemDtype::Bf16, variant);
        cases.push(case(
            PackedItems::new(&b, N, D, t).expect("pack bf16"),
            ItemDtype::Bf16,
        ));
    }
    // The 8-bit screen in front of f32 and bf16 (what `ItemIndex` runs), and of f32 planes:
    // single queries only, batches do not use it.
    let screened = [
        ("f32", PackedItems::new(data, N, D, table)),
        ("f32planes", PackedItems::new_f32_planes(data, N, D, table)),
        ("bf16", PackedItems::new(&b, N, D, table)),
    ];
    for (name, items) in screened {
        let items = items.and_then(PackedItems::screened).expect("screen");
        cases.push(Case {
            name: format!("screened-{name}({})", table.topk.screen_i8.name),
            batch_name: String::new(),
            items,
        });
    }
    cases
}

fn recall(a: &[u32], b: &[u32]) -> f64 {
    a.iter().filter(|i| b.contains(i)).count() as f64 / b.len() as f64
}

fn bench_topk(c: &mut Criterion) {
    let table = selected().expect("kernel table");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let data: Vec<f32> = (0..N * D).map(|_| rng.next()).collect();
    let queries: Vec<f32> = (0..NQ * D).map(|_| rng.next()).collect();
    let cases = build_cases(table, &data);
    drop(data);

    let bytes32 = cases[0].items.packed_bytes();
    let bytes16 = cases[2].items.packed_bytes();
    let bw32 = probe::read_bandwidth_gbs(bytes32);
    let bw16 = probe::read_bandwidth_gbs(bytes16);
    let peak = probe::fma_peak_gflops();
    println!(
        "limit: one-thread read bandwidth {bw32:.1} GB/s for {} MB ({}), {bw16:.1} GB/s for {} MB \
         ({}); FMA peak {peak:.1} GFLOP/s",
        bytes32 >> 20,
        probe::cache_level(bytes32),
        bytes16 >> 20,
        probe::cache_level(bytes16),
    );

    let q0 = &queries[..D];
    let mut out = TopK::with_capacity(K, D);
    let mut outs = vec![TopK::with_capacity(K, D); NQ];
    let mut g = c.benchmark_group("topk");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sampling_mode(SamplingMode::Flat);
    for case in &cases {
        g.throughput(Throughput::Bytes(case.items.packed_bytes() as u64));
        g.bench_function(BenchmarkId::new(&case.name, "1Mx64_k100"), |b| {
            b.iter(|| {
                case.items
                    .search(black_box(q0), K, &mut out)
                    .expect("search")
            })
        });
    }
    for case in cases.iter().filter(|c| !c.batch_name.is_empty()).take(4) {
        g.throughput(Throughput::Bytes(case.items.packed_bytes() as u64));
        g.bench_function(BenchmarkId::new(&case.batch_name, "1Mx64_k100_b64"), |b| {
            b.iter(|| {
                case.items
                    .search_batch(black_box(&queries), NQ, K, &mut outs)
                    .expect("batch")
            })
        });
    }
    g.finish();

    // Summaries: own medians, so limit and ratio sit on one line.
    let mut t32 = 0.0;
    let f32_tops: Vec<Vec<u32>> = (0..RECALL_QUERIES)
        .map(|j| {
            cases[0]
                .items
                .search(&queries[j * D..(j + 1) * D], K, &mut out)
                .expect("search");
            out.indices().to_vec()
        })
        .collect();
    for case in &cases {
        let t = median(9, || case.items.search(q0, K, &mut out).expect("search")).as_secs_f64();
        let bytes = case.items.packed_bytes();
        let bw = match bytes {
            b if b == bytes32 => bw32,
            b if b == bytes16 => bw16,
            b => probe::read_bandwidth_gbs(b),
        };
        let gbs = bytes as f64 / t / 1e9;
        let mut line = format!(
            "summary {} 1Mx64 k100: {:.2} ms = {gbs:.1} GB/s = {:.0}% of read bandwidth {bw:.1}",
            case.name,
            t * 1e3,
            100.0 * gbs / bw
        );
        if case.items.dtype() == ItemDtype::F32
            && !case.items.has_planes()
            && !case.items.has_screen()
        {
            t32 = t;
        } else {
            let r: f64 = (0..RECALL_QUERIES)
                .map(|j| {
                    let q = &queries[j * D..(j + 1) * D];
                    case.items.search(q, K, &mut out).expect("search");
                    recall(out.indices(), &f32_tops[j])
                })
                .sum::<f64>()
                / RECALL_QUERIES as f64;
            line += &format!("; {:.2}x f32 speed; recall@100 vs f32 {r:.4}", t32 / t);
        }
        println!("{line}");
    }
    for case in cases.iter().filter(|c| !c.batch_name.is_empty()).take(4) {
        let t = median(3, || {
            case.items
                .search_batch(&queries, NQ, K, &mut outs)
                .expect("batch")
        })
        .as_secs_f64();
        let gflops = 2.0 * (N * D * NQ) as f64 / t / 1e9;
        println!(
            "summary {} 1Mx64 k100 b64: {:.3} ms/query = {gflops:.1} GFLOP/s = {:.0}% of FMA peak \
             {peak:.1}",
            case.batch_name,
            t * 1e3 / NQ as f64,
            100.0 * gflops / peak
        );
    }
}

criterion_group!(benches, bench_topk);
criterion_main!(benches);
