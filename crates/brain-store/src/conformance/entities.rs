//! Interface writes and reads of entities.

use super::{Factory, T0, entity, eref};
use crate::{ListFilter, PutOutcome, StoreError};

const NOTE: &str =
    "---\ntitle: Plan\ntags: [work, Q3]\nstatus: draft\nalpha: 1\n---\nBody with #inline tag.\r\n";

pub fn put_and_get_round_trip(make: Factory<'_>) {
    let store = make();
    let e = entity("note/Projects/plan", NOTE, T0);
    assert_eq!(store.put(&e).expect("put"), PutOutcome::Created);
    let got = store.get(&e.entity_ref).expect("get after put");
    assert_eq!(got, e, "get returns exactly what was put");
    let keys: Vec<&str> = got.metadata.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["title", "tags", "status", "alpha"],
        "metadata key order kept"
    );
    assert_eq!(store.get_any(&e.entity_ref).expect("get_any"), e);
    assert_eq!(store.count_live().expect("count"), 1);
}

pub fn put_outcomes_and_created_kept(make: Factory<'_>) {
    let store = make();
    let e = entity("note/a", "# A\nfirst\n", T0);
    assert_eq!(store.put(&e).expect("put"), PutOutcome::Created);
    let mut same = e.clone();
    same.updated_ms = T0 + 5;
    assert_eq!(store.put(&same).expect("put same"), PutOutcome::Unchanged);
    assert_eq!(
        store.get(&e.entity_ref).expect("get").updated_ms,
        T0,
        "an unchanged put changes nothing"
    );
    let changed = entity("note/a", "# A\nsecond\n", T0 + 10);
    assert_eq!(
        store.put(&changed).expect("put changed"),
        PutOutcome::Updated
    );
    let got = store.get(&e.entity_ref).expect("get");
    assert_eq!(got.body, "# A\nsecond\n");
    assert_eq!(got.created_ms, T0, "created_ms never moves");
    assert_eq!(got.updated_ms, T0 + 10);
}

pub fn missing_entities_are_not_found(make: Factory<'_>) {
    let store = make();
    let r = eref("note/nope");
    let not_found = |res: Result<(), StoreError>, what: &str| match res {
        Err(StoreError::NotFound(got)) => assert_eq!(got, r, "{what} names the ref"),
        other => panic!("{what} of a missing entity gave {other:?}"),
    };
    not_found(store.get(&r).map(drop), "get");
    not_found(store.get_any(&r).map(drop), "get_any");
    not_found(store.soft_delete(&r, T0), "soft_delete");
    not_found(store.restore(&r, T0).map(drop), "restore");
}

pub fn get_many_reads_live_entities_in_order(make: Factory<'_>) {
    let store = make();
    let a = entity("note/a", "# A\n", T0);
    let b = entity("topic/b", "---\ntitle: B\n---\nbee\n", T0);
    let gone = entity("note/gone", "# Gone\n", T0);
    for e in [&a, &b, &gone] {
        store.put(e).expect("put");
    }
    store
        .soft_delete(&gone.entity_ref, T0 + 1)
        .expect("soft_delete");
    let refs = [
        b.entity_ref.clone(),
        eref("note/nope"),
        gone.entity_ref.clone(),
        a.entity_ref.clone(),
        b.entity_ref.clone(),
    ];
    let got = store.get_many(&refs).expect("get_many");
    assert_eq!(
        got,
        [Some(b.clone()), None, None, Some(a), Some(b)],
        "each ref in order: live entities exactly as get returns them, None for a missing or deleted one"
    );
    assert!(store.get_many(&[]).expect("get_many of nothing").is_empty());
}

pub fn soft_delete_and_restore(make: Factory<'_>) {
    let store = make();
    let e = entity("topic/rust", "# Rust\n", T0);
    store.put(&e).expect("put");
    store
        .soft_delete(&e.entity_ref, T0 + 1)
        .expect("soft_delete");
    assert!(matches!(
        store.get(&e.entity_ref),
        Err(StoreError::NotFound(_))
    ));
    let tomb = store
        .get_any(&e.entity_ref)
        .expect("get_any sees a tombstone");
    assert_eq!(tomb.deleted_ms, Some(T0 + 1));
    assert_eq!(store.count_live().expect("count"), 0);
    assert!(
        matches!(
            store.soft_delete(&e.entity_ref, T0 + 2),
            Err(StoreError::NotFound(_))
        ),
        "a tombstone cannot be deleted again"
    );
    let back = store.restore(&e.entity_ref, T0 + 3).expect("restore");
    assert_eq!(back.deleted_ms, None);
    assert_eq!(back.updated_ms, T0 + 3);
    assert_eq!(back.created_ms, T0);
    assert_eq!(back.body, e.body);
    assert_eq!(store.get(&e.entity_ref).expect("get after restore"), back);
    let again = store
        .restore(&e.entity_ref, T0 + 9)
        .expect("restore of a live entity");
    assert_eq!(again, back, "restoring a live entity returns it unchanged");
    assert_eq!(store.count_live().expect("count"), 1);
}

pub fn put_over_tombstone_is_created(make: Factory<'_>) {
    let store = make();
    let e = entity("note/a", "one\n", T0);
    store.put(&e).expect("put");
    store.soft_delete(&e.entity_ref, T0 + 1).expect("delete");
    let mut again = entity("note/a", "one\n", T0 + 2);
    again.created_ms = T0 + 2;
    assert_eq!(store.put(&again).expect("put"), PutOutcome::Created);
    let got = store.get(&e.entity_ref).expect("live again");
    assert_eq!(got.created_ms, T0, "a tombstone's created_ms is kept");
    assert_eq!(got.deleted_ms, None);
}

pub fn path_collisions_are_refused(make: Factory<'_>) {
    let store = make();
    let nfc = entity("note/Caf\u{e9}", "nfc\n", T0);
    store.put(&nfc).expect("put");
    for id in ["Cafe\u{301}", "CAF\u{c9}", "caf\u{e9}"] {
        let other = entity(&format!("note/{id}"), "other\n", T0);
        match store.put(&other) {
            Err(StoreError::PathCollision(c)) => {
                assert_eq!(c.wanted, other.entity_ref);
                assert_eq!(c.path, other.path);
                assert_eq!(c.existing, nfc.entity_ref);
                assert_eq!(c.existing_path, nfc.path);
            }
            res => panic!("{id:?} next to {:?} gave {res:?}", nfc.path),
        }
    }
    let changed = entity("note/Caf\u{e9}", "changed\n", T0 + 1);
    assert_eq!(
        store
            .put(&changed)
            .expect("the same entity may be rewritten"),
        PutOutcome::Updated
    );
    // Only live entities hold a path: once deleted, the other spelling may be used, and the
    // tombstone can then not come back over it.
    store.soft_delete(&nfc.entity_ref, T0 + 2).expect("delete");
    let nfd = entity("note/Cafe\u{301}", "nfd\n", T0 + 3);
    assert_eq!(
        store.put(&nfd).expect("put over a tombstone's key"),
        PutOutcome::Created
    );
    assert!(matches!(
        store.restore(&nfc.entity_ref, T0 + 4),
        Err(StoreError::PathCollision { .. })
    ));
    assert!(
        store
            .get_any(&nfc.entity_ref)
            .expect("still a tombstone")
            .deleted_ms
            .is_some()
    );
}

pub fn list_filters_order_and_paging(make: Factory<'_>) {
    let store = make();
    let notes = [
        ("note/b", "#work b\n"),
        ("note/a", "---\ntags: [work, home]\n---\na\n"),
        ("note/Projects/x", "x #home\n"),
        ("note/Projects/Deep/y", "y\n"),
        ("note/Projects2/z", "z\n"),
        ("note/Projects", "the file next to the folder\n"),
        ("note/a_b/c", "underscore folder\n"),
        ("note/axb/c", "not in a_b\n"),
        ("topic/rust", "# Rust #work\n"),
        ("note/gone", "deleted\n"),
    ];
    for (r, text) in notes {
        store.put(&entity(r, text, T0)).expect("put");
    }
    store
        .soft_delete(&eref("note/gone"), T0 + 1)
        .expect("delete");
    let paths = |f: ListFilter| -> Vec<String> {
        store
            .list(&f)
            .expect("list")
            .into_iter()
            .map(|s| s.path)
            .collect()
    };
    let all = paths(ListFilter::default());
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "listing is in path order");
    assert_eq!(all.len(), 9, "tombstones are not listed by default");
    assert!(!all.contains(&"gone.md".to_string()));

    let with_deleted = store
        .list(&ListFilter {
            include_deleted: true,
            ..Default::default()
        })
        .expect("list");
    assert_eq!(with_deleted.len(), 10);
    let gone = with_deleted
        .iter()
        .find(|s| s.path == "gone.md")
        .expect("tombstone listed");
    assert_eq!(gone.deleted_ms, Some(T0 + 1));
    assert_eq!(gone.entity, eref("note/gone"));

    let of_type = |t: &str| {
        paths(ListFilter {
            entity_type: Some(t.into()),
            ..Default::default()
        })
    };
    assert_eq!(of_type("topic"), ["topic/rust.md"]);
    assert_eq!(of_type("nope"), Vec::<String>::new());

    let tagged = |t: &str| {
        paths(ListFilter {
            tag: Some(t.into()),
            ..Default::default()
        })
    };
    assert_eq!(tagged("work"), ["a.md", "b.md", "topic/rust.md"]);
    assert_eq!(tagged("home"), ["Projects/x.md", "a.md"]);

    let folder = |d: &str| {
        paths(ListFilter {
            folder: Some(d.into()),
            ..Default::default()
        })
    };
    assert_eq!(folder("Projects"), ["Projects/Deep/y.md", "Projects/x.md"]);
    assert_eq!(folder("Projects/"), ["Projects/Deep/y.md", "Projects/x.md"]);
    assert_eq!(folder("Projects/Deep"), ["Projects/Deep/y.md"]);
    assert_eq!(folder("a_b"), ["a_b/c.md"], "folder names are not patterns");
    assert_eq!(
        folder("Proj"),
        Vec::<String>::new(),
        "a folder is a whole name"
    );

    let page = |offset, limit| {
        paths(ListFilter {
            offset,
            limit,
            ..Default::default()
        })
    };
    assert_eq!(page(0, 3), all[..3]);
    assert_eq!(page(3, 3), all[3..6]);
    assert_eq!(page(6, 0), all[6..], "limit 0 means no limit");
    assert_eq!(page(20, 5), Vec::<String>::new());
    let summary = &store.list(&ListFilter::default()).expect("list")[0];
    assert_eq!(
        summary.title, "Projects",
        "a note without a heading is titled by its name"
    );
    assert_eq!(summary.updated_ms, T0);
    assert_eq!(store.count_live().expect("count"), 9);
}
