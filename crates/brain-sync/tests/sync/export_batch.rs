//! Issue 14 item 10: notes are exported in batches (every temp file of a batch flushed before
//! any is renamed) and each keeps every promise a single write made: exact bytes, permissions
//! kept, never written over a file changed since the plan (both sides kept), no temp file left
//! after a failure, the rest of the batch written all the same, and a cancel that stops between
//! batches with what was written recorded. Real SQLite store, real folders.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use brain_core::{CancelToken, Config, EntityRef, NoProgress, Phase, ProgressSink};
use brain_store::{Backend, FileStat};
use brain_store_sqlite::testing;
use brain_sync::fsio::{self, Expect, NoteWrite, WriteError};
use brain_sync::{SyncEngine, SyncError, SyncMode, SyncOptions, SyncReport};

fn run(root: &Path, store: &dyn Backend, mode: SyncMode, sink: &dyn ProgressSink) -> SyncReport {
    run_with(root, store, mode, sink, &CancelToken::new()).unwrap()
}

fn run_with(
    root: &Path,
    store: &dyn Backend,
    mode: SyncMode,
    sink: &dyn ProgressSink,
    cancel: &CancelToken,
) -> Result<SyncReport, SyncError> {
    let config = Config::default();
    let opts = SyncOptions {
        mode,
        ..SyncOptions::default()
    };
    SyncEngine::new(root, &config, store)
        .unwrap()
        .run(&opts, sink, cancel)
}

fn write(root: &Path, rel: &str, content: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

fn eref(path: &str) -> EntityRef {
    format!("note/{}", path.strip_suffix(".md").unwrap())
        .parse()
        .unwrap()
}

/// Gives the note at `path` the text `text` in the store (as an MCP `put` would), creating
/// it when the store has no note there yet.
fn put(store: &dyn Backend, path: &str, text: &str) {
    let builder = brain_sync::EntityBuilder {
        mapper: brain_core::PathMapper::new(Config::default().vault.entity_types).unwrap(),
        logseq: false,
        max_file_bytes: Config::default().sync.max_file_bytes,
    };
    let e = builder.entity(path, text, 1, 2).unwrap();
    assert_eq!(e.entity_ref, eref(path));
    store.put(&e).unwrap();
}

/// Every file under `root` (dot folders too) whose name marks it as one of our temp files.
fn temp_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                dirs.push(entry.path());
            } else if entry.file_name().to_string_lossy().contains(".brain-tmp-") {
                found.push(entry.path());
            }
        }
    }
    found
}

/// A folder nothing can be created in while this lives, even by root (CI runs as root, where
/// `chmod` alone stops nothing): `chmod 555`, and where that does not stop this process,
/// `chattr +i`. Undone on drop, so the temp folder can be removed after a failed assertion.
struct Unwritable(PathBuf);

impl Unwritable {
    fn new(dir: &Path) -> Self {
        let guard = Unwritable(dir.to_path_buf());
        fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).unwrap();
        if !guard.refuses_a_file() {
            let ok = Command::new("chattr")
                .arg("+i")
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok && guard.refuses_a_file(),
                "cannot make {} unwritable for this process (chmod 555 and chattr +i both failed): the failure this test injects cannot be made here",
                dir.display()
            );
        }
        guard
    }

    fn refuses_a_file(&self) -> bool {
        let probe = self.0.join("probe");
        let made = fs::File::create(&probe).is_ok();
        let _ = fs::remove_file(&probe);
        !made
    }
}

impl Drop for Unwritable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
        let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o755));
    }
}

/// Rewrites files at the start of the export and again once its first batch is written (the
/// first `advance` of the export phase), as an editor saving during a sync would.
struct EditorDuringExport {
    at_start: Vec<(PathBuf, &'static [u8])>,
    after_first_batch: Vec<(PathBuf, &'static [u8])>,
    exporting: AtomicBool,
    done: AtomicBool,
}

impl ProgressSink for EditorDuringExport {
    fn start_phase(&self, phase: Phase, _: Option<u64>) {
        if phase == Phase::Exporting {
            for (p, text) in &self.at_start {
                fs::write(p, text).unwrap();
            }
            self.exporting.store(true, Ordering::SeqCst);
        }
    }
    fn advance(&self, _: u64, _: &str) {
        if self.exporting.load(Ordering::SeqCst) && !self.done.swap(true, Ordering::SeqCst) {
            for (p, text) in &self.after_first_batch {
                fs::write(p, text).unwrap();
            }
        }
    }
    fn finish_phase(&self) {}
}

/// The text the store gives note `i` (varied: CRLF, Unicode, no final newline).
fn new_text(i: usize) -> String {
    match i % 3 {
        0 => format!("---\ntitle: N{i}\n---\r\nÉdité {i} ✓\r\n"),
        1 => format!("# Note {i}\n\nchanged in the store, {}\n", "x".repeat(i)),
        _ => format!("no final newline {i}"),
    }
}

#[test]
fn issue14_a_batch_export_writes_exact_bytes_keeps_permissions_and_never_overwrites_a_changed_file()
{
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let root = dir.path();
    let store = testing::in_memory().unwrap();
    // 600 notes in three folders (more than two batches), some private, imported first.
    let folder = |i: usize| ["a", "b/c", "locked"][i / 200];
    let path = |i: usize| format!("{}/n{i:03}.md", folder(i));
    for i in 0..600 {
        write(root, &path(i), format!("old {i}\n").as_bytes());
        let mode = [0o600, 0o640, 0o644][i % 3];
        fs::set_permissions(root.join(path(i)), fs::Permissions::from_mode(mode)).unwrap();
    }
    assert_eq!(
        run(root, &*store, SyncMode::Full, &NoProgress).imported,
        600
    );

    // Every note changed in the store, and new ones (in a new folder and the locked one).
    for i in 0..600 {
        put(&*store, &path(i), &new_text(i));
    }
    let new_path = |i: usize| match i {
        600..610 => format!("new/deep/m{i}.md"),
        610..618 => format!("a/m{i}.md"),
        _ => format!("locked/m{i}.md"),
    };
    for i in 600..620 {
        put(&*store, &new_path(i), &new_text(i));
    }

    // The failure injected: a folder whose notes (200 changed, 2 new) cannot be written.
    let locked = Unwritable::new(&root.join("locked"));
    // Editors save meanwhile: one note of the first batch before it is written, one of the
    // second batch and a new one (written last) after the first batch landed.
    let editor = EditorDuringExport {
        at_start: vec![(root.join("a/n007.md"), b"editor, at the start\n")],
        after_first_batch: vec![
            (root.join("b/c/n399.md"), b"editor, during the export\n"),
            (root.join("new/deep/m605.md"), b"editor made it first\n"),
        ],
        exporting: AtomicBool::new(false),
        done: AtomicBool::new(false),
    };
    fs::create_dir_all(root.join("new/deep")).unwrap();
    let r = run(root, &*store, SyncMode::Full, &editor);
    assert!(editor.done.load(Ordering::SeqCst), "the editor ran");

    let changed = ["a/n007.md", "b/c/n399.md", "new/deep/m605.md"];
    let all: Vec<String> = (0..600).map(path).chain((600..620).map(new_path)).collect();
    let unwritable = |p: &str| p.starts_with("locked/");
    assert_eq!(r.exported, 620 - 202 - 3, "every other note was written");
    assert_eq!(
        r.pending, 3,
        "the three changed files wait for the next sync"
    );
    assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);
    for (i, p) in all.iter().enumerate() {
        let on_disk = fs::read(root.join(p)).ok();
        if changed.contains(&p.as_str()) {
            let skip = r.skipped.iter().find(|s| &s.path == p).unwrap();
            assert_eq!(skip.reason, WriteError::ChangedMeanwhile.to_string());
            assert_ne!(on_disk.unwrap(), new_text(i).as_bytes(), "{p} overwritten");
        } else if unwritable(p) {
            let skip = r.skipped.iter().find(|s| &s.path == p).unwrap();
            // What failed (the OS's words), on which note, and what to do.
            let (what, rest) = skip
                .reason
                .strip_prefix("cannot write the note's file: ")
                .and_then(|r| r.split_once("; "))
                .unwrap_or_else(|| panic!("{p}: {}", skip.reason));
            assert!(
                ["Operation not permitted", "Permission denied"]
                    .iter()
                    .any(|os| what.starts_with(os)),
                "{p}: {what}"
            );
            assert_eq!(
                rest,
                format!(
                    "check that its folder can be written (permissions, a full or read-only disk), then sync again. The store holds an edit of {} that is not in this file (the edit is kept in the store): make '{p}' writable (remove what is in the way there, or fix its folder's permissions, or a full or read-only disk), then `brain sync` writes the note",
                    eref(p)
                ),
            );
            let old = (i < 600).then(|| format!("old {i}\n").into_bytes());
            assert_eq!(on_disk, old, "{p} left as it was");
        } else {
            assert_eq!(on_disk.unwrap(), new_text(i).as_bytes(), "{p}: exact bytes");
            let mode = fs::metadata(root.join(p)).unwrap().permissions().mode() & 0o777;
            let kept = if i < 600 {
                [0o600, 0o640, 0o644][i % 3]
            } else {
                0o644
            };
            assert_eq!(mode, kept, "{p}: permissions");
        }
    }
    assert_eq!(r.skipped.len(), 202 + 3, "{:?}", r.skipped);
    assert_eq!(temp_files(root), Vec::<PathBuf>::new(), "temp files left");

    // Once the folder can be written, the next sync writes its notes, and keeps both sides of
    // each file an editor changed.
    drop(locked);
    let r = run(root, &*store, SyncMode::Full, &NoProgress);
    assert_eq!(r.exported, 202);
    let mut kept: Vec<&str> = r.conflicts.iter().map(|c| c.path.as_str()).collect();
    kept.sort();
    assert_eq!(kept, changed);
    for c in &r.conflicts {
        let i = all.iter().position(|p| *p == c.path).unwrap();
        let copy = c.copy_path.as_deref().unwrap();
        assert_eq!(fs::read(root.join(copy)).unwrap(), new_text(i).as_bytes());
    }
    for (i, p) in all.iter().enumerate().filter(|(_, p)| unwritable(p)) {
        assert_eq!(
            fs::read(root.join(p)).unwrap(),
            new_text(i).as_bytes(),
            "{p}"
        );
    }
    assert_eq!(temp_files(root), Vec::<PathBuf>::new(), "temp files left");
}

#[test]
fn issue14_a_cancelled_export_stops_between_batches_and_records_what_it_wrote() {
    struct CancelOnFirstWrite(CancelToken);
    impl ProgressSink for CancelOnFirstWrite {
        fn start_phase(&self, _: Phase, _: Option<u64>) {}
        fn advance(&self, _: u64, item: &str) {
            if item.starts_with("n") {
                self.0.cancel();
            }
        }
        fn finish_phase(&self) {}
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = testing::in_memory().unwrap();
    let path = |i: usize| format!("n{i:03}.md");
    for i in 0..600 {
        put(&*store, &path(i), &new_text(i));
    }
    let token = CancelToken::new();
    let err = run_with(
        root,
        &*store,
        SyncMode::ExportOnly,
        &CancelOnFirstWrite(token.clone()),
        &token,
    )
    .unwrap_err();
    let SyncError::Cancelled { report } = err else {
        panic!("expected Cancelled, got {err}");
    };
    // The batch under way when the cancel came is written and recorded; no other is started.
    let batch = report.exported as usize;
    assert!((1..600).contains(&batch), "{batch}");
    let written: Vec<String> = (0..600)
        .map(path)
        .filter(|p| root.join(p).exists())
        .collect();
    assert_eq!(written.len(), batch);
    for (i, p) in (0..600).map(|i| (i, path(i))) {
        if let Ok(bytes) = fs::read(root.join(&p)) {
            assert_eq!(bytes, new_text(i).as_bytes(), "{p}");
        }
    }
    // Recorded: the next export writes exactly the rest.
    let r = run(root, &*store, SyncMode::ExportOnly, &NoProgress);
    assert_eq!(
        (r.exported as usize, r.unchanged as usize, r.pending),
        (600 - batch, batch, 0),
        "the notes written before the cancel have their base"
    );
    for i in 0..600 {
        assert_eq!(
            fs::read(root.join(path(i))).unwrap(),
            new_text(i).as_bytes()
        );
    }
    assert_eq!(temp_files(root), Vec::<PathBuf>::new());
}

#[test]
fn issue14_write_notes_gives_each_note_its_own_result_and_leaves_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let long = "x".repeat(45);
    // Two names that share their first 40 characters: their temp files must differ.
    let twin_a = root.join(format!("d/{long}-a.md"));
    let twin_b = root.join(format!("d/{long}-b.md"));
    // An existing private note, replaced while unchanged.
    let private = root.join("d/private.md");
    fs::create_dir_all(root.join("d")).unwrap();
    fs::write(&private, "old").unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o600)).unwrap();
    let base: FileStat = fsio::file_stat(&private).unwrap();
    // A note changed since its base.
    let stale_target = root.join("d/stale.md");
    fs::write(&stale_target, "edited").unwrap();
    let stale = FileStat {
        size: 99,
        ..fsio::file_stat(&stale_target).unwrap()
    };
    // A file already where a new note should go, and a named pipe (never opened).
    let taken = root.join("d/taken.md");
    fs::write(&taken, "someone else's").unwrap();
    let fifo = root.join("d/pipe.md");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // A folder that cannot be made (a file is in its place), and a name too long to link
    // (fails after its temp file was written and flushed).
    fs::write(root.join("blocker"), "a file").unwrap();
    let under_file = root.join("blocker/x.md");
    let too_long = root.join(format!("d/{}.md", "y".repeat(300)));
    let fine: Vec<PathBuf> = (0..20).map(|i| root.join(format!("e/f{i}.md"))).collect();

    let mut notes = vec![
        NoteWrite {
            target: &twin_a,
            content: b"twin a",
            expect: Expect::Absent,
        },
        NoteWrite {
            target: &twin_b,
            content: b"twin b",
            expect: Expect::Absent,
        },
        NoteWrite {
            target: &private,
            content: b"new private",
            expect: Expect::Stat(&base),
        },
        NoteWrite {
            target: &stale_target,
            content: b"store",
            expect: Expect::Stat(&stale),
        },
        NoteWrite {
            target: &taken,
            content: b"store",
            expect: Expect::Absent,
        },
        NoteWrite {
            target: &fifo,
            content: b"store",
            expect: Expect::Absent,
        },
        NoteWrite {
            target: &under_file,
            content: b"store",
            expect: Expect::Absent,
        },
        NoteWrite {
            target: &too_long,
            content: b"store",
            expect: Expect::Absent,
        },
    ];
    let texts: Vec<String> = (0..20).map(|i| format!("fine {i}\r\n")).collect();
    for (target, text) in fine.iter().zip(&texts) {
        notes.push(NoteWrite {
            target,
            content: text.as_bytes(),
            expect: Expect::Absent,
        });
    }
    // Off the test's thread, so a write that opened the pipe (and blocked) fails the test
    // instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| tx.send(fsio::write_notes(&notes)).unwrap());
        let results = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("write_notes returned (it must never open the named pipe)");
        let ok = |i: usize| results[i].as_ref().map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(ok(0), Ok(()));
        assert_eq!(ok(1), Ok(()));
        assert_eq!(fs::read(&twin_a).unwrap(), b"twin a");
        assert_eq!(fs::read(&twin_b).unwrap(), b"twin b");
        let st = results[2].as_ref().unwrap();
        assert_eq!(
            st,
            &fsio::file_stat(&private).unwrap(),
            "the new stat is the file's"
        );
        assert_eq!(fs::read(&private).unwrap(), b"new private");
        assert_eq!(
            fs::metadata(&private).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            matches!(results[3], Err(WriteError::ChangedMeanwhile)),
            "{:?}",
            results[3]
        );
        assert_eq!(fs::read(&stale_target).unwrap(), b"edited");
        assert!(
            matches!(results[4], Err(WriteError::ChangedMeanwhile)),
            "{:?}",
            results[4]
        );
        assert_eq!(fs::read(&taken).unwrap(), b"someone else's");
        assert!(
            matches!(&results[5], Err(WriteError::NotARegularFile { kind, .. }) if *kind == "a named pipe (FIFO)"),
            "{:?}",
            results[5]
        );
        assert!(
            matches!(results[6], Err(WriteError::Io(_))),
            "{:?}",
            results[6]
        );
        assert!(
            matches!(results[7], Err(WriteError::Io(_))),
            "{:?}",
            results[7]
        );
        for (i, (target, text)) in fine.iter().zip(&texts).enumerate() {
            assert!(results[8 + i].is_ok(), "{:?}", results[8 + i]);
            assert_eq!(fs::read(target).unwrap(), text.as_bytes());
        }
        assert_eq!(results.len(), notes.len());
    });
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(temp_files(root), Vec::<PathBuf>::new(), "temp files left");
}
