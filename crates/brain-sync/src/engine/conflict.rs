//! Settling conflicts: a note changed on both sides, deleted on one and changed on the other.
//! Whatever the policy, both versions survive: on disk, in the store, or in the conflict record.

use brain_core::{ConflictPolicy, EntityRef};
use brain_store::{ConflictKind, NewConflict, SyncOp};

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
    pub(super) fn both_changed(
        &mut self,
        file: &DiskFile,
        note: ReadNote,
        seen_dirty_hash: Option<String>,
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
        match policy {
            ConflictPolicy::DbWins => {
                detail = "changed on both sides: the store's version was written to the file (db-wins); the file's version is kept in this record".to_string();
                self.export(&entity, &file.path, Some(note.stat.clone()));
            }
            ConflictPolicy::FileWins => {
                detail = "changed on both sides: the file's version was imported (file-wins); the store's version is kept in this record".to_string();
                self.report.updated += 1;
                self.push(SyncOp::Import {
                    entity: note.entity,
                    stat: note.stat,
                    seen_dirty_hash,
                })?;
            }
            _ => {
                self.report.updated += 1;
                self.push(SyncOp::Import {
                    entity: note.entity,
                    stat: note.stat,
                    seen_dirty_hash,
                })?;
                let copy = self.write_conflict_copy(&file.path, &store_content)?;
                detail = format!(
                    "changed on both sides: the file's version stays at '{}', the store's version was written to '{}'",
                    file.path, copy
                );
                copy_path = Some(copy);
            }
        }
        self.conflict(NewConflict {
            kind: ConflictKind::BothChanged,
            path: file.path.clone(),
            entity: Some(entity),
            store_content: Some(store_content),
            file_content: Some(file_content),
            copy_path,
            detail,
            now_ms: self.now,
        })
    }

    /// Writes the store's side of a conflict beside the file and imports it as a note of its
    /// own. If that name cannot hold a note (too long), it goes under `.brain/conflicts/`.
    pub(super) fn write_conflict_copy(&mut self, rel: &str, content: &str) -> Result<String, Stop> {
        let root = &self.engine.root;
        let copy = fsio::conflict_copy_path(root, rel, &self.stamp);
        let builder = &self.engine.builder;
        if let Ok(entity) = builder.entity(&copy, content, self.now, self.now)
            && let Ok(stat) =
                fsio::write_note(&root.join(&copy), content.as_bytes(), Expect::Absent)
        {
            self.report.imported += 1;
            self.push(SyncOp::Import {
                entity,
                stat,
                seen_dirty_hash: None,
            })?;
            return Ok(copy);
        }
        let fallback = format!(
            ".brain/conflicts/{}-{}.md",
            self.stamp,
            &brain_core::content_hash(content.as_bytes())[..12]
        );
        match fsio::write_note(&root.join(&fallback), content.as_bytes(), Expect::Absent) {
            Ok(_) => Ok(fallback),
            Err(e) => {
                // The conflict record still holds both versions.
                tracing::warn!(path = rel, error = %e, "conflict copy not written");
                Ok(format!(
                    "(not written: {e}; both versions are in the conflict record)"
                ))
            }
        }
    }
}
