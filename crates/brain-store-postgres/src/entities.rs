//! Entity rows: reading them back, writes from interfaces (`put`, `soft_delete`, `restore`),
//! and the row-level writes the sync batch shares.
//!
//! Every change to a row's content, place or liveness goes through [`insert`], [`update`],
//! [`tombstone`] or [`revive`], which write the row's search text with it (`tsv`, NULL on a
//! tombstone) and record the change in the feed (see `changes`).

use brain_core::{EntityRef, path_key};
use postgres::Row;

use crate::changes;
use crate::db::{Db, get};
use crate::dirty::Writer;
use crate::history;
use crate::tokens::tsvector_text;
use brain_store::{ChangeWhy, Entity, PathCollision, PutOutcome, Result, StoreError};

/// What a write needs to know about the row already holding a reference.
pub(crate) struct Existing {
    pub row_id: i64,
    pub path: String,
    pub content_hash: String,
    pub tags: String,
    pub deleted_ms: Option<i64>,
    /// Whether the reading replica's folder is behind on it (changed since that folder's
    /// last sync, by an interface or another folder).
    pub dirty: bool,
}

impl Existing {
    /// Whether the row is as a sync planner saw it: unchanged by any interface, or changed
    /// with exactly the content hash the planner saw (`seen_dirty_hash`).
    pub fn as_planned(&self, seen_dirty_hash: Option<&str>) -> bool {
        !self.dirty || seen_dirty_hash == Some(self.content_hash.as_str())
    }
}

/// The row holding `r`, live or not, locked until the transaction ends: a concurrent writer of
/// the same entity waits here rather than writing over what this one is about to decide on.
/// `dirty` is as `replica` sees it.
///
/// Whether `replica` is behind is read by a statement of its own, after the lock is held: a
/// writer this one waited for (another folder's import of the same note) committed its marks
/// before the lock was released, and only a statement begun after that sees them. Read in the
/// locking statement, they would come from its snapshot, taken before the wait, and this
/// folder's import would overwrite the other folder's version instead of keeping both.
pub(crate) fn existing(db: &mut Db<'_>, r: &EntityRef, replica: &str) -> Result<Option<Existing>> {
    let row = db.query_opt(
        "SELECT row_id, path, content_hash, tags, deleted_ms FROM entities
         WHERE type = $1 AND id = $2 FOR UPDATE",
        &[&r.entity_type, &r.id],
    )?;
    let Some(row) = row else {
        return Ok(None);
    };
    let row_id: i64 = get(&row, 0)?;
    let behind = db.query_one(
        "SELECT EXISTS (SELECT 1 FROM entity_dirty WHERE replica = $1 AND entity_id = $2)",
        &[&replica, &row_id],
    )?;
    Ok(Some(Existing {
        row_id,
        path: get(&row, 1)?,
        content_hash: get(&row, 2)?,
        tags: get(&row, 3)?,
        deleted_ms: get(&row, 4)?,
        dirty: get(&behind, 0)?,
    }))
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

/// Inserts a live row for `e` with its search text; returns its id. Tags are written too.
pub(crate) fn insert(db: &mut Db<'_>, e: &Entity, enc: &Encoded, w: &Writer<'_>) -> Result<i64> {
    let why = w.why();
    let row = db.query_one(
        "INSERT INTO entities (type, id, path, path_key, content_hash, created_ms, updated_ms,
                               deleted_ms, title, tags, metadata, frontmatter, body, tsv,
                               version, source, message)
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, $11, $12, $13::text::tsvector,
                 1, $14, $15)
         RETURNING row_id",
        &[
            &e.entity_ref.entity_type,
            &e.entity_ref.id,
            &e.path,
            &path_key(&e.path),
            &e.content_hash,
            &e.created_ms,
            &e.updated_ms,
            &e.title,
            &enc.tags,
            &enc.metadata,
            &e.frontmatter,
            &e.body,
            &tsvector_text(&e.title, &e.body),
            &why.source,
            &why.message,
        ],
    )?;
    let row_id: i64 = get(&row, 0)?;
    changes::record(db, row_id)?;
    w.changed(db, row_id, false)?;
    write_tags(db, row_id, &e.tags, None, &enc.tags)?;
    Ok(row_id)
}

/// Rewrites row `old.row_id` with `e`'s reference and content, live, keeping `created_ms`.
/// The search text is rewritten only when the content changed or the row comes back.
pub(crate) fn update(
    db: &mut Db<'_>,
    old: &Existing,
    e: &Entity,
    enc: &Encoded,
    w: &Writer<'_>,
) -> Result<()> {
    let reindex = old.deleted_ms.is_some() || old.content_hash != e.content_hash;
    let changed = reindex || old.path != e.path;
    if changed {
        history::keep(db, old.row_id, Some(&e.content()), w.why())?;
    }
    let tsv = reindex.then(|| tsvector_text(&e.title, &e.body));
    db.execute(
        "UPDATE entities SET type = $2, id = $3, path = $4, path_key = $5, content_hash = $6,
                updated_ms = $7, deleted_ms = NULL, title = $8, tags = $9,
                metadata = $10, frontmatter = $11, body = $12,
                tsv = coalesce($13::text::tsvector, tsv)
         WHERE row_id = $1",
        &[
            &old.row_id,
            &e.entity_ref.entity_type,
            &e.entity_ref.id,
            &e.path,
            &path_key(&e.path),
            &e.content_hash,
            &e.updated_ms,
            &e.title,
            &enc.tags,
            &enc.metadata,
            &e.frontmatter,
            &e.body,
            &tsv,
        ],
    )?;
    // A change a reader of the feed sees: content, place or liveness; which folders are
    // behind and export bookkeeping are not changes.
    if changed {
        changes::record(db, old.row_id)?;
        w.changed(db, old.row_id, old.dirty)?;
    } else {
        w.in_step(db, old.row_id, old.dirty)?;
    }
    write_tags(db, old.row_id, &e.tags, Some(&old.tags), &enc.tags)
}

/// Soft-deletes a row if it is live (out of the index, `deleted_ms` set; a tombstone keeps its
/// first deletion time); the folders behind on it are as `w` says.
pub(crate) fn tombstone(
    db: &mut Db<'_>,
    old: &Existing,
    now_ms: i64,
    w: &Writer<'_>,
) -> Result<()> {
    if old.deleted_ms.is_none() {
        history::keep(db, old.row_id, None, w.why())?;
    }
    db.execute(
        "UPDATE entities SET deleted_ms = coalesce(deleted_ms, $2), tsv = NULL
         WHERE row_id = $1",
        &[&old.row_id, &now_ms],
    )?;
    if old.deleted_ms.is_none() {
        changes::record(db, old.row_id)?;
        w.changed(db, old.row_id, old.dirty)
    } else {
        w.in_step(db, old.row_id, old.dirty)
    }
}

/// Brings a tombstoned row back (indexed again, new to every folder, `updated_ms` now).
fn revive(db: &mut Db<'_>, old: &Existing, now_ms: i64, w: &Writer<'_>) -> Result<()> {
    history::keep(db, old.row_id, None, w.why())?;
    let row = db.query_one(
        "SELECT title, body FROM entities WHERE row_id = $1",
        &[&old.row_id],
    )?;
    let (title, body): (String, String) = (get(&row, 0)?, get(&row, 1)?);
    db.execute(
        "UPDATE entities SET deleted_ms = NULL, updated_ms = $2, tsv = $3::text::tsvector
         WHERE row_id = $1",
        &[&old.row_id, &now_ms, &tsvector_text(&title, &body)],
    )?;
    changes::record(db, old.row_id)?;
    w.changed(db, old.row_id, old.dirty)
}

/// Replaces the tag rows of `row_id` unless the stored JSON says they are already these.
fn write_tags(
    db: &mut Db<'_>,
    row_id: i64,
    tags: &[String],
    old_json: Option<&str>,
    new_json: &str,
) -> Result<()> {
    if old_json == Some(new_json) {
        return Ok(());
    }
    if old_json.is_some() {
        db.execute("DELETE FROM entity_tags WHERE entity_id = $1", &[&row_id])?;
    }
    if !tags.is_empty() {
        db.execute(
            "INSERT INTO entity_tags (tag, entity_id) SELECT DISTINCT t, $2::bigint FROM unnest($1::text[]) t
             ON CONFLICT DO NOTHING",
            &[&tags, &row_id],
        )?;
    }
    Ok(())
}

/// Refuses `path` for `wanted` when another live entity's path has the same collision key.
pub(crate) fn check_collision(db: &mut Db<'_>, wanted: &EntityRef, path: &str) -> Result<()> {
    let other = db.query_opt(
        "SELECT type, id, path FROM entities
         WHERE path_key = $1 AND deleted_ms IS NULL AND NOT (type = $2 AND id = $3)
         LIMIT 1",
        &[&path_key(path), &wanted.entity_type, &wanted.id],
    )?;
    match other {
        Some(row) => Err(StoreError::PathCollision(Box::new(PathCollision {
            wanted: wanted.clone(),
            path: path.to_string(),
            existing: EntityRef::new(get::<String>(&row, 0)?, get::<String>(&row, 1)?),
            existing_path: get(&row, 2)?,
        }))),
        None => Ok(()),
    }
}

/// The entity holding `r`, live or soft-deleted.
pub(crate) fn load(db: &mut Db<'_>, r: &EntityRef) -> Result<Option<Entity>> {
    let row = db.query_opt(
        "SELECT path, title, tags, metadata, frontmatter, body, content_hash,
                created_ms, updated_ms, deleted_ms
         FROM entities WHERE type = $1 AND id = $2",
        &[&r.entity_type, &r.id],
    )?;
    row.map(|row| decode(&row, r.clone())).transpose()
}

fn decode(row: &Row, entity_ref: EntityRef) -> Result<Entity> {
    Ok(Entity {
        entity_ref,
        path: get(row, 0)?,
        title: get(row, 1)?,
        tags: serde_json::from_str(get(row, 2)?)?,
        metadata: serde_json::from_str(get(row, 3)?)?,
        frontmatter: get(row, 4)?,
        body: get(row, 5)?,
        content_hash: get(row, 6)?,
        created_ms: get(row, 7)?,
        updated_ms: get(row, 8)?,
        deleted_ms: get(row, 9)?,
    })
}

/// Creates or replaces `e` as an interface write: always live, new to every folder.
pub(crate) fn put(
    db: &mut Db<'_>,
    e: &Entity,
    replica: &str,
    why: &ChangeWhy,
) -> Result<PutOutcome> {
    check_collision(db, &e.entity_ref, &e.path)?;
    let enc = Encoded::of(e)?;
    let w = Writer::interface(db, replica, why)?;
    match existing(db, &e.entity_ref, replica)? {
        None => {
            insert(db, e, &enc, &w)?;
            Ok(PutOutcome::Created)
        }
        Some(old) if old.deleted_ms.is_none() && old.content_hash == e.content_hash => {
            Ok(PutOutcome::Unchanged)
        }
        Some(old) => {
            update(db, &old, e, &enc, &w)?;
            Ok(if old.deleted_ms.is_some() {
                PutOutcome::Created
            } else {
                PutOutcome::Updated
            })
        }
    }
}

/// Tombstones a live entity, new to every folder, so each folder's next sync moves its file to
/// the trash.
pub(crate) fn soft_delete(
    db: &mut Db<'_>,
    r: &EntityRef,
    now_ms: i64,
    replica: &str,
    why: &ChangeWhy,
) -> Result<()> {
    let w = Writer::interface(db, replica, why)?;
    match existing(db, r, replica)? {
        Some(old) if old.deleted_ms.is_none() => tombstone(db, &old, now_ms, &w),
        _ => Err(StoreError::NotFound(r.clone())),
    }
}

/// Brings a tombstone back (a live entity is returned as it is). Refused with
/// [`StoreError::PathCollision`] if another live entity took its path meanwhile.
pub(crate) fn restore(
    db: &mut Db<'_>,
    r: &EntityRef,
    now_ms: i64,
    replica: &str,
    why: &ChangeWhy,
) -> Result<Entity> {
    let w = Writer::interface(db, replica, why)?;
    let old = existing(db, r, replica)?.ok_or_else(|| StoreError::NotFound(r.clone()))?;
    if old.deleted_ms.is_some() {
        check_collision(db, r, &old.path)?;
        revive(db, &old, now_ms, &w)?;
    }
    load(db, r)?.ok_or_else(|| StoreError::NotFound(r.clone()))
}

/// Moves live entity `from` to `to`'s reference and path (`brain mv`), as the SQLite backend
/// does: the same row, history and `created_ms` kept, new to every folder (each folder's file
/// at the old path is listed as moved away and trashed by its export).
pub(crate) fn move_to(
    db: &mut Db<'_>,
    from: &EntityRef,
    to: &Entity,
    replica: &str,
    why: &ChangeWhy,
) -> Result<()> {
    let w = Writer::interface(db, replica, why)?;
    let old = match existing(db, from, replica)? {
        Some(old) if old.deleted_ms.is_none() => old,
        _ => return Err(StoreError::NotFound(from.clone())),
    };
    if let Some(target) = existing(db, &to.entity_ref, replica)? {
        if target.deleted_ms.is_none() {
            return Err(StoreError::Stale {
                entity: to.entity_ref.to_string(),
                expected: String::new(),
                actual: Some(target.content_hash),
            });
        }
        crate::sync::archive_tombstone(db, target.row_id, false)?;
    }
    check_collision(db, &to.entity_ref, &to.path).or_else(|e| match &e {
        StoreError::PathCollision(c) if c.existing == *from => Ok(()),
        _ => Err(e),
    })?;
    let enc = Encoded::of(to)?;
    update(db, &old, to, &enc, &w)
}
