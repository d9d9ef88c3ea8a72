//! Schema versions: SQL files compiled into the binary, applied in order on open.
//!
//! The version is SQLite's own `PRAGMA user_version`, so there is no bookkeeping table to get
//! out of step. Each migration runs in its own transaction together with the version bump: a
//! crash leaves the database at the previous version, never half-way. The file numbers match the
//! PostgreSQL folder's, so one number names one schema on every backend.

use rusqlite::{Connection, TransactionBehavior};

use brain_store::{Result, StoreError};

/// Every migration, in order; the database's `user_version` is how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_jobs.sql"),
    include_str!("../migrations/0003_live.sql"),
    include_str!("../migrations/0004_path_key.sql"),
    include_str!("../migrations/0005_progress_phase.sql"),
    include_str!("../migrations/0006_change_feed.sql"),
    include_str!("../migrations/0007_schedules.sql"),
    include_str!("../migrations/0008_change_feed_in_code.sql"),
    include_str!("../migrations/0009_live_count.sql"),
    include_str!("../migrations/0010_replica_keys.sql"),
    include_str!("../migrations/0011_history.sql"),
];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Applies the migrations the database has not seen yet. `shown` names the database in errors.
///
/// A database already up to date is only read, so opening never waits for another process's
/// write. Otherwise the version is read again inside each write transaction: two processes
/// opening a fresh vault at once then run each migration once, the second finding it done.
pub(crate) fn run(conn: &mut Connection, shown: &str) -> Result<()> {
    let open_err = |source: rusqlite::Error| StoreError::Open {
        path: shown.to_string(),
        source: Box::new(source),
    };
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(open_err)?;
    if found == LATEST {
        return Ok(());
    }
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(open_err)?;
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_err)?;
        if found > LATEST {
            return Err(StoreError::TooNew {
                path: shown.to_string(),
                found,
                supported: LATEST,
            });
        }
        let Some(sql) = usize::try_from(found).ok().and_then(|i| MIGRATIONS.get(i)) else {
            return Ok(());
        };
        tx.execute_batch(sql).map_err(open_err)?;
        tx.pragma_update(None, "user_version", found + 1)
            .map_err(open_err)?;
        tx.commit().map_err(open_err)?;
        tracing::debug!(database = shown, version = found + 1, "applied migration");
    }
}
