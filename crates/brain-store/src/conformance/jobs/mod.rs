//! The job queue: the state diagram in [`crate::jobs`], transition by transition, and the
//! rules around it (claim order, concurrency, leases, dedupe, batches, pruning, the outbox).
//!
//! This file holds `run`, which calls every case in a fixed order, and the helpers the cases
//! share (building jobs, enqueueing and claiming them in one line). The cases live in one file
//! per area: `enqueueing`, `claiming`, `lifecycle` (finish, leases, backoff, progress),
//! `cancel_retry` (with batches), `dedupe`, `prune`, `outbox`, `compare_and_set` (the outbox
//! put with an expected hash), `pausing` (paused job types) and `due` (`next_run_at` and the
//! queue depth).

mod cancel_retry;
mod claiming;
mod compare_and_set;
mod dedupe;
mod due;
mod enqueueing;
mod lifecycle;
mod outbox;
mod pausing;
mod prune;

use serde_json::Value;

use super::{Backend, Factory, T0};
use crate::jobs::{DedupePolicy, Enqueued, Job, JobState, NewJob, Outcome};

pub(super) fn run(make: Factory<'_>) {
    enqueueing::enqueue_and_read_back(make);
    enqueueing::list_filters_and_order(make);
    enqueueing::invalid_jobs_are_refused(make);
    claiming::claim_by_priority_then_age(make);
    claiming::claim_respects_run_at_and_types(make);
    claiming::claim_limit_is_shared_across_types_by_priority(make);
    claiming::per_type_concurrency_counts_every_worker(make);
    lifecycle::success_is_final(make);
    lifecycle::a_reaped_lease_cannot_finish(make);
    lifecycle::heartbeats_keep_the_lease(make);
    lifecycle::reaping_the_last_attempt_fails_the_job(make);
    lifecycle::backoff_then_failure(make);
    cancel_retry::cancel_by_state(make);
    cancel_retry::cancel_requests_reach_the_worker(make);
    cancel_retry::cancelling_a_batch_root_cascades(make);
    cancel_retry::batch_status_counts_children(make);
    cancel_retry::retry_only_failed_or_cancelled(make);
    dedupe::dedupe_skip(make);
    dedupe::dedupe_replace(make);
    dedupe::dedupe_coalesce(make);
    lifecycle::progress_only_from_the_lease_holder(make);
    prune::prune_keeps_unfinished_batches(make);
    outbox::put_and_enqueue_is_one_transaction(make);
    outbox::delete_and_restore_are_one_transaction_with_their_job(make);
    compare_and_set::put_only_over_the_expected_version(make);
    pausing::a_paused_type_is_not_claimed_until_resumed(make);
    pausing::pausing_is_idempotent_and_listed_sorted(make);
    pausing::paused_jobs_still_queue_dedupe_and_cancel(make);
    due::next_run_at_is_the_earliest_queued_unpaused_job(make);
    due::job_counts_are_the_queue_depth(make);
}

const LEASE: i64 = 30_000;

/// A job of type `t` with `input`, priority 5, due at `T0`, three attempts.
fn new_job(t: &str, input: Value) -> NewJob {
    NewJob {
        job_type: t.into(),
        input,
        priority: 5,
        run_at_ms: T0,
        max_attempts: 3,
        dedupe: None,
        parent_id: None,
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
