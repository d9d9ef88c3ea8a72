//! The one place the binary picks a store backend. Everything past here holds an
//! `Arc<dyn Backend>` (the `Brain` facade, the job queue, the sync and git handlers, `brain
//! doctor`) and never learns which backend it is; `scripts/test` checks that no
//! other file of the binary (`brain-bench` opens its own scratch SQLite stores, as a
//! benchmark of that backend), the facade, the plugins or the interfaces names a backend type.
//!
//! `[store] backend` says which one a vault uses: SQLite, the embedded default (one file in
//! `.brain/`), or PostgreSQL (`store.url`, the schema created on first use).

use std::path::Path;
use std::sync::Arc;

use brain_core::config::{StoreBackend, StoreConfig};
use brain_store::{Backend, StoreError};
use brain_store_postgres::{ConnectOptions, PgStore, connect};
use brain_store_sqlite::SqliteStore;

/// Opens the store of an initialized vault. A missing store is refused with how to recover,
/// never replaced by a new, empty one; one this user cannot write is opened read-only.
pub fn open_existing(
    database: &Path,
    config: &StoreConfig,
) -> Result<Arc<dyn Backend>, StoreError> {
    match config.backend {
        StoreBackend::Sqlite => Ok(Arc::new(SqliteStore::open_existing(database, config)?)),
        StoreBackend::Postgres => Ok(Arc::new(open_postgres(config)?)),
    }
}

/// Creates the store of a new vault (`brain init`, `brain doctor --rebuild`); refuses where one
/// (or what a deleted one left) is already there. On PostgreSQL the vault folder is attached to
/// the database, and a database that already has another folder is refused.
pub fn create(database: &Path, config: &StoreConfig) -> Result<Arc<dyn Backend>, StoreError> {
    match config.backend {
        StoreBackend::Sqlite => Ok(Arc::new(SqliteStore::create(database, config)?)),
        StoreBackend::Postgres => {
            let store = open_postgres(config)?;
            // `.brain/brain.db` is where a SQLite store would be: its folder is the vault's.
            let root = database
                .parent()
                .and_then(Path::parent)
                .unwrap_or(database)
                .display()
                .to_string();
            store.attach(&root, &hostname(), brain_core::time::now_ms())?;
            Ok(Arc::new(store))
        }
    }
}

/// Opens a store only to read it (an old store set aside by `brain doctor --rebuild`).
pub fn open_read_only(
    database: &Path,
    config: &StoreConfig,
) -> Result<Arc<dyn Backend>, StoreError> {
    match config.backend {
        StoreBackend::Sqlite => Ok(Arc::new(SqliteStore::open_read_only(database)?)),
        StoreBackend::Postgres => Ok(Arc::new(open_postgres(config)?)),
    }
}

/// Opens a PostgreSQL store from a URL, with no vault folder (`brain work --store`, `brain
/// store copy`). A URL with a password is refused: see [`connect::refuse_password`].
pub fn open_url(url: &str) -> Result<Arc<dyn Backend>, StoreError> {
    connect::refuse_password(url)?;
    let options = ConnectOptions::parse(url)?;
    Ok(Arc::new(PgStore::open(&options)?))
}

/// Whether `spec` names a PostgreSQL database rather than a folder or file.
pub fn is_postgres_url(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

fn open_postgres(config: &StoreConfig) -> Result<PgStore, StoreError> {
    let url = config
        .url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            StoreError::Database(
                "store.backend is \"postgres\" but store.url is not set: give the database as \
             url = \"postgres://USER@HOST/DB\" under [store] in .brain/config.toml"
                    .into(),
            )
        })?;
    connect::refuse_password(url)?;
    PgStore::open(&ConnectOptions::parse(url)?)
}

/// This machine's name, for the folder a store is attached to.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this machine".into())
}
