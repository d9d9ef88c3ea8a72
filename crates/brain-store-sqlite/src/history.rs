//! History (migration 0011): the version a change replaces, kept in the change's transaction,
//! and versions read back. The entity row is the newest version; `entity_versions` holds the
//! ones before it, each stored against the one after it ([`brain_store::history`]).

use brain_core::EntityRef;
use rusqlite::{OptionalExtension, Transaction, params};

use brain_store::{ChangeWhy, Result, StoreError, Version, history};

use crate::entities;
use crate::tx::StoreTx;

/// Keeps row `rowid` as it is now as a version of its own, stored against `newer` (the text
/// replacing it; `None`: the same text, as a delete or a restore keeps it); returns the number
/// the row's new version takes. With history off ([`StoreTx::keeps_history`]) only the
/// number moves on.
pub(crate) fn keep(tx: &StoreTx<'_>, rowid: i64, newer: Option<&str>) -> Result<i64> {
    if !tx.keeps_history() {
        return skip(tx, rowid, newer);
    }
    let mut read = tx.prepare_cached(
        "SELECT version, path, content_hash, deleted_ms, updated_ms, source, message,
                frontmatter, body
         FROM entities WHERE rowid = ?1",
    )?;
    let (version, path, hash, deleted_ms, updated_ms, source, message, frontmatter, body): (
        i64,
        String,
        String,
        Option<i64>,
        i64,
        String,
        Option<String>,
        String,
        String,
    ) = read.query_row([rowid], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
        ))
    })?;
    let mut text = frontmatter;
    text.push_str(&body);
    let stored = history::encode(&text, newer.unwrap_or(&text));
    tx.prepare_cached(
        "INSERT INTO entity_versions (entity_rowid, version, path, content_hash, deleted,
                                      made_ms, source, message, stored)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        rowid,
        version,
        path,
        hash,
        deleted_ms.is_some(),
        deleted_ms.unwrap_or(updated_ms),
        source,
        message,
        stored,
    ])?;
    Ok(version + 1)
}

/// A change with history off: only the number moves on. The newest kept version (from when
/// history was on) is stored against the text being replaced, so it is stored again against
/// `newer`, or it would no longer decode.
fn skip(tx: &StoreTx<'_>, rowid: i64, newer: Option<&str>) -> Result<i64> {
    let (version, current): (i64, String) = tx
        .prepare_cached("SELECT version, frontmatter || body FROM entities WHERE rowid = ?1")?
        .query_row([rowid], |row| Ok((row.get(0)?, row.get(1)?)))?;
    if let Some(newer) = newer.filter(|n| *n != current) {
        let newest: Option<(i64, Vec<u8>)> = tx
            .prepare_cached(
                "SELECT version, stored FROM entity_versions WHERE entity_rowid = ?1
                 ORDER BY version DESC LIMIT 1",
            )?
            .query_row([rowid], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        // A version that no longer decodes stays as it is: the change goes on either way.
        if let Some((kept, Ok(text))) =
            newest.map(|(kept, stored)| (kept, history::decode(&stored, &current)))
        {
            tx.prepare_cached(
                "UPDATE entity_versions SET stored = ?3 WHERE entity_rowid = ?1 AND version = ?2",
            )?
            .execute(params![rowid, kept, history::encode(&text, newer)])?;
        }
    }
    Ok(version + 1)
}

/// Every version of `r`, oldest first, the current one last.
pub(crate) fn list(tx: &Transaction<'_>, r: &EntityRef) -> Result<Vec<Version>> {
    let rowid = rowid_of(tx, r)?;
    let mut stmt = tx.prepare_cached(
        "SELECT version, path, content_hash, deleted, made_ms, source, message, 0
         FROM entity_versions WHERE entity_rowid = ?1
         UNION ALL
         SELECT version, path, content_hash, deleted_ms IS NOT NULL,
                coalesce(deleted_ms, updated_ms), source, message, 1
         FROM entities WHERE rowid = ?1
         ORDER BY 1",
    )?;
    let rows = stmt.query_map([rowid], |row| {
        Ok(Version {
            number: row.get::<_, i64>(0)?.max(0) as u64,
            path: row.get(1)?,
            content_hash: row.get(2)?,
            deleted: row.get(3)?,
            made_ms: row.get(4)?,
            why: ChangeWhy {
                source: row.get(5)?,
                message: row.get(6)?,
            },
            current: row.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The text of version `number` of `r`: walked back from the entity through every version
/// after it.
pub(crate) fn text(tx: &Transaction<'_>, r: &EntityRef, number: u64) -> Result<String> {
    let entity = entities::load(tx, r)?.ok_or_else(|| StoreError::NotFound(r.clone()))?;
    let rowid = rowid_of(tx, r)?;
    let latest: i64 = tx
        .prepare_cached("SELECT version FROM entities WHERE rowid = ?1")?
        .query_row([rowid], |row| row.get(0))?;
    let latest = latest.max(0) as u64;
    let missing = || StoreError::VersionNotFound {
        entity: r.to_string(),
        number,
        latest,
    };
    if number == latest {
        return Ok(entity.content());
    }
    if number > latest || number == 0 {
        return Err(missing());
    }
    let mut stmt = tx.prepare_cached(
        "SELECT version, stored, content_hash FROM entity_versions
         WHERE entity_rowid = ?1 AND version >= ?2 ORDER BY version DESC",
    )?;
    let kept = stmt
        .query_map(params![rowid, number as i64], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if kept.last().is_none_or(|(v, ..)| *v as u64 != number) {
        return Err(missing());
    }
    let kept = kept
        .into_iter()
        .map(|(v, stored, hash)| (v.max(0) as u64, stored, hash));
    history::walk_back(entity.content(), kept).map_err(|(v, e)| e.of(r, v))
}

fn rowid_of(tx: &Transaction<'_>, r: &EntityRef) -> Result<i64> {
    tx.prepare_cached("SELECT rowid FROM entities WHERE type = ?1 AND id = ?2")?
        .query_row(params![r.entity_type, r.id], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(r.clone()))
}

/// The entity whose earlier version was at `path` with `content_hash`, when it is elsewhere
/// now (moved, renamed, or deleted after a move).
pub(crate) fn moved_from(
    tx: &Transaction<'_>,
    path: &str,
    content_hash: Option<&str>,
) -> Result<Option<EntityRef>> {
    let found = tx
        .prepare_cached(
            "SELECT e.type, e.id FROM entity_versions v JOIN entities e ON e.rowid = v.entity_rowid
             WHERE v.path = ?1 AND (?2 IS NULL OR v.content_hash = ?2) AND e.path <> ?1
             ORDER BY v.made_ms DESC LIMIT 1",
        )?
        .query_row(params![path, content_hash], |row| {
            Ok(EntityRef::new(
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
            ))
        })
        .optional()?;
    Ok(found)
}

/// Row `rowid`'s current version number and maker, and its kept versions, for a dump.
pub(crate) fn dump_of(
    tx: &Transaction<'_>,
    rowid: i64,
) -> Result<(u64, ChangeWhy, Vec<brain_store::KeptVersion>)> {
    let (version, source, message): (i64, String, Option<String>) = tx
        .prepare_cached("SELECT version, source, message FROM entities WHERE rowid = ?1")?
        .query_row([rowid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let mut stmt = tx.prepare_cached(
        "SELECT version, path, content_hash, deleted, made_ms, source, message, stored
         FROM entity_versions WHERE entity_rowid = ?1 ORDER BY version",
    )?;
    let kept = stmt
        .query_map([rowid], |r| {
            Ok(brain_store::KeptVersion {
                number: r.get::<_, i64>(0)?.max(0) as u64,
                path: r.get(1)?,
                content_hash: r.get(2)?,
                deleted: r.get(3)?,
                made_ms: r.get(4)?,
                why: ChangeWhy {
                    source: r.get(5)?,
                    message: r.get(6)?,
                },
                stored: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((version.max(0) as u64, ChangeWhy { source, message }, kept))
}

/// Writes a dumped entity's history onto row `rowid` (just inserted by the load).
pub(crate) fn load_into(
    tx: &Transaction<'_>,
    rowid: i64,
    d: &brain_store::DumpedEntity,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE entities SET version = ?2, source = ?3, message = ?4 WHERE rowid = ?1",
    )?
    .execute(params![
        rowid,
        i64::try_from(d.version).unwrap_or(i64::MAX),
        d.why.source,
        d.why.message
    ])?;
    for v in &d.versions {
        insert_kept(tx, rowid, v)?;
    }
    Ok(())
}

/// Writes `v` as a kept version of row `rowid`, its stored bytes as they are.
fn insert_kept(tx: &Transaction<'_>, rowid: i64, v: &brain_store::KeptVersion) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO entity_versions (entity_rowid, version, path, content_hash, deleted,
                                      made_ms, source, message, stored)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        rowid,
        i64::try_from(v.number).unwrap_or(i64::MAX),
        v.path,
        v.content_hash,
        v.deleted,
        v.made_ms,
        v.why.source,
        v.why.message,
        v.stored,
    ])?;
    Ok(())
}

/// [`brain_store::Store::graft_history`]: `earlier` under row `r`, each stored against the
/// next (the last against the entity's text), and the entity renumbered after them.
pub(crate) fn graft(
    tx: &Transaction<'_>,
    r: &EntityRef,
    earlier: &[(Version, String)],
    same_as_current: Option<&Version>,
) -> Result<()> {
    let rowid = rowid_of(tx, r)?;
    let (current, deleted, kept): (String, Option<i64>, i64) = tx
        .prepare_cached(
            "SELECT frontmatter || body, deleted_ms,
                    (SELECT count(*) FROM entity_versions WHERE entity_rowid = ?1)
             FROM entities WHERE rowid = ?1",
        )?
        .query_row([rowid], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    if deleted.is_some() || kept > 0 {
        return Err(StoreError::Refused(
            format!(
                "{r} is deleted or already has history here: earlier versions are only added to a \
             note just imported"
            )
            .into(),
        ));
    }
    let mut last = 0;
    for (i, (v, text)) in earlier.iter().enumerate() {
        if v.number <= last {
            return Err(StoreError::Refused(
                format!(
                    "the versions given for {r} are not in increasing order ({} after {last})",
                    v.number
                )
                .into(),
            ));
        }
        last = v.number;
        let newer = earlier
            .get(i + 1)
            .map_or(current.as_str(), |(_, t)| t.as_str());
        let kept = brain_store::KeptVersion {
            number: v.number,
            path: v.path.clone(),
            content_hash: v.content_hash.clone(),
            deleted: v.deleted,
            made_ms: v.made_ms,
            why: v.why.clone(),
            stored: history::encode(text, newer),
        };
        insert_kept(tx, rowid, &kept)?;
    }
    let (number, why) = match same_as_current {
        Some(v) if v.number > last => (v.number, Some(&v.why)),
        Some(v) => {
            return Err(StoreError::Refused(
                format!(
                    "the current version given for {r} ({}) is not after its earlier ones ({last})",
                    v.number
                )
                .into(),
            ));
        }
        None => (last + 1, None),
    };
    tx.prepare_cached(
        "UPDATE entities SET version = ?2,
                source = coalesce(?3, source), message = CASE WHEN ?3 IS NULL THEN message ELSE ?4 END
         WHERE rowid = ?1",
    )?
    .execute(params![
        rowid,
        i64::try_from(number).unwrap_or(i64::MAX),
        why.map(|w| w.source.as_str()),
        why.and_then(|w| w.message.as_deref()),
    ])?;
    Ok(())
}

/// The entities with a kept version made before `before_ms`: those retention may thin.
pub(crate) fn prune_candidates(tx: &Transaction<'_>, before_ms: i64) -> Result<Vec<i64>> {
    let mut stmt =
        tx.prepare("SELECT DISTINCT entity_rowid FROM entity_versions WHERE made_ms < ?1")?;
    let rows = stmt
        .query_map([before_ms], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(rows)
}

/// Applies `rules` to row `rowid`'s kept versions; returns how many were dropped.
pub(crate) fn prune_one(
    tx: &Transaction<'_>,
    rowid: i64,
    now_ms: i64,
    rules: history::Retention,
) -> Result<u64> {
    let Some((current, r)): Option<(String, EntityRef)> = tx
        .prepare_cached("SELECT frontmatter || body, type, id FROM entities WHERE rowid = ?1")?
        .query_row([rowid], |row| {
            Ok((
                row.get(0)?,
                EntityRef::new(row.get::<_, String>(1)?, row.get::<_, String>(2)?),
            ))
        })
        .optional()?
    else {
        return Ok(0);
    };
    let mut stmt = tx.prepare_cached(
        "SELECT version, made_ms, stored FROM entity_versions WHERE entity_rowid = ?1
         ORDER BY version",
    )?;
    let kept = stmt
        .query_map([rowid], |row| {
            Ok(history::Stored {
                number: row.get::<_, i64>(0)?.max(0) as u64,
                made_ms: row.get(1)?,
                stored: row.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let pruned = history::prune(&current, &kept, now_ms, rules).map_err(|e| e.of(&r, 0))?;
    let mut drop =
        tx.prepare_cached("DELETE FROM entity_versions WHERE entity_rowid = ?1 AND version = ?2")?;
    for n in &pruned.dropped {
        drop.execute(params![rowid, *n as i64])?;
    }
    let mut rewrite = tx.prepare_cached(
        "UPDATE entity_versions SET stored = ?3 WHERE entity_rowid = ?1 AND version = ?2",
    )?;
    for (n, stored) in &pruned.rewritten {
        rewrite.execute(params![rowid, *n as i64, stored])?;
    }
    Ok(pruned.dropped.len() as u64)
}

/// Whether an earlier version of `r` had `content_hash`.
pub(crate) fn held_before(tx: &Transaction<'_>, r: &EntityRef, content_hash: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM entity_versions v JOIN entities e
                            ON e.rowid = v.entity_rowid
                            WHERE e.type = ?1 AND e.id = ?2 AND v.content_hash = ?3)",
        )?
        .query_row(params![r.entity_type, r.id, content_hash], |row| row.get(0))?)
}
