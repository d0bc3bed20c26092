//! Search (SPEC §4.3, the seed's "query understanding → retrieval → ranking"): a
//! [`QueryParser`] turns a query into tokens, intent, entities and a head/torso/tail class
//! using [`Lexicons`] (data, loadable from a file); a [`SearchRanker`] adds an `ltr` model that
//! scores the caller's candidate rows and returns them sorted, with
//! [`SearchResults::ndcg_at`] for offline evaluation.
//!
//! ```no_run
//! # fn main() -> reckon::Result<()> {
//! use reckon::pipelines::search::SearchRanker;
//! use reckon::{Options, Workspace};
//! let ranker = SearchRanker::open("weights/demo/ltr.safetensors", &Options::default())?;
//! let rows = vec![0.0f32; 3 * ranker.features()];
//! let results = ranker.rank("buy cheap apple iphone", &rows, &[10, 11, 12], &mut Workspace::default())?;
//! assert_eq!(results.query.entities[0].value, "apple");
//! # Ok(()) }
//! ```

mod lexicon;
mod phrases;
mod query;
mod ranker;
mod tokenize;

pub use lexicon::{Lexicons, LEXICON_KEYS};
pub use query::{Entity, Intent, ParsedQuery, QueryParser, QueryType};
pub use ranker::{SearchHit, SearchRanker, SearchResults};
pub use tokenize::{continues_token, tokenize};
