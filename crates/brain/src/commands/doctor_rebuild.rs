//! `brain doctor --rebuild`, the one way back from a store that is damaged, lost or
//! unreadable.
//!
//! The rebuild never changes a note file. It moves the old store aside
//! (`.brain/brain.db.old-STAMP`, its `-wal` and `-shm` renamed with it so SQLite still reads
//! them together), creates a new store and imports every file. Before that import, it reads the
//! old store (read-only) for edits not yet written to files and writes each where it cannot
//! overwrite anything: to its own path when no file is there, else beside it as a conflict
//! copy (`NAME.conflict-STAMP.md`) for a person to merge. The new store then imports those
//! too. Last, every rebuilt note gets the earlier versions the old store kept of it, as far as
//! they read ([`doctor_history`]). What a rebuild cannot bring back is printed every time.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use brain_core::time::{format_compact, now_ms};
use brain_core::{CancelToken, Config, NoProgress, VaultLayout, content_hash};
use brain_store::Backend;
use brain_sync::{SyncEngine, SyncMode, SyncOptions};
use serde_json::json;

use super::{daemon, doctor_history};
use crate::config::VaultPaths;
use crate::output;

/// What a rebuild cannot bring back, said by every rebuild.
const NOT_RECOVERED: &str = "A rebuild cannot bring back: the job history (`brain jobs list` \
     starts empty), the history of notes deleted in the old store (it stays in the old store), \
     the conflict records (`brain conflicts list` starts empty; conflict copies \
     on disk stay notes), the record of soft-deleted notes (their files in .brain/trash stay), \
     and deletions not yet applied to files (those files are notes again). Edits not yet \
     written to files are recovered from the old store where it can be read, as listed above.";

/// An edit the old store had not yet written to files, and where it went.
struct Recovered {
    entity: String,
    path: String,
    written_to: String,
    /// Written beside a file that differs, rather than to its own path.
    beside: bool,
}

/// What a rebuild got out of the old store.
#[derive(Default)]
struct Recovery {
    recovered: Vec<Recovered>,
    /// Soft deletes not yet applied to files.
    deletions: Vec<String>,
    /// Entities whose edit could not be recovered, with why.
    failed: Vec<String>,
    /// Why the old store could not be read at all.
    unreadable: Option<String>,
}

/// The rebuild: old store aside, edits recovered to files, every file imported.
/// `brain doctor --rebuild` on PostgreSQL: the server keeps its own data safe, so the store is
/// kept and what can drift (the search text) is computed again in place. To start over from
/// the files, copy the brain to SQLite (`brain store copy --to sqlite`) and rebuild that.
fn reindex(paths: &VaultPaths, config: &Config, json: bool) -> Result<u8> {
    let shown = super::store::shown(paths, config);
    let store = crate::backend::open_existing(&paths.database(), &config.store)
        .with_context(|| format!("opening the store of {}", paths.root.display()))?;
    let changed = store
        .reindex()
        .with_context(|| format!("computing the search text again in {shown}"))?;
    if json {
        output::json(&json!({ "store": shown, "reindexed": changed }))?;
    } else {
        output::line(format!(
            "Computed the search text of every note in {shown} again: {changed} note(s) had \
             drifted and are searchable as they are now. The store itself was kept (to start \
             over from the note files, copy it to SQLite with `brain store copy --to sqlite` \
             and rebuild that); run `brain doctor` to check."
        ))?;
    }
    Ok(0)
}

pub(super) fn rebuild(paths: &VaultPaths, config: &Config, json: bool) -> Result<u8> {
    if let Some(pid) = daemon::running(paths) {
        bail!(
            "brain serve (pid {pid}) is serving {} and has its store open: stop it first (Ctrl-C \
             or `kill {pid}`), then run `brain doctor --rebuild` again",
            paths.root.display()
        );
    }
    if config.store.backend != brain_core::config::StoreBackend::Sqlite {
        return reindex(paths, config, json);
    }
    let stamp = format_compact(now_ms());
    let db = paths.database();
    let (old, moved) = move_store_aside(paths, &stamp)?;
    let recovery = if old.exists() {
        recover(paths, config, &old, &stamp)
    } else {
        Recovery::default()
    };
    let store = crate::backend::create(&db, &config.store, None)
        .with_context(|| format!("creating the new store of {}", paths.root.display()))?;
    let engine = SyncEngine::new(&paths.root, config, store.as_ref())?;
    let report = engine
        .run(
            &SyncOptions {
                mode: SyncMode::ImportOnly,
                allow_mass_delete: true,
                only_paths: None,
            },
            &NoProgress,
            &CancelToken::new(),
        )
        .with_context(|| {
            format!(
                "importing the note files into the new store {} (the old one is kept as {}): \
                 fix what is said and run `brain sync`",
                db.display(),
                old.display()
            )
        })?;
    let history = if old.exists() {
        doctor_history::recover(&old, config, store.as_ref())
    } else {
        doctor_history::HistoryRecovery::default()
    };
    let live = store.count_live()?;
    if json {
        output::json(&json!({
            "store": db,
            "old_store": moved,
            "imported": report.imported + report.updated + report.renamed,
            "live_entities": live,
            "skipped": report.skipped,
            "recovered": recovery.recovered.iter().map(|r| json!({
                "entity": r.entity, "path": r.path, "written_to": r.written_to,
                "beside": r.beside,
            })).collect::<Vec<_>>(),
            "deletions_not_applied": recovery.deletions,
            "not_recovered": recovery.failed,
            "old_store_unreadable": recovery.unreadable,
            "history_recovered": {"notes": history.notes, "versions": history.versions},
            "history_not_recovered": history.failed,
            "history_of_deleted_notes_left": history.deleted_left,
            "cannot_bring_back": NOT_RECOVERED,
        }))?;
        return Ok(0);
    }
    let mut text = format!(
        "Rebuilt the store {} from the note files: {live} note(s).\n",
        db.display()
    );
    if moved.is_empty() {
        text.push_str(
            "  There was no old store to keep, so edits not yet written to files cannot be \
             recovered.\n",
        );
    } else {
        text.push_str(&format!(
            "  The old store is kept as: {}\n",
            moved.join(", ")
        ));
    }
    if !report.skipped.is_empty() {
        text.push_str(&format!(
            "  {} file(s) skipped (run `brain sync` to see why).\n",
            report.skipped.len()
        ));
    }
    if let Some(why) = &recovery.unreadable {
        text.push_str(&format!(
            "  The old store could not be read ({why}): edits it had not yet written to files \
             cannot be recovered.\n"
        ));
    }
    if !recovery.recovered.is_empty() {
        text.push_str(&format!(
            "  {} edit(s) the old store had not yet written to files were recovered; no file was \
             overwritten:\n",
            recovery.recovered.len()
        ));
        for r in &recovery.recovered {
            if r.beside {
                text.push_str(&format!(
                    "    {}: its file {} holds other text, so the edit was written beside it as {}: \
                     compare the two, keep what you want in {}, then delete the copy\n",
                    r.entity, r.path, r.written_to, r.path
                ));
            } else {
                text.push_str(&format!(
                    "    {}: written to {} (no file was there)\n",
                    r.entity, r.written_to
                ));
            }
        }
    }
    for f in &recovery.failed {
        text.push_str(&format!("  not recovered: {f}\n"));
    }
    if !moved.is_empty() {
        text.push_str(&history_lines(&history));
    }
    if !recovery.deletions.is_empty() {
        text.push_str(&format!(
            "  Deletions the old store had not yet applied to files (those notes are back; \
             delete them again with `brain rm`): {}\n",
            recovery.deletions.join(", ")
        ));
    }
    text.push_str(NOT_RECOVERED);
    output::line(text)?;
    Ok(0)
}

/// What became of the notes' history, for the rebuild's report.
fn history_lines(h: &doctor_history::HistoryRecovery) -> String {
    let mut text = match &h.unreadable {
        Some(why) => format!(
            "  The history of the notes could not be read from the old store ({why}): \
             `brain history` starts from the rebuilt notes.\n"
        ),
        None => format!(
            "  History: {} earlier version(s) of {} note(s) recovered from the old store \
             (`brain history TYPE/ID`).\n",
            h.versions, h.notes
        ),
    };
    for f in &h.failed {
        text.push_str(&format!("  history not recovered: {f}\n"));
    }
    if !h.deleted_left.is_empty() {
        text.push_str(&format!(
            "  {} note(s) deleted in the old store keep their history there only.\n",
            h.deleted_left.len()
        ));
    }
    text
}

/// Moves the SQLite store's files (the database, its `-wal` and `-shm`) to
/// `.brain/brain.db.old-STAMP` (see [`free_old_name`]) and returns that path and the files
/// moved: a store replaced by a rebuild or a copy is kept, never deleted. A move that fails
/// names what was moved.
pub(super) fn move_store_aside(paths: &VaultPaths, stamp: &str) -> Result<(PathBuf, Vec<String>)> {
    let db = paths.database();
    let old = free_old_name(&paths.layout, stamp);
    let mut moved = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let from = with_suffix(&db, suffix);
        if from.exists() {
            let to = with_suffix(&old, suffix);
            std::fs::rename(&from, &to).with_context(|| {
                format!(
                    "cannot move the old store file {} to {}: nothing was changed besides the \
                     files already moved ({}); check the folder's permissions",
                    from.display(),
                    to.display(),
                    moved.join(", ")
                )
            })?;
            moved.push(to.display().to_string());
        }
    }
    Ok((old, moved))
}

/// `.brain/brain.db.old-STAMP`, or with `-2`, `-3`... when a rebuild in the same second
/// already used it.
fn free_old_name(layout: &VaultLayout, stamp: &str) -> PathBuf {
    let mut n = 1;
    let mut candidate = layout.old_database(stamp, n);
    while ["", "-wal", "-shm"]
        .iter()
        .any(|s| with_suffix(&candidate, s).exists())
    {
        n += 1;
        candidate = layout.old_database(stamp, n);
    }
    candidate
}

/// `path` with `suffix` appended to its name (SQLite's `-wal` and `-shm`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Reads the old store (read-only) for edits not yet written to files and writes each where
/// it overwrites nothing.
fn recover(paths: &VaultPaths, config: &Config, old: &Path, stamp: &str) -> Recovery {
    let mut out = Recovery::default();
    let store = match crate::backend::open_read_only(old, &config.store) {
        Ok(s) => s,
        Err(e) => {
            out.unreadable = Some(e.to_string());
            return out;
        }
    };
    let dirty = match store.sync_state() {
        Ok(state) => state.dirty,
        Err(e) => {
            out.unreadable = Some(e.to_string());
            return out;
        }
    };
    for d in dirty {
        if d.deleted {
            out.deletions.push(d.path);
            continue;
        }
        match recover_one(&paths.root, store.as_ref(), &d.entity, stamp) {
            Ok(Some(r)) => out.recovered.push(r),
            Ok(None) => {}
            Err(e) => out.failed.push(format!("{} ({}): {e:#}", d.entity, d.path)),
        }
    }
    out
}

/// Writes one unwritten edit: to its own path when nothing is there, beside the file as a
/// conflict copy when the file holds other text, nowhere when it holds this text already.
fn recover_one(
    root: &Path,
    store: &dyn Backend,
    entity: &brain_core::EntityRef,
    stamp: &str,
) -> Result<Option<Recovered>> {
    let e = store.get_any(entity)?;
    let content = e.content();
    brain_sync::fsio::check_inside(root, &e.path)?;
    let own = root.join(&e.path);
    let (target, beside) = match std::fs::read(&own) {
        Ok(bytes) if content_hash(&bytes) == content_hash(content.as_bytes()) => return Ok(None),
        Ok(_) => (
            brain_sync::fsio::conflict_copy_path(root, &e.path, stamp),
            true,
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => (e.path.clone(), false),
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read {}", own.display()));
        }
    };
    let full = root.join(&target);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the folder {}", parent.display()))?;
    }
    // `create_new`: whatever appeared there since, it is never overwritten.
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&full)
        .with_context(|| format!("cannot create {}", full.display()))?;
    f.write_all(content.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", full.display()))?;
    Ok(Some(Recovered {
        entity: entity.to_string(),
        path: e.path,
        written_to: target,
        beside,
    }))
}
