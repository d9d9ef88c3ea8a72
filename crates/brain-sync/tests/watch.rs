//! The watcher against a real temp vault, real file events, a real SQLite store and a real
//! queue with no workers: the jobs it enqueues stay queued, so each test reads them back.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use brain_core::time::now_ms;
use brain_core::{CancelToken, Config, NoProgress, WatchMode};
use brain_jobs::{EnqueueRequest, EventBus, Queue, Registry};
use brain_store::jobs::{Job, JobFilter, Outcome};
use brain_store::{JobStore, SqliteStore, Store};
use brain_sync::watch::WatcherMode;
use brain_sync::{SyncEngine, SyncOptions, VaultWatcher, WatchSettings, WatcherStatus};
use serde_json::json;

/// The product's default window. A shorter one would let a stall of the writing test thread on
/// a loaded machine split one burst into two flushes, and the tests count flushes exactly.
const DEBOUNCE: Duration = Duration::from_millis(500);
/// Long enough for any event to arrive on a loaded machine; tests wait for a condition, not for
/// this.
const DEADLINE: Duration = Duration::from_secs(15);

struct Vault {
    _dir: tempfile::TempDir,
    _db_dir: Option<tempfile::TempDir>,
    root: PathBuf,
    config: Config,
    store: Arc<SqliteStore>,
    queue: Queue,
}

/// A vault with its database in `.brain/` (so the watcher sees the database change).
fn vault() -> Vault {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    fs::create_dir_all(root.join(".brain")).unwrap();
    let store = Arc::new(SqliteStore::open(&root.join(".brain/brain.db")).unwrap());
    finish_vault(dir, None, root, store)
}

/// A vault whose database lives elsewhere (for tests that move the vault folder).
fn vault_with_outside_db() -> Vault {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vault");
    fs::create_dir(&root).unwrap();
    let root = root.canonicalize().unwrap();
    let store = Arc::new(SqliteStore::open(&db_dir.path().join("brain.db")).unwrap());
    finish_vault(dir, Some(db_dir), root, store)
}

fn finish_vault(
    dir: tempfile::TempDir,
    db_dir: Option<tempfile::TempDir>,
    root: PathBuf,
    store: Arc<SqliteStore>,
) -> Vault {
    let config = Config::default();
    let mut registry = Registry::new();
    brain_sync::jobs::register(&mut registry, &root, &config, store.clone());
    let queue = Queue::new(store.clone(), registry, EventBus::default());
    Vault {
        _dir: dir,
        _db_dir: db_dir,
        root,
        config,
        store,
        queue,
    }
}

impl Vault {
    fn write(&self, rel: &str, content: &str) {
        let p = self.root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    /// A whole sync in this thread, so the files written so far have bases.
    fn sync(&self) {
        SyncEngine::new(&self.root, &self.config, self.store.as_ref())
            .unwrap()
            .run(&SyncOptions::default(), &NoProgress, &CancelToken::new())
            .unwrap();
    }

    fn settings(&self) -> WatchSettings {
        let mut s = WatchSettings::from_config(&self.root, &self.config);
        s.debounce = DEBOUNCE;
        s.poll_interval = Duration::from_millis(100);
        s.verify_interval = None;
        s
    }

    fn watch(&self, settings: WatchSettings) -> VaultWatcher {
        VaultWatcher::start(settings, self.store.clone(), self.queue.clone()).unwrap()
    }

    /// Every job, oldest first.
    fn jobs(&self) -> Vec<Job> {
        let mut jobs = self.store.list_jobs(&JobFilter::default()).unwrap();
        jobs.reverse();
        jobs
    }

    /// Waits until there are `n` jobs; returns them.
    fn wait_for_jobs(&self, n: usize, w: &VaultWatcher) -> Vec<Job> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let jobs = self.jobs();
            if jobs.len() >= n {
                return jobs;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {n} jobs, have {jobs:?}; watcher: {:?}",
                w.status()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Checks that no job beyond the first `n` arrives for two debounce windows.
    fn assert_no_more_jobs(&self, n: usize) {
        let until = Instant::now() + DEBOUNCE * 2;
        while Instant::now() < until {
            let jobs = self.jobs();
            assert!(jobs.len() <= n, "expected {n} jobs, got {jobs:#?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Waits until the watcher's status satisfies `cond`.
fn wait_status(w: &VaultWatcher, what: &str, cond: impl Fn(&WatcherStatus) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let st = w.status();
        if cond(&st) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "waited for {what}; watcher: {st:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn import_paths(job: &Job) -> Vec<String> {
    assert_eq!(job.job_type, "directory-import", "{job:?}");
    assert_eq!(job.dedupe_key.as_deref(), Some("directory-import"));
    let mut paths: Vec<String> = job.input["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths
}

fn assert_rescan(job: &Job) {
    assert_eq!(job.job_type, "directory-sync", "{job:?}");
    assert_eq!(
        job.input,
        json!({"mode": "full", "allow_mass_delete": false})
    );
    assert_eq!(job.dedupe_key.as_deref(), Some("directory-sync:full:false"));
}

/// Asserts exactly one import job holding `expected`, and that nothing more follows.
fn expect_one_import(v: &Vault, w: &VaultWatcher, expected: &[&str]) {
    let jobs = v.wait_for_jobs(1, w);
    assert_eq!(import_paths(&jobs[0]), expected);
    v.assert_no_more_jobs(1);
    let st = w.status();
    assert_eq!((st.imports_enqueued, st.rescans_enqueued), (1, 0), "{st:?}");
    assert_eq!(st.mode, WatcherMode::Native);
}

#[test]
fn saving_in_place_queues_one_import() {
    let v = vault();
    v.write("a.md", "# A\n");
    v.write("b.md", "# B\n");
    v.sync();
    let w = v.watch(v.settings());
    v.write("a.md", "# A\n\nedited\n");
    expect_one_import(&v, &w, &["a.md"]);
    assert!(w.status().last_flush_ms.is_some());
    w.stop();
}

#[test]
fn saving_through_a_temp_file_and_rename_queues_the_note_only() {
    let v = vault();
    v.write("a.md", "# A\n");
    v.sync();
    let w = v.watch(v.settings());
    // VS Code / Obsidian style: write a sibling, rename it over the note; vim keeps a dot swap.
    v.write(".a.md.swp", "swap");
    v.write("a.md.tmp", "# A\n\nsaved atomically\n");
    fs::rename(v.root.join("a.md.tmp"), v.root.join("a.md")).unwrap();
    expect_one_import(&v, &w, &["a.md"]);
}

#[test]
fn delete_then_create_queues_one_import() {
    let v = vault();
    v.write("a.md", "# A\n");
    v.sync();
    let w = v.watch(v.settings());
    fs::remove_file(v.root.join("a.md")).unwrap();
    v.write("a.md", "# A again\n");
    expect_one_import(&v, &w, &["a.md"]);
}

#[test]
fn a_file_written_in_chunks_is_imported_once_after_it_is_stable() {
    let v = vault();
    let w = v.watch(v.settings());
    let mut f = fs::File::create(v.root.join("big.md")).unwrap();
    let mut last_write_ms = 0;
    for i in 0..5 {
        if i > 0 {
            // The writer's pace (shorter than the debounce window), not a wait for the watcher.
            std::thread::sleep(Duration::from_millis(50));
        }
        writeln!(f, "chunk {i} {}", "x".repeat(1000)).unwrap();
        f.flush().unwrap();
        last_write_ms = now_ms();
    }
    drop(f);
    expect_one_import(&v, &w, &["big.md"]);
    let job = &v.jobs()[0];
    // Queued a whole window after the last chunk, not after the first.
    assert!(
        job.created_ms >= last_write_ms + DEBOUNCE.as_millis() as i64 - 15,
        "queued at {} for a last write at {last_write_ms}",
        job.created_ms
    );
}

#[test]
fn a_burst_of_a_thousand_files_becomes_one_job() {
    let v = vault();
    fs::create_dir(v.root.join("inbox")).unwrap();
    let w = v.watch(v.settings());
    let mut expected: Vec<String> = (0..1000).map(|i| format!("inbox/n{i:04}.md")).collect();
    for p in &expected {
        v.write(p, "# note\n");
    }
    let jobs = v.wait_for_jobs(1, &w);
    expected.sort();
    assert_eq!(import_paths(&jobs[0]), expected);
    v.assert_no_more_jobs(1);
    let st = w.status();
    assert_eq!((st.imports_enqueued, st.rescans_enqueued), (1, 0), "{st:?}");
    assert_eq!(st.pending_paths, 0);
}

#[test]
fn renaming_a_note_queues_both_paths() {
    let v = vault();
    v.write("old name.md", "# Note\n");
    v.sync();
    let w = v.watch(v.settings());
    fs::rename(v.root.join("old name.md"), v.root.join("new name.md")).unwrap();
    expect_one_import(&v, &w, &["new name.md", "old name.md"]);
}

#[test]
fn ignored_paths_queue_nothing_and_invalid_ids_are_left_out() {
    let v = vault();
    v.write(".brainignore", "drafts/\n");
    v.write("drafts/keep.md", "# draft\n");
    v.write(".obsidian/app.json", "{}");
    let w = v.watch(v.settings());
    v.write(".brain/notes.md", "# ours\n");
    v.write(".obsidian/workspace.json", "{}");
    v.write(".obsidian/plugin.md", "# plugin\n");
    v.write("notes.txt", "not a note");
    v.write("drafts/d.md", "# draft\n");
    v.assert_no_more_jobs(0);
    // Ignored paths do not even count as events (the status would change on every commit of
    // the database otherwise).
    assert_eq!(w.status().events_seen, 0);
    assert_eq!(w.status().pending_paths, 0);
    // The watcher is alive: a real note goes through, without a name the store would refuse.
    v.write("back\\slash.md", "# refused id\n");
    v.write("ok.md", "# ok\n");
    expect_one_import(&v, &w, &["ok.md"]);
}

#[test]
fn a_folder_copied_in_queues_one_rescan() {
    let v = vault();
    let w = v.watch(v.settings());
    fs::create_dir(v.root.join("copied")).unwrap();
    for i in 0..20 {
        v.write(&format!("copied/n{i}.md"), "# copied\n");
    }
    let jobs = v.wait_for_jobs(1, &w);
    assert_rescan(&jobs[0]);
    v.assert_no_more_jobs(1);
    let st = w.status();
    assert_eq!((st.imports_enqueued, st.rescans_enqueued), (0, 1), "{st:?}");
}

#[test]
fn a_deleted_folder_holding_notes_queues_one_rescan() {
    let v = vault();
    v.write("gone/a.md", "# a\n");
    v.write("gone/b.md", "# b\n");
    v.write("stays.md", "# stays\n");
    v.sync();
    let w = v.watch(v.settings());
    fs::remove_dir_all(v.root.join("gone")).unwrap();
    let jobs = v.wait_for_jobs(1, &w);
    assert_rescan(&jobs[0]);
    v.assert_no_more_jobs(1);
}

#[test]
fn our_own_writes_are_echoes() {
    let v = vault();
    v.write("a.md", "# A\n");
    v.write("b.md", "# B\n");
    v.sync();
    let w = v.watch(v.settings());
    // An event with no change: opened for writing, nothing written.
    drop(
        fs::OpenOptions::new()
            .append(true)
            .open(v.root.join("a.md"))
            .unwrap(),
    );
    wait_status(&w, "an echo", |s| s.echoes_dropped >= 1);
    // An export: the sync writes b.md and records its base; the event that follows is ours.
    let mut b = v.store.get(&"note/b".parse().unwrap()).unwrap();
    b.body = "# B\n\nchanged in the store\n".into();
    b.content_hash = brain_core::content_hash(b.content().as_bytes());
    v.store.put(&b).unwrap();
    v.sync();
    assert_eq!(
        fs::read_to_string(v.root.join("b.md")).unwrap(),
        "# B\n\nchanged in the store\n"
    );
    wait_status(&w, "a second echo", |s| s.echoes_dropped >= 2);
    v.assert_no_more_jobs(0);
    assert_eq!(w.status().imports_enqueued, 0);
}

#[test]
fn a_flush_waits_while_a_directory_job_runs() {
    let v = vault();
    let w = v.watch(v.settings());
    let running = v
        .queue
        .enqueue(EnqueueRequest::new(
            "directory-export",
            json!({"all": true}),
        ))
        .unwrap()
        .id();
    let claimed = v
        .store
        .claim(
            "test-worker",
            &[("directory-export".into(), 1)],
            1,
            now_ms(),
            60_000,
        )
        .unwrap();
    assert_eq!(claimed.len(), 1);
    v.write("a.md", "# A\n");
    wait_status(&w, "the change to be pending", |s| s.pending_paths == 1);
    // Held past its window while the export runs.
    v.assert_no_more_jobs(1);
    assert_eq!(w.status().pending_paths, 1);
    v.store
        .finish(
            running,
            "test-worker",
            &Outcome::Succeeded(json!({})),
            now_ms(),
        )
        .unwrap();
    let jobs = v.wait_for_jobs(2, &w);
    assert_eq!(import_paths(&jobs[1]), ["a.md"]);
}

#[test]
fn poll_mode_picks_up_an_edit() {
    let v = vault();
    v.write("a.md", "# A\n");
    // Polling compares mtimes in whole seconds: make the edit land in a later second.
    let old = SystemTime::now() - Duration::from_secs(10);
    fs::File::options()
        .write(true)
        .open(v.root.join("a.md"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let mut settings = v.settings();
    settings.mode = WatchMode::Poll;
    let w = v.watch(settings);
    assert_eq!(w.status().mode, WatcherMode::Poll);
    v.write("a.md", "# A\n\nedited\n");
    let jobs = v.wait_for_jobs(1, &w);
    assert_eq!(import_paths(&jobs[0]), ["a.md"]);
    v.assert_no_more_jobs(1);
    let st = w.status();
    assert_eq!((st.mode, st.fell_back), (WatcherMode::Poll, false));
}

#[test]
fn the_verification_timer_queues_a_rescan() {
    let v = vault();
    let mut settings = v.settings();
    settings.verify_interval = Some(Duration::from_millis(300));
    let w = v.watch(settings);
    let jobs = v.wait_for_jobs(1, &w);
    assert_rescan(&jobs[0]);
    assert!(w.status().rescans_enqueued >= 1);
}

#[test]
fn a_vault_folder_moved_away_and_back_is_watched_again_and_rescanned() {
    let v = vault_with_outside_db();
    let w = v.watch(v.settings());
    let away: PathBuf = v.root.with_file_name("moved-away");
    fs::rename(&v.root, &away).unwrap();
    wait_status(&w, "the watcher to notice", |s| {
        s.mode == WatcherMode::Failed
    });
    assert!(w.status().last_error.is_some());
    fs::rename(&away, &v.root).unwrap();
    let jobs = v.wait_for_jobs(1, &w);
    assert_rescan(&jobs[0]);
    let st = w.status();
    assert_eq!((st.mode, st.restarts), (WatcherMode::Native, 1), "{st:?}");
    // And it watches again.
    v.write("after.md", "# after\n");
    let jobs = v.wait_for_jobs(2, &w);
    assert_eq!(import_paths(&jobs[1]), ["after.md"]);
}

#[test]
fn the_watcher_can_be_shared_with_the_daemon() {
    fn shareable<T: Send + Sync>() {}
    shareable::<VaultWatcher>();
    shareable::<WatcherStatus>();
}

#[test]
fn start_refuses_a_missing_vault() {
    let v = vault();
    let mut settings = v.settings();
    settings.root = v.root.join("missing");
    let e = VaultWatcher::start(settings, v.store.clone(), v.queue.clone())
        .err()
        .unwrap();
    assert!(e.to_string().contains("missing"), "{e}");
}
