//! The sync engine's batch (`apply`) and the state it diffs against (`sync_state`).

use brain_core::EntityRef;

use super::{Factory, T0, entity, eref};
use crate::{
    DirtyEntity, Entity, FileBase, FileStat, ListFilter, SearchQuery, Store, StoreError, SyncOp,
    SyncState,
};

/// A file's stat as a case makes one up: distinct for each size.
pub(super) fn stat(size: u64) -> FileStat {
    FileStat {
        size,
        mtime_ns: 1_000 + size as i64,
        ctime_ns: 2_000 + size as i64,
        inode: 42 + size,
    }
}

/// Every full base, sorted by path, through the two calls a sync uses.
pub(super) fn full_bases(store: &dyn Store) -> Vec<FileBase> {
    let s = store.sync_state().expect("sync_state");
    let paths: Vec<&str> = s.bases.iter().map(|b| b.path.as_str()).collect();
    assert!(paths.is_sorted(), "sync_state returns bases in path order");
    let mut full = store.bases(&paths).expect("bases");
    full.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(full.len(), s.bases.len());
    for (f, b) in full.iter().zip(&s.bases) {
        assert_eq!(
            (&f.path, &f.stat),
            (&b.path, &b.stat),
            "bases agree with sync_state"
        );
    }
    full
}

pub(super) fn state(store: &dyn Store) -> SyncState {
    let mut s = store.sync_state().expect("sync_state");
    s.bases.sort_by(|a, b| a.path.cmp(&b.path));
    s.dirty.sort_by(|a, b| a.path.cmp(&b.path));
    s
}

fn hits(store: &dyn Store, q: &str) -> Vec<EntityRef> {
    match store.search(&SearchQuery::new(q)) {
        Ok(h) => h.into_iter().map(|h| h.entity).collect(),
        Err(e) => panic!("search {q:?}: {e}"),
    }
}

pub fn import_creates_entity_and_base(make: Factory<'_>) {
    let store = make();
    let e = entity("note/a", "# A\nhello\n", T0);
    store
        .apply(&[SyncOp::Import {
            entity: e.clone(),
            stat: stat(10),
            seen_dirty_hash: None,
        }])
        .expect("apply");
    assert_eq!(store.get(&e.entity_ref).expect("get"), e);
    let s = state(&*store);
    assert_eq!(
        full_bases(&*store),
        [FileBase {
            path: "a.md".into(),
            stat: stat(10),
            hash: e.content_hash.clone(),
            entity: e.entity_ref.clone(),
        }]
    );
    assert!(s.dirty.is_empty(), "an import is not a change to export");
    assert_eq!(s.live_entities, 1);
    assert_eq!(hits(&*store, "hello"), [e.entity_ref]);
}

pub fn import_updates_clears_dirty_and_revives(make: Factory<'_>) {
    let store = make();
    let e = entity("note/a", "one\n", T0);
    store.put(&e).expect("put");
    let newer = entity("note/a", "two\n", T0 + 5);
    // The planner did not see the put: the import is skipped and the put survives.
    store
        .apply(&[SyncOp::Import {
            entity: newer.clone(),
            stat: stat(4),
            seen_dirty_hash: None,
        }])
        .expect("apply");
    let kept = store.get(&e.entity_ref).expect("get");
    assert_eq!(
        kept.body, "one\n",
        "an import must not overwrite a change it did not see"
    );
    assert_eq!(state(&*store).dirty.len(), 1);
    // The planner saw it (a conflict it settled): the import applies.
    store
        .apply(&[SyncOp::Import {
            entity: newer.clone(),
            stat: stat(4),
            seen_dirty_hash: Some(e.content_hash.clone()),
        }])
        .expect("apply");
    let got = store.get(&e.entity_ref).expect("get");
    assert_eq!(got.body, "two\n");
    assert_eq!(got.created_ms, T0, "an import keeps created_ms");
    assert_eq!(got.updated_ms, T0 + 5);
    assert!(state(&*store).dirty.is_empty(), "an import clears dirty");

    store.soft_delete(&e.entity_ref, T0 + 6).expect("delete");
    let third = entity("note/a", "three\n", T0 + 7);
    store
        .apply(&[SyncOp::Import {
            entity: third,
            stat: stat(6),
            seen_dirty_hash: Some(newer.content_hash.clone()),
        }])
        .expect("apply");
    let got = store
        .get(&e.entity_ref)
        .expect("an import revives a tombstone");
    assert_eq!((got.body.as_str(), got.created_ms), ("three\n", T0));
    let s = state(&*store);
    assert!(s.dirty.is_empty());
    assert_eq!(s.bases.len(), 1);
    assert_eq!(
        s.bases[0].stat.size, 6,
        "the base is replaced, not duplicated"
    );
}

pub fn rename_moves_the_row(make: Factory<'_>) {
    let store = make();
    let a = entity("note/old", "# Moving\nsame words\n", T0);
    store
        .apply(&[SyncOp::Import {
            entity: a.clone(),
            stat: stat(20),
            seen_dirty_hash: None,
        }])
        .expect("import");
    let b = entity("note/dir/new", "# Moving\nsame words\n", T0 + 9);
    store
        .apply(&[SyncOp::Rename {
            from: a.entity_ref.clone(),
            from_path: a.path.clone(),
            entity: b.clone(),
            stat: stat(20),
            seen_dirty_hash: None,
        }])
        .expect("rename");
    assert!(matches!(
        store.get_any(&a.entity_ref),
        Err(StoreError::NotFound(_))
    ));
    let got = store.get(&b.entity_ref).expect("moved");
    assert_eq!(got.created_ms, T0, "a rename keeps the history");
    assert_eq!(got.path, "dir/new.md");
    let s = state(&*store);
    let full = full_bases(&*store);
    assert_eq!(full.len(), 1);
    assert_eq!(
        (full[0].path.as_str(), &full[0].entity),
        ("dir/new.md", &b.entity_ref)
    );
    assert_eq!(s.live_entities, 1);
    assert_eq!(hits(&*store, "words"), [b.entity_ref]);
}

pub fn rename_over_a_tombstone(make: Factory<'_>) {
    let store = make();
    let old_b = entity("note/b", "# B\nstale bravo\n", T0);
    let a = entity("note/a", "# A\nalpha\n", T0 + 1);
    store
        .apply(&[
            SyncOp::Import {
                entity: old_b.clone(),
                stat: stat(1),
                seen_dirty_hash: None,
            },
            SyncOp::Tombstone {
                entity: old_b.entity_ref.clone(),
                path: old_b.path.clone(),
                now_ms: T0 + 2,
                seen_dirty_hash: None,
            },
            SyncOp::Import {
                entity: a.clone(),
                stat: stat(2),
                seen_dirty_hash: None,
            },
        ])
        .expect("setup");
    let b = entity("note/b", "# A\nalpha\n", T0 + 3);
    store
        .apply(&[SyncOp::Rename {
            from: a.entity_ref.clone(),
            from_path: a.path.clone(),
            entity: b.clone(),
            stat: stat(2),
            seen_dirty_hash: None,
        }])
        .expect("rename onto a tombstone's ref");
    let got = store.get(&b.entity_ref).expect("moved");
    assert_eq!(
        got.created_ms,
        T0 + 1,
        "the moved row lives on, not the tombstone"
    );
    assert_eq!(got.body, "# A\nalpha\n");
    assert!(hits(&*store, "stale").is_empty());
    assert_eq!(state(&*store).bases.len(), 1);
}

/// A rename the planner got wrong still loses no note: from a row that does not exist it is an
/// import; onto a live entity it replaces that entity's content and tombstones the source.
pub fn rename_fallbacks_lose_nothing(make: Factory<'_>) {
    let store = make();
    let ghost = eref("note/ghost");
    let b = entity("note/b", "# B\nfrom nowhere\n", T0);
    store
        .apply(&[SyncOp::Rename {
            from: ghost.clone(),
            from_path: "ghost.md".into(),
            entity: b.clone(),
            stat: stat(1),
            seen_dirty_hash: None,
        }])
        .expect("rename from nothing");
    assert_eq!(store.get(&b.entity_ref).expect("imported"), b);

    let a = entity("note/a", "# A\nsource\n", T0 + 1);
    store
        .apply(&[SyncOp::Import {
            entity: a.clone(),
            stat: stat(2),
            seen_dirty_hash: None,
        }])
        .expect("import");
    let onto_b = entity("note/b", "# A\nsource\n", T0 + 2);
    store
        .apply(&[SyncOp::Rename {
            from: a.entity_ref.clone(),
            from_path: a.path.clone(),
            entity: onto_b.clone(),
            stat: stat(2),
            seen_dirty_hash: None,
        }])
        .expect("rename onto a live entity");
    let got = store.get(&b.entity_ref).expect("target");
    assert_eq!((got.body.as_str(), got.created_ms), ("# A\nsource\n", T0));
    let src = store.get_any(&a.entity_ref).expect("the source is kept");
    assert_eq!(src.deleted_ms, Some(T0 + 2), "as a restorable tombstone");
    let s = state(&*store);
    let paths: Vec<&str> = s.bases.iter().map(|b| b.path.as_str()).collect();
    assert_eq!(paths, ["b.md"]);
    assert!(s.dirty.is_empty());
}

/// A rename one of whose notes was changed by a `put` after the planner looked never
/// overwrites that change, and still applies the half that does not touch it, so no note is
/// left naming a file that is gone.
pub fn rename_with_a_side_changed_meanwhile_applies_the_other(make: Factory<'_>) {
    // The target was created meanwhile: the source goes (its file is the target's now), the
    // target is untouched and the new file gets no base (its export settles both).
    let store = make();
    let a = entity("note/a", "# A\nmoved\n", T0);
    let import = |e: &Entity, size| SyncOp::Import {
        entity: e.clone(),
        stat: stat(size),
        seen_dirty_hash: None,
    };
    store.apply(&[import(&a, 1)]).expect("import");
    let put_b = entity("note/b", "# B\nfrom an agent\n", T0 + 1);
    store.put(&put_b).expect("put");
    let moved = entity("note/b", "# A\nmoved\n", T0 + 2);
    let rename = |from: &Entity, to: &Entity| SyncOp::Rename {
        from: from.entity_ref.clone(),
        from_path: from.path.clone(),
        entity: to.clone(),
        stat: stat(1),
        seen_dirty_hash: None,
    };
    store.apply(&[rename(&a, &moved)]).expect("rename");
    assert_eq!(
        store.get(&put_b.entity_ref).expect("b").body,
        "# B\nfrom an agent\n"
    );
    let src = store.get_any(&a.entity_ref).expect("the source is kept");
    assert_eq!(src.deleted_ms, Some(T0 + 2), "as a restorable tombstone");
    let s = state(&*store);
    assert!(s.bases.is_empty(), "{:?}", s.bases);
    let dirty: Vec<&str> = s.dirty.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(dirty, ["b.md"]);

    // The source changed meanwhile: it keeps its change and its base (its export finds the
    // file gone and writes it back); the file at the new name is a note of its own.
    let store = make();
    store.apply(&[import(&a, 1)]).expect("import");
    let put_a = entity("note/a", "# A\nchanged meanwhile\n", T0 + 1);
    store.put(&put_a).expect("put");
    store.apply(&[rename(&a, &moved)]).expect("rename");
    assert_eq!(
        store.get(&a.entity_ref).expect("a").body,
        "# A\nchanged meanwhile\n"
    );
    let got = store.get(&moved.entity_ref).expect("imported");
    assert_eq!(got.body, "# A\nmoved\n");
    let s = state(&*store);
    let paths: Vec<&str> = s.bases.iter().map(|b| b.path.as_str()).collect();
    assert_eq!(paths, ["a.md", "b.md"]);
    let dirty: Vec<&str> = s.dirty.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(dirty, ["a.md"]);

    // Both changed: nothing is applied.
    let store = make();
    store.apply(&[import(&a, 1)]).expect("import");
    store.put(&put_a).expect("put a");
    store.put(&put_b).expect("put b");
    store.apply(&[rename(&a, &moved)]).expect("rename");
    assert_eq!(
        store.get(&a.entity_ref).expect("a").body,
        "# A\nchanged meanwhile\n"
    );
    assert_eq!(
        store.get(&put_b.entity_ref).expect("b").body,
        "# B\nfrom an agent\n"
    );
    let s = state(&*store);
    let paths: Vec<&str> = s.bases.iter().map(|b| b.path.as_str()).collect();
    assert_eq!(paths, ["a.md"]);
    assert_eq!(s.dirty.len(), 2);
}

/// A new note taking the name of a soft-deleted one never erases it: the deleted version stays,
/// under `<id>.deleted-<n>`, whether the name is taken by an import or by a rename.
pub fn replaced_tombstones_are_archived(make: Factory<'_>) {
    let store = make();
    let old = entity("note/b", "old B important\n", T0);
    let imp = |e: &Entity, seen: Option<String>| {
        store
            .apply(&[SyncOp::Import {
                entity: e.clone(),
                stat: stat(3),
                seen_dirty_hash: seen,
            }])
            .expect("import");
    };
    imp(&old, None);
    store
        .apply(&[SyncOp::Tombstone {
            entity: old.entity_ref.clone(),
            path: old.path.clone(),
            now_ms: T0 + 1,
            seen_dirty_hash: None,
        }])
        .expect("tombstone");
    imp(&entity("note/b", "a new note\n", T0 + 2), None);
    let deleted = store
        .list(&ListFilter {
            include_deleted: true,
            ..ListFilter::default()
        })
        .expect("list");
    let archived: Vec<_> = deleted.iter().filter(|s| s.deleted_ms.is_some()).collect();
    assert_eq!(archived.len(), 1, "{deleted:?}");
    assert!(
        archived[0].entity.id.starts_with("b.deleted-"),
        "{:?}",
        archived[0]
    );
    assert!(archived[0].path.starts_with("b.deleted-") && archived[0].path.ends_with(".md"));
    let kept = store.get_any(&archived[0].entity).expect("archived");
    assert_eq!(kept.body, "old B important\n");
    assert_eq!(
        store.get(&old.entity_ref).expect("new").body,
        "a new note\n"
    );

    // A rename onto a deleted note's name keeps it too.
    let c = entity("note/c", "deleted C\n", T0);
    imp(&c, None);
    store
        .apply(&[SyncOp::Tombstone {
            entity: c.entity_ref.clone(),
            path: c.path.clone(),
            now_ms: T0 + 3,
            seen_dirty_hash: None,
        }])
        .expect("tombstone");
    let d = entity("note/d", "moving\n", T0);
    imp(&d, None);
    store
        .apply(&[SyncOp::Rename {
            from: d.entity_ref.clone(),
            from_path: d.path.clone(),
            entity: entity("note/c", "moving\n", T0 + 4),
            stat: stat(5),
            seen_dirty_hash: None,
        }])
        .expect("rename");
    let all = store
        .list(&ListFilter {
            include_deleted: true,
            ..ListFilter::default()
        })
        .expect("list");
    let c_archive = all
        .iter()
        .find(|s| s.entity.id.starts_with("c.deleted-"))
        .expect("the deleted c is archived");
    assert_eq!(
        store.get_any(&c_archive.entity).expect("get").body,
        "deleted C\n"
    );
    assert_eq!(store.get(&c.entity_ref).expect("moved").body, "moving\n");
}

pub fn tombstone_hides_and_drops_base(make: Factory<'_>) {
    let store = make();
    let e = entity("note/a", "# A\nephemeral\n", T0);
    let tomb = |now_ms| SyncOp::Tombstone {
        entity: e.entity_ref.clone(),
        path: e.path.clone(),
        now_ms,
        seen_dirty_hash: None,
    };
    store
        .apply(&[
            SyncOp::Import {
                entity: e.clone(),
                stat: stat(1),
                seen_dirty_hash: None,
            },
            tomb(T0 + 1),
        ])
        .expect("apply");
    assert!(matches!(
        store.get(&e.entity_ref),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.get_any(&e.entity_ref).expect("get_any").deleted_ms,
        Some(T0 + 1)
    );
    assert!(
        hits(&*store, "ephemeral").is_empty(),
        "a tombstone is not searchable"
    );
    let s = state(&*store);
    assert!(s.bases.is_empty() && s.dirty.is_empty());
    assert_eq!(s.live_entities, 0);
    store.apply(&[tomb(T0 + 2)]).expect("tombstone again");
    assert_eq!(
        store.get_any(&e.entity_ref).expect("get_any").deleted_ms,
        Some(T0 + 1),
        "a second tombstone keeps the first time"
    );
}

pub fn set_base_and_drop_base_clear_dirty(make: Factory<'_>) {
    let store = make();
    let e = entity("note/a", "a\n", T0);
    store.put(&e).expect("put");
    let base = |size| FileBase {
        path: e.path.clone(),
        stat: stat(size),
        hash: e.content_hash.clone(),
        entity: e.entity_ref.clone(),
    };
    store
        .apply(&[SyncOp::SetBase { base: base(2) }])
        .expect("set");
    store
        .apply(&[SyncOp::SetBase { base: base(3) }])
        .expect("set again");
    let s = state(&*store);
    assert_eq!(full_bases(&*store), [base(3)]);
    assert!(s.dirty.is_empty(), "SetBase clears dirty");

    store.soft_delete(&e.entity_ref, T0 + 1).expect("delete");
    assert_eq!(state(&*store).dirty.len(), 1);
    store
        .apply(&[SyncOp::DropBase {
            entity: e.entity_ref.clone(),
            path: e.path.clone(),
        }])
        .expect("drop");
    let s = state(&*store);
    assert!(s.bases.is_empty() && s.dirty.is_empty());
    assert!(
        store
            .get_any(&e.entity_ref)
            .expect("still a tombstone")
            .deleted_ms
            .is_some()
    );
}

pub fn interface_writes_are_dirty(make: Factory<'_>) {
    let store = make();
    let a = entity("note/a", "a\n", T0);
    let b = entity("topic/b", "b\n", T0);
    store.put(&a).expect("put");
    store.put(&b).expect("put");
    store.soft_delete(&b.entity_ref, T0 + 1).expect("delete");
    let s = state(&*store);
    let dirty = |e: &crate::Entity, deleted| DirtyEntity {
        entity: e.entity_ref.clone(),
        path: e.path.clone(),
        content_hash: e.content_hash.clone(),
        deleted,
    };
    assert_eq!(s.dirty, [dirty(&a, false), dirty(&b, true)]);
    assert_eq!(s.live_entities, 1);
    assert!(s.bases.is_empty());
}

pub fn a_failing_batch_changes_nothing(make: Factory<'_>) {
    let store = make();
    let a = entity("note/a", "a\n", T0);
    let res = store.apply(&[
        SyncOp::Import {
            entity: a.clone(),
            stat: stat(1),
            seen_dirty_hash: None,
        },
        SyncOp::SetBase {
            base: FileBase {
                path: "ghost.md".into(),
                stat: stat(1),
                hash: "x".into(),
                entity: eref("note/ghost"),
            },
        },
    ]);
    assert!(
        matches!(res, Err(StoreError::NotFound(_))),
        "a base for an entity that does not exist is refused: {res:?}"
    );
    assert!(matches!(
        store.get_any(&a.entity_ref),
        Err(StoreError::NotFound(_))
    ));
    let s = state(&*store);
    assert!(
        s.bases.is_empty() && s.live_entities == 0,
        "the whole batch rolled back"
    );
}

/// `sync_state_of` is `sync_state` cut down to some paths: their bases, the dirty entities at
/// them, the live count, and the other paths one of them would collide with.
pub fn state_of_some_paths_is_the_whole_state_cut_down(make: Factory<'_>) {
    let store = make();
    let mut ops = Vec::new();
    for (i, r) in ["note/a", "note/b", "note/Café", "note/dir/c"]
        .iter()
        .enumerate()
    {
        ops.push(SyncOp::Import {
            entity: entity(r, &format!("# {r}\n"), T0),
            stat: stat(10 + i as u64),
            seen_dirty_hash: None,
        });
    }
    store.apply(&ops).expect("import");
    // An interface write makes b dirty; a put of a new note d makes it dirty with no base.
    store
        .put(&entity("note/b", "# b changed\n", T0 + 1))
        .expect("put b");
    store
        .put(&entity("note/d", "# d\n", T0 + 1))
        .expect("put d");
    let whole = state(&*store);

    let got = store
        .sync_state_of(&["b.md", "d.md", "dir/c.md", "missing.md"])
        .expect("sync_state_of");
    let paths = |v: &[crate::BaseStat]| v.iter().map(|b| b.path.clone()).collect::<Vec<_>>();
    assert_eq!(
        paths(&got.state.bases),
        ["b.md", "dir/c.md"],
        "their bases, by path"
    );
    for b in &got.state.bases {
        let w = whole
            .bases
            .iter()
            .find(|w| w.path == b.path)
            .expect("in the whole state");
        assert_eq!(w.stat, b.stat, "{}: the same stat", b.path);
    }
    let mut dirty: Vec<&str> = got.state.dirty.iter().map(|d| d.path.as_str()).collect();
    dirty.sort_unstable();
    assert_eq!(
        dirty,
        ["b.md", "d.md"],
        "the dirty entities at those paths only"
    );
    assert_eq!(got.state.live_entities, whole.live_entities);
    assert!(got.colliding.is_empty(), "{:?}", got.colliding);

    // A path asked for twice (an export of a note that is also among the changed ones) is
    // one base and one dirty entity: a second copy of a base looks like a file gone from disk.
    let got = store
        .sync_state_of(&["b.md", "dir/c.md", "b.md"])
        .expect("sync_state_of with a path twice");
    assert_eq!(
        paths(&got.state.bases),
        ["b.md", "dir/c.md"],
        "each base once"
    );
    let dirty: Vec<&str> = got.state.dirty.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(dirty, ["b.md"], "each dirty entity once");

    // A new file differing from synced ones only by case or normalization: they are named.
    let nfd = "Cafe\u{301}.md";
    let got = store
        .sync_state_of(&["A.md", nfd, "b.md"])
        .expect("sync_state_of");
    assert_eq!(got.colliding, ["Café.md", "a.md"], "sorted, each once");
    assert!(got.state.bases.iter().all(|b| b.path == "b.md"));
    assert_eq!(
        store.dirty_entities().expect("dirty").len(),
        whole.dirty.len(),
        "dirty_entities is the whole state's dirty set"
    );
}
