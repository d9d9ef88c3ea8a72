//! The sync engine's side of the store: its batch of operations (the state it diffs against
//! is read in `sync_state`).
//!
//! `apply` is the hot path of a first import (10,000 notes in one call): every statement is
//! prepared once per connection (`prepare_cached`) and each import costs one indexed lookup,
//! one row insert, one FTS5 insert, its tag rows and one base write.
//!
//! Statements here are kept single-row and trigger-free on purpose: a statement that may
//! write several rows and abort half-way opens a statement savepoint, and FTS5 flushes its
//! pending terms into a new segment at every savepoint, which doubles the cost of an import.
//! That is why a base is written as a delete and an insert rather than an upsert, whose
//! update of a foreign-key column would need one.

use crate::tx::StoreTx;
use brain_core::EntityRef;
use rusqlite::{OptionalExtension, Transaction, params};

use super::entities::{self, Encoded, Existing};
use brain_store::{Entity, FileBase, FileStat, NewConflict, Result, StoreError, SyncOp};

/// What a sync's changes are made by, for the versions they make (history).
static FILE: std::sync::LazyLock<brain_store::ChangeWhy> =
    std::sync::LazyLock::new(brain_store::ChangeWhy::file);

/// Applies `ops` in order inside the caller's transaction.
pub(crate) fn apply(tx: &StoreTx<'_>, ops: &[SyncOp]) -> Result<()> {
    for op in ops {
        match op {
            SyncOp::Import {
                entity,
                stat,
                seen_dirty_hash,
            } => {
                if still_as_planned(tx, &entity.entity_ref, seen_dirty_hash.as_deref())? {
                    import(tx, entity, stat)?;
                }
            }
            SyncOp::Rename {
                from,
                from_path,
                entity,
                stat,
                seen_dirty_hash,
            } => {
                // The target name was free or clean when planned; a note put there since is
                // not overwritten either. Each side is checked on its own, and what still
                // holds is applied (see `rename_in_part`).
                let from_ok = still_as_planned(tx, from, seen_dirty_hash.as_deref())?;
                let to_ok =
                    from == &entity.entity_ref || still_as_planned(tx, &entity.entity_ref, None)?;
                if from_ok && to_ok {
                    rename(tx, from, from_path, entity, stat)?;
                } else {
                    rename_in_part(tx, from, from_path, entity, stat, from_ok, to_ok)?;
                }
            }
            SyncOp::Tombstone {
                entity,
                path,
                now_ms,
                seen_dirty_hash,
            } => {
                if still_as_planned(tx, entity, seen_dirty_hash.as_deref())? {
                    tombstone(tx, entity, path, *now_ms)?;
                }
            }
            SyncOp::SetBase { base } => set_base(tx, base)?,
            SyncOp::DropBase { entity, path } => drop_base(tx, entity, path)?,
            SyncOp::RecordConflict(c) => record_conflict(tx, c)?,
        }
    }
    Ok(())
}

/// Whether the entity is as the planner saw it; if not, the op is skipped (and logged) so a
/// change made through an interface during the sync is never overwritten.
fn still_as_planned(tx: &Transaction<'_>, r: &EntityRef, seen: Option<&str>) -> Result<bool> {
    let ok = entities::existing(tx, r)?.is_none_or(|old| old.as_planned(seen));
    if !ok {
        tracing::info!(entity = %r, "changed during the sync; left for the next sync");
    }
    Ok(ok)
}

/// Upsert by reference: a new row, or the existing one (live or tombstoned) rewritten with the
/// file's content, keeping its rowid and `created_ms`. Then the file's state becomes the base.
fn import(tx: &StoreTx<'_>, e: &Entity, stat: &FileStat) -> Result<()> {
    let enc = Encoded::of(e)?;
    let rowid = match entities::existing(tx, &e.entity_ref)? {
        None => entities::insert(tx, e, &enc, false, &FILE)?,
        Some(old) => {
            if old.deleted_ms.is_some() && old.content_hash != e.content_hash {
                archive_tombstone(tx, old.rowid, true)?;
            }
            entities::update(tx, &old, e, &enc, false, &FILE)?;
            if old.path != e.path {
                delete_base(tx, &old.path)?;
            }
            old.rowid
        }
    };
    write_base(tx, &e.path, stat, &e.content_hash, rowid, &e.entity_ref)
}

/// Keeps a soft-deleted note whose name a new note is taking: as a deleted entity of its own,
/// `<id>.deleted-<rowid>` (restorable with `brain restore`), so no version is ever lost. With
/// `copy` the row stays (it is about to be revived with new content) and a copy is archived;
/// without, the row itself moves aside.
pub(crate) fn archive_tombstone(tx: &Transaction<'_>, rowid: i64, copy: bool) -> Result<()> {
    // The suffix is a row number no archive has used: the row's own for a move, the copy's
    // new one (one past the highest) for a copy, since the same row can be archived again later.
    let n = if copy {
        "(SELECT max(rowid) + 1 FROM entities)"
    } else {
        "rowid"
    };
    let new_id = format!("id || '.deleted-' || {n}");
    let new_path = format!("substr(path, 1, length(path) - 3) || '.deleted-' || {n} || '.md'");
    let sql = if copy {
        format!(
            "INSERT INTO entities (type, id, path, path_key, content_hash, created_ms, updated_ms,
                                   deleted_ms, dirty, title, tags, metadata, frontmatter, body)
             SELECT type, {new_id}, {new_path}, brain_path_key({new_path}), content_hash, created_ms,
                    updated_ms, deleted_ms, 0, title, tags, metadata, frontmatter, body
             FROM entities WHERE rowid = ?1 AND deleted_ms IS NOT NULL"
        )
    } else {
        format!(
            "UPDATE entities SET id = {new_id}, path = {new_path}, path_key = brain_path_key({new_path}),
                                 dirty = 0
             WHERE rowid = ?1 AND deleted_ms IS NOT NULL"
        )
    };
    let archived = tx.prepare_cached(&sql)?.execute([rowid])?;
    // The archived note is a change of its own: under its new name (a move), or a new row
    // (a copy).
    if archived == 1 {
        crate::changes::record(tx, if copy { tx.last_insert_rowid() } else { rowid })?;
    }
    Ok(())
}

/// Moves the row at `from` to `e`'s reference, path and content, keeping its history.
///
/// A tombstone already holding the new reference is dropped first (the moved note is the one
/// that lives on). Two fallbacks keep a planner mistake from losing a note or blocking the
/// whole batch: if `from` has no row, this is an import; if a LIVE entity holds the new
/// reference, its content is replaced as by an import and `from` is tombstoned (restorable).
fn rename(
    tx: &StoreTx<'_>,
    from: &EntityRef,
    from_path: &str,
    e: &Entity,
    stat: &FileStat,
) -> Result<()> {
    delete_base(tx, from_path)?;
    let Some(old) = entities::existing(tx, from)? else {
        return import(tx, e, stat);
    };
    if *from != e.entity_ref {
        match entities::existing(tx, &e.entity_ref)? {
            Some(target) if target.deleted_ms.is_none() => {
                entities::tombstone(tx, &old, e.updated_ms, false, &FILE)?;
                return import(tx, e, stat);
            }
            Some(target) => {
                // The deleted note that held this name is kept, under another one.
                archive_tombstone(tx, target.rowid, false)?;
            }
            None => {}
        }
    }
    let enc = Encoded::of(e)?;
    entities::update(tx, &old, e, &enc, false, &FILE)?;
    // A base still naming the old reference (there should be none left) would now be wrong.
    tx.prepare_cached("DELETE FROM file_bases WHERE replica = 'local' AND entity_rowid = ?1")?
        .execute([old.rowid])?;
    write_base(tx, &e.path, stat, &e.content_hash, old.rowid, &e.entity_ref)
}

/// A rename one of whose notes changed during the sync (a `put` from another process): the
/// halves that do not touch the changed note still hold, and are applied, so that no note is
/// left naming a file that is gone, which no later event would ever settle.
///
/// - The target changed: the source's file is gone (it is the target's file now), so the
///   source is tombstoned as a deleted file's note is (restorable). The file at the new name is
///   left without a base: the export the put queued meets a file and a changed note with no
///   base there and settles them (equal, or a conflict that keeps both).
/// - The source changed: the file at the new name is imported as a new note; the source and its
///   base stay, so the export its put queued finds its file gone and writes it back.
/// - Both changed: nothing; each put's export settles its own path.
fn rename_in_part(
    tx: &StoreTx<'_>,
    from: &EntityRef,
    from_path: &str,
    e: &Entity,
    stat: &FileStat,
    from_ok: bool,
    to_ok: bool,
) -> Result<()> {
    if from_ok {
        tracing::info!(from = %from, to = %e.entity_ref, "rename target changed during the sync; source tombstoned");
        tombstone(tx, from, from_path, e.updated_ms)
    } else if to_ok && from_path != e.path {
        tracing::info!(from = %from, to = %e.entity_ref, "rename source changed during the sync; new name imported");
        import(tx, e, stat)
    } else {
        Ok(())
    }
}

/// The file is gone: tombstone the entity if it is live, and forget the base.
fn tombstone(tx: &StoreTx<'_>, r: &EntityRef, path: &str, now_ms: i64) -> Result<()> {
    if let Some(old) = entities::existing(tx, r)? {
        entities::tombstone(tx, &old, now_ms, false, &FILE)?;
    }
    delete_base(tx, path)
}

/// File and entity agree: record the base and clear the dirty flag. A base for an entity that
/// has no row is refused ([`StoreError::NotFound`]): it would point at nothing.
///
/// An export names the entity by the reference it read it under. A move committed since
/// (`brain mv`) leaves no entity there, but the file holds the moved entity's text: the base is
/// recorded against it ([`moved_since_read`]) and its dirty flag stays, so the move's export
/// finds the file as synced and moves it to the trash. Refused instead, the file stayed written
/// with its old base, and the next sync brought it back as a second note (hostile F13).
fn set_base(tx: &Transaction<'_>, base: &FileBase) -> Result<()> {
    let Some(Existing { rowid, .. }) = entities::existing(tx, &base.entity)? else {
        let Some((rowid, now)) = moved_since_read(tx, base)? else {
            return Err(StoreError::NotFound(base.entity.clone()));
        };
        tracing::info!(path = %base.path, read_as = %base.entity, now = %now, "the note moved after the export read it: its file's base follows it");
        return write_base(tx, &base.path, &base.stat, &base.hash, rowid, &now);
    };
    write_base(tx, &base.path, &base.stat, &base.hash, rowid, &base.entity)?;
    tx.prepare_cached(
        "UPDATE entities SET dirty = 0
         WHERE type = ?1 AND id = ?2 AND dirty = 1 AND content_hash = ?3",
    )?
    .execute(params![base.entity.entity_type, base.entity.id, base.hash])?;
    Ok(())
}

/// The live entity a [`SetBase`](SyncOp::SetBase) names by a reference it no longer has, now at
/// another path, with its rowid and reference: the one this folder's base at the path names
/// under that reference (the file was synced before), or else the one whose history holds this
/// very text at this path (a note first written here, moved before its base was recorded; found
/// only while history is kept).
fn moved_since_read(tx: &Transaction<'_>, base: &FileBase) -> Result<Option<(i64, EntityRef)>> {
    let row = |row: &rusqlite::Row<'_>| {
        Ok((
            row.get::<_, i64>(0)?,
            EntityRef::new(row.get::<_, String>(1)?, row.get::<_, String>(2)?),
        ))
    };
    let by_base = tx
        .prepare_cached(
            "SELECT e.rowid, e.type, e.id FROM file_bases b JOIN entities e
             ON e.rowid = b.entity_rowid
             WHERE b.replica = 'local' AND b.path = ?1 AND b.type = ?2 AND b.id = ?3
               AND e.deleted_ms IS NULL AND e.path <> ?1",
        )?
        .query_row(
            params![base.path, base.entity.entity_type, base.entity.id],
            row,
        )
        .optional()?;
    if by_base.is_some() {
        return Ok(by_base);
    }
    let by_history = tx
        .prepare_cached(
            "SELECT e.rowid, e.type, e.id FROM entity_versions v
             JOIN entities e ON e.rowid = v.entity_rowid
             WHERE v.path = ?1 AND v.content_hash = ?2 AND e.path <> ?1 AND e.deleted_ms IS NULL
             ORDER BY v.made_ms DESC LIMIT 1",
        )?
        .query_row(params![base.path, base.hash], row)
        .optional()?;
    Ok(by_history)
}

/// The file went to the trash after a soft delete: forget the base, clear the dirty flag.
fn drop_base(tx: &Transaction<'_>, r: &EntityRef, path: &str) -> Result<()> {
    delete_base(tx, path)?;
    tx.prepare_cached(
        "UPDATE entities SET dirty = 0
         WHERE type = ?1 AND id = ?2 AND dirty = 1 AND deleted_ms IS NOT NULL",
    )?
    .execute(params![r.entity_type, r.id])?;
    Ok(())
}

/// Records the base at `path`, replacing any: a delete and an insert (see the module doc).
fn write_base(
    tx: &Transaction<'_>,
    path: &str,
    stat: &FileStat,
    hash: &str,
    rowid: i64,
    r: &EntityRef,
) -> Result<()> {
    delete_base(tx, path)?;
    tx.prepare_cached(
        "INSERT INTO file_bases (path, size, mtime_ns, ctime_ns, inode, hash, entity_rowid, type, id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        path,
        i64::try_from(stat.size).unwrap_or(i64::MAX),
        stat.mtime_ns,
        stat.ctime_ns,
        i64::try_from(stat.inode).unwrap_or(i64::MAX),
        hash,
        rowid,
        r.entity_type,
        r.id,
    ])?;
    Ok(())
}

fn delete_base(tx: &Transaction<'_>, path: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM file_bases WHERE replica = 'local' AND path = ?1")?
        .execute([path])?;
    Ok(())
}

/// Records a conflict. One without content (a path collision, met again at every sync while it
/// lasts) is not recorded twice while open; one with content always is, since under the
/// non-default policies the record is the only copy of the losing version.
fn record_conflict(tx: &Transaction<'_>, c: &NewConflict) -> Result<()> {
    let (etype, eid) = match &c.entity {
        Some(r) => (Some(r.entity_type.as_str()), Some(r.id.as_str())),
        None => (None, None),
    };
    tx.prepare_cached(
        "INSERT INTO conflicts (kind, path, entity_type, entity_id, store_content, file_content,
                                copy_path, detail, created_ms)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
         WHERE ?5 IS NOT NULL OR ?6 IS NOT NULL OR NOT EXISTS (
            SELECT 1 FROM conflicts
            WHERE resolved_ms IS NULL AND path = ?2 AND kind = ?1
              AND entity_type IS ?3 AND entity_id IS ?4)",
    )?
    .execute(params![
        c.kind.as_str(),
        c.path,
        etype,
        eid,
        c.store_content,
        c.file_content,
        c.copy_path,
        c.detail,
        c.now_ms,
    ])?;
    Ok(())
}
