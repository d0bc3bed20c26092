//! The word lists query understanding runs on, as data: built in (the seed's lists) or loaded
//! from a JSON file such as `weights/lexicons/default.json`:
//!
//! ```json
//! {
//!   "stop_words": ["the", "a", "an", "is", "are", "for", "to"],
//!   "transactional": ["buy", "price", "cheap", "deal"],
//!   "informational": ["how", "what", "why", "tutorial"],
//!   "entities": { "brand": ["apple", "samsung", "nike", "sony"] }
//! }
//! ```
//!
//! A key left out keeps its default; a key given replaces its default entirely (`"stop_words":
//! []` turns stop words off; `"entities"` replaces the whole map). An unknown key is an error,
//! since a typo ("stopwords") would otherwise be silently ignored. Entries may be phrases
//! ("how to", "new balance"): they match whole tokens in sequence, see
//! [`super::QueryParser`].

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Keys a lexicon file may hold.
pub const LEXICON_KEYS: [&str; 4] = ["stop_words", "transactional", "informational", "entities"];

/// Stop words, intent keywords and entity lists. Entries are matched after the same
/// tokenising and lowercasing as queries, so "Apple" and "apple" are the same entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lexicons {
    /// Tokens dropped from [`super::ParsedQuery::filtered_tokens`]; single tokens only.
    pub stop_words: Vec<String>,
    /// Keywords or phrases that make a query transactional (checked first, as in the seed).
    pub transactional: Vec<String>,
    /// Keywords or phrases that make a query informational (checked second). A query matching
    /// neither list is navigational, the seed's fallback.
    pub informational: Vec<String>,
    /// Entity kind (e.g. `"brand"`) → the names of that kind.
    pub entities: BTreeMap<String, Vec<String>>,
}

impl Default for Lexicons {
    /// The seed's lists.
    fn default() -> Lexicons {
        let list = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        Lexicons {
            stop_words: list(&["the", "a", "an", "is", "are", "for", "to"]),
            transactional: list(&["buy", "price", "cheap", "deal"]),
            informational: list(&["how", "what", "why", "tutorial"]),
            entities: BTreeMap::from([(
                "brand".to_string(),
                list(&["apple", "samsung", "nike", "sony"]),
            )]),
        }
    }
}

impl Lexicons {
    /// Reads a lexicon file. Errors: [`Error::Io`] when it cannot be read, and
    /// [`Error::InvalidArgument`] (`arg` = `"lexicons"`, the reason starting with the path) when
    /// it is not valid JSON, holds an unknown key or a value of the wrong type.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Lexicons> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        parse(&text, &path.display().to_string())
    }

    /// Parses lexicons from JSON text; errors as [`Lexicons::from_file`].
    pub fn from_json(text: &str) -> Result<Lexicons> {
        parse(text, "lexicon JSON")
    }

    /// The lexicons as pretty-printed JSON, in the file format [`Lexicons::from_json`] reads.
    pub fn to_json(&self) -> String {
        let list = |v: &[String]| Value::from(v.to_vec());
        let mut entities = Map::new();
        for (kind, names) in &self.entities {
            entities.insert(kind.clone(), list(names));
        }
        let mut root = Map::new();
        root.insert("stop_words".into(), list(&self.stop_words));
        root.insert("transactional".into(), list(&self.transactional));
        root.insert("informational".into(), list(&self.informational));
        root.insert("entities".into(), Value::Object(entities));
        // Serialising a Value built from strings cannot fail.
        serde_json::to_string_pretty(&Value::Object(root)).unwrap_or_default()
    }
}

fn parse(text: &str, origin: &str) -> Result<Lexicons> {
    let bad = |reason: String| Error::InvalidArgument {
        arg: "lexicons",
        reason: format!("{origin}: {reason}"),
    };
    let root: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let Value::Object(root) = root else {
        return Err(bad("expected a JSON object of word lists".into()));
    };
    let mut lex = Lexicons::default();
    for (key, value) in &root {
        match key.as_str() {
            "stop_words" => {
                lex.stop_words = strings(value).ok_or_else(|| bad(list_expected(key)))?
            }
            "transactional" => {
                lex.transactional = strings(value).ok_or_else(|| bad(list_expected(key)))?
            }
            "informational" => {
                lex.informational = strings(value).ok_or_else(|| bad(list_expected(key)))?
            }
            "entities" => {
                let Value::Object(kinds) = value else {
                    return Err(bad(
                        "'entities' must be an object of entity kind → list of names".into(),
                    ));
                };
                lex.entities.clear();
                for (kind, names) in kinds {
                    let names = strings(names)
                        .ok_or_else(|| bad(list_expected(&format!("entities.{kind}"))))?;
                    lex.entities.insert(kind.clone(), names);
                }
            }
            _ => {
                return Err(bad(format!(
                    "unknown key '{key}' (known: {})",
                    LEXICON_KEYS.join(", ")
                )))
            }
        }
    }
    Ok(lex)
}

fn strings(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn list_expected(key: &str) -> String {
    format!("'{key}' must be a list of strings")
}
