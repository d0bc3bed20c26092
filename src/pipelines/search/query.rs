//! Query understanding (SPEC §4.3): tokens, stop words, intent, entities and head/torso/tail.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use super::lexicon::Lexicons;
use super::phrases::PhraseSet;
use super::tokenize::tokenize;
use crate::error::{Error, Result};

/// What the user wants, by keyword lexicon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Intent {
    /// A transactional keyword occurs ("buy", "price", ...); checked first.
    Transactional,
    /// An informational keyword occurs ("how", "tutorial", ...) and no transactional one.
    Informational,
    /// Neither: the user is looking for a place or thing by name (the seed's fallback).
    Navigational,
}

/// Query popularity class by length, as the seed: 1 token head, 2–3 torso, more tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueryType {
    /// One token: popular, short queries.
    Head,
    /// Two or three tokens.
    Torso,
    /// Four tokens or more: long, specific queries.
    Tail,
}

impl Intent {
    /// `"transactional"`, `"informational"` or `"navigational"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Transactional => "transactional",
            Intent::Informational => "informational",
            Intent::Navigational => "navigational",
        }
    }
}

impl QueryType {
    /// The class of a query of `tokens` tokens.
    pub fn of_len(tokens: usize) -> QueryType {
        match tokens {
            0 | 1 => QueryType::Head,
            2..=3 => QueryType::Torso,
            _ => QueryType::Tail,
        }
    }

    /// `"head"`, `"torso"` or `"tail"`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryType::Head => "head",
            QueryType::Torso => "torso",
            QueryType::Tail => "tail",
        }
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for QueryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lexicon entity found in a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// The entity kind, a key of [`Lexicons::entities`] (e.g. `"brand"`).
    pub kind: String,
    /// The lexicon entry matched, normalised: its tokens joined by single spaces.
    pub value: String,
    /// The tokens it covers, as indices into [`ParsedQuery::tokens`].
    pub token_span: Range<usize>,
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedQuery {
    /// The query as given.
    pub original: String,
    /// Lowercased tokens (see [`super::tokenize()`]).
    pub tokens: Vec<String>,
    /// `tokens` without stop words.
    pub filtered_tokens: Vec<String>,
    /// Intent by keyword lexicons.
    pub intent: Intent,
    /// Entities in order of position.
    pub entities: Vec<Entity>,
    /// Head, torso or tail, by the number of `tokens` (stop words included, as the seed).
    pub query_type: QueryType,
}

/// Parses queries against a set of [`Lexicons`]. Immutable once built: share one across threads.
///
/// Matching works on tokens, never substrings (the seed matches substrings, so its "apple"
/// is found in "pineapple"): a lexicon entry, one word or a phrase, matches whole tokens in
/// sequence. Stop words are still in the sequence, so "how to" and "the north face" match.
/// Entities are found leftmost-longest without overlap: at each token the longest entry
/// starting there wins (every kind listing that same entry is reported), and the scan resumes
/// after it. A name that occurs twice is reported twice, with its two spans.
#[derive(Clone, Debug)]
pub struct QueryParser {
    lexicons: Lexicons,
    stop_words: HashSet<String>,
    transactional: PhraseSet,
    informational: PhraseSet,
    entities: PhraseSet,
    /// Per entity tag: (kind, normalised value).
    entity_names: Vec<(String, String)>,
}

impl Default for QueryParser {
    /// The seed's lexicons.
    fn default() -> QueryParser {
        // The built-in lists are valid (tested); failing here would be a bug in reckon.
        QueryParser::new(Lexicons::default()).expect("default lexicons are valid")
    }
}

impl QueryParser {
    /// Builds a parser. Errors ([`Error::InvalidArgument`], `arg` = `"lexicons"`): an entry with
    /// no token in it (empty or only punctuation), a stop word of more than one token, an
    /// empty entity kind.
    pub fn new(lexicons: Lexicons) -> Result<QueryParser> {
        let mut stop_words = HashSet::new();
        for word in &lexicons.stop_words {
            match &tokenize(word)[..] {
                [token] => stop_words.insert(token.clone()),
                [] => return Err(no_tokens("stop_words", word)),
                _ => {
                    return Err(bad(format!(
                        "stop word '{word}' is several tokens; stop words are single tokens"
                    )))
                }
            };
        }
        let phrases = |list: &'static str, words: &[String]| -> Result<PhraseSet> {
            let mut set = PhraseSet::default();
            for word in words {
                set.insert(entry_tokens(list, word)?, 0);
            }
            Ok(set)
        };
        let transactional = phrases("transactional", &lexicons.transactional)?;
        let informational = phrases("informational", &lexicons.informational)?;
        let (mut entities, mut entity_names, mut seen) =
            (PhraseSet::default(), Vec::new(), HashSet::new());
        for (kind, names) in &lexicons.entities {
            if kind.trim().is_empty() {
                return Err(bad("an entity kind is empty".into()));
            }
            for name in names {
                let tokens = entry_tokens("entities", name)?;
                let named = (kind.clone(), tokens.join(" "));
                // "Apple" and "apple" listed under one kind are one entity, reported once.
                if seen.insert(named.clone()) {
                    entity_names.push(named);
                    entities.insert(tokens, entity_names.len() - 1);
                }
            }
        }
        Ok(QueryParser {
            lexicons,
            stop_words,
            transactional,
            informational,
            entities,
            entity_names,
        })
    }

    /// A parser over the lexicons in a JSON file (see [`Lexicons::from_file`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<QueryParser> {
        QueryParser::new(Lexicons::from_file(path)?)
    }

    /// The lexicons this parser was built from.
    pub fn lexicons(&self) -> &Lexicons {
        &self.lexicons
    }

    /// Parses `query`. A query with no token (empty, whitespace or punctuation only) is
    /// [`Error::InvalidArgument`] (`arg` = `"query"`): there is nothing to search for.
    pub fn parse(&self, query: &str) -> Result<ParsedQuery> {
        let tokens = tokenize(query);
        if tokens.is_empty() {
            return Err(Error::InvalidArgument {
                arg: "query",
                reason: format!(
                    "{query:?} has no words to search for (empty, whitespace or punctuation only)"
                ),
            });
        }
        let filtered_tokens = tokens
            .iter()
            .filter(|t| !self.stop_words.contains(*t))
            .cloned()
            .collect();
        let intent = if self.transactional.occurs_in(&tokens) {
            Intent::Transactional
        } else if self.informational.occurs_in(&tokens) {
            Intent::Informational
        } else {
            Intent::Navigational
        };
        let entities = self.entities_in(&tokens);
        let query_type = QueryType::of_len(tokens.len());
        Ok(ParsedQuery {
            original: query.to_string(),
            tokens,
            filtered_tokens,
            intent,
            entities,
            query_type,
        })
    }

    fn entities_in(&self, tokens: &[String]) -> Vec<Entity> {
        let mut found = Vec::new();
        let mut at = 0;
        while at < tokens.len() {
            let Some((len, tags)) = self.entities.longest_at(tokens, at) else {
                at += 1;
                continue;
            };
            for tag in tags {
                let (kind, value) = &self.entity_names[tag];
                found.push(Entity {
                    kind: kind.clone(),
                    value: value.clone(),
                    token_span: at..at + len,
                });
            }
            at += len;
        }
        found
    }
}

fn entry_tokens(list: &'static str, entry: &str) -> Result<Vec<String>> {
    let tokens = tokenize(entry);
    if tokens.is_empty() {
        return Err(no_tokens(list, entry));
    }
    Ok(tokens)
}

fn no_tokens(list: &str, entry: &str) -> Error {
    bad(format!("{list} entry {entry:?} has no letters or digits"))
}

fn bad(reason: String) -> Error {
    Error::InvalidArgument {
        arg: "lexicons",
        reason,
    }
}
