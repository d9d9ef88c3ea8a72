//! Reading and resolving recorded conflicts (recording is a sync operation, in `sync`).

use brain_core::EntityRef;
use rusqlite::{OptionalExtension, Row, Transaction, params};

use brain_store::{Conflict, ConflictKind, Result, StoreError};

const COLUMNS: &str = "id, kind, path, entity_type, entity_id, store_content, file_content,
                       copy_path, detail, created_ms, resolved_ms";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Conflict> {
    let kind: String = row.get(1)?;
    // An unknown kind can only come from a newer brain sharing the database (it would have
    // bumped the schema version first), so it is reported as a conversion error, not a panic.
    let kind = ConflictKind::parse(&kind).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Text,
            format!("unknown conflict kind '{kind}'").into(),
        )
    })?;
    let entity = match (
        row.get::<_, Option<String>>(3)?,
        row.get::<_, Option<String>>(4)?,
    ) {
        (Some(t), Some(id)) => Some(EntityRef::new(t, id)),
        _ => None,
    };
    Ok(Conflict {
        id: row.get(0)?,
        kind,
        path: row.get(2)?,
        entity,
        store_content: row.get(5)?,
        file_content: row.get(6)?,
        copy_path: row.get(7)?,
        detail: row.get(8)?,
        created_ms: row.get(9)?,
        resolved_ms: row.get(10)?,
    })
}

/// Conflicts, newest first (ties by id, so the order is stable).
pub(crate) fn list(tx: &Transaction<'_>, include_resolved: bool) -> Result<Vec<Conflict>> {
    let filter = if include_resolved {
        ""
    } else {
        "WHERE resolved_ms IS NULL"
    };
    let sql = format!("SELECT {COLUMNS} FROM conflicts {filter} ORDER BY created_ms DESC, id DESC");
    let mut stmt = tx.prepare_cached(&sql)?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One conflict, resolved or not.
pub(crate) fn get(tx: &Transaction<'_>, id: i64) -> Result<Conflict> {
    let sql = format!("SELECT {COLUMNS} FROM conflicts WHERE id = ?1");
    tx.prepare_cached(&sql)?
        .query_row([id], from_row)
        .optional()?
        .ok_or(StoreError::ConflictNotFound(id))
}

/// Marks a conflict resolved. Resolving it again keeps the first resolution time.
pub(crate) fn resolve(tx: &Transaction<'_>, id: i64, now_ms: i64) -> Result<()> {
    let changed = tx
        .prepare_cached(
            "UPDATE conflicts SET resolved_ms = coalesce(resolved_ms, ?2) WHERE id = ?1",
        )?
        .execute(params![id, now_ms])?;
    if changed == 0 {
        return Err(StoreError::ConflictNotFound(id));
    }
    Ok(())
}
