//! Cancelling (in each state, through the worker's heartbeat, and down a batch), a batch's
//! counts by state, and retrying a failed or cancelled job.

use serde_json::json;

use super::{LEASE, child_of, claim, enqueue, enqueue_one, failed, ids, new_job, state};
use crate::StoreError;
use crate::conformance::{Factory, T0};
use crate::jobs::{BatchStatus, JobFilter, JobState, NewJob, Outcome};

pub fn cancel_by_state(make: Factory<'_>) {
    let store = make();
    let jobs = enqueue(
        &*store,
        &[
            new_job("q", json!({})),
            new_job("r", json!({})),
            new_job("d", json!({})),
        ],
    );
    let [queued, running, done] = jobs[..] else {
        unreachable!("three ids")
    };
    claim(&*store, "w", "r", 1, T0);
    claim(&*store, "w", "d", 1, T0);
    assert!(
        store
            .finish(done, "w", &Outcome::Succeeded(json!(null)), T0)
            .expect("finish")
    );
    assert_eq!(
        store.cancel(queued, T0 + 1).expect("cancel"),
        JobState::Cancelled
    );
    let job = store.job(queued).expect("job");
    assert_eq!(
        (job.state, job.finished_ms),
        (JobState::Cancelled, Some(T0 + 1))
    );
    assert!(
        claim(&*store, "w", "q", 10, T0 + 2).is_empty(),
        "a cancelled job is never claimed"
    );
    assert_eq!(
        store.cancel(running, T0 + 1).expect("cancel"),
        JobState::Running
    );
    let job = store.job(running).expect("job");
    assert!(job.cancel_requested);
    assert_eq!(job.finished_ms, None, "its worker stops it");
    assert_eq!(
        store.cancel(done, T0 + 1).expect("cancel"),
        JobState::Succeeded
    );
    let job = store.job(done).expect("job");
    assert_eq!(
        (job.state, job.cancel_requested),
        (JobState::Succeeded, false),
        "left as it is"
    );
    assert_eq!(
        store.cancel(queued, T0 + 5).expect("cancel"),
        JobState::Cancelled,
        "cancelling twice is harmless"
    );
    assert_eq!(store.job(queued).expect("job").finished_ms, Some(T0 + 1));
    match store.cancel(done + 1000, T0) {
        Err(StoreError::JobNotFound(id)) => assert_eq!(id, done + 1000),
        other => panic!("cancelling a missing job gave {other:?}"),
    }
}

pub fn cancel_requests_reach_the_worker(make: Factory<'_>) {
    let store = make();
    let jobs = enqueue(
        &*store,
        &[
            new_job("t", json!({})),
            new_job("t", json!({})),
            new_job("t", json!({})),
        ],
    );
    claim(&*store, "w", "t", 3, T0);
    store.cancel(jobs[0], T0 + 1).expect("cancel");
    store.cancel(jobs[2], T0 + 1).expect("cancel");
    assert_eq!(
        store
            .heartbeat("w", &jobs, T0 + LEASE * 2)
            .expect("heartbeat"),
        [jobs[0], jobs[2]]
    );
    assert_eq!(
        store.job(jobs[0]).expect("job").lease_until_ms,
        Some(T0 + LEASE * 2),
        "the lease is still extended while the handler stops"
    );
    assert!(
        store
            .finish(jobs[0], "w", &Outcome::Cancelled, T0 + 2)
            .expect("finish")
    );
    let job = store.job(jobs[0]).expect("job");
    assert_eq!(
        (job.state, job.finished_ms),
        (JobState::Cancelled, Some(T0 + 2))
    );
    assert_eq!(job.lease_until_ms, None);
    // A handler that fails on its way out is not retried: the user asked for it to stop.
    assert!(
        store
            .finish(jobs[2], "w", &failed("interrupted", T0 + 100), T0 + 3)
            .expect("finish")
    );
    let job = store.job(jobs[2]).expect("job");
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(job.error.as_deref(), Some("interrupted"));
    assert_eq!(job.finished_ms, Some(T0 + 3));
    // A cancel requested too late for the handler to notice: the job still succeeded.
    store.cancel(jobs[1], T0 + 4).expect("cancel");
    assert!(
        store
            .finish(jobs[1], "w", &Outcome::Succeeded(json!(1)), T0 + 5)
            .expect("finish")
    );
    assert_eq!(state(&*store, jobs[1]), JobState::Succeeded);
}

pub fn cancelling_a_batch_root_cascades(make: Factory<'_>) {
    let store = make();
    let root = enqueue_one(&*store, new_job("batch", json!({})));
    let kids = enqueue(
        &*store,
        &[
            child_of(new_job("run", json!({})), root),
            child_of(new_job("wait", json!({})), root),
            child_of(new_job("done", json!({})), root),
        ],
    );
    let grandchild = enqueue_one(&*store, child_of(new_job("wait", json!({})), kids[0]));
    let bystander = enqueue_one(&*store, new_job("wait", json!({})));
    claim(&*store, "w", "run", 1, T0);
    claim(&*store, "w", "done", 1, T0);
    store
        .finish(kids[2], "w", &Outcome::Succeeded(json!(null)), T0)
        .expect("finish");
    claim(&*store, "w", "batch", 1, T0);
    store
        .finish(root, "w", &Outcome::Succeeded(json!(null)), T0)
        .expect("finish");
    assert_eq!(
        store.cancel(root, T0 + 1).expect("cancel"),
        JobState::Succeeded,
        "the root itself had finished"
    );
    let run = store.job(kids[0]).expect("job");
    assert_eq!(run.state, JobState::Running);
    assert!(run.cancel_requested, "a running child is asked to stop");
    let wait = store.job(kids[1]).expect("job");
    assert_eq!(
        (wait.state, wait.finished_ms),
        (JobState::Cancelled, Some(T0 + 1))
    );
    assert_eq!(state(&*store, kids[2]), JobState::Succeeded);
    assert_eq!(
        state(&*store, grandchild),
        JobState::Cancelled,
        "the whole tree under the root"
    );
    assert_eq!(state(&*store, bystander), JobState::Queued);

    let root = enqueue_one(&*store, new_job("batch", json!({})));
    let kid = enqueue_one(&*store, child_of(new_job("wait", json!({})), root));
    assert_eq!(
        store.cancel(root, T0 + 2).expect("cancel"),
        JobState::Cancelled
    );
    assert_eq!(state(&*store, kid), JobState::Cancelled);
}

pub fn batch_status_counts_children(make: Factory<'_>) {
    let store = make();
    let root = enqueue_one(&*store, new_job("batch", json!({})));
    assert_eq!(
        store.batch_status(root).expect("status"),
        BatchStatus::default()
    );
    let kid = |t: &str| child_of(new_job(t, json!({})), root);
    let kids = enqueue(
        &*store,
        &[
            kid("ok"),
            kid("ok"),
            NewJob {
                max_attempts: 1,
                ..kid("bad")
            },
            kid("stop"),
            kid("run"),
            kid("wait"),
        ],
    );
    enqueue_one(&*store, child_of(new_job("deep", json!({})), kids[0]));
    for job in claim(&*store, "w", "ok", 2, T0) {
        store
            .finish(job.id, "w", &Outcome::Succeeded(json!(null)), T0)
            .expect("finish");
    }
    claim(&*store, "w", "bad", 1, T0);
    store
        .finish(kids[2], "w", &failed("x", T0), T0)
        .expect("finish");
    store.cancel(kids[3], T0).expect("cancel");
    claim(&*store, "w", "run", 1, T0);
    assert_eq!(
        store.batch_status(root).expect("status"),
        BatchStatus {
            queued: 1,
            running: 1,
            succeeded: 2,
            failed: 1,
            cancelled: 1,
        },
        "direct children only"
    );
    match store.batch_status(root + 1000) {
        Err(StoreError::JobNotFound(id)) => assert_eq!(id, root + 1000),
        other => panic!("the status of a missing batch gave {other:?}"),
    }
}

pub fn retry_only_failed_or_cancelled(make: Factory<'_>) {
    let store = make();
    let jobs = enqueue(
        &*store,
        &[
            NewJob {
                max_attempts: 1,
                ..new_job("t", json!({}))
            },
            new_job("t", json!({})),
            new_job("t", json!({})),
            new_job("t", json!({})),
        ],
    );
    let [fails, cancelled, succeeds, waits] = jobs[..] else {
        unreachable!("four ids")
    };
    claim(&*store, "w", "t", 1, T0);
    store
        .finish(fails, "w", &failed("boom", T0 + 50_000), T0 + 1)
        .expect("finish");
    store.cancel(cancelled, T0 + 1).expect("cancel");
    let job = store.retry(fails, T0 + 100).expect("retry a failed job");
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.attempts, 0, "a fresh set of attempts");
    assert_eq!(job.run_at_ms, T0 + 100, "due now");
    assert_eq!(job.finished_ms, None);
    assert_eq!(job.error.as_deref(), Some("boom"), "the last error is kept");
    assert_eq!((job.worker, job.lease_until_ms), (None, None));
    match store.retry(fails, T0 + 100) {
        Err(StoreError::JobState { id, state, .. }) => assert_eq!((id, state), (fails, "queued")),
        other => panic!("retrying a queued job gave {other:?}"),
    }
    let job = store
        .retry(cancelled, T0 + 100)
        .expect("retry a cancelled job");
    assert_eq!((job.state, job.cancel_requested), (JobState::Queued, false));

    // A cancel requested while running, then the worker died: retry clears the request.
    let got = claim(&*store, "w", "t", 10, T0 + 100);
    assert_eq!(ids(&got), [fails, cancelled, succeeds, waits]);
    store.cancel(waits, T0 + 101).expect("cancel");
    store
        .finish(succeeds, "w", &Outcome::Succeeded(json!(null)), T0 + 101)
        .expect("finish");
    for (id, st) in [(succeeds, "succeeded"), (fails, "running")] {
        match store.retry(id, T0 + 102) {
            Err(StoreError::JobState { id: got, state, .. }) => {
                assert_eq!((got, state), (id, st));
            }
            other => panic!("retrying a {st} job gave {other:?}"),
        }
    }
    store.reap(T0 + 100 + LEASE + 1).expect("reap");
    let job = store.retry(waits, T0 + LEASE * 2).expect("retry");
    assert_eq!((job.state, job.cancel_requested), (JobState::Queued, false));
    match store.retry(waits, T0) {
        Err(StoreError::JobState { state, .. }) => assert_eq!(state, "queued"),
        other => panic!("retrying a queued job gave {other:?}"),
    }
    assert!(matches!(
        store.retry(waits + 1000, T0),
        Err(StoreError::JobNotFound(_))
    ));
}

/// A batch enqueued in one transaction (its root, then children naming the root's new id, as
/// `Queue::enqueue_batch` does): all of it, or, when any child is refused, none of it.
pub fn a_batch_is_enqueued_whole_or_not_at_all(make: Factory<'_>) {
    let store = make();
    let enqueue_batch = |children: Vec<NewJob>| {
        let mut root = None;
        let done = store.transaction(&mut |tx| {
            let id = tx.enqueue(&new_job("batch", json!({"op": "x"})), T0)?.id();
            root = Some(id);
            for c in &children {
                tx.enqueue(&child_of(c.clone(), id), T0)?;
            }
            Ok(())
        });
        (root, done)
    };
    let (root, done) = enqueue_batch(vec![new_job("kid", json!({"n": 1})); 3]);
    done.expect("a whole batch commits");
    let root = root.expect("the body ran");
    assert_eq!(store.batch_status(root).expect("status").queued, 3);
    let kids = store
        .list_jobs(&JobFilter {
            parent_id: Some(root),
            ..JobFilter::default()
        })
        .expect("list");
    assert!(kids.iter().all(|k| k.parent_id == Some(root)), "{kids:?}");
    let before = store.list_jobs(&JobFilter::default()).expect("list").len();
    let bad = NewJob {
        priority: 0,
        ..new_job("kid", json!({}))
    };
    let (_, refused) = enqueue_batch(vec![new_job("kid", json!({})), bad]);
    assert!(
        matches!(refused, Err(crate::StoreError::InvalidJob(_))),
        "{refused:?}"
    );
    assert_eq!(
        store.list_jobs(&JobFilter::default()).expect("list").len(),
        before,
        "neither the root nor the first child stays"
    );
}
