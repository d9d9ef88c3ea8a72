//! What a batch says beyond its count: a `path:` folder typed in another letter case, and a
//! move into a folder spelt otherwise than one the vault has.

use brain_api::batch::BatchOp;

use super::{vault, wait};

/// `path:` counts letter case; a query that selects nothing because of it names the folder as
/// the vault spells it, and one whose folder exists as typed gets no hint.
#[test]
fn a_path_filter_in_another_letter_case_is_named_as_the_vault_spells_it() {
    let (_dir, brain) = vault(2);
    let queued = brain
        .start_batch(&BatchOp::Delete, "path:Projects")
        .unwrap();
    assert_eq!(queued.batch_id, None);
    assert!(
        queued
            .message
            .contains("`path:Projects` selects no note, but `path:projects` would"),
        "{}",
        queued.message
    );
    let preview = brain
        .preview_batch(&BatchOp::Delete, "path:PROJECTS/p1.md")
        .unwrap();
    assert!(
        preview
            .note
            .as_deref()
            .unwrap()
            .contains("`path:projects/p1.md` would"),
        "{preview:?}"
    );
    let req = |query: &str| brain_api::SearchRequest {
        query: query.into(),
        ..brain_api::SearchRequest::default()
    };
    let page = brain.search(&req("path:PROJECTS")).unwrap();
    assert!(page.hits.is_empty() && page.hint.is_some(), "{page:?}");
    // The folder is there as typed: the words are what found nothing.
    let page = brain.search(&req("path:projects nowhere")).unwrap();
    assert!(page.hits.is_empty() && page.hint.is_none(), "{page:?}");
    // No folder in any case.
    let page = brain.search(&req("path:elsewhere")).unwrap();
    assert_eq!(page.hint, None);

    // A move into `Projects/old` beside `projects/` says it makes a second folder.
    let into = |to: &str| BatchOp::Move { to: to.into() };
    let said = brain
        .preview_batch(&into("Projects/old"), "path:other.md")
        .unwrap();
    assert!(
        said.note
            .as_deref()
            .unwrap()
            .contains("`Projects` differs from it only in letter case"),
        "{said:?}"
    );
    assert!(said.note.unwrap().contains("`projects/old`"));
    let queued = brain
        .start_batch(&into("PROJECTS"), "path:third.md")
        .unwrap();
    assert!(queued.note.is_some(), "{queued:?}");
    wait(&brain, queued.batch_id.unwrap());
    // Into the folder as spelt, or a new one: nothing to say.
    for to in ["projects/old", "elsewhere"] {
        let said = brain.preview_batch(&into(to), "path:other.md").unwrap();
        assert_eq!(said.note, None, "{to}");
    }
}
