//! Unicode-aware tokenising: a token is a maximal run of alphanumeric characters
//! (`char::is_alphanumeric`: letters and digits of every script), lowercased with the full
//! Unicode mapping (`str::to_lowercase`: "Straße" → "straße", "ΣΟΦΟΣ" → "σοφος").
//!
//! Everything else separates tokens: spaces, punctuation, symbols, emoji. So "iphone-15" is
//! `iphone`, `15` and "don't" is `don`, `t`. Two refinements keep words whole:
//! - a combining mark or joiner that follows a token character continues the token (see
//!   [`continues_token`]), so decomposed "cafe\u{301}" and Hindi "नमस्ते" (whose virama is not
//!   alphabetic) are one token each;
//! - nothing else: there is no word segmentation of scripts written without spaces, so a CJK
//!   or Thai run such as "東京タワー" is one token (a dictionary segmenter is out of scope).
//!
//! Text is not Unicode-normalised: precomposed "é" and "e\u{301}" are different tokens.

/// The lowercased tokens of `text`, in order.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let inside = start.is_some();
        if c.is_alphanumeric() || (inside && continues_token(c)) {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            tokens.push(text[s..i].to_lowercase());
        }
    }
    if let Some(s) = start {
        tokens.push(text[s..].to_lowercase());
    }
    tokens
}

/// A character that is not alphanumeric but belongs to the word it follows: combining marks
/// (the generic combining blocks, and the non-punctuation signs of the Indic and Thai blocks,
/// where viramas, nuktas and tone marks are not alphabetic) and the zero-width (non-)joiners
/// Persian and Indic text use inside words. An approximation of Unicode category M without
/// carrying its table.
pub fn continues_token(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'   // Combining Diacritical Marks
        | '\u{1AB0}'..='\u{1AFF}' // ... Extended
        | '\u{1DC0}'..='\u{1DFF}' // ... Supplement
        | '\u{20D0}'..='\u{20FF}' // ... for Symbols
        | '\u{FE20}'..='\u{FE2F}' // Combining Half Marks
        | '\u{3099}'..='\u{309A}' // combining kana voicing marks
        | '\u{200C}'..='\u{200D}' // ZWNJ, ZWJ
    ) || (('\u{0900}'..='\u{0E7F}').contains(&c) && !is_brahmic_punctuation(c))
}

/// Punctuation and currency signs inside U+0900–U+0E7F (Devanagari to Thai).
fn is_brahmic_punctuation(c: char) -> bool {
    matches!(
        c,
        '\u{0964}'
            | '\u{0965}'
            | '\u{0970}'
            | '\u{0DF4}'
            | '\u{0E3F}'
            | '\u{0E4F}'
            | '\u{0E5A}'
            | '\u{0E5B}'
    )
}
