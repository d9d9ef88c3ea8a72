//! The change feed (`Store::changes_since`): the numbers the `entity_changes` triggers hand out
//! (migration 0006), read in order with each entity's state now.

use brain_core::EntityRef;
use rusqlite::{Transaction, params};

use brain_store::{Change, ChangePage, Result};

/// Entities changed after `cursor`, oldest change first, at most `limit`.
pub(crate) fn since(tx: &Transaction<'_>, cursor: u64, limit: usize) -> Result<ChangePage> {
    let mut stmt = tx.prepare_cached(
        "SELECT c.seq, e.type, e.id, e.path, e.content_hash, e.deleted_ms IS NOT NULL,
                e.updated_ms
         FROM entity_changes c JOIN entities e ON e.rowid = c.entity_rowid
         WHERE c.seq > ?1
         ORDER BY c.seq
         LIMIT ?2",
    )?;
    let cursor_sql = i64::try_from(cursor).unwrap_or(i64::MAX);
    let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![cursor_sql, limit_sql], |row| {
        Ok(Change {
            seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or_default(),
            entity: EntityRef::new(row.get::<_, String>(1)?, row.get::<_, String>(2)?),
            path: row.get(3)?,
            content_hash: row.get(4)?,
            deleted: row.get(5)?,
            updated_ms: row.get(6)?,
        })
    })?;
    let changes = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let next = changes.last().map_or(cursor, |c| c.seq);
    Ok(ChangePage { changes, next })
}

/// The highest number handed out so far (0 before any change).
pub(crate) fn cursor(tx: &Transaction<'_>) -> Result<u64> {
    let n: i64 = tx
        .prepare_cached("SELECT coalesce(max(seq), 0) FROM entity_changes")?
        .query_row([], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or_default())
}
