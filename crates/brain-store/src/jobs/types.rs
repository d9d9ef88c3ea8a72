//! What a job is: its state, its dedupe policy, a job to enqueue and a job as stored, its
//! progress and outcome, and the counts the queue reports.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Result;

/// Lifecycle state of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for `run_at` and a free worker.
    Queued,
    /// Claimed by a worker holding a lease.
    Running,
    /// Done; `result` holds its output.
    Succeeded,
    /// Gave up after `max_attempts`; `error` says why.
    Failed,
    /// Cancelled before or while running.
    Cancelled,
}

impl JobState {
    /// Stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Inverse of [`JobState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::Succeeded,
            JobState::Failed,
            JobState::Cancelled,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether the job will not change state again (unless retried by a user).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// What to do when a job with the same type and dedupe key is already queued (or running, for
/// `Skip`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupePolicy {
    /// Keep the existing job (queued, or running without a cancel request: a job being
    /// cancelled will not do the work) and return it; the new one is dropped.
    Skip,
    /// Replace the queued job's input, priority, run_at and max_attempts with the new job's. A
    /// running job is never replaced; a new job is queued instead.
    Replace,
    /// Merge into the queued job: for every array in the new input, append the items the queued
    /// job's array does not have yet; other keys take the new value. (Many file paths become one
    /// import.) The merged job keeps the higher priority, the earlier run_at and the larger
    /// max_attempts of the two. A running job is never merged into; a new job is queued instead.
    Coalesce,
}

/// A job to enqueue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    /// The handler that runs it (e.g. `directory-sync`).
    pub job_type: String,
    /// Its input, a JSON object.
    pub input: Value,
    /// 1-10, higher runs first.
    pub priority: u8,
    /// Not before this time (ms since the epoch).
    pub run_at_ms: i64,
    /// Attempts before it is marked failed.
    pub max_attempts: u32,
    /// Deduplication key and policy.
    pub dedupe: Option<(String, DedupePolicy)>,
    /// The batch root this job belongs to.
    pub parent_id: Option<i64>,
    /// Whether it works on the enqueuing store handle's vault folder (a directory sync, an
    /// export, git), so only that replica's workers may claim it. A store with one folder
    /// (SQLite) has nothing to tell apart; PostgreSQL binds it to the handle's replica.
    pub bound_to_replica: bool,
}

impl NewJob {
    /// Refuses a job that could never run as given, with what to change. Every backend calls
    /// it before writing anything, so an invalid job leaves the whole call undone.
    pub fn validate(&self) -> Result<()> {
        let job = self;
        let invalid = |msg: String| Err(crate::StoreError::InvalidJob(msg));
        if job.job_type.is_empty() {
            return invalid("the job type is empty: name the handler that runs it".into());
        }
        let t = &job.job_type;
        if !(1..=10).contains(&job.priority) {
            return invalid(format!(
                "a {t} job has priority {}: use 1 (lowest) to 10 (highest)",
                job.priority
            ));
        }
        if job.max_attempts == 0 {
            return invalid(format!(
                "a {t} job allows 0 attempts: set max_attempts to 1 or more"
            ));
        }
        if !job.input.is_object() {
            let kind = match &job.input {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "an array",
                Value::Object(_) => "an object",
            };
            return invalid(format!(
                "the input of a {t} job is {kind}: it must be a JSON object (wrap the value in a key)"
            ));
        }
        Ok(())
    }
}

/// How an enqueue ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "id", rename_all = "snake_case")]
pub enum Enqueued {
    /// A new job with this id.
    Created(i64),
    /// An existing job with this id was kept (`Skip`), replaced or merged into.
    Existing(i64),
}

impl Enqueued {
    /// The id of the job that will do the work.
    pub fn id(self) -> i64 {
        match self {
            Enqueued::Created(id) | Enqueued::Existing(id) => id,
        }
    }
}

/// Persisted progress of a running job.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    /// Steps done.
    pub current: u64,
    /// Steps in all, when known.
    pub total: Option<u64>,
    /// What it is doing now ("Importing", a path).
    pub message: String,
    /// When it was reported (ms since the epoch).
    pub updated_ms: i64,
    /// The stage `current` and `total` count, so a follower tells phases apart without
    /// reading `message`; `None` for steps outside a sync's phases (a git job's "Pushing") and
    /// for rows written before phases were stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<brain_core::Phase>,
}

/// The error every backend's reaper records on a job whose worker's lease ran out and that
/// gets another attempt. It stays on the row through that attempt, so a follower tells a job
/// taken over from a dead worker from one retried after its handler failed.
pub const LEASE_EXPIRED: &str = "worker stopped responding (lease expired); retrying";

/// The error the reaper records when the attempt whose lease ran out was the job's last.
pub const LEASE_EXPIRED_LAST: &str =
    "worker stopped responding (lease expired) on the last attempt";

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Job {
    /// Its id.
    pub id: i64,
    /// Handler type.
    pub job_type: String,
    /// Input JSON.
    pub input: Value,
    /// 1-10.
    pub priority: u8,
    /// State.
    pub state: JobState,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Not before (ms).
    pub run_at_ms: i64,
    /// Enqueued (ms).
    pub created_ms: i64,
    /// Last attempt started (ms).
    pub started_ms: Option<i64>,
    /// Finished (ms).
    pub finished_ms: Option<i64>,
    /// The worker holding the lease while running; on a finished job, the worker of its last
    /// attempt (kept for `jobs show`). Cleared when the job goes back to the queue.
    pub worker: Option<String>,
    /// Lease end while running (ms).
    pub lease_until_ms: Option<i64>,
    /// Dedupe key.
    pub dedupe_key: Option<String>,
    /// Batch root.
    pub parent_id: Option<i64>,
    /// The replica (vault folder) whose workers alone may run it; `None`: any worker.
    pub replica: Option<String>,
    /// A cancel was requested while it ran.
    pub cancel_requested: bool,
    /// Last persisted progress.
    pub progress: Option<JobProgress>,
    /// Output of a successful run.
    pub result: Option<Value>,
    /// Last error message.
    pub error: Option<String>,
}

impl Job {
    /// Whether the latest attempt began because the one before it was taken back from a worker
    /// that stopped renewing its lease (as opposed to a retry after the handler failed).
    pub fn was_reclaimed(&self) -> bool {
        self.error.as_deref() == Some(LEASE_EXPIRED)
    }

    /// The error that is this job's outcome: on a job that succeeded, or was cancelled, an
    /// error left by an earlier attempt is history, not the outcome, so `None`.
    pub fn outcome_error(&self) -> Option<&str> {
        match self.state {
            JobState::Succeeded | JobState::Cancelled => None,
            _ => self.error.as_deref(),
        }
    }
}

/// Filters for [`JobStore::list_jobs`](super::JobStore::list_jobs).
#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    /// Only these states (empty = all).
    pub states: Vec<JobState>,
    /// Only this type.
    pub job_type: Option<String>,
    /// Only children of this batch root.
    pub parent_id: Option<i64>,
    /// At most this many, newest first (0 = no limit).
    pub limit: usize,
}

/// How a worker reports the end of an attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Succeeded with this result.
    Succeeded(Value),
    /// Failed; retried at `retry_at_ms` if attempts remain, else marked failed. A job whose
    /// cancel was requested is never retried: it ends `cancelled`, with the error kept.
    Failed {
        /// What went wrong.
        error: String,
        /// When to retry (the caller computes backoff and jitter).
        retry_at_ms: i64,
    },
    /// Stopped because a cancel was requested.
    Cancelled,
    /// Failed in a way another attempt cannot fix (bad input, a refusal): marked failed now,
    /// whatever attempts remain.
    GaveUp(String),
}

/// Counts of a batch's children by state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchStatus {
    /// Children in each state.
    pub queued: u64,
    /// Running children.
    pub running: u64,
    /// Succeeded children.
    pub succeeded: u64,
    /// Failed children.
    pub failed: u64,
    /// Cancelled children.
    pub cancelled: u64,
}

/// How many jobs of one type are in one state: the queue depth `brain status` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCount {
    /// The job type.
    pub job_type: String,
    /// `Queued` or `Running` (finished jobs are history, not depth).
    pub state: JobState,
    /// How many.
    pub count: u64,
}
