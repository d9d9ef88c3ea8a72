//! The job queue: the state diagram in [`crate::jobs`], transition by transition, and the
//! rules around it (claim order, concurrency, leases, dedupe, batches, pruning, the outbox).
//!
//! This file holds the helpers the cases share (building jobs, enqueueing and claiming them in one line). The cases live in one file
//! per area: `enqueueing`, `claiming`, `lifecycle` (finish, leases, backoff, progress),
//! `cancel_retry` (with batches), `dedupe`, `prune`, `outbox`, `compare_and_set` (the outbox
//! put with an expected hash), `pausing` (paused job types), `due` (`next_run_at` and the
//! queue depth) and `recurring` (schedules).

pub mod cancel_retry;
pub mod claiming;
pub mod compare_and_set;
pub mod dedupe;
pub mod due;
pub mod enqueueing;
pub mod lifecycle;
pub mod outbox;
pub mod pausing;
pub mod prune;
pub mod recurring;

use serde_json::Value;

use super::{Backend, T0};
use crate::jobs::{DedupePolicy, Enqueued, Job, JobState, NewJob, Outcome};

const LEASE: i64 = 30_000;

/// A job of type `t` with `input`, priority 5, due at `T0`, three attempts.
pub(crate) fn new_job(t: &str, input: Value) -> NewJob {
    NewJob {
        job_type: t.into(),
        input,
        priority: 5,
        run_at_ms: T0,
        max_attempts: 3,
        dedupe: None,
        parent_id: None,
        bound_to_replica: false,
    }
}

fn with_priority(job: NewJob, priority: u8) -> NewJob {
    NewJob { priority, ..job }
}

fn keyed(job: NewJob, key: &str, policy: DedupePolicy) -> NewJob {
    NewJob {
        dedupe: Some((key.into(), policy)),
        ..job
    }
}

fn child_of(job: NewJob, parent: i64) -> NewJob {
    NewJob {
        parent_id: Some(parent),
        ..job
    }
}

fn enqueue(store: &dyn Backend, jobs: &[NewJob]) -> Vec<i64> {
    store
        .enqueue(jobs, T0)
        .expect("enqueue")
        .into_iter()
        .map(Enqueued::id)
        .collect()
}

fn enqueue_one(store: &dyn Backend, job: NewJob) -> i64 {
    enqueue(store, &[job])[0]
}

/// `(type, limit)` pairs as `claim` takes them.
fn types(list: &[(&str, u32)]) -> Vec<(String, u32)> {
    list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
}

fn claim(store: &dyn Backend, worker: &str, t: &str, limit: usize, now_ms: i64) -> Vec<Job> {
    store
        .claim(worker, &types(&[(t, 100)]), limit, now_ms, LEASE)
        .expect("claim")
}

fn ids(jobs: &[Job]) -> Vec<i64> {
    jobs.iter().map(|j| j.id).collect()
}

fn state(store: &dyn Backend, id: i64) -> JobState {
    store.job(id).expect("job").state
}

fn failed(error: &str, retry_at_ms: i64) -> Outcome {
    Outcome::Failed {
        error: error.into(),
        retry_at_ms,
    }
}
