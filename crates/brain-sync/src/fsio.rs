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
    /// An I/O failure.
    #[error("cannot write: {0}")]
    Io(#[from] io::Error),
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
        drop(f);
        match expect {
            Expect::Absent => {
                if let Err(e) = fs::hard_link(&tmp, target) {
                    return Err(if e.kind() == io::ErrorKind::AlreadyExists {
                        WriteError::ChangedMeanwhile
                    } else {
                        WriteError::Io(e)
                    });
                }
                fs::remove_file(&tmp)?;
            }
            Expect::Stat(base) => {
                match file_stat(target) {
                    Ok(now) if &now == base => {}
                    Ok(_) => return Err(WriteError::ChangedMeanwhile),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        return Err(WriteError::ChangedMeanwhile);
                    }
                    Err(e) => return Err(WriteError::Io(e)),
                }
                fs::rename(&tmp, target)?;
            }
        }
        sync_dir(dir);
        Ok(file_stat(target)?)
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
