//! The one place the binary picks a store backend. Everything past here holds an
//! `Arc<dyn Backend>` (the `Brain` facade, the job queue, the sync and git handlers, `brain
//! doctor`) and never learns which backend it is; `scripts/test` checks that no
//! other file of the binary (`brain-bench` opens its own scratch SQLite stores, as a
//! benchmark of that backend), the facade, the plugins or the interfaces names a backend type.
//!
//! `[store] backend` says which one a vault uses; this build has SQLite, the embedded default.

use std::path::Path;
use std::sync::Arc;

use brain_core::config::{StoreBackend, StoreConfig};
use brain_store::{Backend, StoreError};
use brain_store_sqlite::SqliteStore;

/// Opens the store of an initialized vault. A missing store is refused with how to recover,
/// never replaced by a new, empty one; one this user cannot write is opened read-only.
pub fn open_existing(
    database: &Path,
    config: &StoreConfig,
) -> Result<Arc<dyn Backend>, StoreError> {
    match config.backend {
        StoreBackend::Sqlite => Ok(Arc::new(SqliteStore::open_existing(database, config)?)),
    }
}

/// Creates the store of a new vault (`brain init`, `brain doctor --rebuild`); refuses where one
/// (or what a deleted one left) is already there.
pub fn create(database: &Path, config: &StoreConfig) -> Result<Arc<dyn Backend>, StoreError> {
    match config.backend {
        StoreBackend::Sqlite => Ok(Arc::new(SqliteStore::create(database, config)?)),
    }
}

/// Opens a store only to read it (an old store set aside by `brain doctor --rebuild`).
pub fn open_read_only(
    database: &Path,
    config: &StoreConfig,
) -> Result<Arc<dyn Backend>, StoreError> {
    match config.backend {
        StoreBackend::Sqlite => Ok(Arc::new(SqliteStore::open_read_only(database)?)),
    }
}
