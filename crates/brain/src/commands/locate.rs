//! Which vault a command works on, found as git finds its repository.
//!
//! With `--vault DIR` (or `BRAIN_VAULT`) the folder is taken as given: a script that names its
//! vault must never land in another one. Without it, the current folder and then each folder
//! above it is tried, up to the file system's root, and the first that holds a vault's state
//! (`.brain/config.toml` or `.brain/brain.db`) is the vault; so `brain search` run in
//! `vault/Projects/` works on `vault/`, not on a fresh vault in `Projects/`.
//!
//! The same walk, started above a folder, finds the vault that would enclose it: `brain init`
//! refuses to make a vault inside a vault, since both would then sync its notes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use brain_core::VaultLayout;

use crate::config::VaultPaths;

/// Whether `dir` holds a vault's state. Either file counts: a vault whose config was deleted
/// by mistake is still that vault (and `require_initialized` then says what is missing),
/// rather than the walk going on to adopt a vault further up.
pub fn is_vault(dir: &Path) -> bool {
    let layout = VaultLayout::new(dir);
    layout.config_file().is_file() || layout.database().is_file()
}

/// The vault of a command: `cli_vault` as given, else the nearest vault at or above the
/// current folder, else the current folder (which `require_initialized` then refuses with its
/// advice).
pub fn vault_paths(cli_vault: Option<&Path>) -> Result<VaultPaths> {
    if cli_vault.is_some() {
        return VaultPaths::new(cli_vault);
    }
    let here = std::env::current_dir().context("cannot determine the current folder")?;
    match here.ancestors().find(|dir| is_vault(dir)) {
        Some(root) => VaultPaths::new(Some(root)),
        None => VaultPaths::new(Some(&here)),
    }
}

/// The vault that encloses `root` (a vault in one of the folders above it), if any. The walk
/// uses the folder's real path where it can be resolved, so `root` reached through a symbolic
/// link is checked where it really is.
pub fn enclosing_vault(root: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    real.ancestors()
        .skip(1)
        .find(|dir| is_vault(dir))
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make_vault(dir: &Path) {
        std::fs::create_dir_all(dir.join(".brain")).unwrap();
        std::fs::write(dir.join(".brain/config.toml"), "").unwrap();
    }

    #[test]
    fn the_nearest_vault_above_encloses_a_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let outer = tmp.path().join("outer");
        let inner = outer.join("a/b");
        std::fs::create_dir_all(&inner).unwrap();
        assert_eq!(enclosing_vault(&inner), None);
        make_vault(&outer);
        let found = enclosing_vault(&inner).unwrap();
        assert_eq!(found, std::fs::canonicalize(&outer).unwrap());
        // A vault does not enclose itself.
        assert_eq!(enclosing_vault(&outer), None);
        // The store alone marks a vault too.
        let mid = outer.join("a");
        std::fs::create_dir_all(mid.join(".brain")).unwrap();
        std::fs::write(mid.join(".brain/brain.db"), "").unwrap();
        assert_eq!(
            enclosing_vault(&inner).unwrap(),
            std::fs::canonicalize(&mid).unwrap()
        );
    }
}
