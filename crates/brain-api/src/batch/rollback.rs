//! Undoing a batch (`brain batch rollback ID`): a batch of its own over the same notes, each
//! given back the version from before the batch, read from its history. A note changed since
//! the batch is kept as it is, and the version from before the batch is recorded beside it as a
//! conflict, so nothing anyone wrote after the batch is lost.

use brain_core::EntityRef;
use brain_core::time::now_ms;
use brain_store::jobs::JobFilter;
use brain_store::{ConflictKind, NewConflict, SyncOp};

use super::run::NoteDone;
use super::{BATCH, BatchOp, BatchQueued, ChildInput};
use crate::{Brain, BrainError, Expect};

impl Brain {
    /// Queues the rollback of batch `id`: every note it changed gets its version from before
    /// it. Refused when `id` is no batch, or was rolled back already (naming that rollback,
    /// unless it was cancelled before it finished).
    pub fn rollback_batch(&self, id: i64) -> Result<BatchQueued, BrainError> {
        let root = self.batch_root(id)?;
        let report = self.batch_report(id)?;
        if report.state == "running" || report.state == "queued" {
            return Err(BrainError::BatchRefused(format!(
                "batch {id} is still running: wait for it to end (`brain batch status {id} \
                 --wait`), or cancel it (`brain batch cancel {id}`), then roll it back"
            )));
        }
        for earlier in self.rollbacks_of(id)? {
            if let Some(refusal) = self.standing_rollback(id, earlier)? {
                return Err(BrainError::BatchRefused(refusal));
            }
        }
        let mut refs = Vec::new();
        for child in self.batch_children(id)? {
            refs.extend(notes_it_may_have_changed(&child));
        }
        let op = BatchOp::Rollback { of: id };
        let query = format!("the notes of batch {id}");
        tracing::info!(batch = id, op = ?root.input.get("op"), "rollback asked");
        self.queue_batch(op, &query, refs, Some(id), None)
    }

    /// Why rollback `earlier` of batch `id` keeps `id` from being rolled back again, if it
    /// does. It does not when it was cancelled or could not change some notes, when it changed no note (every note had
    /// changed since, so it only recorded conflicts: rolling back again is what a person does
    /// once they undid the later change), or when it was itself rolled back (which brought the
    /// batch's versions back).
    fn standing_rollback(&self, id: i64, earlier: i64) -> Result<Option<String>, BrainError> {
        let e = self.batch_report(earlier)?;
        // A rollback that could not change some notes (one was edited on disk and not synced)
        // is finished by rolling the batch back again: the notes it restored are as before
        // the batch already, and are left as they are.
        if matches!(e.state, "cancelled" | "failed") || (e.is_finished() && e.changed == 0) {
            return Ok(None);
        }
        for undo in self.rollbacks_of(earlier)? {
            let u = self.batch_report(undo)?;
            if u.state != "cancelled" && u.changed > 0 {
                return Ok(None);
            }
        }
        let conflicts = if e.conflicts > 0 {
            format!(
                "; the {} notes it kept both ways are in `brain conflicts list`",
                e.conflicts
            )
        } else {
            String::new()
        };
        Ok(Some(format!(
            "batch {id} was rolled back already, by batch {earlier} ({}, {} changed): to undo \
             that rollback, run `brain batch rollback {earlier}` (over MCP, `batch_rollback` with \
             id {earlier}){conflicts}",
            e.state, e.changed
        )))
    }

    /// The batches that roll back batch `id`, oldest first.
    pub(crate) fn rollbacks_of(&self, id: i64) -> Result<Vec<i64>, BrainError> {
        let roots = self
            .store
            .list_jobs(&JobFilter {
                job_type: Some(BATCH.into()),
                ..JobFilter::default()
            })
            .map_err(BrainError::record)?;
        let mut out: Vec<i64> = roots
            .iter()
            .filter(|j| j.input.get("rollback_of").and_then(|v| v.as_i64()) == Some(id))
            .map(|j| j.id)
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Gives note `r` back its version from before batch `of`, as part of batch `batch`.
    pub(crate) fn roll_back_note(
        &self,
        r: &EntityRef,
        of: i64,
        batch: i64,
        mapper: &brain_core::PathMapper,
        open: &mut OpenRollbackConflicts,
    ) -> NoteDone {
        let entity = r.to_string();
        let failed = |reason: String| NoteDone::Failed {
            entity: entity.clone(),
            reason,
        };
        let now = match self.store.get_any(r) {
            Ok(_) => r.clone(),
            Err(e) if e.is_retryable() => {
                return NoteDone::failed_by(&entity, &BrainError::Store(e));
            }
            Err(_) => match self.moved_to(r) {
                Some(now) => now,
                None => return failed(format!("there is no note {r} any more")),
            },
        };
        let versions = match self.store.history(&now) {
            Ok(v) => v,
            Err(e) => return NoteDone::failed_by(&entity, &BrainError::Store(e)),
        };
        let source = format!("batch {of}");
        let Some(made) = versions.iter().rev().find(|v| v.why.source == source) else {
            return NoteDone::Unchanged {
                entity,
                why: format!("batch {of} did not change it"),
            };
        };
        let Some(before) = versions.iter().find(|v| v.number + 1 == made.number) else {
            return failed(format!(
                "its version from before batch {of} (version {}) is no longer kept: history \
                 was thinned or is off",
                made.number.saturating_sub(1)
            ));
        };
        let Some(current) = versions.last() else {
            return failed("its history is empty".into());
        };
        // Unchanged since the batch means the same text, place and liveness as the version it
        // made, not the same version number: a later batch's rollback (batches undone newest
        // first) brings that text back as a version of its own.
        let as_the_batch_left_it = current.content_hash == made.content_hash
            && current.path == made.path
            && current.deleted == made.deleted;
        if !as_the_batch_left_it {
            if current.content_hash == before.content_hash
                && current.path == before.path
                && current.deleted == before.deleted
            {
                open.settle(self, &now, of);
                return NoteDone::Unchanged {
                    entity,
                    why: format!("it is as it was before batch {of} already"),
                };
            }
            return self.keep_both(&now, of, batch, before.number, current, open);
        }
        let message = self.message.clone();
        let written = if made.deleted && !before.deleted {
            self.restore(&now).map(|_| None)
        } else if before.deleted && !made.deleted {
            // Rolling back the rollback of a delete: deleted again.
            self.delete_saying(&now, None).map(|_| None)
        } else if made.path != before.path {
            match mapper.to_ref(&before.path) {
                Ok(back) => self
                    .move_note(&now, &back, message.as_deref())
                    .map(|_| Some(back.to_string())),
                Err(e) => return failed(format!("it cannot move back to {}: {e}", before.path)),
            }
        } else {
            let text = match self.store.version_text(&now, before.number) {
                Ok(t) => t,
                Err(e) => return NoteDone::failed_by(&entity, &BrainError::Store(e)),
            };
            self.require_synced_file(
                &now,
                &current.path,
                &current.content_hash,
                crate::error::ChangeKind::Revert,
                false,
            )
            .and_then(|()| {
                self.write_expecting(
                    &now,
                    text.as_bytes(),
                    Expect::Hash(current.content_hash.clone()),
                    &self.why(),
                )
            })
            .map(|_| None)
        };
        match written {
            Ok(to) => {
                // Its conflicts were recorded where it was found, as this rollback found it.
                open.settle(self, &now, of);
                NoteDone::Changed { entity, to }
            }
            // Changed between the read of its history and the write: keep both.
            Err(BrainError::Stale { .. }) => match self.store.history(&now) {
                Ok(v) => match v.last() {
                    Some(latest) => self.keep_both(&now, of, batch, before.number, latest, open),
                    None => failed("its history is empty".into()),
                },
                Err(e) => NoteDone::failed_by(&entity, &BrainError::Store(e)),
            },
            Err(e) => NoteDone::failed_by(&entity, &e),
        }
    }

    /// A note changed after batch `of`: left as it is, with its version from before the batch
    /// recorded beside it as a conflict (`brain conflicts show` has both texts).
    fn keep_both(
        &self,
        r: &EntityRef,
        of: i64,
        batch: i64,
        before: u64,
        current: &brain_store::Version,
        open: &mut OpenRollbackConflicts,
    ) -> NoteDone {
        let entity = r.to_string();
        let failed = |reason: String| NoteDone::Failed {
            entity: entity.clone(),
            reason,
        };
        let (now_text, before_text) = match (
            self.store.version_text(r, current.number),
            self.store.version_text(r, before),
        ) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                return NoteDone::failed_by(&entity, &BrainError::Store(e));
            }
        };
        let why = format!(
            "it changed after batch {of} (version {} by {}): kept as it is; its version from \
             before batch {of} (version {before}) is the conflict's other side, and `brain \
             revert {r} --to {before}` brings it back (dropping what changed since)",
            current.number, current.why.source
        );
        // A rollback of the same batch that met the same two texts recorded them already.
        if let Some(id) = open.same(self, r, of, &now_text, &before_text) {
            return NoteDone::Conflict {
                entity,
                why: format!("{why} (recorded already, as conflict {id})"),
            };
        }
        let conflict = NewConflict {
            kind: ConflictKind::Rollback,
            path: current.path.clone(),
            entity: Some(r.clone()),
            store_content: Some(now_text),
            file_content: Some(before_text),
            copy_path: None,
            detail: format!("batch {batch} (rollback of batch {of}) left {r} as it is: {why}"),
            now_ms: now_ms(),
        };
        match self.store.apply(&[SyncOp::RecordConflict(conflict)]) {
            Ok(()) => NoteDone::Conflict { entity, why },
            Err(e) if e.is_retryable() => NoteDone::failed_by(&entity, &BrainError::Store(e)),
            Err(e) => failed(format!("the conflict could not be recorded: {e}")),
        }
    }
}

/// The notes batch child `child` may have changed, which its rollback visits: none if it never
/// ran (cancelled while queued), the ones its record says it changed if it ended with one, and
/// every note it was given otherwise (it failed, or its record is unreadable), since the
/// rollback of a note the batch did not change leaves it as it is anyway. A cancelled batch
/// over 10,000 notes that changed 135 is undone over those 135.
fn notes_it_may_have_changed(child: &brain_store::jobs::Job) -> Vec<EntityRef> {
    use brain_store::jobs::JobState;
    let Ok(input) = serde_json::from_value::<ChildInput>(child.input.clone()) else {
        return Vec::new();
    };
    let given = || {
        input
            .notes
            .iter()
            .filter_map(|n| n.parse::<EntityRef>().ok())
            .collect()
    };
    match child.state {
        JobState::Cancelled if child.attempts == 0 => Vec::new(),
        JobState::Succeeded => {
            let Some(notes) = child
                .result
                .as_ref()
                .and_then(|r| r.get("notes"))
                .and_then(serde_json::Value::as_array)
            else {
                return given();
            };
            notes
                .iter()
                .filter(|n| n.get("outcome").and_then(|o| o.as_str()) == Some("changed"))
                .filter_map(|n| n.get("entity").and_then(|e| e.as_str()))
                .filter_map(|e| e.parse::<EntityRef>().ok())
                .collect()
        }
        _ => given(),
    }
}

/// The open conflicts of kind `rollback`, read once per child when a note first needs them:
/// a rollback that meets the texts an earlier rollback of the same batch recorded does not
/// record them again, and one that brings a note back to its version from before the batch
/// resolves the conflicts about that (what they kept is the note's text again).
#[derive(Default)]
pub(crate) struct OpenRollbackConflicts(Option<Vec<brain_store::Conflict>>);

impl OpenRollbackConflicts {
    /// The open rollback conflicts (none if they cannot be read: the worst outcome is a
    /// conflict recorded twice or left open).
    fn all(&mut self, brain: &Brain) -> &mut Vec<brain_store::Conflict> {
        self.0.get_or_insert_with(|| match brain.store.conflicts(false) {
            Ok(all) => all
                .into_iter()
                .filter(|c| c.kind == ConflictKind::Rollback)
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the open conflicts; a rollback conflict may be recorded twice");
                Vec::new()
            }
        })
    }

    /// Whether conflict `c` is about note `r` and a rollback of batch `of`.
    fn about(c: &brain_store::Conflict, r: &EntityRef, of: i64) -> bool {
        c.entity.as_ref() == Some(r)
            && c.detail
                .contains(&format!("(rollback of batch {of}) left {r} "))
    }

    /// The open conflict holding these two texts for `r` and batch `of`, if any.
    fn same(
        &mut self,
        brain: &Brain,
        r: &EntityRef,
        of: i64,
        now: &str,
        before: &str,
    ) -> Option<i64> {
        self.all(brain)
            .iter()
            .find(|c| {
                Self::about(c, r, of)
                    && c.store_content.as_deref() == Some(now)
                    && c.file_content.as_deref() == Some(before)
            })
            .map(|c| c.id)
    }

    /// Resolves the open conflicts about `r` and batch `of`: the note holds its version from
    /// before the batch again.
    fn settle(&mut self, brain: &Brain, r: &EntityRef, of: i64) {
        let now = now_ms();
        self.all(brain).retain(|c| {
            if !Self::about(c, r, of) {
                return true;
            }
            match brain.store.resolve_conflict(c.id, now) {
                Ok(()) => {
                    tracing::info!(conflict = c.id, entity = %r, batch = of, "resolved: the note holds its version from before the batch again");
                    false
                }
                Err(e) => {
                    tracing::warn!(conflict = c.id, error = %e, "cannot resolve a rollback conflict the note no longer needs");
                    true
                }
            }
        });
    }
}
