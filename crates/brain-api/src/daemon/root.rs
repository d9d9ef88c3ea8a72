//! Whether the vault folder is still the one a long-lived process started on.
//!
//! A daemon holds its store open by file, but reaches the notes by path. If the vault is moved
//! (or deleted) and an empty folder is made at its old path, the path names another folder:
//! following it would import that folder's files into the old store (and tombstone every note
//! missing there), and write the store's exports and locks into it. So the folder's identity
//! (device and inode) is recorded at start and compared: a folder that is gone, or is another
//! folder now, is never watched or synced again by this process.

use std::io;
use std::path::{Path, PathBuf};

use brain_core::layout::{self, VaultLayout};

/// The vault folder as it was when the process started.
#[derive(Clone, Debug)]
pub struct VaultRoot {
    path: PathBuf,
    /// Device and inode; `None` where the platform has none (only disappearance is seen).
    identity: Option<(u64, u64)>,
    /// The same for its `.brain/` folder, if it had one: a vault deleted and made again at the
    /// same path may get the same inode back, but not with its `.brain/` as well.
    state: Option<(u64, u64)>,
}

/// How the vault folder changed under a running process.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RootChanged {
    /// Nothing is at the path any more, or it is not a folder.
    #[error(
        "the vault folder {} was moved away or deleted while this process ran (its store went \
         with it); stopped so that nothing is written to the wrong place: start `brain serve` \
         again where the vault is now (for `brain mcp`, restart the MCP client there)",
        path.display()
    )]
    Gone {
        /// The vault's path.
        path: PathBuf,
    },
    /// The folder at the path, or its `.brain/`, is not the one the process started on: what
    /// exactly is in `what`, since each calls for different advice.
    #[error("{}", replaced_message(path, *what))]
    Replaced {
        /// The vault's path.
        path: PathBuf,
        /// Which folder changed, and what is there now.
        what: Replacement,
    },
}

/// What took the place of the folder a process started on. The vault folder and its state
/// folder `.brain/` are told apart because the advice differs: a vault moved is served again
/// where it is now, a `.brain/` removed is rebuilt from the notes, one replaced by another
/// holding a store is used by starting again (issue 13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replacement {
    /// Another folder is at the vault's path: the vault was moved or deleted, and a new folder
    /// made at its path.
    Folder,
    /// The vault folder is the same, but its `.brain/` (store, settings, job history) is gone,
    /// or holds no `config.toml`.
    StateRemoved,
    /// Another `.brain/` with settings but no store (`brain.db`) is there.
    StateWithoutStore,
    /// Another `.brain/` holding a store is there (copied back, or made by `brain init`).
    StateWithStore,
}

/// The message for [`RootChanged::Replaced`]: what changed, on which path, what to do.
fn replaced_message(path: &Path, what: Replacement) -> String {
    let root = path.display();
    let state = layout::state_dir_of(path);
    let state = state.display();
    match what {
        Replacement::Folder => format!(
            "the vault folder {root} was replaced by another folder while this process ran (the \
             vault was moved or deleted, and a new folder made at its path); stopped without \
             reading or writing anything in the new folder: start `brain serve` again where the \
             vault is now (for `brain mcp`, restart the MCP client there), or run `brain init` in \
             the new folder to make it a vault of its own"
        ),
        Replacement::StateRemoved => format!(
            "the vault's state folder {state} (its store, settings and job history) was removed \
             while this process ran; stopped without writing anything, and the notes in {root} \
             are untouched: if the folder was moved, put it back; otherwise run `brain init` and \
             `brain sync` in {root} to build a new store from the notes; then start `brain \
             serve` again"
        ),
        Replacement::StateWithoutStore => format!(
            "the vault's state folder {state} was replaced by another one while this process ran, \
             and the new one holds no store (brain.db); stopped without writing anything, and the \
             notes in {root} are untouched: run `brain doctor --rebuild` in {root} to build a \
             store from the notes, then start `brain serve` again"
        ),
        Replacement::StateWithStore => format!(
            "the vault's state folder {state} was replaced by another one while this process ran, \
             so its store is another store now; stopped without writing to either: start `brain \
             serve` again (for `brain mcp`, restart the MCP client) to use the new store"
        ),
    }
}

impl VaultRoot {
    /// Records the identity of the folder at `path` now.
    pub fn capture(path: &Path) -> io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a folder", path.display()),
            ));
        }
        let state = std::fs::symlink_metadata(layout::state_dir_of(path))
            .ok()
            .filter(std::fs::Metadata::is_dir)
            .and_then(|m| identity(&m));
        Ok(Self {
            path: path.to_path_buf(),
            identity: identity(&meta),
            state,
        })
    }

    /// The path it was captured at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the folder at the path is still the one captured: one `stat`, cheap enough to
    /// run on every batch of file events and every quarter second.
    pub fn check(&self) -> Result<(), RootChanged> {
        match std::fs::metadata(&self.path) {
            Ok(meta) if meta.is_dir() => {
                let replaced = |what| {
                    Err(RootChanged::Replaced {
                        path: self.path.clone(),
                        what,
                    })
                };
                if identity(&meta) != self.identity {
                    return replaced(Replacement::Folder);
                }
                let Some(state) = self.state else {
                    return Ok(());
                };
                let now = std::fs::symlink_metadata(layout::state_dir_of(&self.path));
                match now.as_ref().ok().filter(|m| m.is_dir()).map(identity) {
                    Some(found) if found == Some(state) => Ok(()),
                    _ => replaced(self.state_now()),
                }
            }
            // Missing, not a folder, or unreadable on the way to it: nothing to work on.
            _ => Err(RootChanged::Gone {
                path: self.path.clone(),
            }),
        }
    }

    /// What is at `.brain/` now that it is not the folder captured: read when the change is
    /// found, so the advice fits what the user left there.
    fn state_now(&self) -> Replacement {
        let layout = VaultLayout::new(&self.path);
        if !layout.config_file().is_file() {
            Replacement::StateRemoved
        } else if layout.database().is_file() {
            Replacement::StateWithStore
        } else {
            Replacement::StateWithoutStore
        }
    }
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replaced(captured: &VaultRoot) -> Option<Replacement> {
        match captured.check() {
            Err(RootChanged::Replaced { what, .. }) => Some(what),
            _ => None,
        }
    }

    #[test]
    fn a_folder_moved_away_is_gone_and_one_made_in_its_place_is_another() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("vault");
        std::fs::create_dir_all(root.join(".brain")).unwrap();
        let captured = VaultRoot::capture(&root).unwrap();
        assert_eq!(captured.check(), Ok(()));
        let away = tmp.path().join("away");
        std::fs::rename(&root, &away).unwrap();
        assert!(matches!(captured.check(), Err(RootChanged::Gone { .. })));
        std::fs::create_dir(&root).unwrap();
        let changed = captured.check().unwrap_err();
        assert_eq!(replaced(&captured), Some(Replacement::Folder));
        assert!(changed.to_string().contains("vault folder"), "{changed}");
        std::fs::remove_dir(&root).unwrap();
        std::fs::rename(&away, &root).unwrap();
        assert_eq!(captured.check(), Ok(()));
        std::fs::rename(&root, &away).unwrap();
        std::fs::create_dir(&root).unwrap();
        // A `.brain/` made there does not make it the vault.
        std::fs::create_dir(root.join(".brain")).unwrap();
        assert_eq!(replaced(&captured), Some(Replacement::Folder));
        // Moved back, it is the same folder again.
        std::fs::remove_dir_all(&root).unwrap();
        std::fs::rename(&away, &root).unwrap();
        assert_eq!(captured.check(), Ok(()));
    }

    /// Only `.brain/` changed: the message names the state folder, not the vault folder, and
    /// its advice fits what is there now (issue 13).
    #[test]
    fn a_state_folder_removed_or_replaced_is_named_as_such() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("vault");
        let state = root.join(".brain");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(state.join("config.toml"), "").unwrap();
        std::fs::write(state.join("brain.db"), "").unwrap();
        let captured = VaultRoot::capture(&root).unwrap();
        let aside = tmp.path().join("state");
        std::fs::rename(&state, &aside).unwrap();
        assert_eq!(replaced(&captured), Some(Replacement::StateRemoved));
        let removed = captured.check().unwrap_err().to_string();
        assert!(
            removed.contains(&format!("state folder {}", state.display()))
                && removed.contains("was removed")
                && removed.contains("brain init")
                && !removed.contains("vault folder"),
            "{removed}"
        );
        std::fs::create_dir(&state).unwrap();
        std::fs::write(state.join("config.toml"), "").unwrap();
        assert_eq!(replaced(&captured), Some(Replacement::StateWithoutStore));
        let no_store = captured.check().unwrap_err().to_string();
        assert!(no_store.contains("brain doctor --rebuild"), "{no_store}");
        std::fs::write(state.join("brain.db"), "").unwrap();
        assert_eq!(replaced(&captured), Some(Replacement::StateWithStore));
        let other = captured.check().unwrap_err().to_string();
        assert!(
            other.contains("replaced by another one") && other.contains("to use the new store"),
            "{other}"
        );
        std::fs::remove_dir_all(&state).unwrap();
        std::fs::rename(&aside, &state).unwrap();
        assert_eq!(captured.check(), Ok(()));
    }
}
