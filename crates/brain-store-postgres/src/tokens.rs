//! Words as the search index sees them, the same on both backends.
//!
//! SQLite's FTS5 tokenizes with `unicode61 remove_diacritics 2`: runs of letters and digits,
//! lower-cased, diacritics removed. PostgreSQL's text search parser splits differently
//! (`foo-bar` is one hyphenated word and two parts, `a@b.org` one e-mail, `x/y.md` one file
//! path) and `unaccent` folds differently, so the same query would find a different set of
//! notes. Here the tokens are made in Rust by the rule `brain_store::snippet` highlights by,
//! and handed to PostgreSQL as a `tsvector` literal; queries are built from the same tokens as
//! a `tsquery`, so PostgreSQL's parser never sees a note or a query.
//!
//! A `tsvector` keeps at most 256 positions per word, positions up to 16,383, and 1 MB in
//! all: a word past its 255th occurrence or the 16,383rd word of a note is still found, but a
//! phrase starting there is not; a note whose words would pass 1 MB is indexed up to there.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use brain_store::snippet::fold;

/// The highest position a `tsvector` keeps.
const MAX_POSITION: usize = 16_383;
/// Positions kept per word.
const MAX_POSITIONS_PER_WORD: usize = 255;
/// The longest word a `tsvector` takes, in bytes.
const MAX_WORD_BYTES: usize = 2_046;
/// Where the literal stops growing (PostgreSQL refuses a `tsvector` of 1 MB).
const MAX_LITERAL_BYTES: usize = 900_000;

/// The words of `text`, folded, in order.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(text.len() / 6);
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(fold(&text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(fold(&text[s..]));
    }
    out
}

/// The `tsvector` literal of a note: title words weighted A from position 1, body words
/// weighted B after a gap, so no phrase runs from the title into the body.
pub fn tsvector_text(title: &str, body: &str) -> String {
    let mut positions: BTreeMap<String, Vec<(usize, char)>> = BTreeMap::new();
    let title_words = words(title);
    let body_start = title_words.len() + 2;
    let all = title_words
        .into_iter()
        .enumerate()
        .map(|(i, w)| (w, i + 1, 'A'))
        .chain(
            words(body)
                .into_iter()
                .enumerate()
                .map(|(i, w)| (w, body_start + i, 'B')),
        );
    let mut size = 0usize;
    for (word, pos, weight) in all {
        if word.len() > MAX_WORD_BYTES || size > MAX_LITERAL_BYTES {
            continue;
        }
        let entry = positions.entry(word).or_default();
        if entry.is_empty() {
            size += 8;
        }
        if entry.len() < MAX_POSITIONS_PER_WORD {
            entry.push((pos.min(MAX_POSITION), weight));
            size += 7;
        }
    }
    let mut out = String::with_capacity(size + positions.keys().map(String::len).sum::<usize>());
    for (word, at) in &positions {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&quote(word));
        out.push(':');
        for (i, (pos, weight)) in at.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{pos}{weight}");
        }
    }
    out
}

/// A word as a `tsvector`/`tsquery` lexeme literal: quoted, `'` doubled, `\` escaped.
pub fn quote(word: &str) -> String {
    let mut s = String::with_capacity(word.len() + 2);
    s.push('\'');
    for c in word.chars() {
        match c {
            '\'' => s.push_str("''"),
            '\\' => s.push_str("\\\\"),
            c => s.push(c),
        }
    }
    s.push('\'');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_runs_of_letters_and_digits() {
        assert_eq!(
            words("Café-au-lait, x/y.md 42!"),
            ["cafe", "au", "lait", "x", "y", "md", "42"]
        );
        assert_eq!(words("ÉCOLE naïve"), ["ecole", "naive"]);
        assert!(words("!!! ???").is_empty());
    }

    #[test]
    fn the_literal_weights_title_and_body_apart() {
        assert_eq!(tsvector_text("A b", "b c"), "'a':1A 'b':2A,4B 'c':5B");
        assert_eq!(quote("it's\\"), "'it''s\\\\'");
    }
}
