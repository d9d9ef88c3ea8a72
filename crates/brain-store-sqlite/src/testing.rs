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

/// A store at `path` (created if missing) and a handle that counts the file bases it reads, for
/// tests that partial work reads only what it touches.
pub fn counting_base_reads(path: &Path) -> Result<(Arc<dyn Backend>, BaseReads)> {
    let store = Arc::new(SqliteStore::open(path)?);
    Ok((store.clone(), BaseReads(store)))
}

/// Counts the file bases a store has read (see [`counting_base_reads`]).
pub struct BaseReads(Arc<SqliteStore>);

impl BaseReads {
    /// Bases read since the store was opened.
    pub fn count(&self) -> u64 {
        self.0.base_reads()
    }
}

#[cfg(test)]
mod tests {
    use brain_store::StoreError;

    use super::*;

    /// `existing` is how tests open a vault's store as commands do: a missing store is
    /// `Missing` and stays missing, while `at` creates it, and `existing` then opens it.
    #[test]
    fn existing_never_creates_a_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("brain.db");
        let config = StoreConfig::default();
        assert!(matches!(
            existing(&path, &config).err(),
            Some(StoreError::Missing { .. })
        ));
        assert!(!path.exists(), "existing() created {}", path.display());
        at(&path).expect("at() creates the store");
        let store = existing(&path, &config).expect("existing() opens it");
        assert!(!store.is_read_only());
    }
}
