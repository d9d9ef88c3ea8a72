//! Listing and counting entities.

use brain_core::EntityRef;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Transaction, params_from_iter};

use brain_store::{EntitySummary, ListFilter, Result};

/// Entities in path order. The folder filter is a range on `path` (`folder/` up to `folder0`,
/// `0` being the byte after `/`), which uses the path index and, unlike LIKE, has no wildcard
/// characters a folder name could contain.
pub(crate) fn list(tx: &Transaction<'_>, f: &ListFilter) -> Result<Vec<EntitySummary>> {
    let mut sql =
        String::from("SELECT type, id, title, path, updated_ms, deleted_ms FROM entities WHERE 1");
    let mut args: Vec<SqlValue> = Vec::new();
    if !f.include_deleted {
        sql.push_str(" AND deleted_ms IS NULL");
    }
    if let Some(t) = &f.entity_type {
        sql.push_str(" AND type = ?");
        args.push(SqlValue::Text(t.clone()));
    }
    if let Some(tag) = &f.tag {
        sql.push_str(" AND rowid IN (SELECT entity_rowid FROM entity_tags WHERE tag = ?)");
        args.push(SqlValue::Text(tag.clone()));
    }
    if let Some(folder) = f.folder.as_deref().map(|d| d.trim_matches('/'))
        && !folder.is_empty()
    {
        sql.push_str(" AND path >= ? AND path < ?");
        args.push(SqlValue::Text(format!("{folder}/")));
        args.push(SqlValue::Text(format!("{folder}0")));
    }
    sql.push_str(" ORDER BY path, type, id LIMIT ? OFFSET ?");
    let limit = if f.limit == 0 {
        -1
    } else {
        i64::try_from(f.limit).unwrap_or(i64::MAX)
    };
    args.push(SqlValue::Integer(limit));
    args.push(SqlValue::Integer(
        i64::try_from(f.offset).unwrap_or(i64::MAX),
    ));
    let mut stmt = tx.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |row| {
        Ok(EntitySummary {
            entity: EntityRef::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?),
            title: row.get(2)?,
            path: row.get(3)?,
            updated_ms: row.get(4)?,
            deleted_ms: row.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Number of live entities: one row read (kept by the index writes, see `fts.rs`), since every
/// sync of a few paths asks for it.
pub(crate) fn count_live(tx: &Transaction<'_>) -> Result<u64> {
    crate::fts::live_count(tx)
}
