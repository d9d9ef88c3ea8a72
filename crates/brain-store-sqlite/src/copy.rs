//! A whole store as data and back (`Store::dump`, `Store::load_dump`), for `brain store copy`.
//! Rows are written here directly, with the feed numbers and times they had, rather than
//! through `put` or `apply` (which would number them anew and mark them changed).

use brain_core::EntityRef;
use rusqlite::{Transaction, params};

use super::{conflicts, entities, fts};
use brain_store::{DumpedEntity, FileBase, FileStat, Result, StoreDump, StoreError};

/// Everything in one snapshot.
pub(crate) fn dump(tx: &Transaction<'_>) -> Result<StoreDump> {
    let mut stmt = tx.prepare(
        "SELECT e.type, e.id, e.dirty, c.seq, e.rowid FROM entities e
         LEFT JOIN entity_changes c ON c.entity_rowid = e.rowid ORDER BY e.rowid",
    )?;
    let rows = stmt
        .query_map([], |row| {
            Ok((
                EntityRef::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?),
                row.get::<_, bool>(2)?,
                row.get::<_, Option<i64>>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = StoreDump::default();
    for (r, dirty, seq, rowid) in rows {
        let entity = entities::load(tx, &r)?.ok_or_else(|| StoreError::NotFound(r.clone()))?;
        let (version, why, versions) = crate::history::dump_of(tx, rowid)?;
        out.entities.push(DumpedEntity {
            entity,
            dirty,
            seq: seq.and_then(|s| u64::try_from(s).ok()),
            version,
            why,
            versions,
        });
    }
    let mut stmt = tx.prepare(
        "SELECT path, size, mtime_ns, ctime_ns, inode, hash, type, id FROM file_bases
         WHERE replica = 'local' ORDER BY path",
    )?;
    out.bases = stmt
        .query_map([], |row| {
            Ok(FileBase {
                path: row.get(0)?,
                stat: FileStat {
                    size: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                    mtime_ns: row.get(2)?,
                    ctime_ns: row.get(3)?,
                    inode: u64::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
                },
                hash: row.get(5)?,
                entity: EntityRef::new(row.get::<_, String>(6)?, row.get::<_, String>(7)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    out.conflicts = conflicts::list(tx, true)?;
    out.change_cursor = crate::changes::cursor(tx)?;
    Ok(out)
}

/// Fills the store with `dump` (see [`brain_store::Store::load_dump`]).
pub(crate) fn load(
    tx: &Transaction<'_>,
    dump: &StoreDump,
    replace: bool,
    shown: &str,
) -> Result<()> {
    let (entities_held, conflicts_held): (i64, i64) = tx.query_row(
        "SELECT (SELECT count(*) FROM entities), (SELECT count(*) FROM conflicts)",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    if entities_held + conflicts_held > 0 {
        if !replace {
            return Err(StoreError::NotEmpty {
                store: shown.to_string(),
                what: format!("{entities_held} note(s), {conflicts_held} conflict(s)"),
            });
        }
        tx.execute_batch(
            "INSERT INTO entity_fts (entity_fts) VALUES ('delete-all');
             DELETE FROM file_bases; DELETE FROM entity_tags; DELETE FROM entity_changes;
             DELETE FROM entity_versions; DELETE FROM conflicts; DELETE FROM entities;
             UPDATE live_count SET live = 0;",
        )?;
    }
    let mut insert = tx.prepare(
        "INSERT INTO entities (type, id, path, path_key, content_hash, created_ms, updated_ms,
                               deleted_ms, dirty, title, tags, metadata, frontmatter, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    let mut tag =
        tx.prepare("INSERT OR IGNORE INTO entity_tags (tag, entity_rowid) VALUES (?1, ?2)")?;
    let mut change =
        tx.prepare("INSERT INTO entity_changes (seq, entity_rowid) VALUES (?1, ?2)")?;
    for d in &dump.entities {
        let e = &d.entity;
        insert.execute(params![
            e.entity_ref.entity_type,
            e.entity_ref.id,
            e.path,
            brain_core::path_key(&e.path),
            e.content_hash,
            e.created_ms,
            e.updated_ms,
            e.deleted_ms,
            d.dirty,
            e.title,
            serde_json::to_string(&e.tags)?,
            serde_json::to_string(&e.metadata)?,
            e.frontmatter,
            e.body,
        ])?;
        let rowid = tx.last_insert_rowid();
        if e.deleted_ms.is_none() {
            fts::add(tx, rowid, &e.title, &e.body)?;
        }
        for t in &e.tags {
            tag.execute(params![t, rowid])?;
        }
        if let Some(seq) = d.seq {
            change.execute(params![i64::try_from(seq).unwrap_or(i64::MAX), rowid])?;
        }
        crate::history::load_into(tx, rowid, d)?;
    }
    let mut base = tx.prepare(
        "INSERT INTO file_bases (path, size, mtime_ns, ctime_ns, inode, hash, entity_rowid, type, id)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, rowid, type, id FROM entities WHERE type = ?7 AND id = ?8",
    )?;
    for b in &dump.bases {
        base.execute(params![
            b.path,
            i64::try_from(b.stat.size).unwrap_or(i64::MAX),
            b.stat.mtime_ns,
            b.stat.ctime_ns,
            i64::try_from(b.stat.inode).unwrap_or(i64::MAX),
            b.hash,
            b.entity.entity_type,
            b.entity.id,
        ])?;
    }
    let mut conflict = tx.prepare(
        "INSERT INTO conflicts (id, kind, path, entity_type, entity_id, store_content,
                                file_content, copy_path, detail, created_ms, resolved_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for c in &dump.conflicts {
        conflict.execute(params![
            c.id,
            c.kind.as_str(),
            c.path,
            c.entity.as_ref().map(|r| r.entity_type.as_str()),
            c.entity.as_ref().map(|r| r.id.as_str()),
            c.store_content,
            c.file_content,
            c.copy_path,
            c.detail,
            c.created_ms,
            c.resolved_ms,
        ])?;
    }
    Ok(())
}
