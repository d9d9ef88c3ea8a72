//! The state a sync diffs against: the bases of the synced files and the entities changed
//! since (the dirty set), for the whole vault or for a few paths (a save, one note's export).
//!
//! A few paths cost a few indexed lookups each, never a pass over the vault: the plan tests
//! below hold every lookup to an index.

use brain_core::EntityRef;
use rusqlite::{OptionalExtension, Transaction};

use brain_store::{BaseStat, DirtyEntity, FileBase, FileStat, PartialSyncState, Result, SyncState};

/// A stat stored in columns `first..first + 4` (size, mtime, ctime, inode).
pub(crate) fn stat_of(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<FileStat> {
    Ok(FileStat {
        size: u64::try_from(row.get::<_, i64>(first)?).unwrap_or(0),
        mtime_ns: row.get(first + 1)?,
        ctime_ns: row.get(first + 2)?,
        inode: u64::try_from(row.get::<_, i64>(first + 3)?).unwrap_or(0),
    })
}

/// Full bases of `paths`, in chunks that stay under SQLite's parameter limit.
pub(crate) fn bases(tx: &Transaction<'_>, paths: &[&str]) -> Result<Vec<FileBase>> {
    let mut out = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT path, size, mtime_ns, ctime_ns, inode, hash, type, id FROM file_bases
             WHERE replica = 'local' AND path IN ({marks})"
        ))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(chunk.iter()), |row| {
            Ok(FileBase {
                path: row.get(0)?,
                stat: stat_of(row, 1)?,
                hash: row.get(5)?,
                entity: EntityRef::new(row.get::<_, String>(6)?, row.get::<_, String>(7)?),
            })
        })?;
        for r in rows {
            out.push(r?);
        }
    }
    Ok(out)
}

/// Every base's stat, the dirty set and the live count, from one snapshot.
/// Every dirty entity (the `entities_dirty` index).
pub(crate) fn dirty(tx: &Transaction<'_>) -> Result<Vec<DirtyEntity>> {
    let mut stmt = tx.prepare_cached(
        "SELECT type, id, path, content_hash, deleted_ms IS NOT NULL
         FROM entities WHERE dirty = 1",
    )?;
    let mut dirty = stmt
        .query_map([], dirty_of)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut moved = tx.prepare_cached(MOVED_AWAY_SQL)?;
    for d in moved.query_map([], dirty_of)? {
        dirty.push(d?);
    }
    Ok(dirty)
}

/// The files of entities moved through an interface (`brain mv`) and not yet exported: each
/// listed at its old path as deleted, so the export moves it to the trash there while it
/// writes the note at its new path (or, deleted since the move, trashes that one too).
const MOVED_AWAY_SQL: &str = "SELECT e.type, e.id, b.path, b.hash, 1
     FROM file_bases b JOIN entities e ON e.rowid = b.entity_rowid
     WHERE b.replica = 'local' AND e.dirty = 1 AND b.path <> e.path";

/// [`MOVED_AWAY_SQL`] at one path. `CROSS JOIN` keeps the base found by its path the outer
/// loop: left to itself SQLite walked every dirty entity (the `entities_dirty` index) once per
/// path, so an export of the 10,000 notes a batch changed read 10,000 × 10,000 rows in one
/// read transaction, minutes during which the worker's heartbeat could not reach the store.
pub(crate) const MOVED_AWAY_AT_SQL: &str = "SELECT e.type, e.id, b.path, b.hash, 1
     FROM file_bases b CROSS JOIN entities e ON e.rowid = b.entity_rowid
     WHERE b.replica = 'local' AND b.path = ?1 AND e.dirty = 1 AND b.path <> e.path";

fn dirty_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<DirtyEntity> {
    Ok(DirtyEntity {
        entity: EntityRef::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?),
        path: row.get(2)?,
        content_hash: row.get(3)?,
        deleted: row.get(4)?,
    })
}

/// One path's base.
pub(crate) const BASE_OF_SQL: &str = "SELECT path, size, mtime_ns, ctime_ns, inode FROM file_bases
     WHERE replica = 'local' AND path = ?1";

/// The dirty entity at one path. `+dirty`: found by its path (`entities_path`); SQLite chose
/// the `entities_dirty` index for `dirty = 1` and walked every dirty entity once per path, so
/// an export of the thousands of notes a batch changed was quadratic.
pub(crate) const DIRTY_AT_SQL: &str = "SELECT type, id, path, content_hash, deleted_ms IS NOT NULL
     FROM entities WHERE path = ?1 AND +dirty = 1";

/// Live entities by path key, and the files of synced entities by key (a file is at its base's
/// path, which an entity renamed in the store but not yet exported no longer has). Both arms
/// use the partial index `entities_live_key` (path_key of live entities): without
/// `deleted_ms IS NULL` SQLite would scan every entity once per path; and `CROSS JOIN` keeps
/// the entities found by key the outer loop (left to itself, SQLite walked every base of the
/// folder, `replica = ?` alone, once per path).
pub(crate) const SAME_KEY_SQL: &str =
    "SELECT path FROM entities WHERE path_key = ?1 AND deleted_ms IS NULL
     UNION
     SELECT b.path FROM entities e CROSS JOIN file_bases b ON b.entity_rowid = e.rowid
     WHERE e.path_key = ?1 AND e.deleted_ms IS NULL AND b.replica = 'local'";

/// The state of `paths` only: one indexed lookup per path for its base, its dirty entity and
/// the live entities and bases sharing its path key.
pub(crate) fn state_of(tx: &Transaction<'_>, paths: &[&str]) -> Result<PartialSyncState> {
    let mut base = tx.prepare_cached(BASE_OF_SQL)?;
    let mut dirty = tx.prepare_cached(DIRTY_AT_SQL)?;
    let mut same_key = tx.prepare_cached(SAME_KEY_SQL)?;
    let mut moved_at = tx.prepare_cached(MOVED_AWAY_AT_SQL)?;
    let wanted: std::collections::HashSet<&str> = paths.iter().copied().collect();
    let mut out = PartialSyncState::default();
    let mut colliding = std::collections::BTreeSet::new();
    let mut keys = std::collections::HashSet::new();
    let mut done = std::collections::HashSet::with_capacity(paths.len());
    for &p in paths {
        // A path given twice would be two bases, and the second one, with no file left to
        // pair with, a file deleted from disk.
        if !done.insert(p) {
            continue;
        }
        if let Some(b) = base
            .query_row([p], |row| {
                Ok(BaseStat {
                    path: row.get(0)?,
                    stat: stat_of(row, 1)?,
                })
            })
            .optional()?
        {
            out.state.bases.push(b);
        }
        for d in dirty.query_map([p], dirty_of)? {
            out.state.dirty.push(d?);
        }
        for d in moved_at.query_map([p], dirty_of)? {
            out.state.dirty.push(d?);
        }
        let key = brain_core::path_key(p);
        if keys.insert(key.clone()) {
            for other in same_key.query_map([&key], |row| row.get::<_, String>(0))? {
                let other = other?;
                if !wanted.contains(other.as_str()) {
                    colliding.insert(other);
                }
            }
        }
    }
    out.state.bases.sort_by(|a, b| a.path.cmp(&b.path));
    out.state.live_entities = super::listing::count_live(tx)?;
    out.colliding = colliding.into_iter().collect();
    Ok(out)
}

pub(crate) fn state(tx: &Transaction<'_>) -> Result<SyncState> {
    let mut stmt = tx.prepare_cached(
        "SELECT path, size, mtime_ns, ctime_ns, inode FROM file_bases
         WHERE replica = 'local' ORDER BY path",
    )?;
    let bases = stmt
        .query_map([], |row| {
            Ok(BaseStat {
                path: row.get(0)?,
                stat: stat_of(row, 1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(SyncState {
        bases,
        dirty: dirty(tx)?,
        live_entities: super::listing::count_live(tx)?,
    })
}

#[cfg(test)]
mod plans {
    //! A sync of a few paths reads by index only: `EXPLAIN QUERY PLAN` shows no scan of a
    //! table, which would make each saved file cost a pass over the whole vault.
    use super::{BASE_OF_SQL, DIRTY_AT_SQL, MOVED_AWAY_AT_SQL, SAME_KEY_SQL};
    use crate::SqliteStore;

    /// The steps of `EXPLAIN QUERY PLAN` for `sql` with `args`.
    fn plan_of(conn: &rusqlite::Connection, sql: &str, args: &[&str]) -> Vec<String> {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        stmt.query_map(rusqlite::params_from_iter(args), |row| {
            row.get::<_, String>(3)
        })
        .expect("plan rows")
        .collect::<rusqlite::Result<_>>()
        .expect("plan")
    }

    #[test]
    fn the_state_of_a_few_paths_is_read_by_index_only() {
        let store = SqliteStore::open_in_memory().expect("open");
        let conn = store.lock();
        for sql in [BASE_OF_SQL, DIRTY_AT_SQL, SAME_KEY_SQL] {
            let plan = plan_of(&conn, sql, &["x.md"]);
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN")),
                "{sql}: {plan:?}"
            );
            // A search on `replica` alone, or on the dirty flag, reads every base or every
            // dirty note: a scan in all but name, once per path.
            assert!(
                plan.iter()
                    .all(|step| !step.ends_with("(replica=?)") && !step.contains("entities_dirty")),
                "{sql}: {plan:?}"
            );
        }
    }

    /// A path's moved-away note is looked up from the path's base, never from the dirty set:
    /// a batch leaves thousands of notes dirty, and each path of its export would walk them all.
    #[test]
    fn a_moved_note_is_looked_up_by_its_old_path_not_among_the_dirty() {
        let store = SqliteStore::open_in_memory().expect("open");
        let conn = store.lock();
        let plan = plan_of(&conn, MOVED_AWAY_AT_SQL, &["x.md"]);
        assert!(
            plan.first()
                .is_some_and(|s| s.starts_with("SEARCH b") && s.contains("path=?")),
            "{plan:?}"
        );
        assert!(
            plan.iter().all(|step| !step.contains("entities_dirty")),
            "{plan:?}"
        );
    }

    /// The live count every partial sync reports is one row read, not a count of the live
    /// entities (7 ms a job at 100,000 notes).
    #[test]
    fn the_live_count_is_one_row_read() {
        let store = SqliteStore::open_in_memory().expect("open");
        let conn = store.lock();
        let sql = crate::fts::LIVE_COUNT_SQL;
        let plan = plan_of(&conn, sql, &[]);
        assert!(
            plan.iter().all(|step| step.starts_with("SEARCH")),
            "{sql}: {plan:?}"
        );
    }
}
