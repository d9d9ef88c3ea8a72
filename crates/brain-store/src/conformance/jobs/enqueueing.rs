//! Jobs going in and reading them back: every field of an enqueued job round-trips, ids grow
//! in enqueue order, `list_jobs` filters and orders, and an invalid job is refused with the
//! whole call undone.

use serde_json::{Value, json};

use super::{child_of, claim, enqueue, enqueue_one, ids, keyed, new_job, with_priority};
use crate::StoreError;
use crate::conformance::{Factory, T0};
use crate::jobs::{DedupePolicy, Enqueued, Job, JobFilter, JobState, NewJob};

pub fn enqueue_and_read_back(make: Factory<'_>) {
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
        replica: None,
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

pub fn list_filters_and_order(make: Factory<'_>) {
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

pub fn invalid_jobs_are_refused(make: Factory<'_>) {
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
