//! Walking the vault: every Markdown file with its size and mtime, and every place the walk
//! could not see into.
//!
//! The walk never reads file contents; that is what makes a no-change sync cost about as much as
//! `stat`-ing the tree. Folders it cannot read are reported, and the engine treats the files it
//! knew there as unknown rather than deleted.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use crate::report::SkippedFile;

/// One Markdown file found by the walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskFile {
    /// Vault-relative path with `/` separators.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct ScanResult {
    /// Markdown files, sorted by path.
    pub files: Vec<DiskFile>,
    /// Entries that are reported and not synced (links, unreadable entries, bad names).
    pub skipped: Vec<SkippedFile>,
    /// Vault-relative folders the walk could not read; their known files are not deletions.
    pub unreadable_dirs: Vec<String>,
}

/// How to walk.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Skip the top-level `logseq/` folder (Logseq's config, backups and version files).
    pub skip_logseq_dir: bool,
    /// Walker threads (0 = automatic).
    pub threads: usize,
}

/// Modification time in nanoseconds; the fast path compares it exactly with the base.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec()
    }
    #[cfg(not(unix))]
    {
        meta.modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0)
    }
}

fn relative(root: &Path, path: &Path) -> Result<String, String> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut out = String::new();
    for comp in rel.components() {
        let s = comp
            .as_os_str()
            .to_str()
            .ok_or_else(|| rel.to_string_lossy().into_owned())?;
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(s);
    }
    Ok(out)
}

#[derive(Default)]
struct Found {
    files: Vec<DiskFile>,
    skipped: Vec<SkippedFile>,
    unreadable_dirs: Vec<String>,
}

/// Walks `root`. Dot-folders and dot-files (`.brain`, `.git`, `.obsidian`, `.trash`) are
/// skipped, `.brainignore` files are honoured (gitignore syntax), `.gitignore` is not: a note kept
/// out of git is still a note. Symbolic links are reported and not followed.
pub fn scan(root: &Path, opts: &ScanOptions) -> ScanResult {
    let found = Mutex::new(Found::default());
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(true)
        .parents(false)
        .ignore(false)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .follow_links(false)
        .add_custom_ignore_filename(".brainignore")
        .threads(opts.threads);
    if opts.skip_logseq_dir {
        let logseq = root.join("logseq");
        builder.filter_entry(move |e| e.path() != logseq);
    }
    let root_buf: PathBuf = root.to_path_buf();
    builder.build_parallel().run(|| {
        let mut local = FlushOnDrop {
            shared: &found,
            buf: Found::default(),
        };
        let root = root_buf.clone();
        Box::new(move |entry| {
            visit(&root, entry, &mut local.buf);
            if local.buf.files.len() >= 512 {
                local.flush();
            }
            WalkState::Continue
        })
    });
    let mut found = found.into_inner().unwrap_or_else(|p| p.into_inner());
    found.files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    found.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    found.unreadable_dirs.sort();
    ScanResult {
        files: found.files,
        skipped: found.skipped,
        unreadable_dirs: found.unreadable_dirs,
    }
}

/// A walker thread's buffer, merged into the shared result in chunks and when the thread ends
/// (the walker drops its visitor then), so threads rarely contend on the lock.
struct FlushOnDrop<'a> {
    shared: &'a Mutex<Found>,
    buf: Found,
}

impl FlushOnDrop<'_> {
    fn flush(&mut self) {
        let mut g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        g.files.append(&mut self.buf.files);
        g.skipped.append(&mut self.buf.skipped);
        g.unreadable_dirs.append(&mut self.buf.unreadable_dirs);
    }
}

impl Drop for FlushOnDrop<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

fn visit(root: &Path, entry: Result<ignore::DirEntry, ignore::Error>, out: &mut Found) {
    let entry = match entry {
        Ok(e) => e,
        Err(err) => {
            let path = error_path(&err);
            let rel = path
                .as_deref()
                .map(|p| relative(root, p).unwrap_or_else(|lossy| lossy))
                .unwrap_or_default();
            out.unreadable_dirs.push(rel.clone());
            out.skipped.push(SkippedFile {
                path: rel,
                reason: format!("cannot read: {err}; its notes are left as they were"),
            });
            return;
        }
    };
    if entry.depth() == 0 {
        return;
    }
    let Some(ft) = entry.file_type() else { return };
    let is_md = entry.path().extension().is_some_and(|e| e == "md");
    if ft.is_symlink() {
        let rel = relative(root, entry.path()).unwrap_or_else(|lossy| lossy);
        out.skipped.push(SkippedFile {
            path: rel,
            reason: "symbolic link: not followed (it could point outside the vault or loop)".into(),
        });
        return;
    }
    if !ft.is_file() || !is_md {
        return;
    }
    let rel = match relative(root, entry.path()) {
        Ok(r) => r,
        Err(lossy) => {
            out.skipped.push(SkippedFile {
                path: lossy,
                reason: "file name is not valid UTF-8: rename the file".into(),
            });
            return;
        }
    };
    match entry.metadata() {
        Ok(meta) => out.files.push(DiskFile {
            path: rel,
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
        }),
        Err(err) => out.skipped.push(SkippedFile {
            path: rel,
            reason: format!("cannot stat: {err}"),
        }),
    }
}

fn error_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        ignore::Error::Partial(errs) => errs.iter().find_map(error_path),
        _ => None,
    }
}
