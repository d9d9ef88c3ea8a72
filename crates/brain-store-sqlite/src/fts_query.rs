//! The search syntax tree ([`brain_store::search_query::Query`]) as an FTS5 query.
//!
//! Every term is emitted as a quoted FTS5 string (inner `"` doubled), so FTS5 only ever sees
//! strings and the operators emitted here: no input can produce a syntax error, reach a column
//! filter (`title:`) or a `NEAR` group.

use brain_store::search_query::{self, Query, Term};

/// A query ready for the full-text index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FtsQuery {
    /// Entities matching this FTS5 expression, ranked.
    Match(String),
    /// Only exclusions were given: entities NOT matching this FTS5 expression.
    Exclude(String),
}

/// Renders a parsed query for FTS5.
pub fn render(query: &Query) -> FtsQuery {
    let negatives = join(&query.excluded, " OR ");
    if query.groups.is_empty() {
        return FtsQuery::Exclude(negatives);
    }
    let positives = query
        .groups
        .iter()
        .map(|g| {
            if g.len() == 1 {
                quoted(&g[0])
            } else {
                format!("({})", join(g, " OR "))
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    FtsQuery::Match(if negatives.is_empty() {
        positives
    } else {
        format!("({positives}) NOT ({negatives})")
    })
}

/// Parses `text` in the search language and renders it; `None` when it holds nothing to
/// search for.
pub fn parse(text: &str) -> Option<FtsQuery> {
    search_query::parse(text).map(|q| render(&q))
}

/// The ranked FTS5 expression for `text`, or `None` when there is nothing to rank: no terms at
/// all, or exclusions only (see [`parse`] for those).
pub fn to_fts5(text: &str) -> Option<String> {
    match parse(text)? {
        FtsQuery::Match(s) => Some(s),
        FtsQuery::Exclude(_) => None,
    }
}

fn quoted(term: &Term) -> String {
    let star = if term.prefix { "*" } else { "" };
    format!("\"{}\"{star}", term.text.replace('"', "\"\""))
}

fn join(terms: &[Term], sep: &str) -> String {
    terms.iter().map(quoted).collect::<Vec<_>>().join(sep)
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
