//! The recommendation pipeline on the demo models: user → retrieval → ranker → MMR.

use std::path::{Path, PathBuf};

use reckon::kernels::topk::ItemDtype;
use reckon::models::Model;
use reckon::pipelines::recommend::{
    MmrConfig, RecommendConfig, RecommendWorkspace, Recommendation, Recommender,
};
use reckon::pipelines::retrieval::ItemIndex;
use reckon::weights::Container;
use reckon::{Error, Options};

fn demo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("weights/demo")
        .join(name)
}

fn clusters() -> (Vec<i64>, Vec<i64>) {
    let bytes = std::fs::read(demo("requests/two_tower.safetensors")).expect("requests");
    let c = Container::parse(&bytes).expect("parse");
    let get = |n: &str| c.tensor(n).expect(n).as_i64().expect("i64").into_owned();
    (get("user_cluster"), get("item_cluster"))
}

fn recommender(config: RecommendConfig) -> Recommender {
    let towers = Model::open(demo("two_tower.safetensors"), &Options::default()).expect("towers");
    let ranker = Model::open(demo("ranker.safetensors"), &Options::default()).expect("ranker");
    let Model::TwoTower(tt) = &towers else {
        panic!("two_tower")
    };
    let (_, item_cluster) = clusters();
    let ids: Vec<i64> = (0..tt.vocab(reckon::models::Tower::Item) as i64).collect();
    let index =
        ItemIndex::build_from_model(tt, &ids, ItemDtype::F32, Some(&item_cluster)).expect("index");
    Recommender::new(towers, index, ranker, config).expect("recommender")
}

fn recommend(r: &Recommender, user: i64, exclude: &[i64]) -> reckon::Result<Vec<Recommendation>> {
    let mut out = Vec::new();
    let context = vec![0.0, 1.0, 1.0, 0.0];
    r.recommend_user(
        user,
        &context,
        exclude,
        &mut RecommendWorkspace::default(),
        &mut out,
    )?;
    Ok(out)
}

#[test]
fn recommendations_are_top_n_distinct_and_mostly_from_the_users_cluster() {
    let r = recommender(RecommendConfig::default());
    assert_eq!(r.context_width(), Some(4));
    let (user_cluster, _) = clusters();
    let mut in_cluster = 0;
    let mut total = 0;
    for user in [0i64, 7, 99, 1234, 1999] {
        let recs = recommend(&r, user, &[]).expect("recommend");
        assert_eq!(recs.len(), 20);
        let mut ids: Vec<i64> = recs.iter().map(|x| x.item_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 20, "duplicate items");
        for x in &recs {
            assert!(x.score.is_finite() && (0.0..=6.0).contains(&x.score));
            assert!((0.0..=1.0).contains(&x.p_click));
            total += 1;
            in_cluster += (x.category == Some(user_cluster[user as usize])) as usize;
        }
    }
    assert!(
        in_cluster * 2 > total,
        "only {in_cluster}/{total} recommendations from the user's own cluster"
    );
}

#[test]
fn lambda_one_orders_by_ranker_score_and_exclusions_are_respected() {
    let config = RecommendConfig {
        mmr: MmrConfig {
            lambda: 1.0,
            per_category_cap: None,
        },
        ..RecommendConfig::default()
    };
    let r = recommender(config);
    let first = recommend(&r, 42, &[]).expect("recommend");
    assert!(first.windows(2).all(|w| w[0].score >= w[1].score));
    let excluded: Vec<i64> = first.iter().take(5).map(|x| x.item_id).collect();
    let second = recommend(&r, 42, &excluded).expect("recommend");
    assert!(second.iter().all(|x| !excluded.contains(&x.item_id)));
}

#[test]
fn category_cap_limits_items_per_category() {
    let config = RecommendConfig {
        mmr: MmrConfig {
            lambda: 0.7,
            per_category_cap: Some(3),
        },
        ..RecommendConfig::default()
    };
    let r = recommender(config);
    let recs = recommend(&r, 3, &[]).expect("recommend");
    let mut counts = std::collections::HashMap::new();
    for x in &recs {
        *counts.entry(x.category).or_insert(0) += 1;
    }
    assert!(counts.values().all(|&n| n <= 3), "{counts:?}");
}

#[test]
fn a_category_cap_needs_an_index_with_categories() {
    let towers = Model::open(demo("two_tower.safetensors"), &Options::default()).expect("towers");
    let ranker = Model::open(demo("ranker.safetensors"), &Options::default()).expect("ranker");
    let Model::TwoTower(tt) = &towers else {
        panic!("two_tower")
    };
    let ids: Vec<i64> = (0..tt.vocab(reckon::models::Tower::Item) as i64).collect();
    let index = ItemIndex::build_from_model(tt, &ids, ItemDtype::F32, None).expect("index");
    let config = RecommendConfig {
        mmr: MmrConfig {
            lambda: 0.7,
            per_category_cap: Some(3),
        },
        ..RecommendConfig::default()
    };
    match Recommender::new(towers, index, ranker, config) {
        Err(Error::InvalidArgument {
            arg: "config",
            reason,
        }) => {
            assert!(reason.contains("categories"), "{reason}")
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn bad_requests_are_typed_errors() {
    let r = recommender(RecommendConfig::default());
    assert!(
        matches!(recommend(&r, 2000, &[]), Err(Error::IdOutOfRange { .. })),
        "unknown user"
    );
    assert!(matches!(
        recommend(&r, -1, &[]),
        Err(Error::IdOutOfRange { .. })
    ));
    let mut out = Vec::new();
    let err = r.recommend_user(
        1,
        &[0.0; 3],
        &[],
        &mut RecommendWorkspace::default(),
        &mut out,
    );
    assert!(matches!(
        err,
        Err(Error::BufferLength { arg: "context", .. })
    ));
    let user = vec![f32::NAN; 32];
    assert!(r
        .recommend_vector(
            &user,
            &[0.0; 4],
            &[],
            &mut RecommendWorkspace::default(),
            &mut out
        )
        .is_err());
}

#[test]
fn mismatched_pieces_are_refused() {
    let towers =
        || Model::open(demo("two_tower.safetensors"), &Options::default()).expect("towers");
    let ranker = Model::open(demo("ranker.safetensors"), &Options::default()).expect("ranker");
    let index =
        ItemIndex::from_vectors(&[1, 2], &[0.0; 16], 8, ItemDtype::F32, None).expect("index");
    assert!(Recommender::new(towers(), index, ranker, RecommendConfig::default()).is_err());
    let ltr = Model::open(demo("ltr.safetensors"), &Options::default()).expect("ltr");
    let index =
        ItemIndex::from_vectors(&[1, 2], &[0.0; 64], 32, ItemDtype::F32, None).expect("index");
    assert!(Recommender::new(towers(), index, ltr, RecommendConfig::default()).is_err());
    let ranker = Model::open(demo("ranker.safetensors"), &Options::default()).expect("ranker");
    let index =
        ItemIndex::from_vectors(&[1, 2], &[0.0; 64], 32, ItemDtype::F32, None).expect("index");
    let zero = RecommendConfig {
        top_n: 0,
        ..RecommendConfig::default()
    };
    assert!(Recommender::new(towers(), index, ranker, zero).is_err());
}

#[test]
fn fewer_items_than_retrieve_k_still_works() {
    let towers = Model::open(demo("two_tower.safetensors"), &Options::default()).expect("towers");
    let ranker = Model::open(demo("ranker.safetensors"), &Options::default()).expect("ranker");
    let Model::TwoTower(tt) = &towers else {
        panic!()
    };
    let index = ItemIndex::build_from_model(tt, &[5, 6, 7], ItemDtype::Bf16, None).expect("index");
    let r =
        Recommender::new(towers, index, ranker, RecommendConfig::default()).expect("recommender");
    let recs = recommend(&r, 1, &[]).expect("recommend");
    assert_eq!(recs.len(), 3);
}
