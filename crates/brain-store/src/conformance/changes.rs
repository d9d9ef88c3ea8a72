//! The change feed (`changes_since`, `change_cursor`): every change numbered once, in the
//! transaction that makes it, and a consumer reading on from its last page never misses one.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::sync::stat;
use super::{Factory, T0, entity, eref};
use crate::{Backend, Change, FileBase, Store, SyncOp};

/// The whole feed after `cursor`, read in pages of `page`.
fn read_all(store: &dyn Store, mut cursor: u64, page: usize) -> (Vec<Change>, u64) {
    let mut out = Vec::new();
    loop {
        let p = store.changes_since(cursor, page).expect("changes_since");
        assert!(p.changes.len() <= page, "a page holds at most its limit");
        if p.changes.is_empty() {
            assert_eq!(p.next, cursor, "an empty page reads on from where it was");
            return (out, cursor);
        }
        assert_eq!(p.next, p.changes.last().map(|c| c.seq).unwrap_or(cursor));
        cursor = p.next;
        out.extend(p.changes);
    }
}

fn refs(changes: &[Change]) -> Vec<String> {
    changes.iter().map(|c| c.entity.to_string()).collect()
}

pub fn every_change_is_numbered_once_in_order(make: Factory<'_>) {
    let store = make();
    assert_eq!(store.change_cursor().expect("cursor"), 0, "a new store");
    assert_eq!(read_all(&*store, 0, 10).0, vec![]);

    let a1 = entity("note/a", "# A\nfirst\n", T0);
    store.put(&a1).expect("put a");
    store.put(&entity("note/b", "# B\n", T0)).expect("put b");
    let a2 = entity("note/a", "# A\nsecond\n", T0 + 1);
    store.put(&a2).expect("put a again");
    let (changes, end) = read_all(&*store, 0, 10);
    assert_eq!(refs(&changes), ["note/b", "note/a"], "latest change last");
    assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(changes[1].content_hash, a2.content_hash, "as it is now");
    assert_eq!(store.change_cursor().expect("cursor"), end);

    // An unchanged put is no change.
    store.put(&a2).expect("put the same");
    assert_eq!(read_all(&*store, end, 10).0, vec![], "an unchanged put");

    // A soft delete and a restore are changes, each seen as the state it left.
    store.soft_delete(&eref("note/b"), T0 + 2).expect("delete");
    let (changes, end) = read_all(&*store, end, 10);
    assert_eq!(refs(&changes), ["note/b"]);
    assert!(changes[0].deleted, "seen deleted: {changes:?}");
    store.restore(&eref("note/b"), T0 + 3).expect("restore");
    let (changes, end) = read_all(&*store, end, 10);
    assert_eq!(refs(&changes), ["note/b"]);
    assert!(!changes[0].deleted, "seen live again: {changes:?}");

    // A sync's import and rename are changes; recording a base (an export settled) is not.
    let c = entity("note/c", "# C\n", T0 + 4);
    store
        .apply(&[SyncOp::Import {
            entity: c.clone(),
            stat: stat(4),
            seen_dirty_hash: None,
        }])
        .expect("import c");
    let (changes, end) = read_all(&*store, end, 10);
    assert_eq!(refs(&changes), ["note/c"]);
    store
        .apply(&[SyncOp::SetBase {
            base: FileBase {
                path: "a.md".into(),
                stat: stat(9),
                hash: a2.content_hash.clone(),
                entity: a2.entity_ref.clone(),
            },
        }])
        .expect("set base");
    assert_eq!(
        read_all(&*store, end, 10).0,
        vec![],
        "marking a note exported"
    );
    let moved = entity("note/d", "# C\n", T0 + 5);
    store
        .apply(&[SyncOp::Rename {
            from: c.entity_ref.clone(),
            from_path: c.path.clone(),
            entity: moved.clone(),
            stat: stat(4),
            seen_dirty_hash: None,
        }])
        .expect("rename c to d");
    let (changes, _) = read_all(&*store, end, 10);
    assert!(
        changes
            .iter()
            .any(|ch| ch.entity == moved.entity_ref && ch.path == "d.md" && !ch.deleted),
        "the moved note at its new name: {changes:?}"
    );
}

pub fn pages_read_on_from_next(make: Factory<'_>) {
    let store = make();
    for i in 0..5 {
        store
            .put(&entity(&format!("note/n{i}"), &format!("# {i}\n"), T0))
            .expect("put");
    }
    let first = store.changes_since(0, 2).expect("page 1");
    assert_eq!(refs(&first.changes), ["note/n0", "note/n1"]);
    let second = store.changes_since(first.next, 2).expect("page 2");
    assert_eq!(refs(&second.changes), ["note/n2", "note/n3"]);
    let third = store.changes_since(second.next, 2).expect("page 3");
    assert_eq!(refs(&third.changes), ["note/n4"]);
    assert_eq!(store.change_cursor().expect("cursor"), third.next);
    let empty = store.changes_since(third.next, 2).expect("page 4");
    assert_eq!((empty.changes.len(), empty.next), (0, third.next));
    // A consumer that starts from the cursor sees only what comes after.
    store.put(&entity("note/n9", "# 9\n", T0)).expect("put");
    assert_eq!(
        refs(&store.changes_since(third.next, 10).expect("after").changes),
        ["note/n9"]
    );
}

/// Writers commit while a consumer reads the feed in small pages: in the end the consumer has
/// seen every entity in its final state. On a backend whose writers can commit out of number
/// order, a feed that handed out a page past a change still in flight would skip it here.
pub fn a_consumer_reading_while_writers_commit_misses_nothing(make: Factory<'_>) {
    const WRITERS: usize = 3;
    const NOTES: usize = 40;
    let store: Arc<dyn Backend> = Arc::from(make());
    let done = Arc::new(AtomicBool::new(false));
    let consumer = {
        let (store, done) = (store.clone(), done.clone());
        std::thread::spawn(move || {
            let mut seen: HashMap<String, String> = HashMap::new();
            let mut cursor = 0;
            let mut last_seq = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page = store.changes_since(cursor, 7).expect("changes_since");
                for c in &page.changes {
                    assert!(c.seq > last_seq, "numbers only grow");
                    last_seq = c.seq;
                    seen.insert(c.entity.to_string(), c.content_hash.clone());
                }
                cursor = page.next;
                // Only a read that began after every writer finished, and found nothing, ends.
                if finished && page.changes.is_empty() {
                    return seen;
                }
                std::thread::yield_now();
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut last = HashMap::new();
                for i in 0..NOTES {
                    let r = format!("note/w{w}/n{i}");
                    store
                        .put(&entity(&r, &format!("# {i}\nfirst\n"), T0))
                        .expect("put");
                    let second = entity(&r, &format!("# {i}\nsecond by {w}\n"), T0 + 1);
                    store.put(&second).expect("put again");
                    last.insert(r, second.content_hash);
                }
                last
            })
        })
        .collect();
    let mut expected = HashMap::new();
    for w in writers {
        expected.extend(w.join().expect("a writer panicked"));
    }
    done.store(true, Ordering::SeqCst);
    let seen = consumer.join().expect("the consumer panicked");
    assert_eq!(seen.len(), WRITERS * NOTES, "every entity was seen");
    for (r, hash) in &expected {
        assert_eq!(seen.get(r), Some(hash), "{r} seen in its final state");
    }
}
