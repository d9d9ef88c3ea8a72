//! The change feed (`Store::changes_since`): numbering each entity change ([`record`]) in the
//! transaction that makes it, and reading them in order with each entity's state now.
//!
//! The numbers are written here rather than by triggers (migration 0008 drops the ones 0006
//! made): a trigger on `entities` gives every insert a statement journal, and FTS5 flushes its
//! pending index at each one, which made an import half again as slow. Every row-level write
//! of `entities` (see `entities.rs` and the archive in `sync.rs`) calls [`record`].

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

/// Numbers a change of the entity at `rowid`: the next number (one past the highest ever
/// handed out, taken before the entity's old number is let go, so none is reused), and the
/// entity's row of the feed moved to it. SQLite has one writer at a time, so numbers are
/// handed out in commit order and a reader going on from its last number misses nothing.
pub(crate) fn record(tx: &Transaction<'_>, rowid: i64) -> Result<()> {
    let next = i64::try_from(cursor(tx)?)
        .unwrap_or(i64::MAX)
        .saturating_add(1);
    tx.prepare_cached("DELETE FROM entity_changes WHERE entity_rowid = ?1")?
        .execute([rowid])?;
    tx.prepare_cached("INSERT INTO entity_changes (seq, entity_rowid) VALUES (?1, ?2)")?
        .execute(params![next, rowid])?;
    Ok(())
}

/// The highest number handed out so far (0 before any change).
pub(crate) fn cursor(tx: &Transaction<'_>) -> Result<u64> {
    let n: i64 = tx
        .prepare_cached("SELECT coalesce(max(seq), 0) FROM entity_changes")?
        .query_row([], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or_default())
}
