//! What a sync did, for the summary line, `--json` and the job result.

use serde::{Deserialize, Serialize};

/// A file that was not synced, and why. The file itself is left untouched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    /// Vault-relative path (lossy if the name is not UTF-8).
    pub path: String,
    /// What is wrong, in words a person can act on.
    pub reason: String,
}

/// A conflict met during this sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictNote {
    /// The path it is about.
    pub path: String,
    /// What kind (`both_changed`, `deleted_on_disk`, `deleted_in_store`, `path_collision`).
    pub kind: String,
    /// What was done.
    pub detail: String,
    /// Where the other version was written, if it was.
    pub copy_path: Option<String>,
}

/// Counts and lists for one sync run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Markdown files seen by the walk.
    pub scanned: u64,
    /// Files imported as new entities.
    pub imported: u64,
    /// Entities updated from their changed files.
    pub updated: u64,
    /// Files moved or renamed (the entity moved with them).
    pub renamed: u64,
    /// Entities soft-deleted because their file was deleted.
    pub deleted: u64,
    /// Files written from entities changed in the store.
    pub exported: u64,
    /// Files moved to `.brain/trash/` because their entity was deleted.
    pub trashed: u64,
    /// Files found unchanged.
    pub unchanged: u64,
    /// Changes left for a sync in another mode (`--import-only` / `--export-only`), or, in a
    /// `directory-export`, file changes left for the watcher's import.
    pub pending: u64,
    /// Conflicts met; both sides were kept.
    pub conflicts: Vec<ConflictNote>,
    /// Files not synced, with reasons.
    pub skipped: Vec<SkippedFile>,
    /// Notes whose edit in the store this run could not write to their file (each is also in
    /// `skipped`, whose reason says so): the job handlers log each as a WARN, and the store
    /// keeps a record `brain status` lists ([`crate::unwritten`]). Absent from reports written
    /// before it existed.
    #[serde(default)]
    pub unwritten: Vec<UnwrittenNote>,
    /// Notes of the store (made in another folder that shares it, or before a `.brainignore`
    /// line) at paths this folder excludes from sync (`.brainignore`, a dot folder, Logseq's
    /// `logseq/`): not written here, by this folder's own choice, so neither skipped nor
    /// pending. Removing the exclusion and running `brain sync` writes them.
    #[serde(default)]
    pub excluded_here: Vec<String>,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
}

impl SyncReport {
    /// Whether the sync changed anything in the store or on disk.
    pub fn changed_anything(&self) -> bool {
        self.imported + self.updated + self.renamed + self.deleted + self.exported + self.trashed
            > 0
            || !self.conflicts.is_empty()
    }
}

/// A note whose edit in the store is not in its file, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnwrittenNote {
    /// The note's file, vault-relative.
    pub path: String,
    /// The note (`note/x`).
    pub entity: String,
    /// What is in the way and what to do, in words a person can act on.
    pub reason: String,
}
