//! Work a job leaves undone must not wait for an event that never comes (the soak found both:
//! an entity kept without its file, a file that never matched its entity).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use brain_core::time::now_ms;
use brain_core::{CancelToken, Config, EntityRef, Phase, ProgressSink};
use brain_jobs::{EnqueueRequest, EventBus, PoolConfig, Queue, Registry, WorkerPool};
use brain_store::Backend;
use brain_store::jobs::JobState;
use brain_store_sqlite::testing;
use brain_sync::jobs::DIRECTORY_IMPORT;
use brain_sync::{SyncEngine, SyncOptions, SyncReport};
use serde_json::json;

use super::{assert_kept_both, write};

fn queue_for(root: &Path, store: &Arc<dyn Backend>) -> Queue {
    let mut registry = Registry::new();
    brain_sync::jobs::register(&mut registry, root, &Config::default(), store.clone());
    Queue::new(store.clone(), registry, EventBus::default())
}

/// A `brain put` of `text` at `rel`: the entity and its export in one transaction.
fn put(root: &Path, store: &dyn Backend, queue: &Queue, rel: &str, text: &str) {
    let config = Config::default();
    let engine = SyncEngine::new(root, &config, store).unwrap();
    let now = now_ms();
    let entity = engine.builder().entity(rel, text, now, now).unwrap();
    let job = queue
        .prepare(brain_sync::jobs::export_request(&entity.entity_ref, None))
        .unwrap();
    store
        .put_and_enqueue(&entity, None, &job, now, &brain_store::ChangeWhy::by("cli"))
        .unwrap();
}

/// Writes `rel` and runs the import a watcher would queue for it.
fn imported(root: &Path, queue: &Queue, rel: &str, text: &[u8]) {
    write(root, rel, text);
    queue
        .enqueue(EnqueueRequest::new(
            DIRECTORY_IMPORT,
            json!({"paths": [rel]}),
        ))
        .unwrap();
    drain(queue);
}

/// Runs every queued job to its end, as the daemon's workers would.
fn drain(queue: &Queue) {
    let pool = WorkerPool::start(
        queue.clone(),
        PoolConfig {
            workers: 1,
            idle_poll_ms: 10,
            ..PoolConfig::default()
        },
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let jobs = queue.store().list_jobs(&Default::default()).unwrap();
        if jobs
            .iter()
            .all(|j| !matches!(j.state, JobState::Queued | JobState::Running))
        {
            for j in &jobs {
                assert_eq!(j.state, JobState::Succeeded, "{j:?}");
            }
            break;
        }
        assert!(std::time::Instant::now() < deadline, "jobs never finished");
        std::thread::sleep(Duration::from_millis(10));
    }
    pool.shutdown();
}

/// Every note file outside dot folders, with its text.
fn files(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if name.starts_with('.') {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            files(root, &e.path(), out);
        } else if name.ends_with(".md") {
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            out.insert(rel, std::fs::read_to_string(e.path()).unwrap());
        }
    }
}

/// Every file equals its entity, every live entity has its file and nothing is dirty;
/// returns the files.
fn assert_in_step(root: &Path, store: &dyn Backend) -> BTreeMap<String, String> {
    let mut on_disk = BTreeMap::new();
    files(root, root, &mut on_disk);
    for (rel, text) in &on_disk {
        let r: EntityRef = format!("note/{}", rel.trim_end_matches(".md"))
            .parse()
            .unwrap();
        let e = store
            .get(&r)
            .unwrap_or_else(|e| panic!("{rel} has no entity: {e}"));
        assert_eq!(&e.content(), text, "{rel}: file and entity differ");
    }
    for row in store.list(&Default::default()).unwrap() {
        assert!(
            on_disk.contains_key(&row.path),
            "{} has no file; files: {on_disk:?}",
            row.entity
        );
    }
    let dirty = store.sync_state().unwrap().dirty;
    assert!(dirty.is_empty(), "left dirty: {dirty:?}");
    on_disk
}

/// An import whose file read is followed by a metadata-only change (a second hard link
/// removed, a chmod) leaves a base whose ctime is stale, and no event follows: the file
/// did not change. A later `brain put` must still reach the file; the export cannot leave
/// it pending on an import that will never come.
#[test]
fn an_export_is_not_left_pending_by_a_file_whose_ctime_alone_changed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = testing::in_memory().unwrap();
    let queue = queue_for(root, &store);
    imported(root, &queue, "a.md", b"# A\n\nbase\n");
    // The soak's writer: hard link, then unlink the other name. ctime moves, nothing else.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::hard_link(root.join("a.md"), root.join(".stage")).unwrap();
    std::fs::remove_file(root.join(".stage")).unwrap();

    put(root, &*store, &queue, "a.md", "# A\n\nfrom an agent\n");
    drain(&queue);
    let files = assert_in_step(root, &*store);
    assert_eq!(files["a.md"], "# A\n\nfrom an agent\n");
}

/// Puts `text` at `rel` when the import reads its first file: a `brain put` from another
/// process landing between the import's plan and its commit.
struct PutDuringImport<'a> {
    root: &'a Path,
    store: &'a dyn Backend,
    queue: &'a Queue,
    rel: &'a str,
    text: &'a str,
    importing: std::sync::atomic::AtomicBool,
    done: std::sync::atomic::AtomicBool,
}

impl ProgressSink for PutDuringImport<'_> {
    fn start_phase(&self, phase: Phase, _: Option<u64>) {
        self.importing.store(
            phase == Phase::Importing,
            std::sync::atomic::Ordering::SeqCst,
        );
    }
    fn advance(&self, _: u64, _: &str) {
        if self.importing.load(std::sync::atomic::Ordering::SeqCst)
            && !self.done.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            put(self.root, self.store, self.queue, self.rel, self.text);
        }
    }
    fn finish_phase(&self) {}
}

/// `a.md` is renamed to `b.md` while an agent creates `note/b`: the import's rename finds
/// its target changed and must not overwrite it, yet `note/a` must not outlive its file,
/// and both the moved file's text and the agent's must survive.
#[test]
fn a_rename_onto_a_note_created_meanwhile_keeps_both_and_leaves_no_orphan() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = testing::in_memory().unwrap();
    let queue = queue_for(root, &store);
    imported(root, &queue, "a.md", b"# A\n\nmoved text\n");
    std::fs::rename(root.join("a.md"), root.join("b.md")).unwrap();

    // The watcher's import of both names, with the agent's put landing during it.
    let config = Config::default();
    let sink = PutDuringImport {
        root,
        store: &*store,
        queue: &queue,
        rel: "b.md",
        text: "# B\n\nfrom an agent\n",
        importing: Default::default(),
        done: Default::default(),
    };
    let report = SyncEngine::new(root, &config, store.as_ref())
        .unwrap()
        .run(
            &SyncOptions {
                only_paths: Some(vec!["a.md".into(), "b.md".into()]),
                ..SyncOptions::default()
            },
            &sink,
            &CancelToken::new(),
        )
        .unwrap();
    assert!(sink.done.load(std::sync::atomic::Ordering::SeqCst));
    // Then the put's export, and nothing else: no event is coming.
    drain(&queue);

    let files = assert_in_step(root, &*store);
    assert_eq!(files.len(), 2, "the note and its conflict copy: {files:?}");
    // The moved file stays where it was moved to; the agent's text is in the copy. The
    // import or the export job that followed it met the conflict, and lists it.
    let mut listed = report.conflicts.clone();
    for job in store.list_jobs(&Default::default()).unwrap() {
        let result: SyncReport = serde_json::from_value(job.result.unwrap()).unwrap();
        listed.extend(result.conflicts);
    }
    assert_kept_both(
        root,
        &*store,
        &listed,
        "b.md",
        "# A\n\nmoved text\n",
        "# B\n\nfrom an agent\n",
    );
}
