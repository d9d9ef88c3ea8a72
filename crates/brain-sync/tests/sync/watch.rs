//! The watcher against a real temp vault, real file events, a real SQLite store and a real
//! queue with no workers: the jobs it enqueues stay queued, so each test reads them back.
//!
//! No test hopes that a burst fits one debounce window, nor takes a quiet spell for "nothing
//! more happened". A burst is written while a directory job runs ([`Vault::hold`]), so the
//! watcher holds it as one pending set whatever the machine's load, and it becomes one job when
//! the hold ends. What the watcher has taken in is learnt from a fence ([`Vault::settle`],
//! [`Vault::taken_in`]): a `.brain/fence-N` file created after the changes, whose number the
//! watcher publishes once it has taken that event in, with the pending set it belongs to.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::cell::Cell;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use brain_core::time::now_ms;
use brain_core::{CancelToken, Config, NoProgress, WatchMode};
use brain_jobs::{EnqueueRequest, EventBus, Queue, Registry};
use brain_store::Backend;
use brain_store::jobs::{Job, JobFilter, Outcome};
use brain_store_sqlite::testing;
use brain_sync::watch::{FENCE_PREFIX, WatcherMode};
use brain_sync::{SyncEngine, SyncOptions, VaultWatcher, WatchSettings, WatcherStatus};
use serde_json::json;

/// The product's default window. Bursts do not depend on it (they are held, see the module
/// doc); a test that checks the window is measured from the last change needs the hold to end
/// well inside it.
const DEBOUNCE: Duration = Duration::from_millis(500);
/// Long enough for any event to arrive on a loaded machine; tests wait for a condition, not for
/// this.
const DEADLINE: Duration = Duration::from_secs(15);

struct Vault {
    _dir: tempfile::TempDir,
    _db_dir: Option<tempfile::TempDir>,
    root: PathBuf,
    config: Config,
    store: Arc<dyn Backend>,
    queue: Queue,
    /// The last fence number used.
    fences: Cell<u64>,
}

/// A vault with its database in `.brain/` (so the watcher sees the database change).
fn vault() -> Vault {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    fs::create_dir_all(root.join(".brain")).unwrap();
    let store = testing::at(&root.join(".brain/brain.db")).unwrap();
    finish_vault(dir, None, root, store)
}

/// A vault whose database lives elsewhere (for tests that move the vault folder).
fn vault_with_outside_db() -> Vault {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vault");
    fs::create_dir(&root).unwrap();
    let root = root.canonicalize().unwrap();
    let store = testing::at(&db_dir.path().join("brain.db")).unwrap();
    finish_vault(dir, Some(db_dir), root, store)
}

fn finish_vault(
    dir: tempfile::TempDir,
    db_dir: Option<tempfile::TempDir>,
    root: PathBuf,
    store: Arc<dyn Backend>,
) -> Vault {
    // Fences go in `.brain/`; made before the watcher starts, so it is watched from the start.
    fs::create_dir_all(root.join(".brain")).unwrap();
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
        fences: Cell::new(0),
    }
}

/// The job a test's [`Vault::hold`] claims; the watcher never queues one.
const HOLD_JOB: &str = "directory-export";

/// A directory job claimed and left running, as the daemon's worker would run an export: while
/// it runs the watcher queues nothing (it cannot tell our writes from a user's yet), so every
/// change made meanwhile waits in one pending set. [`Hold::release`] ends it.
struct Hold<'a> {
    store: &'a dyn Backend,
    id: i64,
}

impl Hold<'_> {
    /// Ends the job; the watcher flushes what it held once the window of the last change ends.
    fn release(self) {
        self.store
            .finish(
                self.id,
                "test-worker",
                &Outcome::Succeeded(json!({})),
                now_ms(),
            )
            .unwrap();
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
        s
    }

    fn watch(&self, settings: WatchSettings) -> VaultWatcher {
        VaultWatcher::start(settings, self.store.clone(), self.queue.clone()).unwrap()
    }

    /// Starts a directory job the watcher must wait for (see [`Hold`]).
    fn hold(&self) -> Hold<'_> {
        let id = self
            .queue
            .enqueue(EnqueueRequest::new(HOLD_JOB, json!({"all": true})))
            .unwrap()
            .id();
        let claimed = self
            .store
            .claim(
                "test-worker",
                &[(HOLD_JOB.into(), 1)],
                1,
                now_ms(),
                3_600_000,
            )
            .unwrap();
        assert_eq!(claimed.len(), 1);
        Hold {
            store: &*self.store,
            id,
        }
    }

    /// Every job the watcher queued, oldest first (a [`Hold`]'s job left out).
    fn jobs(&self) -> Vec<Job> {
        let mut jobs = self.store.list_jobs(&JobFilter::default()).unwrap();
        jobs.retain(|j| j.job_type != HOLD_JOB);
        jobs.reverse();
        jobs
    }

    /// Creates fences and waits for the watcher to take them in, the last one in a snapshot
    /// that satisfies `cond`; returns that snapshot. With native events one fence is enough:
    /// its event comes after every earlier change's. A poll may meet the fence before an
    /// earlier change in the same walk; but a fence made after the previous one was taken in
    /// is met in a later walk, so the third is met only after a whole walk that began after
    /// the changes was taken in.
    fn fence_until(
        &self,
        w: &VaultWatcher,
        cond: impl Fn(&WatcherStatus) -> bool,
    ) -> WatcherStatus {
        let rounds = if w.status().mode == WatcherMode::Poll {
            3
        } else {
            1
        };
        let mut last = None;
        for round in 1..=rounds {
            let n = self.fences.get() + 1;
            self.fences.set(n);
            fs::write(
                self.root.join(".brain").join(format!("{FENCE_PREFIX}{n}")),
                b"",
            )
            .unwrap();
            last = Some(wait_status(w, &format!("fence {n}"), |s| {
                s.fence >= n && (round < rounds || cond(s))
            }));
        }
        last.unwrap()
    }

    /// The watcher's state once it has taken in every change made so far (they are pending in
    /// the snapshot returned, or already jobs).
    fn taken_in(&self, w: &VaultWatcher) -> WatcherStatus {
        self.fence_until(w, |_| true)
    }

    /// Waits until every change made so far is a job, or was dropped as an echo: nothing more
    /// can come of them. Returns the watcher's state then.
    fn settle(&self, w: &VaultWatcher) -> WatcherStatus {
        self.fence_until(w, |s| s.pending_paths == 0 && !s.rescan_pending)
    }

    /// Waits until there are `n` jobs and the watcher settled; returns them, failing if
    /// there are more than `n` once it settled.
    fn wait_for_jobs(&self, n: usize, w: &VaultWatcher) -> Vec<Job> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let jobs = self.jobs();
            if jobs.len() >= n {
                self.settle(w);
                let jobs = self.jobs();
                assert_eq!(jobs.len(), n, "{jobs:#?}");
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
}

/// Waits until the watcher's status satisfies `cond`; returns that snapshot.
fn wait_status(
    w: &VaultWatcher,
    what: &str,
    cond: impl Fn(&WatcherStatus) -> bool,
) -> WatcherStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let st = w.status();
        if cond(&st) {
            return st;
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

/// Makes the changes of `burst` while a directory job runs, then ends the job: asserts that
/// the watcher held exactly `held` paths for it (the notes, and any other file of the burst
/// it only drops at the flush), that nothing was queued while it ran, and that exactly one
/// import holding `expected` follows, and nothing else.
fn expect_one_import(
    v: &Vault,
    w: &VaultWatcher,
    burst: impl FnOnce(),
    held: usize,
    expected: &[&str],
) {
    let hold = v.hold();
    burst();
    let st = v.taken_in(w);
    assert_eq!(st.pending_paths, held, "the burst is pending: {st:?}");
    assert!(v.jobs().is_empty(), "queued while held: {:?}", v.jobs());
    hold.release();
    let st = v.settle(w);
    let jobs = v.jobs();
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_eq!(import_paths(&jobs[0]), expected);
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
    expect_one_import(&v, &w, || v.write("a.md", "# A\n\nedited\n"), 1, &["a.md"]);
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
    let save = || {
        v.write(".a.md.swp", "swap");
        v.write("a.md.tmp", "# A\n\nsaved atomically\n");
        fs::rename(v.root.join("a.md.tmp"), v.root.join("a.md")).unwrap();
    };
    // Held: the note and the `.tmp` sibling (dropped at the flush; the dot swap is ignored).
    expect_one_import(&v, &w, save, 2, &["a.md"]);
}

#[test]
fn delete_then_create_queues_one_import() {
    let v = vault();
    v.write("a.md", "# A\n");
    v.sync();
    let w = v.watch(v.settings());
    let recreate = || {
        fs::remove_file(v.root.join("a.md")).unwrap();
        v.write("a.md", "# A again\n");
    };
    expect_one_import(&v, &w, recreate, 1, &["a.md"]);
}

#[test]
fn a_file_written_in_chunks_is_imported_once_after_it_is_stable() {
    let v = vault();
    let w = v.watch(v.settings());
    // Held, so the chunks are one pending set however the writer is scheduled.
    let hold = v.hold();
    let mut f = fs::File::create(v.root.join("big.md")).unwrap();
    let mut last_write_ms = 0;
    for i in 0..5 {
        if i > 0 {
            // The writer's pace (shorter than the debounce window), not a wait for the watcher.
            std::thread::sleep(Duration::from_millis(50));
        }
        // Read before the write: its event is received after this.
        last_write_ms = now_ms();
        writeln!(f, "chunk {i} {}", "x".repeat(1000)).unwrap();
        f.flush().unwrap();
    }
    drop(f);
    let st = v.taken_in(&w);
    assert_eq!(st.pending_paths, 1, "{st:?}");
    assert!(v.jobs().is_empty());
    // Ended at once: the flush then waits for the window of the last chunk, not the first.
    hold.release();
    let st = v.settle(&w);
    let jobs = v.jobs();
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_eq!(import_paths(&jobs[0]), ["big.md"]);
    assert_eq!((st.imports_enqueued, st.rescans_enqueued), (1, 0), "{st:?}");
    // Queued a whole window after the last chunk (the margin: the two clocks' rounding).
    assert!(
        jobs[0].created_ms >= last_write_ms + DEBOUNCE.as_millis() as i64 - 15,
        "queued at {} for a last write at {last_write_ms}",
        jobs[0].created_ms
    );
}

#[test]
fn a_burst_of_a_thousand_files_becomes_one_job() {
    let v = vault();
    fs::create_dir(v.root.join("inbox")).unwrap();
    let w = v.watch(v.settings());
    let mut expected: Vec<String> = (0..1000).map(|i| format!("inbox/n{i:04}.md")).collect();
    let hold = v.hold();
    for p in &expected {
        v.write(p, "# note\n");
    }
    let st = v.taken_in(&w);
    assert_eq!(st.pending_paths, 1000, "{st:?}");
    assert!(v.jobs().is_empty());
    hold.release();
    let st = v.settle(&w);
    let jobs = v.jobs();
    assert_eq!(jobs.len(), 1);
    expected.sort();
    assert_eq!(import_paths(&jobs[0]), expected);
    assert_eq!((st.imports_enqueued, st.rescans_enqueued), (1, 0), "{st:?}");
}

#[test]
fn renaming_a_note_queues_both_paths() {
    let v = vault();
    v.write("old name.md", "# Note\n");
    v.sync();
    let w = v.watch(v.settings());
    let rename = || fs::rename(v.root.join("old name.md"), v.root.join("new name.md")).unwrap();
    expect_one_import(&v, &w, rename, 2, &["new name.md", "old name.md"]);
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
    // Every one of those events is taken in, and none left anything to do.
    let st = v.settle(&w);
    assert!(v.jobs().is_empty(), "{:#?}", v.jobs());
    // Ignored paths do not even count as events (the status would change on every commit of
    // the database otherwise).
    assert_eq!((st.events_seen, st.last_flush_ms), (0, None), "{st:?}");
    // The watcher is alive: a real note goes through, without a name the store would refuse.
    let notes = || {
        v.write("back\\slash.md", "# refused id\n");
        v.write("ok.md", "# ok\n");
    };
    // Held: both; the invalid id is left out at the flush.
    expect_one_import(&v, &w, notes, 2, &["ok.md"]);
}

#[test]
fn a_folder_copied_in_queues_one_rescan() {
    let v = vault();
    let w = v.watch(v.settings());
    let hold = v.hold();
    fs::create_dir(v.root.join("copied")).unwrap();
    for i in 0..20 {
        v.write(&format!("copied/n{i}.md"), "# copied\n");
    }
    let st = v.taken_in(&w);
    assert!(st.rescan_pending, "{st:?}");
    assert!(v.jobs().is_empty());
    hold.release();
    let st = v.settle(&w);
    let jobs = v.jobs();
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_rescan(&jobs[0]);
    assert_eq!((st.imports_enqueued, st.rescans_enqueued), (0, 1), "{st:?}");
}

/// What the watcher holds for a removed folder of two notes: the folder and both notes.
const PENDING_FOR_GONE_FOLDER: usize = 3;

#[test]
fn a_deleted_folder_holding_notes_queues_one_rescan() {
    let v = vault();
    v.write("gone/a.md", "# a\n");
    v.write("gone/b.md", "# b\n");
    v.write("stays.md", "# stays\n");
    v.sync();
    let w = v.watch(v.settings());
    let hold = v.hold();
    fs::remove_dir_all(v.root.join("gone")).unwrap();
    let st = v.taken_in(&w);
    assert_eq!(st.pending_paths, PENDING_FOR_GONE_FOLDER, "{st:?}");
    assert!(v.jobs().is_empty());
    hold.release();
    let st = v.settle(&w);
    let jobs = v.jobs();
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_rescan(&jobs[0]);
    assert_eq!((st.imports_enqueued, st.rescans_enqueued), (0, 1), "{st:?}");
}

#[test]
fn our_own_writes_are_echoes() {
    let v = vault();
    v.write("a.md", "# A\n");
    v.write("b.md", "# B\n");
    v.sync();
    let w = v.watch(v.settings());
    // An event with no change: opened for writing, nothing written. Held, so its events are
    // judged together.
    let hold = v.hold();
    drop(
        fs::OpenOptions::new()
            .append(true)
            .open(v.root.join("a.md"))
            .unwrap(),
    );
    let st = v.taken_in(&w);
    assert_eq!(st.pending_paths, 1, "{st:?}");
    hold.release();
    let st = v.settle(&w);
    assert_eq!((st.echoes_dropped, st.imports_enqueued), (1, 0), "{st:?}");
    // An export: the sync writes b.md and records its base; the event that follows is ours.
    // The daemon runs it as a directory job, which holds the watcher until the base is in.
    let hold = v.hold();
    let mut b = v.store.get(&"note/b".parse().unwrap()).unwrap();
    b.body = "# B\n\nchanged in the store\n".into();
    b.content_hash = brain_core::content_hash(b.content().as_bytes());
    v.store.put(&b).unwrap();
    v.sync();
    assert_eq!(
        fs::read_to_string(v.root.join("b.md")).unwrap(),
        "# B\n\nchanged in the store\n"
    );
    let st = v.taken_in(&w);
    assert_eq!(st.pending_paths, 1, "{st:?}");
    hold.release();
    let st = v.settle(&w);
    assert_eq!((st.echoes_dropped, st.imports_enqueued), (2, 0), "{st:?}");
    assert!(v.jobs().is_empty(), "{:#?}", v.jobs());
}

#[test]
fn a_flush_waits_while_a_directory_job_runs() {
    let v = vault();
    let w = v.watch(v.settings());
    let hold = v.hold();
    v.write("a.md", "# A\n");
    let st = v.taken_in(&w);
    assert_eq!(st.pending_paths, 1, "{st:?}");
    // Let the change's window end while the job runs. The collector looks at its timers after
    // every event it takes in, so once a fence made after the window is taken in, the flush
    // came due and was tried: it must have been held.
    let due_ms = st.last_event_ms.unwrap() + DEBOUNCE.as_millis() as i64;
    while now_ms() <= due_ms + 5 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let st = v.taken_in(&w);
    assert!(v.jobs().is_empty(), "queued while held: {:#?}", v.jobs());
    assert_eq!((st.pending_paths, st.imports_enqueued), (1, 0), "{st:?}");
    hold.release();
    let st = v.settle(&w);
    let jobs = v.jobs();
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_eq!(import_paths(&jobs[0]), ["a.md"]);
    assert_eq!(st.imports_enqueued, 1);
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
    // Held, so a walk that meets the file half written cannot make a flush of its own.
    let hold = v.hold();
    v.write("a.md", "# A\n\nedited\n");
    let st = v.taken_in(&w);
    assert_eq!(st.pending_paths, 1, "{st:?}");
    hold.release();
    // Settled after whole walks that began after the flush: none of them met the file again.
    let st = v.settle(&w);
    let jobs = v.jobs();
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_eq!(import_paths(&jobs[0]), ["a.md"]);
    assert_eq!(st.imports_enqueued, 1, "{st:?}");
    assert_eq!((st.mode, st.fell_back), (WatcherMode::Poll, false));
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
