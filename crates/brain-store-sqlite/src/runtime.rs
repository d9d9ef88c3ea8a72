//! Runtime state (`runtime_state`, migration 0003; keyed by replica since 0010, this store's
//! only replica being `local`): small JSON documents a process publishes under a key for other
//! processes to read, such as the daemon's watcher state for `brain status`. One upserted row
//! per key; the value is stored as JSON text.

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::Value;

use brain_store::{Result, RuntimeState};

/// [`brain_store::Store::set_runtime_state`]: an upsert, so publishing never grows the table.
pub(super) fn set(tx: &Transaction<'_>, key: &str, value: &Value, now_ms: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO runtime_state (replica, key, value, updated_ms) VALUES ('local', ?1, ?2, ?3)
         ON CONFLICT (replica, key) DO UPDATE SET value = excluded.value,
             updated_ms = excluded.updated_ms",
    )?
    .execute(params![key, serde_json::to_string(value)?, now_ms])?;
    Ok(())
}

/// [`brain_store::Store::runtime_state`]; a value that is not JSON is [`brain_store::StoreError::Json`].
pub(super) fn get(tx: &Transaction<'_>, key: &str) -> Result<Option<RuntimeState>> {
    let row = tx
        .prepare_cached(
            "SELECT value, updated_ms FROM runtime_state WHERE replica = 'local' AND key = ?1",
        )?
        .query_row([key], |row| Ok((row.get::<_, String>(0)?, row.get(1)?)))
        .optional()?;
    row.map(|(value, updated_ms)| {
        Ok(RuntimeState {
            value: serde_json::from_str(&value)?,
            updated_ms,
        })
    })
    .transpose()
}
