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
        queued.message.contains(
            "`path:Projects` names nothing in the vault, which spells it `path:projects`"
        ),
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
            .contains("spells it `path:projects/p1.md`"),
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
            .contains("the vault spells `Projects` as `projects`"),
        "{said:?}"
    );
    assert!(said.note.unwrap().contains("`projects/old`"));
    let queued = brain
        .start_batch(&into("projects/old"), "path:third.md")
        .unwrap();
    assert_eq!(queued.note, None, "{queued:?}");
    wait(&brain, queued.batch_id.unwrap());
    // A twin deeper down is spelt as the vault does too, so one retry is enough.
    let said = brain
        .preview_batch(&into("PROJECTS/OLD"), "path:other.md")
        .unwrap();
    assert!(
        said.note
            .as_deref()
            .unwrap()
            .contains("give it as `projects/old`"),
        "{said:?}"
    );
    // Moving every note of `projects` to `Projects` renames the folder: no twin is left.
    let said = brain
        .preview_batch(&into("Projects"), "path:projects")
        .unwrap();
    assert_eq!(said.note, None, "{said:?}");
    // Into the folder as spelt, or a new one: nothing to say.
    for to in ["projects/old", "elsewhere"] {
        let said = brain.preview_batch(&into(to), "path:other.md").unwrap();
        assert_eq!(said.note, None, "{to}");
    }
}

/// A move into a folder sync excludes is refused before anything is selected, by the dry run
/// as by the real run; a `rm` the real run refuses as a mass delete is said by its dry run.
#[test]
fn what_the_real_run_refuses_its_dry_run_says() {
    let (dir, brain) = vault(12);
    std::fs::write(dir.path().join(".brainignore"), "drafts/\n").unwrap();
    let into_hidden = BatchOp::Move {
        to: "drafts".into(),
    };
    for refused in [
        brain
            .preview_batch(&into_hidden, "path:projects")
            .unwrap_err(),
        brain
            .start_batch(&into_hidden, "path:projects")
            .unwrap_err(),
    ] {
        assert_eq!(refused.kind(), "bad_argument", "{refused}");
        assert!(
            refused.to_string().contains("excluded from sync"),
            "{refused}"
        );
    }
    assert!(brain.batches(10).unwrap().is_empty(), "nothing was queued");
    let dry = brain
        .preview_batch(&BatchOp::Delete, "path:projects")
        .unwrap();
    assert!(
        dry.warning
            .as_deref()
            .unwrap()
            .contains("the real run would be refused (exit 5;"),
        "{dry:?}"
    );
    let few = brain
        .preview_batch(&BatchOp::Delete, "path:other.md")
        .unwrap();
    assert_eq!(few.warning, None);
    // The dry run of the run that allows it says nothing of a refusal.
    let allowed = brain
        .preview_batch_allowing(&BatchOp::Delete, "path:projects", 0..usize::MAX, true)
        .unwrap();
    assert_eq!(allowed.warning, None, "{allowed:?}");
}

/// A value that would read back as another one when typed bare is described quoted, so the
/// description of a batch is what to type to get it again.
#[test]
fn a_set_value_is_described_as_it_must_be_typed() {
    let set = |value: serde_json::Value| {
        BatchOp::Set {
            key: "status".into(),
            value,
        }
        .describe()
    };
    assert_eq!(set(serde_json::json!("done")), "set status=done");
    assert_eq!(set(serde_json::json!("null")), "set status=\"null\"");
    assert_eq!(set(serde_json::json!("")), "set status=\"\"");
    assert_eq!(set(serde_json::json!("3")), "set status=\"3\"");
    assert_eq!(set(serde_json::Value::Null), "set status=null");
    assert_eq!(set(serde_json::json!(3)), "set status=3");
}
