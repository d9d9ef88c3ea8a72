//! Conflicts: recorded by a sync batch, listed newest first, resolved by the user.

use super::{Factory, T0, eref};
use crate::{ConflictKind, NewConflict, StoreError, SyncOp};

fn conflict(kind: ConflictKind, path: &str, entity: Option<&str>, now_ms: i64) -> NewConflict {
    NewConflict {
        kind,
        path: path.into(),
        entity: entity.map(eref),
        store_content: Some("store side\n".into()),
        file_content: Some("file side\n".into()),
        copy_path: Some(format!("{path}.conflict")),
        detail: format!("{} at {path}", kind.as_str()),
        now_ms,
    }
}

pub fn record_list_and_show(make: Factory<'_>) {
    let store = make();
    assert!(store.conflicts(true).expect("list").is_empty());
    store
        .apply(&[
            SyncOp::RecordConflict(conflict(
                ConflictKind::BothChanged,
                "a.md",
                Some("note/a"),
                T0,
            )),
            SyncOp::RecordConflict(NewConflict {
                store_content: None,
                file_content: None,
                copy_path: None,
                ..conflict(ConflictKind::PathCollision, "B.md", None, T0 + 1)
            }),
        ])
        .expect("record");
    let all = store.conflicts(false).expect("list");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].path, "B.md", "newest first");
    assert_eq!(all[0].kind, ConflictKind::PathCollision);
    assert_eq!(all[0].entity, None);
    assert_eq!(all[0].store_content, None);
    let a = store.conflict(all[1].id).expect("show");
    assert_eq!(a.kind, ConflictKind::BothChanged);
    assert_eq!(a.path, "a.md");
    assert_eq!(a.entity, Some(eref("note/a")));
    assert_eq!(a.store_content.as_deref(), Some("store side\n"));
    assert_eq!(a.file_content.as_deref(), Some("file side\n"));
    assert_eq!(a.copy_path.as_deref(), Some("a.md.conflict"));
    assert_eq!(a.detail, "both_changed at a.md");
    assert_eq!((a.created_ms, a.resolved_ms), (T0, None));
    match store.conflict(a.id + 1000) {
        Err(StoreError::ConflictNotFound(id)) => assert_eq!(id, a.id + 1000),
        other => panic!("a missing conflict gave {other:?}"),
    }
}

/// A conflict that carries the losing version is always recorded (the record may be the only
/// copy of it); one without content, met again at every sync while it lasts, only once.
pub fn open_duplicates_are_ignored(make: Factory<'_>) {
    let store = make();
    let record = |kind, path: &str, entity: Option<&str>, now_ms| {
        store
            .apply(&[SyncOp::RecordConflict(conflict(kind, path, entity, now_ms))])
            .expect("record");
    };
    let bare = |path: &str, entity: Option<&str>, now_ms| {
        store
            .apply(&[SyncOp::RecordConflict(NewConflict {
                store_content: None,
                file_content: None,
                copy_path: None,
                ..conflict(ConflictKind::PathCollision, path, entity, now_ms)
            })])
            .expect("record");
    };
    record(ConflictKind::BothChanged, "a.md", Some("note/a"), T0);
    record(ConflictKind::BothChanged, "a.md", Some("note/a"), T0 + 1);
    assert_eq!(
        store.conflicts(false).expect("list").len(),
        2,
        "a second conflict with content is a second losing version: kept"
    );
    bare("c.md", None, T0 + 4);
    bare("c.md", None, T0 + 5);
    bare("c.md", Some("note/c"), T0 + 6);
    let all = store.conflicts(false).expect("list");
    let created: Vec<i64> = all.iter().map(|c| c.created_ms).collect();
    assert_eq!(created, [T0 + 6, T0 + 4, T0 + 1, T0]);
}

pub fn resolve(make: Factory<'_>) {
    let store = make();
    let record = |now_ms| {
        store
            .apply(&[SyncOp::RecordConflict(conflict(
                ConflictKind::BothChanged,
                "a.md",
                Some("note/a"),
                now_ms,
            ))])
            .expect("record");
    };
    record(T0);
    let id = store.conflicts(false).expect("list")[0].id;
    store.resolve_conflict(id, T0 + 1).expect("resolve");
    assert!(store.conflicts(false).expect("list").is_empty());
    let all = store.conflicts(true).expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].resolved_ms, Some(T0 + 1));
    store
        .resolve_conflict(id, T0 + 2)
        .expect("resolving twice is harmless");
    assert_eq!(store.conflict(id).expect("show").resolved_ms, Some(T0 + 1));
    assert!(matches!(
        store.resolve_conflict(id + 1000, T0),
        Err(StoreError::ConflictNotFound(_))
    ));
    record(T0 + 3);
    let open = store.conflicts(false).expect("list");
    assert_eq!(
        open.len(),
        1,
        "the same conflict may come back once resolved"
    );
    assert_ne!(open[0].id, id);
    assert_eq!(store.conflicts(true).expect("list").len(), 2);
}
