//! Where everything brains keeps in a vault lives: the state folder `.brain/` and every path
//! under it (settings, store, locks, trash, conflict copies, fences).
//!
//! One place names them so that the crates that read, write, watch, scan and commit a vault
//! agree on them: a scanner that skipped `.brain/` under one spelling while the trash wrote
//! under another would import the trash as notes. Paths only, no I/O: whether a file is there
//! is the caller's question.
//!
//! Two forms: [`VaultLayout`] gives absolute paths for a vault root; the `*_REL` constants and
//! [`is_state_path`] speak in vault-relative, `/`-separated paths, the form scanners, the
//! watcher, git and conflict records use.

use std::path::{Path, PathBuf};

/// Expands to the state folder's name as a literal, so the vault-relative constants below can
/// be built with `concat!` from the one spelling.
macro_rules! state_dir {
    () => {
        ".brain"
    };
}

/// The name of the state folder at a vault's root.
pub const STATE_DIR: &str = state_dir!();

/// The `.gitignore` line that keeps the state folder out of git (the store changes on every
/// write and differs between machines).
pub const STATE_GITIGNORE_LINE: &str = concat!(state_dir!(), "/");

/// Conflict copies that could not be written beside their note (a name too long), vault-relative.
pub const CONFLICTS_REL: &str = concat!(state_dir!(), "/conflicts");

/// Versions git sync sets aside when a copy beside the file would be committed (the user kept
/// the file out of git with `.brainignore`), vault-relative: git never stages `.brain/`.
pub const KEPT_REL: &str = concat!(state_dir!(), "/kept");

/// The name of the settings file in the state folder.
const CONFIG_FILE: &str = "config.toml";
/// The name of the SQLite store in the state folder.
const DATABASE: &str = "brain.db";
/// The name of the state folder's own `.gitignore` (it ignores everything in the folder).
const STATE_GITIGNORE: &str = ".gitignore";
/// The lock every directory job (and git's merge-and-import) holds while it works.
const SYNC_LOCK: &str = "sync.lock";
/// The lock `brain serve` holds for as long as it lives, with its pid inside.
const SERVE_LOCK: &str = "serve.lock";
const STORE_LOCK: &str = "store.lock";
/// The folder deleted notes' files move to, one sub-folder per sync (its time stamp).
const TRASH_DIR: &str = "trash";
/// The name of the conflicts folder inside the state folder.
const CONFLICTS_DIR: &str = "conflicts";

/// The name of a watcher fence file in `.brain/`, before its number: a caller creates
/// `.brain/fence-N` to learn when the watcher has taken in every change made before it.
pub const FENCE_PREFIX: &str = "fence-";

/// The name of an MCP session's fence file in `.brain/`, before `PID-INSTANCE-N`.
pub const MCP_FENCE_PREFIX: &str = "mcp-fence-";

/// The absolute paths of one vault's state. Built from the vault root; answers without
/// touching the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultLayout {
    root: PathBuf,
    state: PathBuf,
}

impl VaultLayout {
    /// The layout of the vault at `root` (taken as given: make it absolute first if the
    /// process may change its folder).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let state = state_dir_of(&root);
        Self { root, state }
    }

    /// The vault root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/.brain`: the state folder.
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    /// `.brain/config.toml`: the vault's settings; its presence makes a folder a vault.
    pub fn config_file(&self) -> PathBuf {
        self.state.join(CONFIG_FILE)
    }

    /// `.brain/brain.db`: the SQLite store (with SQLite's `-wal` and `-shm` beside it).
    pub fn database(&self) -> PathBuf {
        self.state.join(DATABASE)
    }

    /// `.brain/brain.db.old-STAMP` (`-N` after it for `n` > 1): where `brain doctor --rebuild`
    /// moves the old store, numbered so an earlier rebuild's copy in the same second is kept.
    pub fn old_database(&self, stamp: &str, n: u32) -> PathBuf {
        let name = if n > 1 {
            format!("{DATABASE}.old-{stamp}-{n}")
        } else {
            format!("{DATABASE}.old-{stamp}")
        };
        self.state.join(name)
    }

    /// `.brain/.gitignore`: keeps the whole state folder out of any git repository around it.
    pub fn state_gitignore(&self) -> PathBuf {
        self.state.join(STATE_GITIGNORE)
    }

    /// `.brain/sync.lock`: one directory job (or git merge-and-import) per vault at a time.
    pub fn sync_lock(&self) -> PathBuf {
        self.state.join(SYNC_LOCK)
    }

    /// `.brain/serve.lock`: held by the running `brain serve`, its pid inside.
    pub fn serve_lock(&self) -> PathBuf {
        self.state.join(SERVE_LOCK)
    }

    /// `.brain/store.lock`: every process using the vault's store holds it shared, and `brain
    /// store copy` exclusively while it copies and switches, so no write lands in a store the
    /// vault is leaving.
    pub fn store_lock(&self) -> PathBuf {
        self.state.join(STORE_LOCK)
    }

    /// `.brain/replica`: this folder's replica id on a store several folders share
    /// (PostgreSQL). Written by `brain init`; a folder without one is the default replica.
    pub fn replica_file(&self) -> PathBuf {
        self.state.join("replica")
    }

    /// `.brain/trash`: every deleted note's file, kept until a person removes it.
    pub fn trash_dir(&self) -> PathBuf {
        self.state.join(TRASH_DIR)
    }

    /// `.brain/trash/STAMP`: the files one sync (or one write) moved to the trash, each at its
    /// vault-relative path below it.
    pub fn trash_stamp_dir(&self, stamp: &str) -> PathBuf {
        self.trash_dir().join(stamp)
    }

    /// `.brain/conflicts`: the absolute form of [`CONFLICTS_REL`].
    pub fn conflicts_dir(&self) -> PathBuf {
        self.state.join(CONFLICTS_DIR)
    }

    /// `.brain/fence-N`: the watcher fence number `n`.
    pub fn fence(&self, n: u64) -> PathBuf {
        self.state.join(format!("{FENCE_PREFIX}{n}"))
    }

    /// The number of the watcher fence at `path`, if `path` is one (`.brain/fence-N` directly
    /// in this vault's state folder; not in a sub-folder, not elsewhere).
    pub fn fence_number(&self, path: &Path) -> Option<u64> {
        if path.parent() != Some(self.state.as_path()) {
            return None;
        }
        path.file_name()?
            .to_str()?
            .strip_prefix(FENCE_PREFIX)?
            .parse()
            .ok()
    }

    /// `.brain/mcp-fence-PID-INSTANCE-N`: fence `n` of the MCP session named by
    /// [`mcp_fence_session`].
    pub fn mcp_fence(&self, session: &str, n: u64) -> PathBuf {
        self.state.join(format!("{session}{n}"))
    }
}

/// The state folder any folder would have (`<folder>/.brain`): scanners ask whether a folder
/// below a vault's root holds one, which makes it a vault of its own.
pub fn state_dir_of(folder: &Path) -> PathBuf {
    folder.join(STATE_DIR)
}

/// Whether the vault-relative, `/`-separated `rel` is the state folder or inside it: such a
/// path is never a note, and events about it say nothing about notes.
pub fn is_state_path(rel: &str) -> bool {
    rel.split('/').next() == Some(STATE_DIR)
}

/// The start of every fence name of one MCP session, `mcp-fence-PID-INSTANCE-`: the pid tells
/// a dead session's left-over fences apart, the instance the sessions of one process.
pub fn mcp_fence_session(pid: u32, instance: u64) -> String {
    format!("{MCP_FENCE_PREFIX}{pid}-{instance}-")
}

/// The vault-relative path of conflict copy `name` under [`CONFLICTS_REL`].
pub fn conflict_rel(name: &str) -> String {
    format!("{CONFLICTS_REL}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_sits_where_the_docs_and_existing_vaults_say() {
        let v = VaultLayout::new("/v");
        assert_eq!(v.root(), Path::new("/v"));
        assert_eq!(v.state_dir(), Path::new("/v/.brain"));
        assert_eq!(v.config_file(), Path::new("/v/.brain/config.toml"));
        assert_eq!(v.database(), Path::new("/v/.brain/brain.db"));
        assert_eq!(
            v.old_database("20260101-000000", 1),
            Path::new("/v/.brain/brain.db.old-20260101-000000")
        );
        assert_eq!(
            v.old_database("20260101-000000", 3),
            Path::new("/v/.brain/brain.db.old-20260101-000000-3")
        );
        assert_eq!(v.state_gitignore(), Path::new("/v/.brain/.gitignore"));
        assert_eq!(v.sync_lock(), Path::new("/v/.brain/sync.lock"));
        assert_eq!(v.serve_lock(), Path::new("/v/.brain/serve.lock"));
        assert_eq!(v.trash_dir(), Path::new("/v/.brain/trash"));
        assert_eq!(
            v.trash_stamp_dir("20260101-000000"),
            Path::new("/v/.brain/trash/20260101-000000")
        );
        assert_eq!(v.conflicts_dir(), Path::new("/v/.brain/conflicts"));
        assert_eq!(v.fence(7), Path::new("/v/.brain/fence-7"));
        assert_eq!(mcp_fence_session(12, 0), "mcp-fence-12-0-");
        assert_eq!(
            v.mcp_fence(&mcp_fence_session(12, 0), 3),
            Path::new("/v/.brain/mcp-fence-12-0-3")
        );
        assert_eq!(
            state_dir_of(Path::new("/v/sub")),
            Path::new("/v/sub/.brain")
        );
    }

    #[test]
    fn relative_forms_agree_with_the_absolute_ones() {
        assert_eq!(STATE_DIR, ".brain");
        assert_eq!(STATE_GITIGNORE_LINE, ".brain/");
        assert_eq!(CONFLICTS_REL, ".brain/conflicts");
        assert_eq!(KEPT_REL, ".brain/kept");
        assert_eq!(conflict_rel("x-1.md"), ".brain/conflicts/x-1.md");
        let v = VaultLayout::new("/v");
        assert_eq!(v.root().join(CONFLICTS_REL), v.conflicts_dir());
        assert_eq!(
            v.root().join(conflict_rel("x-1.md")),
            v.conflicts_dir().join("x-1.md")
        );
    }

    #[test]
    fn state_paths_are_told_apart_from_notes() {
        for rel in [
            ".brain",
            ".brain/brain.db",
            ".brain/trash/s/a.md",
            ".brain/fence-1",
        ] {
            assert!(is_state_path(rel), "{rel}");
        }
        for rel in [
            "a.md",
            ".brainignore",
            ".brain.md",
            "x/.brain/a.md",
            "brain/a.md",
            "",
        ] {
            assert!(!is_state_path(rel), "{rel}");
        }
    }

    #[test]
    fn fences_are_numbered_files_directly_in_the_state_folder() {
        let v = VaultLayout::new("/v");
        assert_eq!(v.fence_number(&v.fence(9)), Some(9));
        assert_eq!(v.fence_number(Path::new("/v/.brain/fence-x")), None);
        assert_eq!(v.fence_number(Path::new("/v/fence-7")), None);
        assert_eq!(v.fence_number(Path::new("/v/.brain/sub/fence-7")), None);
        assert_eq!(v.fence_number(Path::new("/w/.brain/fence-7")), None);
        assert_eq!(
            v.fence_number(&v.mcp_fence(&mcp_fence_session(1, 0), 7)),
            None
        );
    }
}
