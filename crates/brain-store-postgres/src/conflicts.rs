//! Reading and resolving recorded conflicts (recording is a sync operation, in `sync`).

use brain_core::EntityRef;
use postgres::Row;

use crate::db::{Db, get};
use brain_store::{Conflict, ConflictKind, Result, StoreError};

const COLUMNS: &str = "id, kind, path, entity_type, entity_id, store_content, file_content,
                       copy_path, detail, created_ms, resolved_ms";

fn from_row(row: &Row) -> Result<Conflict> {
    let kind: String = get(row, 1)?;
    let kind = ConflictKind::parse(&kind).ok_or_else(|| {
        StoreError::Database(
            format!("unknown conflict kind '{kind}' (written by a newer brain?)").into(),
        )
    })?;
    let entity = match (
        get::<Option<String>>(row, 3)?,
        get::<Option<String>>(row, 4)?,
    ) {
        (Some(t), Some(id)) => Some(EntityRef::new(t, id)),
        _ => None,
    };
    Ok(Conflict {
        id: get(row, 0)?,
        kind,
        path: get(row, 2)?,
        entity,
        store_content: get(row, 5)?,
        file_content: get(row, 6)?,
        copy_path: get(row, 7)?,
        detail: get(row, 8)?,
        created_ms: get(row, 9)?,
        resolved_ms: get(row, 10)?,
    })
}

/// Conflicts, newest first (ties by id, so the order is stable).
pub(crate) fn list(db: &mut Db<'_>, include_resolved: bool) -> Result<Vec<Conflict>> {
    let filter = if include_resolved {
        ""
    } else {
        "WHERE resolved_ms IS NULL"
    };
    let sql = format!("SELECT {COLUMNS} FROM conflicts {filter} ORDER BY created_ms DESC, id DESC");
    db.query(&sql, &[])?.iter().map(from_row).collect()
}

/// One conflict, resolved or not.
pub(crate) fn get_one(db: &mut Db<'_>, id: i64) -> Result<Conflict> {
    let sql = format!("SELECT {COLUMNS} FROM conflicts WHERE id = $1");
    match db.query_opt(&sql, &[&id])? {
        Some(row) => from_row(&row),
        None => Err(StoreError::ConflictNotFound(id)),
    }
}

/// Marks a conflict resolved. Resolving it again keeps the first resolution time.
pub(crate) fn resolve(db: &mut Db<'_>, id: i64, now_ms: i64) -> Result<()> {
    let changed = db.execute(
        "UPDATE conflicts SET resolved_ms = coalesce(resolved_ms, $2) WHERE id = $1",
        &[&id, &now_ms],
    )?;
    if changed == 0 {
        return Err(StoreError::ConflictNotFound(id));
    }
    Ok(())
}
