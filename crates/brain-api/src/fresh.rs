//! Freshness: answering from the store only what the files still say.
//!
//! The store is a copy of the vault's files, brought up to date by a sync. Three callers need
//! to know how far that copy may be behind:
//! - a long-lived session (`brain mcp`, the daemon's `/mcp`) imports the paths its own watcher
//!   reported before it answers ([`Brain::import_now`]), so an agent never reads a note a
//!   person has since saved;
//! - a compare-and-set write checks the file on disk as well as the store
//!   ([`Brain::disk_version`]), so it is refused as stale when the file moved on, instead of
//!   being acknowledged and then landing in a conflict copy at export;
//! - a one-shot read (`brain get`, `search`, `list`) with no daemon says when what it answers
//!   may be older than the files ([`Brain::stale_hint`]).

use std::sync::Arc;
use std::time::Duration;

use crate::directory::{DirectorySync, DiskVersion, ImportNow};
use crate::{Brain, BrainError, Expect, daemon_pid};

impl Brain {
    /// The directory-sync plugin's side of the facade, or why this facade has none.
    pub(crate) fn sync(&self) -> Result<Arc<dyn DirectorySync>, BrainError> {
        Ok(self
            .capabilities
            .get::<Arc<dyn DirectorySync>>(crate::directory::CAPABILITY)?)
    }

    /// Whether the store was opened read-only (its file or `.brain/` is not writable): reads
    /// answer from it as it is, and nothing can be imported into it.
    pub fn store_read_only(&self) -> bool {
        self.store.is_read_only()
    }

    /// Imports `paths` (vault-relative, `/`-separated; anything that is not a note is skipped
    /// as a sync would skip it), or the whole vault when `whole`, now, in this process: both
    /// directions for those paths, exactly as the daemon's `directory-import` job does, so an
    /// edit on both sides is settled as a conflict. Holds `.brain/sync.lock` like every sync,
    /// waiting for it at most `wait`; a file the store already has (same stat) costs one `stat`.
    ///
    /// Not a queued job: a session about to answer an agent must not wait out a debounce or a
    /// queue, and its answer must come after the import.
    pub fn import_now(
        &self,
        paths: &[String],
        whole: bool,
        wait: Duration,
    ) -> Result<ImportNow, BrainError> {
        if !whole && paths.is_empty() {
            return Ok(ImportNow::Imported(Box::default()));
        }
        self.sync()?.import_now(paths, whole, wait)
    }

    /// The file at vault-relative `path` when it is not what the store last synced there, or
    /// `None` when it is (its stat equals the base's, or there is neither file nor base). Costs
    /// one `stat` and one base lookup; the file is read and hashed only when its stat moved.
    pub fn disk_version(&self, path: &str) -> Result<Option<DiskVersion>, BrainError> {
        self.sync()?.disk_version(path)
    }

    /// Why an answer read from the store about the notes at `paths` (vault-relative) may be
    /// older than the files, in one sentence with the fix, or `None` when nothing says so. For
    /// one-shot readers with no watcher (`brain get`, `search`, `list`).
    ///
    /// What it can tell, cheaply (a `stat` per path and per folder, one base lookup; a
    /// folder's entries only when its time moved since the last sync): a file of `paths`
    /// edited, replaced or removed since it was synced, and a note added (or renamed) in the
    /// vault's top folder, in a folder of `paths`, or in a new folder under them. It says
    /// nothing for entries that are not notes a sync imports (dot files and folders, other
    /// files, `.brainignore`d paths). It cannot tell a note edited in place or added elsewhere
    /// in the vault: only a sync, or a running `brain serve`, sees those. With a daemon serving the vault, nothing is said:
    /// its watcher imports changes as they happen. A read-only store always says so, since
    /// nothing can be imported into it.
    pub fn stale_hint(&self, paths: &[&str]) -> Option<String> {
        if self.store_read_only() {
            return Some(
                "the store is read-only (.brain/ or brain.db cannot be written), so this answer \
                 is what it held at its last sync and may be stale: files changed since then \
                 cannot be imported; make .brain/ writable and run `brain sync`"
                    .into(),
            );
        }
        if daemon_pid(&self.root).is_some() {
            return None;
        }
        self.sync()
            .ok()?
            .stale_hint(paths)
            .or_else(|| self.behind_hint())
    }

    /// On a store several folders share: that this folder's files are older than the store
    /// on notes other folders changed (the answer is the store's newer text), with the fix.
    fn behind_hint(&self) -> Option<String> {
        let replicas = self.store.replicas().ok()?;
        if replicas.len() < 2 {
            return None;
        }
        let this = replicas.into_iter().find(|r| r.this)?;
        (this.behind > 0).then(|| {
            format!(
                "this folder's files are behind the store on {} note(s) (changed in another \
                 folder, or through brain, and not written here yet): this answer is the \
                 store's, newer than those files; `brain sync` (or a running `brain serve`) \
                 writes them",
                this.behind
            )
        })
    }

    /// Refuses `action` (an edit, a revert, a move: changes built on the store's copy of a
    /// note) when the note's file at `path` holds other text than `current_hash` since the
    /// last sync, or is gone from disk (unless `gone_is_fine`, as for a move): the person's
    /// edit is newer than the copy the change was made on.
    pub(crate) fn require_synced_file(
        &self,
        r: &brain_core::EntityRef,
        path: &str,
        current_hash: &str,
        action: crate::error::ChangeKind,
        gone_is_fine: bool,
    ) -> Result<(), BrainError> {
        let deleted = match self.disk_version(path)? {
            None => return Ok(()),
            Some(DiskVersion::Changed(d) | DiskVersion::Unknown(d)) if d == current_hash => {
                return Ok(());
            }
            // The file holds what the store holds now: another writer's change, exported
            // since `current_hash` was read, not a person's edit. Stale, so an edit reads again.
            Some(DiskVersion::Changed(d) | DiskVersion::Unknown(d))
                if self.store.get(r).is_ok_and(|now| now.content_hash == d) =>
            {
                return Err(BrainError::Stale {
                    entity: r.to_string(),
                    expected: current_hash.to_string(),
                    actual: d,
                });
            }
            Some(DiskVersion::Gone) if gone_is_fine => return Ok(()),
            Some(DiskVersion::Gone) => true,
            Some(_) => false,
        };
        Err(BrainError::FileEdited {
            entity: r.to_string(),
            path: path.to_string(),
            deleted,
            action,
        })
    }

    /// Refuses a careful write (`expect` a hash, or nothing) when the file at the note's
    /// `path` moved on from what the store last synced and no longer holds what the writer
    /// expects: stored, the write would be acknowledged and then, at its export, find the
    /// person's newer file and go to a conflict copy while the note kept the person's text.
    /// A plain write ([`Expect::Any`], `brain put` with no flag) is not checked: it means to
    /// replace whatever is there, and a changed file is kept as a conflict copy at export.
    pub(crate) fn check_disk(
        &self,
        r: &brain_core::EntityRef,
        path: &str,
        expect: &Expect,
    ) -> Result<(), BrainError> {
        if matches!(expect, Expect::Any | Expect::Present) {
            return Ok(());
        }
        let Some(version) = self.disk_version(path)? else {
            return Ok(());
        };
        let unsynced = |hash: &str| {
            format!(
                "{hash} in the file {path} on disk, edited since the last sync (the store \
                 imports it at the next sync, or at once over MCP)"
            )
        };
        match (expect, version) {
            (Expect::Absent, DiskVersion::Gone) => Ok(()),
            (Expect::Absent, _) => Err(BrainError::Exists {
                entity: format!("{r} (its file {path} is on disk, not yet synced)"),
            }),
            (Expect::Hash(h), DiskVersion::Changed(d) | DiskVersion::Unknown(d)) if *h == d => {
                Ok(())
            }
            (Expect::Hash(h), DiskVersion::Changed(d) | DiskVersion::Unknown(d)) => {
                Err(BrainError::Stale {
                    entity: r.to_string(),
                    expected: h.clone(),
                    actual: unsynced(&d),
                })
            }
            (Expect::Hash(h), DiskVersion::Gone) => Err(BrainError::Stale {
                entity: r.to_string(),
                expected: h.clone(),
                actual: format!("gone: its file {path} was deleted or moved on disk"),
            }),
            (Expect::Any | Expect::Present, _) => Ok(()),
        }
    }
}
