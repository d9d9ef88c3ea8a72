//! `Store::dump` and `Store::load_dump`: a brain moved to another store is the same brain
//! (`brain store copy`), on any pair of backends.

use super::sync::stat;
use super::{Factory, T0, entity, eref};
use crate::{ConflictKind, NewConflict, SearchQuery, StoreError, SyncOp};

/// A store holding a bit of everything: synced notes with tags, a note changed through an
/// interface, a deleted one, an open and a resolved conflict.
fn populated(make: Factory<'_>) -> Box<dyn crate::Backend> {
    let s = make();
    let mut ops = Vec::new();
    for (r, text) in [
        ("note/a", "# Alpha\n\nsynced words #red\n"),
        ("note/dir/b", "# Beta\n\nmore words\n"),
        ("note/gone", "# Gone\n\nsoon deleted\n"),
    ] {
        let e = entity(r, text, T0);
        ops.push(SyncOp::Import {
            stat: stat(text.len() as u64),
            entity: e,
            seen_dirty_hash: None,
        });
    }
    for (n, path) in [(1, "x.md"), (2, "y.md")] {
        ops.push(SyncOp::RecordConflict(NewConflict {
            kind: ConflictKind::BothChanged,
            path: path.into(),
            entity: Some(eref("note/a")),
            store_content: Some(format!("store side {n}")),
            file_content: Some(format!("file side {n}")),
            copy_path: Some(format!("{path}.conflict")),
            detail: "kept both".into(),
            now_ms: T0 + n,
        }));
    }
    s.apply(&ops).expect("apply");
    s.put(&entity(
        "note/a",
        "# Alpha\n\nedited through an interface\n",
        T0 + 5,
    ))
    .expect("put");
    s.soft_delete(&eref("note/gone"), T0 + 6).expect("delete");
    let resolved = s.conflicts(false).expect("conflicts")[0].id;
    s.resolve_conflict(resolved, T0 + 7).expect("resolve");
    s
}

pub fn a_dump_loads_into_an_empty_store_unchanged(make: Factory<'_>) {
    let a = populated(make);
    let dump = a.dump().expect("dump");
    assert_eq!(dump.entities.len(), 3);
    assert_eq!(
        dump.bases.len(),
        3,
        "a soft delete keeps the base until its file goes"
    );
    let b = make();
    b.load_dump(&dump, false).expect("load into an empty store");
    let again = b.dump().expect("dump the copy");
    assert_eq!(again.fingerprint(), dump.fingerprint());
    // History comes along: every version reads back the same in the copy.
    for r in [eref("note/a"), eref("note/gone")] {
        let versions = a.history(&r).expect("history");
        assert_eq!(b.history(&r).expect("history of the copy"), versions);
        assert!(versions.len() >= 2, "{r}: {versions:?}");
        for v in &versions {
            assert_eq!(
                b.version_text(&r, v.number).expect("copied version"),
                a.version_text(&r, v.number).expect("version"),
                "{r} version {}",
                v.number
            );
        }
    }
    // What a reader of the copy sees is the original's.
    assert_eq!(b.count_live().expect("count"), 2);
    let hits = b.search(&SearchQuery::new("edited")).expect("search");
    assert_eq!(hits.len(), 1, "the live text is indexed in the copy");
    assert!(
        b.search(&SearchQuery::new("deleted"))
            .expect("search")
            .is_empty()
    );
    assert!(
        b.get_any(&eref("note/gone"))
            .expect("tombstone")
            .deleted_ms
            .is_some()
    );
    let dirty: Vec<_> = b
        .dirty_entities()
        .expect("dirty")
        .into_iter()
        .map(|d| d.entity)
        .collect();
    let mut want: Vec<_> = a
        .dirty_entities()
        .expect("dirty")
        .into_iter()
        .map(|d| d.entity)
        .collect();
    let mut got = dirty;
    got.sort_by_key(|r| r.to_string());
    want.sort_by_key(|r| r.to_string());
    assert_eq!(got, want);
    let show = |s: &dyn crate::Backend| -> Vec<String> {
        s.conflicts(true)
            .expect("conflicts")
            .iter()
            .map(|c| format!("{c:?}"))
            .collect()
    };
    assert_eq!(show(b.as_ref()), show(a.as_ref()));
    // The feed goes on after the copied cursor; a new conflict after the copied ids.
    let cursor = b.change_cursor().expect("cursor");
    assert_eq!(cursor, dump.change_cursor);
    b.put(&entity("note/new", "# New\n", T0 + 9))
        .expect("put into the copy");
    let page = b.changes_since(cursor, 10).expect("feed");
    assert_eq!(page.changes.len(), 1);
    assert!(page.changes[0].seq > cursor);
    b.apply(&[SyncOp::RecordConflict(NewConflict {
        kind: ConflictKind::BothChanged,
        path: "z.md".into(),
        entity: None,
        store_content: Some("s".into()),
        file_content: Some("f".into()),
        copy_path: None,
        detail: "after the copy".into(),
        now_ms: T0 + 10,
    })])
    .expect("a conflict in the copy");
    let max_copied = dump.conflicts.iter().map(|c| c.id).max().unwrap_or(0);
    assert!(
        b.conflicts(false)
            .expect("conflicts")
            .iter()
            .any(|c| c.id > max_copied)
    );
}

pub fn a_store_holding_a_brain_is_replaced_only_when_asked(make: Factory<'_>) {
    let dump = populated(make).dump().expect("dump");
    let b = make();
    b.put(&entity("note/mine", "# Mine\n", T0)).expect("put");
    match b.load_dump(&dump, false) {
        Err(StoreError::NotEmpty { what, .. }) => assert!(what.contains("1 note"), "{what}"),
        other => panic!("a non-empty store was not refused: {other:?}"),
    }
    assert!(
        b.get(&eref("note/mine")).is_ok(),
        "nothing of it was touched"
    );
    b.load_dump(&dump, true).expect("replace when asked");
    assert!(
        b.get_any(&eref("note/mine")).is_err(),
        "what it held is gone"
    );
    assert_eq!(b.dump().expect("dump").fingerprint(), dump.fingerprint());
}
