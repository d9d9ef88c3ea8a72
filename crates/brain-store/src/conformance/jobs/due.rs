//! When the next job is due (`next_run_at`, what idle workers sleep on) and the queue depth
//! (`job_counts`, for `brain status`).

use serde_json::json;

use super::{claim, enqueue, new_job};
use crate::conformance::{Factory, T0};
use crate::jobs::{JobCount, JobState, NewJob, Outcome};

fn at(t: &str, run_at_ms: i64) -> NewJob {
    NewJob {
        run_at_ms,
        ..new_job(t, json!({}))
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| t.to_string()).collect()
}

pub fn next_run_at_is_the_earliest_queued_unpaused_job(make: Factory<'_>) {
    let store = make();
    let next = |list: &[&str]| store.next_run_at(&names(list)).expect("next run at");
    assert_eq!(next(&["a", "b"]), None, "an empty queue");
    enqueue(
        &*store,
        &[
            at("a", T0 + 500),
            at("a", T0 + 300),
            at("b", T0 + 100),
            at("c", T0 + 50),
        ],
    );
    assert_eq!(next(&["a"]), Some(T0 + 300));
    assert_eq!(
        next(&["a", "b"]),
        Some(T0 + 100),
        "earliest across the types"
    );
    assert_eq!(next(&[]), None, "no types, nothing due");
    assert_eq!(next(&["zzz"]), None, "other types do not count");

    store.pause_types(&["b"], T0).expect("pause");
    assert_eq!(
        next(&["a", "b"]),
        Some(T0 + 300),
        "a paused type is left out"
    );
    store.resume_types(&["b"]).expect("resume");

    // Only queued jobs count: a running or cancelled one is not waiting for its time.
    assert_eq!(claim(&*store, "w", "b", 10, T0 + 100).len(), 1);
    assert_eq!(next(&["a", "b"]), Some(T0 + 300));
    assert_eq!(claim(&*store, "w", "a", 1, T0 + 300).len(), 1);
    assert_eq!(next(&["a"]), Some(T0 + 500));
    let sooner = enqueue(&*store, &[at("a", T0 + 400)]);
    assert_eq!(next(&["a"]), Some(T0 + 400));
    store.cancel(sooner[0], T0 + 301).expect("cancel");
    assert_eq!(next(&["a"]), Some(T0 + 500));
    // A due job is reported as well: it may be waiting for a free slot of its type.
    assert_eq!(next(&["c"]), Some(T0 + 50));
}

pub fn job_counts_are_the_queue_depth(make: Factory<'_>) {
    let store = make();
    assert!(store.job_counts().expect("counts").is_empty());
    let jobs = enqueue(
        &*store,
        &[
            new_job("sync", json!({})),
            new_job("import", json!({})),
            new_job("import", json!({})),
            new_job("import", json!({})),
            new_job("export", json!({})),
        ],
    );
    claim(&*store, "w", "import", 1, T0);
    claim(&*store, "w", "export", 1, T0);
    assert!(
        store
            .finish(jobs[4], "w", &Outcome::Succeeded(json!(null)), T0)
            .expect("finish")
    );
    let count = |t: &str, state, count| JobCount {
        job_type: t.into(),
        state,
        count,
    };
    assert_eq!(
        store.job_counts().expect("counts"),
        [
            count("import", JobState::Queued, 2),
            count("import", JobState::Running, 1),
            count("sync", JobState::Queued, 1),
        ],
        "queued and running only, by type then state"
    );
}
