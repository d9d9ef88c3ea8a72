//! Handlers: the code that does one job type, and the registry of them.

use std::collections::BTreeMap;
use std::sync::Arc;

use brain_core::CancelToken;
use brain_store::jobs::Job;
use serde_json::Value;

use crate::progress::JobProgressReporter;
use crate::queue::Queue;

/// Why an attempt did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// It failed; it is retried with backoff until `max_attempts`.
    #[error("{0}")]
    Failed(String),
    /// It failed in a way retrying cannot fix (a refusal, bad input): failed at once.
    #[error("{0}")]
    Permanent(String),
    /// It stopped because its cancel token was set.
    #[error("cancelled")]
    Cancelled,
}

/// What a handler gets for one attempt.
pub struct JobContext {
    /// The job as claimed (its `input`, `attempts`, `parent_id`...).
    pub job: Job,
    /// Set when the job is cancelled: check it between steps and return
    /// [`JobError::Cancelled`].
    pub cancel: CancelToken,
    /// Progress, persisted at most every 250 ms and published on the bus; also a
    /// [`brain_core::ProgressSink`] to hand to engines.
    pub progress: JobProgressReporter,
    /// The queue, to enqueue child jobs of a batch.
    pub queue: Queue,
}

/// Does one job type. Runs on a worker thread; may block.
pub trait Handler: Send + Sync + 'static {
    /// Checks an input before it is enqueued, so a bad one is refused to the caller instead of
    /// failing later in a worker.
    fn validate(&self, input: &Value) -> Result<(), String> {
        let _ = input;
        Ok(())
    }

    /// Runs one attempt; returns the job's result.
    fn run(&self, ctx: &JobContext) -> Result<Value, JobError>;
}

/// How a job type is run.
#[derive(Clone, Debug)]
pub struct TypeConfig {
    /// Jobs of this type running at once, across all processes.
    pub concurrency: u32,
    /// Attempts before a job is marked failed.
    pub max_attempts: u32,
    /// Priority when the enqueuer gives none.
    pub priority: u8,
    /// First retry delay; doubles per attempt.
    pub backoff_base_ms: i64,
    /// Longest retry delay.
    pub backoff_max_ms: i64,
    /// Whether its jobs work on one vault folder (an import, an export, a git sync) and must
    /// be run by the workers of the replica that enqueued them, as opposed to store-wide work
    /// any worker may do (an embedding). Only a store with several folders (PostgreSQL) tells
    /// them apart: its claim gives a worker its own folder's jobs and store-wide ones.
    pub bound_to_replica: bool,
}

impl TypeConfig {
    /// A `concurrency` that sets no limit. A limited type's claims wait on each other where a
    /// store serves several processes (PostgreSQL takes a lock per type so the limit holds
    /// across machines); an unlimited type's claims do not, so a type whose jobs may all run
    /// at once says so with this rather than with a large number.
    pub const UNLIMITED: u32 = u32::MAX;
}

impl Default for TypeConfig {
    fn default() -> Self {
        Self {
            concurrency: 1,
            max_attempts: 5,
            priority: 5,
            backoff_base_ms: 1_000,
            backoff_max_ms: 600_000,
            bound_to_replica: false,
        }
    }
}

pub(crate) struct Registered {
    pub handler: Arc<dyn Handler>,
    pub config: TypeConfig,
}

/// The job types this process knows, with their handlers. Plugins register into it at start-up.
#[derive(Default)]
pub struct Registry {
    types: BTreeMap<String, Registered>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `job_type`.
    pub fn register(&mut self, job_type: &str, handler: impl Handler, config: TypeConfig) {
        self.types.insert(
            job_type.to_string(),
            Registered {
                handler: Arc::new(handler),
                config,
            },
        );
    }

    pub(crate) fn get(&self, job_type: &str) -> Option<&Registered> {
        self.types.get(job_type)
    }

    /// The registered type names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }

    /// Every type with its concurrency limit, as `claim` takes them.
    pub(crate) fn capacities(&self) -> Vec<(String, u32)> {
        self.types
            .iter()
            .map(|(name, r)| (name.clone(), r.config.concurrency))
            .collect()
    }
}
