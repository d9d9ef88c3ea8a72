//! Opening, reopening and versioning a file-backed SQLite store.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use brain_store::conformance::{T0, entity};
use brain_store::{FileStat, SearchQuery, Store, StoreError, SyncOp};
use brain_store_sqlite::SqliteStore;

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

/// The settings a vault's store is opened with.
fn vault_config() -> brain_core::config::StoreConfig {
    brain_core::config::StoreConfig::default()
}

/// Only `create` makes a store: opening a vault's store that is not there says so and leaves
/// no file behind (a new, empty store would have passed for the lost one).
#[test]
fn issue13_a_missing_store_is_refused_and_never_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    match SqliteStore::open_existing(&path, &vault_config()) {
        Err(e @ StoreError::Missing { .. }) => {
            assert!(e.to_string().contains("brain doctor --rebuild"), "{e}");
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    assert!(!path.exists(), "opening must not create the store");
    let store = SqliteStore::create(&path, &vault_config()).expect("create");
    store.put(&entity("note/a", "made\n", T0)).expect("put");
    drop(store);
    assert!(matches!(
        SqliteStore::create(&path, &vault_config()),
        Err(StoreError::Exists { .. })
    ));
    assert_eq!(
        SqliteStore::open_existing(&path, &vault_config())
            .expect("open")
            .count_live()
            .expect("count"),
        1
    );
}

/// A deleted store's `-wal` left beside its path would be read as the log of a new database
/// created there: `create` refuses until it is moved away.
#[test]
fn issue13_a_store_is_never_created_beside_a_leftover_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    std::fs::write(dir.path().join("brain.db-wal"), b"old log").expect("leftover");
    match SqliteStore::create(&path, &vault_config()) {
        Err(StoreError::Exists { found, .. }) => assert!(found.ends_with("brain.db-wal")),
        other => panic!("expected Exists, got {other:?}"),
    }
    assert!(!path.exists());
}

/// A store deleted under an open handle: the next write is refused, not acknowledged into the
/// deleted file, and so is the next read; `verify_file` says so for a daemon's timer.
#[test]
fn issue13_a_deleted_store_refuses_writes_instead_of_losing_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let store = SqliteStore::create(&path, &vault_config()).expect("create");
    store.put(&entity("note/a", "before\n", T0)).expect("put");
    store.verify_file().expect("still there");
    std::fs::remove_file(&path).expect("delete the store");
    match store.put(&entity("note/b", "after\n", T0)) {
        Err(
            e @ StoreError::Replaced {
                what: "deleted", ..
            },
        ) => {
            assert!(e.to_string().contains("brain doctor"), "{e}");
        }
        other => panic!("expected Replaced, got {other:?}"),
    }
    assert!(matches!(
        store.get(&entity("note/a", "", T0).entity_ref),
        Err(StoreError::Replaced { .. })
    ));
    assert!(matches!(
        store.verify_file(),
        Err(StoreError::Replaced { .. })
    ));
    assert!(!path.exists(), "nothing recreated the store");
}

/// Another database moved to the store's path (a restore, a rebuild) is not the one this
/// handle writes to: writes are refused.
#[test]
fn issue13_a_replaced_store_refuses_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let other = dir.path().join("other.db");
    let store = SqliteStore::create(&path, &vault_config()).expect("create");
    drop(SqliteStore::create(&other, &vault_config()).expect("create the other"));
    std::fs::rename(&other, &path).expect("replace");
    match store.put(&entity("note/b", "after\n", T0)) {
        Err(StoreError::Replaced { what, .. }) => assert_eq!(what, "replaced by another file"),
        other => panic!("expected Replaced, got {other:?}"),
    }
    let fresh = SqliteStore::open_existing(&path, &vault_config()).expect("open the new one");
    assert_eq!(
        fresh.count_live().expect("count"),
        0,
        "nothing went into the new file"
    );
}

/// A store whose pages were overwritten with garbage says it is damaged and to run
/// `brain doctor`, rather than SQLite's bare "database disk image is malformed".
#[test]
fn issue13_a_malformed_store_says_to_run_doctor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    {
        let store = SqliteStore::create(&path, &vault_config()).expect("create");
        for i in 0..200 {
            let text = format!("# Note {i}\n{}\n", "words to fill pages ".repeat(40));
            store
                .put(&entity(&format!("note/n{i}"), &text, T0))
                .expect("put");
        }
    }
    let len = std::fs::metadata(&path).expect("stat").len();
    assert!(len > 8 * 4096, "the store spans many pages ({len} bytes)");
    // Page 1 (the header and schema) stays; every other page becomes garbage.
    let mut bytes = std::fs::read(&path).expect("read");
    for (i, b) in bytes.iter_mut().enumerate().skip(4096) {
        *b = (i % 251) as u8;
    }
    std::fs::write(&path, bytes).expect("garbage");
    let err = match SqliteStore::open_existing(&path, &vault_config()) {
        Err(e) => e,
        Ok(store) => store
            .list(&brain_store::ListFilter::default())
            .expect_err("a damaged store cannot list"),
    };
    assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("brain doctor"), "{text}");
    assert!(text.contains("is damaged"), "{text}");
}

/// Unmounts a tmpfs when the test ends, however it ends.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A write that does not fit on the disk says the disk is full and to free space (SQLite's
/// own text is "database or disk is full"): the store lives on a 1 MB tmpfs (the tests run as
/// root, as CI does), filled by puts until one is refused.
#[test]
fn issue13_a_full_disk_says_to_free_space() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mount = dir.path().join("small");
    std::fs::create_dir(&mount).expect("mount point");
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mount)
        .status()
        .expect("mount runs")
        .success();
    assert!(ok, "mounting a 1 MB tmpfs needs root, as this test does");
    let _mounted = Mounted(mount.clone());
    let path = mount.join("brain.db");
    let store = SqliteStore::create(&path, &vault_config()).expect("create");
    let filler = "a sentence that takes room on a small disk ".repeat(200);
    let mut refused = None;
    for i in 0..2_000 {
        let text = format!("# Note {i}\n{filler}{i}\n");
        if let Err(e) = store.put(&entity(&format!("note/n{i}"), &text, T0)) {
            refused = Some(e);
            break;
        }
    }
    let err = refused.expect("a 1 MB disk fills up");
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
    assert!(err.to_string().contains("free some space"), "{err}");
    drop(store);
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

/// Index upkeep (`Store::tidy_index`): on an index whose merges were left undone (here with
/// FTS5's automerge turned off, as a large vault leaves big merges half done between saves),
/// steps do the merges and then say nothing is left; the index still holds exactly the live
/// notes and finds them. On a fresh store a step has nothing to do.
#[test]
fn index_upkeep_finishes_deferred_merges_and_keeps_the_index_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let store = SqliteStore::open(&path).expect("open");
    assert!(
        !store.tidy_index().expect("tidy"),
        "a fresh index has nothing to merge"
    );
    rusqlite::Connection::open(&path)
        .expect("open the file")
        .execute(
            "INSERT INTO entity_fts (entity_fts, rank) VALUES ('automerge', 0)",
            [],
        )
        .expect("turn automerge off");
    // One transaction per note: a segment each, none merged by the writes themselves.
    for n in 0..40 {
        let text = format!("# N{n}\nword{n} shared text\n");
        store
            .put(&entity(&format!("note/n{n}"), &text, T0))
            .expect("put");
    }
    let mut steps = 0;
    while store.tidy_index().expect("tidy") {
        steps += 1;
        assert!(steps < 1_000, "upkeep never finished");
    }
    assert!(steps > 0, "40 unmerged segments left upkeep nothing to do");
    assert!(
        !store.tidy_index().expect("tidy"),
        "nothing left once it said so"
    );
    store
        .check_index()
        .expect("the index holds exactly the live notes");
    let hits = store.search(&SearchQuery::new("word17")).expect("search");
    assert_eq!(hits.len(), 1);
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
