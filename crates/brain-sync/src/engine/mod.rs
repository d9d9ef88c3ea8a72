//! The sync engine: one run of scan, decide, read, apply, export. Classification and the
//! per-file decisions live here; settling conflicts in [`conflict`], the export phase in
//! [`export`].

mod actions;
mod conflict;
mod export;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use brain_core::time::{format_compact, now_ms};
use brain_core::{CancelToken, Config, EntityRef, PathMapper, Phase, ProgressSink, path_key};
use brain_store::{
    BaseStat, ConflictKind, DirtyEntity, FileBase, FileStat, NewConflict, Store, SyncOp, SyncState,
};

use crate::error::SyncError;
use crate::fsio;
use crate::plan::{Action, DiskSide, StoreSide, decide};
use crate::read::{EntityBuilder, read_parallel};
use crate::report::{ConflictNote, SkippedFile, SyncReport};
use crate::scan::{DiskFile, ScanOptions, scan, scan_paths};

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

    fn execute(
        &mut self,
        others: &[String],
        files: &[DiskFile],
        unreadable: &[String],
        state: &SyncState,
        progress: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<(), Stop> {
        let mode = self.opts.mode;
        let dirty: HashMap<&str, &DirtyEntity> =
            state.dirty.iter().map(|d| (d.path.as_str(), d)).collect();
        // Present but unreadable (a folder that lists but cannot be entered, a failed stat) is
        // not gone: its notes are left as they are.
        let unknown = |p: &str| {
            unreadable.iter().any(|d| {
                d.is_empty()
                    || p == d
                    || (p.starts_with(d.as_str()) && p[d.len()..].starts_with('/'))
            })
        };
        // Both lists are sorted by path, so one merge pass pairs every file with its base: no
        // hashing of 10,000 paths on the no-change path.
        let mut bases: Vec<&BaseStat> = state.bases.iter().collect();
        if !bases.is_sorted_by(|a, b| a.path <= b.path) {
            bases.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        }
        let mut pairs: Vec<(&DiskFile, Option<&BaseStat>)> = Vec::with_capacity(files.len());
        let mut gone: Vec<&str> = Vec::new();
        let (mut fi, mut bi) = (0, 0);
        loop {
            match (files.get(fi), bases.get(bi)) {
                (Some(f), Some(b)) if f.path == b.path => {
                    pairs.push((f, Some(b)));
                    fi += 1;
                    bi += 1;
                }
                (Some(f), Some(b)) if f.path < b.path => {
                    pairs.push((f, None));
                    fi += 1;
                }
                (Some(f), None) => {
                    pairs.push((f, None));
                    fi += 1;
                }
                (_, Some(b)) => {
                    if !unknown(&b.path) {
                        gone.push(b.path.as_str());
                    }
                    bi += 1;
                }
                (None, None) => break,
            }
        }

        // Paths that would be one file on a case-insensitive or normalizing file system. Two
        // synced files cannot collide (the second was checked when it was new), so this runs
        // only when there are new files.
        // Paths outside a partial sync are synced notes: a new path may not collide with them
        // either.
        let outside: Vec<DiskFile> = others
            .iter()
            .map(|p| DiskFile {
                path: p.clone(),
                stat: FileStat::default(),
            })
            .collect();
        let mut losers: HashSet<&str> = HashSet::new();
        if pairs.iter().any(|(_, b)| b.is_none()) {
            let mut by_key: HashMap<String, (&DiskFile, bool)> =
                HashMap::with_capacity(files.len());
            for f in &outside {
                by_key.insert(path_key(&f.path), (f, true));
            }
            for &(f, b) in &pairs {
                let key = path_key(&f.path);
                let Some(&(first, first_based)) = by_key.get(&key) else {
                    by_key.insert(key, (f, b.is_some()));
                    continue;
                };
                let (keep, lose) = if b.is_some() && !first_based {
                    by_key.insert(key, (f, true));
                    (f, first)
                } else {
                    (first, f)
                };
                losers.insert(lose.path.as_str());
                let detail = format!(
                    "'{}' differs from '{}' only by letter case or Unicode normalization: on macOS and Windows they are one file, so only '{}' is synced. Rename one of them.",
                    lose.path, keep.path, keep.path
                );
                self.skip(&lose.path, detail.clone());
                self.conflict(NewConflict {
                    kind: ConflictKind::PathCollision,
                    path: lose.path.clone(),
                    entity: None,
                    store_content: None,
                    file_content: None,
                    copy_path: None,
                    detail,
                    now_ms: self.now,
                })?;
            }
        }

        // A synced file the scan no longer reads because this folder now excludes its path
        // (a `.brainignore` line, a dot folder) is not a deleted file: its note stays in the
        // store for every other folder sharing it, and this folder only stops syncing it.
        let (excluded, gone): (Vec<&str>, Vec<&str>) = if gone.is_empty() {
            (Vec::new(), gone)
        } else {
            let mut rules = crate::scan::IgnoreRules::new(&self.engine.root, self.engine.logseq);
            gone.into_iter().partition(|p| rules.is_ignored(p, false))
        };

        // Classify without reading: most files are unchanged by stat and need nothing more.
        // The rest need their full base (hash, entity), fetched in one call.
        let mut to_read: Vec<&DiskFile> = Vec::new();
        let mut same_but_dirty: Vec<&str> = Vec::new();
        let mut need: Vec<&str> = gone.iter().chain(&excluded).copied().collect();
        for &(f, base) in &pairs {
            if !losers.is_empty() && losers.contains(f.path.as_str()) {
                continue;
            }
            match base {
                Some(b) if b.stat == f.stat => {
                    if dirty.contains_key(f.path.as_str()) {
                        same_but_dirty.push(&f.path);
                        need.push(&f.path);
                    } else {
                        self.report.unchanged += 1;
                    }
                }
                _ if mode == SyncMode::ExportOnly => self.report.pending += 1,
                _ if mode == SyncMode::Outbox && !dirty.contains_key(f.path.as_str()) => {
                    self.report.pending += 1;
                }
                _ if f.stat.size > self.engine.config.sync.max_file_bytes => {
                    let reason = format!(
                        "file is {} bytes, over the limit of {} bytes (sync.max_file_bytes); it is left as it is",
                        f.stat.size, self.engine.config.sync.max_file_bytes
                    );
                    self.skip(&f.path, reason);
                }
                _ => {
                    if base.is_some() {
                        need.push(&f.path);
                    }
                    to_read.push(f);
                }
            }
        }
        let full: Vec<FileBase> = if need.is_empty() {
            Vec::new()
        } else {
            self.engine.store.bases(&need)?
        };
        let full: HashMap<&str, &FileBase> = full.iter().map(|b| (b.path.as_str(), b)).collect();

        for path in excluded {
            if let Some(b) = full.get(path) {
                tracing::info!(path, entity = %b.entity, "now excluded from sync in this folder: its note stays in the store");
                self.push(SyncOp::DropBase {
                    entity: b.entity.clone(),
                    path: b.path.clone(),
                })?;
                self.report.excluded_here.push(path.to_string());
            }
        }

        for path in same_but_dirty {
            if let Some(b) = full.get(path) {
                let side = store_side(dirty.get(path));
                let action = decide(Some(&b.hash), DiskSide::SameAsBase, side);
                self.fast_path(b, action)?;
            }
        }

        // Bases whose file is gone.
        let mut gone_by_hash: HashMap<&str, Vec<&FileBase>> = HashMap::new();
        for path in gone {
            let Some(b) = full.get(path).copied() else {
                continue;
            };
            let side = store_side(dirty.get(path));
            match decide(Some(&b.hash), DiskSide::Missing, side) {
                Action::Tombstone => {
                    // A one-way export leaves a deleted file to the import, which can tell a
                    // rename from a delete. The outbox does too, but not for a note changed in
                    // the store (to what its base holds): no import may be coming, if one
                    // already skipped this note as changed during its run.
                    let leave = match mode {
                        SyncMode::ExportOnly => true,
                        SyncMode::Outbox => !dirty.contains_key(path),
                        SyncMode::Full | SyncMode::ImportOnly => false,
                    };
                    if leave {
                        self.report.pending += 1;
                    } else {
                        gone_by_hash.entry(b.hash.as_str()).or_default().push(b);
                    }
                }
                Action::DropBase => self.push(SyncOp::DropBase {
                    entity: b.entity.clone(),
                    path: b.path.clone(),
                })?,
                Action::RestoreFile => self.restore_file(&b.entity, &b.path)?,
                other => unreachable_action(other, &b.path),
            }
        }

        // Entities changed in the store that have neither a file nor a base.
        let has_file = |p: &str| files.binary_search_by(|f| f.path.as_str().cmp(p)).is_ok();
        let has_base = |p: &str| bases.binary_search_by(|b| b.path.as_str().cmp(p)).is_ok();
        for d in &state.dirty {
            if has_file(&d.path) || has_base(&d.path) || unknown(&d.path) {
                continue;
            }
            match decide(None, DiskSide::Missing, store_side(Some(&d))) {
                Action::Export => self.export(&d.entity, &d.path, None),
                Action::DropBase => self.push(SyncOp::DropBase {
                    entity: d.entity.clone(),
                    path: d.path.clone(),
                })?,
                _ => {}
            }
        }

        // Read what moved, in parallel, applying as results arrive. The phase counts the files
        // the scan found, those that did not move done at once, so every view of the job (a
        // bar, `brain status`, an MCP client that joins late) shows one count that ends at the
        // vault's notes: 14,325/15,000 when 675 changed, never 0/675 in one place and
        // 14,325/15,000 in another.
        let total = files.len().max(to_read.len()) as u64;
        progress.start_phase_at(Phase::Importing, total, total - to_read.len() as u64);
        let mut failure: Option<Stop> = None;
        let threads = self.engine.read_threads();
        let root = self.engine.root.clone();
        let builder = self.engine.builder.clone();
        read_parallel(&root, &builder, &to_read, threads, |file, result| {
            progress.advance(1, &file.path);
            let outcome = match result {
                Ok(note) => self.on_read(file, note, &full, &dirty, &mut gone_by_hash),
                Err(reason) => {
                    self.skip(&file.path, reason);
                    Ok(())
                }
            };
            if let Err(stop) = outcome {
                failure = Some(stop);
                return false;
            }
            if cancel.is_cancelled() {
                failure = Some(Stop::Cancelled);
                return false;
            }
            true
        });
        progress.finish_phase();
        if let Some(stop) = failure {
            self.import_held_copies()?;
            self.flush()?;
            return Err(stop);
        }

        // Whatever is still gone was deleted, not moved.
        let gone: Vec<&FileBase> = gone_by_hash.into_values().flatten().collect();
        let would_delete = gone.len() as u64;
        let cfg = &self.engine.config.sync;
        if !self.opts.allow_mass_delete
            && would_delete > cfg.mass_delete_min
            && would_delete as f64 > cfg.mass_delete_share * state.live_entities as f64
        {
            self.import_held_copies()?;
            self.flush()?;
            return Err(Stop::MassDelete {
                would_delete,
                live: state.live_entities,
            });
        }
        for b in gone {
            self.report.deleted += 1;
            tracing::debug!(path = %b.path, "tombstone");
            self.push(SyncOp::Tombstone {
                entity: b.entity.clone(),
                path: b.path.clone(),
                now_ms: self.now,
                seen_dirty_hash: dirty.get(b.path.as_str()).map(|d| d.content_hash.clone()),
            })?;
        }
        // Only a full sync of the whole vault: it has seen every copy, and met (and so named)
        // every conflict still standing.
        self.import_held_copies()?;
        self.flush()?;
        if cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        self.write_deferred(progress, cancel)
    }
}

/// The planner returned an action this stage cannot take. That is a bug in the engine; log it
/// loudly and leave the path alone rather than guess.
fn unreachable_action(action: Action, path: &str) {
    tracing::error!(
        path,
        ?action,
        "sync engine bug: unexpected action; path left unchanged"
    );
    debug_assert!(false, "unexpected {action:?} for {path}");
}
