//! Paused job types (`brain sync pause|resume`): their jobs queue up (with dedupe) and can be
//! cancelled, but no worker claims them until the type is resumed.

use serde_json::json;

use super::{LEASE, claim, enqueue, enqueue_one, ids, keyed, new_job, state, types, with_priority};
use crate::conformance::{Factory, T0};
use crate::jobs::{DedupePolicy, JobState};

pub fn a_paused_type_is_not_claimed_until_resumed(make: Factory<'_>) {
    let store = make();
    assert!(store.paused_types().expect("paused").is_empty());
    store.pause_types(&["sync"], T0).expect("pause");
    // Queued after the pause, and better placed than the other type's job: still skipped.
    let paused = enqueue_one(&*store, with_priority(new_job("sync", json!({})), 10));
    let other = enqueue_one(&*store, with_priority(new_job("other", json!({})), 1));
    let both = types(&[("sync", 4), ("other", 4)]);
    let got = store.claim("w", &both, 10, T0, LEASE).expect("claim");
    assert_eq!(
        ids(&got),
        [other],
        "the other type is claimed, the paused one is not"
    );
    assert_eq!(state(&*store, paused), JobState::Queued);
    assert!(
        claim(&*store, "w", "sync", 10, T0).is_empty(),
        "asked for alone"
    );

    store.resume_types(&["sync"]).expect("resume");
    assert!(store.paused_types().expect("paused").is_empty());
    assert_eq!(ids(&claim(&*store, "w", "sync", 10, T0)), [paused]);
}

pub fn pausing_is_idempotent_and_listed_sorted(make: Factory<'_>) {
    let store = make();
    store.pause_types(&["b", "a"], T0).expect("pause");
    store.pause_types(&["a"], T0 + 5).expect("pause again");
    store.pause_types(&[], T0).expect("pause nothing");
    assert_eq!(store.paused_types().expect("paused"), ["a", "b"]);
    store.resume_types(&["a", "never-paused"]).expect("resume");
    store.resume_types(&["a"]).expect("resume again");
    assert_eq!(store.paused_types().expect("paused"), ["b"]);
    let job = enqueue_one(&*store, new_job("a", json!({})));
    assert_eq!(
        ids(&claim(&*store, "w", "a", 10, T0)),
        [job],
        "a is resumed"
    );
}

pub fn paused_jobs_still_queue_dedupe_and_cancel(make: Factory<'_>) {
    let store = make();
    store.pause_types(&["import"], T0).expect("pause");
    let merged = enqueue(
        &*store,
        &[
            keyed(
                new_job("import", json!({"paths": ["a.md"]})),
                "vault",
                DedupePolicy::Coalesce,
            ),
            keyed(
                new_job("import", json!({"paths": ["b.md"]})),
                "vault",
                DedupePolicy::Coalesce,
            ),
        ],
    );
    assert_eq!(merged[0], merged[1], "coalesced while paused");
    assert_eq!(
        store.job(merged[0]).expect("job").input,
        json!({"paths": ["a.md", "b.md"]})
    );
    assert_eq!(
        store.cancel(merged[0], T0 + 1).expect("cancel"),
        JobState::Cancelled,
        "a queued job of a paused type is cancelled at once"
    );
    let later = enqueue_one(&*store, new_job("import", json!({})));
    store.resume_types(&["import"]).expect("resume");
    assert_eq!(
        ids(&claim(&*store, "w", "import", 10, T0 + 2)),
        [later],
        "the cancelled job stays cancelled"
    );
}
