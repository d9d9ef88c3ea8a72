//! The job queue: the state diagram in [`crate::jobs`], transition by transition, and the
//! rules around it (claim order, concurrency, leases, dedupe, batches, pruning, the outbox).

use serde_json::{Value, json};

use super::{Backend, Factory, T0, entity};
use crate::jobs::{
    BatchStatus, DedupePolicy, Enqueued, Job, JobFilter, JobProgress, JobState, NewJob, Outcome,
};
use crate::{PutOutcome, StoreError};

pub(super) fn run(make: Factory<'_>) {
    enqueue_and_read_back(make);
    list_filters_and_order(make);
    invalid_jobs_are_refused(make);
    claim_by_priority_then_age(make);
    claim_respects_run_at_and_types(make);
    claim_limit_is_shared_across_types_by_priority(make);
    per_type_concurrency_counts_every_worker(make);
    success_is_final(make);
    a_reaped_lease_cannot_finish(make);
    heartbeats_keep_the_lease(make);
    reaping_the_last_attempt_fails_the_job(make);
    backoff_then_failure(make);
    cancel_by_state(make);
    cancel_requests_reach_the_worker(make);
    cancelling_a_batch_root_cascades(make);
    batch_status_counts_children(make);
    retry_only_failed_or_cancelled(make);
    dedupe_skip(make);
    dedupe_replace(make);
    dedupe_coalesce(make);
    progress_only_from_the_lease_holder(make);
    prune_keeps_unfinished_batches(make);
    put_and_enqueue_is_one_transaction(make);
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

fn enqueue_and_read_back(make: Factory<'_>) {
    let store = make();
    let input = json!({"paths": ["a.md", "b.md"], "z": 1, "a": {"nested": true}});
    let out = store
        .enqueue(
            &[NewJob {
                priority: 7,
                run_at_ms: T0 + 10,
                max_attempts: 4,
                ..keyed(
                    new_job("import", input.clone()),
                    "vault",
                    DedupePolicy::Skip,
                )
            }],
            T0,
        )
        .expect("enqueue");
    let [Enqueued::Created(id)] = out[..] else {
        panic!("a first job is created: {out:?}")
    };
    let job = store.job(id).expect("job");
    let expected = Job {
        id,
        job_type: "import".into(),
        input,
        priority: 7,
        state: JobState::Queued,
        attempts: 0,
        max_attempts: 4,
        run_at_ms: T0 + 10,
        created_ms: T0,
        started_ms: None,
        finished_ms: None,
        worker: None,
        lease_until_ms: None,
        dedupe_key: Some("vault".into()),
        parent_id: None,
        cancel_requested: false,
        progress: None,
        result: None,
        error: None,
    };
    assert_eq!(job, expected, "every field round-trips");
    let keys: Vec<&str> = job
        .input
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["paths", "z", "a"], "input key order kept");
    match store.job(id + 1000) {
        Err(StoreError::JobNotFound(n)) => assert_eq!(n, id + 1000),
        other => panic!("a missing job gave {other:?}"),
    }
    let two = enqueue(&*store, &[new_job("a", json!({})), new_job("b", json!({}))]);
    assert!(
        two[0] > id && two[1] > two[0],
        "ids grow in enqueue order: {id} then {two:?}"
    );
}

fn list_filters_and_order(make: Factory<'_>) {
    let store = make();
    let root = enqueue_one(&*store, new_job("batch", json!({})));
    let a = enqueue_one(&*store, child_of(new_job("a", json!({})), root));
    let b = enqueue_one(&*store, child_of(new_job("b", json!({})), root));
    let c = enqueue_one(&*store, new_job("a", json!({})));
    let running = claim(&*store, "w", "b", 10, T0);
    assert_eq!(ids(&running), [b]);
    let list = |filter: JobFilter| ids(&store.list_jobs(&filter).expect("list"));
    assert_eq!(list(JobFilter::default()), [c, b, a, root], "newest first");
    assert_eq!(
        list(JobFilter {
            job_type: Some("a".into()),
            ..JobFilter::default()
        }),
        [c, a]
    );
    assert_eq!(
        list(JobFilter {
            parent_id: Some(root),
            ..JobFilter::default()
        }),
        [b, a]
    );
    assert_eq!(
        list(JobFilter {
            states: vec![JobState::Running],
            ..JobFilter::default()
        }),
        [b]
    );
    assert_eq!(
        list(JobFilter {
            states: vec![JobState::Queued, JobState::Running],
            job_type: Some("a".into()),
            parent_id: Some(root),
            limit: 0,
        }),
        [a]
    );
    assert_eq!(
        list(JobFilter {
            limit: 2,
            ..JobFilter::default()
        }),
        [c, b]
    );
    assert!(
        list(JobFilter {
            states: vec![JobState::Failed],
            ..JobFilter::default()
        })
        .is_empty()
    );
}

fn invalid_jobs_are_refused(make: Factory<'_>) {
    let store = make();
    let good = new_job("t", json!({"ok": true}));
    let cases = [
        ("priority 0", with_priority(good.clone(), 0)),
        ("priority 11", with_priority(good.clone(), 11)),
        (
            "no attempts",
            NewJob {
                max_attempts: 0,
                ..good.clone()
            },
        ),
        ("array input", new_job("t", json!(["a"]))),
        ("string input", new_job("t", json!("a"))),
        ("null input", new_job("t", Value::Null)),
        ("empty type", new_job("", json!({}))),
        ("unknown parent", child_of(good.clone(), 4242)),
    ];
    for (what, bad) in cases {
        // The good job first: a refused job undoes the whole call.
        match store.enqueue(&[good.clone(), bad], T0) {
            Err(StoreError::InvalidJob(msg)) => assert!(!msg.is_empty(), "{what}: a message"),
            other => panic!("{what} was not refused: {other:?}"),
        }
        assert!(
            store
                .list_jobs(&JobFilter::default())
                .expect("list")
                .is_empty(),
            "{what}: nothing enqueued"
        );
    }
    for priority in [1, 10] {
        store
            .enqueue(&[with_priority(good.clone(), priority)], T0)
            .expect("priorities 1 and 10 are valid");
    }
}

fn claim_by_priority_then_age(make: Factory<'_>) {
    let store = make();
    let ids_in = enqueue(
        &*store,
        &[
            with_priority(new_job("t", json!({"n": 0})), 5),
            with_priority(new_job("t", json!({"n": 1})), 9),
            with_priority(new_job("t", json!({"n": 2})), 5),
            with_priority(new_job("t", json!({"n": 3})), 9),
            with_priority(new_job("t", json!({"n": 4})), 1),
        ],
    );
    let first = claim(&*store, "w", "t", 3, T0);
    assert_eq!(
        ids(&first),
        [ids_in[1], ids_in[3], ids_in[0]],
        "priority, then oldest"
    );
    for job in &first {
        assert_eq!(job.state, JobState::Running);
        assert_eq!(job.worker.as_deref(), Some("w"));
        assert_eq!(job.attempts, 1);
        assert_eq!(job.started_ms, Some(T0));
        assert_eq!(job.lease_until_ms, Some(T0 + LEASE));
        assert_eq!(
            store.job(job.id).expect("job"),
            *job,
            "claim returns the row"
        );
    }
    assert_eq!(
        ids(&claim(&*store, "w", "t", 10, T0)),
        [ids_in[2], ids_in[4]]
    );
    assert!(claim(&*store, "w", "t", 10, T0).is_empty(), "nothing left");
    assert!(
        store
            .claim("w", &types(&[("t", 100)]), 0, T0, LEASE)
            .expect("claim")
            .is_empty()
    );
}

fn claim_respects_run_at_and_types(make: Factory<'_>) {
    let store = make();
    let later = enqueue_one(
        &*store,
        NewJob {
            run_at_ms: T0 + 1_000,
            priority: 10,
            ..new_job("t", json!({}))
        },
    );
    let other = enqueue_one(&*store, new_job("other", json!({})));
    assert!(
        claim(&*store, "w", "t", 10, T0).is_empty(),
        "a job due later is not claimed, and other types are not either"
    );
    assert!(claim(&*store, "w", "t", 10, T0 + 999).is_empty());
    assert_eq!(ids(&claim(&*store, "w", "t", 10, T0 + 1_000)), [later]);
    assert!(
        store
            .claim("w", &[], 10, T0, LEASE)
            .expect("claim")
            .is_empty(),
        "no types, no jobs"
    );
    assert_eq!(state(&*store, other), JobState::Queued);
}

fn claim_limit_is_shared_across_types_by_priority(make: Factory<'_>) {
    let store = make();
    let low = enqueue(
        &*store,
        &[
            with_priority(new_job("low", json!({})), 3),
            with_priority(new_job("low", json!({})), 3),
        ],
    );
    let high = enqueue(
        &*store,
        &[
            with_priority(new_job("high", json!({})), 8),
            with_priority(new_job("high", json!({})), 8),
        ],
    );
    let both = types(&[("low", 5), ("high", 5)]);
    let got = store.claim("w", &both, 3, T0, LEASE).expect("claim");
    assert_eq!(
        ids(&got),
        [high[0], high[1], low[0]],
        "the limit goes to the best jobs across types, in claim order"
    );
    // A type listed twice counts once, with its larger limit.
    let more = enqueue(
        &*store,
        &[new_job("dup", json!({})), new_job("dup", json!({}))],
    );
    let twice = types(&[("dup", 1), ("dup", 1)]);
    assert_eq!(
        ids(&store.claim("w", &twice, 10, T0, LEASE).expect("claim")),
        [more[0]]
    );
}

fn per_type_concurrency_counts_every_worker(make: Factory<'_>) {
    let store = make();
    let jobs = enqueue(
        &*store,
        &[
            new_job("x", json!({})),
            new_job("x", json!({})),
            new_job("x", json!({})),
            new_job("x", json!({})),
            new_job("y", json!({})),
        ],
    );
    let x2 = types(&[("x", 2), ("y", 1)]);
    let a = store.claim("a", &x2, 10, T0, LEASE).expect("claim a");
    assert_eq!(ids(&a), [jobs[0], jobs[1], jobs[4]]);
    let b = store.claim("b", &x2, 10, T0, LEASE).expect("claim b");
    assert!(
        b.is_empty(),
        "another worker's running jobs use up the type's limit: {b:?}"
    );
    let b = store
        .claim("b", &types(&[("x", 3)]), 10, T0, LEASE)
        .expect("claim b");
    assert_eq!(ids(&b), [jobs[2]], "a limit of 3 leaves one slot");
    assert!(
        store
            .finish(jobs[0], "a", &Outcome::Succeeded(json!(null)), T0)
            .expect("finish")
    );
    let b = store.claim("b", &x2, 10, T0, LEASE).expect("claim b");
    assert!(b.is_empty(), "still 2 running (1 under a, 1 under b)");
    let b = store
        .claim("b", &types(&[("x", 3)]), 10, T0, LEASE)
        .expect("claim b");
    assert_eq!(ids(&b), [jobs[3]], "a finished job frees its slot");
}

fn success_is_final(make: Factory<'_>) {
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

fn a_reaped_lease_cannot_finish(make: Factory<'_>) {
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

fn heartbeats_keep_the_lease(make: Factory<'_>) {
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

fn reaping_the_last_attempt_fails_the_job(make: Factory<'_>) {
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

fn backoff_then_failure(make: Factory<'_>) {
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

fn cancel_by_state(make: Factory<'_>) {
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

fn cancel_requests_reach_the_worker(make: Factory<'_>) {
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

fn cancelling_a_batch_root_cascades(make: Factory<'_>) {
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

fn batch_status_counts_children(make: Factory<'_>) {
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

fn retry_only_failed_or_cancelled(make: Factory<'_>) {
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

fn dedupe_skip(make: Factory<'_>) {
    let store = make();
    let skip = |n: u32| keyed(new_job("t", json!({"n": n})), "k", DedupePolicy::Skip);
    let out = store.enqueue(&[skip(1), skip(2)], T0).expect("enqueue");
    let id = out[0].id();
    assert_eq!(
        out,
        [Enqueued::Created(id), Enqueued::Existing(id)],
        "a job sees the ones before it in the same call"
    );
    assert_eq!(
        store.job(id).expect("job").input,
        json!({"n": 1}),
        "unchanged"
    );
    assert_eq!(
        store.enqueue(&[skip(3)], T0).expect("enqueue"),
        [Enqueued::Existing(id)]
    );
    let other_type = keyed(new_job("u", json!({})), "k", DedupePolicy::Skip);
    let other_key = keyed(new_job("t", json!({})), "k2", DedupePolicy::Skip);
    let out = store
        .enqueue(&[other_type, other_key], T0)
        .expect("enqueue");
    assert!(
        matches!(out[..], [Enqueued::Created(_), Enqueued::Created(_)]),
        "keys are per type: {out:?}"
    );
    claim(&*store, "w", "t", 10, T0);
    assert_eq!(
        store.enqueue(&[skip(4)], T0).expect("enqueue"),
        [Enqueued::Existing(id)],
        "a running job counts for skip"
    );
    store.cancel(id, T0).expect("cancel");
    let Enqueued::Created(second) = store.enqueue(&[skip(5)], T0).expect("enqueue")[0] else {
        panic!("a job being cancelled will not do the work: a new one is queued")
    };
    store
        .finish(id, "w", &Outcome::Cancelled, T0)
        .expect("finish");
    assert_eq!(
        store.enqueue(&[skip(6)], T0).expect("enqueue"),
        [Enqueued::Existing(second)]
    );
    claim(&*store, "w", "t", 10, T0);
    store
        .finish(second, "w", &Outcome::Succeeded(json!(null)), T0)
        .expect("finish");
    assert!(
        matches!(
            store.enqueue(&[skip(7)], T0).expect("enqueue")[..],
            [Enqueued::Created(_)]
        ),
        "a finished job does not count"
    );
    let no_key = new_job("t", json!({}));
    let out = store
        .enqueue(&[no_key.clone(), no_key], T0)
        .expect("enqueue");
    assert!(
        matches!(out[..], [Enqueued::Created(a), Enqueued::Created(b)] if a != b),
        "jobs without a key are never merged"
    );
}

fn dedupe_replace(make: Factory<'_>) {
    let store = make();
    let id = enqueue_one(
        &*store,
        keyed(
            new_job("t", json!({"v": 1, "old": true})),
            "k",
            DedupePolicy::Replace,
        ),
    );
    let out = store
        .enqueue(
            &[NewJob {
                priority: 2,
                run_at_ms: T0 + 7,
                max_attempts: 9,
                ..keyed(new_job("t", json!({"v": 2})), "k", DedupePolicy::Replace)
            }],
            T0 + 5,
        )
        .expect("enqueue");
    assert_eq!(out, [Enqueued::Existing(id)]);
    let job = store.job(id).expect("job");
    assert_eq!(job.input, json!({"v": 2}), "replaced, not merged");
    assert_eq!(
        (job.priority, job.run_at_ms, job.max_attempts),
        (2, T0 + 7, 9)
    );
    assert_eq!(job.created_ms, T0, "still the job enqueued first");
    assert_eq!(
        store.list_jobs(&JobFilter::default()).expect("list").len(),
        1
    );
    claim(&*store, "w", "t", 1, T0 + 7);
    let out = store
        .enqueue(
            &[keyed(
                new_job("t", json!({"v": 3})),
                "k",
                DedupePolicy::Replace,
            )],
            T0 + 8,
        )
        .expect("enqueue");
    let [Enqueued::Created(new)] = out[..] else {
        panic!("a running job is never replaced: {out:?}")
    };
    assert_eq!(store.job(id).expect("job").input, json!({"v": 2}));
    assert_eq!(store.job(new).expect("job").input, json!({"v": 3}));
    // The running job fails and comes back: two queued jobs with one key is allowed, and the
    // next replace goes to the older one.
    store
        .finish(id, "w", &failed("x", T0), T0 + 9)
        .expect("finish");
    let out = store
        .enqueue(
            &[keyed(
                new_job("t", json!({"v": 4})),
                "k",
                DedupePolicy::Replace,
            )],
            T0 + 10,
        )
        .expect("enqueue");
    assert_eq!(out, [Enqueued::Existing(id)]);
    assert_eq!(store.job(new).expect("job").input, json!({"v": 3}));
}

fn dedupe_coalesce(make: Factory<'_>) {
    let store = make();
    let co = |input: Value, priority: u8, run_at_ms: i64| NewJob {
        priority,
        run_at_ms,
        ..keyed(new_job("import", input), "vault", DedupePolicy::Coalesce)
    };
    let id = enqueue_one(
        &*store,
        co(
            json!({"paths": ["a.md", "b.md"], "mode": "fast", "keep": 1}),
            3,
            T0 + 50,
        ),
    );
    let out = store
        .enqueue(
            &[
                co(
                    json!({"paths": ["b.md", "c.md"], "mode": "full"}),
                    6,
                    T0 + 90,
                ),
                co(
                    json!({"paths": ["a.md", "d.md", "d.md"], "tags": ["x"]}),
                    2,
                    T0 + 10,
                ),
            ],
            T0,
        )
        .expect("enqueue");
    assert_eq!(out, [Enqueued::Existing(id), Enqueued::Existing(id)]);
    let job = store.job(id).expect("job");
    assert_eq!(
        job.input,
        json!({"paths": ["a.md", "b.md", "c.md", "d.md"], "mode": "full", "keep": 1, "tags": ["x"]}),
        "arrays gain the missing items in order; other keys take the new value"
    );
    assert_eq!(job.priority, 6, "the higher priority");
    assert_eq!(job.run_at_ms, T0 + 10, "the earlier run_at");

    let running = claim(&*store, "w", "import", 1, T0 + 10);
    assert_eq!(ids(&running), [id]);
    let out = store
        .enqueue(&[co(json!({"paths": ["e.md"]}), 5, T0 + 20)], T0 + 20)
        .expect("enqueue");
    let [Enqueued::Created(next)] = out[..] else {
        panic!("a running job is never merged into: {out:?}")
    };
    assert_eq!(
        store.job(id).expect("job").input,
        job.input,
        "the running job's input is untouched"
    );
    let out = store
        .enqueue(&[co(json!({"paths": ["f.md"]}), 5, T0 + 30)], T0 + 30)
        .expect("enqueue");
    assert_eq!(
        out,
        [Enqueued::Existing(next)],
        "merges into the new queued one"
    );
    assert_eq!(
        store.job(next).expect("job").input,
        json!({"paths": ["e.md", "f.md"]})
    );
}

fn progress_only_from_the_lease_holder(make: Factory<'_>) {
    let store = make();
    let id = enqueue_one(&*store, new_job("t", json!({})));
    let progress = |current, message: &str, updated_ms| JobProgress {
        current,
        total: Some(10),
        message: message.into(),
        updated_ms,
    };
    store
        .set_progress(id, "w", &progress(1, "queued", T0))
        .expect("progress of a queued job is dropped, not an error");
    assert_eq!(store.job(id).expect("job").progress, None);
    claim(&*store, "w", "t", 1, T0);
    let p = progress(3, "Importing a.md", T0 + 1);
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

fn prune_keeps_unfinished_batches(make: Factory<'_>) {
    let store = make();
    let finish_all = |t: &str, at: i64| {
        for job in claim(&*store, "w", t, 100, T0) {
            store
                .finish(job.id, "w", &Outcome::Succeeded(json!(null)), at)
                .expect("finish");
        }
    };
    // A lone old job, a lone recent one, a queued one and a running one.
    let old = enqueue_one(&*store, new_job("old", json!({})));
    let recent = enqueue_one(&*store, new_job("recent", json!({})));
    let queued = enqueue_one(&*store, new_job("queued", json!({})));
    let running = enqueue_one(&*store, new_job("running", json!({})));
    // A finished batch (all old), and one whose grandchild still runs.
    let done_root = enqueue_one(&*store, new_job("old", json!({})));
    let done_kid = enqueue_one(&*store, child_of(new_job("old", json!({})), done_root));
    let live_root = enqueue_one(&*store, new_job("old", json!({})));
    let live_kid = enqueue_one(&*store, child_of(new_job("old", json!({})), live_root));
    let live_grandchild = enqueue_one(&*store, child_of(new_job("running", json!({})), live_kid));
    // A batch whose child finished after the cut-off.
    let late_root = enqueue_one(&*store, new_job("old", json!({})));
    let late_kid = enqueue_one(&*store, child_of(new_job("recent", json!({})), late_root));
    finish_all("old", T0 + 10);
    finish_all("recent", T0 + 1_000);
    claim(&*store, "w", "running", 100, T0);

    assert_eq!(store.prune(T0 + 10).expect("prune"), 0, "strictly before");
    assert_eq!(store.prune(T0 + 500).expect("prune"), 3);
    for gone in [old, done_root, done_kid] {
        assert!(
            matches!(store.job(gone), Err(StoreError::JobNotFound(_))),
            "#{gone} pruned"
        );
    }
    for kept in [
        recent,
        queued,
        running,
        live_root,
        live_kid,
        live_grandchild,
        late_root,
        late_kid,
    ] {
        store.job(kept).expect("kept");
    }
    assert_eq!(store.prune(T0 + 500).expect("prune again"), 0);
    store
        .finish(
            live_grandchild,
            "w",
            &Outcome::Succeeded(json!(null)),
            T0 + 20,
        )
        .expect("finish");
    store
        .finish(running, "w", &Outcome::Succeeded(json!(null)), T0 + 20)
        .expect("finish");
    assert_eq!(
        store.prune(T0 + 500).expect("prune"),
        4,
        "the whole batch goes once its last job finished, with the other job"
    );
    assert_eq!(store.prune(T0 + 2_000).expect("prune"), 3);
    assert_eq!(
        ids(&store.list_jobs(&JobFilter::default()).expect("list")),
        [queued]
    );
}

fn put_and_enqueue_is_one_transaction(make: Factory<'_>) {
    let store = make();
    let note = entity("note/a", "# A\nfirst\n", T0);
    let export = |path: &str| {
        keyed(
            new_job("export", json!({"paths": [path]})),
            "export",
            DedupePolicy::Coalesce,
        )
    };
    let (outcome, enqueued) = store
        .put_and_enqueue(&note, &export("a.md"), T0)
        .expect("put and enqueue");
    assert_eq!(outcome, PutOutcome::Created);
    let Some(Enqueued::Created(id)) = enqueued else {
        panic!("a new entity enqueues its job: {enqueued:?}")
    };
    assert_eq!(store.get(&note.entity_ref).expect("get"), note);
    assert_eq!(
        store.job(id).expect("job").input,
        json!({"paths": ["a.md"]})
    );

    let (outcome, enqueued) = store
        .put_and_enqueue(&note, &export("a.md"), T0 + 1)
        .expect("put and enqueue");
    assert_eq!(
        (outcome, enqueued),
        (PutOutcome::Unchanged, None),
        "nothing changed, nothing to do"
    );
    let b = entity("note/b", "# B\n", T0);
    let (outcome, enqueued) = store
        .put_and_enqueue(&b, &export("b.md"), T0 + 2)
        .expect("put and enqueue");
    assert_eq!(
        (outcome, enqueued),
        (PutOutcome::Created, Some(Enqueued::Existing(id))),
        "the job's dedupe policy applies"
    );
    assert_eq!(
        store.job(id).expect("job").input,
        json!({"paths": ["a.md", "b.md"]})
    );

    // Refused before anything is written...
    let c = entity("note/c", "# C\n", T0);
    let bad = with_priority(export("c.md"), 0);
    assert!(matches!(
        store.put_and_enqueue(&c, &bad, T0),
        Err(StoreError::InvalidJob(_))
    ));
    // ... and refused inside the transaction, after the put: the put is rolled back too.
    let orphan = child_of(export("c.md"), 4242);
    assert!(matches!(
        store.put_and_enqueue(&c, &orphan, T0),
        Err(StoreError::InvalidJob(_))
    ));
    assert!(
        matches!(store.get_any(&c.entity_ref), Err(StoreError::NotFound(_))),
        "no entity without its job"
    );
    // A put that fails leaves no job behind either.
    let mut clash = entity("note/A", "# shouting\n", T0);
    clash.path = "A.md".into();
    assert!(matches!(
        store.put_and_enqueue(&clash, &new_job("export", json!({})), T0),
        Err(StoreError::PathCollision(_))
    ));
    assert_eq!(
        ids(&store.list_jobs(&JobFilter::default()).expect("list")),
        [id],
        "still the one job"
    );
    let changed = entity("note/a", "# A\nsecond\n", T0 + 3);
    let (outcome, enqueued) = store
        .put_and_enqueue(&changed, &new_job("index", json!({})), T0 + 3)
        .expect("put and enqueue");
    assert_eq!(outcome, PutOutcome::Updated);
    assert!(matches!(enqueued, Some(Enqueued::Created(_))));
}
