//! Opening, reopening and versioning a file-backed SQLite store.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use brain_store::conformance::{T0, entity};
use brain_store::{FileStat, SearchQuery, SqliteStore, Store, StoreError, SyncOp};

#[test]
fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let a = entity("note/a", "# A\nkept across opens\n", T0);
    let b = entity("topic/b", "# B\ndirty one\n", T0);
    {
        let store = SqliteStore::open(&path).expect("open");
        store
            .apply(&[SyncOp::Import {
                entity: a.clone(),
                stat: FileStat {
                    size: 3,
                    mtime_ns: 4,
                    ..FileStat::default()
                },
                seen_dirty_hash: None,
            }])
            .expect("apply");
        store.put(&b).expect("put");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    assert_eq!(store.get(&a.entity_ref).expect("get"), a);
    assert_eq!(store.get(&b.entity_ref).expect("get"), b);
    let state = store.sync_state().expect("state");
    assert_eq!(state.bases.len(), 1);
    assert_eq!(state.dirty.len(), 1);
    assert_eq!(state.live_entities, 2);
    let hits = store.search(&SearchQuery::new("kept")).expect("search");
    assert_eq!(hits.len(), 1);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    drop(SqliteStore::open(&path).expect("create"));
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.pragma_update(None, "user_version", 999)
            .expect("bump version");
    }
    match SqliteStore::open(&path) {
        Err(StoreError::TooNew {
            found, supported, ..
        }) => {
            assert_eq!(found, 999);
            assert!((1..999).contains(&supported));
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[test]
fn two_handles_share_one_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let first = SqliteStore::open(&path).expect("open");
    let second = SqliteStore::open(&path).expect("open again");
    let a = entity("note/a", "shared\n", T0);
    first.put(&a).expect("put");
    assert_eq!(
        second.get(&a.entity_ref).expect("seen by the other handle"),
        a
    );
    assert_eq!(
        second
            .search(&SearchQuery::new("shared"))
            .expect("search")
            .len(),
        1
    );
}

#[test]
fn a_store_is_shared_between_threads() {
    let store = std::sync::Arc::new(SqliteStore::open_in_memory().expect("open"));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let e = entity(&format!("note/t{t}-{i}"), "threaded words\n", T0);
                    store.put(&e).expect("put");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_eq!(store.count_live().expect("count"), 100);
    let mut q = SearchQuery::new("threaded");
    q.limit = 0;
    assert_eq!(store.search(&q).expect("search").len(), 100);
}

/// A job as any version since the queue's could store it.
fn queued_job() -> brain_store::jobs::NewJob {
    brain_store::jobs::NewJob {
        job_type: "export".into(),
        input: serde_json::json!({}),
        priority: 5,
        run_at_ms: T0,
        max_attempts: 1,
        dedupe: None,
        parent_id: None,
    }
}

/// A vault created before the job queue existed (schema 1) gains the `jobs` table on open and
/// keeps its entities.
#[test]
fn a_schema_1_store_is_upgraded() {
    use brain_store::JobStore;
    use brain_store::jobs::JobState;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let a = entity("note/a", "# A\nfrom before the queue\n", T0);
    {
        let store = SqliteStore::open(&path).expect("create");
        store.put(&a).expect("put");
    }
    {
        // Back to exactly what schema 1 had: every table but the queue's and the live ones.
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute_batch(
            "DROP TABLE jobs; DROP TABLE job_type_pauses; DROP TABLE runtime_state;
             PRAGMA user_version = 1;",
        )
        .expect("downgrade");
    }
    let store = SqliteStore::open(&path).expect("upgrade");
    assert_eq!(store.get(&a.entity_ref).expect("kept"), a);
    let job = queued_job();
    let id = store.enqueue(&[job], T0).expect("enqueue")[0].id();
    assert_eq!(store.job(id).expect("job").state, JobState::Queued);
    drop(store);
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("version");
    assert_eq!(version, 4);
}

/// A schema 3 store whose keys came from the old key function (whole-string lower case, so a
/// final Σ became ς; SQLite's ASCII-only `lower()` for archived tombstones) is re-keyed, so
/// its notes collide with the paths they would share a file with.
#[test]
fn a_schema_3_store_gets_its_path_keys_computed_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let greek = entity("note/ΟΔΟΣ", "# road\n", T0);
    let accented = entity("note/Été", "# summer\n", T0);
    {
        let store = SqliteStore::open(&path).expect("create");
        store.put(&greek).expect("put");
        store.put(&accented).expect("put");
    }
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute_batch(
            "UPDATE entities SET path_key = 'οδος.md' WHERE id = 'ΟΔΟΣ';
             UPDATE entities SET path_key = lower(path) WHERE id = 'Été';
             PRAGMA user_version = 3;",
        )
        .expect("old keys");
    }
    let store = SqliteStore::open(&path).expect("upgrade");
    for (other, owner) in [("note/ΟΔΟσ", &greek), ("note/été", &accented)] {
        match store.put(&entity(other, "# another\n", T0 + 1)) {
            Err(StoreError::PathCollision(c)) => assert_eq!(c.existing, owner.entity_ref),
            got => panic!("{other} shares a file with {}, got {got:?}", owner.path),
        }
    }
}

/// A vault from before the daemon (schema 2) gains pauses and runtime state, keeping its jobs.
#[test]
fn a_schema_2_store_is_upgraded() {
    use brain_store::JobStore;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let job = queued_job();
    let id = {
        let store = SqliteStore::open(&path).expect("create");
        store.enqueue(&[job], T0).expect("enqueue")[0].id()
    };
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute_batch(
            "DROP TABLE job_type_pauses; DROP TABLE runtime_state; PRAGMA user_version = 2;",
        )
        .expect("downgrade");
    }
    let store = SqliteStore::open(&path).expect("upgrade");
    let kept = store.job(id).expect("the queued job is kept");
    assert_eq!(
        kept.state,
        brain_store::jobs::JobState::Queued,
        "the queued job is kept as it was"
    );
    assert_eq!(kept.job_type, queued_job().job_type);
    store.pause_types(&["export"], T0).expect("pause");
    assert_eq!(store.paused_types().expect("paused"), ["export"]);
    store
        .set_runtime_state("watcher", &serde_json::json!({}), T0)
        .expect("runtime state");
}
