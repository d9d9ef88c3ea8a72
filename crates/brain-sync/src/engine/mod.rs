//! The sync engine: one run of scan, decide, read, apply, export. The run and its state live
//! here; classifying and deciding each path in [`execute`], the per-file
//! actions in [`actions`], settling conflicts in [`conflict`], the export phase in [`export`].

mod actions;
mod conflict;
mod execute;
mod export;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use brain_core::time::{format_compact, now_ms};
use brain_core::{CancelToken, Config, EntityRef, PathMapper, Phase, ProgressSink};
use brain_store::{DirtyEntity, FileStat, NewConflict, Store, SyncOp};

use crate::error::SyncError;
use crate::fsio;
use crate::plan::StoreSide;
use crate::read::EntityBuilder;
use crate::report::{ConflictNote, SkippedFile, SyncReport};
use crate::scan::{ScanOptions, scan, scan_paths};

pub use brain_api::directory::{SyncMode, SyncOptions};

/// Syncs one vault with one store.
pub struct SyncEngine<'a> {
    root: PathBuf,
    config: &'a Config,
    store: &'a dyn Store,
    builder: EntityBuilder,
    logseq: bool,
}

/// A file write postponed to the export phase, after this run's imports are committed.
enum Deferred {
    Export {
        entity: EntityRef,
        path: String,
        expect: Option<FileStat>,
    },
    Trash {
        entity: EntityRef,
        path: String,
        stat: FileStat,
    },
}

impl<'a> SyncEngine<'a> {
    /// An engine for the vault at `root`.
    pub fn new(root: &Path, config: &'a Config, store: &'a dyn Store) -> Result<Self, SyncError> {
        let mapper = PathMapper::new(config.vault.entity_types.iter().cloned())?;
        let logseq = crate::scan::skips_logseq_dir(root, config.vault.format);
        Ok(Self {
            root: root.to_path_buf(),
            config,
            store,
            builder: EntityBuilder {
                mapper,
                logseq,
                max_file_bytes: config.sync.max_file_bytes,
            },
            logseq,
        })
    }

    /// How files become entities in this vault.
    pub fn builder(&self) -> &EntityBuilder {
        &self.builder
    }

    /// Why a note at `rel` could not be written and read back, if it could not: the scan
    /// ignores that path, a folder on the way is a symbolic link or a file, something other
    /// than a regular file (a named pipe, a socket, a device) is at the path, or the file there
    /// is over `sync.max_file_bytes`. The facade refuses such a write up front: stored, it
    /// would stay unwritten for good while `get` answered with text the file never holds.
    pub fn unwritable(&self, rel: &str) -> Option<String> {
        self.unreachable_path(rel)
            .or_else(|| self.too_large_on_disk(rel))
    }

    /// Why the file now at `rel` would never be read back, if it is a regular file over
    /// `sync.max_file_bytes` (only its size is looked at, so a 2 GB sparse file costs a stat).
    fn too_large_on_disk(&self, rel: &str) -> Option<String> {
        let max = self.config.sync.max_file_bytes;
        let meta = std::fs::symlink_metadata(self.root.join(rel)).ok()?;
        (meta.is_file() && meta.len() > max).then(|| {
            format!(
                "the file '{rel}' already there is {} bytes, over the limit of {max} bytes (sync.max_file_bytes): sync never reads it, so the note would never reach it; move or shrink that file (or raise sync.max_file_bytes) and write again",
                meta.len()
            )
        })
    }

    /// Whether this folder's scan leaves `rel` out (`.brainignore`, a dot folder, Logseq's
    /// `logseq/`, a folder that is a vault of its own): a note there is not this folder's.
    fn excluded_here(&self, rel: &str) -> bool {
        let opts = ScanOptions {
            skip_logseq_dir: self.logseq,
            threads: 1,
        };
        crate::scan::is_ignored(&self.root, rel, &opts)
    }

    /// [`SyncEngine::unwritable`] without the size of a file already there: an export may
    /// replace a large file it knows (its base), and a pipe or a device at the path is refused
    /// either way.
    fn unreachable_path(&self, rel: &str) -> Option<String> {
        let opts = ScanOptions {
            skip_logseq_dir: self.logseq,
            threads: 1,
        };
        if crate::scan::is_ignored(&self.root, rel, &opts) {
            return Some(format!(
                "'{rel}' is excluded from sync (a dot folder, Logseq's logseq/ folder, .brainignore, or a folder that is a vault of its own), so a note there would never be read back"
            ));
        }
        fsio::check_inside(&self.root, rel)
            .err()
            .map(|e| e.to_string())
    }

    /// Runs one sync. Reports progress to `progress` and stops at the next file when `cancel`
    /// is set, keeping (committing) what was done.
    pub fn run(
        &self,
        opts: &SyncOptions,
        progress: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<SyncReport, SyncError> {
        let started = Instant::now();
        std::fs::read_dir(&self.root).map_err(|source| SyncError::VaultUnreadable {
            path: self.root.clone(),
            source,
        })?;
        progress.start_phase(Phase::Scanning, None);
        let threads = self.read_threads();
        let scan_opts = ScanOptions {
            skip_logseq_dir: self.logseq,
            threads,
        };
        let (scanned, state, others) = match &opts.only_paths {
            None => {
                let (scanned, state) = std::thread::scope(|s| {
                    let state = s.spawn(|| {
                        let t = Instant::now();
                        let state = self.store.sync_state();
                        tracing::debug!(
                            elapsed_ms = t.elapsed().as_secs_f64() * 1e3,
                            "loaded sync state"
                        );
                        state
                    });
                    let t = Instant::now();
                    let scanned = scan(&self.root, &scan_opts);
                    tracing::debug!(
                        elapsed_ms = t.elapsed().as_secs_f64() * 1e3,
                        files = scanned.files.len(),
                        "scanned"
                    );
                    let state = state
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    (scanned, state)
                });
                (scanned, state?, Vec::new())
            }
            Some(paths) => {
                // Only what these paths touch: a save costs the same in any size of vault.
                let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
                let partial = self.store.sync_state_of(&refs)?;
                (
                    scan_paths(&self.root, paths, &scan_opts),
                    partial.state,
                    partial.colliding,
                )
            }
        };
        progress.advance(scanned.files.len() as u64, "");
        progress.finish_phase();

        let now = now_ms();
        // A first whole sync of a folder with no bases, or any sync of one whose join has not
        // completed yet (cut short, or with files skipped): see `JOINING_KEY`.
        let join_unfinished = self
            .store
            .runtime_state(brain_store::JOINING_KEY)?
            .is_some_and(|s| s.value == serde_json::Value::Bool(true));
        let joining = join_unfinished || (opts.only_paths.is_none() && state.bases.is_empty());
        let mut run = Run {
            engine: self,
            opts,
            now,
            stamp: format_compact(now),
            ops: Vec::new(),
            ops_bytes: 0,
            deferred: Vec::new(),
            scanned_copies: scanned
                .files
                .iter()
                .filter(|f| fsio::conflict_copy_source(&f.path).is_some())
                .map(|f| f.path.clone())
                .collect(),
            held_copies: Vec::new(),
            settled_later: HashSet::new(),
            joining,
            report: SyncReport {
                scanned: scanned.files.len() as u64,
                skipped: scanned.skipped,
                ..SyncReport::default()
            },
        };
        let result = run.execute(
            &others,
            &scanned.files,
            &scanned.unreadable,
            &state,
            progress,
            cancel,
        );
        if result.is_ok() && opts.mode == SyncMode::Full {
            self.remove_stale_temps(&scanned.stale_temps);
        }
        tracing::debug!(
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "sync finished"
        );
        run.report.duration_ms = started.elapsed().as_millis() as u64;
        run.report.skipped.sort_by(|a, b| a.path.cmp(&b.path));
        if !matches!(result, Err(Stop::Store(_))) {
            run.note_unwritten(&state.dirty);
        }
        // The join is complete once a whole sync of the folder ran through with every file
        // settled: later syncs keep a file's text at its name as the person editing expects.
        if result.is_ok()
            && join_unfinished
            && opts.only_paths.is_none()
            && opts.mode == SyncMode::Full
            && run.report.skipped.is_empty()
            && run.report.pending == 0
            && let Err(e) = self.store.set_runtime_state(
                brain_store::JOINING_KEY,
                &serde_json::Value::Bool(false),
                now,
            )
        {
            tracing::warn!(error = %e, "cannot record that this folder's join is complete; the next sync completes it again");
        }
        match result {
            Ok(()) => Ok(run.report),
            Err(Stop::Cancelled) => Err(SyncError::Cancelled {
                report: Box::new(run.report),
            }),
            Err(Stop::MassDelete { would_delete, live }) => Err(SyncError::MassDelete {
                would_delete,
                live,
                share: self.config.sync.mass_delete_share,
                report: Box::new(run.report),
            }),
            Err(Stop::Store(e)) => Err(SyncError::Store(e)),
        }
    }

    /// Removes our temp files a killed write left (see [`crate::scan::STALE_TEMP_AGE`]): each
    /// holds a copy of a note's text the store has, written by a process that never renamed it.
    /// Only a full sync does, once it has settled every note.
    fn remove_stale_temps(&self, stale: &[String]) {
        for rel in stale {
            match std::fs::remove_file(self.root.join(rel)) {
                Ok(()) => tracing::info!(path = %rel, "removed a temp file a killed write left"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %rel, error = %e, "cannot remove a temp file a killed write left");
                }
            }
        }
    }

    fn read_threads(&self) -> usize {
        match self.config.sync.read_threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }
}

enum Stop {
    Cancelled,
    MassDelete { would_delete: u64, live: u64 },
    Store(brain_store::StoreError),
}

impl From<brain_store::StoreError> for Stop {
    fn from(e: brain_store::StoreError) -> Self {
        Stop::Store(e)
    }
}

struct Run<'r, 'a> {
    engine: &'r SyncEngine<'a>,
    opts: &'r SyncOptions,
    now: i64,
    stamp: String,
    ops: Vec<SyncOp>,
    /// Note text held in `ops`, to bound a transaction by size as well as count.
    ops_bytes: usize,
    deferred: Vec<Deferred>,
    /// Files of this run's scan named as conflict copies: a copy an interrupted run wrote is
    /// used again rather than written twice.
    scanned_copies: HashSet<String>,
    /// Imports of new conflict copies, held back to the end of the import (a full sync of the
    /// whole vault only) to commit with a record when no conflict names them.
    held_copies: Vec<SyncOp>,
    /// Paths skipped because their file changed during this run: the next sync reads and
    /// settles them, so their skip is not an edit left unwritten.
    settled_later: HashSet<String>,
    /// A whole-vault sync of a folder that holds no file bases yet: one joining a store that
    /// other folders fill (or attached to a store made elsewhere). Where its files and the
    /// store disagree under one name, the store's text is the established one and keeps the
    /// name ([`Run::both_changed`]). A first sync cut short leaves bases, and the rest of it
    /// then keeps the file's text at the name instead: both versions are kept either way.
    joining: bool,
    report: SyncReport,
}

/// A batch of store writes is committed once it holds this much note text, so no transaction
/// runs long enough to hold up other writers (job heartbeats, `brain put`) for more than a
/// moment, however large the notes.
const COMMIT_BYTES: usize = 8 * 1024 * 1024;

/// Note text an op holds, counted towards [`COMMIT_BYTES`].
fn op_bytes(op: &SyncOp) -> usize {
    match op {
        SyncOp::Import { entity, .. } | SyncOp::Rename { entity, .. } => {
            entity.body.len() + entity.frontmatter.len()
        }
        SyncOp::RecordConflict(c) => {
            c.store_content.as_ref().map_or(0, String::len)
                + c.file_content.as_ref().map_or(0, String::len)
        }
        _ => 0,
    }
}

fn store_side<'d>(d: Option<&&'d DirtyEntity>) -> StoreSide<'d> {
    match d {
        None => StoreSide::Clean,
        Some(d) if d.deleted => StoreSide::Deleted,
        Some(d) => StoreSide::Changed(&d.content_hash),
    }
}

impl Run<'_, '_> {
    fn store(&self) -> &dyn Store {
        self.engine.store
    }

    fn skip(&mut self, path: &str, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::info!(path, %reason, "skipped");
        self.report.skipped.push(SkippedFile {
            path: path.to_string(),
            reason,
        });
    }

    /// Says, in the skip reason and the report, which skips left a live note's edit unwritten
    /// (a pipe or an oversized file at its path, ...), and records them for `brain status`.
    /// Recording is best effort: the skip reason and the report say it either way.
    fn note_unwritten(&mut self, dirty: &[DirtyEntity]) {
        let (notes, entries) = crate::unwritten::mark_skips(
            &self.engine.root,
            self.engine.config.sync.max_file_bytes,
            dirty,
            &mut self.report.skipped,
            &self.settled_later,
        );
        if let Err(e) = crate::unwritten::record(self.store(), entries, self.now) {
            tracing::warn!(error = %e, "cannot record the notes this sync could not write; the sync's report lists them");
        }
        self.report.unwritten = notes;
    }

    fn flush(&mut self) -> Result<(), Stop> {
        if !self.ops.is_empty() {
            self.engine.store.apply(&self.ops)?;
            self.ops.clear();
            self.ops_bytes = 0;
        }
        Ok(())
    }

    /// Pushes `ops` so that they commit in one transaction (none of them starts a commit of
    /// its own part way): for writes that only make sense together.
    fn push_group(&mut self, ops: Vec<SyncOp>) -> Result<(), Stop> {
        let mut ops = ops;
        let Some(last) = ops.pop() else {
            return Ok(());
        };
        for op in ops {
            self.ops_bytes += op_bytes(&op);
            self.ops.push(op);
        }
        self.push(last)
    }

    fn push(&mut self, op: SyncOp) -> Result<(), Stop> {
        self.ops_bytes += op_bytes(&op);
        self.ops.push(op);
        if self.ops.len() >= self.engine.config.sync.commit_every.max(1)
            || self.ops_bytes >= COMMIT_BYTES
        {
            self.flush()?;
        }
        Ok(())
    }

    /// Lists `c` in this run's report (the caller records it).
    fn report_conflict(&mut self, c: &NewConflict) {
        self.report.conflicts.push(ConflictNote {
            path: c.path.clone(),
            kind: c.kind.as_str().to_string(),
            detail: c.detail.clone(),
            copy_path: c.copy_path.clone(),
        });
        tracing::info!(path = %c.path, kind = c.kind.as_str(), "conflict");
    }

    /// Holds back the import of `op`, a new file, to [`Run::import_held_copies`] if it is a
    /// conflict copy and this is a full sync of the whole vault (which has seen every copy and
    /// met every conflict still standing); returns it otherwise.
    fn hold_copy(&mut self, op: SyncOp) -> Option<SyncOp> {
        let whole = self.opts.mode == SyncMode::Full && self.opts.only_paths.is_none();
        match &op {
            SyncOp::Import { entity, .. }
                if whole && self.scanned_copies.contains(&entity.path) =>
            {
                self.held_copies.push(op);
                None
            }
            _ => Some(op),
        }
    }

    fn conflict(&mut self, c: NewConflict) -> Result<(), Stop> {
        self.report_conflict(&c);
        self.push(SyncOp::RecordConflict(c))
    }
}
