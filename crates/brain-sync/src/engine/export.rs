//! The export phase: writing entities changed in the store to their files and moving the files
//! of deleted entities to the trash, after this run's imports are committed.

use brain_core::{CancelToken, EntityRef, Phase, ProgressSink};
use brain_store::{FileBase, FileStat, SyncOp};

use super::{Deferred, Run, Stop};
use crate::fsio::{self, Expect, WriteError};

impl Run<'_, '_> {
    pub(super) fn write_deferred(
        &mut self,
        progress: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<(), Stop> {
        let deferred = std::mem::take(&mut self.deferred);
        if deferred.is_empty() {
            return Ok(());
        }
        progress.start_phase(Phase::Exporting, Some(deferred.len() as u64));
        let trash_root = self
            .engine
            .root
            .join(".brain")
            .join("trash")
            .join(&self.stamp);
        for item in deferred {
            if cancel.is_cancelled() {
                self.flush()?;
                progress.finish_phase();
                return Err(Stop::Cancelled);
            }
            match item {
                Deferred::Export {
                    entity,
                    path,
                    expect,
                } => {
                    progress.advance(1, &path);
                    self.write_one(&entity, &path, expect)?;
                }
                Deferred::Trash { entity, path, stat } => {
                    progress.advance(1, &path);
                    match fsio::move_to_trash(&self.engine.root, &path, &trash_root, &stat) {
                        Ok(dest) => {
                            tracing::debug!(path, trash = %dest.display(), "trashed");
                            self.report.trashed += 1;
                            self.push(SyncOp::DropBase { entity, path })?;
                        }
                        Err(e) => self.skip(&path, format!("not moved to the trash: {e}")),
                    }
                }
            }
        }
        progress.finish_phase();
        self.flush()
    }

    pub(super) fn write_one(
        &mut self,
        entity: &EntityRef,
        path: &str,
        expect: Option<FileStat>,
    ) -> Result<(), Stop> {
        let e = match self.store().get(entity) {
            Ok(e) => e,
            Err(brain_store::StoreError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if let Some(reason) = self.engine.unreachable_path(path) {
            self.report.pending += 1;
            self.skip(path, format!("not written: {reason}"));
            return Ok(());
        }
        let content = e.content();
        let target = self.engine.root.join(path);
        let expect_ref = match &expect {
            Some(s) => Expect::Stat(s),
            None => Expect::Absent,
        };
        match fsio::write_note(&target, content.as_bytes(), expect_ref) {
            Ok(stat) => {
                tracing::debug!(path, "exported");
                self.report.exported += 1;
                self.push(SyncOp::SetBase {
                    base: FileBase {
                        path: path.to_string(),
                        stat,
                        hash: e.content_hash,
                        entity: e.entity_ref,
                    },
                })
            }
            Err(WriteError::ChangedMeanwhile) => {
                self.report.pending += 1;
                self.settled_later.insert(path.to_string());
                self.skip(path, WriteError::ChangedMeanwhile.to_string());
                Ok(())
            }
            Err(err) => {
                self.skip(path, err.to_string());
                Ok(())
            }
        }
    }
}
