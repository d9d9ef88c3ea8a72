//! Managing the queue: jobs listed and shown (with their batch), cancelled and retried, and
//! directory sync paused and resumed. Read from the store, so every interface sees the jobs of
//! any process (the daemon's, another command's), not only its own.

use crate::directory::{DIRECTORY_EXPORT, DIRECTORY_IMPORT, DIRECTORY_SYNC};
use brain_store::jobs::{BatchStatus, Job, JobFilter, JobState};
use serde::Serialize;

use crate::{Brain, BrainError};

/// The job types `brain sync pause` holds back: a sync, and the imports and exports a watcher
/// or a write queues, so neither side of the vault changes until `resume`.
const DIRECTORY_TYPES: [&str; 3] = [DIRECTORY_SYNC, DIRECTORY_IMPORT, DIRECTORY_EXPORT];

/// Which jobs to list.
#[derive(Clone, Debug, Default)]
pub struct JobsRequest {
    /// Only jobs in these states; empty: every state.
    pub states: Vec<JobState>,
    /// At most this many, newest first; 0: every one.
    pub limit: usize,
}

/// One job as `jobs show` presents it: the job, and its batch's children counted by state when
/// it is the root of a batch.
#[derive(Clone, Debug)]
pub struct JobDetail {
    /// The job as stored.
    pub job: Job,
    /// Its children by state, `None` when it has none (it is not a batch's root).
    pub batch: Option<BatchStatus>,
}

/// Directory sync after a pause or a resume, and how many of its jobs wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SyncPause {
    /// Whether directory sync is paused now.
    pub paused: bool,
    /// Directory jobs (syncs, imports, exports) queued: held back while paused, run next once
    /// resumed.
    pub queued_jobs: u64,
}

impl Brain {
    /// Jobs of any process, newest first.
    pub fn jobs(&self, req: &JobsRequest) -> Result<Vec<Job>, BrainError> {
        self.store
            .list_jobs(&JobFilter {
                states: req.states.clone(),
                limit: req.limit,
                ..JobFilter::default()
            })
            .map_err(BrainError::record)
    }

    /// One job and its batch. An id with no job is [`BrainError::Record`] in the store's words
    /// (`no job #7: see brain jobs list`); [`Brain::job`] says it for an agent.
    pub fn job_detail(&self, id: i64) -> Result<JobDetail, BrainError> {
        let job = self.queue.job(id).map_err(BrainError::record)?;
        let batch = self.queue.batch_status(id).map_err(BrainError::record)?;
        let batch =
            (batch.queued + batch.running + batch.succeeded + batch.failed + batch.cancelled > 0)
                .then_some(batch);
        Ok(JobDetail { job, batch })
    }

    /// Cancels a job (a queued one at once, a running one within a second; work it finished is
    /// kept) and returns its state: `running` while the cancel is pending, `cancelled`, or the
    /// state it had already finished in. Failures are in the store's words, as
    /// [`Brain::job_detail`]'s; [`Brain::cancel_job`] is the same call worded for an agent.
    pub fn cancel(&self, id: i64) -> Result<JobState, BrainError> {
        self.queue.cancel(id).map_err(BrainError::record)
    }

    /// Puts a failed or cancelled job back in the queue (its attempts start again); a job in
    /// any other state is refused ([`BrainError::Record`], kind `bad_argument`). It runs when a
    /// worker is free: the daemon's, or the next command that runs jobs.
    pub fn retry_job(&self, id: i64) -> Result<Job, BrainError> {
        self.queue.retry(id).map_err(BrainError::record)
    }

    /// The job types paused now (`brain sync pause`), for a caller that says what will happen
    /// to a change it queues.
    pub fn paused_types(&self) -> Result<Vec<String>, BrainError> {
        self.store.paused_types().map_err(BrainError::record)
    }

    /// Pauses directory sync of this folder in every process (on a shared store, the other
    /// folders go on): file changes and note writes keep queuing (and
    /// can be cancelled) but no worker runs them, nor a new sync, until
    /// [`Brain::resume_sync`]. A job already running finishes.
    pub fn pause_sync(&self) -> Result<SyncPause, BrainError> {
        self.queue
            .pause_types(&DIRECTORY_TYPES)
            .map_err(BrainError::record)?;
        self.sync_pause(true)
    }

    /// Lets directory sync run again: the jobs queued meanwhile run as soon as a worker (the
    /// daemon's, or the next `brain sync`) is free.
    pub fn resume_sync(&self) -> Result<SyncPause, BrainError> {
        // Counted before the resume: a running daemon claims them the moment it is lifted.
        let waiting = self.sync_pause(false)?;
        self.queue
            .resume_types(&DIRECTORY_TYPES)
            .map_err(BrainError::record)?;
        Ok(waiting)
    }

    fn sync_pause(&self, paused: bool) -> Result<SyncPause, BrainError> {
        let queued_jobs = self
            .store
            .job_counts()
            .map_err(BrainError::record)?
            .iter()
            .filter(|c| {
                c.state == JobState::Queued && DIRECTORY_TYPES.contains(&c.job_type.as_str())
            })
            .map(|c| c.count)
            .sum();
        Ok(SyncPause {
            paused,
            queued_jobs,
        })
    }
}
