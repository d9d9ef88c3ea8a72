//! Snippets: a short window of a hit's text around its best match, with the matched words
//! marked.
//!
//! Computed here rather than by FTS5's `snippet()`: that walks every occurrence of every query
//! term in each hit, so one common word in the query doubled the time of a whole search. This
//! scans each hit's text once. Words are runs of letters and digits, compared after lower-casing
//! and removing diacritics, as the `unicode61 remove_diacritics 2` tokenizer does, so what is
//! highlighted is what matched. Backends share it, so snippets look the same everywhere.
//!
//! The marks can always be told from the note's text: an occurrence of either mark in the text
//! itself is written twice (`⟦` as `⟦⟦`, `⟧` as `⟧⟧`), while a highlight is one opening mark,
//! the matched word (letters and digits only, so never a mark) and one closing mark. Read left
//! to right: a doubled mark is one character of the note; a single opening mark starts a
//! highlight that the next closing mark ends.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// One word to find.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Needle {
    folded: String,
    prefix: bool,
}

impl Needle {
    /// A word to find; `prefix` matches any word starting with it.
    pub fn new(word: &str, prefix: bool) -> Self {
        Self {
            folded: fold(word),
            prefix,
        }
    }

    fn matches(&self, folded_word: &str) -> bool {
        if self.prefix {
            folded_word.starts_with(&self.folded)
        } else {
            folded_word == self.folded
        }
    }

    fn matches_ascii(&self, word: &str) -> bool {
        let n = self.folded.as_bytes();
        let w = word.as_bytes();
        if self.prefix {
            w.len() >= n.len() && w[..n.len()].eq_ignore_ascii_case(n)
        } else {
            w.eq_ignore_ascii_case(n)
        }
    }
}

/// Lower case without diacritics (`Café` → `cafe`).
pub fn fold(word: &str) -> String {
    if word.is_ascii() {
        return word.to_ascii_lowercase();
    }
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Byte spans of the words of `text`.
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::with_capacity(text.len() / 5);
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

fn which(needles: &[Needle], word: &str) -> Option<usize> {
    if word.is_ascii() {
        return needles.iter().position(|n| n.matches_ascii(word));
    }
    let folded = fold(word);
    needles.iter().position(|n| n.matches(&folded))
}

/// `text` with every occurrence of either mark doubled, so no part of it reads as a mark (see
/// the module doc). Marks that are both empty escape nothing.
pub fn escape(text: &str, mark: (&str, &str)) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text, mark);
    out
}

/// Appends `text` to `out` with every occurrence of either (non-empty) mark doubled.
fn push_escaped(out: &mut String, text: &str, mark: (&str, &str)) {
    let marks: Vec<&str> = [mark.0, mark.1]
        .into_iter()
        .filter(|m| !m.is_empty())
        .collect();
    let mut rest = text;
    loop {
        // The earliest mark in what is left (the longer one first at the same place).
        let next = marks
            .iter()
            .filter_map(|m| rest.find(m).map(|at| (at, std::cmp::Reverse(m.len()), *m)))
            .min();
        match next {
            Some((at, _, m)) => {
                out.push_str(&rest[..at]);
                out.push_str(m);
                out.push_str(m);
                rest = &rest[at + m.len()..];
            }
            None => {
                out.push_str(rest);
                return;
            }
        }
    }
}

/// About `max_words` words of `text` around the window holding the most distinct needles,
/// matched words wrapped in `mark`, with `…` where text was cut, and the marks in the text
/// itself doubled ([`escape`]). `None` if nothing matches.
pub fn snippet(
    text: &str,
    needles: &[Needle],
    max_words: usize,
    mark: (&str, &str),
) -> Option<String> {
    if needles.is_empty() {
        return None;
    }
    let spans = words(text);
    let hits: Vec<(usize, usize)> = spans
        .iter()
        .enumerate()
        .filter_map(|(i, &(s, e))| which(needles, &text[s..e]).map(|n| (i, n)))
        .collect();
    if hits.is_empty() {
        return None;
    }
    let max_words = max_words.max(1);
    // Windows start two words before a hit; keep the one with the most distinct needles.
    let mut best = (0usize, 0usize);
    let mut seen = vec![false; needles.len()];
    for (k, &(i, _)) in hits.iter().enumerate() {
        let start = i.saturating_sub(2);
        seen.iter_mut().for_each(|s| *s = false);
        let mut distinct = 0;
        for &(j, n) in &hits[k..] {
            if j >= start + max_words {
                break;
            }
            if !seen[n] {
                seen[n] = true;
                distinct += 1;
            }
        }
        if distinct > best.1 {
            best = (start, distinct);
            if distinct == needles.len() {
                break;
            }
        }
    }
    let start = best.0;
    let end = (start + max_words).min(spans.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut cursor = spans[start].0;
    for &(i, _) in hits.iter().filter(|(i, _)| *i >= start && *i < end) {
        let (s, e) = spans[i];
        push_escaped(&mut out, &text[cursor..s], mark);
        out.push_str(mark.0);
        out.push_str(&text[s..e]);
        out.push_str(mark.1);
        cursor = e;
    }
    push_escaped(&mut out, &text[cursor..spans[end - 1].1], mark);
    if end < spans.len() {
        out.push('…');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(words: &[&str]) -> Vec<Needle> {
        words
            .iter()
            .map(|w| Needle::new(w.trim_end_matches('*'), w.ends_with('*')))
            .collect()
    }

    #[test]
    fn marks_matches_in_a_window() {
        let text = "one two three four five six seven eight nine ten Rust eleven twelve";
        let s = snippet(text, &n(&["rust"]), 5, ("[", "]")).unwrap();
        assert_eq!(s, "…nine ten [Rust] eleven twelve");
        let s = snippet(
            "Rust first, then more words here",
            &n(&["rust"]),
            3,
            ("[", "]"),
        )
        .unwrap();
        assert_eq!(s, "[Rust] first, then…");
    }

    #[test]
    fn prefers_the_window_with_more_distinct_terms() {
        let text = "crab a b c d e f g h i j crab cakes recipe";
        let s = snippet(text, &n(&["crab", "cakes"]), 4, ("[", "]")).unwrap();
        assert_eq!(s, "…i j [crab] [cakes]…");
    }

    /// A mark in the note's own text is doubled, so a reader tells it from a highlight.
    #[test]
    fn marks_in_the_text_are_doubled() {
        let m = ("⟦", "⟧");
        assert_eq!(
            snippet("a ⟦x⟧ needle⟧ b", &n(&["needle"]), 9, m).unwrap(),
            "a ⟦⟦x⟧⟧ ⟦needle⟧⟧⟧ b"
        );
        assert_eq!(
            snippet("x ⟦needle", &n(&["needle"]), 9, m).unwrap(),
            "x ⟦⟦⟦needle⟧"
        );
        assert_eq!(escape("**bold** ⟧⟦", ("**", "**")), "****bold**** ⟧⟦");
        assert_eq!(escape("plain", ("", "")), "plain");
    }

    #[test]
    fn folds_case_and_diacritics_and_prefixes() {
        assert_eq!(
            snippet("Un café crème", &n(&["cafe"]), 5, ("[", "]")).unwrap(),
            "Un [café] crème"
        );
        assert_eq!(
            snippet("CAFÉ", &n(&["café"]), 5, ("[", "]")).unwrap(),
            "[CAFÉ]"
        );
        assert_eq!(
            snippet("crustaceans here", &n(&["crust*"]), 5, ("[", "]")).unwrap(),
            "[crustaceans] here"
        );
        assert_eq!(snippet("nothing", &n(&["else"]), 5, ("[", "]")), None);
        assert_eq!(
            snippet("東京の会議メモ", &n(&["東京の会議メモ"]), 5, ("[", "]")).unwrap(),
            "[東京の会議メモ]"
        );
    }
}
