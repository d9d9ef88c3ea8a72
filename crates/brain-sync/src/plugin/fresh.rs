//! Freshness, the sync plugin's side: importing what a session's watcher saw before it
//! answers, comparing one file with its base, and telling a one-shot reader that its answer
//! may be older than the files. The facade (`brain_api::Brain::import_now`, `disk_version`,
//! `stale_hint`) calls these through [`brain_api::directory::DirectorySync`].

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::time::{Duration, Instant};

use brain_api::BrainError;
use brain_api::directory::{DiskVersion, ImportNow};
use brain_core::{CancelToken, NoProgress, VaultLayout, content_hash};
use brain_store::jobs::{JobFilter, JobState};
use brain_store::{Conflict, ConflictKind, ListFilter};

use super::VaultSync;
use crate::scan::{ScanOptions, scan_paths, stat_of};
use crate::{SyncEngine, SyncMode, SyncOptions};

/// The most folder entries [`VaultSync::stale_hint`] looks through before it says only that a
/// folder changed: a one-shot read must stay cheap in a folder of 100,000 notes.
const FOLDER_ENTRIES: usize = 20_000;

/// How often a caller waiting for `.brain/sync.lock` looks again.
const LOCK_RETRY: Duration = Duration::from_millis(20);

impl VaultSync {
    /// Imports `paths` (vault-relative, `/`-separated; anything that is not a note is skipped
    /// as a sync would skip it), or the whole vault when `whole`, now, in this process: both
    /// directions for those paths, exactly as the daemon's `directory-import` job does, so an
    /// edit on both sides is settled as a conflict. Holds `.brain/sync.lock` like every sync,
    /// waiting for it at most `wait`; a file the store already has (same stat) costs one `stat`.
    ///
    /// Not a queued job: a session about to answer an agent must not wait out a debounce or a
    /// queue, and its answer must come after the import.
    pub(super) fn import_now(
        &self,
        paths: &[String],
        whole: bool,
        wait: Duration,
    ) -> Result<ImportNow, BrainError> {
        if !whole && paths.is_empty() {
            return Ok(ImportNow::Imported(Box::default()));
        }
        let Some(_lock) = self.lock_sync(wait)? else {
            return Ok(ImportNow::Busy);
        };
        let engine = SyncEngine::new(&self.root, &self.config, self.store.as_ref())?;
        let opts = SyncOptions {
            mode: SyncMode::Full,
            allow_mass_delete: false,
            only_paths: (!whole).then(|| paths.to_vec()),
        };
        let report = engine.run(&opts, &NoProgress, &CancelToken::new())?;
        tracing::debug!(
            paths = paths.len(),
            whole,
            imported = report.imported,
            "imported what the watcher reported before answering"
        );
        Ok(ImportNow::Imported(Box::new(report)))
    }

    /// `.brain/sync.lock`, held, or `None` if another sync still holds it after `wait`.
    fn lock_sync(&self, wait: Duration) -> Result<Option<File>, BrainError> {
        let path = VaultLayout::new(&self.root).sync_lock();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                BrainError::BadRequest(format!(
                    "cannot open {} to import the files changed on disk: {e}; check that \
                     .brain/ is writable",
                    path.display()
                ))
            })?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(file)),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(LOCK_RETRY);
                }
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(BrainError::BadRequest(format!(
                        "cannot lock {} to import the files changed on disk: {e}",
                        path.display()
                    )));
                }
            }
        }
    }

    /// The file at vault-relative `path` when it is not what the store last synced there, or
    /// `None` when it is (its stat equals the base's, or there is neither file nor base). Costs
    /// one `stat` and one base lookup; the file is read and hashed only when its stat moved.
    pub(super) fn disk_version(&self, path: &str) -> Result<Option<DiskVersion>, BrainError> {
        let base = self.store.bases(&[path])?.into_iter().next();
        let abs = self.root.join(path);
        let meta = match std::fs::symlink_metadata(&abs) {
            Ok(m) if m.is_file() => m,
            // Not a regular file (a pipe, a folder): the write's own checks refuse the path.
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(base.map(|_| DiskVersion::Gone));
            }
            Err(e) => {
                return Err(BrainError::BadRequest(format!(
                    "cannot read {} to check it against the store: {e}; nothing was stored",
                    abs.display()
                )));
            }
        };
        if base.as_ref().is_some_and(|b| b.stat == stat_of(&meta)) {
            return Ok(None);
        }
        let bytes = std::fs::read(&abs).map_err(|e| {
            BrainError::BadRequest(format!(
                "cannot read {} to check it against the store: {e}; nothing was stored",
                abs.display()
            ))
        })?;
        let hash = content_hash(&bytes);
        Ok(match base {
            // Touched, copied over with the same bytes: the store's copy is still the file.
            Some(b) if b.hash == hash => None,
            Some(_) => Some(DiskVersion::Changed(hash)),
            None => Some(DiskVersion::Unknown(hash)),
        })
    }

    /// Why an answer read from the store about the notes at `paths` (vault-relative) may be
    /// older than the files, in one sentence with the fix, or `None` when nothing says so. For
    /// one-shot readers with no watcher (`brain get`, `search`, `list`).
    ///
    /// What it can tell, cheaply (a `stat` per path and per folder, one base lookup; a
    /// folder's entries only when its time moved since the last sync): a file of `paths`
    /// edited, replaced or removed since it was synced, and a note added (or renamed) in the
    /// vault's top folder, in a folder of `paths`, or in a new folder under them. It says
    /// nothing for entries that are not notes a sync imports (dot files and folders, other
    /// files, `.brainignore`d paths). It cannot tell a note edited in place or added elsewhere
    /// in the vault: only a sync, or a running `brain serve`, sees those. With a daemon serving the vault, nothing is said:
    /// its watcher imports changes as they happen. A read-only store always says so, since
    /// nothing can be imported into it.
    pub(super) fn stale_hint(&self, paths: &[&str]) -> Option<String> {
        if let Some(skipped) = self.unimportable_file(paths) {
            return Some(skipped);
        }
        let twins = self.open_twins();
        if let Some(twin) = twins.iter().find(|t| paths.contains(&t.path.as_str())) {
            // A sync skips it every time: "run `brain sync`" would be advice that never helps.
            return Some(format!(
                "{} is not synced: {} (conflict #{}; `brain conflicts list` shows it)",
                twin.path, twin.detail, twin.id
            ));
        }
        let changed = self
            .changed_files(paths)
            .or_else(|| self.changed_folder(paths, &twins))?;
        // Notes on disk and none ever stored: there was no "last sync" to be newer than.
        if self.store.change_cursor().ok() == Some(0) {
            return Some(format!(
                "this answer may be stale: no note is imported into the store yet ({changed}): \
                 run `brain sync` to import the vault's notes, or keep `brain serve` running so \
                 they are imported as they change"
            ));
        }
        Some(format!(
            "this answer may be stale: {changed} since the last sync; run `brain sync` to \
             import it, or keep `brain serve` running so changes are imported as they happen"
        ))
    }

    /// The open conflicts of files a sync skips as twins of a synced one (differing only by
    /// letter case or Unicode normalization): they are never imported until renamed, so they
    /// do not make an answer stale. Few, and read only when a hint is being made.
    fn open_twins(&self) -> Vec<Conflict> {
        self.store
            .conflicts(false)
            .map(|all| {
                all.into_iter()
                    .filter(|c| c.kind == ConflictKind::PathCollision)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first of `paths` whose file moved on to what a sync will not import (emptied, or
    /// grown over `sync.max_file_bytes`), as a whole sentence: the answer is the note's last
    /// synced text, and `brain sync` would not change that, so the usual advice would be wrong.
    fn unimportable_file(&self, paths: &[&str]) -> Option<String> {
        let max = self.config.sync.max_file_bytes;
        paths.iter().find_map(|path| {
            let meta = std::fs::symlink_metadata(self.root.join(path)).ok()?;
            let len = meta.len();
            if !meta.is_file() || (len > 0 && len <= max) {
                return None;
            }
            let synced = match self.disk_version(path) {
                Ok(Some(DiskVersion::Changed(_))) => true,
                Ok(Some(DiskVersion::Unknown(_))) => false,
                _ => return None,
            };
            if !synced {
                // Never imported: there is no older text to answer with.
                return Some(if len == 0 {
                    format!(
                        "{path} is empty on disk: a sync skips an empty file, so it is not in \
                         the store; write the note's text in it and run `brain sync`"
                    )
                } else {
                    format!(
                        "{path} is {len} bytes on disk, over sync.max_file_bytes ({max}): a sync \
                         skips it, so it is not in the store; shrink it (or raise the limit) and \
                         run `brain sync`"
                    )
                });
            }
            Some(if len == 0 {
                format!(
                    "this answer is stale: it is the last text synced for {path}, which is empty on disk now: \
                     a sync skips an empty file, so write the note's text in it (or delete the \
                     file) and run `brain sync`"
                )
            } else {
                format!(
                    "this answer is stale: it is the last text synced for {path}, which is {len} bytes on \
                     disk now, over sync.max_file_bytes ({max}): a sync skips it, so shrink it \
                     (or raise the limit) and run `brain sync`"
                )
            })
        })
    }

    /// The first of `paths` whose file is not what the store last synced, described.
    fn changed_files(&self, paths: &[&str]) -> Option<String> {
        let opts = ScanOptions {
            skip_logseq_dir: crate::scan::skips_logseq_dir(&self.root, self.config.vault.format),
            threads: 1,
        };
        for path in paths {
            // A file sync excludes is never imported: "run `brain sync`" would never help.
            if crate::scan::is_ignored(&self.root, path, &opts) {
                continue;
            }
            match self.disk_version(path) {
                Ok(None) => {}
                Ok(Some(DiskVersion::Gone)) => return Some(format!("{path} was removed")),
                Ok(Some(_)) => return Some(format!("{path} changed on disk")),
                Err(e) => {
                    tracing::debug!(path, error = %e, "cannot compare a file with the store");
                }
            }
        }
        None
    }

    /// The first note a sync would import and the store has never seen, in the vault's top
    /// folder or a folder holding a note of `paths` (or in a folder new to the store under
    /// them), described. Only folders whose entries changed after the last directory job of
    /// this vault ended (or every one, when no such job is on record) are listed.
    ///
    /// A folder's time moves for any entry, so it is only the reason to look: what is said is
    /// a note. A dot entry (`.git/`, `.obsidian/`, an editor's swap file), a file that is not
    /// Markdown, a path `.brainignore` excludes, a link, an empty or too large file: none is a
    /// note a sync imports, and none makes an answer stale.
    fn changed_folder(&self, paths: &[&str], twins: &[Conflict]) -> Option<String> {
        let synced_ms = self.last_directory_job_ms().unwrap_or(0);
        let mut folders: Vec<&str> = vec![""];
        for p in paths {
            let folder = p.rsplit_once('/').map_or("", |(f, _)| f);
            if !folders.contains(&folder) {
                folders.push(folder);
            }
        }
        folders.into_iter().find_map(|folder| {
            let modified = std::fs::metadata(self.root.join(folder))
                .and_then(|m| m.modified())
                .ok()?;
            let ms = modified
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_millis();
            if i64::try_from(ms).ok()? <= synced_ms {
                return None;
            }
            self.unsynced_note_in(folder, twins)
        })
    }

    /// A note in `folder`, or anywhere under a subfolder of it the store holds no note in,
    /// that a sync would import and the store has never imported, described. Reads the
    /// folder's entries; a folder too large to look through (over [`FOLDER_ENTRIES`]) is said
    /// to have changed rather than read whole.
    fn unsynced_note_in(&self, folder: &str, twins: &[Conflict]) -> Option<String> {
        let shown = if folder.is_empty() {
            "the vault's top folder".to_string()
        } else {
            format!("{folder}/")
        };
        let mut candidates: Vec<String> = Vec::new();
        let mut todo = vec![folder.to_string()];
        let mut entries_seen = 0usize;
        while let Some(dir) = todo.pop() {
            let Ok(entries) = std::fs::read_dir(self.root.join(&dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                entries_seen += 1;
                if entries_seen > FOLDER_ENTRIES {
                    return Some(format!("files were added, removed or renamed in {shown}"));
                }
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                if name.starts_with('.') {
                    continue;
                }
                let rel = if dir.is_empty() {
                    name.clone()
                } else {
                    format!("{dir}/{name}")
                };
                match entry.file_type() {
                    // A folder the store knows: its own time says whether it changed.
                    Ok(t) if t.is_dir() && !self.store_has_notes_under(&rel) => todo.push(rel),
                    Ok(t) if t.is_file() && name.ends_with(".md") => candidates.push(rel),
                    _ => {}
                }
            }
        }
        let opts = ScanOptions {
            skip_logseq_dir: crate::scan::skips_logseq_dir(&self.root, self.config.vault.format),
            threads: 1,
        };
        let max = self.config.sync.max_file_bytes;
        let scanned = scan_paths(&self.root, &candidates, &opts);
        let notes: Vec<&str> = scanned
            .files
            .iter()
            .filter(|f| f.stat.size > 0 && f.stat.size <= max)
            .map(|f| f.path.as_str())
            .collect();
        if notes.is_empty() {
            return None;
        }
        let known: HashSet<String> = match self.store.bases(&notes) {
            Ok(bases) => bases.into_iter().map(|b| b.path).collect(),
            Err(e) => {
                tracing::debug!(folder, error = %e, "cannot compare a folder's notes with the store");
                return None;
            }
        };
        notes
            .into_iter()
            .find(|p| !known.contains(*p) && !twins.iter().any(|t| t.path == *p))
            .map(|p| format!("{p} was added"))
    }

    /// Whether the store holds a live note under `folder` (so the folder is not new to it).
    fn store_has_notes_under(&self, folder: &str) -> bool {
        self.store
            .list(&ListFilter {
                folder: Some(folder.to_string()),
                limit: 1,
                ..ListFilter::default()
            })
            .map_or(true, |rows| !rows.is_empty())
    }

    /// When the last directory job (sync, import or export) of this vault ended (ms), if one
    /// is still on record: its own file writes are older than that.
    fn last_directory_job_ms(&self) -> Option<i64> {
        [
            crate::jobs::DIRECTORY_SYNC,
            crate::jobs::DIRECTORY_IMPORT,
            crate::jobs::DIRECTORY_EXPORT,
        ]
        .into_iter()
        .filter_map(|t| {
            self.store
                .list_jobs(&JobFilter {
                    job_type: Some(t.into()),
                    states: vec![JobState::Succeeded],
                    limit: 5,
                    ..JobFilter::default()
                })
                .ok()?
                .iter()
                .filter_map(|j| j.finished_ms)
                .max()
        })
        .max()
    }
}
