//! A claimed job's life under its lease: finishing (and that a finish is final), heartbeats,
//! the reaper taking an expired lease back, retries with backoff until the last attempt, and
//! progress reports, which only the lease holder can make.

use serde_json::json;

use super::{LEASE, claim, enqueue, enqueue_one, failed, ids, new_job, state};
use crate::conformance::{Factory, T0};
use crate::jobs::{JobProgress, JobState, NewJob, Outcome};

pub fn success_is_final(make: Factory<'_>) {
    let store = make();
    let id = enqueue_one(&*store, new_job("t", json!({})));
    claim(&*store, "w", "t", 1, T0);
    assert!(
        !store
            .finish(id, "intruder", &Outcome::Succeeded(json!(1)), T0 + 1)
            .expect("finish"),
        "only the lease holder finishes"
    );
    assert_eq!(state(&*store, id), JobState::Running);
    let result = json!({"imported": 3, "paths": ["a.md"]});
    assert!(
        store
            .finish(id, "w", &Outcome::Succeeded(result.clone()), T0 + 5)
            .expect("finish")
    );
    let job = store.job(id).expect("job");
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.result, Some(result));
    assert_eq!(job.finished_ms, Some(T0 + 5));
    assert_eq!(job.lease_until_ms, None);
    assert_eq!(job.worker.as_deref(), Some("w"), "the last worker is kept");
    for outcome in [
        Outcome::Succeeded(json!(2)),
        failed("late", T0),
        Outcome::Cancelled,
        Outcome::GaveUp("late".into()),
    ] {
        assert!(
            !store.finish(id, "w", &outcome, T0 + 6).expect("finish"),
            "a finished job is not finished again ({outcome:?})"
        );
    }
    assert_eq!(store.job(id).expect("job"), job, "unchanged");
    assert!(claim(&*store, "w", "t", 1, T0 + 10).is_empty());

    // Giving up fails the job at once, attempts left or not.
    let gave_up = enqueue_one(&*store, new_job("t", json!({"n": 99})));
    assert_eq!(claim(&*store, "w", "t", 1, T0 + 12).len(), 1);
    assert!(
        store
            .finish(gave_up, "w", &Outcome::GaveUp("refused".into()), T0 + 13)
            .expect("finish")
    );
    let g = store.job(gave_up).expect("job");
    assert_eq!(
        (g.state, g.attempts, g.error.as_deref()),
        (JobState::Failed, 1, Some("refused"))
    );
    assert_eq!(g.finished_ms, Some(T0 + 13));
    assert!(
        !store
            .finish(id + 1000, "w", &Outcome::Cancelled, T0)
            .expect("finish of an unknown job is not applied")
    );
}

pub fn a_reaped_lease_cannot_finish(make: Factory<'_>) {
    let store = make();
    let id = enqueue_one(&*store, new_job("t", json!({})));
    claim(&*store, "a", "t", 1, T0);
    assert!(
        store.reap(T0 + LEASE).expect("reap").is_empty(),
        "a lease ending now has not ended before now"
    );
    assert_eq!(store.reap(T0 + LEASE + 1).expect("reap"), [id]);
    let job = store.job(id).expect("job");
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.run_at_ms, T0 + LEASE + 1, "due at once");
    assert_eq!((job.worker, job.lease_until_ms), (None, None));
    assert!(job.error.is_some(), "the reaper says why");
    assert_eq!(job.attempts, 1);
    let again = claim(&*store, "b", "t", 1, T0 + LEASE + 2);
    assert_eq!(ids(&again), [id]);
    assert_eq!(again[0].attempts, 2);
    assert!(
        !store
            .finish(id, "a", &Outcome::Succeeded(json!("late")), T0 + LEASE + 3)
            .expect("finish"),
        "the first worker lost its lease"
    );
    assert!(
        !store
            .finish(id, "a", &failed("late", T0), T0 + LEASE + 3)
            .expect("finish")
    );
    assert_eq!(
        store
            .heartbeat("a", &[id], T0 + 2 * LEASE)
            .expect("heartbeat"),
        [id],
        "the old worker is told to stop"
    );
    let job = store.job(id).expect("job");
    assert_eq!(job.state, JobState::Running);
    assert_eq!(job.worker.as_deref(), Some("b"));
    assert_eq!(
        job.lease_until_ms,
        Some(T0 + LEASE + 2 + LEASE),
        "lease untouched"
    );
    assert!(
        store
            .finish(id, "b", &Outcome::Succeeded(json!("ok")), T0 + LEASE + 4)
            .expect("finish")
    );
    assert_eq!(store.job(id).expect("job").result, Some(json!("ok")));
}

pub fn heartbeats_keep_the_lease(make: Factory<'_>) {
    let store = make();
    let jobs = enqueue(&*store, &[new_job("t", json!({})), new_job("t", json!({}))]);
    claim(&*store, "w", "t", 2, T0);
    assert!(
        store
            .heartbeat("w", &jobs, T0 + 3 * LEASE)
            .expect("heartbeat")
            .is_empty(),
        "nothing to stop"
    );
    assert_eq!(
        store.job(jobs[0]).expect("job").lease_until_ms,
        Some(T0 + 3 * LEASE)
    );
    assert!(store.reap(T0 + 2 * LEASE).expect("reap").is_empty());
    assert_eq!(store.reap(T0 + 3 * LEASE + 1).expect("reap"), jobs);
    assert!(
        store
            .heartbeat("w", &[], T0)
            .expect("empty heartbeat")
            .is_empty()
    );
}

pub fn reaping_the_last_attempt_fails_the_job(make: Factory<'_>) {
    let store = make();
    let once = enqueue_one(
        &*store,
        NewJob {
            max_attempts: 1,
            ..new_job("t", json!({}))
        },
    );
    let cancelling = enqueue_one(&*store, new_job("t", json!({})));
    claim(&*store, "w", "t", 2, T0);
    assert_eq!(
        store.cancel(cancelling, T0 + 1).expect("cancel"),
        JobState::Running
    );
    let now = T0 + LEASE + 1;
    assert_eq!(store.reap(now).expect("reap"), [once, cancelling]);
    let job = store.job(once).expect("job");
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.finished_ms, Some(now));
    assert_eq!(
        job.error.as_deref(),
        Some("worker stopped responding (lease expired) on the last attempt")
    );
    let job = store.job(cancelling).expect("job");
    assert_eq!(
        (job.state, job.finished_ms),
        (JobState::Cancelled, Some(now)),
        "a job whose cancel was requested is not run again"
    );
    assert!(store.reap(now + 1).expect("reap").is_empty());
}

pub fn backoff_then_failure(make: Factory<'_>) {
    let store = make();
    let id = enqueue_one(
        &*store,
        NewJob {
            max_attempts: 2,
            ..new_job("t", json!({}))
        },
    );
    claim(&*store, "w", "t", 1, T0);
    assert!(
        store
            .finish(id, "w", &failed("disk full", T0 + 500), T0 + 10)
            .expect("finish")
    );
    let job = store.job(id).expect("job");
    assert_eq!(job.state, JobState::Queued, "attempts remain");
    assert_eq!(
        job.run_at_ms,
        T0 + 500,
        "pushed back by the caller's backoff"
    );
    assert_eq!(job.error.as_deref(), Some("disk full"));
    assert_eq!((job.attempts, job.finished_ms), (1, None));
    assert_eq!((job.worker, job.lease_until_ms), (None, None));
    assert!(
        claim(&*store, "w", "t", 1, T0 + 499).is_empty(),
        "not before run_at"
    );
    let again = claim(&*store, "w", "t", 1, T0 + 500);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(
        again[0].error.as_deref(),
        Some("disk full"),
        "kept while retrying"
    );
    assert!(
        store
            .finish(id, "w", &failed("disk still full", T0 + 5_000), T0 + 600)
            .expect("finish")
    );
    let job = store.job(id).expect("job");
    assert_eq!(job.state, JobState::Failed, "no attempts left");
    assert_eq!(job.finished_ms, Some(T0 + 600));
    assert_eq!(job.error.as_deref(), Some("disk still full"));
    assert_eq!(job.run_at_ms, T0 + 500, "a failed job is not rescheduled");
    assert!(claim(&*store, "w", "t", 1, T0 + 10_000).is_empty());
}

pub fn progress_only_from_the_lease_holder(make: Factory<'_>) {
    let store = make();
    let id = enqueue_one(&*store, new_job("t", json!({})));
    let progress = |current, message: &str, updated_ms| JobProgress {
        current,
        total: Some(10),
        message: message.into(),
        updated_ms,
        phase: None,
    };
    store
        .set_progress(id, "w", &progress(1, "queued", T0))
        .expect("progress of a queued job is dropped, not an error");
    assert_eq!(store.job(id).expect("job").progress, None);
    claim(&*store, "w", "t", 1, T0);
    // The phase is stored with the counts, so a follower never reads it from the message.
    let p = JobProgress {
        phase: Some(brain_core::Phase::Importing),
        ..progress(3, "Importing a.md", T0 + 1)
    };
    store.set_progress(id, "w", &p).expect("progress");
    assert_eq!(store.job(id).expect("job").progress, Some(p.clone()));
    store
        .set_progress(id, "other", &progress(9, "not mine", T0 + 2))
        .expect("progress from another worker is dropped");
    assert_eq!(store.job(id).expect("job").progress, Some(p.clone()));
    let big = JobProgress {
        current: u64::from(u32::MAX) + 7,
        total: None,
        message: String::new(),
        updated_ms: T0 + 3,
        phase: None,
    };
    store.set_progress(id, "w", &big).expect("progress");
    assert_eq!(store.job(id).expect("job").progress, Some(big.clone()));
    store
        .finish(id, "w", &Outcome::Succeeded(json!(null)), T0 + 4)
        .expect("finish");
    store
        .set_progress(id, "w", &p)
        .expect("progress after the end is dropped");
    assert_eq!(
        store.job(id).expect("job").progress,
        Some(big),
        "the last progress stays with the finished job"
    );
}
