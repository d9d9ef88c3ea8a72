//! Writes to the full-text index, which holds the title and body of every LIVE entity.
//!
//! The index is written here rather than by triggers (see the migration for why: triggers made
//! FTS5 flush at every statement). The invariant every caller keeps: a live row's current
//! title and body are indexed under its rowid, and nothing else is. FTS5's external-content
//! 'delete' must be given exactly the text that was indexed, which is the row's text as long
//! as it is removed before the row changes.

use rusqlite::{Transaction, params};

use brain_store::Result;

/// Indexes `title` and `body` under `rowid`.
pub(crate) fn add(tx: &Transaction<'_>, rowid: i64, title: &str, body: &str) -> Result<()> {
    tx.prepare_cached("INSERT INTO entity_fts (rowid, title, body) VALUES (?1, ?2, ?3)")?
        .execute(params![rowid, title, body])?;
    Ok(())
}

/// Removes `rowid`, indexed with exactly `title` and `body`, from the index.
pub(crate) fn remove(tx: &Transaction<'_>, rowid: i64, title: &str, body: &str) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO entity_fts (entity_fts, rowid, title, body) VALUES ('delete', ?1, ?2, ?3)",
    )?
    .execute(params![rowid, title, body])?;
    Ok(())
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
/// rank 1 compares it with its content view). A mismatch is reported as an SQLite corruption
/// error.
pub(crate) fn check(tx: &Transaction<'_>) -> Result<()> {
    tx.execute(
        "INSERT INTO entity_fts (entity_fts, rank) VALUES ('integrity-check', 1)",
        [],
    )?;
    Ok(())
}
