//! Which jobs a claim takes: priority then age, only due jobs of the listed types, a limit
//! shared across types by priority, and per-type concurrency counted over every worker.

use serde_json::json;

use super::{LEASE, claim, enqueue, enqueue_one, ids, new_job, state, types, with_priority};
use crate::conformance::{Factory, T0};
use crate::jobs::{JobState, NewJob, Outcome};

pub fn claim_by_priority_then_age(make: Factory<'_>) {
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

pub fn claim_respects_run_at_and_types(make: Factory<'_>) {
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

pub fn claim_limit_is_shared_across_types_by_priority(make: Factory<'_>) {
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

pub fn per_type_concurrency_counts_every_worker(make: Factory<'_>) {
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
