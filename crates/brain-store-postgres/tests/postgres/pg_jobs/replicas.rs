//! Several folders (replicas) on one store: each folder's jobs, schedules and "behind" marks
//! are its own; store-wide ones are shared and run once.

use brain_store::conformance::{T0, entity, eref};
use brain_store::jobs::{DedupePolicy, JobStore, NewJob};
use brain_store::schedules::{SCOPE_STORE, ScheduleDef};
use brain_store::{FileBase, FileStat, Store, SyncOp};
use brain_store_postgres::replica::Folder;
use brain_store_postgres::testing::fresh_schema;
use brain_store_postgres::{ConnectOptions, PgStore};
use serde_json::json;

use super::job;

/// Two folders attached to one new store, and a handle with no folder.
fn two_folders() -> (PgStore, PgStore, PgStore) {
    let options = fresh_schema();
    let (a, b) = (attached(&options, "a"), attached(&options, "b"));
    let none = PgStore::open(&options).unwrap().with_replica("no-folder");
    (a, b, none)
}

/// The store of `options` as replica `id`, attached at `/vaults/<id>`.
fn attached(options: &ConnectOptions, id: &str) -> PgStore {
    let store = PgStore::open(options).unwrap().with_replica(id);
    store.attach(&folder(id), T0).unwrap();
    store
}

fn folder(id: &str) -> Folder {
    Folder {
        root: format!("/vaults/{id}"),
        host: "test".into(),
        inode: None,
    }
}

fn bound(job_type: &str, n: usize) -> NewJob {
    NewJob {
        bound_to_replica: true,
        dedupe: Some(("k".into(), DedupePolicy::Coalesce)),
        ..job(job_type, n)
    }
}

#[test]
fn a_folder_s_jobs_are_claimed_by_its_workers_only_and_limits_hold_per_folder() {
    let (a, b, none) = two_folders();
    a.enqueue(&[bound("export", 1), job("anywhere", 1)], T0)
        .unwrap();
    // The same dedupe key in another folder is another job, not merged into a's.
    b.enqueue(&[bound("export", 2)], T0).unwrap();
    let types = vec![("export".to_string(), 1), ("anywhere".to_string(), 1)];
    let by_none = none.claim("none-0", &types, 10, T0, 60_000).unwrap();
    assert_eq!(
        by_none
            .iter()
            .map(|j| j.job_type.as_str())
            .collect::<Vec<_>>(),
        ["anywhere"],
        "a worker with no folder takes store-wide work only"
    );
    let by_b = b.claim("b-0", &types, 10, T0, 60_000).unwrap();
    assert_eq!(by_b.len(), 1);
    assert_eq!(by_b[0].input, json!({"n": 2}));
    assert_eq!(by_b[0].replica.as_deref(), Some("b"));
    // A limit of one export runs one per folder: b's running export does not hold a's back.
    let by_a = a.claim("a-0", &types, 10, T0, 60_000).unwrap();
    assert_eq!(by_a.len(), 1);
    assert_eq!(by_a[0].input, json!({"n": 1}));
    assert_eq!(by_a[0].replica.as_deref(), Some("a"));
    a.enqueue(
        &[NewJob {
            dedupe: None,
            ..bound("export", 3)
        }],
        T0,
    )
    .unwrap();
    assert!(
        a.claim("a-1", &types, 10, T0, 60_000).unwrap().is_empty(),
        "a's second export waits for its first"
    );
}

#[test]
fn each_folder_has_its_own_folder_schedules_and_a_store_schedule_fires_once() {
    let (a, b, _) = two_folders();
    let def = |name: &str, scope: &str, n: u32| ScheduleDef {
        name: name.into(),
        job_type: "scan".into(),
        input: json!({ "n": n }),
        timing: "every 60s".into(),
        scope: scope.into(),
        source: "builtin".into(),
    };
    a.put_schedule(&def("verify-scan", "replica:local", 1), T0)
        .unwrap();
    b.put_schedule(&def("verify-scan", "replica:local", 2), T0)
        .unwrap();
    a.put_schedule(&def("nightly", SCOPE_STORE, 0), T0).unwrap();
    b.put_schedule(&def("nightly", SCOPE_STORE, 0), T0).unwrap();
    for (store, n) in [(&a, 1), (&b, 2)] {
        let listed = store.schedules().unwrap();
        assert_eq!(listed.len(), 2, "{listed:?}");
        let own = listed.iter().find(|s| s.def.name == "verify-scan").unwrap();
        assert_eq!(own.def.input, json!({ "n": n }), "each folder sees its own");
        assert_eq!(own.def.scope, "replica:local");
    }
    let fire = |store: &PgStore, name: &str| {
        store
            .fire_schedule(name, T0, T0 + 60_000, &job("scan", 0), T0)
            .unwrap()
    };
    // Each folder fires its own scan; the store's schedule fires once, whoever is first.
    assert!(fire(&a, "verify-scan").is_some());
    assert!(fire(&b, "verify-scan").is_some());
    assert!(fire(&a, "nightly").is_some());
    assert!(
        fire(&b, "nightly").is_none(),
        "a store-wide firing is taken once"
    );
    // Removing what b's config no longer lists leaves a's folder schedule alone.
    b.remove_schedules("builtin", &[]).unwrap();
    assert_eq!(
        a.schedules().unwrap().len(),
        1,
        "a keeps its own; the store's went"
    );
    assert!(b.schedules().unwrap().is_empty());
}

#[test]
fn a_change_is_new_to_every_folder_but_the_one_it_came_from() {
    let (a, b, _) = two_folders();
    let e = entity("note/n", "# N\n\nfrom an interface\n", T0);
    a.put(&e).unwrap();
    assert_eq!(
        a.dirty_entities().unwrap().len(),
        1,
        "an interface write is new to a"
    );
    assert_eq!(b.dirty_entities().unwrap().len(), 1, "and to b");
    // a's export writes its file: a holds it, b is still behind.
    let base = FileBase {
        path: e.path.clone(),
        stat: FileStat::default(),
        hash: e.content_hash.clone(),
        entity: eref("note/n"),
    };
    a.apply(&[SyncOp::SetBase { base: base.clone() }]).unwrap();
    assert!(a.dirty_entities().unwrap().is_empty());
    assert_eq!(b.dirty_entities().unwrap().len(), 1);
    b.apply(&[SyncOp::SetBase { base }]).unwrap();
    assert!(b.dirty_entities().unwrap().is_empty());
    // Imported from b's folder: new to a only.
    let edited = entity("note/n", "# N\n\nedited in b\n", T0 + 1);
    b.apply(&[SyncOp::Import {
        entity: edited,
        stat: FileStat::default(),
        seen_dirty_hash: None,
    }])
    .unwrap();
    assert!(b.dirty_entities().unwrap().is_empty());
    let behind = a.dirty_entities().unwrap();
    assert_eq!(behind.len(), 1);
    assert!(!behind[0].deleted);
    let replicas = a.replicas().unwrap();
    assert_eq!(
        replicas
            .iter()
            .map(|r| (r.id.as_str(), r.behind, r.this))
            .collect::<Vec<_>>(),
        [("a", 1, true), ("b", 0, false)]
    );
}

#[test]
fn an_import_that_waited_for_another_folder_s_import_of_the_note_sees_it_and_keeps_both() {
    let options = fresh_schema();
    let (a, b) = (attached(&options, "a"), attached(&options, "b"));
    let first = entity("note/n", "# N\n\nfirst\n", T0);
    a.put(&first).unwrap();
    let base = FileBase {
        path: first.path.clone(),
        stat: FileStat::default(),
        hash: first.content_hash.clone(),
        entity: eref("note/n"),
    };
    a.apply(&[SyncOp::SetBase { base: base.clone() }]).unwrap();
    b.apply(&[SyncOp::SetBase { base }]).unwrap();
    assert!(a.dirty_entities().unwrap().is_empty() && b.dirty_entities().unwrap().is_empty());

    // b's import of its edit is under way: it holds the note's row.
    let mut raw = options.config.connect(postgres::NoTls).unwrap();
    let mut tx = raw.transaction().unwrap();
    tx.query("SELECT 1 FROM entities WHERE id = 'n' FOR UPDATE", &[])
        .unwrap();
    // a's import of its own edit, planned when a was behind on nothing, waits for that row.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let a_edit = entity("note/n", "# N\n\nedited in a\n", T0 + 1);
    let waiting = std::thread::spawn(move || {
        let r = a.apply(&[SyncOp::Import {
            entity: a_edit,
            stat: FileStat::default(),
            seen_dirty_hash: None,
        }]);
        done_tx.send(()).unwrap();
        r.map(|()| a)
    });
    assert!(
        done_rx
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err(),
        "a's import waits for b's"
    );
    // b's import commits: its text, and a marked behind.
    let b_edit = entity("note/n", "# N\n\nedited in b\n", T0 + 1);
    tx.execute(
        "UPDATE entities SET content_hash = $1, body = $2 WHERE id = 'n'",
        &[&b_edit.content_hash, &b_edit.body],
    )
    .unwrap();
    tx.execute(
        "INSERT INTO entity_dirty (replica, entity_id) SELECT 'a', row_id FROM entities WHERE id = 'n'",
        &[],
    )
    .unwrap();
    tx.commit().unwrap();
    let a = waiting.join().unwrap().unwrap();
    // a's import saw the mark and left the note to its next sync (which keeps both versions):
    // b's version was not written over.
    let stored = b.get(&eref("note/n")).unwrap();
    assert_eq!(stored.content_hash, b_edit.content_hash);
    assert_eq!(
        a.dirty_entities().unwrap().len(),
        1,
        "a is still behind on b's edit"
    );
}

#[test]
fn a_folder_with_an_id_the_store_never_gave_is_refused_naming_the_store_s_folders() {
    let options = fresh_schema();
    let (a, _b) = (attached(&options, "a"), attached(&options, "b"));
    let stranger = PgStore::open(&options).unwrap().with_replica("zz-999999");
    let e = stranger
        .check_folder(&folder("c"), T0)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("zz-999999") && e.contains("/vaults/a") && e.contains(".brain/replica"),
        "{e}"
    );
    assert_eq!(a.replicas().unwrap().len(), 2, "nothing was attached");
}

/// A process of a folder `brain store forget` removed writes nothing more: its sync's writes
/// are refused, naming the forget, and the notes stay as they were.
#[test]
fn a_forgotten_folder_s_sync_writes_nothing() {
    let (a, b, _) = two_folders();
    a.forget("b", T0).unwrap();
    let e = entity("note/late", "# Late\n\nfrom the forgotten folder\n", T0);
    let refused = b
        .apply(&[SyncOp::Import {
            entity: e,
            stat: FileStat::default(),
            seen_dirty_hash: None,
        }])
        .unwrap_err();
    assert!(
        refused.to_string().contains("brain store forget"),
        "{refused}"
    );
    assert!(a.get(&eref("note/late")).is_err(), "nothing was written");
}
