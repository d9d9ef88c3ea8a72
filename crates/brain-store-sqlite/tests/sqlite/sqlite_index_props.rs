//! The full-text index never drifts from the entities, whatever sequence of writes happens.
//!
//! Random sequences of every kind of write (interface puts, deletes and restores; sync
//! imports, renames and tombstones) run against one store; after each sequence FTS5's
//! integrity check must pass, every live entity must be found by its own words and no
//! tombstone may be found. Errors the contract allows (not found, path collision) are fine.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use brain_core::EntityRef;
use brain_store::conformance::{T0, entity};
use brain_store::{FileStat, SearchQuery, Store, StoreError, SyncOp};
use brain_store_sqlite::SqliteStore;
use proptest::prelude::*;

/// A small universe, so that operations keep meeting the same rows (and `note/A` collides
/// with `note/a`).
const REFS: [&str; 4] = ["note/a", "note/A", "note/b", "topic/c"];

/// Texts: `2m` and `2m + 1` share a body (with its own word, `uniqM`) but not a title (a
/// frontmatter title, or the file name), so some writes change only the title.
fn text(n: usize) -> String {
    let body = format!("uniq{} body #t{}\n", n / 2, n % 3);
    if n.is_multiple_of(2) {
        format!("---\ntitle: T{n}\n---\n{body}")
    } else {
        body
    }
}

#[derive(Clone, Debug)]
enum Op {
    Put(usize, usize),
    SoftDelete(usize),
    Restore(usize),
    Import(usize, usize),
    Rename(usize, usize, usize),
    Tombstone(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let r = 0..REFS.len();
    let t = 0..12usize;
    prop_oneof![
        (r.clone(), t.clone()).prop_map(|(r, t)| Op::Put(r, t)),
        r.clone().prop_map(Op::SoftDelete),
        r.clone().prop_map(Op::Restore),
        (r.clone(), t.clone()).prop_map(|(r, t)| Op::Import(r, t)),
        (r.clone(), r.clone(), t).prop_map(|(a, b, t)| Op::Rename(a, b, t)),
        r.prop_map(Op::Tombstone),
    ]
}

fn run(store: &SqliteStore, op: &Op, now: i64) -> Result<(), StoreError> {
    let stat = FileStat {
        size: 1,
        mtime_ns: now,
        ..FileStat::default()
    };
    match *op {
        Op::Put(r, t) => store.put(&entity(REFS[r], &text(t), now)).map(drop),
        Op::SoftDelete(r) => store.soft_delete(&REFS[r].parse().expect("ref"), now),
        Op::Restore(r) => store.restore(&REFS[r].parse().expect("ref"), now).map(drop),
        Op::Import(r, t) => store.apply(&[SyncOp::Import {
            entity: entity(REFS[r], &text(t), now),
            stat,
            seen_dirty_hash: None,
        }]),
        Op::Rename(a, b, t) => {
            let from = entity(REFS[a], "", now);
            store.apply(&[SyncOp::Rename {
                from: from.entity_ref,
                from_path: from.path,
                entity: entity(REFS[b], &text(t), now),
                stat,
                seen_dirty_hash: None,
            }])
        }
        Op::Tombstone(r) => {
            let e = entity(REFS[r], "", now);
            store.apply(&[SyncOp::Tombstone {
                entity: e.entity_ref,
                path: e.path,
                now_ms: now,
                seen_dirty_hash: None,
            }])
        }
    }
}

fn found(store: &SqliteStore, word: &str) -> Vec<EntityRef> {
    let mut q = SearchQuery::new(word);
    q.limit = 0;
    store
        .search(&q)
        .expect("search")
        .into_iter()
        .map(|h| h.entity)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn index_follows_any_sequence_of_writes(ops in proptest::collection::vec(op(), 1..25)) {
        let store = SqliteStore::open_in_memory().expect("open");
        for (i, op) in ops.iter().enumerate() {
            match run(&store, op, T0 + i as i64) {
                Ok(()) | Err(StoreError::NotFound(_) | StoreError::PathCollision { .. }) => {}
                Err(e) => prop_assert!(false, "{op:?}: {e}"),
            }
            prop_assert!(store.check_index().is_ok(), "index drifted after {op:?}");
        }
        for r in REFS {
            let r: EntityRef = r.parse().expect("ref");
            let Ok(e) = store.get_any(&r) else { continue };
            let word = e.body.split_whitespace().find(|w| w.starts_with("uniq")).expect("uniq word");
            let hits = found(&store, word);
            if e.deleted_ms.is_none() {
                prop_assert!(hits.contains(&r), "live {r} not found by {word}");
            } else {
                prop_assert!(!hits.contains(&r), "tombstone {r} found by {word}");
            }
        }
    }
}
