//! Full-text search over the FTS5 index.
//!
//! One FTS5 query ranks, filters and cuts to `limit` (FTS5 consumes `ORDER BY rank` itself and
//! ranks from its index alone; the test below pins that plan, with no temporary sort); then
//! the reference, title, path and text of those few hits are read by rowid and their snippets
//! built by [`brain_store::snippet`].
//!
//! Rejected: FTS5's `snippet()` in the ranking query walks every occurrence of every term in
//! each hit, which with one common word in the query was half the search time; and one
//! `MATCH ... AND rowid = ?` query per hit, which sets the whole match up again each time (50 ms
//! per hit for a prefix over many words).

use brain_core::EntityRef;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Transaction, params_from_iter};

use crate::fts_query::{self, FtsQuery};
use brain_store::snippet::{escape, snippet};
use brain_store::{Result, SearchHit, SearchQuery, StoreError};

/// Words in a snippet, as FTS5 counts them.
const SNIPPET_TOKENS: usize = 12;

/// Ranked hits for `q`, best first, from `q.offset` on. `q.limit == 0` means no limit, as in
/// `list`.
pub(crate) fn search(tx: &Transaction<'_>, q: &SearchQuery) -> Result<Vec<SearchHit>> {
    let query = match brain_store::search_query::parse(&q.text) {
        Some(query) => query,
        // Filters alone select every live entity they hold.
        None if q.has_filters() => brain_store::search_query::Query {
            groups: Vec::new(),
            excluded: Vec::new(),
        },
        None => return Err(StoreError::EmptyQuery),
    };
    let parsed = fts_query::render(&query);
    let (sql, args) = top_query(q, &parsed);
    let mut stmt = tx.prepare_cached(&sql)?;
    let top = stmt
        .query_map(params_from_iter(args), |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, f64>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut details =
        tx.prepare_cached("SELECT type, id, title, path, body FROM entities WHERE rowid = ?1")?;
    let needles = query.highlight_words();
    let mark = (q.highlight.0.as_str(), q.highlight.1.as_str());
    let mut hits = Vec::with_capacity(top.len());
    for (rowid, score) in top {
        let hit = details.query_row([rowid], |row| {
            let title: String = row.get(2)?;
            let body: String = row.get(4)?;
            // The best window of the body, else of the title (as when only the title
            // matched), else the note's first words.
            let snippet = if q.snippets {
                snippet(&body, &needles, SNIPPET_TOKENS, mark)
                    .or_else(|| snippet(&title, &needles, SNIPPET_TOKENS, mark))
                    .unwrap_or_else(|| escape(&lead(&body), mark))
            } else {
                String::new()
            };
            Ok(SearchHit {
                entity: EntityRef::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?),
                title,
                path: row.get(3)?,
                score,
                snippet,
            })
        })?;
        hits.push(hit);
    }
    Ok(hits)
}

/// The ranking query for `parsed` with `q`'s filters: rows of (rowid, score), best
/// first, score = -BM25 so higher is better.
///
/// An exclusion-only query lists live entities outside the excluded set, newest first, with
/// score 0 (there is nothing to rank by).
fn top_query(q: &SearchQuery, parsed: &FtsQuery) -> (String, Vec<SqlValue>) {
    let text = |s: &str| SqlValue::Text(s.to_string());
    let mut args = Vec::new();
    let mut filters = String::new();
    // `+rowid`, not `rowid`: a plain `rowid IN (...)` would be handed to FTS5 as a rowid
    // constraint, and FTS5 would then run the whole query once per listed rowid (seconds on a
    // large vault). With `+` each filter is one set, built from an index, probed per hit.
    if !q.types.is_empty() {
        let marks = vec!["?"; q.types.len()].join(", ");
        filters.push_str(&format!(
            " AND +rowid IN (SELECT rowid FROM entities WHERE type IN ({marks}))"
        ));
        args.extend(q.types.iter().map(|t| text(t)));
    }
    for tag in &q.tags {
        filters.push_str(" AND +rowid IN (SELECT entity_rowid FROM entity_tags WHERE tag = ?)");
        args.push(text(tag));
    }
    if !q.paths.is_empty() {
        // A folder is a range on `path` (as `list --folder`), or one note's exact path.
        let mut any = Vec::new();
        for folder in &q.paths {
            any.push("(path >= ? AND path < ?) OR path = ?");
            args.push(text(&format!("{folder}/")));
            args.push(text(&format!("{folder}0")));
            args.push(text(folder));
        }
        filters.push_str(&format!(
            " AND +rowid IN (SELECT rowid FROM entities WHERE {})",
            any.join(" OR ")
        ));
    }
    for (key, value) in &q.meta {
        // A scalar is one row of `json_each`, a list one row per element; booleans compared
        // as `true`/`false`, as PostgreSQL's text of them.
        filters.push_str(
            " AND +rowid IN (SELECT e.rowid FROM entities e, json_each(e.metadata, ?) m
               WHERE CASE m.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                     ELSE CAST(m.value AS TEXT) END = ?)",
        );
        args.push(text(&format!("$.\"{key}\"")));
        args.push(text(value));
    }
    let limit = match q.limit {
        0 => -1,
        n => i64::try_from(n).unwrap_or(i64::MAX),
    };
    let sql = match parsed {
        FtsQuery::Match(expr) => {
            args.insert(0, text(expr));
            format!(
                "SELECT rowid, -rank FROM entity_fts WHERE entity_fts MATCH ?1{filters}
                 ORDER BY rank LIMIT ? OFFSET ?"
            )
        }
        // Filters alone: every live entity they select.
        FtsQuery::Exclude(expr) if expr.is_empty() => format!(
            "SELECT rowid, 0.0 FROM entities
             WHERE deleted_ms IS NULL {filters}
             ORDER BY updated_ms DESC, path LIMIT ? OFFSET ?"
        ),
        FtsQuery::Exclude(expr) => {
            args.insert(0, text(expr));
            format!(
                "SELECT rowid, 0.0 FROM entities
                 WHERE deleted_ms IS NULL
                   AND rowid NOT IN (SELECT rowid FROM entity_fts WHERE entity_fts MATCH ?1)
                   {filters}
                 ORDER BY updated_ms DESC, path LIMIT ? OFFSET ?"
            )
        }
    };
    args.push(SqlValue::Integer(limit));
    args.push(SqlValue::Integer(
        i64::try_from(q.offset).unwrap_or(i64::MAX),
    ));
    (sql, args)
}

/// The first words of a body, about as long as a snippet.
fn lead(body: &str) -> String {
    let words: Vec<&str> = body.split_whitespace().collect();
    let mut s = words[..words.len().min(SNIPPET_TOKENS)].join(" ");
    if words.len() > SNIPPET_TOKENS {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;

    /// The plan that keeps snippets to the hits: FTS5 sorts by rank itself, so SQLite never
    /// builds a temporary sort over every match (which would compute every match's snippet).
    #[test]
    fn ranking_is_left_to_fts5() {
        let store = SqliteStore::open_in_memory().expect("open");
        let conn = store.lock();
        let mut q = SearchQuery::new("a OR b* -c");
        for (types, tags) in [
            (vec![], vec![]),
            (
                vec!["note".to_string()],
                vec!["x".to_string(), "y".to_string()],
            ),
        ] {
            q.types = types;
            q.tags = tags;
            let parsed = fts_query::parse(&q.text).expect("a query");
            let (sql, args) = top_query(&q, &parsed);
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain");
            let plan: Vec<String> = stmt
                .query_map(params_from_iter(args), |row| row.get::<_, String>(3))
                .expect("plan")
                .collect::<rusqlite::Result<_>>()
                .expect("plan rows");
            assert!(
                plan[0].starts_with("SCAN entity_fts VIRTUAL TABLE"),
                "{plan:?}"
            );
            assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:?}");
        }
    }

    #[test]
    fn lead_takes_the_first_words() {
        assert_eq!(lead("a b\nc"), "a b c");
        let long = "w ".repeat(20);
        assert_eq!(lead(&long), format!("{}…", ["w"; SNIPPET_TOKENS].join(" ")));
    }
}
