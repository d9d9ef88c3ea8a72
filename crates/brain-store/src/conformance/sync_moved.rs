//! The base an export records for a note moved between its read and its commit.
//!
//! An export reads a note, writes its file, then records the file's base under the reference
//! it read. A move committed in between (`brain mv` in this folder, or another folder's, on a
//! shared store) leaves no note at that reference. The file holds the moved note's text all the
//! same, so its base must be recorded, against the note where it is now, with the folder still
//! behind on it: the move's export then finds the old file as synced and moves it to the trash.
//! Refused, the file stayed with its old base (or none), and the next sync took it for a new
//! note or an edit of a deleted one: the old note came back beside the moved one (hostile F13).

use super::sync::{full_bases, stat, state};
use super::{Factory, T0, entity, eref};
use crate::{DirtyEntity, FileBase, StoreError, SyncOp};

/// Moves `from` to `to` (text unchanged) as `brain mv` does.
fn move_note(store: &dyn crate::Backend, from: &str, to: &crate::Entity) {
    store
        .transaction(&mut |tx| tx.move_to(&eref(from), to))
        .expect("move");
}

/// The file was synced before: its base follows the note to its new reference, the folder
/// stays behind on it, and the old path is listed as moved away with the text just written.
pub fn a_base_set_after_a_move_follows_the_note(make: Factory<'_>) {
    let store = make();
    let first = entity("note/u1", "---\nstatus: a\n---\n# U\n", T0);
    store
        .apply(&[SyncOp::Import {
            entity: first.clone(),
            stat: stat(1),
            seen_dirty_hash: None,
        }])
        .expect("import");
    // An edit through an interface; the export reads it, and before it records the base the
    // note is moved.
    let edited = entity("note/u1", "---\nstatus: b\n---\n# U\n", T0 + 1);
    store.put(&edited).expect("edit");
    let moved = entity("note/mv2/u1", "---\nstatus: b\n---\n# U\n", T0 + 2);
    move_note(&*store, "note/u1", &moved);
    let written = FileBase {
        path: "u1.md".into(),
        stat: stat(2),
        hash: edited.content_hash.clone(),
        entity: eref("note/u1"),
    };
    store
        .apply(&[SyncOp::SetBase {
            base: written.clone(),
        }])
        .expect("the base of a file written before the move is recorded");
    assert_eq!(
        full_bases(&*store),
        [FileBase {
            entity: eref("note/mv2/u1"),
            ..written
        }],
        "the base is the file just written, of the note where it is now"
    );
    let mut dirty = state(&*store).dirty;
    dirty.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(
        dirty,
        [
            DirtyEntity {
                entity: eref("note/mv2/u1"),
                path: "mv2/u1.md".into(),
                content_hash: moved.content_hash.clone(),
                deleted: false,
            },
            DirtyEntity {
                entity: eref("note/mv2/u1"),
                path: "u1.md".into(),
                content_hash: edited.content_hash.clone(),
                deleted: true,
            },
        ],
        "the new file is still to write, and the old one to trash"
    );
    assert!(matches!(
        store.get(&eref("note/u1")),
        Err(StoreError::NotFound(_))
    ));
}

/// A note first written here (no base yet) and moved before its base was recorded: found by
/// its history (this text at this path), so its file is trashed rather than imported as new.
pub fn a_first_base_set_after_a_move_follows_the_note(make: Factory<'_>) {
    let store = make();
    let made = entity("note/c", "# C\n", T0);
    store.put(&made).expect("put");
    move_note(&*store, "note/c", &entity("note/dir/c", "# C\n", T0 + 1));
    let written = FileBase {
        path: "c.md".into(),
        stat: stat(3),
        hash: made.content_hash.clone(),
        entity: eref("note/c"),
    };
    store
        .apply(&[SyncOp::SetBase {
            base: written.clone(),
        }])
        .expect("the base of a file written before the move is recorded");
    assert_eq!(
        full_bases(&*store),
        [FileBase {
            entity: eref("note/dir/c"),
            ..written
        }]
    );
    let dirty = state(&*store).dirty;
    assert!(
        dirty
            .iter()
            .any(|d| d.path == "c.md" && d.deleted && d.entity == eref("note/dir/c")),
        "the old file is listed as moved away: {dirty:?}"
    );
    assert!(
        dirty.iter().any(|d| d.path == "dir/c.md" && !d.deleted),
        "{dirty:?}"
    );
    // A reference no note ever had is still refused, and the batch with it.
    let nowhere = store.apply(&[SyncOp::SetBase {
        base: FileBase {
            path: "x.md".into(),
            stat: stat(4),
            hash: "h".into(),
            entity: eref("note/x"),
        },
    }]);
    assert!(
        matches!(nowhere, Err(StoreError::NotFound(_))),
        "{nowhere:?}"
    );
}
