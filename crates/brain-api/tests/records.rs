//! The queue and the conflicts are managed through the facade (issue 15): conflicts listed,
//! shown and resolved; jobs listed, shown with their batch, cancelled and retried; directory
//! sync paused and resumed. Against a real store, with real syncs producing what is managed.
//! A failure keeps the store's words (they name the `brain` command that lists the records)
//! with the kind the facade gives that failure everywhere.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

// Batch operations (issue 20) share this binary too.
mod batch;
mod common;
// So do a session's last writes (one link, not two).
mod finish_writes;
// The plugin runtime's tests (issue 16.2) share this binary: one link for the crate's tests.
mod runtime;

use std::time::Duration;

use brain_api::{BrainError, Expect, JobsRequest, SyncPause, Workers};
use brain_core::Config;
use brain_store::ConflictKind;
use brain_store::jobs::JobState;

/// Long enough for a sync of a few files on a loaded machine; a wait ends as soon as the job
/// does.
const GENEROUS: Duration = Duration::from_secs(60);

/// Queues a full sync through the facade and waits (up to [`GENEROUS`]) for it to succeed.
fn sync(brain: &brain_api::Brain) {
    let started = brain.start_sync("full", false).unwrap();
    let job = brain.queue().wait_finished(started.job, GENEROUS).unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
}

#[test]
fn a_conflict_a_sync_records_is_listed_shown_and_resolved_through_the_facade() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut config = Config::default();
    // The store's edit stays unwritten until the second sync meets the file's edit.
    config.serve.sync_debounce_ms = 600_000;
    let brain = common::brain(root, config, common::on_demand());
    std::fs::write(root.join("a.md"), "# A\n").unwrap();
    sync(&brain);
    assert!(brain.conflicts(true).unwrap().is_empty(), "no conflict yet");

    // Changed on both sides since that sync.
    brain
        .write(
            &"note/a".parse().unwrap(),
            b"# A\n\nfrom the store\n",
            Expect::Any,
        )
        .unwrap();
    std::fs::write(root.join("a.md"), "# A\n\nfrom the file, longer\n").unwrap();
    sync(&brain);

    let open = brain.conflicts(false).unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    let c = &open[0];
    assert_eq!(c.kind, ConflictKind::BothChanged, "{c:?}");
    assert_eq!(c.path, "a.md");
    assert_eq!(c.resolved_ms, None);
    let shown = brain.conflict(c.id).unwrap();
    assert_eq!(shown.id, c.id);
    assert_eq!(
        shown.store_content.as_deref(),
        Some("# A\n\nfrom the store\n"),
        "{shown:?}"
    );
    assert_eq!(
        shown.file_content.as_deref(),
        Some("# A\n\nfrom the file, longer\n"),
        "{shown:?}"
    );

    brain.resolve_conflict(c.id).unwrap();
    assert!(
        brain.conflicts(false).unwrap().is_empty(),
        "resolved is not open"
    );
    let all = brain.conflicts(true).unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    let resolved_at = all[0].resolved_ms.expect("marked resolved");
    // Resolving it again keeps it resolved, when it first was.
    brain.resolve_conflict(c.id).unwrap();
    assert_eq!(brain.conflict(c.id).unwrap().resolved_ms, Some(resolved_at));

    // No such conflict: the store's words, which name the command that lists them.
    for err in [
        brain.conflict(987_654).unwrap_err(),
        brain.resolve_conflict(987_654).unwrap_err(),
    ] {
        assert!(matches!(err, BrainError::Record(_)), "{err:?}");
        assert_eq!(err.kind(), "not_found", "{err:?}");
        assert_eq!(
            err.to_string(),
            "no conflict #987654: see `brain conflicts list`"
        );
    }
    brain.shutdown();
}

#[test]
fn jobs_are_listed_shown_cancelled_and_retried_through_the_facade() {
    let dir = tempfile::tempdir().unwrap();
    // Nobody runs jobs: they stay as these calls leave them.
    let brain = common::brain(dir.path(), Config::default(), Workers::Never);
    let full = brain.start_sync("full", false).unwrap().job;
    let import = brain.start_sync("import-only", false).unwrap().job;

    let ids =
        |req: &JobsRequest| -> Vec<i64> { brain.jobs(req).unwrap().iter().map(|j| j.id).collect() };
    assert_eq!(ids(&JobsRequest::default()), [import, full], "newest first");
    let queued_one = JobsRequest {
        states: vec![JobState::Queued],
        limit: 1,
    };
    assert_eq!(ids(&queued_one), [import]);

    let detail = brain.job_detail(full).unwrap();
    assert_eq!(detail.job.id, full);
    assert_eq!(detail.job.state, JobState::Queued);
    assert_eq!(detail.batch, None, "a job with no children is no batch");

    assert_eq!(brain.cancel(full).unwrap(), JobState::Cancelled);
    assert_eq!(
        brain.job_detail(full).unwrap().job.state,
        JobState::Cancelled
    );
    let cancelled = JobsRequest {
        states: vec![JobState::Cancelled],
        ..JobsRequest::default()
    };
    assert_eq!(ids(&cancelled), [full]);
    assert_eq!(
        brain.cancel(full).unwrap(),
        JobState::Cancelled,
        "a finished job is left as it is"
    );

    let retried = brain.retry_job(full).unwrap();
    assert_eq!((retried.id, retried.state), (full, JobState::Queued));
    assert_eq!(ids(&cancelled), Vec::<i64>::new());

    // Only a failed or cancelled job is retried: the store's words, a caller's mistake.
    let err = brain.retry_job(import).unwrap_err();
    assert!(matches!(err, BrainError::Record(_)), "{err:?}");
    assert_eq!(err.kind(), "bad_argument", "{err}");
    assert!(err.is_bad_input());
    assert!(
        err.to_string()
            .starts_with(&format!("job #{import}'s state is queued")),
        "{err}"
    );

    // No such job: the store's words for a person, the same kind as the agent's call.
    for err in [
        brain.job_detail(987_654).map(|_| ()).unwrap_err(),
        brain.cancel(987_654).map(|_| ()).unwrap_err(),
        brain.retry_job(987_654).map(|_| ()).unwrap_err(),
    ] {
        assert_eq!(err.kind(), "unknown_job", "{err:?}");
        assert_eq!(err.to_string(), "no job #987654: see `brain jobs list`");
    }
    let agent = brain.job(987_654).unwrap_err();
    assert!(
        matches!(agent, BrainError::UnknownJob(987_654)),
        "{agent:?}"
    );
}

#[test]
fn a_batch_roots_detail_counts_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let brain = common::brain(dir.path(), Config::default(), Workers::Never);
    let (root, children) = brain
        .queue()
        .enqueue_batch(
            brain_sync::jobs::sync_request("full", false),
            vec![brain_sync::jobs::export_request(
                &"note/a".parse().unwrap(),
                None,
            )],
        )
        .unwrap();
    let detail = brain.job_detail(root).unwrap();
    let batch = detail.batch.expect("a root with a child is a batch");
    assert_eq!((batch.queued, batch.running, batch.cancelled), (1, 0, 0));

    brain.cancel(children[0].id()).unwrap();
    let batch = brain.job_detail(root).unwrap().batch.unwrap();
    assert_eq!((batch.queued, batch.cancelled), (0, 1), "{batch:?}");
}

#[test]
fn pausing_holds_directory_jobs_back_and_resuming_runs_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let brain = common::brain(root, Config::default(), common::on_demand());
    sync(&brain);

    assert_eq!(
        brain.pause_sync().unwrap(),
        SyncPause {
            paused: true,
            queued_jobs: 0
        }
    );
    let mut paused = brain.paused_types().unwrap();
    paused.sort();
    assert_eq!(
        paused,
        ["directory-export", "directory-import", "directory-sync"]
    );
    // A sync asked for while paused would wait: refused, saying how to resume.
    let err = brain.start_sync("full", false).unwrap_err();
    assert!(err.to_string().contains("brain sync resume"), "{err}");

    // A write while paused is stored and its export queued, not run.
    let written = brain
        .write(&"note/n".parse().unwrap(), b"# N\n", Expect::Absent)
        .unwrap();
    let export = written.export_job.expect("an export is queued");
    brain.finish_writes(Duration::from_secs(5));
    assert_eq!(brain.job(export).unwrap().state, JobState::Queued);
    assert!(!root.join("n.md").exists(), "written while paused");
    assert_eq!(
        brain.pause_sync().unwrap(),
        SyncPause {
            paused: true,
            queued_jobs: 1
        },
        "pausing again keeps it paused and counts what waits"
    );

    let resumed = brain.resume_sync().unwrap();
    assert!(!resumed.paused);
    assert_eq!(brain.paused_types().unwrap(), Vec::<String>::new());
    let job = brain.queue().wait_finished(export, GENEROUS).unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert_eq!(std::fs::read_to_string(root.join("n.md")).unwrap(), "# N\n");
    assert_eq!(
        brain.resume_sync().unwrap(),
        SyncPause {
            paused: false,
            queued_jobs: 0
        }
    );
    brain.shutdown();
}
