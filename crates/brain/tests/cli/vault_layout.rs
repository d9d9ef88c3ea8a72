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

#[path = "vault_layout/moved.rs"]
mod moved;
