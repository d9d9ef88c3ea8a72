//! Entity rows: reading them back, writes from interfaces (`put`, `soft_delete`, `restore`),
//! and the row-level writes the sync batch shares.
//!
//! Every change to a row's title, body or liveness goes through [`insert`], [`update`],
//! [`tombstone`] or [`revive`], which keep the full-text index in step (see `fts`) and number
//! the change in the change feed (see `changes`).

use crate::tx::StoreTx;
use brain_core::{EntityRef, path_key};
use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{changes, fts, history};
use brain_store::{ChangeWhy, Entity, PathCollision, PutOutcome, Result, StoreError};

/// What a write needs to know about the row already holding a reference.
pub(crate) struct Existing {
    pub rowid: i64,
    pub path: String,
    pub content_hash: String,
    pub tags: String,
    pub deleted_ms: Option<i64>,
    pub dirty: bool,
}

impl Existing {
    /// Whether the row is as a sync planner saw it: unchanged by any interface, or changed
    /// with exactly the content hash the planner saw (`seen_dirty_hash`).
    pub fn as_planned(&self, seen_dirty_hash: Option<&str>) -> bool {
        !self.dirty || seen_dirty_hash == Some(self.content_hash.as_str())
    }
}

/// The row holding `r`, live or not.
pub(crate) fn existing(tx: &Transaction<'_>, r: &EntityRef) -> Result<Option<Existing>> {
    let mut stmt = tx.prepare_cached(
        "SELECT rowid, path, content_hash, tags, deleted_ms, dirty FROM entities
         WHERE type = ?1 AND id = ?2",
    )?;
    let row = stmt
        .query_row(params![r.entity_type, r.id], |row| {
            Ok(Existing {
                rowid: row.get(0)?,
                path: row.get(1)?,
                content_hash: row.get(2)?,
                tags: row.get(3)?,
                deleted_ms: row.get(4)?,
                dirty: row.get(5)?,
            })
        })
        .optional()?;
    Ok(row)
}

/// The JSON stored for an entity's tags and metadata.
pub(crate) struct Encoded {
    pub tags: String,
    pub metadata: String,
}

impl Encoded {
    pub(crate) fn of(e: &Entity) -> Result<Self> {
        Ok(Self {
            tags: serde_json::to_string(&e.tags)?,
            metadata: serde_json::to_string(&e.metadata)?,
        })
    }
}

/// Inserts a live row for `e` (its version 1, made by `why`) and indexes it; returns its
/// rowid. Tags are written too.
pub(crate) fn insert(
    tx: &Transaction<'_>,
    e: &Entity,
    enc: &Encoded,
    dirty: bool,
    why: &ChangeWhy,
) -> Result<i64> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO entities (type, id, path, path_key, content_hash, created_ms, updated_ms,
                               deleted_ms, dirty, title, tags, metadata, frontmatter, body,
                               version, source, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9, ?10, ?11, ?12, ?13, 1, ?14, ?15)",
    )?;
    stmt.execute(params![
        e.entity_ref.entity_type,
        e.entity_ref.id,
        e.path,
        path_key(&e.path),
        e.content_hash,
        e.created_ms,
        e.updated_ms,
        dirty,
        e.title,
        enc.tags,
        enc.metadata,
        e.frontmatter,
        e.body,
        why.source,
        why.message,
    ])?;
    let rowid = tx.last_insert_rowid();
    fts::add(tx, rowid, &e.title, &e.body)?;
    changes::record(tx, rowid)?;
    write_tags(tx, rowid, &e.tags, None, &enc.tags)?;
    Ok(rowid)
}

/// Rewrites row `old.rowid` with `e`'s reference and content, live, keeping `created_ms`.
/// A change of content, place or liveness keeps the row as it was as a version first
/// ([`history::keep`]) and makes a new one, by `why`.
///
/// The index is rewritten only when the title or body really changed (or the row comes back
/// from a tombstone), so re-importing an unchanged note costs no re-tokenization.
pub(crate) fn update(
    tx: &StoreTx<'_>,
    old: &Existing,
    e: &Entity,
    enc: &Encoded,
    dirty: bool,
    why: &ChangeWhy,
) -> Result<()> {
    let changed =
        old.deleted_ms.is_some() || old.content_hash != e.content_hash || old.path != e.path;
    if changed {
        let version = history::keep(tx, old.rowid, Some(&e.content()))?;
        tx.prepare_cached(
            "UPDATE entities SET version = ?2, source = ?3, message = ?4 WHERE rowid = ?1",
        )?
        .execute(params![old.rowid, version, why.source, why.message])?;
    }
    let reindex = if old.deleted_ms.is_some() {
        true
    } else {
        let (title, body) = fts::stored_text(tx, old.rowid)?;
        let changed = title != e.title || body != e.body;
        if changed {
            fts::remove(tx, old.rowid, &title, &body)?;
        }
        changed
    };
    let mut stmt = tx.prepare_cached(
        "UPDATE entities SET type = ?2, id = ?3, path = ?4, path_key = ?5, content_hash = ?6,
                updated_ms = ?7, deleted_ms = NULL, dirty = ?8, title = ?9, tags = ?10,
                metadata = ?11, frontmatter = ?12, body = ?13
         WHERE rowid = ?1",
    )?;
    stmt.execute(params![
        old.rowid,
        e.entity_ref.entity_type,
        e.entity_ref.id,
        e.path,
        path_key(&e.path),
        e.content_hash,
        e.updated_ms,
        dirty,
        e.title,
        enc.tags,
        enc.metadata,
        e.frontmatter,
        e.body,
    ])?;
    if reindex {
        fts::add(tx, old.rowid, &e.title, &e.body)?;
    }
    // A change a reader of the feed sees: content, place (type, id and path go together) or
    // liveness; the dirty flag and export bookkeeping are not changes.
    if changed {
        changes::record(tx, old.rowid)?;
    }
    write_tags(tx, old.rowid, &e.tags, Some(&old.tags), &enc.tags)
}

/// Soft-deletes a row if it is live (out of the index, `deleted_ms` set; a tombstone keeps its
/// first deletion time) and sets its dirty flag either way.
pub(crate) fn tombstone(
    tx: &StoreTx<'_>,
    old: &Existing,
    now_ms: i64,
    dirty: bool,
    why: &ChangeWhy,
) -> Result<()> {
    if old.deleted_ms.is_none() {
        fts::remove_stored(tx, old.rowid)?;
        let version = history::keep(tx, old.rowid, None)?;
        tx.prepare_cached(
            "UPDATE entities SET version = ?2, source = ?3, message = ?4 WHERE rowid = ?1",
        )?
        .execute(params![old.rowid, version, why.source, why.message])?;
    }
    tx.prepare_cached(
        "UPDATE entities SET deleted_ms = coalesce(deleted_ms, ?2), dirty = ?3 WHERE rowid = ?1",
    )?
    .execute(params![old.rowid, now_ms, dirty])?;
    if old.deleted_ms.is_none() {
        changes::record(tx, old.rowid)?;
    }
    Ok(())
}

/// Brings a tombstoned row back (indexed again, dirty, `updated_ms` now), as a new version.
fn revive(tx: &StoreTx<'_>, old: &Existing, now_ms: i64, why: &ChangeWhy) -> Result<()> {
    let version = history::keep(tx, old.rowid, None)?;
    tx.prepare_cached(
        "UPDATE entities SET deleted_ms = NULL, dirty = 1, updated_ms = ?2, version = ?3,
                             source = ?4, message = ?5
         WHERE rowid = ?1",
    )?
    .execute(params![old.rowid, now_ms, version, why.source, why.message])?;
    changes::record(tx, old.rowid)?;
    fts::add_stored(tx, old.rowid)
}

/// Replaces the tag rows of `rowid` unless the stored JSON says they are already these.
fn write_tags(
    tx: &Transaction<'_>,
    rowid: i64,
    tags: &[String],
    old_json: Option<&str>,
    new_json: &str,
) -> Result<()> {
    if old_json == Some(new_json) {
        return Ok(());
    }
    if old_json.is_some() {
        tx.prepare_cached("DELETE FROM entity_tags WHERE entity_rowid = ?1")?
            .execute([rowid])?;
    }
    let mut add =
        tx.prepare_cached("INSERT OR IGNORE INTO entity_tags (tag, entity_rowid) VALUES (?1, ?2)")?;
    for tag in tags {
        add.execute(params![tag, rowid])?;
    }
    Ok(())
}

/// Refuses `path` for `wanted` when another live entity's path has the same collision key
/// (the same file on a case-insensitive or normalizing file system).
pub(crate) fn check_collision(tx: &Transaction<'_>, wanted: &EntityRef, path: &str) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "SELECT type, id, path FROM entities
         WHERE path_key = ?1 AND deleted_ms IS NULL AND NOT (type = ?2 AND id = ?3)
         LIMIT 1",
    )?;
    let other = stmt
        .query_row(
            params![path_key(path), wanted.entity_type, wanted.id],
            |row| {
                Ok((
                    EntityRef::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?),
                    row.get(2)?,
                ))
            },
        )
        .optional()?;
    match other {
        Some((existing, existing_path)) => {
            Err(StoreError::PathCollision(Box::new(PathCollision {
                wanted: wanted.clone(),
                path: path.to_string(),
                existing,
                existing_path,
            })))
        }
        None => Ok(()),
    }
}

/// The entity holding `r`, live or soft-deleted.
pub(crate) fn load(tx: &Transaction<'_>, r: &EntityRef) -> Result<Option<Entity>> {
    let mut stmt = tx.prepare_cached(
        "SELECT path, title, tags, metadata, frontmatter, body, content_hash,
                created_ms, updated_ms, deleted_ms
         FROM entities WHERE type = ?1 AND id = ?2",
    )?;
    let raw = stmt
        .query_row(params![r.entity_type, r.id], RawEntity::from_row)
        .optional()?;
    raw.map(|raw| raw.decode(r.clone())).transpose()
}

/// A row as read, before its JSON columns are decoded (which can fail outside rusqlite).
struct RawEntity {
    path: String,
    title: String,
    tags: String,
    metadata: String,
    frontmatter: String,
    body: String,
    content_hash: String,
    created_ms: i64,
    updated_ms: i64,
    deleted_ms: Option<i64>,
}

impl RawEntity {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            path: row.get(0)?,
            title: row.get(1)?,
            tags: row.get(2)?,
            metadata: row.get(3)?,
            frontmatter: row.get(4)?,
            body: row.get(5)?,
            content_hash: row.get(6)?,
            created_ms: row.get(7)?,
            updated_ms: row.get(8)?,
            deleted_ms: row.get(9)?,
        })
    }

    fn decode(self, entity_ref: EntityRef) -> Result<Entity> {
        Ok(Entity {
            entity_ref,
            path: self.path,
            title: self.title,
            metadata: serde_json::from_str(&self.metadata)?,
            tags: serde_json::from_str(&self.tags)?,
            frontmatter: self.frontmatter,
            body: self.body,
            content_hash: self.content_hash,
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            deleted_ms: self.deleted_ms,
        })
    }
}

/// Creates or replaces `e` as an interface write: always live, always dirty.
///
/// `e.deleted_ms` is ignored (deleting is `soft_delete`), and so is `e.created_ms` when a row
/// already exists: the first time an entity was seen never moves.
pub(crate) fn put(tx: &StoreTx<'_>, e: &Entity, why: &ChangeWhy) -> Result<PutOutcome> {
    check_collision(tx, &e.entity_ref, &e.path)?;
    let enc = Encoded::of(e)?;
    match existing(tx, &e.entity_ref)? {
        None => {
            insert(tx, e, &enc, true, why)?;
            Ok(PutOutcome::Created)
        }
        Some(old) if old.deleted_ms.is_none() && old.content_hash == e.content_hash => {
            Ok(PutOutcome::Unchanged)
        }
        Some(old) => {
            update(tx, &old, e, &enc, true, why)?;
            Ok(if old.deleted_ms.is_some() {
                PutOutcome::Created
            } else {
                PutOutcome::Updated
            })
        }
    }
}

/// Tombstones a live entity and marks it dirty, so the next sync moves its file to the trash.
pub(crate) fn soft_delete(
    tx: &StoreTx<'_>,
    r: &EntityRef,
    now_ms: i64,
    why: &ChangeWhy,
) -> Result<()> {
    match existing(tx, r)? {
        Some(old) if old.deleted_ms.is_none() => tombstone(tx, &old, now_ms, true, why),
        _ => Err(StoreError::NotFound(r.clone())),
    }
}

/// Brings a tombstone back (a live entity is returned as it is). Refused with
/// [`StoreError::PathCollision`] if another live entity took its path meanwhile.
pub(crate) fn restore(
    tx: &StoreTx<'_>,
    r: &EntityRef,
    now_ms: i64,
    why: &ChangeWhy,
) -> Result<Entity> {
    let old = existing(tx, r)?.ok_or_else(|| StoreError::NotFound(r.clone()))?;
    if old.deleted_ms.is_some() {
        check_collision(tx, r, &old.path)?;
        revive(tx, &old, now_ms, why)?;
    }
    load(tx, r)?.ok_or_else(|| StoreError::NotFound(r.clone()))
}

/// Moves live entity `from` to `to`'s reference and path (`brain mv`): the same row, so its
/// history and `created_ms` go with it, and the move is a version of its own. A live entity at
/// the target is refused ([`StoreError::Stale`] expecting none, as a create over one is); a
/// deleted one there is kept aside under another name, as a rename over it keeps it; a path
/// another live note holds in another case or Unicode form is refused.
pub(crate) fn move_to(
    tx: &StoreTx<'_>,
    from: &EntityRef,
    to: &Entity,
    why: &ChangeWhy,
) -> Result<()> {
    let old = match existing(tx, from)? {
        Some(old) if old.deleted_ms.is_none() => old,
        _ => return Err(StoreError::NotFound(from.clone())),
    };
    if let Some(target) = existing(tx, &to.entity_ref)? {
        if target.deleted_ms.is_none() {
            return Err(StoreError::Stale {
                entity: to.entity_ref.to_string(),
                expected: String::new(),
                actual: Some(target.content_hash),
            });
        }
        crate::sync::archive_tombstone(tx, target.rowid, false)?;
    }
    // The note itself may hold a path of the same key (a move that changes case only): it is
    // another note's path only if another note holds it.
    check_collision(tx, &to.entity_ref, &to.path).or_else(|e| match &e {
        StoreError::PathCollision(c) if c.existing == *from => Ok(()),
        _ => Err(e),
    })?;
    let enc = Encoded::of(to)?;
    update(tx, &old, to, &enc, true, why)
}
