//! Notes whose edit in the store is not in their file, because something at the note's path
//! stops a sync from writing it: a named pipe, socket or device (never opened: opening a pipe
//! blocks), a file over `sync.max_file_bytes` (never read, so never written over), or another
//! lasting obstacle (a link or a folder in the way, an unreadable file).
//!
//! Such an edit was acknowledged (`brain put` answered "written by the next sync") and is kept
//! in the store, but the user would otherwise learn of it only inside a job's result. So every
//! sync that meets one says so in its skip reason and its report ([`SyncReport::unwritten`],
//! which the job handlers log as a WARN), and records it in the store's runtime state under
//! [`STATE_KEY`]: that record survives the daemon restarting, and `brain status` lists it from
//! there. A record is a hint, never the truth: each reader checks every entry against the store
//! (the entity still live, its path's base not holding its hash) and drops a note written since,
//! so nothing is listed once its file holds it.
//!
//! [`SyncReport::unwritten`]: crate::SyncReport::unwritten

use std::collections::{HashMap, HashSet};
use std::path::Path;

use brain_core::EntityRef;
use brain_store::{DirtyEntity, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::report::SkippedFile;
pub use brain_api::directory::UnwrittenNote;

/// The runtime-state key of the record of unwritten notes.
pub const STATE_KEY: &str = "unwritten-notes";

/// One entry of the record: the note, and the version of it that was not written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    path: String,
    entity: String,
    content_hash: String,
    reason: String,
}

/// What stands at a note's path, found by `lstat` alone (nothing is opened).
enum Obstacle {
    /// A named pipe, socket or device.
    Special(&'static str),
    /// A regular file over `sync.max_file_bytes`.
    TooLarge(u64),
    /// Nothing there, or a regular file a sync can read: the next sync settles the path.
    Gone,
    /// Something else (a folder, a link, an unreadable entry): the skip reason says what.
    Other,
}

fn obstacle(root: &Path, rel: &str, max_file_bytes: u64) -> Obstacle {
    let meta = match std::fs::symlink_metadata(root.join(rel)) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Obstacle::Gone,
        Err(_) => return Obstacle::Other,
    };
    if let Some(kind) = crate::fsio::special_kind(&meta.file_type()) {
        return Obstacle::Special(kind);
    }
    match meta.is_file() {
        true if meta.len() > max_file_bytes => Obstacle::TooLarge(meta.len()),
        true => Obstacle::Gone,
        false => Obstacle::Other,
    }
}

/// What the user does about `obstacle` at `rel`.
fn advice(rel: &str, obstacle: &Obstacle) -> String {
    match obstacle {
        Obstacle::Special(_) => format!("remove '{rel}' or move it out of the vault"),
        Obstacle::TooLarge(_) => {
            format!("move '{rel}' out of the vault or shrink it (or raise sync.max_file_bytes)")
        }
        Obstacle::Gone | Obstacle::Other => format!(
            "make '{rel}' writable (remove what is in the way there, or fix its folder's \
             permissions, or a full or read-only disk)"
        ),
    }
}

/// Marks the skips of this run that left a live note's edit unwritten: every skip of a path
/// whose note changed in the store, except those in `settled_later` (a file that changed during
/// the sync is read by the next one, which settles the path). Each such skip's reason is
/// extended to say so and what to do. Returns the notes, and the record entries to keep.
pub(crate) fn mark_skips(
    root: &Path,
    max_file_bytes: u64,
    dirty: &[DirtyEntity],
    skipped: &mut [SkippedFile],
    settled_later: &HashSet<String>,
) -> (Vec<UnwrittenNote>, Vec<Entry>) {
    let mut notes = Vec::new();
    let mut entries = Vec::new();
    if skipped.is_empty() {
        return (notes, entries);
    }
    let live: HashMap<&str, &DirtyEntity> = dirty
        .iter()
        .filter(|d| !d.deleted)
        .map(|d| (d.path.as_str(), d))
        .collect();
    let mut seen: HashSet<String> = HashSet::new();
    for s in skipped.iter_mut() {
        if settled_later.contains(&s.path) || seen.contains(&s.path) {
            continue;
        }
        let Some(d) = live.get(s.path.as_str()) else {
            continue;
        };
        seen.insert(s.path.clone());
        let what = obstacle(root, &s.path, max_file_bytes);
        s.reason = format!(
            "{}. The store holds an edit of {} that is not in this file (the edit is kept in the store): {}, then `brain sync` writes the note",
            s.reason.trim_end_matches('.'),
            d.entity,
            advice(&s.path, &what)
        );
        notes.push(UnwrittenNote {
            path: s.path.clone(),
            entity: d.entity.to_string(),
            reason: s.reason.clone(),
        });
        entries.push(Entry {
            path: s.path.clone(),
            entity: d.entity.to_string(),
            content_hash: d.content_hash.clone(),
            reason: s.reason.clone(),
        });
    }
    (notes, entries)
}

fn load(store: &dyn Store) -> Result<Vec<Entry>, StoreError> {
    let Some(state) = store.runtime_state(STATE_KEY)? else {
        return Ok(Vec::new());
    };
    // A record this version cannot read is dropped: it is rebuilt by the next sync that meets
    // each note.
    Ok(serde_json::from_value(state.value["notes"].clone()).unwrap_or_default())
}

/// Whether `entry`'s note is still live with an edit its file does not hold.
fn still_unwritten(store: &dyn Store, entry: &Entry) -> Result<bool, StoreError> {
    let Ok(r) = entry.entity.parse::<EntityRef>() else {
        return Ok(false);
    };
    let e = match store.get(&r) {
        Ok(e) => e,
        Err(StoreError::NotFound(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    if e.path != entry.path {
        return Ok(false);
    }
    let written = store
        .bases(&[e.path.as_str()])?
        .iter()
        .any(|b| b.entity == r && b.hash == e.content_hash);
    Ok(!written)
}

/// Records `found` (this run's unwritten notes) with the entries of earlier runs still
/// unwritten, and drops the rest. Writes nothing when there was and is nothing to record.
pub(crate) fn record(store: &dyn Store, found: Vec<Entry>, now_ms: i64) -> Result<(), StoreError> {
    let old = load(store)?;
    if old.is_empty() && found.is_empty() {
        return Ok(());
    }
    let mut keep = found;
    for e in &old {
        if !keep.iter().any(|k| k.path == e.path) && still_unwritten(store, e)? {
            keep.push(e.clone());
        }
    }
    keep.sort_by(|a, b| a.path.cmp(&b.path));
    if keep == old {
        return Ok(());
    }
    store.set_runtime_state(STATE_KEY, &json!({ "notes": keep }), now_ms)
}

/// The notes whose edit in the store is not in their file because a sync could not write it,
/// from the record, each checked against the store (one written since is left out) and
/// described by what is at its path now (found with `lstat`, never opened). For `brain status`:
/// the user must learn that an acknowledged edit is not on disk, and what to do.
pub fn unwritten_notes(
    root: &Path,
    max_file_bytes: u64,
    store: &dyn Store,
) -> Result<Vec<UnwrittenNote>, StoreError> {
    let mut out = Vec::new();
    for e in load(store)? {
        if !still_unwritten(store, &e)? {
            continue;
        }
        let what = obstacle(root, &e.path, max_file_bytes);
        let then = "then `brain sync` (or the running `brain serve`) writes the note; the edit is kept in the store";
        let reason = match &what {
            Obstacle::Special(kind) => {
                format!(
                    "{} holds {kind}, not the note: {}; {then}",
                    e.path,
                    advice(&e.path, &what)
                )
            }
            Obstacle::TooLarge(size) => format!(
                "{} holds a file of {size} bytes, over sync.max_file_bytes ({max_file_bytes}), that sync never reads or writes over: {}; {then}",
                e.path,
                advice(&e.path, &what)
            ),
            // Nothing is at the path now, so the last try failed for a reason that is not
            // visible there (a full or read-only disk, a folder's permissions): say that
            // reason, not that the obstacle is gone.
            Obstacle::Gone => format!(
                "{}: the last try to write it failed: {}; once that is fixed, the next sync (`brain sync`, or the running `brain serve`) writes the note there (or, if a file of other text is there by then, keeps both versions)",
                e.path, e.reason
            ),
            Obstacle::Other => e.reason.clone(),
        };
        out.push(UnwrittenNote {
            path: e.path,
            entity: e.entity,
            reason,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirty(path: &str, deleted: bool) -> DirtyEntity {
        DirtyEntity {
            entity: EntityRef::new("note", path.trim_end_matches(".md")),
            path: path.to_string(),
            content_hash: format!("hash of {path}"),
            deleted,
        }
    }

    fn skip(path: &str) -> SkippedFile {
        SkippedFile {
            path: path.to_string(),
            reason: "in the way.".to_string(),
        }
    }

    /// Only a skip that leaves a live note's edit unwritten is marked: not a file no note is
    /// waiting for, not a deleted note's (its delete is not an edit), and not a file that
    /// changed during the sync (the next sync reads and settles it).
    #[test]
    fn only_skips_that_hold_back_a_live_edit_are_marked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big.md"), vec![b'x'; 100]).unwrap();
        let dirty = [
            dirty("big.md", false),
            dirty("gone.md", true),
            dirty("raced.md", false),
        ];
        let mut skipped = vec![
            skip("big.md"),
            skip("big.md"),
            skip("gone.md"),
            skip("lone.md"),
            skip("raced.md"),
        ];
        let later = HashSet::from(["raced.md".to_string()]);
        let (notes, entries) = mark_skips(dir.path(), 10, &dirty, &mut skipped, &later);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            (notes[0].path.as_str(), notes[0].entity.as_str()),
            ("big.md", "note/big")
        );
        assert_eq!(entries[0].content_hash, "hash of big.md");
        assert_eq!(
            skipped[0].reason,
            "in the way. The store holds an edit of note/big that is not in this file (the edit is kept in the store): move 'big.md' out of the vault or shrink it (or raise sync.max_file_bytes), then `brain sync` writes the note"
        );
        for s in &skipped[1..] {
            assert_eq!(s.reason, "in the way.", "{}", s.path);
        }
    }
}
