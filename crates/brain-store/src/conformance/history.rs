//! History: every change of an entity keeps the version it replaced, in the same transaction,
//! with what made it; every version reads back exactly.

use super::sync::stat;
use super::{Factory, T0, entity, eref};
use crate::{ChangeWhy, StoreError, SyncOp};

/// The numbers of `r`'s versions, oldest first.
fn numbers_of(store: &dyn crate::Backend, r: &brain_core::EntityRef) -> Vec<u64> {
    store
        .history(r)
        .expect("history")
        .iter()
        .map(|v| v.number)
        .collect()
}

fn hash(text: &str) -> String {
    brain_core::content_hash(text.as_bytes())
}

pub fn every_change_keeps_the_version_it_replaced(make: Factory<'_>) {
    let store = make();
    let r = eref("note/plan");
    let texts = ["# Plan\none\n", "# Plan\none\ntwo\n", "# Plan\nthree\n"];
    store
        .apply(&[SyncOp::Import {
            entity: entity("note/plan", texts[0], T0),
            stat: stat(1),
            seen_dirty_hash: None,
        }])
        .expect("import");
    store
        .transaction(&mut |tx| {
            tx.set_why(&ChangeWhy::by("mcp").saying("add a line"));
            tx.put(&entity("note/plan", texts[1], T0 + 10), None)?;
            Ok(())
        })
        .expect("put");
    store
        .apply(&[SyncOp::Import {
            entity: entity("note/plan", texts[2], T0 + 20),
            stat: stat(2),
            seen_dirty_hash: Some(hash(texts[1])),
        }])
        .expect("import again");
    store.soft_delete(&r, T0 + 30).expect("delete");
    store.restore(&r, T0 + 40).expect("restore");

    let versions = store.history(&r).expect("history");
    let numbers: Vec<u64> = versions.iter().map(|v| v.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5], "{versions:?}");
    let sources: Vec<&str> = versions.iter().map(|v| v.why.source.as_str()).collect();
    assert_eq!(sources, ["file", "mcp", "file", "brain", "brain"]);
    assert_eq!(versions[1].why.message.as_deref(), Some("add a line"));
    assert_eq!(versions[1].made_ms, T0 + 10);
    let deleted: Vec<bool> = versions.iter().map(|v| v.deleted).collect();
    assert_eq!(deleted, [false, false, false, true, false]);
    let current: Vec<bool> = versions.iter().map(|v| v.current).collect();
    assert_eq!(current, [false, false, false, false, true]);
    for (n, want) in [
        (1, texts[0]),
        (2, texts[1]),
        (3, texts[2]),
        (4, texts[2]),
        (5, texts[2]),
    ] {
        assert_eq!(
            store.version_text(&r, n).expect("version"),
            want,
            "version {n}"
        );
    }
    assert_eq!(
        versions[1].content_hash,
        hash(texts[1]),
        "each version keeps its hash"
    );
}

pub fn unchanged_writes_make_no_version_and_unknown_ones_are_refused(make: Factory<'_>) {
    let store = make();
    let r = eref("note/a");
    let e = entity("note/a", "# A\n", T0);
    store.put(&e).expect("put");
    store.put(&e).expect("put again, unchanged");
    assert_eq!(store.history(&r).expect("history").len(), 1);
    match store.version_text(&r, 2) {
        Err(StoreError::VersionNotFound { number, latest, .. }) => {
            assert_eq!((number, latest), (2, 1));
        }
        other => panic!("version 2 of a note with one gave {other:?}"),
    }
    assert!(matches!(
        store.version_text(&r, 0),
        Err(StoreError::VersionNotFound { .. })
    ));
    assert!(matches!(
        store.history(&eref("note/nope")),
        Err(StoreError::NotFound(_))
    ));
}

pub fn a_rename_keeps_the_history(make: Factory<'_>) {
    let store = make();
    let old = entity("note/a", "# A\nfirst\n", T0);
    store
        .apply(&[SyncOp::Import {
            entity: old.clone(),
            stat: stat(1),
            seen_dirty_hash: None,
        }])
        .expect("import");
    store
        .apply(&[SyncOp::Import {
            entity: entity("note/a", "# A\nsecond\n", T0 + 1),
            stat: stat(2),
            seen_dirty_hash: None,
        }])
        .expect("edit");
    let moved = entity("note/b", "# A\nsecond\n", T0 + 2);
    store
        .apply(&[SyncOp::Rename {
            from: old.entity_ref.clone(),
            from_path: "a.md".into(),
            entity: moved.clone(),
            stat: stat(3),
            seen_dirty_hash: None,
        }])
        .expect("rename");
    let versions = store.history(&moved.entity_ref).expect("history");
    let paths: Vec<&str> = versions.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(paths, ["a.md", "a.md", "b.md"]);
    assert_eq!(
        store.version_text(&moved.entity_ref, 1).expect("v1"),
        "# A\nfirst\n"
    );
}

/// A job enqueued alone changes no entity and makes no version.
pub fn a_transaction_without_entity_writes_makes_no_version(make: Factory<'_>) {
    let store = make();
    store.put(&entity("note/a", "# A\n", T0)).expect("put");
    store
        .transaction(&mut |tx| {
            tx.set_why(&ChangeWhy::by("cli"));
            tx.enqueue(&super::jobs::new_job("t", serde_json::json!({})), T0)?;
            Ok(())
        })
        .expect("enqueue");
    assert_eq!(store.history(&eref("note/a")).expect("history").len(), 1);
}

/// Retention thins old versions (the last of each day past 30 days, of each month past a
/// year) and every version left still reads back exactly.
pub fn retention_thins_old_versions_and_the_rest_read_back(make: Factory<'_>) {
    const DAY: i64 = 86_400_000;
    let store = make();
    let r = eref("note/old");
    let now = T0;
    let times = [
        now - 400 * DAY,
        now - 400 * DAY + 1000,
        now - 100 * DAY,
        now - 100 * DAY + 1000,
        now - 3 * DAY,
        now - DAY,
    ];
    let texts: Vec<String> = (1..=times.len())
        .map(|n| format!("# Old\n\nversion {n}\n"))
        .collect();
    for (i, (t, text)) in times.iter().zip(&texts).enumerate() {
        store
            .apply(&[SyncOp::Import {
                entity: entity("note/old", text, *t),
                stat: stat(i as u64 + 1),
                seen_dirty_hash: None,
            }])
            .expect("import");
    }
    let rules = crate::history::Retention {
        keep_all_days: 30,
        daily_days: 365,
    };
    assert_eq!(store.prune_history(now, rules).expect("prune"), 2);
    let numbers = numbers_of(store.as_ref(), &r);
    assert_eq!(numbers, [2, 4, 5, 6]);
    for n in numbers {
        assert_eq!(
            store.version_text(&r, n).expect("version"),
            texts[n as usize - 1],
            "version {n}"
        );
    }
    assert!(matches!(
        store.version_text(&r, 1),
        Err(StoreError::VersionNotFound { .. })
    ));
    assert_eq!(store.prune_history(now, rules).expect("again"), 0);
}

/// `brain mv`: the same entity at a new reference and path, its history and creation time
/// kept, its file at the old path listed as moved away; a target that exists is refused.
pub fn a_move_keeps_the_entity_and_its_history(make: Factory<'_>) {
    let store = make();
    store
        .apply(&[SyncOp::Import {
            entity: entity("note/a", "# A\nfirst\n", T0),
            stat: stat(1),
            seen_dirty_hash: None,
        }])
        .expect("import");
    store
        .put(&entity("note/a", "# A\nsecond\n", T0 + 1))
        .expect("edit");
    store
        .put(&entity("note/taken", "# Taken\n", T0 + 1))
        .expect("another note");
    let moved = entity("note/dir/b", "# A\nsecond\n", T0 + 2);
    let refused = store.transaction(&mut |tx| {
        tx.move_to(
            &eref("note/a"),
            &entity("note/taken", "# A\nsecond\n", T0 + 2),
        )
    });
    assert!(
        matches!(refused, Err(StoreError::Stale { .. })),
        "{refused:?}"
    );
    let clash = store.transaction(&mut |tx| {
        tx.move_to(
            &eref("note/a"),
            &entity("note/Taken", "# A\nsecond\n", T0 + 2),
        )
    });
    assert!(
        matches!(clash, Err(StoreError::PathCollision(_))),
        "{clash:?}"
    );
    store
        .transaction(&mut |tx| {
            tx.set_why(&ChangeWhy::by("cli").saying("tidy up"));
            tx.move_to(&eref("note/a"), &moved)
        })
        .expect("move");
    assert!(matches!(
        store.get(&eref("note/a")),
        Err(StoreError::NotFound(_))
    ));
    let got = store.get(&eref("note/dir/b")).expect("moved");
    assert_eq!(got.created_ms, T0, "created is kept");
    assert_eq!(got.path, "dir/b.md");
    let versions = store.history(&eref("note/dir/b")).expect("history");
    let paths: Vec<&str> = versions.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(paths, ["a.md", "a.md", "dir/b.md"]);
    assert_eq!(versions[2].why.message.as_deref(), Some("tidy up"));
    assert_eq!(
        store.version_text(&eref("note/dir/b"), 1).expect("v1"),
        "# A\nfirst\n"
    );
    let dirty = store.dirty_entities().expect("dirty");
    assert!(
        dirty
            .iter()
            .any(|d| d.path == "a.md" && d.deleted && d.entity == eref("note/dir/b")),
        "the old file is listed as moved away: {dirty:?}"
    );
    assert!(
        dirty.iter().any(|d| d.path == "dir/b.md" && !d.deleted),
        "{dirty:?}"
    );
    assert_eq!(
        store.moved_from("a.md", None).expect("moved from"),
        Some(eref("note/dir/b")),
        "where the note once at a.md is now"
    );
    assert_eq!(
        store
            .moved_from("a.md", Some(&hash("# A\nfirst\n")))
            .expect("moved from, by hash"),
        Some(eref("note/dir/b"))
    );
    assert_eq!(
        store
            .moved_from("a.md", Some("not-a-hash"))
            .expect("moved from"),
        None
    );
    assert_eq!(
        store.moved_from("dir/b.md", None).expect("moved from"),
        None,
        "it is there"
    );
}

pub fn with_history_off_versions_are_numbered_not_kept(make: Factory<'_>) {
    let store = make();
    let r = eref("note/plan");
    let texts = [
        "# Plan\none\n",
        "# Plan\none\ntwo\n",
        "# Plan\nthree\n",
        "# Plan\nfour\n",
        "# Plan\nfive\n",
    ];
    store
        .put(&entity("note/plan", texts[0], T0))
        .expect("put 1");
    store
        .put(&entity("note/plan", texts[1], T0 + 10))
        .expect("put 2");
    store.keep_history(false);
    store
        .put(&entity("note/plan", texts[2], T0 + 20))
        .expect("put 3, history off");
    store
        .apply(&[SyncOp::Import {
            entity: entity("note/plan", texts[3], T0 + 30),
            stat: stat(1),
            seen_dirty_hash: Some(hash(texts[2])),
        }])
        .expect("import 4, history off");
    store.soft_delete(&r, T0 + 40).expect("delete, history off");
    store.restore(&r, T0 + 50).expect("restore, history off");
    let numbers = numbers_of(store.as_ref(), &r);
    // Version 1 was kept while history was on; 2 to 5 were replaced with it off.
    assert_eq!(numbers, [1, 6]);
    assert_eq!(
        store.version_text(&r, 1).expect("version 1"),
        texts[0],
        "a version kept before history was turned off still reads back"
    );
    assert!(matches!(
        store.version_text(&r, 2),
        Err(StoreError::VersionNotFound { .. })
    ));
    store.keep_history(true);
    store
        .put(&entity("note/plan", texts[4], T0 + 60))
        .expect("put 5, history on again");
    let numbers = numbers_of(store.as_ref(), &r);
    assert_eq!(numbers, [1, 6, 7]);
    for (n, want) in [(1, texts[0]), (6, texts[3]), (7, texts[4])] {
        assert_eq!(
            store.version_text(&r, n).expect("version"),
            want,
            "version {n}"
        );
    }
}
