//! The sync engine against a real SQLite store and real temp folders.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use brain_core::{CancelToken, Config, NoProgress, Phase, ProgressSink};
use brain_store::Backend;
use brain_store_sqlite::testing;
use brain_sync::{ConflictNote, SyncEngine, SyncError, SyncMode, SyncOptions, SyncReport};
use proptest::prelude::*;

#[path = "engine/partial.rs"]
mod partial;

fn sync(root: &Path, store: &dyn Backend, config: &Config) -> SyncReport {
    SyncEngine::new(root, config, store)
        .unwrap()
        .run(&SyncOptions::default(), &NoProgress, &CancelToken::new())
        .unwrap()
}

fn write(root: &Path, rel: &str, content: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

/// The one entity whose file is at `rel`, with its content.
fn entity_at(store: &dyn Backend, rel: &str) -> String {
    let rows: Vec<_> = store
        .list(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|row| row.path == rel)
        .collect();
    assert_eq!(rows.len(), 1, "one entity at {rel}: {rows:?}");
    store.get(&rows[0].entity).unwrap().content()
}

/// Asserts what "keep both" promises for a note changed on both sides, under the default
/// policy: the syncs' reports (`listed`) list the conflict once, the file at `rel` still holds exactly the bytes the
/// file side wrote, the conflict copy it names holds exactly the bytes the store side wrote,
/// each is the entity at its path, and the conflict record keeps both texts.
fn assert_kept_both(
    root: &Path,
    store: &dyn Backend,
    listed: &[ConflictNote],
    rel: &str,
    file_side: &str,
    store_side: &str,
) {
    assert_eq!(listed.len(), 1, "{listed:?}");
    let listed = &listed[0];
    assert_eq!(
        (listed.path.as_str(), listed.kind.as_str()),
        (rel, "both_changed")
    );
    let copy = listed.copy_path.as_deref().expect("a conflict copy");
    assert_ne!(copy, rel);
    assert_eq!(fs::read(root.join(rel)).unwrap(), file_side.as_bytes());
    assert_eq!(fs::read(root.join(copy)).unwrap(), store_side.as_bytes());
    assert_eq!(entity_at(store, rel).as_bytes(), file_side.as_bytes());
    assert_eq!(entity_at(store, copy).as_bytes(), store_side.as_bytes());
    let records = store.conflicts(false).unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(record.kind, brain_store::ConflictKind::BothChanged);
    assert_eq!(record.path, rel);
    assert_eq!(record.copy_path.as_deref(), Some(copy));
    assert_eq!(record.file_content.as_deref(), Some(file_side));
    assert_eq!(record.store_content.as_deref(), Some(store_side));
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Note texts as editors write them: YAML of several shapes, Logseq properties, none; BOM; LF or
/// CRLF; with or without a final newline; unicode.
fn note_text() -> impl Strategy<Value = String> {
    let frontmatter = prop_oneof![
        Just(String::new()),
        Just("---\ntitle: \"Quoted: title\"\ntags:\n  - a\n  - b/c\n---\n".to_string()),
        Just("---\n# a comment\ntitle: Plain\nnested:\n  z: 1\n  a: [x, {k: v}]\ncreated: 2024-02-29\ndraft: true\n---\n".to_string()),
        Just("---\r\ntitle: Windows\r\ntags: [crlf]\r\n---\r\n".to_string()),
        Just("---\n---\n".to_string()),
        Just("title:: Logseq page\ntags:: one, [[two words]]\n".to_string()),
    ];
    let line = "[ -~àéü日本語🚀#*\\[\\]`]{0,40}";
    (
        any::<bool>(),
        frontmatter,
        proptest::collection::vec(line, 0..12),
        prop_oneof![Just("\n"), Just("\r\n")],
        any::<bool>(),
    )
        .prop_map(|(bom, fm, lines, eol, final_eol)| {
            let mut s = String::new();
            if bom {
                s.push('\u{feff}');
            }
            s.push_str(&fm);
            s.push_str("# Heading\n");
            s.push_str(&lines.join(eol));
            if final_eol {
                s.push_str(eol);
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Import a note into one store, copy the entity into another store, export it there: the
    /// exported bytes equal the original file's. Re-syncing the first vault writes nothing.
    #[test]
    fn import_then_export_is_byte_identical(texts in proptest::collection::vec(note_text(), 1..6)) {
        let config = Config::default();
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let store_a = testing::in_memory().unwrap();
        let store_b = testing::in_memory().unwrap();
        for (i, t) in texts.iter().enumerate() {
            write(a.path(), &format!("dir/n{i}.md"), t.as_bytes());
        }
        let r = sync(a.path(), &*store_a, &config);
        prop_assert_eq!(r.imported as usize, texts.len());
        for (i, t) in texts.iter().enumerate() {
            let e = store_a.get(&format!("note/dir/n{i}").parse().unwrap()).unwrap();
            prop_assert_eq!(e.content(), t.clone());
            store_b.put(&e).unwrap();
        }
        let r = sync(b.path(), &*store_b, &config);
        prop_assert_eq!(r.exported as usize, texts.len());
        for (i, t) in texts.iter().enumerate() {
            prop_assert_eq!(fs::read(b.path().join(format!("dir/n{i}.md"))).unwrap(), t.as_bytes());
        }
        let again = sync(a.path(), &*store_a, &config);
        prop_assert!(!again.changed_anything(), "{:?}", again);
        let again_b = sync(b.path(), &*store_b, &config);
        prop_assert!(!again_b.changed_anything(), "{:?}", again_b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// A note changed on both sides since its last sync, to any two different texts: the sync
    /// keeps both byte for byte (the file's text at its path, the store's in the conflict copy,
    /// each the entity at its path, both in the listed conflict), and the next sync finds
    /// nothing more to do.
    #[test]
    fn a_conflict_keeps_both_sides_byte_for_byte(
        base in note_text(),
        file_side in note_text(),
        store_side in note_text(),
    ) {
        prop_assume!(base != file_side && base != store_side && file_side != store_side);
        let config = Config::default();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let store = testing::in_memory().unwrap();
        write(root, "dir/n.md", base.as_bytes());
        sync(root, &*store, &config);

        // The store side: a `brain put` of the whole text.
        let engine = SyncEngine::new(root, &config, &*store).unwrap();
        let now = brain_core::time::now_ms();
        let entity = engine.builder().entity("dir/n.md", &store_side, now, now).unwrap();
        prop_assert_eq!(entity.content(), store_side.clone());
        store.put(&entity).unwrap();
        // The file side: an editor's atomic save (a new file renamed over the note, so the
        // change shows in the file's identity even if size and time happen to match the base).
        write(root, "dir/.n.md.tmp", file_side.as_bytes());
        fs::rename(root.join("dir/.n.md.tmp"), root.join("dir/n.md")).unwrap();

        let r = sync(root, &*store, &config);
        assert_kept_both(root, &*store, &r.conflicts, "dir/n.md", &file_side, &store_side);
        let again = sync(root, &*store, &config);
        prop_assert!(!again.changed_anything(), "{:?}", again);
        assert_kept_both(root, &*store, &r.conflicts, "dir/n.md", &file_side, &store_side);
    }
}

/// Cancels after `n` imported files.
struct CancelAfter {
    n: u64,
    seen: AtomicU64,
    token: CancelToken,
}

impl ProgressSink for CancelAfter {
    fn start_phase(&self, _: Phase, _: Option<u64>) {}
    fn advance(&self, n: u64, item: &str) {
        if !item.is_empty() && self.seen.fetch_add(n, Ordering::SeqCst) + n >= self.n {
            self.token.cancel();
        }
    }
    fn finish_phase(&self) {}
}

#[test]
fn cancelled_import_keeps_its_work_and_the_next_sync_finishes() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..300 {
        write(
            dir.path(),
            &format!("n{i:03}.md"),
            format!("note {i}\n").as_bytes(),
        );
    }
    let mut config = Config::default();
    config.sync.commit_every = 10;
    let store = testing::in_memory().unwrap();
    let token = CancelToken::new();
    let sink = CancelAfter {
        n: 50,
        seen: AtomicU64::new(0),
        token: token.clone(),
    };
    let err = SyncEngine::new(dir.path(), &config, &*store)
        .unwrap()
        .run(&SyncOptions::default(), &sink, &token)
        .unwrap_err();
    let SyncError::Cancelled { report } = err else {
        panic!("expected Cancelled, got {err}");
    };
    assert!(
        report.imported >= 50 && report.imported < 300,
        "{}",
        report.imported
    );
    assert_eq!(store.count_live().unwrap(), report.imported);
    let rest = sync(dir.path(), &*store, &config);
    assert_eq!(rest.imported + report.imported, 300);
    assert_eq!(store.count_live().unwrap(), 300);
}

#[test]
fn one_way_modes_leave_the_other_direction_pending() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::default();
    let store = testing::in_memory().unwrap();
    write(dir.path(), "a.md", b"a\n");
    sync(dir.path(), &*store, &config);
    let mut e = store.get(&"note/a".parse().unwrap()).unwrap();
    e.body = "from store\n".into();
    e.content_hash = brain_core::content_hash(e.content().as_bytes());
    store.put(&e).unwrap();
    write(dir.path(), "b.md", b"b\n");

    let run = |mode| {
        SyncEngine::new(dir.path(), &config, &*store)
            .unwrap()
            .run(
                &SyncOptions {
                    mode,
                    ..SyncOptions::default()
                },
                &NoProgress,
                &CancelToken::new(),
            )
            .unwrap()
    };
    let r = run(SyncMode::ImportOnly);
    assert_eq!((r.imported, r.exported, r.pending), (1, 0, 1));
    assert_eq!(fs::read(dir.path().join("a.md")).unwrap(), b"a\n");
    write(dir.path(), "c.md", b"c\n");
    let r = run(SyncMode::ExportOnly);
    assert_eq!((r.imported, r.exported, r.pending), (0, 1, 1));
    assert_eq!(fs::read(dir.path().join("a.md")).unwrap(), b"from store\n");
    let r = run(SyncMode::Full);
    assert_eq!((r.imported, r.exported, r.pending), (1, 0, 0));
}

#[test]
fn a_file_written_during_export_is_not_overwritten() {
    // The store wants to create x.md, but a file appeared there after the scan: the export must
    // not clobber it. Simulated by creating the file between scan and export via the sink.
    struct CreateOnExport(std::path::PathBuf);
    impl ProgressSink for CreateOnExport {
        fn start_phase(&self, phase: Phase, _: Option<u64>) {
            if phase == Phase::Exporting {
                fs::write(&self.0, b"written by an editor meanwhile\n").unwrap();
            }
        }
        fn advance(&self, _: u64, _: &str) {}
        fn finish_phase(&self) {}
    }
    let dir = tempfile::tempdir().unwrap();
    let config = Config::default();
    let store = testing::in_memory().unwrap();
    write(dir.path(), "seed.md", b"seed\n");
    sync(dir.path(), &*store, &config);
    let mut e = store.get(&"note/seed".parse().unwrap()).unwrap();
    e.entity_ref = "note/x".parse().unwrap();
    e.path = "x.md".into();
    store.put(&e).unwrap();
    let sink = CreateOnExport(dir.path().join("x.md"));
    let r = SyncEngine::new(dir.path(), &config, &*store)
        .unwrap()
        .run(&SyncOptions::default(), &sink, &CancelToken::new())
        .unwrap();
    assert_eq!(r.exported, 0);
    assert_eq!(
        fs::read(dir.path().join("x.md")).unwrap(),
        b"written by an editor meanwhile\n"
    );
    // The next sync sees both sides and keeps both.
    let r = sync(dir.path(), &*store, &config);
    assert_kept_both(
        dir.path(),
        &*store,
        &r.conflicts,
        "x.md",
        "written by an editor meanwhile\n",
        "seed\n",
    );
}

#[test]
fn import_only_leaves_conflicts_for_a_full_sync_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::default();
    let store = testing::in_memory().unwrap();
    write(dir.path(), "a.md", b"base\n");
    sync(dir.path(), &*store, &config);
    let mut e = store.get(&"note/a".parse().unwrap()).unwrap();
    e.body = "store side\n".into();
    e.content_hash = brain_core::content_hash(e.content().as_bytes());
    store.put(&e).unwrap();
    write(dir.path(), "a.md", b"file side\n");
    let r = SyncEngine::new(dir.path(), &config, &*store)
        .unwrap()
        .run(
            &SyncOptions {
                mode: SyncMode::ImportOnly,
                ..SyncOptions::default()
            },
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
    assert_eq!((r.pending, r.conflicts.len()), (1, 0), "{r:?}");
    assert_eq!(names(dir.path()), ["a.md"], "no conflict copy written");
    assert_eq!(fs::read(dir.path().join("a.md")).unwrap(), b"file side\n");
    assert_eq!(entity_at(&*store, "a.md"), "store side\n");
    assert!(store.conflicts(false).unwrap().is_empty());
    let full = sync(dir.path(), &*store, &config);
    assert_kept_both(
        dir.path(),
        &*store,
        &full.conflicts,
        "a.md",
        "file side\n",
        "store side\n",
    );
}

// ---- Work a job leaves undone must not wait for an event that never comes (the soak found
// both: an entity kept without its file, a file that never matched its entity). ----

mod settled {
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
        store.put_and_enqueue(&entity, None, &job, now).unwrap();
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
}

// ---- Issue 13: a conflict copy is written once however often a sync is killed, every copy on
// disk is listed, and a named pipe is never opened, written or taken for an edit. ----

mod issue13 {
    use std::fs;
    use std::os::unix::fs::FileTypeExt;
    use std::path::Path;
    use std::process::Command;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    use brain_core::{CancelToken, Config, NoProgress, Phase, ProgressSink};
    use brain_store::Backend;
    use brain_store_sqlite::testing;
    use brain_sync::{SyncEngine, SyncMode, SyncOptions, SyncReport};

    use super::{assert_kept_both, entity_at, names, sync, write};

    /// Set in the child process that runs the sync to be killed, to its vault folder.
    const CRASH_VAULT: &str = "BRAIN_SYNC_TEST_CRASH_VAULT";

    /// Kills its own process (abort: no destructor, no commit runs, as with `kill -9`) once
    /// the sync has handled `dir/n.md` (its conflict copy is on disk) and before anything
    /// after it: the next file, or the end of the import, which commits.
    struct AbortAfterNote {
        seen: AtomicBool,
    }

    impl ProgressSink for AbortAfterNote {
        fn start_phase(&self, _: Phase, _: Option<u64>) {}
        fn advance(&self, _: u64, item: &str) {
            if self.seen.load(Ordering::SeqCst) {
                std::process::abort();
            }
            if item == "dir/n.md" {
                self.seen.store(true, Ordering::SeqCst);
            }
        }
        fn finish_phase(&self) {
            if self.seen.load(Ordering::SeqCst) {
                std::process::abort();
            }
        }
    }

    /// The store a crashing child and its parent share, and the config whose batches are
    /// large enough that nothing of the run commits before the crash.
    fn open(root: &Path) -> (Arc<dyn Backend>, Config) {
        let mut config = Config::default();
        config.sync.commit_every = 100_000;
        (testing::at(&root.join("brain.db")).unwrap(), config)
    }

    fn conflict_copies(dir: &Path) -> Vec<String> {
        names(dir)
            .into_iter()
            .filter(|n| n.starts_with("n.conflict-"))
            .collect()
    }

    /// Issue 13 item 2: a sync killed after writing a conflict copy and before recording the
    /// conflict, three times over, then a sync that finishes: exactly one copy, byte for byte
    /// the store's side, a note of its own, and named by the one conflict record.
    #[test]
    fn issue13_a_sync_killed_after_writing_a_conflict_copy_leaves_one_listed_copy() {
        if let Some(vault) = std::env::var_os(CRASH_VAULT) {
            let root = Path::new(&vault).join("vault");
            let (store, config) = open(Path::new(&vault));
            let _ = SyncEngine::new(&root, &config, &*store).unwrap().run(
                &SyncOptions::default(),
                &AbortAfterNote {
                    seen: AtomicBool::new(false),
                },
                &CancelToken::new(),
            );
            // Not killed: the parent sees a clean exit and fails.
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("vault");
        let (file_side, store_side) = ("# N\n\nedited in a file\n", "# N\n\nput by an agent\n");
        {
            let (store, config) = open(dir.path());
            write(&root, "dir/n.md", b"# N\n\nbase\n");
            sync(&root, &*store, &config);
            // Other files changed too, so the sync has work before and after the note.
            for i in 0..40 {
                write(
                    &root,
                    &format!("dir/other-{i:02}.md"),
                    format!("other {i}\n").as_bytes(),
                );
            }
            let engine = SyncEngine::new(&root, &config, &*store).unwrap();
            let now = brain_core::time::now_ms();
            store
                .put(
                    &engine
                        .builder()
                        .entity("dir/n.md", store_side, now, now)
                        .unwrap(),
                )
                .unwrap();
            write(&root, "dir/.n.tmp", file_side.as_bytes());
            fs::rename(root.join("dir/.n.tmp"), root.join("dir/n.md")).unwrap();
        }
        for attempt in 1..=3 {
            let out = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "issue13::issue13_a_sync_killed_after_writing_a_conflict_copy_leaves_one_listed_copy",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CRASH_VAULT, dir.path())
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                None,
                "attempt {attempt}: the sync was not killed where it should be: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let copies = conflict_copies(&root.join("dir"));
            assert_eq!(copies.len(), 1, "attempt {attempt}: {copies:?}");
        }
        let (store, config) = open(dir.path());
        assert!(
            store.conflicts(true).unwrap().is_empty(),
            "the killed runs recorded nothing"
        );
        let copies = conflict_copies(&root.join("dir"));

        let r = sync(&root, &*store, &config);
        assert_eq!(
            conflict_copies(&root.join("dir")),
            copies,
            "no second copy: {r:?}"
        );
        assert_eq!(
            r.conflicts[0].copy_path.as_deref(),
            Some(format!("dir/{}", copies[0]).as_str())
        );
        assert_kept_both(
            &root,
            &*store,
            &r.conflicts,
            "dir/n.md",
            file_side,
            store_side,
        );
        let again = sync(&root, &*store, &config);
        assert!(!again.changed_anything(), "{again:?}");
        assert_kept_both(
            &root,
            &*store,
            &r.conflicts,
            "dir/n.md",
            file_side,
            store_side,
        );
        assert_eq!(conflict_copies(&root.join("dir")), copies);
    }

    /// Issue 13 item 2: a new conflict copy on disk that no conflict names (its sync was
    /// killed and the note changed again before the next one) is listed by the next full
    /// sync, once, in the transaction that imports it; a copy a resolved record names stays
    /// resolved; a copy that is a note already (pulled through git from the device that
    /// listed it) and a name a person chose get no record.
    #[test]
    fn issue13_every_conflict_copy_on_disk_is_listed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let config = Config::default();
        let store = testing::in_memory().unwrap();
        write(root, "dir/n.md", b"now\n");
        write(
            root,
            "dir/n.conflict-20260101-000000.md",
            b"a version left behind\n",
        );
        write(root, "dir/n.conflict-notes.md", b"a name a person chose\n");
        write(
            root,
            "dir/n.conflict-20260102-000000.md",
            b"pulled from elsewhere\n",
        );
        let pulled = SyncEngine::new(root, &config, &*store)
            .unwrap()
            .run(
                &SyncOptions {
                    only_paths: Some(vec!["dir/n.conflict-20260102-000000.md".into()]),
                    ..SyncOptions::default()
                },
                &NoProgress,
                &CancelToken::new(),
            )
            .unwrap();
        assert_eq!(
            (pulled.imported, pulled.conflicts.len()),
            (1, 0),
            "{pulled:?}"
        );

        let r = sync(root, &*store, &config);
        assert_eq!(r.conflicts.len(), 1, "{r:?}");
        let records = store.conflicts(false).unwrap();
        assert_eq!(records.len(), 1, "{records:?}");
        let record = &records[0];
        assert_eq!(record.path, "dir/n.md");
        assert_eq!(
            record.copy_path.as_deref(),
            Some("dir/n.conflict-20260101-000000.md")
        );
        assert_eq!(
            record.file_content.as_deref(),
            Some("a version left behind\n")
        );
        assert!(
            record.detail.contains("brain conflicts resolve"),
            "{}",
            record.detail
        );
        assert_eq!(
            entity_at(&*store, "dir/n.conflict-20260101-000000.md"),
            "a version left behind\n"
        );
        assert_eq!(
            entity_at(&*store, "dir/n.conflict-notes.md"),
            "a name a person chose\n"
        );

        let again = sync(root, &*store, &config);
        assert!(!again.changed_anything(), "{again:?}");
        store
            .resolve_conflict(record.id, brain_core::time::now_ms())
            .unwrap();
        let after = sync(root, &*store, &config);
        assert!(!after.changed_anything(), "{after:?}");
        assert_eq!(store.conflicts(true).unwrap().len(), 1);
        assert!(store.conflicts(false).unwrap().is_empty());
    }

    fn mkfifo(path: &Path) {
        let st = Command::new("mkfifo").arg(path).status().unwrap();
        assert!(st.success(), "mkfifo {}", path.display());
    }

    fn is_fifo(path: &Path) -> bool {
        fs::symlink_metadata(path).unwrap().file_type().is_fifo()
    }

    /// Runs a sync on its own thread and waits for it with a deadline: opening a named pipe
    /// blocks forever, which must fail the test rather than hang it.
    fn sync_within_deadline(
        root: &Path,
        store: &'static dyn Backend,
        opts: SyncOptions,
        sink: impl ProgressSink + 'static,
    ) -> SyncReport {
        let (tx, rx) = mpsc::channel();
        let root = root.to_path_buf();
        std::thread::spawn(move || {
            let config = Config::default();
            let r = SyncEngine::new(&root, &config, store).unwrap().run(
                &opts,
                &sink,
                &CancelToken::new(),
            );
            let _ = tx.send(r);
        });
        rx.recv_timeout(Duration::from_secs(120))
            .expect("the sync hung (a named pipe was opened?)")
            .unwrap()
    }

    fn leaked_store() -> &'static dyn Backend {
        let store: &'static Arc<dyn Backend> = Box::leak(Box::new(testing::in_memory().unwrap()));
        &**store
    }

    fn reason_of<'r>(r: &'r SyncReport, path: &str) -> &'r str {
        let found: Vec<&str> = r
            .skipped
            .iter()
            .filter(|s| s.path == path)
            .map(|s| s.reason.as_str())
            .collect();
        assert_eq!(found.len(), 1, "{path} listed once as skipped: {r:?}");
        found[0]
    }

    /// Issue 13 item 3: a named pipe called `*.md` is listed as skipped, with what it is, by
    /// a full and a partial sync; it is never opened (the sync finishes), never written into
    /// or replaced, never called "changed during the sync"; a note whose file it replaced is
    /// not deleted, and a note changed in the store is left waiting, not reported as a race.
    #[test]
    fn issue13_a_named_pipe_is_skipped_never_opened_and_never_changed_during_the_sync() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let store = leaked_store();
        write(root, "kept.md", b"# Kept\n");
        write(root, "replaced.md", b"# Replaced\n");
        let first = sync_within_deadline(root, store, SyncOptions::default(), NoProgress);
        assert_eq!(first.imported, 2);
        mkfifo(&root.join("pipe.md"));
        fs::remove_file(root.join("replaced.md")).unwrap();
        mkfifo(&root.join("replaced.md"));
        // A put to the pipe's path, and a put to the replaced note: both want an export.
        let config = Config::default();
        let engine = SyncEngine::new(root, &config, store).unwrap();
        let now = brain_core::time::now_ms();
        for (rel, text) in [
            ("pipe.md", "# Pipe\n"),
            ("replaced.md", "# Replaced again\n"),
        ] {
            store
                .put(&engine.builder().entity(rel, text, now, now).unwrap())
                .unwrap();
        }

        for opts in [
            SyncOptions::default(),
            SyncOptions {
                only_paths: Some(vec!["pipe.md".into(), "replaced.md".into()]),
                ..SyncOptions::default()
            },
            SyncOptions {
                mode: SyncMode::Outbox,
                only_paths: Some(vec!["pipe.md".into(), "replaced.md".into()]),
                ..SyncOptions::default()
            },
        ] {
            let r = sync_within_deadline(root, store, opts.clone(), NoProgress);
            for path in ["pipe.md", "replaced.md"] {
                let reason = reason_of(&r, path);
                assert!(
                    reason.contains("named pipe (FIFO), not a regular file"),
                    "{opts:?}: {reason}"
                );
                assert!(is_fifo(&root.join(path)), "{path} is still the pipe");
            }
            assert!(
                !r.skipped
                    .iter()
                    .any(|s| s.reason.contains("changed on disk during the sync")),
                "{opts:?}: {r:?}"
            );
            assert_eq!(
                (r.deleted, r.exported, r.conflicts.len()),
                (0, 0, 0),
                "{opts:?}: {r:?}"
            );
        }
        let replaced = store.get(&"note/replaced".parse().unwrap()).unwrap();
        assert_eq!(
            replaced.content(),
            "# Replaced again\n",
            "not deleted, still waiting"
        );
        assert!(store.get(&"note/pipe".parse().unwrap()).is_ok());
        assert_eq!(fs::read(root.join("kept.md")).unwrap(), b"# Kept\n");

        // The pipe goes: the waiting notes are written as usual.
        fs::remove_file(root.join("pipe.md")).unwrap();
        fs::remove_file(root.join("replaced.md")).unwrap();
        let r = sync_within_deadline(root, store, SyncOptions::default(), NoProgress);
        assert_eq!(r.exported, 2, "{r:?}");
        assert_eq!(fs::read(root.join("pipe.md")).unwrap(), b"# Pipe\n");
    }

    /// Issue 13 item 3: a named pipe made at a note's path after the scan, just before the
    /// export writes the note, is not written into or replaced, and the export says what is
    /// in the way rather than "changed during the sync".
    #[test]
    fn issue13_an_export_never_writes_into_a_named_pipe() {
        struct PipeOnExport(std::path::PathBuf);
        impl ProgressSink for PipeOnExport {
            fn start_phase(&self, phase: Phase, _: Option<u64>) {
                if phase == Phase::Exporting {
                    mkfifo(&self.0);
                }
            }
            fn advance(&self, _: u64, _: &str) {}
            fn finish_phase(&self) {}
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let store = leaked_store();
        let config = Config::default();
        let engine = SyncEngine::new(root, &config, store).unwrap();
        let now = brain_core::time::now_ms();
        store
            .put(
                &engine
                    .builder()
                    .entity("new.md", "# New\n", now, now)
                    .unwrap(),
            )
            .unwrap();
        let r = sync_within_deadline(
            root,
            store,
            SyncOptions::default(),
            PipeOnExport(root.join("new.md")),
        );
        let reason = reason_of(&r, "new.md");
        assert!(
            reason.contains("named pipe (FIFO), not a regular file"),
            "{reason}"
        );
        assert!(reason.contains("remove or rename it"), "{reason}");
        assert!(!reason.contains("changed on disk"), "{reason}");
        assert!(is_fifo(&root.join("new.md")));
        assert_eq!((r.exported, r.pending), (0, 1), "{r:?}");
    }

    /// Issue 13 item 3: what the facade asks before storing a note: a path holding a file
    /// sync will never read (over `sync.max_file_bytes`, a 2 GB sparse file, a named pipe) cannot
    /// take a note, and the reason says which file, why, and what to do.
    #[test]
    fn issue13_a_path_holding_a_file_sync_never_reads_is_unwritable() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let config = Config::default();
        let store = testing::in_memory().unwrap();
        fs::write(root.join("big50.md"), vec![b'x'; 50 * 1024 * 1024]).unwrap();
        fs::File::create(root.join("sparse.md"))
            .unwrap()
            .set_len(2 * 1024 * 1024 * 1024)
            .unwrap();
        mkfifo(&root.join("pipe.md"));
        write(root, "small.md", b"# Small\n");
        let engine = SyncEngine::new(root, &config, &*store).unwrap();
        for (rel, says) in [
            (
                "big50.md",
                "52428800 bytes, over the limit of 5242880 bytes (sync.max_file_bytes)",
            ),
            ("sparse.md", "2147483648 bytes, over the limit"),
            ("pipe.md", "named pipe (FIFO), not a regular file"),
        ] {
            let reason = engine
                .unwritable(rel)
                .unwrap_or_else(|| panic!("{rel} writable"));
            assert!(
                reason.contains(rel) && reason.contains(says),
                "{rel}: {reason}"
            );
            assert!(
                reason.contains("remove or rename") || reason.contains("move or shrink"),
                "{reason}"
            );
        }
        assert_eq!(engine.unwritable("small.md"), None);
        assert_eq!(engine.unwritable("absent.md"), None);
        assert!(is_fifo(&root.join("pipe.md")));
    }
}
