//! A batch as every interface shows it (`brain batch status`, `brain status`, MCP
//! `batch_status`): its notes counted by outcome, summed over its children's records, and its
//! state: `queued` or `running` until every child ended, then `succeeded`, `failed` (a note
//! could not be changed, or a child failed) or `cancelled`.

use brain_core::time::format_iso;
use brain_store::jobs::{Job, JobFilter, JobState};
use serde::Serialize;
use serde_json::Value;

use super::BATCH;
use crate::{Brain, BrainError};

/// A note a batch could not change, and why.
#[derive(Clone, Debug, Serialize)]
pub struct NoteFailure {
    /// The note.
    pub entity: String,
    /// Why.
    pub reason: String,
}

/// One child job of a batch, as its report lists it.
#[derive(Clone, Debug, Serialize)]
pub struct ChildSummary {
    /// The job's id (`brain jobs show ID`).
    pub job: i64,
    /// Its state.
    pub state: JobState,
    /// Notes it was given.
    pub notes: u64,
    /// Notes it changed (once it ended; a running one's are counted at its end).
    pub changed: u64,
}

/// A batch's progress and outcome.
#[derive(Clone, Debug, Serialize)]
pub struct BatchReport {
    /// Its id (the root job's).
    pub batch_id: i64,
    /// The operation, as typed (`set status=done`).
    pub op: String,
    /// The query that selected its notes.
    pub query: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub state: &'static str,
    /// Notes selected.
    pub total: u64,
    /// Notes its children have dealt with so far (changed, unchanged, conflicts, failed).
    pub done: u64,
    /// Notes it changed.
    pub changed: u64,
    /// Notes it left as they were (already so, or nothing to do).
    pub unchanged: u64,
    /// Notes a rollback left as they are, with a conflict recorded (changed since the batch).
    pub conflicts: u64,
    /// Notes it could not change.
    pub failed: u64,
    /// Notes a cancel kept it from reaching.
    pub not_done: u64,
    /// The notes it could not change, with the reason (at most 100; `failed` counts them all).
    pub failures: Vec<NoteFailure>,
    /// The notes left as they are with a conflict, and why (at most 100).
    pub kept_both: Vec<NoteFailure>,
    /// Child jobs by state (each changes up to 100 notes).
    pub jobs: brain_store::jobs::BatchStatus,
    /// Each child job: a cancelled batch's finished ones are done, and stay so.
    pub children: Vec<ChildSummary>,
    /// The batch this one rolls back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<i64>,
    /// The batches that roll this one back.
    pub rolled_back_by: Vec<i64>,
    /// When it was queued.
    pub created: String,
    /// When its last child ended, once it has.
    pub finished: Option<String>,
}

impl BatchReport {
    /// Whether it will not change again.
    pub fn is_finished(&self) -> bool {
        !matches!(self.state, "queued" | "running")
    }
}

/// The most failures and conflicts a report lists.
const LISTED: usize = 100;

/// What a batch's root job stands for: the job is a marker that ends `succeeded` once its
/// children are queued and run, whatever they did to the notes, so an interface showing the
/// job shows this beside its state.
#[derive(Clone, Debug, Serialize)]
pub struct BatchOutcome {
    /// The batch's own state (`failed` when a note could not be changed).
    pub state: &'static str,
    /// Notes changed.
    pub changed: u64,
    /// Notes left as they were.
    pub unchanged: u64,
    /// Notes that could not be changed.
    pub failed: u64,
    /// What to read instead of the job's state.
    pub note: String,
}

impl Brain {
    /// For a job that is a batch's root, the batch's outcome ([`BatchOutcome`]); `None` for
    /// any other job, or when the batch cannot be read.
    pub fn batch_outcome(&self, job: &Job) -> Option<BatchOutcome> {
        if job.job_type != BATCH {
            return None;
        }
        let r = self.batch_report(job.id).ok()?;
        Some(BatchOutcome {
            state: r.state,
            changed: r.changed,
            unchanged: r.unchanged,
            failed: r.failed,
            note: format!(
                "this job only marks batch {id}: the batch's state is {} ({} changed, {} \
                 unchanged, {} failed); `brain batch status {id}` (over MCP, `batch_status`) \
                 says which notes and why",
                r.state,
                r.changed,
                r.unchanged,
                r.failed,
                id = job.id
            ),
        })
    }

    /// The root job of batch `id`, or why there is none: no job, or a job that is not a batch.
    pub(crate) fn batch_root(&self, id: i64) -> Result<Job, BrainError> {
        let job = self.queue.job(id).map_err(|e| match e {
            brain_jobs::QueueError::Store(brain_store::StoreError::JobNotFound(_)) => {
                BrainError::NoSuchBatch(format!(
                    "there is no batch {id} (finished batches are pruned after \
                     `jobs.retention_days`): `brain batch list` shows the batches kept"
                ))
            }
            other => BrainError::record(other),
        })?;
        if job.job_type != BATCH {
            return Err(BrainError::NoSuchBatch(format!(
                "job {id} is a {} job, not a batch: `brain jobs show {id}` shows it (over MCP, \
                 `job_status` with id {id})",
                job.job_type
            )));
        }
        Ok(job)
    }

    /// The children of batch `id`, oldest first.
    pub(crate) fn batch_children(&self, id: i64) -> Result<Vec<Job>, BrainError> {
        let mut children = self
            .store
            .list_jobs(&JobFilter {
                parent_id: Some(id),
                ..JobFilter::default()
            })
            .map_err(BrainError::record)?;
        children.sort_by_key(|j| j.id);
        Ok(children)
    }

    /// Batch `id` as it stands: its notes by outcome and its state.
    pub fn batch_report(&self, id: i64) -> Result<BatchReport, BrainError> {
        let root = self.batch_root(id)?;
        let children = self.batch_children(id)?;
        let op = serde_json::from_value::<super::BatchOp>(
            root.input.get("op").cloned().unwrap_or(Value::Null),
        )
        .map(|op| op.describe())
        .unwrap_or_else(|_| "?".into());
        let mut report = BatchReport {
            batch_id: id,
            op,
            query: text(&root.input, "query"),
            state: "queued",
            total: root.input.get("count").and_then(Value::as_u64).unwrap_or(0),
            done: 0,
            changed: 0,
            unchanged: 0,
            conflicts: 0,
            failed: 0,
            not_done: 0,
            failures: Vec::new(),
            kept_both: Vec::new(),
            jobs: brain_store::jobs::BatchStatus::default(),
            children: Vec::new(),
            rollback_of: root.input.get("rollback_of").and_then(Value::as_i64),
            rolled_back_by: self.rollbacks_of(id)?,
            created: format_iso(root.created_ms),
            finished: None,
        };
        let mut cancelled = root.cancel_requested || root.state == JobState::Cancelled;
        let mut any_failed_job = false;
        let mut started = false;
        let mut last_end = None;
        for child in &children {
            let n_notes = child
                .input
                .get("notes")
                .and_then(Value::as_array)
                .map_or(0, |a| a.len() as u64);
            match child.state {
                JobState::Queued => report.jobs.queued += 1,
                JobState::Running => report.jobs.running += 1,
                JobState::Succeeded => report.jobs.succeeded += 1,
                JobState::Failed => report.jobs.failed += 1,
                JobState::Cancelled => report.jobs.cancelled += 1,
            }
            started |= child.state != JobState::Queued || child.attempts > 0;
            last_end = last_end.max(child.finished_ms);
            let changed_before = report.changed;
            match child.state {
                JobState::Succeeded => {
                    let result = child.result.clone().unwrap_or(Value::Null);
                    count_notes(&mut report, &result);
                    if result.get("cancelled").and_then(Value::as_bool) == Some(true) {
                        cancelled = true;
                    }
                }
                JobState::Running => {
                    report.done += child.progress.as_ref().map_or(0, |p| p.current);
                }
                JobState::Failed => {
                    any_failed_job = true;
                    report.failed += n_notes;
                    report.done += n_notes;
                    let reason = child.error.clone().unwrap_or_default();
                    push_listed(
                        &mut report.failures,
                        NoteFailure {
                            entity: format!("{} notes of job {}", n_notes, child.id),
                            reason: format!("the job failed: {reason}"),
                        },
                    );
                }
                JobState::Cancelled => {
                    cancelled = true;
                    report.not_done += n_notes;
                }
                JobState::Queued => {}
            }
            report.children.push(ChildSummary {
                job: child.id,
                state: child.state,
                notes: n_notes,
                changed: report.changed - changed_before,
            });
        }
        let unfinished = report.jobs.queued + report.jobs.running > 0;
        report.state = if unfinished {
            if started { "running" } else { "queued" }
        } else if cancelled {
            "cancelled"
        } else if any_failed_job || report.failed > 0 {
            "failed"
        } else {
            "succeeded"
        };
        if !unfinished {
            report.finished = last_end.map(format_iso);
        }
        Ok(report)
    }

    /// The newest batches, newest first (at most `limit`; 0: all that are kept).
    pub fn batches(&self, limit: usize) -> Result<Vec<BatchReport>, BrainError> {
        let roots = self
            .store
            .list_jobs(&JobFilter {
                job_type: Some(BATCH.into()),
                limit,
                ..JobFilter::default()
            })
            .map_err(BrainError::record)?;
        roots.iter().map(|r| self.batch_report(r.id)).collect()
    }

    /// Cancels batch `id`: notes not reached stay as they are, notes changed stay changed (a
    /// rollback undoes them). Returns the batch as it stands.
    pub fn cancel_batch(&self, id: i64) -> Result<BatchReport, BrainError> {
        self.batch_root(id)?;
        self.queue.cancel(id)?;
        self.batch_report(id)
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn push_listed(list: &mut Vec<NoteFailure>, f: NoteFailure) {
    if list.len() < LISTED {
        list.push(f);
    }
}

/// Adds a finished child's record of its notes to the report.
fn count_notes(report: &mut BatchReport, result: &Value) {
    for note in result
        .get("notes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        report.done += 1;
        let entity = text(note, "entity");
        match note.get("outcome").and_then(Value::as_str) {
            Some("changed") => report.changed += 1,
            Some("unchanged") => report.unchanged += 1,
            Some("conflict") => {
                report.conflicts += 1;
                let why = text(note, "why");
                push_listed(
                    &mut report.kept_both,
                    NoteFailure {
                        entity,
                        reason: why,
                    },
                );
            }
            _ => {
                report.failed += 1;
                let reason = text(note, "reason");
                push_listed(&mut report.failures, NoteFailure { entity, reason });
            }
        }
    }
    report.not_done += result
        .get("not_done")
        .and_then(Value::as_array)
        .map_or(0, |a| a.len() as u64);
}
