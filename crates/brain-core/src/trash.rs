//! The one writer of the trash: a note's file kept under `.brain/trash/STAMP/<its path>`.
//!
//! Two callers keep a deleted note's file: sync moves it there when the entity was deleted,
//! and the facade copies it there before a write brings a deleted note back over its file.
//! Both promise the same thing ("deleted" leaves a copy `brain restore` or a person can find),
//! so one function keeps it: a copy is never written over an earlier one, even when the same
//! path is trashed twice in one stamp or two processes trash at once.
//!
//! This is the one module of `brain-core` that touches the disk (the layout it writes to is
//! [`crate::layout`], which does not): both callers' crates may depend on core, and neither may
//! depend on the other.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// What happens to the note's file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrashMode {
    /// The file leaves the vault (sync trashing a deleted note).
    Move,
    /// The file stays where it is and a copy is kept (a write about to replace it).
    Copy,
}

/// Why a file was not kept in the trash. The file itself is left where it was.
#[derive(Debug, thiserror::Error)]
pub enum TrashError {
    /// The path is not one inside the vault: nothing outside the vault is ever moved.
    #[error(
        "'{0}' is not a path inside the vault (empty, absolute, or with '.' or '..' segments); \
         it was not moved to the trash"
    )]
    OutsideVault(String),
    /// Every numbered name for the path in this stamp's folder is taken.
    #[error(
        "'{0}' already has {MAX_COPIES} copies in this trash folder; it was left where it was: \
         empty .brain/trash/ of old copies and sync again"
    )]
    TooManyCopies(String),
    /// An I/O failure, with what was being done and on which file.
    #[error(
        "cannot {action} '{path}' for the trash: {source}; the note's file was left where it \
         was: check that the vault and its .brain/trash/ folder can be written (permissions, a \
         full or read-only disk)"
    )]
    Io {
        /// What was being done ("create the folder", "copy").
        action: &'static str,
        /// The file or folder it was done on.
        path: PathBuf,
        /// The failure.
        #[source]
        source: io::Error,
    },
}

/// How many copies of one path a stamp's folder may hold before giving up: far beyond what a
/// sync makes (one per path, plus one per earlier run in the same second).
const MAX_COPIES: u32 = 10_000;

/// Keeps the file at vault-relative `rel` in `stamp_dir` (a [`crate::layout::VaultLayout::trash_stamp_dir`]),
/// at `rel` below it; if that name is taken (the same path trashed twice in one stamp), at
/// `rel.2`, `rel.3`... Returns where the copy is.
///
/// Never overwrites: a name is claimed by a hard link or an exclusive create, which fails if
/// another copy got there first. The copy is on disk (file and folder fsynced) before a moved
/// file leaves its folder, so a crash leaves the file in the vault, the trash, or both, never
/// neither.
pub fn keep_in_trash(
    vault: &Path,
    rel: &str,
    stamp_dir: &Path,
    mode: TrashMode,
) -> Result<PathBuf, TrashError> {
    if !is_inside(rel) {
        return Err(TrashError::OutsideVault(rel.to_string()));
    }
    let src = vault.join(rel);
    let first = stamp_dir.join(rel);
    let folder = first.parent().unwrap_or(stamp_dir).to_path_buf();
    fs::create_dir_all(&folder).map_err(io_err("create the folder", &folder))?;
    let mut placed = None;
    for n in 1..=MAX_COPIES {
        let dest = if n == 1 {
            first.clone()
        } else {
            stamp_dir.join(format!("{rel}.{n}"))
        };
        let claimed = match mode {
            TrashMode::Move => link_or_copy(&src, &dest),
            TrashMode::Copy => copy_new(&src, &dest),
        };
        match claimed {
            Ok(()) => {
                placed = Some(dest);
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err("keep a copy of", &src)(e)),
        }
    }
    let dest = placed.ok_or_else(|| TrashError::TooManyCopies(rel.to_string()))?;
    sync_dir(&folder);
    if mode == TrashMode::Move {
        fs::remove_file(&src).map_err(io_err("remove", &src))?;
        if let Some(parent) = src.parent() {
            sync_dir(parent);
        }
    }
    Ok(dest)
}

/// Whether `rel` names something inside the vault: relative, `/`-separated, no empty, `.` or
/// `..` segment.
fn is_inside(rel: &str) -> bool {
    !rel.is_empty()
        && !Path::new(rel).is_absolute()
        && !rel.contains('\\')
        && rel
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

/// Gives `src` the second name `dest` (its data is already on disk), or where the file system
/// has no hard links (exFAT, some network and FUSE mounts) copies it to a new file.
fn link_or_copy(src: &Path, dest: &Path) -> io::Result<()> {
    match fs::hard_link(src, dest) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(e),
        Err(_) => copy_new(src, dest),
    }
}

/// Copies `src` into `dest`, which must not exist yet, with its permissions (a private note's
/// copy stays private), and fsyncs the copy. A copy that fails half-way is removed, so a later
/// try finds the name free.
fn copy_new(src: &Path, dest: &Path) -> io::Result<()> {
    let mut from = File::open(src)?;
    let permissions = from.metadata()?.permissions();
    let mut to = OpenOptions::new().write(true).create_new(true).open(dest)?;
    let copied = to
        .set_permissions(permissions)
        .and_then(|()| io::copy(&mut from, &mut to))
        .and_then(|_| to.sync_all());
    if let Err(e) = copied {
        drop(to);
        let _ = fs::remove_file(dest);
        return Err(e);
    }
    Ok(())
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> TrashError {
    let path = path.to_path_buf();
    move |source| TrashError::Io {
        action,
        path,
        source,
    }
}

/// Makes a folder's new or removed entry durable; failing to is not worth failing the move.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::VaultLayout;

    fn vault_with(rel: &str, text: &str) -> (tempfile::TempDir, VaultLayout) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        let layout = VaultLayout::new(dir.path());
        (dir, layout)
    }

    #[test]
    fn the_same_path_twice_in_one_stamp_keeps_both_copies() {
        let (_dir, v) = vault_with("a.md", "first");
        let stamp = v.trash_stamp_dir("s1");
        let one = keep_in_trash(v.root(), "a.md", &stamp, TrashMode::Move).unwrap();
        assert!(!v.root().join("a.md").exists(), "moved out of the vault");
        fs::write(v.root().join("a.md"), "second").unwrap();
        let two = keep_in_trash(v.root(), "a.md", &stamp, TrashMode::Move).unwrap();
        fs::write(v.root().join("a.md"), "third").unwrap();
        let three = keep_in_trash(v.root(), "a.md", &stamp, TrashMode::Copy).unwrap();
        assert_eq!(one, stamp.join("a.md"));
        assert_eq!(two, stamp.join("a.md.2"));
        assert_eq!(three, stamp.join("a.md.3"));
        assert_eq!(fs::read_to_string(one).unwrap(), "first");
        assert_eq!(fs::read_to_string(two).unwrap(), "second");
        assert_eq!(fs::read_to_string(three).unwrap(), "third");
        assert_eq!(
            fs::read_to_string(v.root().join("a.md")).unwrap(),
            "third",
            "a copy leaves the file in place"
        );
    }

    #[test]
    fn nested_folders_are_kept_below_the_stamp() {
        let (_dir, v) = vault_with("p/q/r/n.md", "deep");
        let stamp = v.trash_stamp_dir("s1");
        let kept = keep_in_trash(v.root(), "p/q/r/n.md", &stamp, TrashMode::Copy).unwrap();
        assert_eq!(kept, v.root().join(".brain/trash/s1/p/q/r/n.md"));
        assert_eq!(fs::read_to_string(&kept).unwrap(), "deep");
        let moved = keep_in_trash(v.root(), "p/q/r/n.md", &stamp, TrashMode::Move).unwrap();
        assert_eq!(moved, v.root().join(".brain/trash/s1/p/q/r/n.md.2"));
        assert!(!v.root().join("p/q/r/n.md").exists());
    }

    #[test]
    fn a_path_escaping_the_vault_is_refused_and_nothing_moves() {
        let outer = tempfile::tempdir().unwrap();
        let vault = outer.path().join("vault");
        fs::create_dir_all(&vault).unwrap();
        fs::write(outer.path().join("secret.md"), "outside").unwrap();
        let v = VaultLayout::new(&vault);
        let stamp = v.trash_stamp_dir("s1");
        for rel in [
            "../secret.md",
            "a/../../secret.md",
            "/etc/passwd",
            "",
            "./a.md",
            "a//b.md",
        ] {
            for mode in [TrashMode::Move, TrashMode::Copy] {
                let got = keep_in_trash(&vault, rel, &stamp, mode);
                assert!(
                    matches!(got, Err(TrashError::OutsideVault(ref r)) if r == rel),
                    "{rel:?} {mode:?}: {got:?}"
                );
            }
        }
        assert_eq!(
            fs::read_to_string(outer.path().join("secret.md")).unwrap(),
            "outside"
        );
        assert!(
            !v.trash_dir().exists(),
            "no trash folder made for a refusal"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_copy_keeps_a_private_note_private() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, v) = vault_with("private.md", "mine");
        let src = v.root().join("private.md");
        fs::set_permissions(&src, fs::Permissions::from_mode(0o600)).unwrap();
        let kept = keep_in_trash(
            v.root(),
            "private.md",
            &v.trash_stamp_dir("s"),
            TrashMode::Copy,
        )
        .unwrap();
        let mode = fs::metadata(&kept).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read_to_string(&kept).unwrap(), "mine");
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let v = VaultLayout::new(dir.path());
        let err = keep_in_trash(
            v.root(),
            "gone.md",
            &v.trash_stamp_dir("s"),
            TrashMode::Move,
        )
        .unwrap_err();
        assert!(
            matches!(&err, TrashError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound),
            "{err:?}"
        );
        assert!(err.to_string().contains("gone.md"), "{err}");
    }
}
