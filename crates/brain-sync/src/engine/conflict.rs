//! Settling conflicts: a note changed on both sides, deleted on one and changed on the other.
//! Whatever the policy, both versions survive: on disk, in the store, or in the conflict record.

use std::collections::HashSet;

use brain_core::layout::{self, VaultLayout};
use brain_core::{ConflictPolicy, EntityRef};
use brain_store::{ConflictKind, FileStat, NewConflict, SyncOp};

use super::{Run, Stop, SyncMode};
use crate::fsio::{self, Expect};
use crate::read::ReadNote;
use crate::scan::DiskFile;

impl Run<'_, '_> {
    pub(super) fn restore_file(&mut self, entity: &EntityRef, path: &str) -> Result<(), Stop> {
        if self.opts.mode == SyncMode::ImportOnly {
            self.report.pending += 1;
            return Ok(());
        }
        self.export(entity, path, None);
        self.conflict(NewConflict {
            kind: ConflictKind::DeletedOnDisk,
            path: path.to_string(),
            entity: Some(entity.clone()),
            store_content: None,
            file_content: None,
            copy_path: None,
            detail: "the file was deleted while the note was changed in the store: the file is written again from the store".into(),
            now_ms: self.now,
        })
    }

    /// Both the file and the entity changed: settle by policy, keeping the losing side.
    ///
    /// `never_synced`: this folder never held the path and is joining the store (its first
    /// whole sync, `Run::joining`). Keeping both then leaves the store's text at the name, as
    /// every other folder holds it, and this folder's text goes to the conflict copy: a folder
    /// that joins never replaces an established note in every folder. Otherwise (a file saved
    /// here while a note of that name waited to be written) the file keeps the name, as the
    /// person editing it expects.
    pub(super) fn both_changed(
        &mut self,
        file: &DiskFile,
        note: ReadNote,
        seen_dirty_hash: Option<String>,
        never_synced: bool,
    ) -> Result<(), Stop> {
        let stored = self.store().get_any(&note.entity.entity_ref)?;
        let store_content = stored.content();
        let file_content = note.entity.content();
        let policy = match self.engine.config.sync.conflict_policy {
            ConflictPolicy::NewestWins if note.entity.updated_ms >= stored.updated_ms => {
                ConflictPolicy::FileWins
            }
            ConflictPolicy::NewestWins => ConflictPolicy::DbWins,
            p => p,
        };
        let entity = note.entity.entity_ref.clone();
        let mut copy_path = None;
        let detail;
        // The import that replaces the store's side and the record that keeps it commit in one
        // transaction: a sync killed between them would lose the store's side, or leave a copy
        // no conflict names.
        let mut group = Vec::with_capacity(3);
        match policy {
            ConflictPolicy::DbWins => {
                detail = "changed on both sides: the store's version was written to the file (db-wins); the file's version is kept in this record".to_string();
                self.export(&entity, &file.path, Some(note.stat.clone()));
            }
            ConflictPolicy::FileWins => {
                detail = "changed on both sides: the file's version was imported (file-wins); the store's version is kept in this record".to_string();
                self.report.updated += 1;
                group.push(SyncOp::Import {
                    entity: note.entity,
                    stat: note.stat,
                    seen_dirty_hash,
                });
            }
            _ if never_synced => {
                let (copy, import) = self.write_conflict_copy(&file.path, &file_content);
                group.extend(import);
                // A copy on disk (beside the note, or under `.brain/conflicts/`) holds this
                // folder's text; one that could not be written leaves the file as it is.
                if !copy.starts_with("(not written") {
                    // The store's text goes to the file only once the copy holding this
                    // folder's text is recorded (exports run after the ops commit), and only
                    // if the file is still as read.
                    self.export(&entity, &file.path, Some(note.stat.clone()));
                    detail = format!(
                        "this folder's file and the store held different text under one name (the folder had not synced it before): the store's version, which the other folders hold, stays at '{}'; this folder's version was written to '{}'",
                        file.path, copy
                    );
                } else {
                    // The copy could not be written: the file keeps its text, untouched.
                    detail = format!(
                        "this folder's file and the store held different text under one name (the folder had not synced it before); the copy of this folder's version could not be written to '{copy}', so the file was left as it is: the store's version is kept in this record"
                    );
                }
                copy_path = Some(copy);
            }
            _ => {
                self.report.updated += 1;
                group.push(SyncOp::Import {
                    entity: note.entity,
                    stat: note.stat,
                    seen_dirty_hash,
                });
                let (copy, import) = self.write_conflict_copy(&file.path, &store_content);
                group.extend(import);
                detail = format!(
                    "changed on both sides: the file's version stays at '{}', the store's version was written to '{}'",
                    file.path, copy
                );
                copy_path = Some(copy);
            }
        }
        let record = NewConflict {
            kind: ConflictKind::BothChanged,
            path: file.path.clone(),
            entity: Some(entity),
            store_content: Some(store_content),
            file_content: Some(file_content),
            copy_path,
            detail,
            now_ms: self.now,
        };
        self.report_conflict(&record);
        group.push(SyncOp::RecordConflict(record));
        self.push_group(group)
    }

    /// Writes the store's side of a conflict beside the file, and returns its path with the op
    /// that imports it as a note of its own (for the caller to commit with the conflict's
    /// record). If that name cannot hold a note (too long), it goes under `.brain/conflicts/`.
    ///
    /// Idempotent: a copy of `rel` already on disk with exactly these bytes (written by a sync
    /// killed before it recorded the conflict, which this run meets again) is used as it is,
    /// never written twice.
    pub(super) fn write_conflict_copy(
        &mut self,
        rel: &str,
        content: &str,
    ) -> (String, Option<SyncOp>) {
        let root = &self.engine.root;
        if let Some(copy) = fsio::existing_conflict_copy(root, rel, content.as_bytes()) {
            tracing::info!(
                path = rel,
                copy,
                "conflict copy already on disk (an interrupted sync wrote it): used as it is"
            );
            // A copy this run's scan saw is imported (or already is a note) as any file is.
            let import = if self.scanned_copies.contains(&copy) {
                None
            } else {
                fsio::file_stat(&root.join(&copy))
                    .ok()
                    .and_then(|stat| self.copy_import(&copy, content, stat))
            };
            if import.is_some() {
                self.report.imported += 1;
            }
            return (copy, import);
        }
        let copy = fsio::conflict_copy_path(root, rel, &self.stamp);
        if self
            .engine
            .builder
            .entity(&copy, content, self.now, self.now)
            .is_ok()
            && let Ok(stat) =
                fsio::write_note(&root.join(&copy), content.as_bytes(), Expect::Absent)
        {
            self.report.imported += 1;
            return (copy.clone(), self.copy_import(&copy, content, stat));
        }
        let hash = &brain_core::content_hash(content.as_bytes())[..12];
        if let Some(kept) = kept_under_brain(root, hash, content.as_bytes()) {
            return (kept, None);
        }
        let fallback = layout::conflict_rel(&format!("{}-{hash}.md", self.stamp));
        match fsio::write_note(&root.join(&fallback), content.as_bytes(), Expect::Absent) {
            Ok(_) => (fallback, None),
            Err(e) => {
                // The conflict record still holds both versions.
                tracing::warn!(path = rel, error = %e, "conflict copy not written");
                (
                    format!("(not written: {e}; both versions are in the conflict record)"),
                    None,
                )
            }
        }
    }

    /// Imports the new conflict copies [`Run::hold_copy`] held back, giving each that no
    /// conflict names (this run's, or any recorded before, resolved or not) a record of its
    /// own, in the same transaction as its import: a copy a sync wrote before it was killed
    /// and never met again (the note changed once more before the next sync), or one a
    /// rebuilt store has no record of, is listed in `brain conflicts list` like any other.
    /// Only copies new to this store: one that came from another device through git sync was
    /// imported by that pull (and is listed on the device that made it), and one already a
    /// note stays as it is.
    pub(super) fn import_held_copies(&mut self) -> Result<(), Stop> {
        let held = std::mem::take(&mut self.held_copies);
        if held.is_empty() {
            return Ok(());
        }
        let mut named: HashSet<String> = self
            .report
            .conflicts
            .iter()
            .filter_map(|c| c.copy_path.clone())
            .collect();
        let path_of = |op: &SyncOp| match op {
            SyncOp::Import { entity, .. } => Some(entity.path.clone()),
            _ => None,
        };
        if held.iter().filter_map(path_of).any(|p| !named.contains(&p)) {
            named.extend(
                self.store()
                    .conflicts(true)?
                    .into_iter()
                    .filter_map(|c| c.copy_path),
            );
        }
        for op in held {
            let (copy, text) = match &op {
                SyncOp::Import { entity, .. } => (entity.path.clone(), entity.content()),
                _ => (String::new(), String::new()),
            };
            let note = fsio::conflict_copy_source(&copy);
            let Some(note) = note.filter(|_| !named.contains(&copy)) else {
                self.push(op)?;
                continue;
            };
            let detail = format!(
                "'{copy}' is a conflict copy of '{note}' that no conflict record named (a sync was stopped after writing it, or the store was rebuilt): it is kept as a note of its own; compare the two, keep what you want, delete the other file, then run `brain conflicts resolve` with this conflict's id"
            );
            let record = NewConflict {
                kind: ConflictKind::BothChanged,
                entity: self.engine.builder.mapper.to_ref(&note).ok(),
                path: note,
                store_content: None,
                file_content: Some(text),
                copy_path: Some(copy),
                detail,
                now_ms: self.now,
            };
            self.report_conflict(&record);
            self.push_group(vec![op, SyncOp::RecordConflict(record)])?;
        }
        Ok(())
    }

    /// The op importing conflict copy `copy` (holding `content`, with `stat`) as a note.
    fn copy_import(&self, copy: &str, content: &str, stat: FileStat) -> Option<SyncOp> {
        let entity = self
            .engine
            .builder
            .entity(copy, content, self.now, self.now)
            .ok()?;
        Some(SyncOp::Import {
            entity,
            stat,
            seen_dirty_hash: None,
        })
    }
}

/// A copy under `.brain/conflicts/` with this content hash and exactly these bytes, if an
/// earlier (interrupted) run wrote one.
fn kept_under_brain(root: &std::path::Path, hash: &str, content: &[u8]) -> Option<String> {
    let suffix = format!("-{hash}.md");
    let dir = VaultLayout::new(root).conflicts_dir();
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.ends_with(&suffix))
        .filter(|name| {
            let path = dir.join(name);
            std::fs::symlink_metadata(&path)
                .is_ok_and(|m| m.is_file() && m.len() == content.len() as u64)
                && std::fs::read(&path).is_ok_and(|b| b == content)
        })
        .map(|name| layout::conflict_rel(&name))
        .collect();
    found.sort();
    found.into_iter().next()
}
