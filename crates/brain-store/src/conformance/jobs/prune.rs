//! Pruning finished jobs before a cut-off, keeping every batch that still has an unfinished
//! (or recently finished) job.

use serde_json::json;

use super::{child_of, claim, enqueue_one, ids, new_job};
use crate::StoreError;
use crate::conformance::{Factory, T0};
use crate::jobs::{JobFilter, Outcome};

pub fn prune_keeps_unfinished_batches(make: Factory<'_>) {
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
