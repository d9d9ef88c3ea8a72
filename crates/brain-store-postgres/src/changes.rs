//! The change feed (`Store::changes_since`) on a server where writers commit in any order.
//!
//! A change is recorded ([`record`]) with no number, marked with its transaction's id. Just
//! before the transaction commits, [`number_pending`] takes a transaction-level advisory lock,
//! held until the commit, and numbers the transaction's changes from a sequence. A second
//! writer numbering its changes waits for the first to commit, so numbers become visible in
//! order: a reader that read up to N never later meets a change numbered below N, whatever
//! order the transactions ran in. Only the numbering step is serialized, not the writes.

use brain_core::EntityRef;

use crate::db::{Db, get};
use brain_store::{Change, ChangePage, Result};

/// The advisory lock numbering holds until its transaction commits ("brainfed" in ASCII).
const FEED_LOCK: i64 = 0x6272_6169_6e66_6564;

/// Records a change of the entity `row_id` in this transaction (numbered at its end).
pub(crate) fn record(db: &mut Db<'_>, row_id: i64) -> Result<()> {
    db.execute(
        "INSERT INTO entity_changes (entity_id, seq, pending) VALUES ($1, NULL, txid_current())
         ON CONFLICT (entity_id) DO UPDATE SET seq = NULL, pending = excluded.pending",
        &[&row_id],
    )?;
    db.changed = true;
    Ok(())
}

/// Numbers this transaction's changes, last thing before its commit (see the module doc), and
/// tells the other store handles at commit (`NOTIFY`, marked with `token`): a daemon of another
/// folder reads the feed on at once instead of at its next poll.
pub(crate) fn number_pending(db: &mut Db<'_>, token: &str) -> Result<()> {
    db.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
    db.execute(
        "UPDATE entity_changes c SET seq = n.seq, pending = NULL
         FROM (SELECT entity_id, nextval('change_seq') AS seq
               FROM (SELECT entity_id FROM entity_changes
                     WHERE pending = txid_current() ORDER BY entity_id) p) n
         WHERE c.entity_id = n.entity_id",
        &[],
    )?;
    crate::jobs::notify(db, token)
}

/// Entities changed after `cursor`, oldest change first, at most `limit`.
pub(crate) fn since(db: &mut Db<'_>, cursor: u64, limit: usize) -> Result<ChangePage> {
    let cursor_sql = i64::try_from(cursor).unwrap_or(i64::MAX);
    let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = db.query(
        "SELECT c.seq, e.type, e.id, e.path, e.content_hash, e.deleted_ms IS NOT NULL,
                e.updated_ms
         FROM entity_changes c JOIN entities e ON e.row_id = c.entity_id
         WHERE c.seq > $1
         ORDER BY c.seq
         LIMIT $2",
        &[&cursor_sql, &limit_sql],
    )?;
    let changes = rows
        .iter()
        .map(|row| {
            Ok(Change {
                seq: u64::try_from(get::<i64>(row, 0)?).unwrap_or_default(),
                entity: EntityRef::new(get::<String>(row, 1)?, get::<String>(row, 2)?),
                path: get(row, 3)?,
                content_hash: get(row, 4)?,
                deleted: get(row, 5)?,
                updated_ms: get(row, 6)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let next = changes.last().map_or(cursor, |c| c.seq);
    Ok(ChangePage { changes, next })
}

/// The highest number visible now (0 before any change).
pub(crate) fn cursor(db: &mut Db<'_>) -> Result<u64> {
    let row = db.query_one(
        "SELECT coalesce(max(seq), 0)::bigint FROM entity_changes",
        &[],
    )?;
    Ok(u64::try_from(get::<i64>(&row, 0)?).unwrap_or_default())
}
