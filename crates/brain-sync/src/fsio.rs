//! Writing notes without ever losing one.
//!
//! Every write goes to a temporary file in the target's folder, is fsynced, then takes the
//! target's name: by `rename` when replacing a file we know is unchanged, by `hard_link` when the
//! target must not exist (a link fails instead of overwriting a note someone just created).
//! Many notes are written together ([`write_notes`]) so that their fsyncs overlap: an export
//! is bound by waiting on the disk, not by the work of writing.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use brain_core::trash::{TrashError, TrashMode, keep_in_trash};
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
    /// A named pipe, socket or device stands where the note's file should be: opening a pipe
    /// blocks, and nothing written into one is kept, so it is never opened or replaced.
    #[error(
        "'{path}' is {kind}, not a regular file: brains never opens or writes it (opening a pipe or device can block); remove or rename it"
    )]
    NotARegularFile {
        /// The path, as given.
        path: String,
        /// What it is, in words ("a named pipe (FIFO)").
        kind: &'static str,
    },
    /// The file could not be kept in the trash (it was left where it was).
    #[error(transparent)]
    Trash(#[from] TrashError),
    /// An I/O failure.
    #[error(
        "cannot write the note's file: {0}; check that its folder can be written (permissions, a full or read-only disk), then sync again"
    )]
    Io(#[from] io::Error),
}

/// What a file that is neither a regular file, a folder nor a symbolic link is, in words for a
/// person (`None` for those three). Sync lists such a file as skipped and never opens it: opening
/// a named pipe blocks until someone writes into it.
pub fn special_kind(ft: &fs::FileType) -> Option<&'static str> {
    if ft.is_file() || ft.is_dir() || ft.is_symlink() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if ft.is_socket() {
            return Some("a socket");
        }
        if ft.is_char_device() {
            return Some("a character device");
        }
        if ft.is_block_device() {
            return Some("a block device");
        }
    }
    Some("a special file")
}

/// Why a write found something at `target` it did not expect: a special file there (which the
/// caller must not take for an edit racing the sync), or else a change made meanwhile.
fn changed_or_special(target: &Path) -> WriteError {
    match fs::symlink_metadata(target) {
        Ok(m) => match special_kind(&m.file_type()) {
            Some(kind) => WriteError::NotARegularFile {
                path: target.display().to_string(),
                kind,
            },
            None => WriteError::ChangedMeanwhile,
        },
        Err(_) => WriteError::ChangedMeanwhile,
    }
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
            Ok(m) if last && !m.is_file() => {
                return Err(WriteError::NotARegularFile {
                    path: cur.display().to_string(),
                    kind: special_kind(&m.file_type()).unwrap_or("a special file"),
                });
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

/// Numbers this process's temp files, so two notes whose names share their first 40
/// characters (or two threads writing beside each other) never share a temp file.
static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let short: String = name.chars().take(40).collect();
    let seq = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
    target.with_file_name(format!(".{short}.brain-tmp-{}-{seq}", std::process::id()))
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
    let note = NoteWrite {
        target,
        content,
        expect,
    };
    write_notes(&[note])
        .into_iter()
        .next()
        .unwrap_or_else(|| Err(WriteError::Io(io::Error::other("the write gave no result"))))
}

/// One note for [`write_notes`].
#[derive(Clone, Copy, Debug)]
pub struct NoteWrite<'a> {
    /// Where the note goes.
    pub target: &'a Path,
    /// Its exact bytes.
    pub content: &'a [u8],
    /// What must be at `target` when it is replaced.
    pub expect: Expect<'a>,
}

/// How many fsyncs are in flight at once. The disk, not the CPU, is what they wait on, and a
/// journaling file system commits concurrent fsyncs together: measured on ext4, 8 at once
/// wrote notes about three times as fast as one at a time, and more did no better.
const SYNC_THREADS: usize = 8;

/// A note's temp file, written and (after [`flush_all`]) flushed, not yet under its name.
struct Staged {
    tmp: PathBuf,
    file: File,
}

/// A note under its name, before its folder's fsync: the stat of the file now at the target
/// (taken at once after the rename) and of the one we wrote.
struct Placed {
    now: FileStat,
    ours: FileStat,
}

/// Writes many notes as [`write_note`] writes one, with every guarantee kept (each target is
/// the old file or the new one after a crash, its permissions kept, never written where
/// `expect` no longer holds, never through a link, a file replaced right after our rename not
/// taken for ours, no temp file left behind), but each fsync paid once per batch instead of
/// once per note: every temp file is written first, then all are flushed together (several at
/// a time), then each is checked against its `expect` and renamed, and each folder is fsynced
/// once. One note's failure leaves the others' writes alone. Returns a result per note, in
/// order.
///
/// Each note holds an open file until its rename: callers pass a few hundred at a time.
pub fn write_notes(notes: &[NoteWrite<'_>]) -> Vec<Result<FileStat, WriteError>> {
    let mut made: HashSet<&Path> = HashSet::new();
    let staged: Vec<Result<Staged, WriteError>> = notes
        .iter()
        .map(|n| {
            let dir = n.target.parent().unwrap_or(Path::new("."));
            if !made.contains(dir) {
                fs::create_dir_all(dir)?;
                made.insert(dir);
            }
            stage(n)
        })
        .collect();
    let flushed = flush_all(staged);
    let placed: Vec<Result<Placed, WriteError>> = notes
        .iter()
        .zip(flushed)
        .map(|(n, f)| {
            let (tmp, ours) = f?;
            let placed = place(n, &tmp, ours);
            if placed.is_err() {
                let _ = fs::remove_file(&tmp);
            }
            placed
        })
        .collect();
    // Durability of the renames: each folder once.
    let dirs: Vec<&Path> = notes
        .iter()
        .zip(&placed)
        .filter(|(_, p)| p.is_ok())
        .map(|(n, _)| n.target.parent().unwrap_or(Path::new(".")))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    in_parallel(&dirs, |d| sync_dir(d));
    notes
        .iter()
        .zip(placed)
        .map(|(n, p)| {
            let Placed { now, ours } = p?;
            if now.inode != ours.inode {
                // Replaced since our rename: a base that cannot match makes the next scan read
                // the file, so the other writer's version is imported or kept as a conflict,
                // never taken for ours.
                tracing::warn!(path = %n.target.display(), "replaced right after our write; it will be read again");
                return Ok(ours);
            }
            Ok(now)
        })
        .collect()
}

/// Writes `n`'s bytes to a new temp file beside its target (not flushed yet).
fn stage(n: &NoteWrite<'_>) -> Result<Staged, WriteError> {
    let tmp = temp_path(n.target);
    let mut file = match File::create(&tmp) {
        Ok(f) => f,
        Err(e) => return Err(WriteError::Io(e)),
    };
    if let Err(e) = file.write_all(n.content) {
        drop(file);
        let _ = fs::remove_file(&tmp);
        return Err(WriteError::Io(e));
    }
    Ok(Staged { tmp, file })
}

/// Flushes every staged temp file to disk, several at once; returns each one's path and the
/// stat of what we wrote (to tell it from a file that replaces it later). A temp file that
/// cannot be flushed is removed.
fn flush_all(
    staged: Vec<Result<Staged, WriteError>>,
) -> Vec<Result<(PathBuf, FileStat), WriteError>> {
    let synced = in_parallel(&staged, |s| match s {
        Ok(s) => s
            .file
            .sync_all()
            .and_then(|()| s.file.metadata())
            .map(|m| Some(stat_of(&m))),
        Err(_) => Ok(None),
    });
    staged
        .into_iter()
        .zip(synced)
        .map(|(s, synced)| {
            let Staged { tmp, file } = s?;
            drop(file);
            match synced {
                Ok(Some(ours)) => Ok((tmp, ours)),
                Ok(None) => Err(WriteError::Io(io::Error::other("temp file not flushed"))),
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    Err(WriteError::Io(e))
                }
            }
        })
        .collect()
}

/// Gives the flushed temp file `tmp` its target's name if the target still is as `n.expect`
/// says, and stats the target at once. On error the caller removes `tmp`.
fn place(n: &NoteWrite<'_>, tmp: &Path, mut ours: FileStat) -> Result<Placed, WriteError> {
    let target = n.target;
    match n.expect {
        Expect::Absent => match fs::hard_link(tmp, target) {
            Ok(()) => fs::remove_file(tmp)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(changed_or_special(target));
            }
            Err(_) => {
                // No hard links here (exFAT, some network and FUSE mounts): an exclusive
                // create still never overwrites a note; it is just not atomic.
                fs::remove_file(tmp)?;
                let mut f = match fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(target)
                {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        return Err(changed_or_special(target));
                    }
                    Err(e) => return Err(WriteError::Io(e)),
                };
                f.write_all(n.content)?;
                f.sync_all()?;
                ours = stat_of(&f.metadata()?);
            }
        },
        Expect::Stat(base) => {
            let meta = match fs::symlink_metadata(target) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(WriteError::ChangedMeanwhile);
                }
                Err(e) => return Err(WriteError::Io(e)),
            };
            if &stat_of(&meta) != base {
                return Err(changed_or_special(target));
            }
            // Keep the note's permissions (a private note stays private). The stat matched the
            // base, so this is the regular file we synced, not a link.
            fs::set_permissions(tmp, meta.permissions())?;
            fs::rename(tmp, target)?;
        }
    }
    // Stat at once, before the folder's fsync widens the window.
    let now = file_stat(target)?;
    Ok(Placed { now, ours })
}

/// `f` of every item, in order, run on up to [`SYNC_THREADS`] threads (inline for one item, or
/// if no thread can be started).
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() <= 1 {
        return items.iter().map(&f).collect();
    }
    let per = items.len().div_ceil(SYNC_THREADS);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|chunk| {
                let work = move || chunk.iter().map(f).collect::<Vec<R>>();
                std::thread::Builder::new()
                    .name("brain-fsync".into())
                    .spawn_scoped(s, work)
                    .map_err(|_| chunk)
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(chunk) => chunk.iter().map(f).collect(),
            })
            .collect()
    })
}

/// Moves a file into `trash_root` (a stamp's folder of the trash), keeping its vault-relative
/// path, if it is still as the base says. Returns where it went. The move itself is
/// [`brain_core::keep_in_trash`], the one trash writer, which never overwrites an earlier copy.
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
    let dest = keep_in_trash(vault, rel, trash_root, TrashMode::Move)?;
    remove_emptied_folders(vault, rel);
    Ok(dest)
}

/// Removes the folders on the way to `rel` that its trashing left empty, deepest first and
/// never the vault itself, as git does for a file it removes: a folder renamed or deleted in
/// another folder of a shared store leaves no empty tree behind here. A folder holding
/// anything (a hidden file included) stays; failing to remove one is of no consequence.
fn remove_emptied_folders(vault: &Path, rel: &str) {
    let mut dir = Path::new(rel).parent();
    while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
        if std::fs::remove_dir(vault.join(d)).is_err() {
            break;
        }
        dir = d.parent();
    }
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

pub use brain_core::path::conflict_copy_source;

/// A conflict copy of `rel` already on disk beside it that holds exactly `content`, if there is
/// one. A sync killed after writing a copy and before recording its conflict meets the same
/// conflict again; finding its copy here makes the retry use it rather than write a second,
/// identical one (a note of its own each time, and none of them listed).
pub fn existing_conflict_copy(vault: &Path, rel: &str, content: &[u8]) -> Option<String> {
    let (dir, name) = match rel.rsplit_once('/') {
        Some((dir, name)) => (Some(dir), name),
        None => (None, rel),
    };
    let prefix = format!("{}.conflict-", name.strip_suffix(".md").unwrap_or(name));
    let folder = dir.map_or_else(|| vault.to_path_buf(), |d| vault.join(d));
    let mut found: Vec<String> = Vec::new();
    for entry in fs::read_dir(&folder).ok()?.flatten() {
        let Ok(file_name) = entry.file_name().into_string() else {
            continue;
        };
        if !file_name.starts_with(&prefix) {
            continue;
        }
        let candidate = match dir {
            Some(d) => format!("{d}/{file_name}"),
            None => file_name,
        };
        if conflict_copy_source(&candidate).as_deref() != Some(rel) {
            continue;
        }
        // Only a regular file of the same size is read (never a pipe, never a large file).
        let same_size = entry
            .file_type()
            .is_ok_and(|t| t.is_file() && !t.is_symlink())
            && entry
                .metadata()
                .is_ok_and(|m| m.len() == content.len() as u64);
        if same_size && fs::read(entry.path()).is_ok_and(|b| b == content) {
            found.push(candidate);
        }
    }
    // The oldest name first (names sort by time), so every retry settles on the same copy.
    found.sort();
    found.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_copy_names_are_recognised_and_nothing_else() {
        for (copy, note) in [
            ("a.conflict-20261121-205334.md", "a.md"),
            ("x/y/a b.conflict-20261121-205334-2.md", "x/y/a b.md"),
            (
                "a.conflict-1.conflict-20261121-205334.md",
                "a.conflict-1.md",
            ),
        ] {
            assert_eq!(conflict_copy_source(copy).as_deref(), Some(note), "{copy}");
        }
        for not in [
            "a.md",
            "a.conflict-notes.md",
            "a.conflict-20261121-205334",
            "a.conflict-20261121-20533.md",
            "a.conflict-20261121-205334-.md",
            "a.conflict-20261121-205334-x.md",
            "x/.conflict-20261121-205334.md",
        ] {
            assert_eq!(conflict_copy_source(not), None, "{not}");
        }
    }

    #[test]
    fn an_identical_copy_beside_the_note_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("d")).unwrap();
        fs::write(root.join("d/n.md"), "file side").unwrap();
        assert_eq!(existing_conflict_copy(root, "d/n.md", b"store side"), None);
        fs::write(root.join("d/n.conflict-20260101-000000.md"), "other").unwrap();
        fs::write(root.join("d/m.conflict-20260101-000000.md"), "store side").unwrap();
        fs::write(root.join("d/n.conflict-20260102-000000.md"), "store side").unwrap();
        fs::write(root.join("d/n.conflict-20260103-000000.md"), "store side").unwrap();
        assert_eq!(
            existing_conflict_copy(root, "d/n.md", b"store side").as_deref(),
            Some("d/n.conflict-20260102-000000.md")
        );
    }

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
