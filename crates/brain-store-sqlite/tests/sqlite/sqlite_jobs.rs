//! The job queue on SQLite beyond the conformance suite: claims racing from several
//! connections on one file (several processes sharing a vault) never hand out a job twice, and
//! each connection sees the others' commits through `data_version`.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::HashSet;
use std::sync::Arc;

use brain_store::conformance::T0;
use brain_store::jobs::{NewJob, Outcome};
use brain_store::{JobStore, Store};
use brain_store_sqlite::SqliteStore;
use serde_json::json;

const JOBS: usize = 2_000;

fn job(n: usize) -> NewJob {
    NewJob {
        job_type: "noop".into(),
        input: json!({ "n": n }),
        priority: 1 + (n % 10) as u8,
        run_at_ms: T0,
        max_attempts: 1,
        dedupe: None,
        parent_id: None,
        bound_to_replica: false,
    }
}

/// Four workers on two connections (two "processes", two threads each) drain the queue with
/// small claims; every job is claimed exactly once and every finish applies.
#[test]
fn racing_claims_never_share_a_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let stores = [
        Arc::new(SqliteStore::open(&path).expect("open")),
        Arc::new(SqliteStore::open(&path).expect("open again")),
    ];
    let jobs: Vec<NewJob> = (0..JOBS).map(job).collect();
    stores[0].enqueue(&jobs, T0).expect("enqueue");
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let store = stores[w % 2].clone();
            std::thread::spawn(move || {
                let name = format!("worker-{w}");
                let types = [("noop".to_string(), u32::MAX)];
                let mut mine = Vec::new();
                loop {
                    let got = store.claim(&name, &types, 7, T0, 60_000).expect("claim");
                    if got.is_empty() {
                        return mine;
                    }
                    for j in got {
                        assert_eq!(j.worker.as_deref(), Some(name.as_str()));
                        let done = store
                            .finish(j.id, &name, &Outcome::Succeeded(json!(w)), T0 + 1)
                            .expect("finish");
                        assert!(done, "job #{} finished by its only claimer", j.id);
                        mine.push(j.id);
                    }
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for w in workers {
        for id in w.join().expect("worker") {
            assert!(seen.insert(id), "job #{id} was claimed twice");
        }
    }
    assert_eq!(seen.len(), JOBS, "every job claimed");
}

/// The per-type limit holds across connections: with a limit of 3 and nobody finishing, three
/// jobs run in all, however the claims interleave.
#[test]
fn the_type_limit_holds_across_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let first = Arc::new(SqliteStore::open(&path).expect("open"));
    let second = Arc::new(SqliteStore::open(&path).expect("open again"));
    let jobs: Vec<NewJob> = (0..50).map(job).collect();
    first.enqueue(&jobs, T0).expect("enqueue");
    let claimers: Vec<_> = [first, second]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
        .map(|(w, store)| {
            std::thread::spawn(move || {
                let types = [("noop".to_string(), 3)];
                store
                    .claim(&format!("w{w}"), &types, 10, T0, 60_000)
                    .expect("claim")
                    .len()
            })
        })
        .collect();
    let running: usize = claimers
        .into_iter()
        .map(|c| c.join().expect("claimer"))
        .sum();
    assert_eq!(running, 3);
}

/// `data_version` tells a store that another connection (another process) committed, so a
/// daemon wakes its workers for a job a CLI enqueued; its own commits do not change it.
#[test]
fn data_version_changes_for_other_connections_commits_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let daemon = SqliteStore::open(&path).expect("open");
    let cli = SqliteStore::open(&path).expect("open again");

    let before = daemon
        .change_notifier()
        .expect("SQLite tells")
        .version()
        .expect("version");
    assert_eq!(
        daemon
            .change_notifier()
            .expect("SQLite tells")
            .version()
            .expect("version"),
        before,
        "stable"
    );
    daemon.enqueue(&[job(0)], T0).expect("own enqueue");
    daemon.pause_types(&["x"], T0).expect("own pause");
    assert_eq!(
        daemon
            .change_notifier()
            .expect("SQLite tells")
            .version()
            .expect("version"),
        before,
        "its own commits do not change it"
    );

    cli.enqueue(&[job(1)], T0)
        .expect("enqueue from the other connection");
    let after = daemon
        .change_notifier()
        .expect("SQLite tells")
        .version()
        .expect("version");
    assert_ne!(after, before, "another connection's commit changes it");
    assert_eq!(
        daemon
            .change_notifier()
            .expect("SQLite tells")
            .version()
            .expect("version"),
        after
    );
    daemon
        .set_runtime_state("k", &json!(1), T0)
        .expect("own write");
    assert_eq!(
        daemon
            .change_notifier()
            .expect("SQLite tells")
            .version()
            .expect("version"),
        after
    );
    // An idle worker's empty claim (a write transaction that writes nothing) and its reads
    // are no change: two idle daemons watching each other never wake each other up.
    let nothing = [("idle-type".to_string(), 1)];
    assert!(
        cli.claim("w", &nothing, 1, T0, 1_000)
            .expect("claim")
            .is_empty()
    );
    cli.next_run_at(&["noop".into()]).expect("next run at");
    cli.job_counts().expect("counts");
    assert_eq!(
        daemon
            .change_notifier()
            .expect("SQLite tells")
            .version()
            .expect("version"),
        after
    );
    cli.resume_types(&["x"])
        .expect("resume from the other connection");
    assert_ne!(
        daemon
            .change_notifier()
            .expect("SQLite tells")
            .version()
            .expect("version"),
        after
    );
}
