//! What only a server with concurrent writers can show: claims from several processes at
//! once, idle workers woken by NOTIFY, a connection lost in the middle of a transaction, and
//! the change feed when a transaction that started first commits last.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::HashSet;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brain_store::conformance::{T0, entity, eref};
use brain_store::jobs::{JobFilter, JobState, JobStore, NewJob, Outcome};
use brain_store::{Store, StoreError};
use brain_store_postgres::PgStore;
use brain_store_postgres::testing::{cluster_url, fresh_schema, unique_name};
use serde_json::json;

#[path = "pg_jobs/replicas.rs"]
mod replicas;

fn job(job_type: &str, n: usize) -> NewJob {
    NewJob {
        job_type: job_type.into(),
        input: json!({"n": n}),
        priority: 5,
        run_at_ms: T0,
        max_attempts: 3,
        dedupe: None,
        parent_id: None,
        bound_to_replica: false,
    }
}

/// Polls `check` every 5 ms until it holds, or fails after `limit` saying `what`.
fn wait_for(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn concurrent_claimers_take_each_job_once_within_each_type_s_limit() {
    let options = fresh_schema();
    let first = PgStore::open(&options).unwrap();
    let jobs: Vec<NewJob> = (0..200)
        .map(|n| job("free", n))
        .chain((0..100).map(|n| job("unlimited", n)))
        .chain((0..100).map(|n| job("two", n)))
        .collect();
    first.enqueue(&jobs, T0).unwrap();
    let claimed = Arc::new(Mutex::new(HashSet::new()));
    let most_running_two = Arc::new(Mutex::new(0usize));
    let threads: Vec<_> = (0..4)
        .map(|w| {
            let store = PgStore::open(&options).unwrap();
            let claimed = claimed.clone();
            let most = most_running_two.clone();
            std::thread::spawn(move || {
                let worker = format!("worker-{w}");
                // "unlimited" (brain_jobs' TypeConfig::UNLIMITED) is claimed without the
                // type's lock: still each job once.
                let types = [
                    ("free".to_string(), 100),
                    ("two".to_string(), 2),
                    ("unlimited".to_string(), u32::MAX),
                ];
                loop {
                    let got = store.claim(&worker, &types, 5, T0, 60_000).unwrap();
                    if got.is_empty() {
                        let left = store.job_counts().unwrap();
                        if left.is_empty() {
                            return;
                        }
                        continue;
                    }
                    let running_two = store
                        .list_jobs(&JobFilter {
                            states: vec![JobState::Running],
                            job_type: Some("two".into()),
                            ..JobFilter::default()
                        })
                        .unwrap()
                        .len();
                    {
                        let mut m = most.lock().unwrap();
                        *m = (*m).max(running_two);
                    }
                    for j in got {
                        assert!(
                            claimed.lock().unwrap().insert(j.id),
                            "job #{} claimed twice",
                            j.id
                        );
                        assert!(
                            store
                                .finish(j.id, &worker, &Outcome::Succeeded(json!({})), T0)
                                .unwrap()
                        );
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(claimed.lock().unwrap().len(), 400, "every job claimed");
    let most = *most_running_two.lock().unwrap();
    assert!(most <= 2, "{most} jobs of a type limited to 2 ran at once");
    let succeeded = first
        .list_jobs(&JobFilter {
            states: vec![JobState::Succeeded],
            ..JobFilter::default()
        })
        .unwrap();
    assert_eq!(succeeded.len(), 400);
}

#[test]
fn an_idle_worker_hears_another_process_enqueue() {
    let options = fresh_schema();
    let idle = PgStore::open(&options).unwrap();
    let other = PgStore::open(&options).unwrap();
    let notifier = idle.change_notifier().expect("PostgreSQL tells workers");
    // Listening once two readings agree (until then every reading differs: the poll fallback).
    let mut last = notifier.version().unwrap();
    wait_for(Duration::from_secs(10), "the listener to listen", || {
        let now = notifier.version().unwrap();
        std::mem::replace(&mut last, now) == now
    });
    let before = notifier.version().unwrap();
    other.enqueue(&[job("free", 1)], T0).unwrap();
    wait_for(Duration::from_secs(10), "the NOTIFY to be heard", || {
        notifier.version().unwrap() != before
    });
    // Its own enqueue does not wake it (the contract): committed first, then another
    // handle's, and only the second one counts. Notifications arrive in commit order.
    let before = notifier.version().unwrap();
    idle.enqueue(&[job("free", 1)], T0).unwrap();
    other.enqueue(&[job("free", 1)], T0).unwrap();
    wait_for(
        Duration::from_secs(10),
        "the other NOTIFY to be heard",
        || notifier.version().unwrap() != before,
    );
    assert_eq!(
        notifier.version().unwrap(),
        before + 1,
        "the store's own commit woke it"
    );
}

#[test]
fn a_connection_lost_in_a_transaction_is_a_retryable_error_and_nothing_is_kept() {
    let name = unique_name("victim");
    let options = fresh_schema();
    let store = PgStore::open(&options.clone().with_options(&format!(
        "{} -c application_name={name}",
        options.config.get_options().unwrap_or_default()
    )))
    .unwrap();
    let mut admin = postgres::Client::connect(&cluster_url(), postgres::NoTls).unwrap();
    let err = store
        .transaction(&mut |tx| {
            tx.put(&entity("note/lost", "# Lost\n", T0), None)?;
            admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE application_name = $1",
                    &[&name],
                )
                .unwrap();
            tx.enqueue(&job("free", 1), T0)?;
            Ok(())
        })
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("run the command again"), "{err}");
    // The pool replaced the dead connection; nothing of the transaction was kept.
    assert!(matches!(
        store.get(&eref("note/lost")),
        Err(StoreError::NotFound(_))
    ));
    assert!(store.list_jobs(&JobFilter::default()).unwrap().is_empty());
    store.put(&entity("note/next", "# Next\n", T0)).unwrap();
}

#[test]
fn a_change_committed_last_by_the_transaction_that_began_first_is_not_missed() {
    let options = fresh_schema();
    let early = Arc::new(PgStore::open(&options).unwrap());
    let late = PgStore::open(&options).unwrap();
    let (wrote, hold) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    let (wrote_tx, wrote_rx) = wrote;
    let (go_tx, go_rx) = hold;
    let writer = {
        let early = early.clone();
        std::thread::spawn(move || {
            early
                .transaction(&mut |tx| {
                    tx.put(&entity("note/first", "# First\n", T0), None)?;
                    wrote_tx.send(()).unwrap();
                    go_rx.recv().unwrap();
                    Ok(())
                })
                .unwrap();
        })
    };
    wrote_rx.recv().unwrap();
    // Began second, commits first.
    late.put(&entity("note/second", "# Second\n", T0)).unwrap();
    let page = late.changes_since(0, 100).unwrap();
    assert_eq!(
        page.changes
            .iter()
            .map(|c| c.entity.to_string())
            .collect::<Vec<_>>(),
        ["note/second"],
        "an uncommitted change is not in the feed"
    );
    go_tx.send(()).unwrap();
    writer.join().unwrap();
    let next = late.changes_since(page.next, 100).unwrap();
    assert_eq!(
        next.changes
            .iter()
            .map(|c| c.entity.to_string())
            .collect::<Vec<_>>(),
        ["note/first"],
        "the late commit is read on from where the reader was"
    );
    assert!(next.changes[0].seq > page.next);
}
