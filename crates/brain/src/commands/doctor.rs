//! `brain doctor`: is the store sound and does it hold what the files hold; and `--rebuild`,
//! the one way back from a store that is damaged, lost or unreadable.
//!
//! The check reads only: SQLite's `integrity_check`, the full-text index against the entities
//! (skipped, and said so, on a read-only store, since FTS5 checks through a write statement),
//! and every note file against the live entities, path by path. A difference a sync settles
//! (a file edited since the last sync, an entity not yet written to its file) is listed as
//! such; one nothing explains is a problem, and so is any integrity failure (exit 1).
//!
//! The rebuild is `doctor_rebuild.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;
use brain_core::{Config, path_key};
use brain_store::Backend;
use brain_sync::SyncEngine;
use brain_sync::scan::{ScanOptions, scan};
use serde_json::json;

use super::{EXIT_FAILED, doctor_history, doctor_rebuild, locate};
use crate::cli::DoctorArgs;
use crate::config::{self, VaultPaths};
use crate::output;

/// Runs `brain doctor [--rebuild]`.
pub fn run(vault_arg: Option<&Path>, args: &DoctorArgs, json: bool) -> Result<u8> {
    let paths = locate::vault_paths(vault_arg)?;
    paths.require_initialized()?;
    let config = config::load(&paths)?;
    if args.rebuild {
        doctor_rebuild::rebuild(&paths, &config, json)
    } else {
        check(&paths, &config, json)
    }
}

/// One path where files and store disagree.
struct Difference {
    path: String,
    what: String,
    /// A sync settles it (a change on one side since the last sync).
    pending: bool,
    /// Only the user settles it (two names sync treats as one file): said, not a fault of the
    /// store, so no rebuild is advised.
    yours: bool,
}

/// The check: integrity, index, files against entities.
fn check(paths: &VaultPaths, config: &Config, json: bool) -> Result<u8> {
    let db = paths.database();
    let mut problems: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut differences = Vec::new();
    let mut index_checked = false;
    let on_postgres = config.store.backend == brain_core::config::StoreBackend::Postgres;
    let shown = super::store::shown(paths, config);
    match crate::backend::open_existing(&db, &config.store) {
        Err(e) => problems.push(e.to_string()),
        Ok(store) => {
            match store.integrity_problems() {
                Ok(found) => problems.extend(found.into_iter().map(|p| {
                    if on_postgres {
                        format!("PostgreSQL integrity check: {p}")
                    } else {
                        format!("SQLite integrity check: {p}: run `brain doctor --rebuild`")
                    }
                })),
                Err(e) => problems.push(e.to_string()),
            }
            if store.is_read_only() {
                notes.push(
                    "the search index was not checked: the store is read-only (the check \
                     writes through SQLite's FTS5 interface)"
                        .into(),
                );
            } else {
                index_checked = true;
                if let Err(e) = store.check_index() {
                    problems.push(format!(
                        "the search index does not match the notes ({e}): run `brain doctor --rebuild`"
                    ));
                }
            }
            match compare(paths, config, store.as_ref()) {
                Ok(found) => differences = found,
                Err(e) => problems.push(format!("files against notes: {e:#}")),
            }
            problems.extend(doctor_history::check(store.as_ref(), on_postgres));
        }
    }
    let unexplained = differences
        .iter()
        .filter(|d| !d.pending && !d.yours)
        .count();
    for d in &differences {
        if d.yours {
            notes.push(format!("{}: {}", d.path, d.what));
        } else if !d.pending {
            problems.push(format!("{}: {}", d.path, d.what));
        }
    }
    let healthy = problems.is_empty();
    if json {
        output::json(&json!({
            "store": shown,
            "healthy": healthy,
            "problems": problems,
            "notes": notes,
            "differences": differences.iter().map(|d| json!({
                "path": d.path, "what": d.what, "settled_by_sync": d.pending,
                "needs_you": d.yours,
            })).collect::<Vec<_>>(),
        }))?;
    } else {
        let pending: Vec<_> = differences.iter().filter(|d| d.pending).collect();
        let mut text = format!("Store {shown}:\n");
        let kind = if on_postgres { "PostgreSQL" } else { "SQLite" };
        if healthy {
            text.push_str(&if index_checked {
                format!(
                    "  sound: {kind} integrity, search index, every kept version and files \
                     against notes checked.\n"
                )
            } else {
                format!(
                    "  sound: {kind} integrity, every kept version and files against notes \
                     checked.\n"
                )
            });
        }
        for p in &problems {
            text.push_str(&format!("  problem: {p}\n"));
        }
        for n in &notes {
            text.push_str(&format!("  note: {n}\n"));
        }
        if !pending.is_empty() {
            text.push_str(&format!(
                "  {} difference(s) the next `brain sync` settles:\n",
                pending.len()
            ));
            for d in pending {
                text.push_str(&format!("    {}: {}\n", d.path, d.what));
            }
        }
        if !healthy && on_postgres {
            text.push_str(&format!(
                "{} problem(s): `brain doctor --rebuild` computes every note's search text \
                 again in the PostgreSQL store (the store itself is kept); `brain sync` settles \
                 files and notes that disagree.",
                problems.len()
            ));
        } else if !healthy {
            text.push_str(&format!(
                "{} problem(s){}: `brain doctor --rebuild` builds a new store from the note \
                 files, keeping this one beside it.",
                problems.len(),
                if unexplained > 0 {
                    format!(", {unexplained} of them files and store disagreeing")
                } else {
                    String::new()
                }
            ));
        }
        output::line(text.trim_end())?;
    }
    Ok(if healthy { 0 } else { EXIT_FAILED })
}

/// Every note file against every live entity, by path.
fn compare(paths: &VaultPaths, config: &Config, store: &dyn Backend) -> Result<Vec<Difference>> {
    let root = &paths.root;
    let engine = SyncEngine::new(root, config, store)?;
    let builder = engine.builder();
    let scanned = scan(
        root,
        &ScanOptions {
            skip_logseq_dir: builder.logseq,
            threads: 0,
        },
    );
    let mut on_disk: BTreeMap<String, String> = BTreeMap::new();
    for file in &scanned.files {
        // A file sync itself refuses (too large, still being written) is its report's to show.
        if let Ok(note) = builder.read(root, &file.path) {
            on_disk.insert(file.path.clone(), note.entity.content_hash);
        }
    }
    let live: BTreeMap<String, brain_store::LiveFile> = store
        .live_files()?
        .into_iter()
        .map(|l| (l.path.clone(), l))
        .collect();
    let all: BTreeSet<&str> = on_disk
        .keys()
        .chain(live.keys())
        .map(String::as_str)
        .collect();
    let wanted: Vec<&str> = all.iter().copied().collect();
    let bases: BTreeMap<String, String> = store
        .bases(&wanted)?
        .into_iter()
        .map(|b| (b.path, b.hash))
        .collect();
    // Paths that differ only by case or Unicode normalization are one file on macOS and
    // Windows: sync keeps one and skips the others, so they are not "the next sync imports it".
    let mut by_key: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for path in &all {
        by_key.entry(path_key(path)).or_default().push(path);
    }
    let mut out = Vec::new();
    for path in all {
        let file = on_disk.get(path);
        let entity = live.get(path);
        let base = bases.get(path);
        // A new file whose name a live note's file already has, up to case or normalization.
        let twin = (file.is_some() && entity.is_none() && base.is_none())
            .then(|| {
                by_key
                    .get(&path_key(path))?
                    .iter()
                    .find(|p| **p != path && live.contains_key(**p))
                    .copied()
            })
            .flatten();
        let (what, pending) = match (file, entity) {
            (Some(hf), Some(e)) if *hf == e.content_hash => continue,
            (Some(_), Some(e)) if e.dirty => (
                format!(
                    "{} changed in the store; its file is written by the next sync",
                    e.entity
                ),
                true,
            ),
            (Some(hf), Some(e)) if base != Some(hf) => (
                format!(
                    "the file changed since the last sync; the next sync imports it into {}",
                    e.entity
                ),
                true,
            ),
            (Some(_), Some(e)) => (
                format!(
                    "{} holds other text than its file, and neither changed since the last sync",
                    e.entity
                ),
                false,
            ),
            (Some(_), None) if base.is_none() => match twin {
                Some(twin) => (
                    format!(
                        "a file that differs from '{twin}' only by letter case or Unicode \
                         normalization: sync skips it, since on macOS and Windows they are one \
                         file; rename one of them"
                    ),
                    false,
                ),
                None => (
                    "a file no note holds yet; the next sync imports it".to_string(),
                    true,
                ),
            },
            (Some(_), None) => (
                "a file the store has synced but holds no live note for".to_string(),
                false,
            ),
            (None, Some(e)) if e.dirty => (
                format!(
                    "{} is not yet written to a file; the next sync writes it",
                    e.entity
                ),
                true,
            ),
            (None, Some(e)) if base.is_some() => (
                format!(
                    "the file of {} was removed since the last sync; the next sync deletes the note (restorable)",
                    e.entity
                ),
                true,
            ),
            (None, Some(e)) => (
                format!(
                    "{} has no file and no change waiting to be written",
                    e.entity
                ),
                false,
            ),
            (None, None) => continue,
        };
        out.push(Difference {
            path: path.to_string(),
            what,
            pending,
            yours: twin.is_some(),
        });
    }
    Ok(out)
}
