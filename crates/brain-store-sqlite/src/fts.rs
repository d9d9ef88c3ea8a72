//! Writes to the full-text index, which holds the title and body of every LIVE entity.
//!
//! The index is written here rather than by triggers (see the migration for why: triggers made
//! FTS5 flush at every statement). The invariant every caller keeps: a live row's current
//! title and body are indexed under its rowid, and nothing else is. FTS5's external-content
//! 'delete' must be given exactly the text that was indexed, which is the row's text as long
//! as it is removed before the row changes.
//!
//! The index holds the live entities, so adding a row to it or removing one also moves the
//! live count (table `live_count`, migration 0009) by one, in the same transaction: counting
//! the live entities is then one row read, not a pass over 100,000 index entries on every sync
//! of a saved file.

use rusqlite::{Transaction, params};

use brain_store::{Result, StoreError};

/// Indexes `title` and `body` under `rowid`.
pub(crate) fn add(tx: &Transaction<'_>, rowid: i64, title: &str, body: &str) -> Result<()> {
    tx.prepare_cached("INSERT INTO entity_fts (rowid, title, body) VALUES (?1, ?2, ?3)")?
        .execute(params![rowid, title, body])?;
    count_live(tx, 1)
}

/// Removes `rowid`, indexed with exactly `title` and `body`, from the index.
pub(crate) fn remove(tx: &Transaction<'_>, rowid: i64, title: &str, body: &str) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO entity_fts (entity_fts, rowid, title, body) VALUES ('delete', ?1, ?2, ?3)",
    )?
    .execute(params![rowid, title, body])?;
    count_live(tx, -1)
}

/// Moves the live count by `delta`. By rowid, so the statement writes one row and needs no
/// statement journal (whose savepoint would make FTS5 flush its pending terms).
fn count_live(tx: &Transaction<'_>, delta: i64) -> Result<()> {
    tx.prepare_cached("UPDATE live_count SET live = live + ?1 WHERE id = 1")?
        .execute([delta])?;
    Ok(())
}

/// Reads the live count: one row by its key.
pub(crate) const LIVE_COUNT_SQL: &str = "SELECT live FROM live_count WHERE id = 1";

/// The number of live entities, as the index writes above keep it.
pub(crate) fn live_count(tx: &Transaction<'_>) -> Result<u64> {
    let n: i64 = tx
        .prepare_cached(LIVE_COUNT_SQL)?
        .query_row([], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The title and body currently stored for `rowid` (what the index holds if it is live).
pub(crate) fn stored_text(tx: &Transaction<'_>, rowid: i64) -> Result<(String, String)> {
    Ok(tx
        .prepare_cached("SELECT title, body FROM entities WHERE rowid = ?1")?
        .query_row([rowid], |row| Ok((row.get(0)?, row.get(1)?)))?)
}

/// Indexes the row as it is stored now (it has just become live).
pub(crate) fn add_stored(tx: &Transaction<'_>, rowid: i64) -> Result<()> {
    let (title, body) = stored_text(tx, rowid)?;
    add(tx, rowid, &title, &body)
}

/// Removes a live row from the index before it is tombstoned.
pub(crate) fn remove_stored(tx: &Transaction<'_>, rowid: i64) -> Result<()> {
    let (title, body) = stored_text(tx, rowid)?;
    remove(tx, rowid, &title, &body)
}

/// Checks that the index holds exactly the live entities' text (FTS5 'integrity-check' with
/// rank 1 compares it with its content view), reported as an SQLite corruption error, and that
/// the live count is the real one, reported as a [`StoreError::Database`] that gives both.
pub(crate) fn check(tx: &Transaction<'_>) -> Result<()> {
    tx.execute(
        "INSERT INTO entity_fts (entity_fts, rank) VALUES ('integrity-check', 1)",
        [],
    )?;
    let counted: i64 = tx.query_row(
        "SELECT count(*) FROM entities WHERE deleted_ms IS NULL",
        [],
        |row| row.get(0),
    )?;
    let kept = live_count(tx)?;
    if u64::try_from(counted).ok() != Some(kept) {
        return Err(StoreError::Database(
            format!(
                "the store's live-note count says {kept} but {counted} notes are live: the \
                 count drifted from the notes; run `brain doctor --rebuild` to build a new \
                 store from the note files"
            )
            .into(),
        ));
    }
    Ok(())
}

/// Pages of merged index one [`merge_step`] writes at most (FTS5's own automerge writes 64 per
/// level): a few milliseconds of work, so a save that arrives meanwhile waits little.
const MERGE_PAGES: i64 = 256;

/// One step of the merges FTS5 defers: merges continue only where a merge is already started
/// or a level holds `usermerge` segments (a positive `merge` argument), so an index with
/// nothing to do costs one statement. Whether more work is left: FTS5 documents fewer than two
/// changes as "nothing was left to merge".
pub(crate) fn merge_step(tx: &rusqlite::Transaction<'_>) -> Result<bool> {
    let before = tx.total_changes();
    tx.execute(
        "INSERT INTO entity_fts (entity_fts, rank) VALUES ('merge', ?1)",
        [MERGE_PAGES],
    )?;
    Ok(tx.total_changes() - before >= 2)
}
