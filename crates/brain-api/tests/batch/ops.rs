//! Each batch operation and its rollback; a note a batch cannot change; cancel; a child taken
//! over from a worker that died mid-way.

use std::time::{Duration, Instant};

use brain_api::Workers;
use brain_api::batch::BatchOp;
use brain_core::time::now_ms;

use super::{GENEROUS, note, run, text, vault, wait, with_workers};

#[test]
fn tags_are_changed_in_the_frontmatter_only_and_inline_tags_are_left() {
    let (_dir, brain) = vault(3);
    let add = BatchOp::TagAdd {
        tag: "#Review".into(),
    };
    let report = run(&brain, add, "path:projects");
    assert_eq!(
        (report.state, report.changed),
        ("succeeded", 3),
        "{report:?}"
    );
    let p0 = brain.get(&note("note/projects/p0")).unwrap();
    assert!(p0.tags.contains(&"review".to_string()), "{:?}", p0.tags);
    assert!(
        p0.content().contains("tags: [proj, Review]") || p0.content().contains("- Review"),
        "{}",
        p0.content()
    );
    // Adding it again changes nothing.
    let again = run(
        &brain,
        BatchOp::TagAdd {
            tag: "review".into(),
        },
        "path:projects",
    );
    assert_eq!((again.changed, again.unchanged), (0, 3), "{again:?}");

    // An inline #tag is not the frontmatter's: the dry run says so, and the batch leaves it.
    let remove = BatchOp::TagRemove {
        tag: "inline".into(),
    };
    let preview = brain.preview_batch(&remove, "tag:inline").unwrap();
    assert!(
        preview.note.as_deref().unwrap().contains("inline #tags"),
        "{preview:?}"
    );
    assert_eq!(preview.would_change, 0);
    assert!(
        preview.notes[0]
            .why
            .as_deref()
            .unwrap()
            .contains("#inline is in its text")
    );
    // `set tags=` is no tag add, and `set KEY=` no unset: the dry run and the queued batch
    // both say so.
    let set_tags = BatchOp::Set {
        key: "tags".into(),
        value: serde_json::json!("solo"),
    };
    let said = brain
        .preview_batch(&set_tags, "path:projects")
        .unwrap()
        .note;
    assert!(said.as_deref().unwrap().contains("tag add"), "{said:?}");
    let set_null = BatchOp::Set {
        key: "title".into(),
        value: serde_json::Value::Null,
    };
    let queued = brain.start_batch(&set_null, "path:projects/p0.md").unwrap();
    assert!(
        queued.note.as_deref().unwrap().contains("`unset title`"),
        "{queued:?}"
    );
    let nulled = wait(&brain, queued.batch_id.unwrap());
    assert_eq!(nulled.changed, 1, "{nulled:?}");
    let removed = run(
        &brain,
        BatchOp::TagRemove { tag: "proj".into() },
        "tag:proj",
    );
    assert_eq!(removed.changed, 3, "{removed:?}");
    let p0 = brain.get(&note("note/projects/p0")).unwrap();
    assert!(!p0.tags.contains(&"proj".to_string()) && p0.tags.contains(&"inline".to_string()));
}

#[test]
fn moves_replaces_and_deletes_are_undone_by_their_rollbacks() {
    let (dir, brain) = vault(3);
    let root = dir.path();
    let moved = run(
        &brain,
        BatchOp::Move {
            to: "Archive/2026".into(),
        },
        "path:projects",
    );
    assert_eq!((moved.state, moved.changed), ("succeeded", 3), "{moved:?}");
    assert!(brain.get(&note("note/Archive/2026/p1")).is_ok());
    assert!(root.join("Archive/2026/p1.md").is_file() && !root.join("projects/p1.md").exists());
    let back = wait(
        &brain,
        brain
            .rollback_batch(moved.batch_id)
            .unwrap()
            .batch_id
            .unwrap(),
    );
    assert_eq!((back.state, back.changed), ("succeeded", 3), "{back:?}");
    assert!(brain.get(&note("note/projects/p1")).is_ok());
    assert!(root.join("projects/p1.md").is_file() && !root.join("Archive/2026/p1.md").exists());

    let original = text(&brain, "note/other");
    let replaced = run(
        &brain,
        BatchOp::Replace {
            old: "Alice".into(),
            new: "Alice Martin".into(),
        },
        "Alice",
    );
    assert_eq!(replaced.changed, 4, "{replaced:?}");
    assert_eq!(text(&brain, "note/other"), "# Other\n\nAlice Martin too.\n");
    wait(
        &brain,
        brain
            .rollback_batch(replaced.batch_id)
            .unwrap()
            .batch_id
            .unwrap(),
    );
    assert_eq!(text(&brain, "note/other"), original);

    let deleted = run(&brain, BatchOp::Delete, "path:projects");
    assert_eq!(deleted.changed, 3, "{deleted:?}");
    assert!(brain.get(&note("note/projects/p2")).is_err());
    assert!(
        !root.join("projects/p2.md").exists(),
        "its file went to the trash"
    );
    let restored = wait(
        &brain,
        brain
            .rollback_batch(deleted.batch_id)
            .unwrap()
            .batch_id
            .unwrap(),
    );
    assert_eq!(restored.changed, 3, "{restored:?}");
    assert!(brain.get(&note("note/projects/p2")).is_ok());
    assert!(root.join("projects/p2.md").is_file(), "its file is back");
}

#[test]
fn a_note_that_cannot_be_changed_is_reported_with_why_and_the_rest_go_on() {
    let (dir, brain) = vault(3);
    // Edited on disk and not synced yet: a batch must not write over it.
    std::fs::write(
        dir.path().join("projects/p1.md"),
        "---\ntags: [proj]\n---\n# P1\n\nTyped in the editor.\n",
    )
    .unwrap();
    let set = BatchOp::Set {
        key: "status".into(),
        value: "done".into(),
    };
    let report = run(&brain, set, "tag:proj");
    assert_eq!(report.state, "failed", "{report:?}");
    assert_eq!((report.changed, report.failed), (2, 1), "{report:?}");
    assert_eq!(report.failures[0].entity, "note/projects/p1");
    assert!(
        report.failures[0].reason.contains("brain sync"),
        "{report:?}"
    );
    let on_disk = std::fs::read_to_string(dir.path().join("projects/p1.md")).unwrap();
    assert!(
        on_disk.contains("Typed in the editor."),
        "the person's edit is kept"
    );
    // The same for a rollback, which the person finishes once the edit is synced: rolling
    // the batch back again is allowed, since the first rollback could not change every note.
    let id = run(&brain, BatchOp::TagAdd { tag: "t".into() }, "tag:proj").batch_id;
    std::fs::write(
        dir.path().join("projects/p2.md"),
        "---
tags: [proj, t]
---
# P2

Typed again.
",
    )
    .unwrap();
    let first = wait(&brain, brain.rollback_batch(id).unwrap().batch_id.unwrap());
    assert_eq!((first.state, first.failed), ("failed", 1), "{first:?}");
    brain.import_now(&[], true, super::GENEROUS).unwrap();
    let second = wait(&brain, brain.rollback_batch(id).unwrap().batch_id.unwrap());
    assert_eq!(second.state, "succeeded", "{second:?}");
    assert_eq!((second.changed, second.conflicts), (0, 1), "{second:?}");
    assert!(text(&brain, "note/projects/p2").contains("Typed again."));
    assert!(!text(&brain, "note/projects/p0").contains("- t"));
}

#[test]
fn a_cancelled_batch_keeps_what_it_changed_and_counts_what_it_did_not_reach() {
    let (_dir, brain) = vault(600);
    let set = BatchOp::Set {
        key: "status".into(),
        value: "done".into(),
    };
    let id = brain
        .start_batch(&set, "tag:proj")
        .unwrap()
        .batch_id
        .unwrap();
    let deadline = Instant::now() + GENEROUS;
    while brain.batch_report(id).unwrap().done == 0 {
        assert!(Instant::now() < deadline, "the batch never started");
        std::thread::sleep(Duration::from_millis(2));
    }
    brain.cancel_batch(id).unwrap();
    let report = wait(&brain, id);
    assert_eq!(report.state, "cancelled", "{report:?}");
    assert!(report.changed >= 1 && report.not_done >= 1, "{report:?}");
    assert_eq!(
        report.changed + report.unchanged + report.not_done,
        600,
        "{report:?}"
    );
    let finished: Vec<_> = report
        .children
        .iter()
        .filter(|c| c.state == brain_store::jobs::JobState::Succeeded)
        .collect();
    assert!(
        !finished.is_empty(),
        "the children that ended are listed: {report:?}"
    );
    assert_eq!(
        report.children.iter().map(|c| c.changed).sum::<u64>(),
        report.changed
    );
    let with_status = brain.select_notes("meta.status:done").unwrap().len() as u64;
    assert_eq!(
        with_status, report.changed,
        "what it says it changed is what changed"
    );
    // Its rollback visits the notes it changed, not the 600 it was given.
    let undone = wait(&brain, brain.rollback_batch(id).unwrap().batch_id.unwrap());
    assert_eq!(
        (undone.total, undone.changed),
        (report.changed, report.changed),
        "{undone:?}"
    );
    assert!(brain.select_notes("meta.status:done").unwrap().is_empty());
}

#[test]
fn a_child_taken_over_from_a_dead_worker_changes_each_note_once() {
    let (dir, brain) = vault(100);
    drop(brain);
    let root = dir.path();
    let idle = with_workers(root, Workers::Never);
    let op = BatchOp::Replace {
        old: "Alice".into(),
        new: "Alice Alice".into(),
    };
    let id = idle
        .start_batch(&op, "path:projects")
        .unwrap()
        .batch_id
        .unwrap();
    // A worker claims the child, changes 30 notes as the batch would, and dies.
    let store = idle.queue().store().clone();
    let claimed = store
        .claim("dead-worker", &[("batch-notes".into(), 1)], 1, now_ms(), 1)
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let dead = with_workers(root, Workers::Never).with_source(format!("batch {id}"));
    for i in 0..30 {
        let r = note(&format!("note/projects/p{i}"));
        let replaced = dead
            .get(&r)
            .unwrap()
            .content()
            .replace("Alice", "Alice Alice");
        dead.write(&r, replaced.as_bytes(), brain_api::Expect::Any)
            .unwrap();
    }
    assert_eq!(store.reap(now_ms() + 10).unwrap(), vec![claimed[0].id]);
    // Nobody works on it now: a process that waits for the batch and may run jobs takes it
    // up (`brain batch status --wait`), once it has sat idle a few seconds; one that may not
    // run jobs never does.
    let deadline = Instant::now() + GENEROUS;
    while !idle.batch_unattended(id).unwrap() {
        assert!(Instant::now() < deadline, "never seen as unattended");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!idle.tend_batch(id).unwrap(), "Workers::Never runs nothing");
    let brain = with_workers(root, super::common::on_demand());
    let deadline = Instant::now() + GENEROUS;
    while !brain.tend_batch(id).unwrap() {
        assert!(Instant::now() < deadline, "nobody took the batch up");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(brain.runs_jobs_here());
    assert!(!brain.tend_batch(id).unwrap(), "started once");
    let report = wait(&brain, id);
    assert!(
        !brain.batch_unattended(id).unwrap(),
        "an ended batch needs nobody"
    );
    assert_eq!(
        (report.state, report.changed),
        ("succeeded", 100),
        "{report:?}"
    );
    for i in 0..100 {
        let r = format!("note/projects/p{i}");
        assert!(
            text(&brain, &r).contains("\nAlice Alice wrote"),
            "{r}: {}",
            text(&brain, &r)
        );
        let by_batch = brain
            .history(&note(&r))
            .unwrap()
            .iter()
            .filter(|v| v.why.source == format!("batch {id}"))
            .count();
        assert_eq!(by_batch, 1, "{r} changed once");
    }
    drop(idle);
}

#[test]
fn a_move_onto_a_taken_name_is_foreseen_by_the_dry_run_and_refused_by_the_run() {
    let (dir, brain) = vault(3);
    std::fs::create_dir_all(dir.path().join("Archive")).unwrap();
    std::fs::write(dir.path().join("Archive/p0.md"), "# Already here\n").unwrap();
    brain.import_now(&[], true, super::GENEROUS).unwrap();
    let mv = BatchOp::Move {
        to: "Archive".into(),
    };
    let preview = brain.preview_batch(&mv, "path:projects").unwrap();
    assert_eq!(preview.would_change, 2, "{preview:?}");
    let p0 = preview
        .notes
        .iter()
        .find(|n| n.entity == "note/projects/p0")
        .unwrap();
    assert_eq!(p0.change, "refused");
    assert!(p0.why.as_deref().unwrap().contains("is taken"), "{p0:?}");
    let report = run(&brain, mv, "path:projects");
    assert_eq!((report.changed, report.failed), (2, 1), "{report:?}");
    assert!(
        report.failures[0]
            .reason
            .contains("choose another --to folder"),
        "{report:?}"
    );
    assert_eq!(
        text(&brain, "note/Archive/p0"),
        "# Already here\n",
        "nothing overwritten"
    );
}

#[test]
fn batches_rolled_back_newest_first_are_all_undone() {
    let (_dir, brain) = vault(3);
    let original: Vec<String> = (0..3)
        .map(|i| text(&brain, &format!("note/projects/p{i}")))
        .collect();
    let first = run(
        &brain,
        BatchOp::Set {
            key: "a".into(),
            value: "1".into(),
        },
        "path:projects",
    );
    let second = run(
        &brain,
        BatchOp::TagAdd {
            tag: "later".into(),
        },
        "path:projects",
    );
    for b in [second.batch_id, first.batch_id] {
        let undone = wait(&brain, brain.rollback_batch(b).unwrap().batch_id.unwrap());
        assert_eq!((undone.changed, undone.conflicts), (3, 0), "{undone:?}");
    }
    for (i, o) in original.iter().enumerate() {
        assert_eq!(
            &text(&brain, &format!("note/projects/p{i}")),
            o,
            "p{i} as before both"
        );
    }
}

/// Rolling back the first of two overlapping batches keeps every note (a later batch changed
/// them) as conflicts and changes nothing; once the later batch is undone, the first can be
/// rolled back again, which a rollback that changed nothing does not stand in the way of. One
/// that changed notes does, until it is rolled back itself (hostile review of issue 20, M4).
#[test]
fn a_rollback_that_changed_nothing_does_not_stand_in_the_way_of_another() {
    let (_dir, brain) = vault(3);
    let original: Vec<String> = (0..3)
        .map(|i| text(&brain, &format!("note/projects/p{i}")))
        .collect();
    let set = BatchOp::Set {
        key: "ovl".into(),
        value: "1".into(),
    };
    let first = run(&brain, set, "path:projects").batch_id;
    let tag = BatchOp::TagAdd { tag: "t".into() };
    let second = run(&brain, tag, "path:projects").batch_id;
    let kept = wait(
        &brain,
        brain.rollback_batch(first).unwrap().batch_id.unwrap(),
    );
    assert_eq!((kept.changed, kept.conflicts), (0, 3), "{kept:?}");
    // Rolling back the rollback that changed nothing has nothing to do, and says so.
    let nothing = brain.rollback_batch(kept.batch_id).unwrap();
    assert!(
        nothing.batch_id.is_none() && nothing.message.contains("changed no note"),
        "{nothing:?}"
    );
    // Rolled back again while the later batch stands: the same conflicts, not recorded twice.
    let twice = wait(
        &brain,
        brain.rollback_batch(first).unwrap().batch_id.unwrap(),
    );
    assert_eq!((twice.changed, twice.conflicts), (0, 3), "{twice:?}");
    assert!(
        twice.kept_both[0].reason.contains("recorded already"),
        "{twice:?}"
    );
    let open = |brain: &brain_api::Brain| brain.conflicts(false).unwrap().len();
    assert_eq!(open(&brain), 3, "one conflict a note");
    wait(
        &brain,
        brain.rollback_batch(second).unwrap().batch_id.unwrap(),
    );
    let again = wait(
        &brain,
        brain.rollback_batch(first).unwrap().batch_id.unwrap(),
    );
    assert_eq!(
        open(&brain),
        0,
        "the notes hold what the conflicts kept: resolved"
    );
    assert_eq!((again.changed, again.conflicts), (3, 0), "{again:?}");
    for (i, o) in original.iter().enumerate() {
        assert_eq!(&text(&brain, &format!("note/projects/p{i}")), o, "p{i}");
    }
    // This one changed the notes: a third rollback is refused, naming it...
    let refused = brain.rollback_batch(first).unwrap_err().to_string();
    assert!(
        refused.contains(&format!("by batch {}", again.batch_id)) && refused.contains("3 changed"),
        "{refused}"
    );
    // ...until it is rolled back itself, which brings the first batch's versions back.
    let redo = wait(
        &brain,
        brain
            .rollback_batch(again.batch_id)
            .unwrap()
            .batch_id
            .unwrap(),
    );
    assert_eq!(redo.changed, 3, "{redo:?}");
    assert!(text(&brain, "note/projects/p0").contains("ovl:"));
    let last = wait(
        &brain,
        brain.rollback_batch(first).unwrap().batch_id.unwrap(),
    );
    assert_eq!(last.changed, 3, "{last:?}");
    assert_eq!(&text(&brain, "note/projects/p0"), &original[0]);
}

/// A huge or multi-line value is shown cut short on one line in what a person is told (the
/// queued message, `batch list`, `batch status`), while the notes get all of it.
#[test]
fn an_operation_is_described_on_one_short_line() {
    let long = "L".repeat(100_000);
    let set = BatchOp::Set {
        key: "long".into(),
        value: serde_json::Value::String(long.clone()),
    };
    let shown = set.describe();
    assert!(shown.starts_with("set long=LLL"), "{shown}");
    assert!(shown.ends_with('…'), "{shown}");
    assert!(shown.chars().count() < 80, "{shown}");
    let lines = BatchOp::Replace {
        old: "a\r\nb".into(),
        new: "ü".repeat(61),
    };
    assert_eq!(
        lines.describe(),
        format!("replace 'a⏎b' with '{}…'", "ü".repeat(60))
    );
    assert_eq!(
        BatchOp::TagAdd { tag: "work".into() }.describe(),
        "tag add work"
    );
}

/// A dry run works out the diffs of the notes asked for only, and cuts each at
/// `DIFF_CHARS`: a long value over many notes is megabytes of diff nobody reads whole.
#[test]
fn a_dry_run_diffs_only_the_notes_asked_for_each_cut_short() {
    let (_dir, brain) = vault(5);
    let long = BatchOp::Set {
        key: "long".into(),
        value: serde_json::Value::String("L".repeat(100_000)),
    };
    let p = brain
        .preview_batch_diffing(&long, "path:projects", 1..3)
        .unwrap();
    assert_eq!((p.count, p.would_change), (5, 5));
    let diffed: Vec<usize> = (0..5).filter(|i| p.notes[*i].diff.is_some()).collect();
    assert_eq!(diffed, [1, 2]);
    assert!(p.notes.iter().all(|n| n.change == "edit"));
    let diff = p.notes[1].diff.as_deref().unwrap();
    assert!(diff.chars().count() < brain_api::batch::DIFF_CHARS + 100);
    assert!(diff.contains("(diff cut at 8000 characters"), "{diff}");
}

/// A `rm` over most of the vault is refused as a sync's mass delete is, queueing nothing,
/// unless allowed; below the configured share or minimum it runs.
#[test]
fn a_batch_rm_of_most_of_the_vault_is_refused_unless_allowed() {
    let (_dir, brain) = vault(12);
    let err = brain
        .start_batch(&BatchOp::Delete, "path:projects")
        .unwrap_err();
    assert_eq!(err.kind(), "mass_delete", "{err}");
    assert!(
        err.to_string().contains("12 of the vault's 14 notes"),
        "{err}"
    );
    assert!(brain.batches(10).unwrap().is_empty(), "nothing was queued");
    let report = wait(
        &brain,
        brain
            .start_batch_allowing(&BatchOp::Delete, "path:projects", true)
            .unwrap()
            .batch_id
            .unwrap(),
    );
    assert_eq!(report.changed, 12, "{report:?}");
    // A few notes are below the minimum: no guard.
    let few = run(&brain, BatchOp::Delete, "path:other.md path:third.md");
    assert_eq!(few.state, "succeeded", "{few:?}");
}
