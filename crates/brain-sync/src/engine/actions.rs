//! Turning one path's decision into store operations and deferred writes.

use std::collections::HashMap;

use brain_core::EntityRef;
use brain_store::{ConflictKind, DirtyEntity, FileBase, FileStat, NewConflict, SyncOp};

use super::execute::unreachable_action;
use super::{Deferred, Run, Stop, SyncMode, store_side};
use crate::plan::{Action, DiskSide, StoreSide, decide};
use crate::read::ReadNote;
use crate::scan::DiskFile;

impl Run<'_, '_> {
    pub(super) fn fast_path(&mut self, b: &FileBase, action: Action) -> Result<(), Stop> {
        let stat = b.stat.clone();
        match action {
            Action::Nothing => self.report.unchanged += 1,
            Action::AdoptBase => {
                self.report.unchanged += 1;
                self.push(SyncOp::SetBase { base: b.clone() })?;
            }
            Action::Export => self.export(&b.entity, &b.path, Some(stat)),
            Action::Trash => self.trash(b.entity.clone(), b.path.clone(), stat),
            other => unreachable_action(other, &b.path),
        }
        Ok(())
    }

    /// Moves a deleted entity's file to the trash in the export phase (pending when importing
    /// only).
    pub(super) fn trash(&mut self, entity: EntityRef, path: String, stat: FileStat) {
        if self.opts.mode == SyncMode::ImportOnly {
            self.report.pending += 1;
        } else {
            self.deferred.push(Deferred::Trash { entity, path, stat });
        }
    }

    pub(super) fn export(&mut self, entity: &EntityRef, path: &str, expect: Option<FileStat>) {
        if self.opts.mode == SyncMode::ImportOnly {
            self.report.pending += 1;
            return;
        }
        self.deferred.push(Deferred::Export {
            entity: entity.clone(),
            path: path.to_string(),
            expect,
        });
    }

    pub(super) fn on_read(
        &mut self,
        file: &DiskFile,
        note: ReadNote,
        bases: &HashMap<&str, &FileBase>,
        dirty: &HashMap<&str, &DirtyEntity>,
        gone_by_hash: &mut HashMap<&str, Vec<&FileBase>>,
    ) -> Result<(), Stop> {
        let base = bases.get(file.path.as_str());
        let d = dirty.get(file.path.as_str());
        let side = store_side(d);
        let seen_dirty_hash = d.map(|d| d.content_hash.clone());
        let hash = note.entity.content_hash.clone();
        if base.is_none()
            && side == StoreSide::Clean
            && let Some(from) = gone_by_hash.get_mut(hash.as_str()).and_then(Vec::pop)
        {
            tracing::debug!(from = %from.path, to = %file.path, "rename");
            self.report.renamed += 1;
            return self.push(SyncOp::Rename {
                from: from.entity.clone(),
                from_path: from.path.clone(),
                entity: note.entity,
                stat: note.stat,
                seen_dirty_hash: dirty
                    .get(from.path.as_str())
                    .map(|d| d.content_hash.clone()),
            });
        }
        // The file's entity by today's `vault.entity_types` is not the one its base names: the
        // types changed. The entity moves to its new reference, as a rename keeps it.
        if let Some(b) = base
            && b.entity != note.entity.entity_ref
        {
            tracing::info!(path = %file.path, from = %b.entity, to = %note.entity.entity_ref, "entity type changed");
            self.report.renamed += 1;
            return self.push(SyncOp::Rename {
                from: b.entity.clone(),
                from_path: b.path.clone(),
                entity: note.entity,
                stat: note.stat,
                seen_dirty_hash,
            });
        }
        // A folder that never held this path (one joining a shared store, or restored from an
        // old backup) has the text of a note deleted in the store since: the deletion stands,
        // and this copy goes to the trash here as it went in the folders that saw the delete.
        // A text that differs is news the deletion never saw: it is imported again, as a
        // conflict (`ReviveFromFile`).
        if base.is_none() && side == StoreSide::Deleted && d.is_some_and(|d| d.content_hash == hash)
        {
            tracing::info!(path = %file.path, entity = %note.entity.entity_ref, "the note was deleted in the store: this folder's copy of the same text goes to the trash");
            self.trash(note.entity.entity_ref, file.path.clone(), note.stat);
            return Ok(());
        }
        // A joining folder's old copy of a note moved or renamed since (its text is exactly
        // an earlier version's at this path): the move stands, as a delete does above, and
        // the copy goes to the trash here rather than coming back under its old name.
        if base.is_none()
            && self.joining
            && side == StoreSide::Clean
            && let Some(now_at) = self.store().moved_from(&file.path, Some(&hash))?
            && now_at != note.entity.entity_ref
        {
            tracing::info!(path = %file.path, now = %now_at, "this folder's copy of a note moved since goes to the trash");
            self.trash(note.entity.entity_ref, file.path.clone(), note.stat);
            return Ok(());
        }
        // A file this folder holds no base for, whose text is an earlier version of the note
        // (a folder's copy left behind by an exclusion it lifted, a backup restored): an old
        // copy, not an edit beside the store's. The store's text is written over it; the old
        // text stays in the note's history.
        if base.is_none()
            && let StoreSide::Changed(now) = side
            && now != hash
            && self.store().held_before(&note.entity.entity_ref, &hash)?
        {
            tracing::info!(path = %file.path, entity = %note.entity.entity_ref, "this folder's file holds an earlier version of the note: the store's text is written over it (the old one stays in its history)");
            self.export(&note.entity.entity_ref, &file.path, Some(note.stat));
            return Ok(());
        }
        let action = decide(base.map(|b| b.hash.as_str()), DiskSide::Read(&hash), side);
        tracing::debug!(path = %file.path, ?action, "decided");
        match action {
            Action::Import => {
                let op = SyncOp::Import {
                    entity: note.entity,
                    stat: note.stat,
                    seen_dirty_hash,
                };
                if base.is_some() {
                    self.report.updated += 1;
                    return self.push(op);
                }
                self.report.imported += 1;
                match self.hold_copy(op) {
                    Some(op) => self.push(op),
                    None => Ok(()),
                }
            }
            Action::AdoptBase => {
                self.report.unchanged += 1;
                self.push(SyncOp::SetBase {
                    base: FileBase {
                        path: file.path.clone(),
                        stat: note.stat,
                        hash,
                        entity: note.entity.entity_ref,
                    },
                })
            }
            Action::Export => {
                self.export(&note.entity.entity_ref, &file.path, Some(note.stat));
                Ok(())
            }
            Action::Trash => {
                self.trash(note.entity.entity_ref, file.path.clone(), note.stat);
                Ok(())
            }
            Action::ReviveFromFile => {
                // Moved rather than deleted (`brain mv`, a rename in another folder): say where
                // the note is, so the two can be merged.
                let moved = self
                    .store()
                    .moved_from(&file.path, None)?
                    .filter(|now| self.store().get(now).is_ok());
                let detail = match &moved {
                    Some(now) => format!(
                        "the note was moved to {now} while its old file {} changed here: the \
                         changed file was imported as a note of its own, {}; merge what it adds \
                         into {now} and delete it",
                        file.path, note.entity.entity_ref
                    ),
                    None if base.is_none() => "the note was deleted in the store, and this folder (which had not synced it) holds a different text: the file was imported again".into(),
                    None => "the note was deleted in the store while its file changed: the file was imported again".into(),
                };
                self.report.updated += 1;
                let entity = note.entity.entity_ref.clone();
                let file_content = note.entity.content();
                self.push(SyncOp::Import {
                    entity: note.entity,
                    stat: note.stat,
                    seen_dirty_hash,
                })?;
                self.conflict(NewConflict {
                    kind: ConflictKind::DeletedInStore,
                    path: file.path.clone(),
                    entity: Some(entity),
                    store_content: None,
                    file_content: Some(file_content),
                    copy_path: None,
                    detail,
                    now_ms: self.now,
                })
            }
            // Settling a conflict writes to the vault; an import-only sync leaves it for later.
            Action::Conflict if self.opts.mode == SyncMode::ImportOnly => {
                self.report.pending += 1;
                Ok(())
            }
            Action::Conflict => {
                self.both_changed(file, note, seen_dirty_hash, base.is_none() && self.joining)
            }
            other => {
                unreachable_action(other, &file.path);
                Ok(())
            }
        }
    }
}
