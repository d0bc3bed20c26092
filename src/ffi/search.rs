//! Search from C (SPEC §4.3): `reckon_query_parser` (query understanding over lexicons),
//! `reckon_parsed_query` (its answer, with accessors) and `reckon_search_ranker` (an `ltr`
//! model that scores the caller's candidate rows for a query and sorts them).

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};
use std::sync::Arc;

use super::boundary::{
    arg_out, arg_ref, arg_slice, arg_str, checked_len, free_box, guard, guard_void, hand_out,
    optional_out, out_prefix, FfiError, FfiResult,
};
use super::model::{model_arg, reckon_model};
use super::status::{reckon_status, Status};
use crate::models::Workspace;
use crate::pipelines::search::{Intent, ParsedQuery, QueryParser, QueryType, SearchRanker};

/// Query understanding over a set of lexicons (stop words, intent keywords, entities).
/// Opaque; immutable, so one handle may be shared by any number of threads.
#[allow(non_camel_case_types)]
pub struct reckon_query_parser {
    inner: Arc<QueryParser>,
}

/// A parsed query. Opaque; its strings are owned by it and stay valid until it is freed with
/// `reckon_parsed_query_free`. Immutable, so it may be read from several threads.
#[allow(non_camel_case_types)]
pub struct reckon_parsed_query {
    inner: ParsedQuery,
    /// The tokens joined by single spaces.
    text: CString,
    /// The tokens without stop words, joined by single spaces.
    filtered: CString,
    /// Per entity: kind and matched text.
    entities: Vec<(CString, CString)>,
}

/// An `ltr` model plus a query parser. Opaque; immutable, so one handle may be shared by any
/// number of threads ranking at once.
#[allow(non_camel_case_types)]
pub struct reckon_search_ranker {
    inner: SearchRanker,
}

/// A query's intent, a `reckon_intent_code` value.
#[allow(non_camel_case_types)]
pub type reckon_intent = c_int;

/// The values a `reckon_intent` takes.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum reckon_intent_code {
    /// A transactional keyword occurs ("buy", "price", ...); checked first.
    RECKON_INTENT_TRANSACTIONAL = 0,
    /// An informational keyword occurs ("how", "tutorial", ...) and no transactional one.
    RECKON_INTENT_INFORMATIONAL = 1,
    /// Neither: the user looks for a place or thing by name.
    RECKON_INTENT_NAVIGATIONAL = 2,
}

/// A query's popularity class by token count, a `reckon_query_type_code` value.
#[allow(non_camel_case_types)]
pub type reckon_query_type = c_int;

/// The values a `reckon_query_type` takes.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum reckon_query_type_code {
    /// One token.
    RECKON_QUERY_HEAD = 0,
    /// Two or three tokens.
    RECKON_QUERY_TORSO = 1,
    /// Four tokens or more.
    RECKON_QUERY_TAIL = 2,
}

/// A lexicon entity found in a query. The strings belong to the `reckon_parsed_query` it came
/// from and stay valid until that is freed.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct reckon_entity {
    /// The entity kind, e.g. `"brand"`.
    pub kind: *const c_char,
    /// The lexicon entry matched, normalised (lowercased tokens joined by single spaces).
    pub text: *const c_char,
    /// First token it covers (index into the query's tokens).
    pub token_start: usize,
    /// One past the last token it covers.
    pub token_end: usize,
}

/// One ranked candidate.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct reckon_search_hit {
    /// The candidate's row in the caller's feature matrix.
    pub index: usize,
    /// The LTR model's relevance score.
    pub score: f32,
}

thread_local! {
    /// Each calling thread's model scratch, reused across calls.
    static WORKSPACE: RefCell<Workspace> = RefCell::new(Workspace::default());
}

fn with_workspace<T>(f: impl FnOnce(&mut Workspace) -> FfiResult<T>) -> FfiResult<T> {
    WORKSPACE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut ws) => f(&mut ws),
        Err(_) => Err(FfiError::invalid(
            "thread",
            "reckon was re-entered on this thread during a call",
        )),
    })
}

/// Creates a query parser in `*out`: over the lexicon JSON file at `lexicon_path` (UTF-8; keys
/// `stop_words`, `transactional`, `informational`, `entities`; a key left out keeps its
/// default), or over the built-in lexicons (the seed's lists) when `lexicon_path` is NULL.
/// Free it with `reckon_query_parser_free`; on failure `*out` is left unchanged. Errors:
/// `RECKON_IO` (unreadable file), `RECKON_INVALID_ARGUMENT` (bad JSON, unknown key, empty
/// entry).
#[no_mangle]
pub unsafe extern "C" fn reckon_query_parser_open(
    lexicon_path: *const c_char,
    out: *mut *mut reckon_query_parser,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `out` is writable.
        let out = unsafe { arg_out(out, "out") }?;
        let parser = if lexicon_path.is_null() {
            QueryParser::default()
        } else {
            // SAFETY: C contract: a non-NULL `lexicon_path` is a NUL-terminated string.
            QueryParser::from_file(unsafe { arg_str(lexicon_path, "lexicon_path") }?)?
        };
        hand_out(
            out,
            reckon_query_parser {
                inner: Arc::new(parser),
            },
        );
        Ok(())
    })
}

/// Frees a query parser. NULL is fine. Rankers made with it keep their own copy.
#[no_mangle]
pub unsafe extern "C" fn reckon_query_parser_free(p: *mut reckon_query_parser) {
    // SAFETY: C contract: `p` is NULL or came from reckon_query_parser_open, freed once.
    guard_void(|| unsafe { free_box(p) })
}

/// Parses the UTF-8 `query` into `*out` (free it with `reckon_parsed_query_free`): lowercased
/// tokens, stop words, intent, entities matched on whole words, head/torso/tail. A query with
/// no word in it (empty, whitespace or punctuation only) is `RECKON_INVALID_ARGUMENT`; on
/// failure `*out` is left unchanged.
#[no_mangle]
pub unsafe extern "C" fn reckon_query_parse(
    p: *const reckon_query_parser,
    query: *const c_char,
    out: *mut *mut reckon_parsed_query,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `p` is a live handle, `query` a NUL-terminated string, `out`
        // writable.
        let (p, query, out) = unsafe {
            (
                arg_ref(p, "p")?,
                arg_str(query, "query")?,
                arg_out(out, "out")?,
            )
        };
        let parsed = parsed_query(p.inner.parse(query)?)?;
        hand_out(out, parsed);
        Ok(())
    })
}

/// The C-facing copy of a parse, with its strings NUL-terminated once.
fn parsed_query(inner: ParsedQuery) -> FfiResult<reckon_parsed_query> {
    // Tokens are letters and digits; only an entity kind from a lexicon file could hold a NUL.
    let c = |s: String, what: &str| {
        CString::new(s)
            .map_err(|_| FfiError::invalid("lexicons", format_args!("{what} holds a NUL")))
    };
    Ok(reckon_parsed_query {
        text: c(inner.tokens.join(" "), "a token")?,
        filtered: c(inner.filtered_tokens.join(" "), "a token")?,
        entities: inner
            .entities
            .iter()
            .map(|e| {
                Ok((
                    c(e.kind.clone(), "an entity kind")?,
                    c(e.value.clone(), "an entity")?,
                ))
            })
            .collect::<FfiResult<_>>()?,
        inner,
    })
}

/// Frees a parsed query (and the strings its accessors handed out). NULL is fine.
#[no_mangle]
pub unsafe extern "C" fn reckon_parsed_query_free(q: *mut reckon_parsed_query) {
    // SAFETY: C contract: `q` is NULL or came from reckon_query_parse, freed once.
    guard_void(|| unsafe { free_box(q) })
}

/// The query's intent: its code in `*code` and its name (`"transactional"`, `"informational"`
/// or `"navigational"`, static storage) in `*name`; either may be NULL if not wanted.
#[no_mangle]
pub unsafe extern "C" fn reckon_parsed_query_intent(
    q: *const reckon_parsed_query,
    code: *mut reckon_intent,
    name: *mut *const c_char,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `q` is a live handle; each out-pointer NULL or writable.
        let (q, code, name) = unsafe {
            (
                arg_ref(q, "q")?,
                optional_out(code, "code")?,
                optional_out(name, "name")?,
            )
        };
        use reckon_intent_code::*;
        let (c, n) = match q.inner.intent {
            Intent::Transactional => (RECKON_INTENT_TRANSACTIONAL, "transactional\0"),
            Intent::Informational => (RECKON_INTENT_INFORMATIONAL, "informational\0"),
            Intent::Navigational => (RECKON_INTENT_NAVIGATIONAL, "navigational\0"),
        };
        if let Some(code) = code {
            *code = c as reckon_intent;
        }
        if let Some(name) = name {
            *name = n.as_ptr() as *const c_char;
        }
        Ok(())
    })
}

/// The query's class by token count: its code in `*code` and its name (`"head"`, `"torso"` or
/// `"tail"`, static storage) in `*name`; either may be NULL if not wanted.
#[no_mangle]
pub unsafe extern "C" fn reckon_parsed_query_type(
    q: *const reckon_parsed_query,
    code: *mut reckon_query_type,
    name: *mut *const c_char,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `q` is a live handle; each out-pointer NULL or writable.
        let (q, code, name) = unsafe {
            (
                arg_ref(q, "q")?,
                optional_out(code, "code")?,
                optional_out(name, "name")?,
            )
        };
        use reckon_query_type_code::*;
        let (c, n) = match q.inner.query_type {
            QueryType::Head => (RECKON_QUERY_HEAD, "head\0"),
            QueryType::Torso => (RECKON_QUERY_TORSO, "torso\0"),
            QueryType::Tail => (RECKON_QUERY_TAIL, "tail\0"),
        };
        if let Some(code) = code {
            *code = c as reckon_query_type;
        }
        if let Some(name) = name {
            *name = n.as_ptr() as *const c_char;
        }
        Ok(())
    })
}

/// The normalised query: its lowercased tokens joined by single spaces in `*text`, and the
/// same without stop words in `*filtered` (either may be NULL if not wanted; `*filtered` may
/// be `""`). `*tokens` (may be NULL) receives the token count. The strings belong to `q` and
/// stay valid until it is freed.
#[no_mangle]
pub unsafe extern "C" fn reckon_parsed_query_text(
    q: *const reckon_parsed_query,
    text: *mut *const c_char,
    filtered: *mut *const c_char,
    tokens: *mut usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `q` is a live handle; each out-pointer NULL or writable.
        let (q, text, filtered, tokens) = unsafe {
            (
                arg_ref(q, "q")?,
                optional_out(text, "text")?,
                optional_out(filtered, "filtered")?,
                optional_out(tokens, "tokens")?,
            )
        };
        if let Some(t) = text {
            *t = q.text.as_ptr();
        }
        if let Some(f) = filtered {
            *f = q.filtered.as_ptr();
        }
        if let Some(n) = tokens {
            *n = q.inner.tokens.len();
        }
        Ok(())
    })
}

/// The number of entities found, in `*out`.
#[no_mangle]
pub unsafe extern "C" fn reckon_parsed_query_entity_count(
    q: *const reckon_parsed_query,
    out: *mut usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `q` is a live handle, `out` writable.
        let (q, out) = unsafe { (arg_ref(q, "q")?, arg_out(out, "out")?) };
        *out = q.entities.len();
        Ok(())
    })
}

/// Entity `i` (0 ≤ i < `reckon_parsed_query_entity_count`, in order of position) in `*out`;
/// `RECKON_OUT_OF_RANGE` past the end. Its strings belong to `q` and stay valid until it is
/// freed.
#[no_mangle]
pub unsafe extern "C" fn reckon_parsed_query_entity(
    q: *const reckon_parsed_query,
    i: usize,
    out: *mut reckon_entity,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `q` is a live handle, `out` writable.
        let (q, out) = unsafe { (arg_ref(q, "q")?, arg_out(out, "out")?) };
        let (Some((kind, text)), Some(e)) = (q.entities.get(i), q.inner.entities.get(i)) else {
            return Err(FfiError::new(
                Status::RECKON_OUT_OF_RANGE,
                format!(
                    "i: the query has {} entities, asked for {i}",
                    q.entities.len()
                ),
            ));
        };
        *out = reckon_entity {
            kind: kind.as_ptr(),
            text: text.as_ptr(),
            token_start: e.token_span.start,
            token_end: e.token_span.end,
        };
        Ok(())
    })
}

/// Creates a search ranker in `*out` from an `ltr` model and a query parser (NULL: the
/// built-in lexicons). The ranker keeps its own references, so `m` and `p` may be freed right
/// after. Free it with `reckon_search_ranker_free`. A model of another architecture is
/// `RECKON_INVALID_ARGUMENT`; on failure `*out` is left unchanged.
#[no_mangle]
pub unsafe extern "C" fn reckon_search_ranker_create(
    m: *const reckon_model,
    p: *const reckon_query_parser,
    out: *mut *mut reckon_search_ranker,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `m` is a live handle, `out` writable.
        let (model, out) = unsafe { (model_arg(m, "m")?, arg_out(out, "out")?) };
        let parser = if p.is_null() {
            QueryParser::default()
        } else {
            // SAFETY: C contract: a non-NULL `p` is a live handle.
            QueryParser::clone(&unsafe { arg_ref(p, "p") }?.inner)
        };
        let inner = SearchRanker::new(Arc::clone(model), parser)?;
        hand_out(out, reckon_search_ranker { inner });
        Ok(())
    })
}

/// Frees a search ranker. NULL is fine.
#[no_mangle]
pub unsafe extern "C" fn reckon_search_ranker_free(r: *mut reckon_search_ranker) {
    // SAFETY: C contract: `r` is NULL or came from reckon_search_ranker_create, freed once.
    guard_void(|| unsafe { free_box(r) })
}

/// Feature columns each candidate row must have (the `ltr` model's width), in `*out`.
#[no_mangle]
pub unsafe extern "C" fn reckon_search_ranker_features(
    r: *const reckon_search_ranker,
    out: *mut usize,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `r` is a live handle, `out` writable.
        let (r, out) = unsafe { (arg_ref(r, "r")?, arg_out(out, "out")?) };
        *out = r.inner.features();
        Ok(())
    })
}

/// Parses `query` (UTF-8) and scores the caller's `rows` candidates (`candidates`: row-major
/// `rows × cols` floats, `cols` = `reckon_search_ranker_features`, else `RECKON_SHAPE`), then
/// writes all `rows` hits to `out` (which holds `out_len`), best score first; equal scores
/// keep row order. `rows` = 0 is allowed: the query and `cols` are still checked,
/// `candidates` and `out` may be NULL, and nothing is written.
/// An empty query is `RECKON_INVALID_ARGUMENT`; a non-finite feature `RECKON_NON_FINITE`
/// (unless the model's options allow it). Nothing is written unless the call succeeds.
#[no_mangle]
pub unsafe extern "C" fn reckon_search_rank(
    r: *const reckon_search_ranker,
    query: *const c_char,
    candidates: *const f32,
    rows: usize,
    cols: usize,
    out: *mut reckon_search_hit,
    out_len: usize,
) -> reckon_status {
    // SAFETY: C contract, documented above; no relevance and no NDCG asked for.
    guard(|| unsafe { rank(r, query, candidates, rows, cols, None, out, out_len) })
}

/// `reckon_search_rank`, plus the NDCG@k of the ranking in `*ndcg` given each candidate's
/// graded relevance (`relevance[i]` for row `i`, `rows` floats, grades in [0, 64]; gain
/// `2^r − 1`, discount `log2(i + 2)`; 0 when no candidate is relevant). `k` = 0 or a bad grade
/// is `RECKON_INVALID_ARGUMENT`. Nothing is written unless the call succeeds.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn reckon_search_rank_eval(
    r: *const reckon_search_ranker,
    query: *const c_char,
    candidates: *const f32,
    rows: usize,
    cols: usize,
    relevance: *const f32,
    k: usize,
    out: *mut reckon_search_hit,
    out_len: usize,
    ndcg: *mut f64,
) -> reckon_status {
    guard(|| {
        // SAFETY: C contract: `relevance` holds `rows` floats, `ndcg` is writable.
        let (relevance, ndcg) = unsafe {
            (
                arg_slice(relevance, rows, "relevance")?,
                arg_out(ndcg, "ndcg")?,
            )
        };
        // SAFETY: C contract, documented above.
        unsafe {
            rank(
                r,
                query,
                candidates,
                rows,
                cols,
                Some((relevance, k, ndcg)),
                out,
                out_len,
            )
        }
    })
}

/// The body of both rank calls; writes hits (and NDCG) only once everything has succeeded.
///
/// # Safety
/// C contract of `reckon_search_rank`.
#[allow(clippy::too_many_arguments)]
unsafe fn rank(
    r: *const reckon_search_ranker,
    query: *const c_char,
    candidates: *const f32,
    rows: usize,
    cols: usize,
    eval: Option<(&[f32], usize, &mut f64)>,
    out: *mut reckon_search_hit,
    out_len: usize,
) -> FfiResult<()> {
    // SAFETY: C contract: `r` is a live handle, `query` a NUL-terminated string.
    let (r, query) = unsafe { (arg_ref(r, "r")?, arg_str(query, "query")?) };
    let features = r.inner.features();
    if cols != features {
        return Err(FfiError::new(
            Status::RECKON_SHAPE,
            format!("cols: the ltr model takes {features} features per row, got {cols}"),
        ));
    }
    // SAFETY: C contract: `candidates` holds rows × cols floats, `out` holds out_len hits.
    let (candidates, out) = unsafe {
        (
            arg_slice(candidates, checked_len(rows, cols, "rows")?, "candidates")?,
            out_prefix(out, out_len, rows, "out")?,
        )
    };
    // Row indices double as the Rust API's document ids.
    let doc_ids: Vec<u64> = (0..rows as u64).collect();
    let results = with_workspace(|ws| Ok(r.inner.rank(query, candidates, &doc_ids, ws)?))?;
    let value = match &eval {
        Some((relevance, k, _)) => Some(results.ndcg_at(*k, relevance)?),
        None => None,
    };
    for (o, h) in out.iter_mut().zip(&results.hits) {
        *o = reckon_search_hit {
            index: h.index,
            score: h.score,
        };
    }
    if let (Some((_, _, ndcg)), Some(v)) = (eval, value) {
        *ndcg = v;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::model::{reckon_model_free, reckon_model_open};
    use crate::ffi::test_support::*;
    use crate::weights::Container;
    use std::ffi::CStr;
    use std::path::{Path, PathBuf};
    use std::ptr::{null, null_mut};

    fn root(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
    }

    fn cpath(p: &Path) -> CString {
        CString::new(p.to_str().unwrap()).unwrap()
    }

    fn text(p: *const c_char) -> String {
        // SAFETY: every string these exports hand out is NUL-terminated and alive here.
        unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string()
    }

    fn parser(lexicons: Option<&Path>) -> *mut reckon_query_parser {
        let mut p = null_mut();
        let path = lexicons.map(cpath);
        let ptr = path.as_ref().map_or(null(), |c| c.as_ptr());
        // SAFETY: valid (or NULL) path and out slot.
        let status = unsafe { reckon_query_parser_open(ptr, &mut p) };
        assert_eq!(status, OK, "{}", last_error());
        p
    }

    fn parse(p: *const reckon_query_parser, q: &CStr) -> *mut reckon_parsed_query {
        let mut out = null_mut();
        // SAFETY: live parser, valid query and out slot.
        let status = unsafe { reckon_query_parse(p, q.as_ptr(), &mut out) };
        assert_eq!(status, OK, "{}", last_error());
        out
    }

    /// An entity as Rust values: kind, text, token span.
    type EntityRow = (String, String, usize, usize);
    /// Everything the accessors say about a parse: intent code and name, type code and name,
    /// text, filtered text, token count, entities.
    type Parse = (
        i32,
        String,
        i32,
        String,
        String,
        String,
        usize,
        Vec<EntityRow>,
    );

    fn read(q: *const reckon_parsed_query) -> Parse {
        let (mut ic, mut iname, mut tc, mut tname) = (-1, null(), -1, null());
        let (mut t, mut f, mut n, mut count) = (null(), null(), 0, 0);
        // SAFETY: live parsed query, valid out slots.
        unsafe {
            assert_eq!(reckon_parsed_query_intent(q, &mut ic, &mut iname), OK);
            assert_eq!(reckon_parsed_query_type(q, &mut tc, &mut tname), OK);
            assert_eq!(reckon_parsed_query_text(q, &mut t, &mut f, &mut n), OK);
            assert_eq!(reckon_parsed_query_entity_count(q, &mut count), OK);
        }
        let entities = (0..count)
            .map(|i| {
                let mut e = reckon_entity {
                    kind: null(),
                    text: null(),
                    token_start: 9,
                    token_end: 9,
                };
                // SAFETY: live parsed query, i < count, valid out slot.
                assert_eq!(unsafe { reckon_parsed_query_entity(q, i, &mut e) }, OK);
                (text(e.kind), text(e.text), e.token_start, e.token_end)
            })
            .collect();
        (
            ic,
            text(iname),
            tc,
            text(tname),
            text(t),
            text(f),
            n,
            entities,
        )
    }

    #[test]
    fn parsing_matches_rust() {
        let p = parser(None);
        let from_file = parser(Some(&root("weights/lexicons/default.json")));
        let rust = QueryParser::default();
        for query in [
            c"Buy cheap Apple iPhone",
            c"how to fix the SONY tv",
            c"pineapple",
            c"samsung",
            c"Where is the Nike store near me today",
        ] {
            for handle in [p, from_file] {
                let q = parse(handle, query);
                let want = rust.parse(query.to_str().unwrap()).unwrap();
                let (ic, iname, tc, tname, t, f, n, entities) = read(q);
                assert_eq!(iname, want.intent.as_str());
                assert_eq!(tname, want.query_type.as_str());
                let want_ic = match want.intent {
                    Intent::Transactional => reckon_intent_code::RECKON_INTENT_TRANSACTIONAL,
                    Intent::Informational => reckon_intent_code::RECKON_INTENT_INFORMATIONAL,
                    Intent::Navigational => reckon_intent_code::RECKON_INTENT_NAVIGATIONAL,
                };
                assert_eq!(ic, want_ic as i32);
                let want_tc = match want.query_type {
                    QueryType::Head => reckon_query_type_code::RECKON_QUERY_HEAD,
                    QueryType::Torso => reckon_query_type_code::RECKON_QUERY_TORSO,
                    QueryType::Tail => reckon_query_type_code::RECKON_QUERY_TAIL,
                };
                assert_eq!(tc, want_tc as i32);
                assert_eq!(t, want.tokens.join(" "));
                assert_eq!(f, want.filtered_tokens.join(" "));
                assert_eq!(n, want.tokens.len());
                let want_entities: Vec<_> = want
                    .entities
                    .iter()
                    .map(|e| {
                        (
                            e.kind.clone(),
                            e.value.clone(),
                            e.token_span.start,
                            e.token_span.end,
                        )
                    })
                    .collect();
                assert_eq!(entities, want_entities);
                // SAFETY: from reckon_query_parse, freed once.
                unsafe { reckon_parsed_query_free(q) };
            }
        }
        let q = parse(p, c"buy cheap apple iphone");
        let (_, intent, _, kind, _, _, _, entities) = read(q);
        assert_eq!((intent.as_str(), kind.as_str()), ("transactional", "tail"));
        assert_eq!(entities, vec![("brand".into(), "apple".into(), 2, 3)]);
        // SAFETY: handles from their open/parse calls, freed once; NULL is fine.
        unsafe {
            reckon_parsed_query_free(q);
            reckon_parsed_query_free(null_mut());
            reckon_query_parser_free(p);
            reckon_query_parser_free(from_file);
            reckon_query_parser_free(null_mut());
        }
    }

    #[test]
    fn parser_and_parse_errors() {
        let dir = std::env::temp_dir().join(format!("reckon_ffi_search_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.json");
        std::fs::write(&bad, r#"{"stopwords": ["x"]}"#).unwrap();
        let missing = cpath(&dir.join("missing.json"));
        let bad = cpath(&bad);
        let mut p = null_mut();
        // SAFETY: valid or NULL pointers; `*out` only written on success.
        unsafe {
            assert_eq!(
                reckon_query_parser_open(missing.as_ptr(), &mut p),
                st(Status::RECKON_IO)
            );
            assert_eq!(reckon_query_parser_open(bad.as_ptr(), &mut p), INVALID);
            assert!(last_error().contains("stopwords"), "{}", last_error());
            assert_eq!(reckon_query_parser_open(c"\xff".as_ptr(), &mut p), INVALID);
            assert_eq!(reckon_query_parser_open(null(), null_mut()), INVALID);
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_query_parser_open(null(), &mut p),
                st(Status::RECKON_PANIC)
            );
            assert!(last_error().contains("panic"));
            assert!(p.is_null());
        }
        let p = parser(None);
        let mut q = null_mut();
        // SAFETY: live parser (or NULL), valid or refused strings and out slots.
        unsafe {
            for empty in [c"", c"   ", c"?!, ..."] {
                assert_eq!(reckon_query_parse(p, empty.as_ptr(), &mut q), INVALID);
                assert!(last_error().contains("no words"), "{}", last_error());
            }
            assert_eq!(reckon_query_parse(p, c"\xc3\x28".as_ptr(), &mut q), INVALID);
            assert_eq!(reckon_query_parse(p, null(), &mut q), INVALID);
            assert_eq!(
                reckon_query_parse(null(), c"apple".as_ptr(), &mut q),
                INVALID
            );
            assert_eq!(
                reckon_query_parse(p, c"apple".as_ptr(), null_mut()),
                INVALID
            );
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_query_parse(p, c"apple".as_ptr(), &mut q),
                st(Status::RECKON_PANIC)
            );
            assert!(q.is_null());
            // A panic in a free is swallowed (and leaves the handle alive): free it for real.
            super::super::boundary::trigger_panic_next();
            reckon_query_parser_free(p);
            reckon_query_parser_free(p);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn accessor_errors_leave_outputs_untouched() {
        let p = parser(None);
        let q = parse(p, c"cheap nike shoes");
        let (mut code, mut name, mut n) = (-7, null(), 77usize);
        let mut e = reckon_entity {
            kind: null(),
            text: null(),
            token_start: 5,
            token_end: 5,
        };
        let before = e;
        // SAFETY: live parsed query (or NULL) and valid out slots (or NULL where allowed).
        unsafe {
            assert_eq!(
                reckon_parsed_query_intent(null(), &mut code, &mut name),
                INVALID
            );
            assert_eq!(
                reckon_parsed_query_type(null(), &mut code, &mut name),
                INVALID
            );
            assert_eq!(
                reckon_parsed_query_text(null(), &mut name, null_mut(), &mut n),
                INVALID
            );
            assert_eq!(reckon_parsed_query_entity_count(null(), &mut n), INVALID);
            assert_eq!(reckon_parsed_query_entity_count(q, null_mut()), INVALID);
            assert_eq!(reckon_parsed_query_entity(null(), 0, &mut e), INVALID);
            assert_eq!(reckon_parsed_query_entity(q, 0, null_mut()), INVALID);
            assert_eq!(
                reckon_parsed_query_entity(q, 1, &mut e),
                st(Status::RECKON_OUT_OF_RANGE)
            );
            assert_eq!((code, name, n, e), (-7, null(), 77, before));
            // Every out-pointer of the multi-output accessors may be NULL.
            assert_eq!(reckon_parsed_query_intent(q, null_mut(), null_mut()), OK);
            assert_eq!(reckon_parsed_query_type(q, null_mut(), null_mut()), OK);
            assert_eq!(
                reckon_parsed_query_text(q, null_mut(), null_mut(), null_mut()),
                OK
            );
            for i in 0..6 {
                super::super::boundary::trigger_panic_next();
                let status = match i {
                    0 => reckon_parsed_query_intent(q, &mut code, &mut name),
                    1 => reckon_parsed_query_type(q, &mut code, &mut name),
                    2 => reckon_parsed_query_text(q, &mut name, null_mut(), &mut n),
                    3 => reckon_parsed_query_entity_count(q, &mut n),
                    4 => reckon_parsed_query_entity(q, 0, &mut e),
                    _ => {
                        reckon_parsed_query_free(q);
                        st(Status::RECKON_PANIC)
                    }
                };
                assert_eq!(status, st(Status::RECKON_PANIC));
            }
            assert_eq!((code, name, n, e), (-7, null(), 77, before));
            // The swallowed panic left the query alive; free both for real.
            reckon_parsed_query_free(q);
            reckon_query_parser_free(p);
        }
    }

    fn model(name: &str) -> *mut reckon_model {
        let mut m = null_mut();
        let path = cpath(&root(&format!("weights/demo/{name}.safetensors")));
        // SAFETY: valid path and out slot.
        assert_eq!(
            unsafe { reckon_model_open(path.as_ptr(), null(), &mut m) },
            OK
        );
        m
    }

    fn ranker() -> *mut reckon_search_ranker {
        let m = model("ltr");
        let mut r = null_mut();
        // SAFETY: live model, default parser, valid out slot.
        assert_eq!(
            unsafe { reckon_search_ranker_create(m, null(), &mut r) },
            OK
        );
        // SAFETY: the ranker holds its own reference; freeing the model first is fine.
        unsafe { reckon_model_free(m) };
        r
    }

    /// The demo's held-out LTR queries: features `[400, 136]`, query ids and grades.
    fn ltr_requests() -> (Vec<f32>, Vec<i64>, Vec<f32>) {
        let bytes = std::fs::read(root("weights/demo/requests/ltr.safetensors")).unwrap();
        let c = Container::parse(&bytes).unwrap();
        let features = c.tensor("features").unwrap().to_f32_vec().unwrap();
        let qid = c.tensor("qid").unwrap().as_i64().unwrap().into_owned();
        let grades = c
            .tensor("relevance")
            .unwrap()
            .as_i64()
            .unwrap()
            .iter()
            .map(|&g| g as f32)
            .collect();
        (features, qid, grades)
    }

    #[test]
    fn ranking_matches_rust_bit_for_bit() {
        let r = ranker();
        let rust =
            SearchRanker::open(root("weights/demo/ltr.safetensors"), &Default::default()).unwrap();
        let (features, qid, grades) = ltr_requests();
        let mut cols = 0;
        // SAFETY: live ranker, valid out slot.
        assert_eq!(unsafe { reckon_search_ranker_features(r, &mut cols) }, OK);
        assert_eq!(cols, rust.features());
        let mut start = 0;
        let mut ws = Workspace::default();
        while start < qid.len() {
            let rows = qid[start..]
                .iter()
                .take_while(|&&q| q == qid[start])
                .count();
            let x = &features[start * cols..(start + rows) * cols];
            let rel = &grades[start..start + rows];
            let ids: Vec<u64> = (0..rows as u64).collect();
            let want = rust.rank("cheap apple laptop", x, &ids, &mut ws).unwrap();
            let blank = reckon_search_hit {
                index: 999,
                score: -1.0,
            };
            let (mut hits, mut hits2, mut ndcg) = (vec![blank; rows + 1], vec![blank; rows], -1.0);
            // SAFETY: live ranker and buffers of the stated lengths.
            unsafe {
                let status = reckon_search_rank(
                    r,
                    c"cheap apple laptop".as_ptr(),
                    x.as_ptr(),
                    rows,
                    cols,
                    hits.as_mut_ptr(),
                    rows + 1,
                );
                assert_eq!(status, OK, "{}", last_error());
                let status = reckon_search_rank_eval(
                    r,
                    c"cheap apple laptop".as_ptr(),
                    x.as_ptr(),
                    rows,
                    cols,
                    rel.as_ptr(),
                    10,
                    hits2.as_mut_ptr(),
                    rows,
                    &mut ndcg,
                );
                assert_eq!(status, OK, "{}", last_error());
            }
            assert_eq!(hits[rows], blank, "past rows: untouched");
            for ((h, h2), w) in hits.iter().zip(&hits2).zip(&want.hits) {
                assert_eq!((h.index, h.score.to_bits()), (w.index, w.score.to_bits()));
                assert_eq!(h, h2);
            }
            assert_eq!(ndcg.to_bits(), want.ndcg_at(10, rel).unwrap().to_bits());
            start += rows;
        }
        // SAFETY: from reckon_search_ranker_create, freed once; NULL is fine.
        unsafe {
            reckon_search_ranker_free(r);
            reckon_search_ranker_free(null_mut());
        }
    }

    #[test]
    fn ranker_with_a_custom_parser_and_create_errors() {
        let dir = std::env::temp_dir().join(format!("reckon_ffi_search_r_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lex = dir.join("lex.json");
        std::fs::write(&lex, r#"{"entities": {"fruit": ["apple"]}}"#).unwrap();
        let p = parser(Some(&lex));
        let (ltr, fraud) = (model("ltr"), model("fraud"));
        let mut r = null_mut();
        // SAFETY: live handles (or NULL) and valid out slots (or NULL).
        unsafe {
            assert_eq!(reckon_search_ranker_create(fraud, p, &mut r), INVALID);
            assert!(last_error().contains("ltr"), "{}", last_error());
            assert_eq!(reckon_search_ranker_create(null(), p, &mut r), INVALID);
            assert_eq!(reckon_search_ranker_create(ltr, p, null_mut()), INVALID);
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_search_ranker_create(ltr, p, &mut r),
                st(Status::RECKON_PANIC)
            );
            assert!(r.is_null());
            assert_eq!(reckon_search_ranker_create(ltr, p, &mut r), OK);
            reckon_query_parser_free(p);
            reckon_model_free(ltr);
            reckon_model_free(fraud);
            // The ranker parses with its own copy of the custom lexicons.
            let x = vec![0.5f32; 136];
            let mut hit = reckon_search_hit {
                index: 9,
                score: 0.0,
            };
            assert_eq!(
                reckon_search_rank(r, c"apple".as_ptr(), x.as_ptr(), 1, 136, &mut hit, 1),
                OK
            );
            assert_eq!(hit.index, 0);
            let mut cols = 0;
            assert_eq!(reckon_search_ranker_features(null(), &mut cols), INVALID);
            assert_eq!(reckon_search_ranker_features(r, null_mut()), INVALID);
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                reckon_search_ranker_features(r, &mut cols),
                st(Status::RECKON_PANIC)
            );
            assert_eq!(cols, 0);
            super::super::boundary::trigger_panic_next();
            reckon_search_ranker_free(r);
            reckon_search_ranker_free(r);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rank_errors_write_nothing() {
        let r = ranker();
        let (features, _, grades) = ltr_requests();
        let x = &features[..3 * 136];
        let blank = reckon_search_hit {
            index: 999,
            score: -1.0,
        };
        let mut hits = [blank; 3];
        let mut ndcg = -1.0;
        let h = hits.as_mut_ptr();
        let q = c"buy sony tv".as_ptr();
        let mut nan = x.to_vec();
        nan[140] = f32::NAN;
        let bad_grades = [1.0f32, -2.0, 0.0];
        // SAFETY: live ranker (or NULL) and buffers of the stated lengths (or refused ones).
        unsafe {
            let rank =
                |r, q, x, rows, cols, h, len| reckon_search_rank(r, q, x, rows, cols, h, len);
            assert_eq!(rank(null(), q, x.as_ptr(), 3, 136, h, 3), INVALID);
            assert_eq!(rank(r, null(), x.as_ptr(), 3, 136, h, 3), INVALID);
            assert_eq!(rank(r, c"".as_ptr(), x.as_ptr(), 3, 136, h, 3), INVALID);
            assert_eq!(rank(r, c" ; ".as_ptr(), x.as_ptr(), 3, 136, h, 3), INVALID);
            assert_eq!(rank(r, c"\xff".as_ptr(), x.as_ptr(), 3, 136, h, 3), INVALID);
            assert_eq!(rank(r, q, null(), 3, 136, h, 3), INVALID);
            assert_eq!(
                rank(r, q, x.as_ptr(), 3, 135, h, 3),
                st(Status::RECKON_SHAPE)
            );
            assert_eq!(
                rank(r, q, x.as_ptr(), 3, 136, h, 2),
                st(Status::RECKON_BUFFER_TOO_SMALL)
            );
            assert_eq!(rank(r, q, x.as_ptr(), 3, 136, null_mut(), 3), INVALID);
            assert_eq!(rank(r, q, x.as_ptr(), usize::MAX, 136, h, 3), INVALID);
            assert_eq!(
                rank(r, q, nan.as_ptr(), 3, 136, h, 3),
                st(Status::RECKON_NON_FINITE)
            );
            // Zero candidates: the query is still checked, nothing is written.
            assert_eq!(rank(r, q, null(), 0, 136, null_mut(), 0), OK);
            assert_eq!(
                rank(r, c"".as_ptr(), null(), 0, 136, null_mut(), 0),
                INVALID
            );
            super::super::boundary::trigger_panic_next();
            assert_eq!(
                rank(r, q, x.as_ptr(), 3, 136, h, 3),
                st(Status::RECKON_PANIC)
            );

            let g = grades.as_ptr();
            let eval = |rel, k, h, len, ndcg| {
                reckon_search_rank_eval(r, q, x.as_ptr(), 3, 136, rel, k, h, len, ndcg)
            };
            assert_eq!(eval(g, 0, h, 3, &mut ndcg), INVALID);
            assert_eq!(eval(bad_grades.as_ptr(), 3, h, 3, &mut ndcg), INVALID);
            assert_eq!(eval(null(), 3, h, 3, &mut ndcg), INVALID);
            assert_eq!(eval(g, 3, h, 3, null_mut()), INVALID);
            assert_eq!(
                eval(g, 3, h, 2, &mut ndcg),
                st(Status::RECKON_BUFFER_TOO_SMALL)
            );
            assert_eq!(
                reckon_search_rank_eval(r, c"".as_ptr(), x.as_ptr(), 3, 136, g, 3, h, 3, &mut ndcg),
                INVALID
            );
            super::super::boundary::trigger_panic_next();
            assert_eq!(eval(g, 3, h, 3, &mut ndcg), st(Status::RECKON_PANIC));
            assert_eq!(hits, [blank; 3]);
            assert_eq!(ndcg, -1.0);
            reckon_search_ranker_free(r);
        }
    }
}
