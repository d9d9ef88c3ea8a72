//! Whether a `brain serve` holds a vault: `.brain/serve.lock`, locked by the daemon for as long
//! as it lives (the kernel releases the lock when the process dies, even by SIGKILL), with its
//! pid written inside for people and `brain status`.
//!
//! Commands that need work done ask [`running`]: with a daemon, they only enqueue and follow
//! (its workers run the job); without one, they run a worker themselves.
//!
//! A long-lived process (`brain serve`, `brain mcp`) also checks, with [`Bearings`], that the
//! vault folder, its `.brain/` and its store file are still the ones it started on, and stops
//! naming the one that changed (issue 13).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use brain_store::StoreError;
use brain_sync::watch::{RootChanged, VaultRoot};

use crate::config::VaultPaths;

/// The runtime-state key under which the daemon publishes what it is doing.
pub const STATE_KEY: &str = brain_api::SERVE_STATE_KEY;

fn lock_path(paths: &VaultPaths) -> std::path::PathBuf {
    paths.layout.serve_lock()
}

/// The daemon's hold on a vault; dropping it (or the process ending) releases the vault.
pub struct DaemonLock {
    _file: File,
}

/// Takes the vault for this process, or says which process has it.
pub fn acquire(paths: &VaultPaths) -> Result<DaemonLock> {
    let path = lock_path(paths);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // Other commands check for a daemon by taking the lock shared for an instant: a start that
    // meets such a check tries again for a moment before deciding a daemon is there.
    let mut tries = 0;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if tries < 20 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return refused(paths, &mut file, e),
        }
    }
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    write!(file, "{}", std::process::id())?;
    file.flush()?;
    Ok(DaemonLock { _file: file })
}

/// Why `acquire` could not take the vault.
fn refused(paths: &VaultPaths, file: &mut File, e: std::fs::TryLockError) -> Result<DaemonLock> {
    match e {
        std::fs::TryLockError::WouldBlock => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            bail!(
                "another `brain serve` (pid {}) already serves {}: stop it first, or use it \
                 (commands run against this vault enqueue work for it)",
                pid.trim(),
                paths.root.display()
            );
        }
        std::fs::TryLockError::Error(e) => {
            Err(e).with_context(|| format!("cannot lock {}", lock_path(paths).display()))
        }
    }
}

/// The pid of the `brain serve` holding this vault, if one does.
pub fn running(paths: &VaultPaths) -> Option<u32> {
    brain_api::daemon_pid(&paths.root)
}

/// Where a long-lived process started: its vault folder (with its `.brain/`) and its store
/// file. A store file gone because its vault folder moved is reported as the folder moved, not
/// as a store deleted, since the advice differs (serve it where it is now vs. rebuild it).
pub struct Bearings {
    folder: VaultRoot,
    store: Arc<dyn brain_store::Backend>,
}

/// What changed under a long-lived process, as found by [`Bearings::check`].
#[derive(Debug)]
pub enum Lost {
    /// The vault folder, or its `.brain/`, is not the one it started on.
    Folder(RootChanged),
    /// The vault folder is, but its store file was deleted or replaced.
    Store(StoreError),
}

impl Lost {
    /// The error a process stopped by it fails with: `who` (`brain serve`) stopped, and why.
    pub fn into_error(self, who: &str) -> anyhow::Error {
        match self {
            Lost::Folder(e) => anyhow::Error::new(e),
            Lost::Store(e) => anyhow::Error::new(e),
        }
        .context(format!("{who} stopped"))
    }
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lost::Folder(e) => e.fmt(f),
            Lost::Store(e) => e.fmt(f),
        }
    }
}

impl Bearings {
    /// Records the vault folder at `root` as it is now, beside the store this process opened.
    pub fn capture(root: &Path, store: Arc<dyn brain_store::Backend>) -> Result<Self> {
        let folder = VaultRoot::capture(root)
            .with_context(|| format!("cannot read the vault folder {}", root.display()))?;
        Ok(Self { folder, store })
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
