//! DeepFM's embedding step from DRAM: gather+FM (`gather_fm_*`) and the plain gather
//! (`gather_*`), uniform random ids over tables far larger than the caches.
//!
//! Target (SPEC §7): ≥ 100M rows/s per core. A random 32/64-byte row costs a whole cache line
//! (two if it straddles), so this is bound by memory latency × misses in flight, not streaming
//! bandwidth. Both limits are printed beside the result: the probe's streaming read bandwidth,
//! and the rate of a plain loop of independent random line loads over the same memory (the
//! machine's random-access ceiling for one thread, which `probe` does not measure). Tables live
//! in one anonymous mapping advised for transparent huge pages (SPEC §6: 20.6 → 7.5 ns/row), and
//! once without, for comparison.
//!
//! Env: `GATHER_BENCH_MB` (table bytes per mapping, default 1024), `GATHER_BENCH_QUICK=1`
//! (summaries only, no criterion), `GATHER_BENCH_NO_SMALL_PAGES=1` (skip the 4 KiB-page runs).

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use memmap2::{Advice, MmapMut};
use reckon::kernels::elementwise::{EmbeddingView, OutLayout};
use reckon::kernels::{probe, selected};

const DIMS: [usize; 2] = [8, 16];
const FIELDS: [usize; 2] = [10, 26];
const BATCHES: [usize; 2] = [256, 4096];
/// Ids in the rotating pool: 8M ids touch ~8M distinct lines (512 MiB), so successive batches do
/// not find the previous batches' rows in cache.
const POOL_IDS: usize = 8 << 20;
/// The SPEC target.
const TARGET_ROWS_PER_S: f64 = 100e6;

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

/// One anonymous mapping of `bytes`, filled with small values; `huge` advises THP before the
/// first touch (it must come first: pages are chosen when faulted in).
fn table_memory(bytes: usize, huge: bool) -> MmapMut {
    let mut map = MmapMut::map_anon(bytes).expect("anonymous mapping");
    map.advise(if huge {
        Advice::HugePage
    } else {
        Advice::NoHugePage
    })
    .expect("madvise");
    let floats: &mut [f32] = bytemuck::cast_slice_mut(&mut map[..]);
    for (i, v) in floats.iter_mut().enumerate() {
        *v = (i as u32).wrapping_mul(2_654_435_761) as f32 * 2.3e-10 - 0.5;
    }
    map
}

/// Anonymous huge pages the process holds, from `/proc/self/smaps_rollup` (0 if unreadable).
fn anon_huge_mib() -> usize {
    let s = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// xorshift64*: uniform ids without pulling in an RNG crate.
fn random_ids(n: usize, rows: usize, mut state: u64) -> Vec<i64> {
    (0..n)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) % rows as u64) as i64
        })
        .collect()
}

/// (median, best) seconds per call; see `common::time_secs`.
fn time_secs(f: impl FnMut()) -> (f64, f64) {
    common::time_secs(15, Duration::from_millis(5), f)
}

/// One gather+FM shape over a mapping: F tables of `rows × D` carved from it, a pool of ids.
struct Case<'m> {
    tables: Vec<EmbeddingView<'m, f32>>,
    pool: Vec<i64>,
    cursor: usize,
    batch: usize,
    emb: Vec<f32>,
    fm: Vec<f32>,
}

impl<'m> Case<'m> {
    fn new(mem: &'m [f32], fields: usize, dim: usize, batch: usize) -> Case<'m> {
        let rows = mem.len() / (fields * dim);
        let tables = (0..fields)
            .map(|f| {
                EmbeddingView::new("bench", &mem[f * rows * dim..][..rows * dim], dim)
                    .expect("view")
            })
            .collect();
        // Field f's id sits at position f of each [B, F] row; one draw over `rows` serves all fields.
        let pool = random_ids(
            POOL_IDS.next_multiple_of(batch * fields),
            rows,
            0x9E37_79B9_7F4A_7C15 ^ batch as u64,
        );
        Case {
            tables,
            pool,
            cursor: 0,
            batch,
            emb: vec![0.0; batch * fields * dim],
            fm: vec![0.0; batch],
        }
    }
    fn rows_per_call(&self) -> usize {
        self.batch * self.tables.len()
    }
    /// Next batch of ids from the pool, wrapping.
    fn next_ids(&mut self) -> std::ops::Range<usize> {
        let n = self.rows_per_call();
        if self.cursor + n > self.pool.len() {
            self.cursor = 0;
        }
        self.cursor += n;
        self.cursor - n..self.cursor
    }
    fn run_fused(&mut self) {
        let ids = self.next_ids();
        let k = selected().expect("kernel table").elementwise.gather_fm_f32;
        (k.f)(
            &self.tables,
            black_box(&self.pool[ids]),
            &mut self.emb,
            &mut self.fm,
        )
        .expect("gather_fm");
        black_box(&mut self.fm);
    }
    /// The plain gather of as many rows, field by field into the same `[B, F·D]` matrix.
    fn run_gather(&mut self) {
        let ids = self.next_ids();
        let k = selected().expect("kernel table").elementwise.gather_f32;
        let (fields, dim) = (self.tables.len(), self.tables[0].dim());
        let ids = &self.pool[ids];
        // Field f takes the f-th run of B ids (the pool is uniform, so any split is as random).
        for (f, (t, field_ids)) in self
            .tables
            .iter()
            .zip(ids.chunks_exact(self.batch))
            .enumerate()
        {
            let layout = OutLayout {
                stride: fields * dim,
                offset: f * dim,
            };
            (k.f)(*t, field_ids, &mut self.emb, layout).expect("gather");
        }
        black_box(&mut self.emb);
    }
}

/// Lines per second a plain loop of independent loads at random lines reaches (no stores, no
/// prefetch): how many misses the core keeps in flight, over memory latency.
fn random_line_rate(mem: &[f32]) -> f64 {
    let ids = random_ids(POOL_IDS, mem.len() / 16, 7);
    let run = || {
        ids.iter()
            .fold(0.0f32, |acc, &i| acc + mem[i as usize * 16])
    };
    black_box(run()); // warm the TLB and id pages once
    let t = Instant::now();
    black_box(run());
    ids.len() as f64 / t.elapsed().as_secs_f64()
}

fn summary(
    name: &str,
    param: &str,
    rows: usize,
    (secs, best): (f64, f64),
    random_lines_per_s: f64,
) {
    let (rate, best_rate) = (rows as f64 / secs, rows as f64 / best);
    println!(
        "summary {name} {param}: {:.1} M rows/s ({:.2} ns/row) = {:.0}% of target {:.0} M rows/s \
         (best {:.0}%), {:.0}% of the random-line limit {:.1} M lines/s",
        rate / 1e6,
        1e9 / rate,
        100.0 * rate / TARGET_ROWS_PER_S,
        TARGET_ROWS_PER_S / 1e6,
        100.0 * best_rate / TARGET_ROWS_PER_S,
        100.0 * rate / random_lines_per_s,
        random_lines_per_s / 1e6
    );
}

fn bench_memory(c: &mut Criterion, bytes: usize, huge: bool, quick: bool) {
    let pages = if huge { "huge" } else { "4k" };
    let map = table_memory(bytes, huge);
    let mem: &[f32] = bytemuck::cast_slice(&map[..]);
    let bw = probe::read_bandwidth_gbs(bytes);
    let random = random_line_rate(mem);
    println!(
        "limit gather_fm ({pages} pages, {} MiB of tables, {}; process AnonHugePages {} MiB): \
         target {:.0} M rows/s; random-line reads {:.1} M lines/s ({:.1} ns/line); one-thread \
         streaming read {bw:.1} GB/s = {:.0} M lines/s",
        bytes >> 20,
        probe::cache_level(bytes),
        anon_huge_mib(),
        TARGET_ROWS_PER_S / 1e6,
        random / 1e6,
        1e9 / random,
        bw * 1e9 / 64.0 / 1e6,
    );
    let table = selected().expect("kernel table");
    let (fused, plain) = (
        table.elementwise.gather_fm_f32.name,
        table.elementwise.gather_f32.name,
    );
    let batches: &[usize] = if huge { &BATCHES } else { &BATCHES[1..] };
    let mut cases: Vec<(String, Case)> = Vec::new();
    for &dim in &DIMS {
        for &fields in &FIELDS {
            for &b in batches {
                cases.push((
                    format!("F{fields}xD{dim}/b{b}/{pages}"),
                    Case::new(mem, fields, dim, b),
                ));
            }
        }
    }
    if !quick {
        let mut group = c.benchmark_group(format!("gather_fm_{pages}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for (param, case) in &mut cases {
            group.throughput(Throughput::Elements(case.rows_per_call() as u64));
            group.bench_function(BenchmarkId::new(fused, param.as_str()), |b| {
                b.iter(|| case.run_fused())
            });
        }
        if let Some((param, case)) = cases.last_mut() {
            group.bench_function(BenchmarkId::new(plain, param.as_str()), |b| {
                b.iter(|| case.run_gather())
            });
        }
        group.finish();
    }
    for (param, case) in &mut cases {
        let rows = case.rows_per_call();
        summary(fused, param, rows, time_secs(|| case.run_fused()), random);
    }
    if let Some((param, case)) = cases.last_mut() {
        let rows = case.rows_per_call();
        summary(plain, param, rows, time_secs(|| case.run_gather()), random);
    }
}

fn gather_fm(c: &mut Criterion) {
    let mib = std::env::var("GATHER_BENCH_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1024);
    let quick = env_flag("GATHER_BENCH_QUICK");
    bench_memory(c, mib << 20, true, quick);
    if !env_flag("GATHER_BENCH_NO_SMALL_PAGES") {
        bench_memory(c, mib << 20, false, quick);
    }
}

criterion_group!(benches, gather_fm);
criterion_main!(benches);
