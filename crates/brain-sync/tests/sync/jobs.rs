//! The directory job handlers on a real queue: an import of given paths touches only them; an
//! export that names a note also among the changed ones writes it once, with no conflict.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Arc;
use std::time::Duration;

use brain_core::Config;
use brain_jobs::{EnqueueRequest, EventBus, PoolConfig, Queue, QueueError, Registry, WorkerPool};
use brain_store::Backend;
use brain_store::jobs::JobState;
use brain_store_sqlite::testing;
use serde_json::json;

fn queue_for(root: &std::path::Path) -> (Queue, Arc<dyn Backend>) {
    let store = testing::in_memory().unwrap();
    let mut registry = Registry::new();
    brain_sync::jobs::register(&mut registry, root, &Config::default(), store.clone());
    (
        Queue::new(store.clone(), registry, EventBus::default()),
        store,
    )
}

/// One worker that looks for jobs often.
fn one_worker(queue: &Queue) -> WorkerPool {
    WorkerPool::start(
        queue.clone(),
        PoolConfig {
            workers: 1,
            idle_poll_ms: 10,
            ..PoolConfig::default()
        },
    )
}

#[test]
fn import_of_given_paths_touches_only_them() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.md", "b.md", "c.md"] {
        std::fs::write(dir.path().join(name), format!("# {name}\n")).unwrap();
    }
    let (queue, store) = queue_for(dir.path());
    let pool = one_worker(&queue);
    let id = queue
        .enqueue(EnqueueRequest::new(
            "directory-import",
            json!({"paths": ["a.md", "c.md", "gone.md"]}),
        ))
        .unwrap()
        .id();
    let job = queue.wait_finished(id, Duration::from_secs(20)).unwrap();
    pool.shutdown();
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
    assert_eq!(job.result.unwrap()["imported"], 2);
    let names: Vec<String> = store
        .list(&Default::default())
        .unwrap()
        .into_iter()
        .map(|e| e.entity.id)
        .collect();
    assert_eq!(names, ["a", "c"]);
}

/// A batch's `{"all": true}` export merges with a `brain edit`'s export of one note, which is
/// among the changed notes `all` adds: the note's path was asked for twice, and its second base
/// read as a file deleted from disk (a false `deleted_on_disk` conflict, hostile review F1).
#[test]
fn an_export_naming_a_changed_note_twice_writes_it_once_without_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.md"), "# a\n").unwrap();
    std::fs::write(dir.path().join("b.md"), "# b\n").unwrap();
    let (queue, store) = queue_for(dir.path());
    let pool = one_worker(&queue);
    let run = |t: &str, input: serde_json::Value| {
        let id = queue.enqueue(EnqueueRequest::new(t, input)).unwrap().id();
        let job = queue.wait_finished(id, Duration::from_secs(20)).unwrap();
        assert_eq!(job.state, JobState::Succeeded, "{t}: {:?}", job.error);
        job.result.unwrap()
    };
    run("directory-sync", json!({"mode": "full"}));
    let builder = brain_sync::EntityBuilder {
        mapper: brain_core::PathMapper::new(Config::default().vault.entity_types).unwrap(),
        logseq: false,
        max_file_bytes: Config::default().sync.max_file_bytes,
    };
    for id in ["a", "b"] {
        let text = format!("# {id}\nedited\n");
        let now = brain_core::time::now_ms();
        store
            .put(
                &builder
                    .entity(&format!("{id}.md"), &text, now, now)
                    .unwrap(),
            )
            .unwrap();
    }
    let report = run(
        "directory-export",
        json!({"all": true, "entities": ["note/a"]}),
    );
    pool.shutdown();
    assert_eq!(report["conflicts"], json!([]), "{report}");
    assert_eq!(report["skipped"], json!([]), "{report}");
    assert_eq!(report["exported"], 2, "{report}");
    for id in ["a", "b"] {
        assert_eq!(
            std::fs::read_to_string(dir.path().join(format!("{id}.md"))).unwrap(),
            format!("# {id}\nedited\n")
        );
    }
    assert!(store.conflicts(false).unwrap().is_empty());
}

#[test]
fn bad_directory_inputs_are_refused_at_enqueue() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, _) = queue_for(dir.path());
    for (t, input) in [
        ("directory-import", json!({})),
        ("directory-import", json!({"paths": []})),
        ("directory-import", json!({"paths": ["../escape.md"]})),
        ("directory-import", json!({"paths": ["notes.txt"]})),
        ("directory-export", json!({})),
        ("directory-export", json!({"entities": ["nope"]})),
        ("directory-sync", json!({"mode": "sideways"})),
    ] {
        let e = queue
            .enqueue(EnqueueRequest::new(t, input.clone()))
            .unwrap_err();
        assert!(
            matches!(e, QueueError::InvalidInput { .. }),
            "{t} {input}: {e}"
        );
    }
}
