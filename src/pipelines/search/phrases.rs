//! Matching lexicon entries against a query's tokens: an entry is a sequence of tokens and
//! matches only whole tokens in that sequence, so "apple" is found in "apple iphone" but not in
//! "pineapple", and "new balance" needs both words, adjacent and in order.

use std::collections::HashMap;

/// Entries to look for, indexed by their first token so a lookup costs one hash per query
/// token plus the entries sharing that token.
#[derive(Clone, Debug, Default)]
pub(crate) struct PhraseSet {
    /// First token → (whole entry's tokens, tag), longest entries first.
    by_first: HashMap<String, Vec<(Vec<String>, usize)>>,
}

impl PhraseSet {
    /// Adds an entry of one or more tokens, labelled `tag`.
    pub fn insert(&mut self, tokens: Vec<String>, tag: usize) {
        debug_assert!(!tokens.is_empty(), "callers reject entries without tokens");
        let entries = self.by_first.entry(tokens[0].clone()).or_default();
        if !entries.iter().any(|(t, g)| *t == tokens && *g == tag) {
            entries.push((tokens, tag));
            entries.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        }
    }

    /// The tags and length of the longest entries that start at `tokens[at]`: every tag whose
    /// entry has that longest length (the same words may be listed under two entity kinds).
    pub fn longest_at(&self, tokens: &[String], at: usize) -> Option<(usize, Vec<usize>)> {
        let entries = self.by_first.get(&tokens[at])?;
        let rest = &tokens[at..];
        let mut found: Option<(usize, Vec<usize>)> = None;
        for (entry, tag) in entries {
            if let Some((len, _)) = &found {
                if entry.len() < *len {
                    break; // sorted longest first: nothing longer remains
                }
            }
            if rest.starts_with(entry) {
                found
                    .get_or_insert_with(|| (entry.len(), Vec::new()))
                    .1
                    .push(*tag);
            }
        }
        found
    }

    /// Whether any entry occurs anywhere in `tokens`.
    pub fn occurs_in(&self, tokens: &[String]) -> bool {
        (0..tokens.len()).any(|i| self.longest_at(tokens, i).is_some())
    }
}
