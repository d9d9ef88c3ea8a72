//! Batch operations through the facade (issue 20), against a real SQLite store with real
//! workers: the dry run, the batch and its report, each operation, rollback (and the rollback
//! of a rollback), cancel, a note that cannot be changed, and a child taken over from a worker
//! that died mid-way.

mod hints;
mod ops;

use std::path::Path;
use std::time::{Duration, Instant};

use brain_api::batch::{BatchOp, BatchReport};
use brain_api::{Brain, Expect, Workers};
use brain_core::{Config, EntityRef};

use crate::common;

/// Long enough for a batch of a thousand notes on a loaded machine; a wait ends as soon as the
/// batch does.
pub const GENEROUS: Duration = Duration::from_secs(120);

/// A vault with notes `p0`..`p{n}` in `projects/` (tagged `proj`, `#inline` in the text) and
/// two others, synced, served through a facade with workers.
pub fn vault(n: usize) -> (tempfile::TempDir, Brain) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let root = root.as_path();
    std::fs::create_dir_all(root.join("projects")).unwrap();
    for i in 0..n {
        std::fs::write(
            root.join(format!("projects/p{i}.md")),
            format!("---\ntags: [proj]\n---\n# P{i}\n\nAlice wrote this. #inline\n"),
        )
        .unwrap();
    }
    std::fs::write(root.join("other.md"), "# Other\n\nAlice too.\n").unwrap();
    std::fs::write(root.join("third.md"), "---\nstatus: open\n---\n# Third\n").unwrap();
    let brain = with_workers(root, Workers::Never);
    brain.import_now(&[], true, GENEROUS).unwrap();
    drop(brain);
    let brain = with_workers(root, common::on_demand());
    (dir, brain)
}

/// A facade over the vault at `root` (its store already made), running jobs as `workers` say.
pub fn with_workers(root: &Path, workers: Workers) -> Brain {
    let mut config = Config::default();
    config.serve.sync_debounce_ms = 0;
    common::brain(root, config, workers)
}

pub fn note(s: &str) -> EntityRef {
    s.parse().unwrap()
}

pub fn text(brain: &Brain, r: &str) -> String {
    brain.get(&note(r)).unwrap().content()
}

/// Queues `op` over `query` and waits for the batch to end; its report.
pub fn run(brain: &Brain, op: BatchOp, query: &str) -> BatchReport {
    let queued = brain.start_batch(&op, query).unwrap();
    wait(brain, queued.batch_id.expect("a batch was queued"))
}

/// Waits for batch `id` to end (and its files to be written); its report.
pub fn wait(brain: &Brain, id: i64) -> BatchReport {
    let deadline = Instant::now() + GENEROUS;
    loop {
        let report = brain.batch_report(id).unwrap();
        if report.is_finished() {
            brain.finish_writes(GENEROUS);
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "batch {id} never ended: {report:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_set_is_previewed_run_reported_and_rolled_back_with_later_changes_kept_both_ways() {
    let (dir, brain) = vault(5);
    let root = dir.path();
    // One note has the value already.
    brain
        .write(
            &note("note/projects/p4"),
            b"---\ntags: [proj]\nstatus: done\n---\n# P4\n",
            Expect::Any,
        )
        .unwrap();
    brain.finish_writes(GENEROUS);
    let before: Vec<String> = (0..5)
        .map(|i| text(&brain, &format!("note/projects/p{i}")))
        .collect();
    let op = BatchOp::Set {
        key: "status".into(),
        value: "done".into(),
    };

    // The dry run: the count, a diff per note, nothing written.
    let preview = brain.preview_batch(&op, "tag:proj").unwrap();
    assert_eq!((preview.count, preview.would_change), (5, 4), "{preview:?}");
    let p0 = preview
        .notes
        .iter()
        .find(|n| n.entity == "note/projects/p0")
        .unwrap();
    assert!(
        p0.diff.as_deref().unwrap().contains("+status: done"),
        "{p0:?}"
    );
    let p4 = preview
        .notes
        .iter()
        .find(|n| n.entity == "note/projects/p4")
        .unwrap();
    assert_eq!(p4.change, "unchanged");
    assert_eq!(p4.why.as_deref(), Some("status is already done"));
    assert_eq!(
        text(&brain, "note/projects/p0"),
        before[0],
        "a dry run writes nothing"
    );

    // The run: at once, with its id; then every note changed, files and history saying so.
    let queued = brain.start_batch(&op, "tag:proj").unwrap();
    let id = queued.batch_id.unwrap();
    assert_eq!(
        queued.message,
        format!("Queued: set status=done on 5 notes. Batch {id}")
    );
    let report = wait(&brain, id);
    assert_eq!(report.state, "succeeded", "{report:?}");
    assert_eq!((report.changed, report.unchanged, report.failed), (4, 1, 0));
    let file = std::fs::read_to_string(root.join("projects/p0.md")).unwrap();
    assert!(file.contains("status: done"), "the file follows: {file}");
    let history = brain.history(&note("note/projects/p0")).unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.why.source, format!("batch {id}"));
    assert_eq!(last.why.message.as_deref(), Some("set status=done"));

    // Someone edits one of them after the batch; then the batch is rolled back.
    let later = "---\ntags: [proj]\nstatus: done\n---\n# P1\n\nEdited after the batch.\n";
    brain
        .write(&note("note/projects/p1"), later.as_bytes(), Expect::Any)
        .unwrap();
    let rollback = brain.rollback_batch(id).unwrap();
    let rb = rollback.batch_id.unwrap();
    let report = wait(&brain, rb);
    assert_eq!(report.state, "succeeded", "{report:?}");
    assert_eq!(report.rollback_of, Some(id));
    // It visits the 4 notes the batch changed, not the one it left as it was.
    assert_eq!(report.total, 4, "{report:?}");
    assert_eq!(
        (report.changed, report.conflicts, report.unchanged),
        (3, 1, 0),
        "{report:?}"
    );
    for i in [0, 2, 3] {
        assert_eq!(
            text(&brain, &format!("note/projects/p{i}")),
            before[i],
            "p{i} restored"
        );
        let file = std::fs::read_to_string(root.join(format!("projects/p{i}.md"))).unwrap();
        assert_eq!(file, before[i], "p{i}'s file restored");
    }
    assert_eq!(
        text(&brain, "note/projects/p1"),
        later,
        "a later change is never overwritten"
    );
    let conflict = brain
        .conflicts(false)
        .unwrap()
        .into_iter()
        .find(|c| c.kind == brain_store::ConflictKind::Rollback)
        .expect("the rollback kept both ways");
    let conflict = brain.conflict(conflict.id).unwrap();
    assert_eq!(conflict.store_content.as_deref(), Some(later));
    assert_eq!(conflict.file_content.as_deref(), Some(before[1].as_str()));
    assert!(
        report.kept_both[0].reason.contains("changed after batch"),
        "{report:?}"
    );
    assert_eq!(brain.batch_report(id).unwrap().rolled_back_by, vec![rb]);

    // Rolling back the same batch again is refused, naming the rollback.
    let again = brain.rollback_batch(id).unwrap_err();
    assert!(
        matches!(again, brain_api::BrainError::BatchRefused(_)),
        "{again:?}"
    );
    assert!(
        again.to_string().contains(&format!("by batch {rb}")),
        "{again}"
    );

    // Rolling back the rollback applies the batch again.
    let redo = wait(&brain, brain.rollback_batch(rb).unwrap().batch_id.unwrap());
    assert_eq!((redo.state, redo.changed), ("succeeded", 3), "{redo:?}");
    for i in [0, 2, 3] {
        assert!(text(&brain, &format!("note/projects/p{i}")).contains("status: done"));
    }
    assert_eq!(text(&brain, "note/projects/p1"), later);
}

#[test]
fn selecting_no_note_queues_nothing_and_says_so() {
    let (_dir, brain) = vault(2);
    let queued = brain
        .start_batch(&BatchOp::Delete, "tag:nothing-has-this")
        .unwrap();
    assert_eq!((queued.batch_id, queued.count), (None, 0));
    assert!(
        queued
            .message
            .starts_with("No note matches `tag:nothing-has-this`"),
        "{}",
        queued.message
    );
    assert!(brain.batches(0).unwrap().is_empty(), "no batch was made");
}

#[test]
fn bad_requests_are_refused_before_anything_is_queued() {
    let (_dir, brain) = vault(1);
    let bad = [
        (
            BatchOp::Set {
                key: " ".into(),
                value: "x".into(),
            },
            "tag:proj",
            "key is empty",
        ),
        (
            BatchOp::Unset { key: "a: b".into() },
            "tag:proj",
            "not a frontmatter key",
        ),
        (
            BatchOp::TagAdd { tag: "a,b".into() },
            "tag:proj",
            "not a tag",
        ),
        (
            BatchOp::Replace {
                old: String::new(),
                new: "x".into(),
            },
            "tag:proj",
            "empty",
        ),
        (
            BatchOp::Move {
                to: "../out".into(),
            },
            "tag:proj",
            "not a folder",
        ),
        (
            BatchOp::Rollback { of: 1 },
            "tag:proj",
            "brain batch rollback",
        ),
        (BatchOp::Delete, "", "query is empty"),
        (BatchOp::Delete, "tag:", "has no value"),
        (BatchOp::Delete, "type:nosuchtype", "meta.type:nosuchtype"),
    ];
    for (op, query, says) in bad {
        let err = brain.start_batch(&op, query).unwrap_err();
        assert!(err.to_string().contains(says), "{op:?} {query:?}: {err}");
    }
    assert!(brain.batches(0).unwrap().is_empty());
    let err = brain.rollback_batch(987_654).unwrap_err();
    assert!(
        matches!(err, brain_api::BrainError::NoSuchBatch(_)),
        "{err:?}"
    );
    assert_eq!(err.kind(), "not_found");
}
