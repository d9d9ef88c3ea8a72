//! The search language people and agents type, parsed into a syntax tree ([`Query`]) each
//! backend renders in its own full-text query language.
//!
//! - plain words are all required: `rust async` finds notes with both;
//! - `"a phrase"` requires the words in that order;
//! - `word*` matches any word starting with `word` (also `"a phra"*`);
//! - `-word` and `-"a phrase"` exclude notes containing them (`NOT word` too);
//! - `OR` (upper case) between two terms accepts either: `rust OR go async` is
//!   `(rust OR go) AND async`, as in web search engines; `AND` is accepted and changes nothing;
//!   lower-case `or`/`and`/`not` are ordinary words.
//!
//! Control characters become spaces, and terms with no letter or digit are dropped, as a
//! tokenizer would find nothing in them. A backend must render every term as a quoted string
//! of its language, so no input can produce a syntax error or reach an operator of that
//! language the tree does not hold (SQLite's rendering: `brain_store_sqlite::fts_query`).
//!
//! A query of exclusions only (`-draft`) means what it says: every note without those words.
//! No index can rank that ("match everything"), so the tree has no groups then, and the
//! backend lists the remaining notes, newest first.

/// A parsed search, the syntax tree every backend renders in its own query language (FTS5 for
/// SQLite, `tsquery` for PostgreSQL): every group must match (AND), a group matches when any
/// of its terms does (OR), and no excluded term may match. Terms keep the text as typed
/// (control characters made spaces); quoting it for the index is the backend's job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// Groups of alternatives, all required. Empty when only exclusions were given: then the
    /// query means every note without them (no index can rank "match everything").
    pub groups: Vec<Vec<Term>>,
    /// Terms no hit may contain.
    pub excluded: Vec<Term>,
}

impl Query {
    /// The words a hit should show highlighted: every word of every positive term, folded as
    /// the index folds them; the last word of a prefix term matches as a prefix.
    pub fn highlight_words(&self) -> Vec<crate::snippet::Needle> {
        let mut out = Vec::new();
        for term in self.groups.iter().flatten() {
            let words: Vec<&str> = term
                .text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect();
            for (i, w) in words.iter().enumerate() {
                out.push(crate::snippet::Needle::new(
                    w,
                    term.prefix && i + 1 == words.len(),
                ));
            }
        }
        out
    }
}

/// Parses `text` in the language above; `None` when it holds nothing to search for.
pub fn parse(text: &str) -> Option<Query> {
    let (groups, excluded) = group(lex(text));
    (!groups.is_empty() || !excluded.is_empty()).then_some(Query { groups, excluded })
}

/// The words a hit for `text` should show highlighted (see [`Query::highlight_words`]).
pub fn highlight_words(text: &str) -> Vec<crate::snippet::Needle> {
    parse(text).map(|q| q.highlight_words()).unwrap_or_default()
}

/// One search term: a word or a phrase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// The word or phrase as typed, without its quotes or `*`.
    pub text: String,
    /// `word*`: any word starting with the (last) word matches.
    pub prefix: bool,
    negated: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Term(Term),
    Or,
    Not,
}

/// Splits the text into terms and operators.
fn lex(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        // `-` excludes only when a word or phrase follows at once: `--force` and `-` alone
        // are text, not an exclusion of "force".
        let negated = chars[i] == '-'
            && chars
                .get(i + 1)
                .is_some_and(|&c| c == '"' || c.is_alphanumeric());
        if negated {
            i += 1;
        }
        let (raw, prefix, quoted) = if chars[i] == '"' {
            let start = i + 1;
            let end = chars[start..]
                .iter()
                .position(|&c| c == '"')
                .map_or(chars.len(), |p| start + p);
            i = (end + 1).min(chars.len());
            let prefix = chars.get(i) == Some(&'*');
            if prefix {
                i += 1;
            }
            (chars[start..end].iter().collect::<String>(), prefix, true)
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let stem = word.trim_end_matches('*');
            let prefix = stem.len() < word.len();
            (stem.to_string(), prefix, false)
        };
        if !quoted && !negated {
            match raw.as_str() {
                "OR" if !prefix => {
                    out.push(Token::Or);
                    continue;
                }
                "AND" if !prefix => continue,
                "NOT" if !prefix => {
                    out.push(Token::Not);
                    continue;
                }
                _ => {}
            }
        }
        if raw.chars().any(char::is_alphanumeric) {
            out.push(Token::Term(Term {
                text: raw,
                prefix,
                negated,
            }));
        }
    }
    out
}

/// Groups positive terms joined by `OR`; collects exclusions apart. A dangling `OR` or `NOT`
/// (first, last, doubled) is ignored rather than refused.
fn group(tokens: Vec<Token>) -> (Vec<Vec<Term>>, Vec<Term>) {
    let mut groups: Vec<Vec<Term>> = Vec::new();
    let mut negatives = Vec::new();
    let mut pending_or = false;
    let mut pending_not = false;
    for token in tokens {
        match token {
            Token::Or => pending_or = !groups.is_empty(),
            Token::Not => pending_not = true,
            Token::Term(mut t) => {
                t.negated |= std::mem::take(&mut pending_not);
                if t.negated {
                    negatives.push(t);
                } else if std::mem::take(&mut pending_or) {
                    if let Some(last) = groups.last_mut() {
                        last.push(t);
                    }
                } else {
                    groups.push(vec![t]);
                }
            }
        }
    }
    (groups, negatives)
}

/// The filters a query may carry beside its words (`type:T`, `tag:T`, `path:FOLDER`,
/// `meta.KEY:VALUE`), taken out of the text by [`split_filters`]. A value with spaces is quoted:
/// `meta.owner:"Ann Lee"`, `path:"My Notes"`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    /// `type:T`: only these types (any of them).
    pub types: Vec<String>,
    /// `tag:T`: only notes with all of these tags (lower case, no `#`).
    pub tags: Vec<String>,
    /// `path:P`: only notes in one of these folders (and below), or at exactly this path.
    pub paths: Vec<String>,
    /// `meta.KEY:VALUE`: only notes whose frontmatter or page property `KEY` is `VALUE` (or is
    /// a list holding it), compared as text, exactly. All of them must hold.
    pub meta: Vec<(String, String)>,
}

impl Filters {
    /// Whether no filter was given.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
            && self.tags.is_empty()
            && self.paths.is_empty()
            && self.meta.is_empty()
    }
}

/// Takes the filters out of a query: returns the words left (for [`parse`]) and the filters.
/// A filter with no value, a negated filter (`-tag:x`) or a metadata key holding `"` is
/// refused with what to write instead. Any other `word:word` is text, as before.
pub fn split_filters(text: &str) -> Result<(String, Filters), String> {
    let chars: Vec<char> = text.chars().collect();
    let mut rest = String::new();
    let mut filters = Filters::default();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            rest.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        // A quoted phrase is text, spaces and all.
        if chars[i] == '"' || (chars[i] == '-' && chars.get(i + 1) == Some(&'"')) {
            i += if chars[i] == '-' { 2 } else { 1 };
            while i < chars.len() && chars[i] != '"' {
                i += 1;
            }
            i = (i + 1).min(chars.len());
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            rest.extend(&chars[start..i]);
            continue;
        }
        // The token up to its first `:`, if it names a filter.
        let word_end = (i..chars.len())
            .find(|&j| chars[j].is_whitespace() || chars[j] == ':' || chars[j] == '"')
            .unwrap_or(chars.len());
        let name: String = chars[i..word_end].iter().collect();
        let negated = name.starts_with('-');
        let bare = name.trim_start_matches('-');
        let is_filter = chars.get(word_end) == Some(&':')
            && (matches!(bare, "type" | "tag" | "path") || bare.starts_with("meta."));
        if !is_filter {
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            rest.extend(&chars[start..i]);
            continue;
        }
        if negated {
            return Err(format!(
                "'{name}:' cannot be negated: filters select notes, they do not exclude them (leave out the `-`)"
            ));
        }
        // The value: quoted (spaces allowed), or up to the next space.
        i = word_end + 1;
        let value: String = if chars.get(i) == Some(&'"') {
            let from = i + 1;
            let to = (from..chars.len()).find(|&j| chars[j] == '"');
            let Some(to) = to else {
                return Err(format!(
                    "the value of '{bare}:' opens a quote it never closes: close it (`{bare}:\"...\"`)"
                ));
            };
            i = to + 1;
            chars[from..to].iter().collect()
        } else {
            let from = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            chars[from..i].iter().collect()
        };
        if value.trim().is_empty() {
            return Err(format!(
                "'{bare}:' has no value: write it without a space (`{bare}:VALUE`), quoted if the value has spaces"
            ));
        }
        match bare {
            "type" => filters.types.push(value),
            "tag" => filters
                .tags
                .push(value.trim().trim_start_matches('#').to_lowercase()),
            "path" => {
                let folder = value.trim().trim_matches('/').to_string();
                if folder.is_empty() {
                    return Err("'path:/' names the whole vault: leave the filter out".into());
                }
                filters.paths.push(folder)
            }
            _ => {
                let key = &bare["meta.".len()..];
                if key.is_empty() {
                    return Err(
                        "'meta.:' names no key: write `meta.KEY:VALUE` (`meta.status:done`)".into(),
                    );
                }
                if key.contains('"') || key.chars().any(char::is_control) {
                    return Err(format!(
                        "the metadata key '{key}' holds a quote or control character: no filter can name it"
                    ));
                }
                filters.meta.push((key.to_string(), value));
            }
        }
    }
    Ok((rest.trim().to_string(), filters))
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    #[test]
    fn filters_come_out_and_words_stay() {
        let (rest, f) = split_filters(
            r#"rust type:note tag:#Work path:/Projects/ "a b:c" meta.owner:"Ann Lee" x:y"#,
        )
        .expect("parses");
        let words: Vec<&str> = rest.split_whitespace().collect();
        assert_eq!(words, ["rust", "\"a", "b:c\"", "x:y"]);
        assert_eq!(f.types, ["note"]);
        assert_eq!(f.tags, ["work"]);
        assert_eq!(f.paths, ["Projects"]);
        assert_eq!(f.meta, [("owner".to_string(), "Ann Lee".to_string())]);
    }

    #[test]
    fn bad_filters_are_refused_with_what_to_write() {
        for (q, says) in [
            ("tag:", "has no value"),
            ("-tag:x", "cannot be negated"),
            ("meta.:x", "names no key"),
            ("meta.a:\"open", "never closes"),
            ("path:/", "whole vault"),
        ] {
            let err = split_filters(q).expect_err(q);
            assert!(err.contains(says), "{q}: {err}");
        }
    }
}
