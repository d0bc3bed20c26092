//! Retrieval pipeline (SPEC §4.1): exact search against the scalar reference, exclusions, k
//! edges, malformed index files, IVF against exact, building from a two-tower model, and the
//! `reckon index` command.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use reckon::kernels::topk::topk_reference;
use reckon::models::{Model, Options, Tower, TwoTowerWorkspace};
use reckon::pipelines::retrieval::{
    recall_at_k, Hit, ItemDtype, ItemIndex, KmeansParams, SearchWorkspace,
};
use reckon::weights::{SafetensorsWriter, WeightFile};
use reckon::Error;

/// Kernel scores accumulate in f32 in a different order from the reference's f64 sum: for
/// d ≤ 64 and |x| ≲ 4 the difference stays far below this (measured ~1e-6).
const SCORE_TOL: f32 = 1e-4;

/// splitmix64 → standard normal (Box-Muller), reproducible.
struct Rng(u64);
impl Rng {
    fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f32 {
        let (a, b) = (self.uniform(), self.uniform());
        ((-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()) as f32
    }
    fn normals(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.normal()).collect()
    }
}

/// `n` points around `clusters` Gaussian centres in `d` dims (noise `sigma` per dimension).
fn mixture(rng: &mut Rng, n: usize, d: usize, clusters: usize, sigma: f32) -> Vec<f32> {
    let centres = rng.normals(clusters * d);
    let mut v = Vec::with_capacity(n * d);
    for _ in 0..n {
        let c = (rng.u64() % clusters as u64) as usize;
        for j in 0..d {
            v.push(centres[c * d + j] + sigma * rng.normal());
        }
    }
    v
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("retrieval_{}_{name}", std::process::id()))
}

/// Ids that are neither row numbers nor sorted, so id→row mapping is exercised.
fn scrambled_ids(n: usize) -> Vec<i64> {
    (0..n as i64)
        .map(|i| (i * 7919) % n as i64 * 3 + 1000)
        .collect()
}

fn assert_matches_reference(
    hits: &[Hit],
    data: &[f32],
    n: usize,
    d: usize,
    q: &[f32],
    k: usize,
    ex: &[u32],
) {
    let (idx, sc) = topk_reference(data, n, d, q, k, ex);
    let got: Vec<u32> = hits.iter().map(|h| h.index).collect();
    assert_eq!(got, idx, "k = {k}");
    for (h, s) in hits.iter().zip(&sc) {
        assert!(
            (h.score - s).abs() <= SCORE_TOL * s.abs().max(1.0),
            "{} vs {s}",
            h.score
        );
    }
}

#[test]
fn exact_search_matches_reference_under_every_isa() {
    let (n, d) = (1001, 23);
    let mut rng = Rng(1);
    let data = rng.normals(n * d);
    let ids = scrambled_ids(n);
    let bytes = ItemIndex::from_vectors(&ids, &data, d, ItemDtype::F32, None)
        .expect("index")
        .file()
        .file_bytes()
        .to_vec();
    for table in common::isa::tables_under_test() {
        let opts = Options {
            isa: Some(table.isa),
            ..Options::default()
        };
        let file = Arc::new(WeightFile::from_bytes(bytes.clone()).expect("file"));
        let index = ItemIndex::from_file(file, &opts).expect("open");
        let (mut ws, mut out) = (SearchWorkspace::default(), Vec::new());
        for (qi, k) in [1, 7, 100, n].into_iter().enumerate() {
            let q = rng.normals(d);
            index.search(&q, k, &[], &mut ws, &mut out).expect("search");
            assert_matches_reference(&out, &data, n, d, &q, k, &[]);
            assert!(
                out.iter().all(|h| h.id == ids[h.index as usize]),
                "query {qi}"
            );
        }
        // A batch gives the same hits as single searches.
        let qs = rng.normals(5 * d);
        let mut outs = Vec::new();
        index
            .search_batch(&qs, 5, 10, &[], &mut ws, &mut outs)
            .expect("batch");
        for (i, hits) in outs.iter().enumerate() {
            index
                .search(&qs[i * d..(i + 1) * d], 10, &[], &mut ws, &mut out)
                .expect("search");
            assert_eq!(hits, &out);
        }
    }
}

#[test]
fn exclusions_are_item_ids_and_unknown_ids_are_ignored() {
    let (n, d) = (300, 8);
    let mut rng = Rng(2);
    let data = rng.normals(n * d);
    let ids = scrambled_ids(n);
    let index = ItemIndex::from_vectors(&ids, &data, d, ItemDtype::F32, None).expect("index");
    let (mut ws, mut out) = (SearchWorkspace::default(), Vec::new());
    let q = rng.normals(d);
    index.search(&q, 5, &[], &mut ws, &mut out).expect("search");
    // Exclude the 1st and 3rd hit, unsorted, with a repeat and an id the index lacks.
    let exclude = [out[2].id, -5, out[0].id, out[2].id];
    let mut rows = vec![out[0].index, out[2].index];
    rows.sort();
    index
        .search(&q, 5, &exclude, &mut ws, &mut out)
        .expect("search");
    assert_matches_reference(&out, &data, n, d, &q, 5, &rows);
    // Excluding all but two items leaves two hits.
    let all_but_two: Vec<i64> = ids[2..].to_vec();
    index
        .search(&q, 5, &all_but_two, &mut ws, &mut out)
        .expect("search");
    assert_eq!(out.iter().map(|h| h.index).collect::<Vec<_>>().len(), 2);
    // Batch exclusions: one list per query.
    let qs = [q.clone(), q.clone()].concat();
    let mut outs = Vec::new();
    index
        .search_batch(&qs, 2, 5, &[&exclude, &[]], &mut ws, &mut outs)
        .expect("batch");
    assert_matches_reference(&outs[0], &data, n, d, &q, 5, &rows);
    assert_matches_reference(&outs[1], &data, n, d, &q, 5, &[]);
    let bad = index.search_batch(&qs, 2, 5, &[&exclude], &mut ws, &mut outs);
    assert!(matches!(bad, Err(Error::BufferLength { .. })));
}

/// `Options::threads` / `set_threads`: an index big enough to split (more than two threads'
/// worth of groups) gives the one-thread hits, exclusions included, for 2 and 3 threads.
#[test]
fn threaded_searches_equal_one_thread() {
    use reckon::kernels::topk::MIN_GROUPS_PER_THREAD;
    let (n, d) = (3 * MIN_GROUPS_PER_THREAD * 64 + 17, 4);
    let mut rng = Rng(7);
    // Coarse values: many equal scores, so the tie rule is exercised across thread ranges.
    let data: Vec<f32> = (0..n * d).map(|_| (rng.u64() % 5) as f32 - 2.0).collect();
    let ids = scrambled_ids(n);
    let mut index = ItemIndex::from_vectors(&ids, &data, d, ItemDtype::F32, None).expect("index");
    let nq = 5;
    let qs: Vec<f32> = (0..nq * d).map(|_| (rng.u64() % 5) as f32 - 2.0).collect();
    let exclude: Vec<i64> = ids.iter().step_by(3).copied().collect();
    let excludes: Vec<&[i64]> = (0..nq).map(|_| exclude.as_slice()).collect();
    let (mut ws, mut out, mut outs) = (SearchWorkspace::default(), Vec::new(), Vec::new());
    let mut run = |index: &ItemIndex| {
        let singles: Vec<Vec<Hit>> = qs
            .chunks_exact(d)
            .map(|q| {
                index
                    .search(q, 100, &exclude, &mut ws, &mut out)
                    .expect("search");
                out.clone()
            })
            .collect();
        index
            .search_batch(&qs, nq, 100, &excludes, &mut ws, &mut outs)
            .expect("batch");
        (singles, outs.clone())
    };
    let one = run(&index);
    assert_eq!(one.0, one.1, "batch and single searches agree");
    for threads in [2, 3] {
        index.set_threads(threads);
        assert_eq!(index.threads(), threads);
        assert_eq!(run(&index), one, "{threads} threads");
    }
    index.set_threads(0);
    assert_eq!(index.threads(), 1, "0 means the caller's thread only");
}

#[test]
fn k_edges_and_bad_queries() {
    let (n, d) = (50, 4);
    let mut rng = Rng(3);
    let data = rng.normals(n * d);
    let ids: Vec<i64> = (0..n as i64).collect();
    let index = ItemIndex::from_vectors(&ids, &data, d, ItemDtype::F32, None)
        .expect("index")
        .with_ivf(&KmeansParams {
            nlist: 4,
            ..KmeansParams::default()
        })
        .expect("ivf");
    let (mut ws, mut out) = (SearchWorkspace::default(), Vec::new());
    let q = rng.normals(d);
    for k in [1, n] {
        index.search(&q, k, &[], &mut ws, &mut out).expect("search");
        assert_eq!(out.len(), k);
    }
    for k in [0, n + 1] {
        let e = index.search(&q, k, &[], &mut ws, &mut out);
        assert!(
            matches!(e, Err(Error::InvalidArgument { arg: "k", .. })),
            "k = {k}: {e:?}"
        );
        let e = index.search_ivf(&q, k, 2, &[], &mut ws, &mut out);
        assert!(
            matches!(e, Err(Error::InvalidArgument { arg: "k", .. })),
            "ivf k = {k}"
        );
        let mut outs = Vec::new();
        let e = index.search_batch(&q, 1, k, &[], &mut ws, &mut outs);
        assert!(
            matches!(e, Err(Error::InvalidArgument { arg: "k", .. })),
            "batch k = {k}"
        );
    }
    let e = index.search_ivf(&q, 3, 0, &[], &mut ws, &mut out);
    assert!(matches!(
        e,
        Err(Error::InvalidArgument { arg: "nprobe", .. })
    ));
    let e = index.search(&q[..3], 3, &[], &mut ws, &mut out);
    assert!(matches!(e, Err(Error::BufferLength { .. })));
    let e = index.search(&[0.0, f32::NAN, 0.0, 0.0], 3, &[], &mut ws, &mut out);
    assert!(matches!(e, Err(Error::NonFiniteInput { row: 0, col: 1 })));
    let plain = ItemIndex::from_vectors(&ids, &data, d, ItemDtype::F32, None).expect("index");
    let e = plain.search_ivf(&q, 3, 1, &[], &mut ws, &mut out);
    assert!(matches!(
        e,
        Err(Error::InvalidArgument { arg: "nprobe", .. })
    ));
}

#[test]
fn duplicate_ids_and_mismatched_lengths_are_typed_errors() {
    let e = ItemIndex::from_vectors(&[4, 9, 4], &[0.0; 6], 2, ItemDtype::F32, None);
    assert!(
        matches!(&e, Err(Error::BadTensorValue { tensor, .. }) if tensor == "ids"),
        "{e:?}"
    );
    let e = ItemIndex::from_vectors(&[1, 2], &[0.0; 5], 2, ItemDtype::F32, None);
    assert!(matches!(e, Err(Error::BufferLength { .. })));
    let e = ItemIndex::from_vectors(&[1, 2], &[0.0; 4], 2, ItemDtype::F32, Some(&[1]));
    assert!(matches!(e, Err(Error::BufferLength { .. })));
    let e = ItemIndex::from_vectors(&[], &[], 2, ItemDtype::F32, None);
    assert!(matches!(e, Err(Error::WrongShape { .. })));
}

fn index_bytes(ivf: bool) -> Vec<u8> {
    let mut rng = Rng(4);
    let (n, d) = (40, 6);
    let index = ItemIndex::from_vectors(
        &scrambled_ids(n),
        &rng.normals(n * d),
        d,
        ItemDtype::Bf16,
        None,
    )
    .expect("index");
    let index = if ivf {
        index
            .with_ivf(&KmeansParams {
                nlist: 3,
                ..KmeansParams::default()
            })
            .expect("ivf")
    } else {
        index
    };
    index.file().file_bytes().to_vec()
}

#[test]
fn truncated_or_corrupted_files_are_typed_errors() {
    let path = tmp("corrupt.safetensors");
    let good = index_bytes(true);
    std::fs::write(&path, &good).expect("write");
    ItemIndex::open(&path).expect("the intact file opens");
    for cut in [0, 4, 8, 20, good.len() / 2, good.len() - 1] {
        std::fs::write(&path, &good[..cut]).expect("write");
        let e = ItemIndex::open(&path);
        assert!(
            matches!(
                e,
                Err(Error::Truncated { .. }
                    | Error::HeaderSyntax { .. }
                    | Error::OffsetsOutOfRange { .. }
                    | Error::DataNotCovered { .. })
            ),
            "cut {cut}: {e:?}"
        );
    }
    let mut bad = good.clone();
    bad[9] = b'#'; // inside the JSON header
    std::fs::write(&path, &bad).expect("write");
    assert!(matches!(
        ItemIndex::open(&path),
        Err(Error::HeaderSyntax { .. })
    ));
    std::fs::remove_file(&path).ok();
    assert!(matches!(ItemIndex::open(&path), Err(Error::Io { .. })));
    // A model file is not an index.
    let e = ItemIndex::open("tests/fixtures/two_tower_default.safetensors");
    assert!(matches!(e, Err(Error::InvalidArgument { .. })));
}

/// An index file with the given IVF tensors (None = left out).
fn with_ivf_tensors(offsets: Option<&[i64]>, items: Option<&[i64]>) -> Result<ItemIndex, Error> {
    let mut w = SafetensorsWriter::new()
        .metadata("reckon.arch", "item_index")
        .tensor_i64("ids", &[4], &[10, 11, 12, 13])
        .tensor_f32(
            "vectors",
            &[4, 2],
            &[1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0],
        )
        .tensor_f32("ivf.centroids", &[2, 2], &[1.0, 1.0, -1.0, -1.0]);
    if let Some(o) = offsets {
        w = w.tensor_i64("ivf.list_offsets", &[o.len()], o);
    }
    if let Some(i) = items {
        w = w.tensor_i64("ivf.list_items", &[i.len()], i);
    }
    ItemIndex::from_file(
        Arc::new(WeightFile::from_bytes(w.to_bytes()?)?),
        &Options::default(),
    )
}

#[test]
fn malformed_ivf_lists_are_typed_errors() {
    with_ivf_tensors(Some(&[0, 2, 4]), Some(&[0, 1, 2, 3])).expect("valid lists");
    let bad_value = |o: &[i64], i: &[i64]| {
        matches!(
            with_ivf_tensors(Some(o), Some(i)),
            Err(Error::BadTensorValue { .. })
        )
    };
    assert!(bad_value(&[0, 3, 2], &[0, 1, 2, 3]), "decreasing offsets");
    assert!(
        bad_value(&[1, 2, 4], &[0, 1, 2, 3]),
        "offsets not starting at 0"
    );
    assert!(
        bad_value(&[0, 2, 3], &[0, 1, 2, 3]),
        "offsets not ending at N"
    );
    assert!(bad_value(&[0, 2, 4], &[0, 1, 1, 3]), "row twice");
    assert!(bad_value(&[0, 2, 4], &[0, 1, 2, 9]), "row out of range");
    assert!(bad_value(&[0, 2, 4], &[1, 0, 2, 3]), "unsorted list");
    assert!(matches!(
        with_ivf_tensors(Some(&[0, 4]), Some(&[0, 1, 2, 3])),
        Err(Error::WrongShape { .. })
    ));
    assert!(matches!(
        with_ivf_tensors(None, Some(&[0, 1, 2, 3])),
        Err(Error::MissingTensor { .. })
    ));
}

#[test]
fn ivf_probing_every_list_equals_exact() {
    let (n, d) = (2000, 16);
    let mut rng = Rng(5);
    let data = mixture(&mut rng, n, d, 20, 0.5);
    for dtype in [ItemDtype::F32, ItemDtype::Bf16] {
        let index = ItemIndex::from_vectors(&scrambled_ids(n), &data, d, dtype, None)
            .expect("index")
            .with_ivf(&KmeansParams {
                nlist: 30,
                ..KmeansParams::default()
            })
            .expect("ivf");
        let info = index.ivf_info().expect("ivf lists");
        assert_eq!(info.nlist, 30);
        let (mut ws, mut exact, mut approx) = (SearchWorkspace::default(), Vec::new(), Vec::new());
        for i in 0..10 {
            let q = rng.normals(d);
            let ex = [index.ids()[i * 7], index.ids()[i * 11 + 1]];
            index
                .search(&q, 50, &ex, &mut ws, &mut exact)
                .expect("exact");
            index
                .search_ivf(&q, 50, 30, &ex, &mut ws, &mut approx)
                .expect("ivf");
            assert_eq!(approx, exact, "{dtype:?} query {i}");
            index
                .search_ivf(&q, 50, 1000, &ex, &mut ws, &mut approx)
                .expect("nprobe > nlist");
            assert_eq!(approx, exact);
        }
    }
}

#[test]
fn ivf_recall_on_a_gaussian_mixture() {
    // 20k items in 100 clusters: nprobe 8 of the default 566 lists must reach recall@100 ≥ 0.95
    // for queries drawn from the same mixture (uniform data would defeat any IVF; SPEC §7).
    const MIN_RECALL: f64 = 0.95;
    let (n, d) = (20_000, 32);
    let mut rng = Rng(6);
    let all = mixture(&mut rng, n + 50, d, 100, 0.3);
    let (data, queries) = all.split_at(n * d);
    let ids: Vec<i64> = (0..n as i64).collect();
    let index = ItemIndex::from_vectors(&ids, data, d, ItemDtype::F32, None)
        .expect("index")
        .with_ivf(&KmeansParams::default())
        .expect("ivf");
    let (mut ws, mut exact, mut approx) = (SearchWorkspace::default(), Vec::new(), Vec::new());
    let mut sum = 0.0;
    for q in queries.chunks_exact(d) {
        index
            .search(q, 100, &[], &mut ws, &mut exact)
            .expect("exact");
        index
            .search_ivf(q, 100, 8, &[], &mut ws, &mut approx)
            .expect("ivf");
        sum += recall_at_k(&approx, &exact);
    }
    let recall = sum / 50.0;
    assert!(recall >= MIN_RECALL, "recall@100 at nprobe 8: {recall}");
}

#[test]
fn build_from_model_round_trips_and_matches_the_item_tower() {
    let Model::TwoTower(model) = Model::open(
        "tests/fixtures/two_tower_default.safetensors",
        &Options::default(),
    )
    .expect("model") else {
        panic!("fixture is a two-tower model");
    };
    let n = model.vocab(Tower::Item);
    let d = model.dim();
    let ids: Vec<i64> = (0..n as i64).collect();
    let category: Vec<i64> = ids.iter().map(|i| i % 5).collect();
    let mut done = 0;
    let built = ItemIndex::build_from_model_with_progress(
        &model,
        &ids,
        ItemDtype::F32,
        Some(&category),
        &mut |k| done = k,
    )
    .expect("build");
    assert_eq!(done, n);
    let path = tmp("tower.safetensors");
    built.save(&path).expect("save");
    let index = ItemIndex::open(&path).expect("reopen");
    assert_eq!(
        (index.len(), index.dim(), index.dtype()),
        (n, d, ItemDtype::F32)
    );
    assert_eq!(index.ids(), &ids[..]);
    assert_eq!(index.categories(), Some(&category[..]));
    let mut expected = vec![0.0; n * d];
    model
        .embed(
            Tower::Item,
            &ids,
            &mut expected,
            &mut TwoTowerWorkspace::default(),
        )
        .expect("embed");
    let mut row = vec![0.0; d];
    for i in 0..n {
        index.vector(i as u32, &mut row).expect("row");
        assert_eq!(row, &expected[i * d..(i + 1) * d], "item {i}");
    }
    // A user's top item is its best dot product.
    let mut user = vec![0.0; d];
    model
        .embed(
            Tower::User,
            &[3],
            &mut user,
            &mut TwoTowerWorkspace::default(),
        )
        .expect("user");
    let (mut ws, mut out) = (SearchWorkspace::default(), Vec::new());
    index
        .search(&user, 10, &[], &mut ws, &mut out)
        .expect("search");
    assert_matches_reference(&out, &expected, n, d, &user, 10, &[]);
    std::fs::remove_file(&path).ok();
    let half = ItemIndex::build_from_model(&model, &ids[..10], ItemDtype::F16, None).expect("f16");
    assert_eq!(
        (half.len(), half.dtype(), half.categories()),
        (10, ItemDtype::F16, None)
    );
}

#[test]
fn cli_index_build_and_eval_on_the_demo_model() {
    let bin = env!("CARGO_BIN_EXE_reckon");
    let path = tmp("demo_index.safetensors");
    let out = Command::new(bin)
        .args(["index", "build", "weights/demo/two_tower.safetensors", "-o"])
        .arg(&path)
        .args(["--dtype", "bf16", "--ivf", "16"])
        .output()
        .expect("run reckon");
    assert!(
        out.status.success(),
        "build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index = ItemIndex::open(&path).expect("built index opens");
    assert_eq!(index.dtype(), ItemDtype::Bf16);
    assert_eq!(index.ivf_info().map(|i| i.nlist), Some(16));
    let out = Command::new(bin)
        .args(["index", "eval"])
        .arg(&path)
        .args(["--queries", "20", "--k", "10", "--nprobe", "1,16"])
        .output()
        .expect("run reckon");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "eval: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("recall@10"), "{text}");
    // nprobe = nlist scans every list: recall exactly 1.
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("16") && l.contains("1.0000")),
        "{text}"
    );
    let out = Command::new(bin)
        .args(["index", "eval"])
        .arg(&path)
        .args(["--k", "0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    std::fs::remove_file(&path).ok();
}
