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
         again where the vault is now",
        path.display()
    )]
    Gone {
        /// The vault's path.
        path: PathBuf,
    },
    /// Another folder is at the path: the vault was moved or deleted and a folder made in its
    /// place.
    #[error(
        "the vault folder {} was replaced by another folder while this process ran (the vault \
         was moved or deleted, and a new folder made at its path); stopped without reading or \
         writing anything in the new folder: start `brain serve` again where the vault is now, \
         or run `brain init` in the new folder to make it a vault of its own",
        path.display()
    )]
    Replaced {
        /// The vault's path.
        path: PathBuf,
    },
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
        let state = std::fs::symlink_metadata(path.join(".brain"))
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
                let state_kept = self.state.is_none_or(|state| {
                    std::fs::symlink_metadata(self.path.join(".brain"))
                        .is_ok_and(|m| identity(&m) == Some(state))
                });
                if identity(&meta) == self.identity && state_kept {
                    Ok(())
                } else {
                    Err(RootChanged::Replaced {
                        path: self.path.clone(),
                    })
                }
            }
            // Missing, not a folder, or unreadable on the way to it: nothing to work on.
            _ => Err(RootChanged::Gone {
                path: self.path.clone(),
            }),
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
        assert!(matches!(changed, RootChanged::Replaced { .. }));
        assert!(changed.to_string().contains("replaced"), "{changed}");
        // The vault's own `.brain/` replaced is the vault replaced.
        std::fs::remove_dir(&root).unwrap();
        std::fs::rename(&away, &root).unwrap();
        assert_eq!(captured.check(), Ok(()));
        std::fs::rename(root.join(".brain"), tmp.path().join("state")).unwrap();
        std::fs::create_dir(root.join(".brain")).unwrap();
        assert!(matches!(
            captured.check(),
            Err(RootChanged::Replaced { .. })
        ));
        std::fs::remove_dir(root.join(".brain")).unwrap();
        std::fs::rename(tmp.path().join("state"), root.join(".brain")).unwrap();
        std::fs::rename(&root, &away).unwrap();
        std::fs::create_dir(&root).unwrap();
        // A `.brain/` made there does not make it the vault.
        std::fs::create_dir(root.join(".brain")).unwrap();
        assert!(matches!(
            captured.check(),
            Err(RootChanged::Replaced { .. })
        ));
        // Moved back, it is the same folder again.
        std::fs::remove_dir_all(&root).unwrap();
        std::fs::rename(&away, &root).unwrap();
        assert_eq!(captured.check(), Ok(()));
    }
}
