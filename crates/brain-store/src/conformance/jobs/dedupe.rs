//! The three dedupe policies for a job whose key matches a queued or running one: skip,
//! replace and coalesce.

use serde_json::{Value, json};

use super::{claim, enqueue_one, failed, ids, keyed, new_job};
use crate::conformance::{Factory, T0};
use crate::jobs::{DedupePolicy, Enqueued, JobFilter, NewJob, Outcome};

pub fn dedupe_skip(make: Factory<'_>) {
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

pub fn dedupe_replace(make: Factory<'_>) {
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

pub fn dedupe_coalesce(make: Factory<'_>) {
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
