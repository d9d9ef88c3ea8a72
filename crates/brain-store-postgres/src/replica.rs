//! The vault folders attached to a store (`replicas`). Until replicas (issue 18) a store has
//! one folder: a second `brain init --store` against a store that has one is refused, saying
//! which folder it is, rather than letting two folders overwrite each other's file bases.

use brain_store::{Result, StoreError};

use crate::PgStore;
use crate::db::get;

/// Why a folder cannot be attached.
#[derive(Debug, thiserror::Error)]
#[error(
    "the store {database} already belongs to the vault folder {root} on {host}: one store \
     holds one vault folder for now (attaching more is coming with replicas); use another \
     database for this folder, or `brain init` without --store for an embedded SQLite store"
)]
pub struct AlreadyAttached {
    /// The database, without its password.
    pub database: String,
    /// The folder it belongs to.
    pub root: String,
    /// Its machine.
    pub host: String,
}

impl PgStore {
    /// Records `root` on `host` as this store's vault folder (replica id
    /// [`crate::DEFAULT_REPLICA`]); the same folder again changes nothing. Another folder is
    /// refused with [`AlreadyAttached`] inside a [`StoreError::Database`].
    pub fn attach(&self, root: &str, host: &str, now_ms: i64) -> Result<()> {
        let replica = self.replica.clone();
        let database = self.shown().to_string();
        self.pool.write(|db| {
            db.execute("LOCK TABLE replicas IN EXCLUSIVE MODE", &[])?;
            let attached = db.query_opt(
                "SELECT id, root, host FROM replicas ORDER BY id LIMIT 1",
                &[],
            )?;
            if let Some(row) = attached {
                let (id, r, h): (String, String, String) =
                    (get(&row, 0)?, get(&row, 1)?, get(&row, 2)?);
                if id == replica && r == root && h == host {
                    return Ok(());
                }
                return Err(StoreError::Database(Box::new(AlreadyAttached {
                    database: database.clone(),
                    root: r,
                    host: h,
                })));
            }
            db.execute(
                "INSERT INTO replicas (id, root, host, created_ms) VALUES ($1, $2, $3, $4)",
                &[&replica, &root, &host, &now_ms],
            )?;
            db.execute(
                "INSERT INTO replica_cursors (replica) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&replica],
            )?;
            Ok(())
        })
    }
}
