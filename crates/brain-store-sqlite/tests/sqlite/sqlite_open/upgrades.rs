//! A store made by each older schema opens upgraded, keeping what it held.

use brain_store::conformance::{T0, entity};
use brain_store::{FileStat, Store, StoreError, SyncOp};
use brain_store_sqlite::SqliteStore;

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
        bound_to_replica: false,
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
             DROP TABLE entity_changes; DROP TABLE schedules;
             DROP TABLE entity_versions; ALTER TABLE entities DROP COLUMN version; ALTER TABLE entities DROP COLUMN source; ALTER TABLE entities DROP COLUMN message; PRAGMA user_version = 1;",
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
    assert_eq!(version, 11, "the latest schema");
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
             ALTER TABLE jobs DROP COLUMN progress_phase;
             DROP TABLE entity_changes; DROP TABLE schedules;
             DROP TABLE entity_versions; ALTER TABLE entities DROP COLUMN version; ALTER TABLE entities DROP COLUMN source; ALTER TABLE entities DROP COLUMN message; PRAGMA user_version = 3;",
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
            "DROP TABLE job_type_pauses; DROP TABLE runtime_state;
             ALTER TABLE jobs DROP COLUMN progress_phase; DROP TABLE entity_changes; DROP TABLE schedules;
             DROP TABLE entity_versions; ALTER TABLE entities DROP COLUMN version; ALTER TABLE entities DROP COLUMN source; ALTER TABLE entities DROP COLUMN message; PRAGMA user_version = 2;",
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

/// A schema 4 store (progress without its phase) gains the phase column, keeping a running
/// job's progress (its phase unknown) and storing phases from then on.
#[test]
fn a_schema_4_store_gains_progress_phases() {
    use brain_store::JobStore;
    use brain_store::jobs::JobProgress;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let job = queued_job();
    let progress = JobProgress {
        current: 3,
        total: Some(9),
        message: "Importing a.md".into(),
        updated_ms: T0 + 1,
        phase: None,
    };
    let id = {
        let store = SqliteStore::open(&path).expect("create");
        let id = store
            .enqueue(std::slice::from_ref(&job), T0)
            .expect("enqueue")[0]
            .id();
        let types = [(job.job_type.clone(), 1)];
        store.claim("w", &types, 1, T0, 60_000).expect("claim");
        store.set_progress(id, "w", &progress).expect("progress");
        id
    };
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute_batch(
            "ALTER TABLE jobs DROP COLUMN progress_phase; DROP TABLE entity_changes; DROP TABLE schedules; DROP TABLE entity_versions; ALTER TABLE entities DROP COLUMN version; ALTER TABLE entities DROP COLUMN source; ALTER TABLE entities DROP COLUMN message; PRAGMA user_version = 4;",
        )
            .expect("downgrade");
    }
    let store = SqliteStore::open(&path).expect("upgrade");
    assert_eq!(store.job(id).expect("job").progress, Some(progress.clone()));
    let phased = JobProgress {
        phase: Some(brain_core::Phase::Importing),
        updated_ms: T0 + 2,
        ..progress
    };
    store.set_progress(id, "w", &phased).expect("progress");
    assert_eq!(store.job(id).expect("job").progress, Some(phased));
}

/// A vault from before the change feed (schema 5) gains it: the entities it holds are numbered
/// once, in the order they were stored, and changes after the upgrade are numbered above them.
#[test]
fn a_schema_5_store_gains_a_change_feed_with_its_entities_numbered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    {
        let store = SqliteStore::open(&path).expect("create");
        store.put(&entity("note/a", "# A\n", T0)).expect("put");
        store.put(&entity("note/b", "# B\n", T0)).expect("put");
    }
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute_batch(
            "DROP TABLE entity_changes; DROP TABLE schedules; DROP TABLE entity_versions; ALTER TABLE entities DROP COLUMN version; ALTER TABLE entities DROP COLUMN source; ALTER TABLE entities DROP COLUMN message; PRAGMA user_version = 5;",
        )
        .expect("downgrade");
    }
    let store = SqliteStore::open(&path).expect("upgrade");
    let page = store.changes_since(0, 10).expect("feed");
    let refs: Vec<String> = page.changes.iter().map(|c| c.entity.to_string()).collect();
    assert_eq!(refs, ["note/a", "note/b"]);
    store
        .put(&entity("note/a", "# A again\n", T0 + 1))
        .expect("put");
    let after = store.changes_since(page.next, 10).expect("feed");
    assert_eq!(after.changes.len(), 1);
    assert!(after.changes[0].seq > page.next);
}

/// A store made by the build whose change feed was numbered by triggers (schema 7 with them)
/// loses them on upgrade: each change is then numbered once, by the store's code.
#[test]
fn a_store_with_the_old_feed_triggers_numbers_each_change_once_after_upgrade() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    {
        let store = SqliteStore::open(&path).expect("create");
        store.put(&entity("note/a", "# A\n", T0)).expect("put");
    }
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute_batch(
            "CREATE TRIGGER entity_changed_on_insert AFTER INSERT ON entities BEGIN
                 INSERT OR REPLACE INTO entity_changes (seq, entity_rowid)
                 VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM entity_changes), NEW.rowid);
             END;
             CREATE TRIGGER entity_changed_on_update AFTER UPDATE ON entities BEGIN
                 INSERT OR REPLACE INTO entity_changes (seq, entity_rowid)
                 VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM entity_changes), NEW.rowid);
             END;
             DROP TABLE entity_versions; ALTER TABLE entities DROP COLUMN version; ALTER TABLE entities DROP COLUMN source; ALTER TABLE entities DROP COLUMN message; PRAGMA user_version = 7;",
        )
        .expect("downgrade");
    }
    let store = SqliteStore::open(&path).expect("upgrade");
    let before = store.change_cursor().expect("cursor");
    store.put(&entity("note/b", "# B\n", T0 + 1)).expect("put");
    store
        .put(&entity("note/a", "# A again\n", T0 + 2))
        .expect("put");
    let page = store.changes_since(before, 10).expect("feed");
    let seqs: Vec<u64> = page.changes.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, [before + 1, before + 2], "one number per change");
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let triggers: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'entity_changed%'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert_eq!(triggers, 0);
}

/// Schema 10 keys file bases and runtime state by replica (`local`, a SQLite store's only
/// one), as on PostgreSQL: a schema 9 store keeps every base and published state through it.
#[test]
fn a_schema_9_store_keeps_its_bases_and_runtime_state_keyed_by_replica() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let a = entity("note/a", "# A\nsynced\n", T0);
    {
        let store = SqliteStore::open(&path).expect("create");
        let stat = FileStat {
            size: 11,
            mtime_ns: 1,
            ctime_ns: 2,
            inode: 3,
        };
        store
            .apply(&[SyncOp::Import {
                entity: a.clone(),
                stat,
                seen_dirty_hash: None,
            }])
            .expect("import");
        store
            .set_runtime_state("serve", &serde_json::json!({"state": "ready"}), T0)
            .expect("publish");
    }
    {
        // Back to schema 9's shape: bases and runtime state keyed by path and key alone.
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute_batch(
            "CREATE TABLE old_bases (path TEXT PRIMARY KEY, size INTEGER NOT NULL,
                 mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,
                 hash TEXT NOT NULL, entity_rowid INTEGER NOT NULL, type TEXT NOT NULL,
                 id TEXT NOT NULL) WITHOUT ROWID;
             INSERT INTO old_bases SELECT path, size, mtime_ns, ctime_ns, inode, hash,
                 entity_rowid, type, id FROM file_bases;
             DROP TABLE file_bases; ALTER TABLE old_bases RENAME TO file_bases;
             CREATE TABLE old_state (key TEXT PRIMARY KEY, value TEXT NOT NULL,
                 updated_ms INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO old_state SELECT key, value, updated_ms FROM runtime_state;
             DROP TABLE runtime_state; ALTER TABLE old_state RENAME TO runtime_state;
             DROP TABLE replicas; DROP TABLE replica_cursors;
             DROP TABLE entity_versions; ALTER TABLE entities DROP COLUMN version; ALTER TABLE entities DROP COLUMN source; ALTER TABLE entities DROP COLUMN message; PRAGMA user_version = 9;",
        )
        .expect("downgrade");
    }
    let store = SqliteStore::open(&path).expect("upgrade");
    let bases = store.bases(&["a.md"]).expect("bases");
    assert_eq!(bases.len(), 1, "the base is kept");
    assert_eq!(bases[0].hash, a.content_hash);
    let state = store.runtime_state("serve").expect("read").expect("kept");
    assert_eq!(state.value["state"], "ready");
    store
        .set_runtime_state("serve", &serde_json::json!({"state": "stopped"}), T0 + 1)
        .expect("publish again");
    assert_eq!(
        store.runtime_state("serve").unwrap().unwrap().value["state"],
        "stopped"
    );
}
