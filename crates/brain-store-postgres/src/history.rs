//! History (migration 0006), as the SQLite backend keeps it: the version a change replaces,
//! kept in the change's transaction, and versions read back. The entity row is the newest
//! version; `entity_versions` holds the ones before it, each stored against the one after it
//! ([`brain_store::history`]).

use brain_core::EntityRef;

use crate::db::{Db, get};
use crate::entities;
use brain_store::{ChangeWhy, Result, StoreError, Version, history};

/// Keeps row `row_id` as it is now as a version of its own, stored against `newer` (the text
/// replacing it; `None`: the same text, as a delete or a restore keeps it), and gives the row
/// its next number made by `why`.
pub(crate) fn keep(
    db: &mut Db<'_>,
    row_id: i64,
    newer: Option<&str>,
    why: &ChangeWhy,
) -> Result<()> {
    if !db.keeps_history {
        // History off: the version number still moves on (below), the replaced text is not kept.
        return skip(db, row_id, newer, why);
    }
    let row = db.query_one(
        "SELECT version, path, content_hash, deleted_ms, updated_ms, source, message,
                frontmatter || body
         FROM entities WHERE row_id = $1",
        &[&row_id],
    )?;
    let version: i64 = get(&row, 0)?;
    let deleted_ms: Option<i64> = get(&row, 3)?;
    let updated_ms: i64 = get(&row, 4)?;
    let text: String = get(&row, 7)?;
    let stored = history::encode(&text, newer.unwrap_or(&text));
    db.execute(
        "INSERT INTO entity_versions (entity_id, version, path, content_hash, deleted, made_ms,
                                      source, message, stored)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &row_id,
            &version,
            &get::<String>(&row, 1)?,
            &get::<String>(&row, 2)?,
            &deleted_ms.is_some(),
            &deleted_ms.unwrap_or(updated_ms),
            &get::<String>(&row, 5)?,
            &get::<Option<String>>(&row, 6)?,
            &stored,
        ],
    )?;
    number_next(db, row_id, version + 1, why)
}

/// Gives row `row_id` its new version's number and maker.
fn number_next(db: &mut Db<'_>, row_id: i64, number: i64, why: &ChangeWhy) -> Result<()> {
    db.execute(
        "UPDATE entities SET version = $2, source = $3, message = $4 WHERE row_id = $1",
        &[&row_id, &number, &why.source, &why.message],
    )?;
    Ok(())
}

/// A change with history off: only the number moves on. The newest kept version (from when
/// history was on) is stored against the text being replaced, so it is stored again against
/// `newer`, or it would no longer decode; one that no longer decodes stays as it is.
fn skip(db: &mut Db<'_>, row_id: i64, newer: Option<&str>, why: &ChangeWhy) -> Result<()> {
    let row = db.query_one(
        "SELECT version, frontmatter || body FROM entities WHERE row_id = $1",
        &[&row_id],
    )?;
    let version: i64 = get(&row, 0)?;
    let current: String = get(&row, 1)?;
    if let Some(newer) = newer.filter(|n| *n != current) {
        let newest = db.query(
            "SELECT version, stored FROM entity_versions WHERE entity_id = $1
             ORDER BY version DESC LIMIT 1",
            &[&row_id],
        )?;
        if let Some(row) = newest.first() {
            let kept: i64 = get(row, 0)?;
            let stored: Vec<u8> = get(row, 1)?;
            if let Ok(text) = history::decode(&stored, &current) {
                db.execute(
                    "UPDATE entity_versions SET stored = $3 WHERE entity_id = $1 AND version = $2",
                    &[&row_id, &kept, &history::encode(&text, newer)],
                )?;
            }
        }
    }
    number_next(db, row_id, version + 1, why)
}

/// Every version of `r`, oldest first, the current one last.
pub(crate) fn list(db: &mut Db<'_>, r: &EntityRef) -> Result<Vec<Version>> {
    let row_id = row_id_of(db, r)?;
    let rows = db.query(
        "SELECT version, path, content_hash, deleted, made_ms, source, message, false
         FROM entity_versions WHERE entity_id = $1
         UNION ALL
         SELECT version, path, content_hash, deleted_ms IS NOT NULL,
                coalesce(deleted_ms, updated_ms), source, message, true
         FROM entities WHERE row_id = $1
         ORDER BY 1",
        &[&row_id],
    )?;
    rows.iter()
        .map(|row| {
            Ok(Version {
                number: u64::try_from(get::<i64>(row, 0)?).unwrap_or(0),
                path: get(row, 1)?,
                content_hash: get(row, 2)?,
                deleted: get(row, 3)?,
                made_ms: get(row, 4)?,
                why: ChangeWhy {
                    source: get(row, 5)?,
                    message: get(row, 6)?,
                },
                current: get(row, 7)?,
            })
        })
        .collect()
}

/// The text of version `number` of `r`: walked back from the entity through every version
/// after it.
pub(crate) fn text(db: &mut Db<'_>, r: &EntityRef, number: u64) -> Result<String> {
    let entity = entities::load(db, r)?.ok_or_else(|| StoreError::NotFound(r.clone()))?;
    let row = db.query_one(
        "SELECT row_id, version FROM entities WHERE type = $1 AND id = $2",
        &[&r.entity_type, &r.id],
    )?;
    let row_id: i64 = get(&row, 0)?;
    let latest = u64::try_from(get::<i64>(&row, 1)?).unwrap_or(0);
    let missing = || StoreError::VersionNotFound {
        entity: r.to_string(),
        number,
        latest,
    };
    if number == latest {
        return Ok(entity.content());
    }
    let wanted = i64::try_from(number).map_err(|_| missing())?;
    if number > latest || number == 0 {
        return Err(missing());
    }
    let kept = db.query(
        "SELECT version, stored, content_hash FROM entity_versions
         WHERE entity_id = $1 AND version >= $2 ORDER BY version DESC",
        &[&row_id, &wanted],
    )?;
    let mut versions = Vec::with_capacity(kept.len());
    for row in &kept {
        versions.push((
            get::<i64>(row, 0)?,
            get::<Vec<u8>>(row, 1)?,
            get::<String>(row, 2)?,
        ));
    }
    if versions.last().is_none_or(|(v, ..)| *v != wanted) {
        return Err(missing());
    }
    let kept = versions
        .into_iter()
        .map(|(v, stored, hash)| (u64::try_from(v).unwrap_or(0), stored, hash));
    history::walk_back(entity.content(), kept).map_err(|(v, e)| e.of(r, v))
}

fn row_id_of(db: &mut Db<'_>, r: &EntityRef) -> Result<i64> {
    let row = db.query_opt(
        "SELECT row_id FROM entities WHERE type = $1 AND id = $2",
        &[&r.entity_type, &r.id],
    )?;
    row.map(|row| get(&row, 0))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(r.clone()))
}

/// The entity whose earlier version was at `path` with `content_hash`, when it is elsewhere
/// now (moved, renamed, or deleted after a move).
pub(crate) fn moved_from(
    db: &mut Db<'_>,
    path: &str,
    content_hash: Option<&str>,
) -> Result<Option<EntityRef>> {
    let row = db.query_opt(
        "SELECT e.type, e.id FROM entity_versions v JOIN entities e ON e.row_id = v.entity_id
         WHERE v.path = $1 AND ($2::text IS NULL OR v.content_hash = $2::text) AND e.path <> $1
         ORDER BY v.made_ms DESC LIMIT 1",
        &[&path, &content_hash],
    )?;
    row.map(|row| {
        Ok(EntityRef::new(
            get::<String>(&row, 0)?,
            get::<String>(&row, 1)?,
        ))
    })
    .transpose()
}

/// Row `row_id`'s current version number and maker, and its kept versions, for a dump.
pub(crate) fn dump_of(
    db: &mut Db<'_>,
    row_id: i64,
) -> Result<(u64, ChangeWhy, Vec<brain_store::KeptVersion>)> {
    let row = db.query_one(
        "SELECT version, source, message FROM entities WHERE row_id = $1",
        &[&row_id],
    )?;
    let version = u64::try_from(get::<i64>(&row, 0)?).unwrap_or(0);
    let why = ChangeWhy {
        source: get(&row, 1)?,
        message: get(&row, 2)?,
    };
    let rows = db.query(
        "SELECT version, path, content_hash, deleted, made_ms, source, message, stored
         FROM entity_versions WHERE entity_id = $1 ORDER BY version",
        &[&row_id],
    )?;
    let mut kept = Vec::with_capacity(rows.len());
    for r in &rows {
        kept.push(brain_store::KeptVersion {
            number: u64::try_from(get::<i64>(r, 0)?).unwrap_or(0),
            path: get(r, 1)?,
            content_hash: get(r, 2)?,
            deleted: get(r, 3)?,
            made_ms: get(r, 4)?,
            why: ChangeWhy {
                source: get(r, 5)?,
                message: get(r, 6)?,
            },
            stored: get(r, 7)?,
        });
    }
    Ok((version, why, kept))
}

/// Writes a dumped entity's history onto row `row_id` (just inserted by the load).
pub(crate) fn load_into(db: &mut Db<'_>, row_id: i64, d: &brain_store::DumpedEntity) -> Result<()> {
    db.execute(
        "UPDATE entities SET version = $2, source = $3, message = $4 WHERE row_id = $1",
        &[
            &row_id,
            &i64::try_from(d.version).unwrap_or(i64::MAX),
            &d.why.source,
            &d.why.message,
        ],
    )?;
    for v in &d.versions {
        db.execute(
            "INSERT INTO entity_versions (entity_id, version, path, content_hash, deleted,
                                          made_ms, source, message, stored)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &row_id,
                &i64::try_from(v.number).unwrap_or(i64::MAX),
                &v.path,
                &v.content_hash,
                &v.deleted,
                &v.made_ms,
                &v.why.source,
                &v.why.message,
                &v.stored,
            ],
        )?;
    }
    Ok(())
}

/// The entities with a kept version made before `before_ms`: those retention may thin.
pub(crate) fn prune_candidates(db: &mut Db<'_>, before_ms: i64) -> Result<Vec<i64>> {
    db.query(
        "SELECT DISTINCT entity_id FROM entity_versions WHERE made_ms < $1",
        &[&before_ms],
    )?
    .iter()
    .map(|r| get(r, 0))
    .collect()
}

/// Applies `rules` to row `row_id`'s kept versions (locked with the row); returns how many
/// were dropped.
pub(crate) fn prune_one(
    db: &mut Db<'_>,
    row_id: i64,
    now_ms: i64,
    rules: history::Retention,
) -> Result<u64> {
    let Some(row) = db.query_opt(
        "SELECT frontmatter || body, type, id FROM entities WHERE row_id = $1 FOR UPDATE",
        &[&row_id],
    )?
    else {
        return Ok(0);
    };
    let current: String = get(&row, 0)?;
    let r = EntityRef::new(get::<String>(&row, 1)?, get::<String>(&row, 2)?);
    let rows = db.query(
        "SELECT version, made_ms, stored FROM entity_versions WHERE entity_id = $1
         ORDER BY version",
        &[&row_id],
    )?;
    let mut kept = Vec::with_capacity(rows.len());
    for row in &rows {
        kept.push(history::Stored {
            number: u64::try_from(get::<i64>(row, 0)?).unwrap_or(0),
            made_ms: get(row, 1)?,
            stored: get(row, 2)?,
        });
    }
    let pruned = history::prune(&current, &kept, now_ms, rules).map_err(|e| e.of(&r, 0))?;
    for n in &pruned.dropped {
        db.execute(
            "DELETE FROM entity_versions WHERE entity_id = $1 AND version = $2",
            &[&row_id, &i64::try_from(*n).unwrap_or(i64::MAX)],
        )?;
    }
    for (n, stored) in &pruned.rewritten {
        db.execute(
            "UPDATE entity_versions SET stored = $3 WHERE entity_id = $1 AND version = $2",
            &[&row_id, &i64::try_from(*n).unwrap_or(i64::MAX), stored],
        )?;
    }
    Ok(pruned.dropped.len() as u64)
}

/// Whether an earlier version of `r` had `content_hash`.
pub(crate) fn held_before(db: &mut Db<'_>, r: &EntityRef, content_hash: &str) -> Result<bool> {
    get(
        &db.query_one(
            "SELECT EXISTS (SELECT 1 FROM entity_versions v JOIN entities e
                            ON e.row_id = v.entity_id
                            WHERE e.type = $1 AND e.id = $2 AND v.content_hash = $3)",
            &[&r.entity_type, &r.id, &content_hash],
        )?,
        0,
    )
}
