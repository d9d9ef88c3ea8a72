//! The one factory other crates' tests use for a store: a fresh SQLite store behind the
//! backend-neutral `Arc<dyn Backend>`, so a test written against it runs on whichever backend
//! this factory returns (PostgreSQL will offer the same two calls).

use std::path::Path;
use std::sync::Arc;

use brain_core::config::StoreConfig;
use brain_store::{Backend, Result};

use crate::SqliteStore;

/// A private store in memory, gone when the last handle is dropped.
pub fn in_memory() -> Result<Arc<dyn Backend>> {
    Ok(Arc::new(SqliteStore::open_in_memory()?))
}

/// A store in the database file at `path`, created if it is not there.
pub fn at(path: &Path) -> Result<Arc<dyn Backend>> {
    Ok(Arc::new(SqliteStore::open(path)?))
}

/// The vault store at `path` opened as every command opens it: never created (a missing file
/// is [`brain_store::StoreError::Missing`]), read-only when it cannot be written. For tests
/// that check what a command finds after deleting, damaging or locking a vault's store, where
/// [`at`] would quietly create a new one.
pub fn existing(path: &Path, config: &StoreConfig) -> Result<Arc<dyn Backend>> {
    Ok(Arc::new(SqliteStore::open_existing(path, config)?))
}
