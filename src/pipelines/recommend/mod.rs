//! Recommendation (SPEC §4.2): user → retrieval top-K → per-candidate features → ranker →
//! weighted score → MMR re-rank (optional per-category cap) → top-N with every score kept.
//!
//! Default features are `[u, v, u⊙v, context]` (u the user vector, v the item vector, context
//! the caller's per-request features), so the ranker must take `3·D + C` columns. Callers with
//! their own feature rows use [`Recommender::retrieve`] then [`Recommender::rank`].

pub mod mmr;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::models::{DenseModel, DenseWorkspace, Model, Tower, TwoTower, TwoTowerWorkspace};
use crate::pipelines::retrieval::{Hit, ItemIndex, SearchWorkspace};
use crate::weights::Arch;

pub use mmr::{mmr_select, MmrConfig, MmrWorkspace};

/// Request-independent settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecommendConfig {
    /// Candidates retrieved (the seed: 1M items → 100).
    pub retrieve_k: usize,
    /// Items returned after re-ranking (the seed: 100 → 20).
    pub top_n: usize,
    /// IVF lists probed; `None` searches exactly.
    pub nprobe: Option<usize>,
    /// Diversity re-ranking.
    pub mmr: MmrConfig,
}

impl Default for RecommendConfig {
    fn default() -> Self {
        RecommendConfig {
            retrieve_k: 100,
            top_n: 20,
            nprobe: None,
            mmr: MmrConfig::default(),
        }
    }
}

/// One recommended item with every score that led to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recommendation {
    /// Item id.
    pub item_id: i64,
    /// Dot product of user and item vectors (retrieval).
    pub retrieval_score: f32,
    /// Ranker heads.
    pub p_click: f32,
    /// Ranker heads.
    pub p_engage: f32,
    /// Ranker heads.
    pub p_share: f32,
    /// Weighted ranker score `Σ wᵢ·pᵢ`.
    pub score: f32,
    /// Marginal MMR score when picked.
    pub mmr_score: f32,
    /// Item category, if the index has categories.
    pub category: Option<i64>,
}

/// Per-thread scratch; a warmed-up request reuses every buffer.
#[derive(Debug, Default)]
pub struct RecommendWorkspace {
    user: Vec<f32>,
    hits: Vec<Hit>,
    search: SearchWorkspace,
    vectors: Vec<f32>,
    features: Vec<f32>,
    ranked: Vec<f32>,
    scores: Vec<f32>,
    categories: Vec<i64>,
    picked: Vec<usize>,
    mmr: Vec<f32>,
    mmr_ws: MmrWorkspace,
    towers: TwoTowerWorkspace,
    ranker: DenseWorkspace,
}

/// The whole recommendation system over one user tower, one item index and one ranker.
#[derive(Debug)]
pub struct Recommender {
    /// Always `Model::TwoTower` (checked by `new_shared`); shared so the C ABI's handles can
    /// be freed in any order.
    towers: Arc<Model>,
    index: Arc<ItemIndex>,
    /// Always a ranker `Model::Dense` (checked by `new_shared`).
    ranker: Arc<Model>,
    config: RecommendConfig,
}

impl Recommender {
    /// Checks that the pieces fit: a two-tower model whose vectors have the index's width, and a
    /// ranker taking at least `3·D` columns (the rest are context).
    pub fn new(
        towers: Model,
        index: ItemIndex,
        ranker: Model,
        config: RecommendConfig,
    ) -> Result<Recommender> {
        Self::new_shared(Arc::new(towers), Arc::new(index), Arc::new(ranker), config)
    }

    /// As [`new`](Self::new), sharing models and index that others also hold.
    pub fn new_shared(
        towers: Arc<Model>,
        index: Arc<ItemIndex>,
        ranker: Arc<Model>,
        config: RecommendConfig,
    ) -> Result<Recommender> {
        let Model::TwoTower(tt) = towers.as_ref() else {
            return Err(wrong_arch("towers", towers.arch(), "two_tower"));
        };
        match ranker.as_ref() {
            Model::Dense(m) if m.arch() == Arch::Ranker => {}
            other => return Err(wrong_arch("ranker", other.arch(), "ranker")),
        }
        if tt.dim() != index.dim() {
            return Err(Error::InvalidArgument {
                arg: "index",
                reason: format!(
                    "index vectors have width {}, the towers produce {}",
                    index.dim(),
                    tt.dim()
                ),
            });
        }
        if config.retrieve_k == 0 || config.top_n == 0 {
            return Err(Error::InvalidArgument {
                arg: "config",
                reason: "retrieve_k and top_n must be at least 1".into(),
            });
        }
        // A cap the index cannot apply would be dropped without a word: refuse it instead.
        if config.mmr.per_category_cap.is_some() && index.categories().is_none() {
            return Err(Error::InvalidArgument {
                arg: "config",
                reason:
                    "per_category_cap needs an index with item categories, and this one has none"
                        .into(),
            });
        }
        Ok(Recommender {
            towers,
            index,
            ranker,
            config,
        })
    }

    fn towers(&self) -> &TwoTower {
        match self.towers.as_ref() {
            Model::TwoTower(t) => t,
            _ => unreachable!("new_shared accepts only two_tower models"),
        }
    }

    fn ranker(&self) -> &DenseModel {
        match self.ranker.as_ref() {
            Model::Dense(m) => m,
            _ => unreachable!("new_shared accepts only ranker models"),
        }
    }

    /// Context columns the default features end with (`ranker inputs − 3·D`), if the ranker
    /// takes default features at all.
    pub fn context_width(&self) -> Option<usize> {
        self.ranker().in_cols().checked_sub(3 * self.towers().dim())
    }

    /// The item index.
    pub fn index(&self) -> &ItemIndex {
        &self.index
    }

    /// The settings.
    pub fn config(&self) -> RecommendConfig {
        self.config
    }

    /// Full request for a known user id: embed, retrieve, rank with default features, re-rank.
    pub fn recommend_user(
        &self,
        user_id: i64,
        context: &[f32],
        exclude: &[i64],
        ws: &mut RecommendWorkspace,
        out: &mut Vec<Recommendation>,
    ) -> Result<()> {
        let mut user = std::mem::take(&mut ws.user);
        user.resize(self.towers().dim(), 0.0);
        let embedded = self
            .towers()
            .embed(Tower::User, &[user_id], &mut user, &mut ws.towers);
        let result = embedded.and_then(|_| self.recommend_vector(&user, context, exclude, ws, out));
        ws.user = user;
        result
    }

    /// Full request for a user vector (e.g. computed elsewhere or cached).
    pub fn recommend_vector(
        &self,
        user: &[f32],
        context: &[f32],
        exclude: &[i64],
        ws: &mut RecommendWorkspace,
        out: &mut Vec<Recommendation>,
    ) -> Result<()> {
        let d = self.towers().dim();
        let c = self.context_width().ok_or_else(|| Error::InvalidArgument {
            arg: "ranker",
            reason: format!(
                "takes {} columns, fewer than [u, v, u⊙v] = {}",
                self.ranker().in_cols(),
                3 * d
            ),
        })?;
        if context.len() != c {
            return Err(Error::BufferLength {
                op: "recommend",
                arg: "context",
                expected: c,
                actual: context.len(),
            });
        }
        let mut hits = std::mem::take(&mut ws.hits);
        let result = self.retrieve(user, exclude, ws, &mut hits).and_then(|_| {
            let cols = 3 * d + c;
            ws.features.clear();
            ws.features.resize(hits.len() * cols, 0.0);
            for (row, v) in ws
                .features
                .chunks_exact_mut(cols)
                .zip(ws.vectors.chunks_exact(d))
            {
                let (uvp, ctx) = row.split_at_mut(3 * d);
                uvp[..d].copy_from_slice(user);
                uvp[d..2 * d].copy_from_slice(v);
                for ((p, a), b) in uvp[2 * d..].iter_mut().zip(user).zip(v) {
                    *p = a * b;
                }
                ctx.copy_from_slice(context);
            }
            let features = std::mem::take(&mut ws.features);
            let ranked = self.rank(&hits, &features, ws, out);
            ws.features = features;
            ranked
        });
        ws.hits = hits;
        result
    }

    /// Stage 1 alone: the `retrieve_k` nearest items to `user` (exact, or IVF with `nprobe`),
    /// skipping `exclude`. Their vectors are kept in `ws` for [`rank`](Self::rank).
    pub fn retrieve(
        &self,
        user: &[f32],
        exclude: &[i64],
        ws: &mut RecommendWorkspace,
        hits: &mut Vec<Hit>,
    ) -> Result<()> {
        let k = self.config.retrieve_k.min(self.index.len());
        match self.config.nprobe {
            None => self.index.search(user, k, exclude, &mut ws.search, hits)?,
            Some(nprobe) => {
                self.index
                    .search_ivf(user, k, nprobe, exclude, &mut ws.search, hits)?
            }
        }
        let d = self.index.dim();
        ws.vectors.resize(hits.len() * d, 0.0);
        for (h, v) in hits.iter().zip(ws.vectors.chunks_exact_mut(d)) {
            self.index.vector(h.index, v)?;
        }
        Ok(())
    }

    /// Stages 2–3 on retrieved `hits` with the caller's feature rows (`hits.len() × ranker
    /// inputs`): score, then MMR re-rank into at most `top_n` recommendations.
    pub fn rank(
        &self,
        hits: &[Hit],
        features: &[f32],
        ws: &mut RecommendWorkspace,
        out: &mut Vec<Recommendation>,
    ) -> Result<()> {
        out.clear();
        let n = hits.len();
        let d = self.index.dim();
        if ws.vectors.len() != n * d {
            return Err(Error::BufferLength {
                op: "rank",
                arg: "hits (call retrieve first)",
                expected: ws.vectors.len() / d.max(1),
                actual: n,
            });
        }
        ws.ranked.resize(n * 4, 0.0);
        self.ranker()
            .predict(features, n, &mut ws.ranked, &mut ws.ranker)?;
        ws.scores.clear();
        ws.scores.extend(ws.ranked.chunks_exact(4).map(|r| r[3]));
        let categories = match self.index.categories() {
            Some(all) => {
                ws.categories.clear();
                ws.categories
                    .extend(hits.iter().map(|h| all[h.index as usize]));
                Some(ws.categories.as_slice())
            }
            None => None,
        };
        mmr_select(
            &ws.scores,
            &ws.vectors,
            d,
            categories,
            self.config.top_n,
            self.config.mmr,
            &mut ws.picked,
            &mut ws.mmr,
            &mut ws.mmr_ws,
        )?;
        out.extend(ws.picked.iter().zip(&ws.mmr).map(|(&i, &m)| {
            let r = &ws.ranked[i * 4..i * 4 + 4];
            Recommendation {
                item_id: hits[i].id,
                retrieval_score: hits[i].score,
                p_click: r[0],
                p_engage: r[1],
                p_share: r[2],
                score: r[3],
                mmr_score: m,
                category: categories.map(|c| c[i]),
            }
        }));
        Ok(())
    }
}

fn wrong_arch(arg: &'static str, got: Arch, want: &str) -> Error {
    Error::InvalidArgument {
        arg,
        reason: format!("expected a {want} model, got {got}"),
    }
}
