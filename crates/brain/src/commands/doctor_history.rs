//! The history half of `brain doctor --rebuild`: every note of the new store gets the earlier
//! versions the old store kept of it, as far as the old store can still be read.
//!
//! The old store is read note by note (`history`, then each version's text), so a damaged
//! note costs its own history, not everyone's. A note's old current version becomes an earlier
//! version of the rebuilt note when the file held other text (an edit the old store had not
//! yet imported); when the file held that exact text, the rebuilt note keeps its number.

use std::path::Path;

use brain_core::Config;
use brain_store::{Backend, ListFilter, Version};

/// Reads every note's oldest kept version back (which decodes, and checks against its hash,
/// every version after it): one problem per note whose history does not read back.
pub(super) fn check(store: &dyn Backend, on_postgres: bool) -> Vec<String> {
    let all = ListFilter {
        include_deleted: true,
        ..ListFilter::default()
    };
    let notes = match store.list(&all) {
        Ok(n) => n,
        Err(e) => return vec![format!("the notes' history could not be listed: {e}")],
    };
    let advice = if on_postgres {
        "its later versions and the note itself read back"
    } else {
        "`brain doctor --rebuild` keeps its versions that still read back"
    };
    let mut problems = Vec::new();
    for note in notes {
        let oldest = match store.history(&note.entity) {
            Ok(v) if v.len() > 1 => v[0].number,
            Ok(_) => continue,
            Err(e) => {
                problems.push(format!("history of {}: {e}", note.entity));
                continue;
            }
        };
        if let Err(e) = store.version_text(&note.entity, oldest) {
            problems.push(format!("history of {}: {e}; {advice}", note.entity));
        }
    }
    problems
}

/// What the history recovery did.
#[derive(Default)]
pub(super) struct HistoryRecovery {
    /// Notes that got their earlier versions back.
    pub notes: usize,
    /// Earlier versions written into the new store.
    pub versions: usize,
    /// Notes whose history could not be read or written, with why.
    pub failed: Vec<String>,
    /// Notes deleted in the old store and absent from the files: their history stays in the
    /// old store only.
    pub deleted_left: Vec<String>,
    /// Why the old store could not be read at all.
    pub unreadable: Option<String>,
}

/// Copies the history of every note of `old` (moved aside, opened read-only) onto the same
/// note in `new`, which a rebuild has just imported from the files.
pub(super) fn recover(old: &Path, config: &Config, new: &dyn Backend) -> HistoryRecovery {
    let mut out = HistoryRecovery::default();
    let old = match crate::backend::open_read_only(old, &config.store) {
        Ok(s) => s,
        Err(e) => {
            out.unreadable = Some(e.to_string());
            return out;
        }
    };
    let all = ListFilter {
        include_deleted: true,
        ..ListFilter::default()
    };
    let notes = match old.list(&all) {
        Ok(n) => n,
        Err(e) => {
            out.unreadable = Some(e.to_string());
            return out;
        }
    };
    for note in notes {
        let r = note.entity;
        let now = match new.get_any(&r) {
            Ok(e) if e.deleted_ms.is_none() => e,
            _ => {
                if note.deleted_ms.is_some() {
                    out.deleted_left.push(r.to_string());
                }
                continue;
            }
        };
        match one(old.as_ref(), new, &r, &now.content_hash) {
            Ok(0) => {}
            Ok(n) => {
                out.notes += 1;
                out.versions += n;
            }
            Err(e) => out.failed.push(format!("{r}: {e}")),
        }
    }
    out
}

/// Grafts `r`'s old versions onto the new note (whose text has `hash`); returns how many.
fn one(
    old: &dyn Backend,
    new: &dyn Backend,
    r: &brain_core::EntityRef,
    hash: &str,
) -> Result<usize, brain_store::StoreError> {
    let versions = old.history(r)?;
    let Some((current, kept)) = versions.split_last() else {
        return Ok(0);
    };
    let same = !current.deleted && current.content_hash == hash;
    let wanted: Vec<&Version> = if same {
        kept.iter().collect()
    } else {
        versions.iter().collect()
    };
    if wanted.is_empty() {
        return Ok(0);
    }
    // Newest first: a version that no longer reads takes the ones before it with it (each is
    // stored against the next), never the ones after.
    let mut earlier = Vec::with_capacity(wanted.len());
    let mut lost = None;
    for v in wanted.iter().rev() {
        match old.version_text(r, v.number) {
            Ok(text) => earlier.push(((*v).clone(), text)),
            Err(e) => {
                lost = Some((v.number, e));
                break;
            }
        }
    }
    earlier.reverse();
    new.graft_history(r, &earlier, same.then_some(current))?;
    match lost {
        Some((number, e)) => Err(brain_store::StoreError::Refused(
            format!(
                "versions 1 to {number} could not be read from the old store ({e}); the {} \
                 after them were recovered",
                earlier.len()
            )
            .into(),
        )),
        None => Ok(earlier.len()),
    }
}
