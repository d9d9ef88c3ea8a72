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
    for note in &notes {
        // The note itself first: a damaged current text is the store's fault, not history's.
        if let Ok(e) = store.get_any(&note.entity)
            && brain_core::content_hash(e.content().as_bytes()) != e.content_hash
        {
            problems.push(format!(
                "{}: the store's text does not match the hash it was stored with; \
                 `brain doctor --rebuild` builds the note again from its file",
                note.entity
            ));
        }
    }
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
            Ok((n, lost)) => {
                if n > 0 {
                    out.notes += 1;
                    out.versions += n;
                }
                if let Some(lost) = lost {
                    out.failed.push(format!("{r}: {lost}"));
                }
            }
            Err(e) => out.failed.push(format!("{r}: {e}")),
        }
    }
    out
}

/// Grafts `r`'s old versions onto the new note (whose text has `hash`); returns how many, and
/// which could not be read.
fn one(
    old: &dyn Backend,
    new: &dyn Backend,
    r: &brain_core::EntityRef,
    hash: &str,
) -> Result<(usize, Option<String>), brain_store::StoreError> {
    let versions = old.history(r)?;
    let Some((current, kept)) = versions.split_last() else {
        return Ok((0, None));
    };
    let same = !current.deleted && current.content_hash == hash;
    let wanted: Vec<&Version> = if same {
        kept.iter().collect()
    } else {
        versions.iter().collect()
    };
    if wanted.is_empty() {
        return Ok((0, None));
    }
    // Each version on its own: one that no longer reads is left out, and the ones before it
    // still come along where they read (a version stored whole needs no newer one).
    let mut earlier = Vec::with_capacity(wanted.len());
    let mut lost = Vec::new();
    let mut first_error = None;
    for v in wanted {
        match old.version_text(r, v.number) {
            Ok(text) => earlier.push((v.clone(), text)),
            Err(e) => {
                lost.push(v.number.to_string());
                first_error.get_or_insert(e);
            }
        }
    }
    new.graft_history(r, &earlier, same.then_some(current))?;
    let lost = first_error.map(|e| {
        format!(
            "version(s) {} could not be read from the old store ({e}); the {} other(s) were \
             recovered",
            lost.join(", "),
            earlier.len()
        )
    });
    Ok((earlier.len(), lost))
}
