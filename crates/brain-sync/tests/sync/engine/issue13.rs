//! Issue 13: a conflict copy is written once however often a sync is killed, every copy on disk
//! is listed, and a named pipe is never opened, written or taken for an edit.

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
                "engine::issue13::issue13_a_sync_killed_after_writing_a_conflict_copy_leaves_one_listed_copy",
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
        let r =
            SyncEngine::new(&root, &config, store)
                .unwrap()
                .run(&opts, &sink, &CancelToken::new());
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
