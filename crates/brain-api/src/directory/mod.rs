//! The directory-sync contract: what the facade, git and the interfaces need from the plugin
//! that keeps the vault folder and the store in step, without importing it.
//!
//! The plugin (`brain-sync`) registers the handlers of the three directory job types and
//! provides [`DirectorySync`] as the capability [`CAPABILITY`]. Everything here is the shared
//! vocabulary: the job types by name and the requests that queue them, what one run does
//! ([`SyncOptions`]), what it reports ([`SyncReport`]) and why it stops ([`SyncError`]). The
//! types live here, not in the plugin, because the crate graph of DESIGN.md lets a plugin
//! depend on brain-api and nothing depend on a plugin: git's post-pull import and the facade's
//! checks of a write call the trait.

mod error;
mod report;
mod requests;

use std::time::Duration;

use brain_core::{CancelToken, Entity, EntityRef, ProgressSink};

pub use error::SyncError;
pub use report::{ConflictNote, SkippedFile, SyncReport, UnwrittenNote};
pub use requests::{
    DIRECTORY_EXPORT, DIRECTORY_IMPORT, DIRECTORY_SYNC, export_behind_request, export_now_request,
    export_request, import_request, sync_dedupe_key, sync_request,
};

use crate::BrainError;

/// The name the sync plugin provides [`DirectorySync`] under.
pub const CAPABILITY: &str = "directory-sync";

/// The name the sync plugin provides [`Watching`] under: its file watcher, a service of the
/// runtime, as the daemon publishes it.
pub const WATCHER: &str = "directory-sync.watcher";

/// The sync plugin's file watcher as the daemon shows it (`brain status`, the daemon's `idle`).
pub trait Watching: Send + Sync {
    /// The watcher's status document (its mode, pending changes, last event and error) and
    /// whether it holds no change it has not queued yet, or `None` when no watcher runs (the
    /// runtime is not started, or the watcher failed to start and the daemon goes on without
    /// it).
    fn watcher_status(&self) -> Option<(serde_json::Value, bool)>;
}

/// Which directions a sync runs in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncMode {
    /// Files to store and store to files.
    #[default]
    Full,
    /// Only files to store; entity changes stay pending.
    ImportOnly,
    /// Only store to files; file changes stay pending (files are not read).
    ExportOnly,
    /// What a `directory-export` job runs: store to files as [`SyncMode::ExportOnly`] does,
    /// except where a note changed in the store finds its file away from the base too (a stat
    /// that differs, no base, or no file): that path is settled as a full sync would (the file
    /// read; equal, a conflict that keeps both, or the file written back). It must not be left
    /// pending on an event that may never come: a file whose ctime alone moved after an import
    /// read it (a hard link added or removed, a chmod) raises no event, and a note changed
    /// during an import (whose ops then skip it) is settled by the export that change queued,
    /// and nothing else. Other file changes stay pending for the watcher's import, which also
    /// pairs the two names of a rename.
    Outbox,
}

/// Options for one run.
#[derive(Clone, Debug, Default)]
pub struct SyncOptions {
    /// Directions.
    pub mode: SyncMode,
    /// Skip the mass-delete guard.
    pub allow_mass_delete: bool,
    /// Sync only these vault-relative paths (a `directory-import` of the files a watcher saw,
    /// a `directory-export` of some entities); `None` syncs the whole vault.
    pub only_paths: Option<Vec<String>>,
}

/// What [`DirectorySync::import_now`] did.
#[derive(Debug)]
pub enum ImportNow {
    /// The paths (or the whole vault) were imported; the store now holds what the files held.
    Imported(Box<SyncReport>),
    /// Another sync of the vault held `.brain/sync.lock` for the whole wait: nothing was
    /// imported, and the answer may be stale (the caller says so and tries again next time).
    Busy,
}

/// A note's file when it is not what the store last synced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskVersion {
    /// The file holds other bytes than the store's copy: their hash.
    Changed(String),
    /// The store knows the note's file, and it is gone from disk.
    Gone,
    /// A file is at the note's path that the store has never imported: its hash.
    Unknown(String),
}

/// The directory-sync plugin's side of the facade and of git: running a sync in the caller's
/// thread, reading a note's text as an import would, and comparing files with the store.
pub trait DirectorySync: Send + Sync {
    /// Runs one sync of the vault now, in this thread, as a directory job of the same options
    /// would. The caller holds `.brain/sync.lock` (git's post-pull import runs under the lock
    /// it took for its merge, as one step).
    fn run(
        &self,
        opts: &SyncOptions,
        progress: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<SyncReport, SyncError>;

    /// The entity `content` makes as note `r` at its file's path, checked as an import checks
    /// a file (the path is safe and maps back to `r`, nothing unwritable stands there, the
    /// text and its frontmatter read), or why not.
    fn note_from(&self, r: &EntityRef, content: &[u8]) -> Result<Entity, BrainError>;

    /// Imports `paths` (vault-relative, `/`-separated), or the whole vault when `whole`, now,
    /// in this thread: both directions for those paths, as a `directory-import` does. Waits
    /// for `.brain/sync.lock` at most `wait`.
    fn import_now(
        &self,
        paths: &[String],
        whole: bool,
        wait: Duration,
    ) -> Result<ImportNow, BrainError>;

    /// The file at vault-relative `path` when it is not what the store last synced there, or
    /// `None` when it is. Costs one `stat` and one base lookup; the file is read only when its
    /// stat moved.
    fn disk_version(&self, path: &str) -> Result<Option<DiskVersion>, BrainError>;

    /// Why an answer about the notes at `paths` may be older than the files, from what the
    /// folder shows cheaply, or `None`. The facade has already ruled out a read-only store
    /// and a running daemon.
    fn stale_hint(&self, paths: &[&str]) -> Option<String>;

    /// Notes whose edit in the store a sync could not write to their file, with why.
    fn unwritten(&self) -> Result<Vec<UnwrittenNote>, BrainError>;
}
