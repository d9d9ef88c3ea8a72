//! Walking the vault: every Markdown file with its size and mtime, and every place the walk
//! could not see into.
//!
//! The walk never reads file contents; that is what makes a no-change sync cost about as much as
//! `stat`-ing the tree. Folders it cannot read are reported, and the engine treats the files it
//! knew there as unknown rather than deleted.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use brain_core::VaultFormat;
use brain_core::layout;
use brain_store::FileStat;
use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::report::SkippedFile;

/// One Markdown file found by the walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskFile {
    /// Vault-relative path with `/` separators.
    pub path: String,
    /// Size, times and inode, compared with the base.
    pub stat: FileStat,
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct ScanResult {
    /// Markdown files, sorted by path.
    pub files: Vec<DiskFile>,
    /// Entries that are reported and not synced (links, unreadable entries, bad names).
    pub skipped: Vec<SkippedFile>,
    /// Vault-relative folders and files the walk could not see into; the notes known there
    /// are not deletions.
    pub unreadable: Vec<String>,
    /// Our own temp files (`.<name>.brain-tmp-<pid>-<n>`) older than [`STALE_TEMP_AGE`]: a
    /// write that was killed between its temp file and its rename left them. A full sync
    /// removes them (their text is the store's).
    pub stale_temps: Vec<String>,
}

/// How old one of our temp files must be to be a leftover: a write renames its temp file
/// within moments, and a folder shared with another machine may hold one of its writes now.
pub const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether `name` is one of our temp files' names: `.<name>.brain-tmp-<pid>-<n>`.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.')
        && name.rsplit_once(".brain-tmp-").is_some_and(|(_, tail)| {
            tail.split_once('-').is_some_and(|(pid, n)| {
                !pid.is_empty()
                    && !n.is_empty()
                    && pid.bytes().all(|b| b.is_ascii_digit())
                    && n.bytes().all(|b| b.is_ascii_digit())
            })
        })
}

/// How to walk.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Skip the top-level `logseq/` folder (Logseq's config, backups and version files).
    pub skip_logseq_dir: bool,
    /// Walker threads (0 = automatic).
    pub threads: usize,
}

/// The stat the base keeps, from file metadata.
pub fn stat_of(meta: &std::fs::Metadata) -> FileStat {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        FileStat {
            size: meta.len(),
            mtime_ns: meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec(),
            ctime_ns: meta.ctime().saturating_mul(1_000_000_000) + meta.ctime_nsec(),
            inode: meta.ino(),
        }
    }
    #[cfg(not(unix))]
    {
        FileStat {
            size: meta.len(),
            mtime_ns: meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0),
            ctime_ns: 0,
            inode: 0,
        }
    }
}

/// A folder waiting to be listed, with the `.brainignore` rules that apply inside it.
struct DirJob {
    abs: PathBuf,
    rel: String,
    ignores: Vec<Arc<Gitignore>>,
}

#[derive(Default)]
struct Found {
    files: Vec<DiskFile>,
    skipped: Vec<SkippedFile>,
    unreadable: Vec<String>,
    stale_temps: Vec<String>,
}

/// The shared work list of a parallel walk: folders to list and how many are being listed.
struct Queue {
    state: Mutex<(Vec<DirJob>, usize)>,
    wake: Condvar,
}

impl Queue {
    /// The next folder, or `None` when nothing is queued and nobody can queue more.
    fn pop(&self) -> Option<DirJob> {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(job) = g.0.pop() {
                g.1 += 1;
                return Some(job);
            }
            if g.1 == 0 {
                self.wake.notify_all();
                return None;
            }
            g = self.wake.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn push_all(&self, jobs: Vec<DirJob>) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        g.1 -= 1;
        let any = !jobs.is_empty();
        g.0.extend(jobs);
        if any || g.1 == 0 {
            self.wake.notify_all();
        }
    }
}

/// Walks `root`. Dot-folders and dot-files (`.brain`, `.git`, `.obsidian`, `.trash`) are
/// skipped, `.brainignore` files are honoured (gitignore syntax, matched by the `ignore` crate),
/// `.gitignore` is not: a note kept out of git is still a note. Symbolic links are reported and
/// not followed. A folder below the root with a `.brain/` of its own is a vault of its own: it
/// is listed as skipped and known to be there (nothing of it is deleted here), never read.
///
/// Our own walker rather than `ignore::WalkParallel`: it stats only `.md` files and takes every
/// other type from the directory entry, which halves a no-change scan of 10,000 notes.
pub fn scan(root: &Path, opts: &ScanOptions) -> ScanResult {
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        opts.threads
    };
    let queue = Queue {
        state: Mutex::new((
            vec![DirJob {
                abs: root.to_path_buf(),
                rel: String::new(),
                ignores: Vec::new(),
            }],
            0,
        )),
        wake: Condvar::new(),
    };
    let results: Vec<Found> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut found = Found::default();
                    while let Some(job) = queue.pop() {
                        let children = list_dir(job, opts, &mut found);
                        queue.push_all(children);
                    }
                    found
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut out = ScanResult::default();
    for mut f in results {
        out.files.append(&mut f.files);
        out.skipped.append(&mut f.skipped);
        out.unreadable.append(&mut f.unreadable);
        out.stale_temps.append(&mut f.stale_temps);
    }
    out.files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    out.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    out.unreadable.sort();
    out
}

/// Stats just `paths` (a partial sync), with the walk's rules: Markdown only, ignored paths and
/// symbolic links skipped, unreadable ones reported as unknown rather than missing.
pub fn scan_paths(root: &Path, paths: &[String], opts: &ScanOptions) -> ScanResult {
    let mut out = ScanResult::default();
    let mut seen = std::collections::HashSet::new();
    let mut rules = IgnoreRules::new(root, opts.skip_logseq_dir);
    for rel in paths {
        if !seen.insert(rel.as_str()) || !rel.ends_with(".md") || rules.is_ignored(rel, false) {
            continue;
        }
        match fs::symlink_metadata(root.join(rel)) {
            Ok(meta) if meta.file_type().is_symlink() => out.skipped.push(SkippedFile {
                path: rel.clone(),
                reason: "symbolic link: not followed (it could point outside the vault or loop)"
                    .into(),
            }),
            Ok(meta) if meta.is_file() => out.files.push(DiskFile {
                path: rel.clone(),
                stat: stat_of(&meta),
            }),
            Ok(meta) => {
                if let Some(kind) = crate::fsio::special_kind(&meta.file_type()) {
                    out.unreadable.push(rel.clone());
                    out.skipped.push(special_file(rel.clone(), kind));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                out.unreadable.push(rel.clone());
                out.skipped.push(SkippedFile {
                    path: rel.clone(),
                    reason: format!("cannot read: {e}; it is left as it was"),
                });
            }
        }
    }
    out.files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Whether the walk would skip `rel` (dot segments, Logseq's own folder, `.brainignore`
/// patterns on the way, a folder on the way that is a vault of its own). A note written there would never be read back, so it is not written.
pub fn is_ignored(root: &Path, rel: &str, opts: &ScanOptions) -> bool {
    IgnoreRules::new(root, opts.skip_logseq_dir).is_ignored(rel, false)
}

/// Whether a vault in `format` keeps Logseq's own top-level `logseq/` folder (config, backups,
/// version files) out of sync: always for Logseq, for `auto` when `logseq/config.edn` exists.
pub(crate) fn skips_logseq_dir(root: &Path, format: VaultFormat) -> bool {
    match format {
        VaultFormat::Logseq => true,
        VaultFormat::Auto => root.join("logseq").join("config.edn").is_file(),
        VaultFormat::Obsidian | VaultFormat::Plain => false,
    }
}

/// The walk's skip rules for checking paths one at a time (a partial sync, an export's
/// target, a watcher's events), with each folder's `.brainignore` read once and kept: a burst
/// of a thousand events in one folder reads its rules once, not a thousand times.
pub(crate) struct IgnoreRules {
    root: PathBuf,
    skip_logseq_dir: bool,
    /// Folder (absolute) → its parsed `.brainignore`, `None` when it has none (or it is invalid,
    /// which the walk reports).
    loaded: HashMap<PathBuf, Option<Arc<Gitignore>>>,
    /// Folder (absolute, below the root) → whether it is a vault of its own (has `.brain/`).
    nested: HashMap<PathBuf, bool>,
}

impl IgnoreRules {
    /// Rules for the vault at `root`.
    pub(crate) fn new(root: &Path, skip_logseq_dir: bool) -> Self {
        Self {
            root: root.to_path_buf(),
            skip_logseq_dir,
            loaded: HashMap::new(),
            nested: HashMap::new(),
        }
    }

    /// Drops the rules read so far; call when a `.brainignore` changed.
    pub(crate) fn forget(&mut self) {
        self.loaded.clear();
        self.nested.clear();
    }

    /// Whether the walk would skip `rel`, a folder if `is_dir` (patterns like `drafts/` match
    /// folders only), as [`is_ignored`] says.
    pub(crate) fn is_ignored(&mut self, rel: &str, is_dir: bool) -> bool {
        let segments: Vec<&str> = rel.split('/').collect();
        if segments.iter().any(|s| s.starts_with('.')) {
            return true;
        }
        if self.skip_logseq_dir && (segments.len() > 1 || is_dir) && segments[0] == "logseq" {
            return true;
        }
        let mut ignores: Vec<Arc<Gitignore>> = Vec::new();
        let mut dir = self.root.clone();
        for (i, seg) in segments.iter().enumerate() {
            let rules = self
                .loaded
                .entry(dir.clone())
                .or_insert_with(|| load_brainignore(&dir));
            if let Some(gi) = rules {
                ignores.push(gi.clone());
            }
            dir.push(seg);
            let seg_is_dir = i + 1 < segments.len() || is_dir;
            if !ignores.is_empty() && ignored(&ignores, &dir, seg_is_dir) {
                return true;
            }
            // A folder below the root that is a vault of its own: the walk does not go in.
            if i + 1 < segments.len()
                && *self
                    .nested
                    .entry(dir.clone())
                    .or_insert_with(|| layout::state_dir_of(&dir).is_dir())
            {
                return true;
            }
        }
        false
    }
}

/// The `.brainignore` of folder `dir`, if it has a valid one.
fn load_brainignore(dir: &Path) -> Option<Arc<Gitignore>> {
    let file = dir.join(".brainignore");
    if !file.is_file() {
        return None;
    }
    let mut builder = GitignoreBuilder::new(dir);
    if builder.add(&file).is_some() {
        return None;
    }
    builder.build().ok().map(Arc::new)
}

fn join_rel(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        let mut s = String::with_capacity(parent.len() + 1 + name.len());
        s.push_str(parent);
        s.push('/');
        s.push_str(name);
        s
    }
}

fn ignored(ignores: &[Arc<Gitignore>], path: &Path, is_dir: bool) -> bool {
    for gi in ignores.iter().rev() {
        match gi.matched(path, is_dir) {
            Match::Ignore(_) => return true,
            Match::Whitelist(_) => return false,
            Match::None => {}
        }
    }
    false
}

/// The skip entry of a folder that holds a `.brain/` of its own.
fn nested_vault(path: String) -> SkippedFile {
    SkippedFile {
        reason: format!(
            "a vault of its own (it has a .brain/ folder): its notes are synced by that vault, \
             not this one; anything this vault imported from {path}/ before is left as it was"
        ),
        path,
    }
}

/// The skip entry of a `.md` path that holds a named pipe, socket or device.
fn special_file(path: String, kind: &str) -> SkippedFile {
    SkippedFile {
        path,
        reason: format!(
            "{kind}, not a regular file: never opened or written (opening a pipe or device can block); a note of this path is left as it is until it is removed or renamed"
        ),
    }
}

/// Lists one folder: records its Markdown files, returns its subfolders.
fn list_dir(job: DirJob, opts: &ScanOptions, found: &mut Found) -> Vec<DirJob> {
    let entries = match fs::read_dir(&job.abs) {
        Ok(rd) => rd,
        Err(err) => {
            found.unreadable.push(job.rel.clone());
            found.skipped.push(SkippedFile {
                path: job.rel,
                reason: format!("cannot read folder: {err}; its notes are left as they were"),
            });
            return Vec::new();
        }
    };
    let listing = entries;
    let mut entries: Vec<fs::DirEntry> = Vec::new();
    for entry in listing {
        match entry {
            Ok(e) => entries.push(e),
            Err(err) => {
                // An entry that cannot be read: nothing below this folder is known for sure.
                found.unreadable.push(job.rel.clone());
                found.skipped.push(SkippedFile {
                    path: job.rel.clone(),
                    reason: format!(
                        "cannot list every entry: {err}; its notes are left as they were"
                    ),
                });
            }
        }
    }
    if !job.rel.is_empty()
        && entries.iter().any(|e| {
            e.file_name() == OsStr::new(layout::STATE_DIR)
                && e.file_type().is_ok_and(|t| t.is_dir())
        })
    {
        // A vault of its own: its notes belong to its own store. Known to be there (so nothing
        // of it is deleted here) but not read, listed once with the reason.
        found.unreadable.push(job.rel.clone());
        found.skipped.push(nested_vault(job.rel));
        return Vec::new();
    }
    let mut ignores = job.ignores;
    if let Some(i) = entries
        .iter()
        .position(|e| e.file_name() == OsStr::new(".brainignore"))
    {
        let mut builder = GitignoreBuilder::new(&job.abs);
        let err = builder.add(entries[i].path());
        match (err, builder.build()) {
            (None, Ok(gi)) => ignores.push(Arc::new(gi)),
            (Some(e), _) | (None, Err(e)) => found.skipped.push(SkippedFile {
                path: join_rel(&job.rel, ".brainignore"),
                reason: format!("invalid pattern, ignored: {e}"),
            }),
        }
        entries.swap_remove(i);
    }
    let mut dirs = Vec::new();
    for entry in entries {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            found.skipped.push(SkippedFile {
                path: join_rel(&job.rel, &name.to_string_lossy()),
                reason: "file name is not valid UTF-8: rename it".into(),
            });
            continue;
        };
        if name.starts_with('.') {
            if is_temp_name(name)
                && entry.file_type().is_ok_and(|t| t.is_file())
                && entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= STALE_TEMP_AGE))
            {
                found.stale_temps.push(join_rel(&job.rel, name));
            }
            continue;
        }
        let rel = join_rel(&job.rel, name);
        let Ok(ft) = entry.file_type() else {
            found.unreadable.push(rel);
            continue;
        };
        if ft.is_symlink() {
            found.skipped.push(SkippedFile {
                path: rel,
                reason: "symbolic link: not followed (it could point outside the vault or loop)"
                    .into(),
            });
            continue;
        }
        if ft.is_dir() {
            if opts.skip_logseq_dir && job.rel.is_empty() && name == "logseq" {
                continue;
            }
            let abs = entry.path();
            if !ignores.is_empty() && ignored(&ignores, &abs, true) {
                continue;
            }
            dirs.push(DirJob {
                abs,
                rel,
                ignores: ignores.clone(),
            });
        } else if !ft.is_file() && name.ends_with(".md") {
            // A named pipe, socket or device: never opened (opening a pipe or device can block), and known
            // to be there, so the note of that path is neither deleted nor written over it.
            if let Some(kind) = crate::fsio::special_kind(&ft)
                && (ignores.is_empty() || !ignored(&ignores, &entry.path(), false))
            {
                found.unreadable.push(rel.clone());
                found.skipped.push(special_file(rel, kind));
            }
        } else if ft.is_file() && name.ends_with(".md") {
            if !ignores.is_empty() && ignored(&ignores, &entry.path(), false) {
                continue;
            }
            match entry.metadata() {
                Ok(meta) => found.files.push(DiskFile {
                    path: rel,
                    stat: stat_of(&meta),
                }),
                Err(err) => {
                    // Listed but not stat-able (a folder without execute permission): present,
                    // so not a deletion, but unknown.
                    found.unreadable.push(rel.clone());
                    found.skipped.push(SkippedFile {
                        path: rel,
                        reason: format!("cannot read: {err}; it is left as it was"),
                    });
                }
            }
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ScanOptions {
        ScanOptions {
            skip_logseq_dir: true,
            threads: 2,
        }
    }

    #[test]
    fn our_temp_names_are_told_apart() {
        for ours in [
            ".a.md.brain-tmp-12-0",
            ".x y.md.brain-tmp-1-99",
            ".gitignore.brain-tmp-7-3",
        ] {
            assert!(is_temp_name(ours), "{ours}");
        }
        for not in [
            "a.md.brain-tmp-12-0",
            ".a.md.brain-tmp-12",
            ".a.md.brain-tmp-x-1",
            ".a.md.brain-tmp-1-",
            ".a.md",
        ] {
            assert!(!is_temp_name(not), "{not}");
        }
    }

    #[test]
    fn walks_markdown_and_honours_brainignore() {
        let dir = tempfile::tempdir().unwrap();
        let w = |p: &str| {
            let p = dir.path().join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "x").unwrap();
        };
        for p in [
            "a.md",
            "b.txt",
            "sub/c.md",
            "sub/deep/d.md",
            ".obsidian/e.md",
            ".hidden.md",
            "drafts/f.md",
            "sub/keep.md",
            "sub/skip.md",
            "logseq/bak/g.md",
            "x/logseq/h.md",
        ] {
            w(p);
        }
        fs::write(
            dir.path().join(".brainignore"),
            "drafts/
",
        )
        .unwrap();
        fs::write(
            dir.path().join("sub/.brainignore"),
            "skip.md
",
        )
        .unwrap();
        let r = scan(dir.path(), &opts());
        let paths: Vec<_> = r.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "a.md",
                "sub/c.md",
                "sub/deep/d.md",
                "sub/keep.md",
                "x/logseq/h.md"
            ]
        );
        assert!(r.skipped.is_empty(), "{:?}", r.skipped);
        assert_eq!(r.files[0].stat.size, 1);
    }

    #[test]
    fn symlinks_are_reported_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("d")).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("d/loop")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("out.md")).unwrap();
        let r = scan(dir.path(), &opts());
        assert!(r.files.is_empty());
        let skipped: Vec<_> = r.skipped.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(skipped, ["d/loop", "out.md"]);
    }
}
