//! A whole store as data and back (`Store::dump`, `Store::load_dump`), for `brain store copy`:
//! rows written with the feed numbers and times they had, the feed's sequence moved past the
//! copied cursor.

use brain_core::EntityRef;

use crate::db::{Db, get};
use crate::tokens::tsvector_text;
use brain_store::{DumpedEntity, FileBase, FileStat, Result, StoreDump, StoreError};

/// Everything in one snapshot, this replica's bases.
pub(crate) fn dump(db: &mut Db<'_>, replica: &str) -> Result<StoreDump> {
    let rows = db.query(
        &format!(
            "SELECT e.type, e.id, {}, c.seq, e.row_id FROM entities e
             LEFT JOIN entity_changes c ON c.entity_id = e.row_id ORDER BY e.row_id",
            crate::dirty::is_behind_sql(1)
        ),
        &[&replica],
    )?;
    let mut out = StoreDump::default();
    for row in &rows {
        let r = EntityRef::new(get::<String>(row, 0)?, get::<String>(row, 1)?);
        let entity =
            crate::entities::load(db, &r)?.ok_or_else(|| StoreError::NotFound(r.clone()))?;
        let (version, why, versions) = crate::history::dump_of(db, get(row, 4)?)?;
        out.entities.push(DumpedEntity {
            entity,
            dirty: get(row, 2)?,
            seq: get::<Option<i64>>(row, 3)?.and_then(|s| u64::try_from(s).ok()),
            version,
            why,
            versions,
        });
    }
    let rows = db.query(
        "SELECT path, size, mtime_ns, ctime_ns, inode, hash, type, id FROM file_bases
         WHERE replica = $1 ORDER BY path COLLATE \"C\"",
        &[&replica],
    )?;
    for row in &rows {
        out.bases.push(FileBase {
            path: get(row, 0)?,
            stat: FileStat {
                size: u64::try_from(get::<i64>(row, 1)?).unwrap_or(0),
                mtime_ns: get(row, 2)?,
                ctime_ns: get(row, 3)?,
                inode: u64::try_from(get::<i64>(row, 4)?).unwrap_or(0),
            },
            hash: get(row, 5)?,
            entity: EntityRef::new(get::<String>(row, 6)?, get::<String>(row, 7)?),
        });
    }
    out.conflicts = crate::conflicts::list(db, true)?;
    out.change_cursor = crate::changes::cursor(db)?;
    Ok(out)
}

/// Fills the store with `dump` (see [`brain_store::Store::load_dump`]).
pub(crate) fn load(
    db: &mut Db<'_>,
    replica: &str,
    dump: &StoreDump,
    replace: bool,
    shown: &str,
) -> Result<()> {
    let row = db.query_one(
        "SELECT (SELECT count(*) FROM entities), (SELECT count(*) FROM conflicts)",
        &[],
    )?;
    let (entities_held, conflicts_held): (i64, i64) = (get(&row, 0)?, get(&row, 1)?);
    if entities_held + conflicts_held > 0 {
        if !replace {
            return Err(StoreError::NotEmpty {
                store: shown.to_string(),
                what: format!("{entities_held} note(s), {conflicts_held} conflict(s)"),
            });
        }
        db.batch(
            "DELETE FROM file_bases; DELETE FROM entity_tags; DELETE FROM entity_changes;
             DELETE FROM entity_versions; DELETE FROM conflicts; DELETE FROM entities;",
        )?;
    }
    for d in &dump.entities {
        let e = &d.entity;
        let tsv = e
            .deleted_ms
            .is_none()
            .then(|| tsvector_text(&e.title, &e.body));
        let row = db.query_one(
            "INSERT INTO entities (type, id, path, path_key, content_hash, created_ms, updated_ms,
                                   deleted_ms, title, tags, metadata, frontmatter, body, tsv)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                     $14::text::tsvector)
             RETURNING row_id",
            &[
                &e.entity_ref.entity_type,
                &e.entity_ref.id,
                &e.path,
                &brain_core::path_key(&e.path),
                &e.content_hash,
                &e.created_ms,
                &e.updated_ms,
                &e.deleted_ms,
                &e.title,
                &serde_json::to_string(&e.tags)?,
                &serde_json::to_string(&e.metadata)?,
                &e.frontmatter,
                &e.body,
                &tsv,
            ],
        )?;
        let row_id: i64 = get(&row, 0)?;
        if d.dirty {
            db.execute(
                "INSERT INTO entity_dirty (replica, entity_id) VALUES ($1, $2)",
                &[&replica, &row_id],
            )?;
        }
        if !e.tags.is_empty() {
            db.execute(
                "INSERT INTO entity_tags (tag, entity_id)
                 SELECT DISTINCT t, $2::bigint FROM unnest($1::text[]) t ON CONFLICT DO NOTHING",
                &[&e.tags, &row_id],
            )?;
        }
        if let Some(seq) = d.seq {
            db.execute(
                "INSERT INTO entity_changes (entity_id, seq) VALUES ($1, $2)",
                &[&row_id, &i64::try_from(seq).unwrap_or(i64::MAX)],
            )?;
        }
        crate::history::load_into(db, row_id, d)?;
    }
    for b in &dump.bases {
        db.execute(
            "INSERT INTO file_bases (replica, path, size, mtime_ns, ctime_ns, inode, hash,
                                     entity_id, type, id)
             SELECT $1, $2, $3, $4, $5, $6, $7, row_id, type, id FROM entities
             WHERE type = $8 AND id = $9",
            &[
                &replica,
                &b.path,
                &i64::try_from(b.stat.size).unwrap_or(i64::MAX),
                &b.stat.mtime_ns,
                &b.stat.ctime_ns,
                &i64::try_from(b.stat.inode).unwrap_or(i64::MAX),
                &b.hash,
                &b.entity.entity_type,
                &b.entity.id,
            ],
        )?;
    }
    for c in &dump.conflicts {
        db.execute(
            "INSERT INTO conflicts (id, kind, path, entity_type, entity_id, store_content,
                                    file_content, copy_path, detail, created_ms, resolved_ms)
             OVERRIDING SYSTEM VALUE
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &c.id,
                &c.kind.as_str(),
                &c.path,
                &c.entity.as_ref().map(|r| r.entity_type.as_str()),
                &c.entity.as_ref().map(|r| r.id.as_str()),
                &c.store_content,
                &c.file_content,
                &c.copy_path,
                &c.detail,
                &c.created_ms,
                &c.resolved_ms,
            ],
        )?;
    }
    // New conflicts and changes are numbered after the copied ones.
    db.execute(
        "SELECT setval(pg_get_serial_sequence('conflicts', 'id'),
                       greatest((SELECT max(id) FROM conflicts), 1))",
        &[],
    )?;
    let cursor = i64::try_from(dump.change_cursor).unwrap_or(i64::MAX);
    if cursor > 0 {
        db.execute("SELECT setval('change_seq', $1)", &[&cursor])?;
    }
    Ok(())
}
