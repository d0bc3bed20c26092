//! Search: tokenising (Unicode), query understanding on token boundaries, lexicon files, and
//! LTR ranking of caller rows, including every refusal.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reckon::metrics::{mean_over_queries, RankingMetric};
use reckon::pipelines::search::{
    tokenize, Entity, Intent, Lexicons, QueryParser, QueryType, SearchRanker,
};
use reckon::weights::Container;
use reckon::{Error, Model, Options, Workspace};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn invalid<T: std::fmt::Debug>(r: reckon::Result<T>, arg: &str) -> String {
    match r {
        Err(Error::InvalidArgument { arg: a, reason }) if a == arg => reason,
        other => panic!("expected InvalidArgument({arg}), got {other:?}"),
    }
}

fn brand(value: &str, span: std::ops::Range<usize>) -> Entity {
    Entity {
        kind: "brand".into(),
        value: value.into(),
        token_span: span,
    }
}

fn parser_with(json: &str) -> QueryParser {
    QueryParser::new(Lexicons::from_json(json).unwrap()).unwrap()
}

// ---- tokenising -------------------------------------------------------------------------------

#[test]
fn tokenize_is_unicode_aware() {
    assert_eq!(tokenize("Ünïcödé Straße"), ["ünïcödé", "straße"]);
    assert_eq!(tokenize("ΣΟΦΟΣ"), ["σοφος"]); // full mapping, final sigma included
    assert_eq!(tokenize("iPhone-15 Pro!"), ["iphone", "15", "pro"]);
    assert_eq!(tokenize("apple🍎juice"), ["apple", "juice"]); // symbols separate
    assert_eq!(
        tokenize("  tabs\tand\nnewlines  "),
        ["tabs", "and", "newlines"]
    );
    // No segmentation of scripts written without spaces: one token per run.
    assert_eq!(tokenize("東京タワー"), ["東京タワー"]);
    assert_eq!(tokenize("東京 タワー、夜景"), ["東京", "タワー", "夜景"]); // ideographic comma separates
                                                                           // Combining marks and Indic signs stay inside their word.
    assert_eq!(tokenize("cafe\u{301} noir"), ["cafe\u{301}", "noir"]);
    assert_eq!(tokenize("नमस्ते दुनिया"), ["नमस्ते", "दुनिया"]);
    assert_eq!(tokenize("नमस्ते। दुनिया"), ["नमस्ते", "दुनिया"]); // the danda is punctuation
    assert_eq!(tokenize("\u{301}x"), ["x"]); // a mark cannot start a token
    assert_eq!(tokenize("ไม่ ดี"), ["ไม่", "ดี"]); // Thai tone marks are not alphabetic
    assert!(tokenize("").is_empty());
    assert!(tokenize(" ?! — ").is_empty());
}

// ---- query understanding ------------------------------------------------------------------------

#[test]
fn seed_example_query() {
    let q = QueryParser::default()
        .parse("buy cheap apple iphone")
        .unwrap();
    assert_eq!(q.original, "buy cheap apple iphone");
    assert_eq!(q.tokens, ["buy", "cheap", "apple", "iphone"]);
    assert_eq!(q.filtered_tokens, q.tokens);
    assert_eq!(q.intent, Intent::Transactional);
    assert_eq!(q.entities, [brand("apple", 2..3)]);
    assert_eq!(q.query_type, QueryType::Tail);
    assert_eq!(
        (q.intent.as_str(), q.query_type.as_str()),
        ("transactional", "tail")
    );
}

#[test]
fn entities_match_whole_words_only() {
    let p = QueryParser::default();
    let q = p.parse("pineapple juice").unwrap();
    assert!(q.entities.is_empty(), "{:?}", q.entities);
    assert_eq!(
        (q.intent, q.query_type),
        (Intent::Navigational, QueryType::Torso)
    );
    assert_eq!(
        p.parse("Apple iPhone").unwrap().entities,
        [brand("apple", 0..1)]
    );
    assert_eq!(p.parse("APPLE").unwrap().query_type, QueryType::Head);
    assert_eq!(
        p.parse("sony-walkman").unwrap().entities,
        [brand("sony", 0..1)]
    );
    assert!(p.parse("sonyericsson").unwrap().entities.is_empty());
    // Each occurrence is reported, in order.
    assert_eq!(
        p.parse("apple vs samsung vs apple").unwrap().entities,
        [
            brand("apple", 0..1),
            brand("samsung", 2..3),
            brand("apple", 4..5)
        ]
    );
}

#[test]
fn intent_keywords_match_tokens_in_priority_order() {
    let p = QueryParser::default();
    let intent = |q: &str| p.parse(q).unwrap().intent;
    assert_eq!(intent("how to fix a sony tv"), Intent::Informational);
    assert_eq!(intent("What price?"), Intent::Transactional); // transactional is checked first
    assert_eq!(intent("buyer reviews"), Intent::Navigational); // the seed's substring match says transactional
    assert_eq!(intent("showroom"), Intent::Navigational); // contains "how"
    assert_eq!(intent("nike"), Intent::Navigational);
    let q = p.parse("how to fix a sony tv").unwrap();
    assert_eq!(q.filtered_tokens, ["how", "fix", "sony", "tv"]);
    assert_eq!(q.query_type, QueryType::Tail);
    assert_eq!(q.entities, [brand("sony", 4..5)]);
}

#[test]
fn phrases_match_on_token_boundaries() {
    let p = parser_with(
        r#"{
        "informational": ["how to"],
        "entities": { "brand": ["New Balance", "balance", "The North Face", "Škoda"] }
    }"#,
    );
    let q = p.parse("New Balance running shoes").unwrap();
    assert_eq!(q.entities, [brand("new balance", 0..2)]); // longest wins, no nested "balance"
    assert_eq!(
        p.parse("balance new").unwrap().entities,
        [brand("balance", 0..1)]
    );
    // Stop words inside a phrase still match ("the" is a default stop word).
    let q = p.parse("the north face jacket").unwrap();
    assert_eq!(q.entities, [brand("the north face", 0..3)]);
    assert_eq!(q.filtered_tokens, ["north", "face", "jacket"]);
    assert_eq!(
        p.parse("ŠKODA octavia").unwrap().entities,
        [brand("škoda", 0..1)]
    );
    assert_eq!(
        p.parse("how to cook").unwrap().intent,
        Intent::Informational
    );
    assert_eq!(p.parse("how much").unwrap().intent, Intent::Navigational);
    assert_eq!(p.parse("to how").unwrap().intent, Intent::Navigational);
}

#[test]
fn one_name_under_two_kinds_is_reported_for_each() {
    let p = parser_with(r#"{ "entities": { "brand": ["apple", "Apple"], "fruit": ["apple"] } }"#);
    let q = p.parse("apple pie").unwrap();
    let kinds: Vec<&str> = q.entities.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["brand", "fruit"]); // "Apple" under brand is the same entry, listed once
    assert!(q.entities.iter().all(|e| e.token_span == (0..1)));
}

#[test]
fn empty_queries_are_refused() {
    let p = QueryParser::default();
    for q in ["", "   ", "\t\n", "?!", "🍎🍎"] {
        invalid(p.parse(q), "query");
    }
}

// ---- lexicon files ------------------------------------------------------------------------------

fn scratch(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("reckon-search-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn bundled_lexicon_file_is_the_default() {
    let path = root().join("weights/lexicons/default.json");
    assert_eq!(Lexicons::from_file(&path).unwrap(), Lexicons::default());
    assert_eq!(
        Lexicons::from_json(&Lexicons::default().to_json()).unwrap(),
        Lexicons::default()
    );
    let p = QueryParser::from_file(&path).unwrap();
    assert_eq!(p.parse("Apple").unwrap().entities, [brand("apple", 0..1)]);
}

#[test]
fn lexicon_file_keys_left_out_keep_defaults() {
    let lex = Lexicons::from_json(r#"{ "stop_words": [] }"#).unwrap();
    assert!(lex.stop_words.is_empty());
    assert_eq!(lex.entities, Lexicons::default().entities);
    let q = QueryParser::new(lex).unwrap().parse("the apple").unwrap();
    assert_eq!(q.filtered_tokens, ["the", "apple"]);
}

#[test]
fn bad_lexicon_files_are_refused_naming_the_file() {
    let path = scratch("malformed.json", r#"{ "stop_words": ["the", }"#);
    let reason = invalid(Lexicons::from_file(&path), "lexicons");
    assert!(
        reason.contains("malformed.json") && reason.contains("JSON"),
        "{reason}"
    );

    let path = scratch("unknown.json", r#"{ "stopwords": ["the"] }"#);
    let reason = invalid(Lexicons::from_file(&path), "lexicons");
    assert!(
        reason.contains("unknown.json") && reason.contains("'stopwords'"),
        "{reason}"
    );

    let path = scratch("wrong_type.json", r#"{ "entities": { "brand": "apple" } }"#);
    let reason = invalid(Lexicons::from_file(&path), "lexicons");
    assert!(reason.contains("entities.brand"), "{reason}");

    invalid(Lexicons::from_json(r#"["the"]"#), "lexicons");
    invalid(
        Lexicons::from_json(r#"{ "transactional": [1, 2] }"#),
        "lexicons",
    );
    assert!(matches!(
        Lexicons::from_file(root().join("no/such/lexicons.json")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn lexicon_entries_without_words_are_refused() {
    let mut lex = Lexicons::default();
    lex.stop_words.push("new york".into());
    invalid(QueryParser::new(lex), "lexicons");
    let mut lex = Lexicons::default();
    lex.transactional.push(" !! ".into());
    invalid(QueryParser::new(lex), "lexicons");
    let mut lex = Lexicons::default();
    lex.entities.insert(" ".into(), vec!["x".into()]);
    invalid(QueryParser::new(lex), "lexicons");
}

// ---- ranking ----------------------------------------------------------------------------------------

/// `ltr_alt`: the seed's LTR MLP at 46 features (LETOR width).
fn ranker() -> SearchRanker {
    SearchRanker::open(
        root().join("tests/fixtures/ltr_alt.safetensors"),
        &Options::default(),
    )
    .unwrap()
}

fn rows(n: usize, cols: usize) -> Vec<f32> {
    (0..n * cols)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect()
}

#[test]
fn rank_sorts_candidates_by_model_score() {
    let r = ranker();
    assert_eq!(r.features(), 46);
    let x = rows(7, 46);
    let ids: Vec<u64> = (100..107).collect();
    let mut ws = Workspace::default();
    let res = r.rank("cheap sony headphones", &x, &ids, &mut ws).unwrap();
    assert_eq!(res.query.intent, Intent::Transactional);
    let mut expected = vec![0.0; 7];
    r.model().predict(&x, 7, &mut expected, &mut ws).unwrap();
    assert_eq!(res.hits.len(), 7);
    for pair in res.hits.windows(2) {
        assert!(pair[0].score >= pair[1].score);
    }
    for h in &res.hits {
        assert_eq!(h.score, expected[h.index]);
        assert_eq!(h.doc_id, ids[h.index]);
    }
}

#[test]
fn equal_scores_keep_candidate_order() {
    let r = ranker();
    let one = rows(1, 46);
    let x: Vec<f32> = one.iter().cycle().take(4 * 46).copied().collect(); // four identical rows
    let res = r
        .rank("nike", &x, &[9, 8, 7, 6], &mut Workspace::default())
        .unwrap();
    let order: Vec<usize> = res.hits.iter().map(|h| h.index).collect();
    assert_eq!(order, [0, 1, 2, 3]);
}

#[test]
fn rank_refusals() {
    let r = ranker();
    let mut ws = Workspace::default();
    let x = rows(2, 46);
    invalid(r.rank("", &x, &[1, 2], &mut ws), "query");
    invalid(r.rank("   ", &[], &[], &mut ws), "query"); // the query is checked even with no rows
    invalid(r.rank("tv", &x[..91], &[1, 2], &mut ws), "candidates"); // 91 = 2 × 46 − 1
    let e = r.rank("tv", &x, &[1, 2, 3], &mut ws);
    assert!(
        matches!(
            e,
            Err(Error::BufferLength {
                arg: "doc_ids",
                expected: 2,
                actual: 3,
                ..
            })
        ),
        "{e:?}"
    );
    let mut nan = x.clone();
    nan[50] = f32::NAN;
    assert!(matches!(
        r.rank("tv", &nan, &[1, 2], &mut ws),
        Err(Error::NonFiniteInput { row: 1, col: 4 })
    ));
    // Zero candidates: parsed query, no hits.
    let res = r.rank("sony tv", &[], &[], &mut ws).unwrap();
    assert!(res.hits.is_empty());
    assert_eq!(res.query.entities, [brand("sony", 0..1)]);
    // Not an ltr model.
    let fraud = Model::open(
        root().join("tests/fixtures/fraud_alt.safetensors"),
        &Options::default(),
    )
    .unwrap();
    invalid(
        SearchRanker::new(Arc::new(fraud), QueryParser::default()),
        "model",
    );
    // ndcg_at needs one grade per candidate.
    let res = r.rank("tv", &x, &[1, 2], &mut ws).unwrap();
    assert!(matches!(
        res.ndcg_at(10, &[1.0]),
        Err(Error::BufferLength { .. })
    ));
    invalid(res.ndcg_at(0, &[1.0, 0.0]), "k");
}

/// The demo LTR model on its 20 held-out queries (weights/demo/README.md: NDCG@10 0.979 over
/// 300 held-out queries, random order 0.378).
#[test]
fn demo_ltr_ranks_held_out_queries_well() {
    let ranker = SearchRanker::open(
        root().join("weights/demo/ltr.safetensors"),
        &Options::default(),
    )
    .unwrap();
    let bytes = std::fs::read(root().join("weights/demo/requests/ltr.safetensors")).unwrap();
    let c = Container::parse(&bytes).unwrap();
    let features = c.tensor("features").unwrap().to_f32_vec().unwrap();
    let qid = c.tensor("qid").unwrap().as_i64().unwrap().into_owned();
    let grades: Vec<f32> = c
        .tensor("relevance")
        .unwrap()
        .as_i64()
        .unwrap()
        .iter()
        .map(|&g| g as f32)
        .collect();
    let cols = ranker.features();
    let mut ws = Workspace::default();
    let (mut sum, mut queries, mut all_scores) = (0.0, 0, vec![0.0; qid.len()]);
    let mut start = 0;
    while start < qid.len() {
        let end = start
            + qid[start..]
                .iter()
                .take_while(|&&q| q == qid[start])
                .count();
        let ids: Vec<u64> = (start as u64..end as u64).collect();
        let res = ranker
            .rank(
                "cheap running shoes",
                &features[start * cols..end * cols],
                &ids,
                &mut ws,
            )
            .unwrap();
        for h in &res.hits {
            all_scores[start + h.index] = h.score;
        }
        if grades[start..end].iter().any(|&g| g > 0.0) {
            sum += res.ndcg_at(10, &grades[start..end]).unwrap();
            queries += 1;
        }
        start = end;
    }
    let mean = sum / queries as f64;
    assert!(mean > 0.9, "mean NDCG@10 {mean} over {queries} queries");
    // The metrics module, fed the same scores with query ids, agrees.
    let m = mean_over_queries(RankingMetric::Ndcg(10), &all_scores, &grades, &qid).unwrap();
    assert_eq!(m.queries, queries);
    assert!((m.value - mean).abs() < 1e-12, "{} vs {mean}", m.value);
}
