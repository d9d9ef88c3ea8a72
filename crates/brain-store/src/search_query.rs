//! The search language people and agents type, translated to a full-text query.
//!
//! - plain words are all required: `rust async` finds notes with both;
//! - `"a phrase"` requires the words in that order;
//! - `word*` matches any word starting with `word` (also `"a phra"*`);
//! - `-word` and `-"a phrase"` exclude notes containing them (`NOT word` too);
//! - `OR` (upper case) between two terms accepts either: `rust OR go async` is
//!   `(rust OR go) AND async`, as in web search engines; `AND` is accepted and changes nothing;
//!   lower-case `or`/`and`/`not` are ordinary words.
//!
//! Every term is emitted as a quoted FTS5 string (inner `"` doubled) and control characters
//! become spaces, so FTS5 only ever sees strings and the operators emitted here: no input can
//! produce a syntax error, reach a column filter (`title:`) or a `NEAR` group. Terms with no
//! letter or digit are dropped, as the tokenizer would find nothing in them.
//!
//! A query of exclusions only (`-draft`) means what it says: every note without those words.
//! It cannot be a ranked FTS5 query (FTS5 has no "match everything"), so [`parse`] returns it as
//! [`FtsQuery::Exclude`] and the backend lists the remaining notes, newest first.

/// A query ready for the full-text index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FtsQuery {
    /// Entities matching this FTS5 expression, ranked.
    Match(String),
    /// Only exclusions were given: entities NOT matching this FTS5 expression.
    Exclude(String),
}

/// Parses `text` in the language above; `None` when it holds nothing to search for.
pub fn parse(text: &str) -> Option<FtsQuery> {
    let (groups, negatives) = group(lex(text));
    let negatives = join(&negatives, " OR ");
    if groups.is_empty() {
        return (!negatives.is_empty()).then_some(FtsQuery::Exclude(negatives));
    }
    let positives = groups
        .iter()
        .map(|g| {
            if g.len() == 1 {
                g[0].to_fts5()
            } else {
                format!("({})", join(g, " OR "))
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    Some(FtsQuery::Match(if negatives.is_empty() {
        positives
    } else {
        format!("({positives}) NOT ({negatives})")
    }))
}

/// The ranked FTS5 expression for `text`, or `None` when there is nothing to rank: no terms at
/// all, or exclusions only (see [`parse`] for those).
pub fn to_fts5(text: &str) -> Option<String> {
    match parse(text)? {
        FtsQuery::Match(s) => Some(s),
        FtsQuery::Exclude(_) => None,
    }
}

/// The words a hit should show highlighted: every word of every positive term, folded as the
/// index folds them; the last word of a prefix term matches as a prefix.
pub fn highlight_words(text: &str) -> Vec<crate::snippet::Needle> {
    let (groups, _) = group(lex(text));
    let mut out = Vec::new();
    for term in groups.iter().flatten() {
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

/// One search term.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Term {
    text: String,
    prefix: bool,
    negated: bool,
}

impl Term {
    fn to_fts5(&self) -> String {
        let star = if self.prefix { "*" } else { "" };
        format!("\"{}\"{star}", self.text.replace('"', "\"\""))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Term(Term),
    Or,
    Not,
}

fn join(terms: &[Term], sep: &str) -> String {
    terms
        .iter()
        .map(Term::to_fts5)
        .collect::<Vec<_>>()
        .join(sep)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Option<FtsQuery> {
        Some(FtsQuery::Match(s.to_string()))
    }

    #[test]
    fn words_are_anded_and_quoted() {
        assert_eq!(parse("rust async"), m(r#""rust" AND "async""#));
        assert_eq!(parse("title:x"), m(r#""title:x""#));
        assert_eq!(parse(r#"a"b"#), m(r#""a""b""#));
        assert_eq!(parse("NEAR(a b)"), m(r#""NEAR(a" AND "b)""#));
    }

    #[test]
    fn phrases_prefixes_and_operators() {
        assert_eq!(parse(r#""a phrase" x*"#), m(r#""a phrase" AND "x"*"#));
        assert_eq!(parse(r#""a phr"*"#), m(r#""a phr"*"#));
        assert_eq!(parse("a OR b c"), m(r#"("a" OR "b") AND "c""#));
        assert_eq!(parse("a AND b"), m(r#""a" AND "b""#));
        assert_eq!(parse("a or b"), m(r#""a" AND "or" AND "b""#));
        assert_eq!(parse("a -b -\"c d\""), m(r#"("a") NOT ("b" OR "c d")"#));
        assert_eq!(parse("a NOT b"), m(r#"("a") NOT ("b")"#));
        assert_eq!(parse("OR a OR"), m(r#""a""#));
        assert_eq!(parse("--force"), m(r#""--force""#));
        assert_eq!(
            parse(r#""unterminated phrase"#),
            m(r#""unterminated phrase""#)
        );
    }

    #[test]
    fn nothing_to_search() {
        for q in [
            "", "   ", "OR", "AND NOT", "*", "!!! ???", "-", "\"\"", "\0",
        ] {
            assert_eq!(parse(q), None, "{q:?}");
        }
        assert_eq!(to_fts5("-draft"), None);
        assert_eq!(
            parse("-draft -old"),
            Some(FtsQuery::Exclude(r#""draft" OR "old""#.into()))
        );
    }
}
