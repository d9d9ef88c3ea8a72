//! Full-text search: the search syntax tree as a `tsquery` over the `tsv` column (GIN), with
//! the same filters, paging and snippets as SQLite's.
//!
//! Every term becomes the tokens `tokens::words` makes of it (a term of several words is a
//! phrase, `<->`; a prefix applies to its last word), so a query finds what the same query
//! finds on SQLite. Ranking is `ts_rank` with title words five times body words (FTS5 uses
//! BM25 with the same weights), so the order of hits may differ between backends; the set of
//! hits does not.

use brain_core::EntityRef;
use postgres::types::ToSql;

use crate::db::{Db, get};
use crate::tokens::{quote, tsvector_text, words};
use brain_store::search_query::{Query, Term};
use brain_store::snippet::{escape, snippet};
use brain_store::{Result, SearchHit, SearchQuery, StoreError};

/// Words in a snippet, as on SQLite.
const SNIPPET_TOKENS: usize = 12;

/// A term that matches nothing (it has no words): `!` is no word, so no note has it.
const NOTHING: &str = "'!'";

/// A term as `tsquery` text, or `None` when it has no words.
fn term(t: &Term) -> Option<String> {
    let ws = words(&t.text);
    let last = ws.len().checked_sub(1)?;
    let parts: Vec<String> = ws
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == last && t.prefix {
                format!("{}:*", quote(w))
            } else {
                quote(w)
            }
        })
        .collect();
    Some(if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        format!("({})", parts.join(" <-> "))
    })
}

fn any_of(terms: &[Term]) -> String {
    let parts: Vec<String> = terms
        .iter()
        .map(|t| term(t).unwrap_or_else(|| NOTHING.into()))
        .collect();
    format!("({})", parts.join(" | "))
}

/// What to run: ranked matches of `positive` without `negative`, or (no positive terms) every
/// live note without `negative`.
struct Rendered {
    positive: Option<String>,
    negative: Option<String>,
}

fn render(q: &Query) -> Rendered {
    let positive = (!q.groups.is_empty()).then(|| {
        q.groups
            .iter()
            .map(|g| any_of(g))
            .collect::<Vec<_>>()
            .join(" & ")
    });
    let negative = (!q.excluded.is_empty()).then(|| any_of(&q.excluded));
    Rendered { positive, negative }
}

/// Ranked hits for `q`, best first, from `q.offset` on; `q.limit == 0` means no limit.
pub(crate) fn search(db: &mut Db<'_>, q: &SearchQuery) -> Result<Vec<SearchHit>> {
    let query = match brain_store::search_query::parse(&q.text) {
        Some(query) => query,
        // Filters alone select every live entity they hold.
        None if q.has_filters() => Query {
            groups: Vec::new(),
            excluded: Vec::new(),
        },
        None => return Err(StoreError::EmptyQuery),
    };
    let r = render(&query);
    let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    let mut arg = |v: Box<dyn ToSql + Sync>| {
        args.push(v);
        format!("${}", args.len())
    };
    let mut filters = String::new();
    if !q.types.is_empty() {
        let n = arg(Box::new(q.types.clone()));
        filters.push_str(&format!(" AND type = ANY({n})"));
    }
    for tag in &q.tags {
        let n = arg(Box::new(tag.clone()));
        filters.push_str(&format!(
            " AND row_id IN (SELECT entity_id FROM entity_tags WHERE tag = {n})"
        ));
    }
    if !q.paths.is_empty() {
        // A folder is a range on `path` in byte order (as `list --folder`), or one note's
        // exact path.
        let mut any = Vec::new();
        for folder in &q.paths {
            let lo = arg(Box::new(format!("{folder}/")));
            let hi = arg(Box::new(format!("{folder}0")));
            let exact = arg(Box::new(folder.clone()));
            any.push(format!(
                "(path COLLATE \"C\" >= {lo} AND path COLLATE \"C\" < {hi}) OR path = {exact}"
            ));
        }
        filters.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    for (key, value) in &q.meta {
        // A scalar as a list of one, so both are compared element by element as text.
        let k = arg(Box::new(key.clone()));
        let v = arg(Box::new(value.clone()));
        filters.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(
                 CASE jsonb_typeof(metadata::jsonb -> {k})
                   WHEN 'array' THEN metadata::jsonb -> {k}
                   ELSE jsonb_build_array(metadata::jsonb -> {k}) END) AS m(v)
               WHERE m.v = {v})"
        ));
    }
    if let Some(neg) = &r.negative {
        let n = arg(Box::new(neg.clone()));
        filters.push_str(&format!(" AND NOT (tsv @@ {n}::text::tsquery)"));
    }
    let (score, order) = match &r.positive {
        Some(pos) => {
            let n = arg(Box::new(pos.clone()));
            filters.push_str(&format!(" AND tsv @@ {n}::text::tsquery"));
            (
                format!("ts_rank('{{0.1, 0.1, 0.2, 1.0}}', tsv, {n}::text::tsquery)::float8"),
                "1 DESC, path COLLATE \"C\"",
            )
        }
        None => (
            "0::float8".to_string(),
            "updated_ms DESC, path COLLATE \"C\"",
        ),
    };
    let body = if q.snippets { "true" } else { "false" };
    let mut sql = format!(
        "SELECT {score}, type, id, title, path, CASE WHEN {body} THEN body ELSE '' END
         FROM entities
         WHERE deleted_ms IS NULL{filters} ORDER BY {order}"
    );
    if q.limit > 0 {
        let n = arg(Box::new(i64::try_from(q.limit).unwrap_or(i64::MAX)));
        sql.push_str(&format!(" LIMIT {n}"));
    }
    let n = arg(Box::new(i64::try_from(q.offset).unwrap_or(i64::MAX)));
    sql.push_str(&format!(" OFFSET {n}"));
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
    let rows = db.query(&sql, &params)?;
    let needles = query.highlight_words();
    let mark = (q.highlight.0.as_str(), q.highlight.1.as_str());
    rows.iter()
        .map(|row| {
            let title: String = get(row, 3)?;
            let body: String = get(row, 5)?;
            let snippet = if q.snippets {
                snippet(&body, &needles, SNIPPET_TOKENS, mark)
                    .or_else(|| snippet(&title, &needles, SNIPPET_TOKENS, mark))
                    .unwrap_or_else(|| escape(&lead(&body), mark))
            } else {
                String::new()
            };
            Ok(SearchHit {
                entity: EntityRef::new(get::<String>(row, 1)?, get::<String>(row, 2)?),
                title,
                path: get(row, 4)?,
                score: get(row, 0)?,
                snippet,
            })
        })
        .collect()
}

/// The first words of a body, about as long as a snippet.
fn lead(body: &str) -> String {
    let ws: Vec<&str> = body.split_whitespace().collect();
    let mut s = ws[..ws.len().min(SNIPPET_TOKENS)].join(" ");
    if ws.len() > SNIPPET_TOKENS {
        s.push('…');
    }
    s
}

/// Every live entity's row id and the search text its title and body make, in chunks of 500
/// (what `reindex` writes and `check_index` compares).
fn live_texts(db: &mut Db<'_>) -> Result<Vec<(Vec<i64>, Vec<String>)>> {
    let rows = db.query(
        "SELECT row_id, title, body FROM entities WHERE deleted_ms IS NULL ORDER BY row_id",
        &[],
    )?;
    rows.chunks(500)
        .map(|chunk| {
            let mut ids = Vec::with_capacity(chunk.len());
            let mut texts = Vec::with_capacity(chunk.len());
            for row in chunk {
                ids.push(get::<i64>(row, 0)?);
                texts.push(tsvector_text(
                    &get::<String>(row, 1)?,
                    &get::<String>(row, 2)?,
                ));
            }
            Ok((ids, texts))
        })
        .collect()
}

/// Computes every live note's search text again where it differs, and clears a deleted
/// note's (see [`brain_store::Store::reindex`]); the notes it changed.
pub(crate) fn reindex(db: &mut Db<'_>) -> Result<u64> {
    let mut changed = 0;
    for (ids, texts) in live_texts(db)? {
        changed += db.execute(
            "UPDATE entities e SET tsv = x.t::tsvector
             FROM unnest($1::bigint[], $2::text[]) AS x(id, t)
             WHERE e.row_id = x.id AND e.tsv IS DISTINCT FROM x.t::tsvector",
            &[&ids, &texts],
        )?;
    }
    changed += db.execute(
        "UPDATE entities SET tsv = NULL WHERE deleted_ms IS NOT NULL AND tsv IS NOT NULL",
        &[],
    )?;
    Ok(changed)
}

/// Verifies that every live entity's search text is its title's and body's, and that no
/// tombstone keeps one: a mismatch is an error saying how many drifted.
pub(crate) fn check_index(db: &mut Db<'_>) -> Result<()> {
    let mut drifted = 0i64;
    for (ids, texts) in live_texts(db)? {
        let row = db.query_one(
            "SELECT count(*) FROM unnest($1::bigint[], $2::text[]) AS x(id, t)
             JOIN entities e ON e.row_id = x.id
             WHERE e.tsv IS DISTINCT FROM x.t::tsvector",
            &[&ids, &texts],
        )?;
        drifted += get::<i64>(&row, 0)?;
    }
    let row = db.query_one(
        "SELECT count(*) FROM entities WHERE deleted_ms IS NOT NULL AND tsv IS NOT NULL",
        &[],
    )?;
    let dead: i64 = get(&row, 0)?;
    if drifted + dead > 0 {
        return Err(StoreError::Database(
            format!(
                "the search index drifted from the notes: {drifted} live note(s) with other \
                 search text than their own, {dead} deleted note(s) still searchable; run \
                 `brain doctor --rebuild` to compute it again"
            )
            .into(),
        ));
    }
    Ok(())
}
