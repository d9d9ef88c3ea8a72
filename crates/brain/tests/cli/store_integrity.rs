//! Issue 13, items 1 and 12: the store is never silently recreated, a store deleted under a
//! running daemon stops it instead of swallowing writes, a damaged or read-only store says what
//! to do, and `brain doctor` checks a store and rebuilds it from the files without touching a
//! note or losing an edit not yet written to one.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use brain_store::Backend;
use brain_store_sqlite::testing;
use util::TestVault;
use util::daemon::wait_for;

/// The vault's store, opened as every command opens it (never created).
fn open_store(v: &TestVault) -> Option<Arc<dyn Backend>> {
    testing::existing(
        &v.path(".brain/brain.db"),
        &brain_core::config::StoreConfig::default(),
    )
    .ok()
}

/// Names in `.brain/` starting with `prefix`.
fn state_files(v: &TestVault, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(v.path(".brain"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// Files at the vault's top level whose name starts with `prefix`.
fn notes_named(v: &TestVault, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(v.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

#[test]
fn issue13_a_deleted_store_is_never_recreated_by_put() {
    let v = TestVault::new();
    v.write("a.md", "# A\nkept in its file\n");
    v.sync();
    std::fs::remove_file(v.path(".brain/brain.db")).unwrap();
    for args in [
        &["put", "note/b"][..],
        &["list"],
        &["search", "kept"],
        &["init"],
    ] {
        let r = v.run_stdin(args, b"# B\nwould be lost\n");
        assert_ne!(
            r.code, 0,
            "brain {args:?} must refuse a vault without its store"
        );
        assert!(
            r.stderr.contains("is missing") && r.stderr.contains("brain doctor --rebuild"),
            "brain {args:?} says what happened and how to recover:\n{}",
            r.stderr
        );
        assert!(!r.stdout.contains("Created"), "{}", r.stdout);
        assert!(
            !v.path(".brain/brain.db").exists(),
            "brain {args:?} created a new, empty store"
        );
    }
    assert!(!v.path("b.md").exists());
    // The recovery: a store built from the files, holding the note that was in one.
    let r = v.ok(&["doctor", "--rebuild"]);
    assert!(r.stdout.contains("job history"), "{}", r.stdout);
    assert_eq!(util::listed(&v, &[]), ["note/a"]);
}

/// `brain serve` with its store deleted under it: puts after the deletion are refused, not
/// acknowledged; the daemon stops by itself, says why and exits 1; nothing recreates the store.
#[test]
fn issue13_serve_stops_when_its_store_is_deleted() {
    let v = TestVault::new();
    v.write("a.md", "# A\nbefore\n");
    v.sync();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("serve.err");
    let child = v
        .cmd()
        .env("BRAIN_SERVE_SYNC_DEBOUNCE_MS", "400")
        .env("BRAIN_SERVE_INITIAL_SYNC_DELAY_MS", "0")
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Killed when dropped, should the test fail with it still running.
    let mut daemon = util::daemon::Daemon { child };
    let pid = daemon.pid();
    wait_for(Duration::from_secs(60), "brain serve to be ready", || {
        let state = open_store(&v)?.runtime_state("serve").ok()??.value;
        (state["pid"] == pid && state["state"] == "ready").then_some(())
    });
    std::fs::remove_file(v.path(".brain/brain.db")).unwrap();
    for i in 1..=3 {
        let id = format!("note/after{i}");
        let r = v.run_stdin(&["put", &id], b"# After\nmust not be acknowledged\n");
        assert_ne!(r.code, 0, "put {i} after the deletion was acknowledged");
        assert!(!r.stdout.contains("Created"), "{}", r.stdout);
        assert!(r.stderr.contains("brain doctor --rebuild"), "{}", r.stderr);
    }
    // Generous: the daemon looks every 250 ms; the bound is only there so a daemon that never
    // notices fails the test instead of hanging it.
    let status = wait_for(Duration::from_secs(60), "brain serve to stop", || {
        daemon.child.try_wait().unwrap()
    });
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains("brain serve stopped") && stderr.contains("was deleted while"),
        "the daemon says why it stopped:\n{stderr}"
    );
    assert!(!v.path(".brain/brain.db").exists(), "nothing recreated it");
    for i in 1..=3 {
        assert!(!v.path(&format!("after{i}.md")).exists());
    }
    // The deleted store's log is moved aside with it, never read into a new store.
    v.ok(&["doctor", "--rebuild"]);
    assert!(!v.path(".brain/brain.db-wal").exists() || open_store(&v).is_some());
    assert_eq!(util::listed(&v, &[]), ["note/a"]);
}

/// Overwrites every page of the store but the first (header and schema) with garbage.
fn garble(db: &Path) {
    let mut bytes = std::fs::read(db).unwrap();
    assert!(bytes.len() > 8 * 4096, "the store spans many pages");
    for (i, b) in bytes.iter_mut().enumerate().skip(4096) {
        *b = (i % 251) as u8;
    }
    std::fs::write(db, bytes).unwrap();
}

#[test]
fn issue13_a_malformed_store_says_to_run_doctor_and_rebuild_touches_no_note() {
    let v = TestVault::new();
    for i in 0..120 {
        v.write(
            &format!("n{i:03}.md"),
            format!("# Note {i}\n{}\n", "words that fill pages ".repeat(30)),
        );
    }
    v.sync();
    let before = v.snapshot();
    garble(&v.path(".brain/brain.db"));

    let r = v.run(&["list"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("is damaged") && r.stderr.contains("brain doctor"),
        "a damaged store says what to do:\n{}",
        r.stderr
    );
    let r = v.run(&["doctor"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("problem"), "{}", r.stdout);

    let r = v.ok(&["doctor", "--rebuild"]);
    for promise in ["job history", "conflict records", "old store is kept"] {
        assert!(
            r.stdout.contains(promise),
            "says {promise:?}:\n{}",
            r.stdout
        );
    }
    assert_eq!(v.snapshot(), before, "a rebuild never touches a note file");
    let kept: Vec<_> = state_files(&v, "brain.db.old-")
        .into_iter()
        .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
        .collect();
    assert_eq!(kept.len(), 1, "the old store is kept: {kept:?}");
    assert_eq!(util::listed(&v, &[]).len(), 120);
    let r = v.ok(&["doctor"]);
    assert!(r.stdout.contains("sound"), "{}", r.stdout);
}

/// Edits put through the CLI with no daemon are in the store only, until a sync. Doctor lists
/// them as what the next sync settles; a rebuild writes them where nothing is overwritten: a
/// note with no file gets its file, a note whose file holds other text gets a conflict copy
/// beside it, and the file keeps its text.
#[test]
fn issue13_doctor_rebuild_recovers_unwritten_edits_without_overwriting() {
    let v = TestVault::new();
    v.write("a.md", "# A\nthe file's text\n");
    v.write("b.md", "# B\nsettled\n");
    v.sync();
    v.ok(&["sync", "pause"]);
    for (id, text) in [
        ("note/a", &b"# A\nthe store's edit\n"[..]),
        ("note/c", b"# C\na new note\n"),
    ] {
        let r = v.run_stdin(&["put", id], text);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    assert_eq!(v.read("a.md"), b"# A\nthe file's text\n");
    assert!(!v.path("c.md").exists(), "the edits are in the store only");

    let doc = v.ok(&["--json", "doctor"]).json();
    assert_eq!(doc["healthy"], true, "{doc}");
    let differences = doc["differences"].as_array().unwrap();
    let paths: Vec<_> = differences
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["a.md", "c.md"], "{doc}");
    assert!(differences.iter().all(|d| d["settled_by_sync"] == true));

    let r = v.ok(&["doctor", "--rebuild"]);
    assert!(r.stdout.contains("job history"), "{}", r.stdout);
    assert_eq!(
        v.read("a.md"),
        b"# A\nthe file's text\n",
        "the file keeps its text"
    );
    let copies = notes_named(&v, "a.conflict-");
    assert_eq!(copies.len(), 1, "{}", r.stdout);
    assert_eq!(v.read(&copies[0]), b"# A\nthe store's edit\n");
    assert!(
        r.stdout.contains(&copies[0]),
        "says where it went:\n{}",
        r.stdout
    );
    assert_eq!(v.read("c.md"), b"# C\na new note\n");
    let listed = util::listed(&v, &[]);
    let copy_ref = format!("note/{}", copies[0].trim_end_matches(".md"));
    for want in ["note/a", "note/b", "note/c", copy_ref.as_str()] {
        assert!(listed.iter().any(|l| l == want), "{want} in {listed:?}");
    }
    assert_eq!(v.ok(&["get", "note/a"]).stdout, "# A\nthe file's text\n");
}

/// An entity whose text differs from its file with no change recorded on either side is a
/// problem doctor names (exit 1), not something a sync settles.
#[test]
fn issue13_doctor_reports_a_store_that_disagrees_with_its_files() {
    let v = TestVault::new();
    v.write("a.md", "# A\nfine\n");
    v.write("b.md", "# B\nfine too\n");
    v.sync();
    assert_eq!(v.run(&["doctor"]).code, 0);
    {
        let conn = rusqlite::Connection::open(v.path(".brain/brain.db")).unwrap();
        conn.execute(
            "UPDATE entities SET content_hash = 'not-the-file' WHERE id = 'b'",
            [],
        )
        .unwrap();
    }
    let r = v.run(&["doctor"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("b.md") && r.stdout.contains("brain doctor --rebuild"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("a.md"), "{}", r.stdout);
}

/// A file whose name differs from a note's only by case is skipped by every sync (one file on
/// macOS and Windows): doctor says so and what to do, never "the next sync imports it", and no
/// rebuild is advised, since the store is right.
#[test]
fn doctor_says_a_case_twin_is_the_user_s_to_rename() {
    let v = TestVault::new();
    v.write("Note.md", "# Note\n");
    v.sync();
    v.write("note.md", "# other\n");
    let r = v.run(&["doctor"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "note.md: a file that differs from 'Note.md' only by letter case or Unicode \
             normalization: sync skips it"
        ) && r.stdout.contains("rename one of them"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("imports it") && !r.stdout.contains("--rebuild"),
        "{}",
        r.stdout
    );
    let doc = v.ok(&["--json", "doctor"]).json();
    assert_eq!(doc["differences"][0]["needs_you"], true, "{doc}");
    assert_eq!(doc["healthy"], true, "{doc}");
}

/// A read-only `.brain/` (run without root's override, as a user would meet it): `list`,
/// `search` and `get` answer from the store, a write is refused saying the folder is read-only.
#[test]
fn issue13_a_read_only_store_answers_reads_and_refuses_writes() {
    let v = TestVault::new();
    v.write("a.md", "# A\nreadable words\n");
    v.sync();
    let _restore = v.make_state_read_only();
    let run = |args: &[&str], stdin: &[u8]| -> util::Run {
        let mut cmd = v.cmd();
        cmd.args(args);
        util::output_with_stdin(util::without_root_override(cmd), stdin)
    };
    let r = run(&["--json", "list"], b"");
    assert_eq!(r.code, 0, "list on a read-only store:\n{}", r.stderr);
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = run(&["--json", "search", "readable"], b"");
    assert_eq!(r.code, 0, "search on a read-only store:\n{}", r.stderr);
    assert_eq!(r.json().as_array().unwrap().len(), 1, "{}", r.stdout);
    let r = run(&["get", "note/a"], b"");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "# A\nreadable words\n");
    let r = run(&["put", "note/z"], b"# Z\nrefused\n");
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("read-only") && r.stderr.contains("writable"),
        "a refused write says the folder is read-only and what to do:\n{}",
        r.stderr
    );
    let names = state_files(&v, "brain.db");
    assert_eq!(names, ["brain.db"], "nothing was written beside the store");
}

/// `brain mcp` (stdio) with its store deleted under it, its client still connected: it does
/// not stay up refusing every write, but says what happened and what to do on stderr and exits
/// 1 by itself; nothing recreates the store.
#[test]
fn issue13_brain_mcp_exits_when_its_store_is_deleted() {
    use std::io::{BufRead, BufReader, Write};
    let v = TestVault::new();
    v.write("a.md", "# A\nbefore\n");
    v.sync();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("mcp.err");
    let mut child = v
        .cmd()
        .arg("mcp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Held open to the end: the session must end by itself, not because its client left.
    let mut stdin = child.stdin.take().unwrap();
    let mut server = util::daemon::Daemon { child };
    let init = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "store_integrity", "version": "0"}}});
    writeln!(stdin, "{init}").unwrap();
    stdin.flush().unwrap();
    let mut line = String::new();
    BufReader::new(server.child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.contains("\"capabilities\""),
        "brain mcp answers: {line}"
    );

    std::fs::remove_file(v.path(".brain/brain.db")).unwrap();
    // Generous: it looks about once a second; the bound only turns a server that never
    // notices into a failure instead of a hang.
    let status = wait_for(Duration::from_secs(60), "brain mcp to exit", || {
        server.child.try_wait().unwrap()
    });
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    let store = v.path(".brain/brain.db").display().to_string();
    assert!(
        stderr.contains("brain mcp stopped")
            && stderr.contains(&format!("the store {store} was deleted while"))
            && stderr.contains("brain doctor --rebuild"),
        "brain mcp says what happened, on which file, and what to do:\n{stderr}"
    );
    assert!(!v.path(".brain/brain.db").exists(), "nothing recreated it");
    drop(stdin);
    v.ok(&["doctor", "--rebuild"]);
    assert_eq!(util::listed(&v, &[]), ["note/a"]);
}

/// Issue 19: a rebuild gives every note the earlier versions the old store kept, as far as it
/// reads: a note whose file holds the old store's current text keeps its version number; one
/// whose file holds other text gains the old current version as an earlier one.
#[test]
fn doctor_rebuild_recovers_each_note_s_history() {
    let v = TestVault::new();
    v.write("a.md", "# A\none\n");
    v.write("b.md", "# B\nfirst\n");
    v.write("d.md", "# D\ngone\n");
    v.sync();
    v.write("a.md", "# A\ntwo\n");
    v.write("b.md", "# B\nsecond\n");
    v.sync();
    v.ok(&["rm", "note/d"]);
    v.sync();
    v.ok(&["sync", "pause"]);
    v.ok(&[
        "edit",
        "note/a",
        "--append",
        "three",
        "-m",
        "the store's edit",
    ]);
    assert_eq!(
        v.read("a.md"),
        b"# A\ntwo\n",
        "the edit is in the store only"
    );

    let r = v.ok(&["--json", "doctor", "--rebuild"]).json();
    assert_eq!(r["history_recovered"]["notes"], 2, "{r}");
    assert_eq!(r["history_recovered"]["versions"], 4, "{r}");
    assert_eq!(r["history_not_recovered"], serde_json::json!([]), "{r}");
    assert_eq!(
        r["history_of_deleted_notes_left"],
        serde_json::json!(["note/d"])
    );

    let numbers = |id: &str| -> Vec<u64> {
        let h = v.ok(&["--json", "history", id]).json();
        h.as_array()
            .unwrap()
            .iter()
            .map(|x| x["number"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(numbers("note/a"), [1, 2, 3, 4]);
    assert_eq!(numbers("note/b"), [1, 2]);
    let text = |id: &str, n: &str| v.ok(&["get", id, "--version", n]).stdout;
    assert_eq!(text("note/a", "1"), "# A\none\n");
    assert_eq!(text("note/a", "2"), "# A\ntwo\n");
    assert_eq!(text("note/a", "3"), "# A\ntwo\nthree\n");
    assert_eq!(
        text("note/a", "4"),
        "# A\ntwo\n",
        "the rebuilt note is the file's text"
    );
    assert_eq!(text("note/b", "1"), "# B\nfirst\n");
    assert_eq!(text("note/b", "2"), "# B\nsecond\n");
    let h = v.ok(&["history", "note/a"]).stdout;
    assert!(
        h.contains("the store's edit"),
        "the maker and message come along:\n{h}"
    );

    let said = v.ok(&["doctor", "--rebuild"]).stdout;
    assert!(
        said.contains("earlier version(s) of 2 note(s) recovered"),
        "a second rebuild recovers the history the first one wrote:\n{said}"
    );
    assert_eq!(numbers("note/a"), [1, 2, 3, 4]);
}
