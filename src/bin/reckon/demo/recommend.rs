//! Retrieval and recommendation: 10k items indexed by the item tower (exact and IVF), one user's
//! retrieved and re-ranked items, and recall of IVF against exact search.

use std::io::Write;
use std::path::Path;

use reckon::kernels::topk::ItemDtype;
use reckon::models::{Model, Tower, TwoTowerWorkspace};
use reckon::pipelines::recommend::{RecommendConfig, RecommendWorkspace, Recommender};
use reckon::pipelines::retrieval::{recall_at_k, ItemIndex, KmeansParams, SearchWorkspace};
use reckon::Options;

use super::{heading, Latencies, Requests};
use crate::Failure;

pub fn run(
    dir: &Path,
    requests: usize,
    lat: &mut Latencies,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    heading(
        out,
        "Retrieval + recommendation (two_tower → item index → ranker → MMR)",
    )?;
    let towers = Model::open(dir.join("two_tower.safetensors"), &Options::default())?;
    let ranker = Model::open(dir.join("ranker.safetensors"), &Options::default())?;
    let Model::TwoTower(tt) = &towers else {
        return Err(Failure::Usage(
            "two_tower.safetensors is not a two_tower model".into(),
        ));
    };
    let req = Requests::open(dir, "two_tower.safetensors")?;
    let (user_cluster, item_cluster) = (req.i64s("user_cluster")?, req.i64s("item_cluster")?);
    let n_items = tt.vocab(Tower::Item);
    let ids: Vec<i64> = (0..n_items as i64).collect();
    let exact = lat.time("index build: item tower over all items", || {
        ItemIndex::build_from_model(tt, &ids, ItemDtype::F32, Some(&item_cluster))
    })?;
    // √N lists: at 10k items the default 4·√N would leave lists of 25 items, too small to scan fast.
    let params = KmeansParams {
        nlist: (n_items as f64).sqrt() as usize,
        ..KmeansParams::default()
    };
    let index = lat.time("index build: IVF k-means", || exact.with_ivf(&params))?;
    let nlist = index.ivf_info().map_or(0, |i| i.nlist);
    writeln!(out, "  {n_items} items, {}-d vectors, IVF with {nlist} lists; clusters: 20 (users prefer their own)", tt.dim())?;

    // Recall of IVF against exact search, over sampled users.
    let (mut sw, mut tw) = (SearchWorkspace::default(), TwoTowerWorkspace::default());
    let (mut user, mut exact_hits, mut ivf_hits) = (vec![0f32; tt.dim()], Vec::new(), Vec::new());
    let nprobe = (nlist / 12).max(1);
    let mut recall = 0.0;
    let users: Vec<i64> = (0..requests as i64)
        .map(|i| (i * 7919) % user_cluster.len() as i64)
        .collect();
    for &u in &users {
        lat.time("user tower (1 user)", || {
            tt.embed(Tower::User, &[u], &mut user, &mut tw)
        })?;
        lat.time("retrieval: exact top-100", || {
            index.search(&user, 100, &[], &mut sw, &mut exact_hits)
        })?;
        lat.time(&format!("retrieval: IVF top-100 (nprobe {nprobe})"), || {
            index.search_ivf(&user, 100, nprobe, &[], &mut sw, &mut ivf_hits)
        })?;
        recall += recall_at_k(&ivf_hits, &exact_hits);
    }
    writeln!(
        out,
        "  IVF recall@100 vs exact at nprobe {nprobe}: {:.3} ({} users)",
        recall / users.len() as f64,
        users.len()
    )?;

    let config = RecommendConfig {
        nprobe: Some(nprobe),
        ..RecommendConfig::default()
    };
    let rec = Recommender::new(towers, index, ranker, config)?;
    let context = [0.0f32, 1.0, 1.0, 0.0]; // hour_sin, hour_cos (midnight), is_mobile, position
    let (mut ws, mut recs) = (RecommendWorkspace::default(), Vec::new());
    for &u in &users {
        lat.time("recommend: full request (100 → 20)", || {
            rec.recommend_user(u, &context, &[], &mut ws, &mut recs)
        })?;
    }
    let u = users[1];
    rec.recommend_user(u, &context, &[], &mut ws, &mut recs)?;
    writeln!(
        out,
        "  user {u} (cluster {}): top 10 of 20 after ranking and MMR (λ = {})",
        user_cluster[u as usize], config.mmr.lambda
    )?;
    writeln!(
        out,
        "  {:>6} {:>7} {:>9} {:>8} {:>8} {:>8} {:>7} {:>7}",
        "item", "cluster", "retrieval", "p_click", "p_engage", "p_share", "score", "mmr"
    )?;
    for r in recs.iter().take(10) {
        writeln!(
            out,
            "  {:>6} {:>7} {:>9.3} {:>8.3} {:>8.3} {:>8.3} {:>7.3} {:>7.3}",
            r.item_id,
            r.category.unwrap_or(-1),
            r.retrieval_score,
            r.p_click,
            r.p_engage,
            r.p_share,
            r.score,
            r.mmr_score
        )?;
    }
    let own = recs
        .iter()
        .filter(|r| r.category == Some(user_cluster[u as usize]))
        .count();
    writeln!(
        out,
        "  {own} of {} recommendations come from the user's own cluster (1 in 20 by chance)",
        recs.len()
    )?;
    Ok(())
}
