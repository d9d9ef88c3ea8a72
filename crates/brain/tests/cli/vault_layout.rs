//! Where a vault is and what its ids name (issue 13, items 6, 9 and 10): commands run in a
//! subfolder work on the vault above them, as git does, and no vault is made inside another;
//! `brain serve` stops when its vault folder is moved away or replaced, touching nothing at the
//! old path; an id typed with the file's `.md` is refused with the id meant, and a missing id
//! is answered with the one the caller most likely meant.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use brain_store::StoreError;
use brain_store_sqlite::testing;
use serde_json::{Value, json};
use util::daemon::{DEBOUNCE_MS, wait_for};
use util::{Run, TestVault, brain_bin, listed};

/// `brain ARGS` run in `dir` with a clean environment and no `--vault`, plus `env`.
fn run_in(dir: &Path, env: &[(&str, &str)], args: &[&str], stdin: &[u8]) -> Run {
    let mut cmd = Command::new(brain_bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("brain runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap().into()
}

/// The path as the binary reports it: the real one (a temp folder may be reached through a
/// symbolic link).
fn real(p: &Path) -> String {
    std::fs::canonicalize(p).unwrap().display().to_string()
}

#[test]
fn issue13_init_inside_a_vault_is_refused_naming_the_outer_vault() {
    let v = TestVault::new();
    v.write("Projects/Inner/note.md", "# Inner\n");
    let inner = v.path("Projects/Inner");
    let outer = real(v.root());

    let refused = |r: &Run, what: &str| {
        assert_eq!(
            r.code, 1,
            "{what} was not refused\n{}{}",
            r.stdout, r.stderr
        );
        assert!(
            r.stderr.contains("inside the brain vault") && r.stderr.contains(&outer),
            "{what}: the refusal must name the outer vault {outer}: {}",
            r.stderr
        );
        assert!(
            !inner.join(".brain").exists(),
            "{what} made a vault inside a vault"
        );
    };
    refused(
        &run_in(&inner, &[], &["init"], b""),
        "`brain init` in a subfolder",
    );
    let named = inner.display().to_string();
    refused(
        &run_in(v.root(), &[], &["--vault", &named, "init"], b""),
        "`brain --vault SUBFOLDER init`",
    );
    refused(
        &run_in(v.root(), &[], &["--vault", &named, "git", "init"], b""),
        "`brain --vault SUBFOLDER git init`",
    );
    // The outer vault still syncs the subfolder's note as its own, once.
    v.sync();
    assert_eq!(listed(&v, &[]), ["note/Projects/Inner/note"]);
}

#[test]
fn issue13_commands_in_a_subfolder_work_on_the_vault_above_them() {
    let v = TestVault::new();
    v.write("Projects/Plan.md", "# Plan\n");
    v.sync();
    let deep = v.path("Projects/deeper/still");
    std::fs::create_dir_all(&deep).unwrap();

    let r = run_in(&deep, &[], &["--json", "list"], b"");
    assert_eq!(r.code, 0, "list in a subfolder failed: {}", r.stderr);
    let ids: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        ["Projects/Plan"],
        "list in a subfolder must list the vault above"
    );

    let r = run_in(
        &deep,
        &[],
        &["put", "note/Inbox/from-sub"],
        b"# From a subfolder\n",
    );
    assert_eq!(r.code, 0, "put in a subfolder failed: {}", r.stderr);
    assert_eq!(
        v.entity_content("note/Inbox/from-sub").as_deref(),
        Some("# From a subfolder\n"),
        "the note went to the vault above"
    );
    for dir in [
        deep.as_path(),
        &v.path("Projects/deeper"),
        &v.path("Projects"),
    ] {
        assert!(
            !dir.join(".brain").exists(),
            "a store was made in {}",
            dir.display()
        );
    }

    // A vault named explicitly is taken as given, never searched for above it.
    let named = deep.display().to_string();
    for r in [
        run_in(v.root(), &[], &["--vault", &named, "list"], b""),
        run_in(v.root(), &[("BRAIN_VAULT", &named)], &["list"], b""),
    ] {
        assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("is not a brain vault") && r.stderr.contains(&named),
            "{}",
            r.stderr
        );
    }
    // Outside any vault, the advice is still to run `brain init`.
    let elsewhere = tempfile::tempdir().unwrap();
    let r = run_in(elsewhere.path(), &[], &["list"], b"");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("brain init"), "{}", r.stderr);
}

/// A `brain mcp` over stdio, spoken to in JSON-RPC lines as any client speaks.
struct Mcp {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<ChildStdout>>,
    next_id: i64,
}

impl Mcp {
    fn start(v: &TestVault) -> Mcp {
        let mut child = v
            .cmd()
            .arg("mcp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("brain mcp starts");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut mcp = Mcp {
            child,
            stdin,
            lines,
            next_id: 1,
        };
        let init = mcp.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "vault_layout", "version": "0"}}),
        );
        assert!(
            init["result"]["capabilities"]["tools"].is_object(),
            "{init}"
        );
        mcp.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        mcp
    }

    fn send(&mut self, msg: Value) {
        writeln!(self.stdin, "{msg}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let line = self.lines.next().expect("brain mcp answers").unwrap();
            let msg: Value = serde_json::from_str(&line).expect("a JSON line");
            if msg["id"] == json!(id) {
                return msg;
            }
        }
    }

    /// Calls a tool; returns whether it failed and its structured content.
    fn call(&mut self, tool: &str, args: Value) -> (bool, Value) {
        let resp = self.request("tools/call", json!({"name": tool, "arguments": args}));
        let result = &resp["result"];
        (
            result["isError"] == json!(true),
            result["structuredContent"].clone(),
        )
    }

    /// Calls a tool that must fail with `kind`; returns its message.
    fn error(&mut self, tool: &str, args: Value, kind: &str) -> String {
        let (failed, doc) = self.call(tool, args.clone());
        assert!(failed, "{tool}({args}) should fail, got {doc}");
        assert_eq!(doc["error"]["kind"], kind, "{tool}({args}): {doc}");
        doc["error"]["message"].as_str().unwrap().to_string()
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn issue13_an_id_typed_with_md_is_refused_naming_the_id_meant() {
    let v = TestVault::new();
    for (id, meant) in [
        ("note/Welcome.md", "note/Welcome"),
        ("note/inbox/x.MD", "note/inbox/x"),
    ] {
        let r = v.run_stdin(&["put", id], b"# Welcome\n");
        assert_eq!(
            r.code, 1,
            "put {id} was not refused: {}{}",
            r.stdout, r.stderr
        );
        assert!(
            r.stderr.contains(&format!("use {meant}")) && r.stderr.contains("its file would be"),
            "put {id}: the refusal must say why and name {meant}: {}",
            r.stderr
        );
    }
    let mut mcp = Mcp::start(&v);
    let message = mcp.error(
        "create",
        json!({"type": "note", "id": "inbox/x.md", "content": "# x\n"}),
        "unsafe_id",
    );
    assert!(message.contains("use note/inbox/x"), "{message}");
    let (failed, doc) = mcp.call(
        "update",
        json!({"type": "note", "id": "inbox/x.md", "content": "# x\n"}),
    );
    assert!(failed, "{doc}");

    // Nothing was stored or written: no note, no `NAME.md.md` after a sync.
    v.sync();
    assert!(listed(&v, &[]).is_empty());
    assert!(v.snapshot().is_empty(), "{:?}", v.snapshot().keys());

    // The id meant works; a file really named `odd.md.md` is the note `odd.md`, still writable.
    let (failed, doc) = mcp.call(
        "create",
        json!({"type": "note", "id": "inbox/x", "content": "# x\n"}),
    );
    assert!(!failed, "{doc}");
    assert_eq!(doc["path"], "inbox/x.md");
    v.write("odd.md.md", "# odd\n");
    v.sync();
    let r = v.run_stdin(&["put", "note/odd.md"], b"# odd\n\nedited\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(listed(&v, &[]), ["note/inbox/x", "note/odd.md"]);
}

#[test]
fn issue13_a_missing_id_is_answered_with_the_one_meant() {
    let v = TestVault::new();
    v.write("Welcome.md", "# Welcome\n");
    v.write("Projects/Plan.md", "# Plan\n\nThe plan.\n");
    v.write("Projects/Roadmap 2026.md", "# Roadmap 2026\n");
    v.write("Archive/Old.md", "# Old\n");
    v.sync();
    let mut mcp = Mcp::start(&v);
    for (asked, meant) in [
        ("Welcome.md", "note/Welcome"),
        ("welcome", "note/Welcome"),
        ("projects/plan", "note/Projects/Plan"),
        ("Projects/Roadmap 2025", "note/Projects/Roadmap 2026"),
        ("Projects/Plna", "note/Projects/Plan"),
    ] {
        let message = mcp.error("get", json!({"type": "note", "id": asked}), "not_found");
        assert!(
            message.contains(&format!("did you mean {meant}?")),
            "get {asked}: expected {meant} suggested: {message}"
        );
    }
    // Nothing close: no guess.
    let message = mcp.error("get", json!({"type": "note", "id": "Zebra"}), "not_found");
    assert!(!message.contains("did you mean"), "{message}");
    // The CLI is told the same, by `rm` (which reads the note first) and by `get`.
    for (cmd, id) in [
        ("rm", "note/Welcome.md"),
        ("get", "note/Welcome.md"),
        ("get", "note/welcome"),
    ] {
        let r = v.run(&[cmd, id]);
        assert_eq!(r.code, 4, "{cmd} {id}: {}", r.stderr);
        assert!(
            r.stderr.contains("did you mean note/Welcome?"),
            "{cmd} {id}: {}",
            r.stderr
        );
    }
}

/// The vault folder moved out of the way of a test, put back (or removed) when it ends.
struct Moved {
    to: PathBuf,
    back: PathBuf,
}

impl Drop for Moved {
    fn drop(&mut self) {
        if self.to.exists() {
            let _ = std::fs::remove_dir_all(&self.back);
            let _ = std::fs::rename(&self.to, &self.back);
        }
    }
}

/// Starts `brain serve` as `TestVault::serve` does, with its stderr kept for the test.
fn serve_keeping_stderr(v: &TestVault) -> Child {
    let child = v
        .cmd()
        .env("BRAIN_SERVE_SYNC_DEBOUNCE_MS", DEBOUNCE_MS.to_string())
        .env("BRAIN_SERVE_INITIAL_SYNC_DELAY_MS", "0")
        .env("BRAIN_JOBS_LEASE_MS", "2000")
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("brain serve starts");
    let pid = child.id();
    let store = v.store();
    wait_for(Duration::from_secs(60), "brain serve to be ready", || {
        let state = store.runtime_state("serve").ok()??.value;
        (state["pid"] == pid && state["state"] == "ready").then_some(())
    });
    child
}

/// Waits (with a deadline) for the daemon to exit on its own; returns its code and stderr.
fn exit_of(mut child: Child) -> (i32, String) {
    let status = wait_for(
        Duration::from_secs(60),
        "brain serve (or brain mcp) to stop by itself",
        || child.try_wait().unwrap(),
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code().unwrap_or(-1), stderr)
}

/// A daemon serving a synced vault holding `a.md`, idle, and the vault folder moved away.
fn served_then_moved(v: &TestVault) -> (Child, Moved) {
    v.write("a.md", "# A\n");
    let child = serve_keeping_stderr(v);
    v.settle();
    assert_eq!(v.entity_content("note/a").as_deref(), Some("# A\n"));
    let name = v.root().file_name().unwrap().to_string_lossy().into_owned();
    let moved = Moved {
        to: v.root().with_file_name(format!("{name}-moved")),
        back: v.root().to_path_buf(),
    };
    std::fs::rename(v.root(), &moved.to).unwrap();
    (child, moved)
}

/// Asserts the daemon said which folder and what to do, and the store it kept is the moved
/// vault's, untouched: `a` live, nothing else.
fn stopped_clearly(v: &TestVault, code: i32, stderr: &str, moved: &Moved) {
    assert_eq!(
        code, 1,
        "brain serve must fail when its folder goes: {stderr}"
    );
    let path = v.root().display().to_string();
    assert!(
        stderr.contains(&format!("the vault folder {path}"))
            && stderr.contains("start `brain serve` again where the vault is now"),
        "the daemon must say which folder changed and what to do: {stderr}"
    );
    let store = testing::at(&moved.to.join(".brain/brain.db")).unwrap();
    assert_eq!(
        store.get(&"note/a".parse().unwrap()).unwrap().content(),
        "# A\n"
    );
    assert!(matches!(
        store.get(&"note/new".parse().unwrap()),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.count_live().unwrap(), 1);
}

#[test]
fn issue13_a_daemon_whose_vault_folder_is_replaced_stops_and_leaves_the_new_folder_alone() {
    let v = TestVault::new();
    let (child, moved) = served_then_moved(&v);
    std::fs::create_dir(v.root()).unwrap();
    v.write("new.md", "# New\n");

    let (code, stderr) = exit_of(child);
    stopped_clearly(&v, code, &stderr, &moved);
    let mut here: Vec<String> = std::fs::read_dir(v.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    here.sort();
    assert_eq!(
        here,
        ["new.md"],
        "the daemon created something in the new folder"
    );
    assert_eq!(
        std::fs::read_to_string(v.path("new.md")).unwrap(),
        "# New\n"
    );
}

#[test]
fn issue13_a_daemon_whose_vault_folder_is_moved_away_stops() {
    let v = TestVault::new();
    let (child, moved) = served_then_moved(&v);
    let (code, stderr) = exit_of(child);
    assert!(stderr.contains("moved away or deleted"), "{stderr}");
    stopped_clearly(&v, code, &stderr, &moved);
    assert!(
        !v.root().exists(),
        "the daemon made something at the old path"
    );
    // Put back, the vault is whole and serves again.
    drop(moved);
    v.settle();
    assert_eq!(listed(&v, &[]), ["note/a"]);
}

/// A folder that became a vault of its own (a vault copied in, or made before the refusal
/// above existed) is not synced by the outer vault: listed as skipped with the reason, none of
/// its new notes imported, the notes the outer vault had from it kept as they were, and no
/// write of the outer vault lands in it.
#[test]
fn issue13_a_folder_that_is_a_vault_of_its_own_is_skipped_and_loses_nothing() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    v.write("Sub/x.md", "# X\n");
    v.sync();
    assert_eq!(listed(&v, &[]), ["note/Sub/x", "note/a"]);

    std::fs::create_dir_all(v.path("Sub/.brain")).unwrap();
    v.write("Sub/y.md", "# Y, the inner vault's own\n");
    std::fs::remove_file(v.path("Sub/x.md")).unwrap();
    let r = v.run(&["--json", "sync"]);
    assert_eq!(r.code, 3, "done with a skip\n{}{}", r.stdout, r.stderr);
    let report = r.json();
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{report}");
    assert_eq!(skipped[0]["path"], "Sub", "{report}");
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("a vault of its own"),
        "{report}"
    );
    assert_eq!(report["imported"], 0, "{report}");
    assert_eq!(report["deleted"], 0, "{report}");
    assert_eq!(
        listed(&v, &[]),
        ["note/Sub/x", "note/a"],
        "nothing of the inner vault is imported or deleted"
    );

    let put = v.run_stdin(&["put", "note/Sub/z"], b"# Z\n");
    assert_eq!(put.code, 1, "{}{}", put.stdout, put.stderr);
    assert!(!v.path("Sub/z.md").exists());
    assert_eq!(listed(&v, &[]), ["note/Sub/x", "note/a"]);
}

/// The `error:` line a process ended with: what it says last, once it stopped.
fn final_error(stderr: &str) -> &str {
    stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no final error line:\n{stderr}"))
}

/// Copies the files and folders in `from` into a new folder `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Swaps two folders in one step (`renameat2` with `RENAME_EXCHANGE`), so a process watching
/// either path never sees it missing in between.
#[allow(unsafe_code)]
fn exchange(a: &Path, b: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes()).unwrap();
    let b = std::ffi::CString::new(b.as_os_str().as_bytes()).unwrap();
    // SAFETY: two valid NUL-terminated paths, relative to nothing (absolute).
    let done = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    assert_eq!(done, 0, "{}", std::io::Error::last_os_error());
}

/// A daemon serving a synced vault holding `a.md`, idle; and a folder for what the test moves
/// out of the vault.
fn served_idle(v: &TestVault) -> (Child, tempfile::TempDir) {
    v.write("a.md", "# A\n");
    let child = serve_keeping_stderr(v);
    v.settle();
    assert_eq!(v.entity_content("note/a").as_deref(), Some("# A\n"));
    (child, tempfile::tempdir().unwrap())
}

/// Asserts the daemon named the state folder, not the vault folder, as what changed.
fn names_the_state_folder(v: &TestVault, code: i32, stderr: &str) {
    assert_eq!(
        code, 1,
        "brain serve must fail when its .brain/ goes: {stderr}"
    );
    let last = final_error(stderr);
    let state = v.path(".brain").display().to_string();
    assert!(
        last.contains(&format!("the vault's state folder {state}")),
        "the daemon must name the state folder: {stderr}"
    );
    let root = v.root().display().to_string();
    assert!(
        !stderr.contains(&format!("the vault folder {root} was")),
        "only .brain/ changed, not the vault folder: {stderr}"
    );
}

/// `.brain/` moved away and a copy put in its place (`mv .brain x && cp -r x .brain`): the
/// daemon says its state folder was replaced, so its store is another one now, and to start
/// `brain serve` again to use it; not that the vault folder was replaced.
#[test]
fn issue13_a_daemon_whose_state_folder_is_replaced_by_a_copy_says_to_serve_the_new_store() {
    let v = TestVault::new();
    let (child, aside) = served_idle(&v);
    let copy = aside.path().join("copy");
    copy_dir(&v.path(".brain"), &copy);
    exchange(&v.path(".brain"), &copy);

    let (code, stderr) = exit_of(child);
    names_the_state_folder(&v, code, &stderr);
    let last = final_error(&stderr);
    assert!(
        last.contains("was replaced by another one")
            && last.contains("start `brain serve` again")
            && last.contains("to use the new store"),
        "{stderr}"
    );
    // The new store is whole.
    assert_eq!(listed(&v, &[]), ["note/a"]);
}

/// `.brain/` removed under the daemon: it says so, that the notes are untouched and how to
/// build a new store (`brain init` and `brain sync`, since its settings went too), and makes
/// nothing there.
#[test]
fn issue13_a_daemon_whose_state_folder_is_removed_says_so_and_recreates_nothing() {
    let v = TestVault::new();
    let (child, aside) = served_idle(&v);
    std::fs::rename(v.path(".brain"), aside.path().join("state")).unwrap();

    let (code, stderr) = exit_of(child);
    names_the_state_folder(&v, code, &stderr);
    let last = final_error(&stderr);
    assert!(
        last.contains("was removed")
            && last.contains("notes")
            && last.contains("`brain init` and `brain sync`"),
        "{stderr}"
    );
    assert!(
        !v.path(".brain").exists(),
        "the daemon made a .brain/ again"
    );
    assert_eq!(v.read("a.md"), b"# A\n");
    // The advice works: a new store from the notes.
    v.ok(&["init"]);
    v.sync();
    assert_eq!(listed(&v, &[]), ["note/a"]);
}

/// `.brain/` replaced by one holding its settings but no store: the daemon says so, and to run
/// `brain doctor --rebuild`, which then brings the vault back.
#[test]
fn issue13_a_daemon_whose_state_folder_lost_its_store_says_to_rebuild() {
    let v = TestVault::new();
    let (child, aside) = served_idle(&v);
    let bare = aside.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    std::fs::copy(v.path(".brain/config.toml"), bare.join("config.toml")).unwrap();
    exchange(&v.path(".brain"), &bare);

    let (code, stderr) = exit_of(child);
    names_the_state_folder(&v, code, &stderr);
    let last = final_error(&stderr);
    assert!(
        last.contains("holds no store") && last.contains("brain doctor --rebuild"),
        "{stderr}"
    );
    assert!(!v.path(".brain/brain.db").exists(), "nothing made a store");
    v.ok(&["doctor", "--rebuild"]);
    assert_eq!(listed(&v, &[]), ["note/a"]);
}

/// The whole vault moved under the daemon: it says the vault folder moved, never that its
/// store was deleted (the store is whole, at the vault's new place), and exits 1.
#[test]
fn issue13_a_daemon_whose_vault_folder_is_moved_never_says_its_store_was_deleted() {
    let v = TestVault::new();
    let (child, moved) = served_then_moved(&v);
    let (code, stderr) = exit_of(child);
    stopped_clearly(&v, code, &stderr, &moved);
    assert!(
        final_error(&stderr).contains("moved away or deleted"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("was deleted while"),
        "a store moved with its vault is not a store deleted: {stderr}"
    );
}

/// `brain mcp` over stdio, its stderr kept, initialized as a client does; stdin held open.
fn mcp_keeping_stderr(v: &TestVault) -> (Child, ChildStdin) {
    let mut child = v
        .cmd()
        .arg("mcp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("brain mcp starts");
    let mut stdin = child.stdin.take().unwrap();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "vault_layout", "version": "0"}}});
    writeln!(stdin, "{init}").unwrap();
    stdin.flush().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("\"capabilities\""), "{line}");
    (child, stdin)
}

/// `brain mcp` whose vault folder is moved away: it says the vault folder moved and exits 1
/// by itself (the client sees the server go), making nothing at the old path.
#[test]
fn issue13_brain_mcp_stops_when_its_vault_folder_is_moved() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    v.sync();
    let (child, _stdin) = mcp_keeping_stderr(&v);
    let name = v.root().file_name().unwrap().to_string_lossy().into_owned();
    let moved = Moved {
        to: v.root().with_file_name(format!("{name}-moved")),
        back: v.root().to_path_buf(),
    };
    std::fs::rename(v.root(), &moved.to).unwrap();

    let (code, stderr) = exit_of(child);
    assert_eq!(code, 1, "{stderr}");
    let last = final_error(&stderr);
    let path = v.root().display().to_string();
    assert!(
        last.contains("brain mcp stopped")
            && last.contains(&format!(
                "the vault folder {path} was moved away or deleted"
            ))
            && last.contains("restart the MCP client"),
        "{stderr}"
    );
    assert!(!stderr.contains("was deleted while"), "{stderr}");
    assert!(
        !v.root().exists(),
        "brain mcp made something at the old path"
    );
    drop(moved);
    assert_eq!(listed(&v, &[]), ["note/a"]);
}
