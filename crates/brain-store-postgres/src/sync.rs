//! The sync engine's side of the store: its batch of operations and the state it diffs
//! against. File bases are this replica's own (`file_bases.replica`).

use std::collections::{BTreeSet, HashSet};

use brain_core::EntityRef;
use postgres::Row;

use crate::db::{Db, get};
use crate::dirty::{self, Writer};
use crate::entities::{self, Encoded, Existing};
use brain_store::{
    BaseStat, DirtyEntity, Entity, FileBase, FileStat, NewConflict, PartialSyncState, Result,
    StoreError, SyncOp, SyncState,
};

/// Applies `ops` in order inside the caller's transaction.
///
/// Each entity an op writes is read once, locked (`entities::existing`), checked against what
/// the planner saw, and written from that same reading: read again, a row another folder's
/// sync inserted and committed in between would be written over unchecked (a note created in
/// two folders at once would lose one version). A row inserted meanwhile that this op then
/// inserts too fails on the unique key, and the whole write runs again, seeing it.
pub(crate) fn apply(db: &mut Db<'_>, replica: &str, ops: &[SyncOp]) -> Result<()> {
    let w = Writer::folder(db, replica)?;
    let w = &w;
    for op in ops {
        match op {
            SyncOp::Import {
                entity,
                stat,
                seen_dirty_hash,
            } => {
                let row = entities::existing(db, &entity.entity_ref, replica)?;
                if as_planned(&row, &entity.entity_ref, seen_dirty_hash.as_deref()) {
                    import(db, w, entity, stat, row)?;
                }
            }
            SyncOp::Rename {
                from,
                from_path,
                entity,
                stat,
                seen_dirty_hash,
            } => {
                let from_row = entities::existing(db, from, replica)?;
                let from_ok = as_planned(&from_row, from, seen_dirty_hash.as_deref());
                let same = from == &entity.entity_ref;
                let to_row = if same {
                    None
                } else {
                    entities::existing(db, &entity.entity_ref, replica)?
                };
                let to_ok = same || as_planned(&to_row, &entity.entity_ref, None);
                if from_ok && to_ok {
                    rename(db, w, from_path, entity, stat, from_row, to_row)?;
                } else if from_ok {
                    tracing::info!(from = %from, to = %entity.entity_ref, "rename target changed during the sync; source tombstoned");
                    tombstone(db, w, from_row, from_path, entity.updated_ms)?;
                } else if to_ok && from_path != &entity.path {
                    tracing::info!(from = %from, to = %entity.entity_ref, "rename source changed during the sync; new name imported");
                    import(db, w, entity, stat, to_row)?;
                }
            }
            SyncOp::Tombstone {
                entity,
                path,
                now_ms,
                seen_dirty_hash,
            } => {
                let row = entities::existing(db, entity, replica)?;
                if as_planned(&row, entity, seen_dirty_hash.as_deref()) {
                    tombstone(db, w, row, path, *now_ms)?;
                }
            }
            SyncOp::SetBase { base } => set_base(db, replica, base)?,
            SyncOp::DropBase { entity, path } => drop_base(db, replica, entity, path)?,
            SyncOp::RecordConflict(c) => record_conflict(db, c)?,
        }
    }
    Ok(())
}

/// Whether the entity (`row`, as just read and locked) is as the planner saw it; if not, the
/// op is skipped (and logged).
fn as_planned(row: &Option<Existing>, r: &EntityRef, seen: Option<&str>) -> bool {
    let ok = row.as_ref().is_none_or(|old| old.as_planned(seen));
    if !ok {
        tracing::info!(entity = %r, "changed during the sync; left for the next sync");
    }
    ok
}

/// Upsert by reference, then the file's state becomes the base.
fn import(
    db: &mut Db<'_>,
    w: &Writer<'_>,
    e: &Entity,
    stat: &FileStat,
    row: Option<Existing>,
) -> Result<()> {
    let replica = w.replica();
    let enc = Encoded::of(e)?;
    let row_id = match row {
        None => entities::insert(db, e, &enc, w)?,
        Some(old) => {
            if old.deleted_ms.is_some() && old.content_hash != e.content_hash {
                archive_tombstone(db, old.row_id, true)?;
            }
            entities::update(db, &old, e, &enc, w)?;
            if old.path != e.path {
                delete_base(db, replica, &old.path)?;
            }
            old.row_id
        }
    };
    write_base(
        db,
        replica,
        &e.path,
        stat,
        &e.content_hash,
        row_id,
        &e.entity_ref,
    )
}

/// Keeps a soft-deleted note whose name a new note is taking, as a deleted entity of its own
/// (`<id>.deleted-<n>`), so no version is ever lost. With `copy` the row stays (it is about
/// to be revived with new content) and a copy is archived; without, the row itself moves.
pub(crate) fn archive_tombstone(db: &mut Db<'_>, row_id: i64, copy: bool) -> Result<()> {
    let Some(row) = db.query_opt(
        "SELECT type, id, path, content_hash, created_ms, updated_ms, deleted_ms, title, tags,
                metadata, frontmatter, body
         FROM entities WHERE row_id = $1 AND deleted_ms IS NOT NULL",
        &[&row_id],
    )?
    else {
        return Ok(());
    };
    let n: i64 = if copy {
        get(
            &db.query_one("SELECT coalesce(max(row_id), 0) + 1 FROM entities", &[])?,
            0,
        )?
    } else {
        row_id
    };
    let id: String = get(&row, 1)?;
    let path: String = get(&row, 2)?;
    let new_id = format!("{id}.deleted-{n}");
    let stem = path.strip_suffix(".md").unwrap_or(&path);
    let new_path = format!("{stem}.deleted-{n}.md");
    let new_key = brain_core::path_key(&new_path);
    let archived = if copy {
        let r = db.query_one(
            "INSERT INTO entities (type, id, path, path_key, content_hash, created_ms, updated_ms,
                                   deleted_ms, title, tags, metadata, frontmatter, body)
             SELECT type, $2, $3, $4, content_hash, created_ms, updated_ms, deleted_ms,
                    title, tags, metadata, frontmatter, body
             FROM entities WHERE row_id = $1
             RETURNING row_id",
            &[&row_id, &new_id, &new_path, &new_key],
        )?;
        get::<i64>(&r, 0)?
    } else {
        db.execute(
            "UPDATE entities SET id = $2, path = $3, path_key = $4 WHERE row_id = $1",
            &[&row_id, &new_id, &new_path, &new_key],
        )?;
        dirty::clear_all(db, row_id)?;
        row_id
    };
    crate::changes::record(db, archived)
}

/// Moves the row at `from` (`from_row`) to `e`'s reference, path and content, keeping its
/// history; `to_row` is the row at `e`'s reference when it is another one.
fn rename(
    db: &mut Db<'_>,
    w: &Writer<'_>,
    from_path: &str,
    e: &Entity,
    stat: &FileStat,
    from_row: Option<Existing>,
    to_row: Option<Existing>,
) -> Result<()> {
    let replica = w.replica();
    delete_base(db, replica, from_path)?;
    let Some(old) = from_row else {
        return import(db, w, e, stat, to_row);
    };
    match to_row {
        Some(target) if target.deleted_ms.is_none() => {
            entities::tombstone(db, &old, e.updated_ms, w)?;
            return import(db, w, e, stat, Some(target));
        }
        Some(target) => archive_tombstone(db, target.row_id, false)?,
        None => {}
    }
    let enc = Encoded::of(e)?;
    entities::update(db, &old, e, &enc, w)?;
    db.execute(
        "DELETE FROM file_bases WHERE replica = $1 AND entity_id = $2",
        &[&replica, &old.row_id],
    )?;
    write_base(
        db,
        replica,
        &e.path,
        stat,
        &e.content_hash,
        old.row_id,
        &e.entity_ref,
    )
}

/// The file is gone: tombstone the entity if it is live, and forget the base.
fn tombstone(
    db: &mut Db<'_>,
    w: &Writer<'_>,
    row: Option<Existing>,
    path: &str,
    now_ms: i64,
) -> Result<()> {
    if let Some(old) = row {
        entities::tombstone(db, &old, now_ms, w)?;
    }
    delete_base(db, w.replica(), path)
}

/// File and entity agree: record the base; this folder holds the entity now.
///
/// An export names the entity by the reference it read it under. A move committed since
/// (`brain mv`, in this folder or another) leaves no entity there, but the file holds the moved
/// entity's text: the base is recorded against it ([`moved_since_read`]), and this folder stays
/// behind on it, so the move's export finds the file as synced and moves it to the trash.
/// Refused instead, the file stayed written with its old base, and the next sync took it for an
/// edit of a note deleted in the store and brought it back as a second note (hostile F13).
fn set_base(db: &mut Db<'_>, replica: &str, base: &FileBase) -> Result<()> {
    let Some(Existing {
        row_id,
        content_hash,
        ..
    }) = entities::existing(db, &base.entity, replica)?
    else {
        let Some((row_id, now)) = moved_since_read(db, replica, base)? else {
            return Err(StoreError::NotFound(base.entity.clone()));
        };
        tracing::info!(path = %base.path, read_as = %base.entity, now = %now, "the note moved after the export read it: its file's base follows it");
        return write_base(
            db, replica, &base.path, &base.stat, &base.hash, row_id, &now,
        );
    };
    write_base(
        db,
        replica,
        &base.path,
        &base.stat,
        &base.hash,
        row_id,
        &base.entity,
    )?;
    if content_hash == base.hash {
        dirty::clear(db, replica, row_id)?;
    }
    Ok(())
}

/// The live entity a [`SetBase`](SyncOp::SetBase) names by a reference it no longer has, now at
/// another path, with its row id and reference, locked: the one this folder's base at the path
/// names under that reference (the file was synced before), or else the one whose history holds
/// this very text at this path (a note first written here, moved before its base was recorded;
/// found only while history is kept).
fn moved_since_read(
    db: &mut Db<'_>,
    replica: &str,
    base: &FileBase,
) -> Result<Option<(i64, EntityRef)>> {
    let mut row = db.query_opt(
        "SELECT e.row_id, e.type, e.id FROM file_bases b JOIN entities e ON e.row_id = b.entity_id
         WHERE b.replica = $1 AND b.path = $2 AND b.type = $3 AND b.id = $4
           AND e.deleted_ms IS NULL AND e.path <> $2
         FOR UPDATE OF e",
        &[
            &replica,
            &base.path,
            &base.entity.entity_type,
            &base.entity.id,
        ],
    )?;
    if row.is_none() {
        row = db.query_opt(
            "SELECT e.row_id, e.type, e.id FROM entity_versions v
             JOIN entities e ON e.row_id = v.entity_id
             WHERE v.path = $1 AND v.content_hash = $2 AND e.path <> $1 AND e.deleted_ms IS NULL
             ORDER BY v.made_ms DESC LIMIT 1
             FOR UPDATE OF e",
            &[&base.path, &base.hash],
        )?;
    }
    row.map(|row| {
        Ok((
            get::<i64>(&row, 0)?,
            EntityRef::new(get::<String>(&row, 1)?, get::<String>(&row, 2)?),
        ))
    })
    .transpose()
}

/// The file went to the trash after a soft delete (or the entity moved away from `path`):
/// forget the base; a deleted entity is then held by this folder as it is.
fn drop_base(db: &mut Db<'_>, replica: &str, r: &EntityRef, path: &str) -> Result<()> {
    delete_base(db, replica, path)?;
    if let Some(old) = entities::existing(db, r, replica)?
        && old.deleted_ms.is_some()
    {
        dirty::clear(db, replica, old.row_id)?;
    }
    Ok(())
}

/// Records the base at `path`, replacing any.
fn write_base(
    db: &mut Db<'_>,
    replica: &str,
    path: &str,
    stat: &FileStat,
    hash: &str,
    row_id: i64,
    r: &EntityRef,
) -> Result<()> {
    db.execute(
        "INSERT INTO file_bases (replica, path, size, mtime_ns, ctime_ns, inode, hash, entity_id,
                                 type, id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (replica, path) DO UPDATE SET size = excluded.size,
             mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, inode = excluded.inode,
             hash = excluded.hash, entity_id = excluded.entity_id, type = excluded.type,
             id = excluded.id",
        &[
            &replica,
            &path,
            &i64::try_from(stat.size).unwrap_or(i64::MAX),
            &stat.mtime_ns,
            &stat.ctime_ns,
            &i64::try_from(stat.inode).unwrap_or(i64::MAX),
            &hash,
            &row_id,
            &r.entity_type,
            &r.id,
        ],
    )?;
    Ok(())
}

fn delete_base(db: &mut Db<'_>, replica: &str, path: &str) -> Result<()> {
    db.execute(
        "DELETE FROM file_bases WHERE replica = $1 AND path = $2",
        &[&replica, &path],
    )?;
    Ok(())
}

/// Records a conflict; one without content is not recorded twice while open.
fn record_conflict(db: &mut Db<'_>, c: &NewConflict) -> Result<()> {
    let (etype, eid) = match &c.entity {
        Some(r) => (Some(r.entity_type.as_str()), Some(r.id.as_str())),
        None => (None, None),
    };
    db.execute(
        "INSERT INTO conflicts (kind, path, entity_type, entity_id, store_content, file_content,
                                copy_path, detail, created_ms)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
         WHERE $5::text IS NOT NULL OR $6::text IS NOT NULL OR NOT EXISTS (
            SELECT 1 FROM conflicts
            WHERE resolved_ms IS NULL AND path = $2 AND kind = $1
              AND entity_type IS NOT DISTINCT FROM $3 AND entity_id IS NOT DISTINCT FROM $4)",
        &[
            &c.kind.as_str(),
            &c.path,
            &etype,
            &eid,
            &c.store_content,
            &c.file_content,
            &c.copy_path,
            &c.detail,
            &c.now_ms,
        ],
    )?;
    Ok(())
}

/// A stat stored in columns `first..first + 4` (size, mtime, ctime, inode).
fn stat_of(row: &Row, first: usize) -> Result<FileStat> {
    Ok(FileStat {
        size: u64::try_from(get::<i64>(row, first)?).unwrap_or(0),
        mtime_ns: get(row, first + 1)?,
        ctime_ns: get(row, first + 2)?,
        inode: u64::try_from(get::<i64>(row, first + 3)?).unwrap_or(0),
    })
}

/// Full bases of `paths`.
pub(crate) fn bases(db: &mut Db<'_>, replica: &str, paths: &[&str]) -> Result<Vec<FileBase>> {
    let rows = db.query(
        "SELECT path, size, mtime_ns, ctime_ns, inode, hash, type, id FROM file_bases
         WHERE replica = $1 AND path = ANY($2)",
        &[&replica, &paths],
    )?;
    rows.iter()
        .map(|row| {
            Ok(FileBase {
                path: get(row, 0)?,
                stat: stat_of(row, 1)?,
                hash: get(row, 5)?,
                entity: EntityRef::new(get::<String>(row, 6)?, get::<String>(row, 7)?),
            })
        })
        .collect()
}

/// Every entity `replica`'s folder is behind on. An entity that moved (renamed in another
/// folder) is listed twice: at its path, and as deleted at the path this folder's file of it
/// still has, so the sync moves that file to the trash and writes the new one.
pub(crate) fn dirty(db: &mut Db<'_>, replica: &str) -> Result<Vec<DirtyEntity>> {
    let mut rows = db.query(
        "SELECT e.type, e.id, e.path, e.content_hash, e.deleted_ms IS NOT NULL
         FROM entity_dirty d JOIN entities e ON e.row_id = d.entity_id
         WHERE d.replica = $1",
        &[&replica],
    )?;
    rows.extend(db.query(MOVED_AWAY, &[&replica])?);
    rows.iter().map(dirty_of).collect()
}

/// This folder's files of entities it is behind on that now live at another path (or were
/// deleted there after a move).
const MOVED_AWAY: &str = "SELECT e.type, e.id, b.path, b.hash, true
     FROM entity_dirty d JOIN entities e ON e.row_id = d.entity_id
     JOIN file_bases b ON b.replica = d.replica AND b.entity_id = e.row_id
     WHERE d.replica = $1 AND b.path <> e.path";

fn dirty_of(row: &Row) -> Result<DirtyEntity> {
    Ok(DirtyEntity {
        entity: EntityRef::new(get::<String>(row, 0)?, get::<String>(row, 1)?),
        path: get(row, 2)?,
        content_hash: get(row, 3)?,
        deleted: get(row, 4)?,
    })
}

/// The state of `paths` only: indexed lookups for their bases, dirty entities and the live
/// entities and bases sharing their path keys.
pub(crate) fn state_of(db: &mut Db<'_>, replica: &str, paths: &[&str]) -> Result<PartialSyncState> {
    let wanted: HashSet<&str> = paths.iter().copied().collect();
    let mut out = PartialSyncState::default();
    let rows = db.query(
        "SELECT path, size, mtime_ns, ctime_ns, inode FROM file_bases
         WHERE replica = $1 AND path = ANY($2) ORDER BY path COLLATE \"C\"",
        &[&replica, &paths],
    )?;
    for row in &rows {
        out.state.bases.push(BaseStat {
            path: get(row, 0)?,
            stat: stat_of(row, 1)?,
        });
    }
    let mut rows = db.query(
        "SELECT e.type, e.id, e.path, e.content_hash, e.deleted_ms IS NOT NULL
         FROM entities e JOIN entity_dirty d ON d.entity_id = e.row_id AND d.replica = $2
         WHERE e.path = ANY($1)",
        &[&paths, &replica],
    )?;
    rows.extend(db.query(
        &format!("{MOVED_AWAY} AND b.path = ANY($2)"),
        &[&replica, &paths],
    )?);
    for row in &rows {
        out.state.dirty.push(dirty_of(row)?);
    }
    let keys: Vec<String> = paths
        .iter()
        .map(|p| brain_core::path_key(p))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rows = db.query(
        "SELECT path FROM entities WHERE path_key = ANY($1) AND deleted_ms IS NULL
         UNION
         SELECT b.path FROM entities e JOIN file_bases b ON b.entity_id = e.row_id
         WHERE e.path_key = ANY($1) AND e.deleted_ms IS NULL AND b.replica = $2",
        &[&keys, &replica],
    )?;
    let mut colliding = BTreeSet::new();
    for row in &rows {
        let other: String = get(row, 0)?;
        if !wanted.contains(other.as_str()) {
            colliding.insert(other);
        }
    }
    out.state.bases.sort_by(|a, b| a.path.cmp(&b.path));
    out.state.live_entities = crate::listing::count_live(db)?;
    out.colliding = colliding.into_iter().collect();
    Ok(out)
}

/// Every base's stat (this replica's, in byte order of path), the dirty set and the live count.
pub(crate) fn state(db: &mut Db<'_>, replica: &str) -> Result<SyncState> {
    let rows = db.query(
        "SELECT path, size, mtime_ns, ctime_ns, inode FROM file_bases WHERE replica = $1",
        &[&replica],
    )?;
    let mut bases = rows
        .iter()
        .map(|row| {
            Ok(BaseStat {
                path: get(row, 0)?,
                stat: stat_of(row, 1)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // Rust's byte order, whatever the database's collation.
    bases.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(SyncState {
        bases,
        dirty: dirty(db, replica)?,
        live_entities: crate::listing::count_live(db)?,
    })
}
