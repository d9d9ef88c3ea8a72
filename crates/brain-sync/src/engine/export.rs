//! The export phase: writing entities changed in the store to their files and moving the files
//! of deleted entities to the trash, after this run's imports are committed.
//!
//! Notes are written in batches ([`EXPORT_BATCH`]): a batch's texts are read from the store in
//! one query and written with [`fsio::write_notes`], which flushes all their temp files before
//! renaming any, so a batch costs about one fsync's wait instead of two per note. Cancelling
//! takes effect between batches, with what was written recorded.

use brain_core::{CancelToken, Entity, EntityRef, Phase, ProgressSink, VaultLayout};
use brain_store::{FileBase, FileStat, SyncOp};

use super::{Deferred, Run, Stop};
use crate::fsio::{self, Expect, NoteWrite, WriteError};

/// Notes written together: enough that a batch's fsyncs overlap, few enough that a cancel is
/// never far off and the open temp files of a batch stay well under any open-file limit.
pub(crate) const EXPORT_BATCH: usize = 256;

/// A note to write, as the planner left it.
struct ToWrite {
    entity: EntityRef,
    path: String,
    expect: Option<FileStat>,
}

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
        let trash_root = VaultLayout::new(&self.engine.root).trash_stamp_dir(&self.stamp);
        let mut rest = deferred.into_iter().peekable();
        while rest.peek().is_some() {
            if cancel.is_cancelled() {
                self.flush()?;
                progress.finish_phase();
                return Err(Stop::Cancelled);
            }
            let mut batch = Vec::new();
            for item in rest.by_ref().take(EXPORT_BATCH) {
                match item {
                    Deferred::Export {
                        entity,
                        path,
                        expect,
                    } => batch.push(ToWrite {
                        entity,
                        path,
                        expect,
                    }),
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
            self.write_batch(batch, progress)?;
        }
        progress.finish_phase();
        self.flush()
    }

    /// Writes a batch of notes to their files and records each one written as its path's new
    /// base; a note that cannot be written is skipped with the reason (pending when its file
    /// changed meanwhile), and the others are written all the same.
    fn write_batch(
        &mut self,
        batch: Vec<ToWrite>,
        progress: &dyn ProgressSink,
    ) -> Result<(), Stop> {
        if batch.is_empty() {
            return Ok(());
        }
        let refs: Vec<EntityRef> = batch.iter().map(|w| w.entity.clone()).collect();
        let mut entities = self.store().get_many(&refs)?.into_iter();
        let mut ready: Vec<(ToWrite, Entity, String)> = Vec::with_capacity(batch.len());
        for w in batch {
            // Deleted or gone since the plan: nothing to write.
            let Some(e) = entities.next().flatten() else {
                progress.advance(1, &w.path);
                continue;
            };
            // Moved since the plan (`brain mv` between the plan and this read): its old path
            // is not its file any more, and the export of its new one writes it.
            if e.path != w.path {
                progress.advance(1, &w.path);
                tracing::debug!(path = %w.path, now = %e.path, entity = %w.entity, "not written: moved since the plan");
                continue;
            }
            if self.engine.excluded_here(&w.path) {
                progress.advance(1, &w.path);
                tracing::info!(path = %w.path, entity = %w.entity, "not written: this folder excludes its path from sync");
                self.report.excluded_here.push(w.path);
                continue;
            }
            if let Some(reason) = self.engine.unreachable_path(&w.path) {
                progress.advance(1, &w.path);
                self.report.pending += 1;
                self.skip(&w.path, format!("not written: {reason}"));
                continue;
            }
            let content = e.content();
            ready.push((w, e, content));
        }
        let targets: Vec<_> = ready
            .iter()
            .map(|(w, ..)| self.engine.root.join(&w.path))
            .collect();
        let writes: Vec<NoteWrite<'_>> = ready
            .iter()
            .zip(&targets)
            .map(|((w, _, content), target)| NoteWrite {
                target,
                content: content.as_bytes(),
                expect: match &w.expect {
                    Some(s) => Expect::Stat(s),
                    None => Expect::Absent,
                },
            })
            .collect();
        let results = fsio::write_notes(&writes);
        drop(writes);
        for ((w, e, _), result) in ready.into_iter().zip(results) {
            progress.advance(1, &w.path);
            self.written(w.path, e, result)?;
        }
        Ok(())
    }

    /// Records what became of one note's write.
    fn written(
        &mut self,
        path: String,
        e: Entity,
        result: Result<FileStat, WriteError>,
    ) -> Result<(), Stop> {
        match result {
            Ok(stat) => {
                tracing::debug!(path, "exported");
                self.report.exported += 1;
                self.push(SyncOp::SetBase {
                    base: FileBase {
                        path,
                        stat,
                        hash: e.content_hash,
                        entity: e.entity_ref,
                    },
                })
            }
            Err(WriteError::ChangedMeanwhile) => {
                self.report.pending += 1;
                self.skip(&path, WriteError::ChangedMeanwhile.to_string());
                self.settled_later.insert(path);
                Ok(())
            }
            Err(err) => {
                self.skip(&path, err.to_string());
                Ok(())
            }
        }
    }
}
