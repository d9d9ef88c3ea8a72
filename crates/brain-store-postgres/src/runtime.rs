//! Runtime state: small JSON documents a process publishes under a key for other processes to
//! read (the daemon's state for `brain status`), one row per replica and key.

use serde_json::Value;

use crate::db::{Db, get};
use brain_store::{Result, RuntimeState};

/// [`brain_store::Store::set_runtime_state`]: an upsert, so publishing never grows the table.
pub(crate) fn set(
    db: &mut Db<'_>,
    replica: &str,
    key: &str,
    value: &Value,
    now_ms: i64,
) -> Result<()> {
    db.execute(
        "INSERT INTO runtime_state (replica, key, value, updated_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (replica, key) DO UPDATE SET value = excluded.value,
             updated_ms = excluded.updated_ms",
        &[&replica, &key, &serde_json::to_string(value)?, &now_ms],
    )?;
    Ok(())
}

/// [`brain_store::Store::runtime_state`].
pub(crate) fn get_state(db: &mut Db<'_>, replica: &str, key: &str) -> Result<Option<RuntimeState>> {
    let row = db.query_opt(
        "SELECT value, updated_ms FROM runtime_state WHERE replica = $1 AND key = $2",
        &[&replica, &key],
    )?;
    row.map(|row| {
        let value: String = get(&row, 0)?;
        Ok(RuntimeState {
            value: serde_json::from_str(&value)?,
            updated_ms: get(&row, 1)?,
        })
    })
    .transpose()
}
