//! Schedules: stored definitions, timing kept across a restart, and each due time fired once
//! whichever scheduler gets there first.

use serde_json::json;

use super::{keyed, new_job};
use crate::conformance::{Factory, T0};
use crate::jobs::DedupePolicy;
use crate::schedules::ScheduleDef;

fn def(name: &str, timing: &str) -> ScheduleDef {
    ScheduleDef {
        name: name.into(),
        job_type: "sync".into(),
        input: json!({"mode": "full"}),
        timing: timing.into(),
        scope: "store".into(),
        source: "config".into(),
    }
}

pub fn a_due_time_fires_once_whoever_fires_it(make: Factory<'_>) {
    let store = make();
    store
        .put_schedule(&def("nightly", "every 60s"), T0)
        .expect("put");
    let job = keyed(
        new_job("sync", json!({})),
        "schedule:nightly",
        DedupePolicy::Skip,
    );
    let first = store
        .fire_schedule("nightly", T0, T0 + 60_000, &job, T0 + 5)
        .expect("fire");
    let Some(enqueued) = first else {
        panic!("a due schedule fires");
    };
    // A second scheduler that read the same due time finds it moved on: nothing enqueued.
    assert_eq!(
        store
            .fire_schedule("nightly", T0, T0 + 60_000, &job, T0 + 6)
            .expect("fire again"),
        None
    );
    assert_eq!(
        store
            .job_counts()
            .expect("counts")
            .iter()
            .map(|c| c.count)
            .sum::<u64>(),
        1
    );
    let s = &store.schedules().expect("list")[0];
    assert_eq!(
        (s.next_run_ms, s.last_run_ms, s.last_job),
        (T0 + 60_000, Some(T0 + 5), Some(enqueued.id()))
    );
    // A firing while the last one's job still waits joins it (the job's dedupe).
    let again = store
        .fire_schedule("nightly", T0 + 60_000, T0 + 120_000, &job, T0 + 60_001)
        .expect("fire at the next time")
        .expect("due");
    assert_eq!(again.id(), enqueued.id(), "joined the queued job");
    assert_eq!(
        store.schedules().expect("list")[0].next_run_ms,
        T0 + 120_000
    );
    // A schedule that is not there fires nothing.
    assert_eq!(
        store
            .fire_schedule("gone", T0, T0 + 1, &job, T0)
            .expect("fire"),
        None
    );
}

pub fn an_unchanged_definition_keeps_its_timing(make: Factory<'_>) {
    let store = make();
    store.put_schedule(&def("a", "every 60s"), T0).expect("put");
    let job = new_job("sync", json!({}));
    store
        .fire_schedule("a", T0, T0 + 60_000, &job, T0)
        .expect("fire")
        .expect("due");
    // A restart puts the same definition with a fresh due time: the stored one stays.
    store
        .put_schedule(&def("a", "every 60s"), T0 + 1)
        .expect("put again");
    let s = &store.schedules().expect("list")[0];
    assert_eq!((s.next_run_ms, s.last_run_ms), (T0 + 60_000, Some(T0)));
    // A changed definition takes the new due time.
    store
        .put_schedule(&def("a", "every 30s"), T0 + 30_000)
        .expect("change");
    let s = &store.schedules().expect("list")[0];
    assert_eq!(
        (s.def.timing.as_str(), s.next_run_ms),
        ("every 30s", T0 + 30_000)
    );
    assert_eq!(s.def.input, json!({"mode": "full"}), "input kept as JSON");
}

pub fn schedules_left_out_of_their_source_are_removed(make: Factory<'_>) {
    let store = make();
    for name in ["a", "b"] {
        store
            .put_schedule(&def(name, "every 60s"), T0)
            .expect("put");
    }
    let mut builtin = def("git-sync", "every 300s");
    builtin.source = "builtin".into();
    store.put_schedule(&builtin, T0).expect("put builtin");
    assert_eq!(store.remove_schedules("config", &["b"]).expect("remove"), 1);
    let names: Vec<String> = store
        .schedules()
        .expect("list")
        .into_iter()
        .map(|s| s.def.name)
        .collect();
    assert_eq!(
        names,
        ["b", "git-sync"],
        "by name; another source's are kept"
    );
}
