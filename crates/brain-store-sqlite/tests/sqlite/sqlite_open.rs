//! Opening, reopening and versioning a file-backed SQLite store; the upgrades of stores made by
//! each older schema are in `sqlite_open/upgrades.rs`.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "sqlite_open/upgrades.rs"]
mod upgrades;

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
