//! Writing notes without ever losing one.
//!
//! Every write goes to a temporary file in the target's folder, is fsynced, then takes the
//! target's name: by `rename` when replacing a file we know is unchanged, by `hard_link` when the
//! target must not exist (a link fails instead of overwriting a note someone just created).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use brain_store::FileStat;

use crate::scan::stat_of;

/// What an export must find on disk before writing.
#[derive(Clone, Copy, Debug)]
pub enum Expect<'a> {
    /// No file at the target.
    Absent,
    /// A file with exactly this size and mtime (the base): anything else means it changed.
    Stat(&'a FileStat),
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The target changed after the scan: it was left alone and will be handled next sync.
    #[error("changed on disk during the sync; left as it is and will be synced next time")]
    ChangedMeanwhile,
    /// A folder on the way is a symbolic link: writing would leave the vault.
    #[error(
        "'{0}' is a symbolic link; notes are never written through links (they may lead out of the vault)"
    )]
    ThroughSymlink(String),
    /// Something that is not a folder stands where a folder or the note should be.
    #[error(
        "'{0}' is in the way (a folder where the note should be, or a file where a folder should be); rename it and sync again"
    )]
    InTheWay(String),
    /// An I/O failure.
    #[error("cannot write: {0}")]
    Io(#[from] io::Error),
}

/// Checks that `rel` can be written inside `vault` without passing through a symbolic link or
/// over a folder: every existing folder on the way must be a real folder.
pub fn check_inside(vault: &Path, rel: &str) -> Result<(), WriteError> {
    let mut cur = vault.to_path_buf();
    let mut parts = rel.split('/').peekable();
    while let Some(part) = parts.next() {
        cur.push(part);
        let last = parts.peek().is_none();
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(WriteError::ThroughSymlink(cur.display().to_string()));
            }
            Ok(m) if last && m.is_dir() => {
                return Err(WriteError::InTheWay(cur.display().to_string()));
            }
            Ok(m) if !last && !m.is_dir() => {
                return Err(WriteError::InTheWay(cur.display().to_string()));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(WriteError::Io(e)),
        }
    }
    Ok(())
}

/// Stat of a path in the form the base stores.
pub fn file_stat(path: &Path) -> io::Result<FileStat> {
    Ok(stat_of(&fs::symlink_metadata(path)?))
}

fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let short: String = name.chars().take(40).collect();
    target.with_file_name(format!(".{short}.brain-tmp-{}", std::process::id()))
}

fn sync_dir(dir: &Path) {
    // Durability of the rename; failure to fsync a directory is not worth failing the write.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes `content` to `target` atomically if it still is as `expect` says; returns the new stat.
pub fn write_note(
    target: &Path,
    content: &[u8],
    expect: Expect<'_>,
) -> Result<FileStat, WriteError> {
    let dir = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = temp_path(target);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        // What we wrote, to tell it from a file that replaced it right after (an editor's save
        // racing the export): only our own file's stat may become the base.
        let mut ours = stat_of(&f.metadata()?);
        drop(f);
        match expect {
            Expect::Absent => match fs::hard_link(&tmp, target) {
                Ok(()) => fs::remove_file(&tmp)?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(WriteError::ChangedMeanwhile);
                }
                Err(_) => {
                    // No hard links here (exFAT, some network and FUSE mounts): an exclusive
                    // create still never overwrites a note; it is just not atomic.
                    fs::remove_file(&tmp)?;
                    let mut f = match fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(target)
                    {
                        Ok(f) => f,
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                            return Err(WriteError::ChangedMeanwhile);
                        }
                        Err(e) => return Err(WriteError::Io(e)),
                    };
                    f.write_all(content)?;
                    f.sync_all()?;
                    ours = stat_of(&f.metadata()?);
                }
            },
            Expect::Stat(base) => {
                match file_stat(target) {
                    Ok(now) if &now == base => {}
                    Ok(_) => return Err(WriteError::ChangedMeanwhile),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        return Err(WriteError::ChangedMeanwhile);
                    }
                    Err(e) => return Err(WriteError::Io(e)),
                }
                // Keep the note's permissions (a private note stays private).
                if let Ok(meta) = fs::metadata(target) {
                    fs::set_permissions(&tmp, meta.permissions())?;
                }
                fs::rename(&tmp, target)?;
            }
        }
        // Stat at once, before the folder's fsync widens the window.
        let now = file_stat(target)?;
        sync_dir(dir);
        if now.inode != ours.inode {
            // Replaced since our rename: a base that cannot match makes the next scan read the
            // file, so the other writer's version is imported or kept as a conflict, never
            // taken for ours.
            tracing::warn!(path = %target.display(), "replaced right after our write; it will be read again");
            return Ok(ours);
        }
        Ok(now)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Moves a file into `trash_root`, keeping its vault-relative path, if it is still as the base
/// says. Returns where it went.
pub fn move_to_trash(
    vault: &Path,
    rel: &str,
    trash_root: &Path,
    base: &FileStat,
) -> Result<PathBuf, WriteError> {
    let src = vault.join(rel);
    match file_stat(&src) {
        Ok(now) if &now == base => {}
        Ok(_) => return Err(WriteError::ChangedMeanwhile),
        Err(e) => return Err(WriteError::Io(e)),
    }
    let mut dest = trash_root.join(rel);
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut n = 1;
    while dest.exists() {
        n += 1;
        dest = trash_root.join(format!("{rel}.{n}"));
    }
    fs::rename(&src, &dest)?;
    Ok(dest)
}

/// A free name beside `rel` for the other side of a conflict:
/// `dir/name.conflict-20261121-205334.md`, with `-2`, `-3`... if taken.
pub fn conflict_copy_path(vault: &Path, rel: &str, stamp: &str) -> String {
    let stem = rel.strip_suffix(".md").unwrap_or(rel);
    let mut candidate = format!("{stem}.conflict-{stamp}.md");
    let mut n = 1;
    while vault.join(&candidate).exists() {
        n += 1;
        candidate = format!("{stem}.conflict-{stamp}-{n}.md");
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_write_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/a.md");
        let st = write_note(&p, b"one", Expect::Absent).unwrap();
        assert_eq!(st.size, 3);
        assert!(matches!(
            write_note(&p, b"two", Expect::Absent),
            Err(WriteError::ChangedMeanwhile)
        ));
        assert_eq!(fs::read(&p).unwrap(), b"one");
        let stale = FileStat {
            size: 99,
            ..FileStat::default()
        };
        assert!(matches!(
            write_note(&p, b"two", Expect::Stat(&stale)),
            Err(WriteError::ChangedMeanwhile)
        ));
        write_note(&p, b"three", Expect::Stat(&st)).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"three");
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temp files left behind");
    }

    #[test]
    fn replacing_keeps_permissions_and_links_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.md");
        let st = write_note(&p, b"one", Expect::Absent).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let st = FileStat {
            ctime_ns: file_stat(&p).unwrap().ctime_ns,
            ..st
        };
        write_note(&p, b"two", Expect::Stat(&st)).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );

        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("ext")).unwrap();
        assert!(matches!(
            check_inside(dir.path(), "ext/evil.md"),
            Err(WriteError::ThroughSymlink(_))
        ));
        fs::create_dir(dir.path().join("folder.md")).unwrap();
        assert!(matches!(
            check_inside(dir.path(), "folder.md"),
            Err(WriteError::InTheWay(_))
        ));
        assert!(matches!(
            check_inside(dir.path(), "a.md/x.md"),
            Err(WriteError::InTheWay(_))
        ));
        assert!(check_inside(dir.path(), "new/deep/x.md").is_ok());
    }

    #[test]
    fn trash_keeps_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x/a.md");
        let st = write_note(&p, b"keep me", Expect::Absent).unwrap();
        let trash = dir.path().join(".brain/trash/t1");
        let dest = move_to_trash(dir.path(), "x/a.md", &trash, &st).unwrap();
        assert!(!p.exists());
        assert_eq!(fs::read(dest).unwrap(), b"keep me");
    }
}
