//! Where a long-lived process (`brain serve`, `brain mcp`) started: its vault folder (with its
//! `.brain/`) and its store file, checked every tick so that a vault moved, deleted or replaced
//! under it stops it, naming the one that changed, before anything is written to the wrong
//! place.

use std::path::Path;
use std::sync::Arc;

use brain_store::{Backend, StoreError};

use super::root::{RootChanged, VaultRoot};

/// The vault folder and store a process started on. A store file gone because its vault
/// folder moved is reported as the folder moved, not as a store deleted, since the advice
/// differs (serve it where it is now vs. rebuild it).
pub struct Bearings {
    folder: VaultRoot,
    store: Arc<dyn Backend>,
}

/// What changed under a long-lived process, as found by [`Bearings::check`].
#[derive(Debug, thiserror::Error)]
pub enum Lost {
    /// The vault folder, or its `.brain/`, is not the one it started on.
    #[error(transparent)]
    Folder(RootChanged),
    /// The vault folder is, but its store file was deleted or replaced.
    #[error(transparent)]
    Store(StoreError),
}

impl Bearings {
    /// Records the vault folder at `root` as it is now, beside the store this process opened.
    pub fn capture(root: &Path, store: Arc<dyn Backend>) -> std::io::Result<Self> {
        Ok(Self {
            folder: VaultRoot::capture(root)?,
            store,
        })
    }

    /// `Ok` while nothing changed; otherwise the change, named by its root cause: the folder
    /// is checked first, and again when the store check fails, since moving the vault makes
    /// its store look deleted. A few `stat`s: cheap enough for every quarter second.
    pub fn check(&self) -> Result<(), Lost> {
        self.folder.check().map_err(Lost::Folder)?;
        self.store.verify_identity().map_err(|lost| {
            self.folder
                .check()
                .err()
                .map_or(Lost::Store(lost), Lost::Folder)
        })
    }

    /// The change to report once the process has stopped: the folder as it is now, if it still
    /// differs (a `.brain/` moved away and then copied back is reported as replaced, not as
    /// removed), else what was `first` found.
    pub fn settle(&self, first: Lost) -> Lost {
        match self.folder.check() {
            Err(now) => Lost::Folder(now),
            Ok(()) => first,
        }
    }
}
