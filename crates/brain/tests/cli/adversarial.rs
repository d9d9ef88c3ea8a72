//! Issue 2: bad input is reported per file with a reason, skipped, and never modified.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

use std::collections::BTreeMap;

use util::{TestVault, listed};

fn skipped_of(report: &serde_json::Value) -> BTreeMap<String, String> {
    report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn adversarial_vault_is_reported_skipped_and_untouched() {
    let v = TestVault::generated(40, true);
    v.set_config("[sync]\nmax_file_bytes = 1048576\n");
    std::os::unix::fs::symlink(v.root(), v.path("zz-adversarial/loop")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", v.path("outside.md")).unwrap();
    let before = v.snapshot();

    let r = v.run(&["--json", "sync"]);
    assert_eq!(r.code, 3, "complete-with-skipped exit code\n{}", r.stderr);
    let report = r.json();
    let skipped = skipped_of(&report);
    let expect = [
        ("zz-adversarial/invalid-yaml.md", "invalid YAML"),
        ("zz-adversarial/unterminated-frontmatter.md", "never closed"),
        ("zz-adversarial/empty.md", "empty file"),
        ("zz-adversarial/binary-image.md", "binary data"),
        ("zz-adversarial/invalid-utf8.md", "invalid UTF-8"),
        ("zz-adversarial/huge-5mb.md", "over the limit"),
        ("zz-adversarial/loop", "symbolic link"),
        ("outside.md", "symbolic link"),
    ];
    for (path, reason) in expect {
        let got = skipped
            .get(path)
            .unwrap_or_else(|| panic!("{path} not reported: {skipped:#?}"));
        assert!(got.contains(reason), "{path}: {got}");
    }
    let collisions: Vec<_> = skipped
        .iter()
        .filter(|(_, r)| r.contains("Unicode normalization"))
        .collect();
    assert_eq!(
        collisions.len(),
        1,
        "one of the NFC/NFD pair is a conflict: {skipped:#?}"
    );
    assert_eq!(skipped.len(), expect.len() + 1, "{skipped:#?}");
    assert_eq!(report["conflicts"].as_array().unwrap().len(), 1);

    let notes = listed(&v, &[]);
    assert!(
        notes.len() >= 40 + 12,
        "regular and odd-but-valid notes imported: {}",
        notes.len()
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("note/zz-adversarial/long-xxx"))
    );
    assert!(notes.iter().any(|n| n.contains("日本語のノート")));
    assert!(notes.iter().any(|n| n.contains("🚀 rocket launch 🎉")));
    let numeric = v
        .ok(&["--json", "get", "note/zz-adversarial/numeric-title"])
        .json();
    assert_eq!(numeric["title"], "12345");
    let bom = v.ok(&["get", "note/zz-adversarial/bom-crlf"]).stdout;
    assert!(bom.starts_with('\u{feff}') && bom.contains("\r\n"));

    assert_eq!(v.snapshot(), before, "sync modified files on disk");
    let again = v.run(&["--json", "sync"]);
    assert_eq!(again.code, 3);
    let again = again.json();
    assert_eq!(again["imported"], 0);
    assert_eq!(
        skipped_of(&again).len(),
        expect.len() + 1,
        "bad files are retried each sync"
    );
    assert_eq!(v.snapshot(), before);

    std::fs::write(
        v.path("zz-adversarial/invalid-yaml.md"),
        "---\ntitle: Fixed\n---\nnow valid\n",
    )
    .unwrap();
    let fixed = v.run(&["--json", "sync"]).json();
    assert_eq!(
        fixed["imported"], 1,
        "a fixed file is imported on the next sync: {fixed}"
    );
}

#[test]
fn unreadable_file_is_skipped_and_retried() {
    use std::os::unix::fs::PermissionsExt;
    let v = TestVault::new();
    v.write("ok.md", "fine\n");
    v.write("locked.md", "secret\n");
    std::fs::set_permissions(v.path("locked.md"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut cmd = util::without_root_override(v.cmd());
    let out: util::Run = cmd.args(["--json", "sync"]).output().unwrap().into();
    assert_eq!(out.code, 3, "{}", out.stderr);
    let report = out.json();
    let skipped = skipped_of(&report);
    assert!(
        skipped["locked.md"].contains("permission denied"),
        "{skipped:?}"
    );
    assert_eq!(listed(&v, &[]), ["note/ok"]);
    std::fs::set_permissions(v.path("locked.md"), std::fs::Permissions::from_mode(0o644)).unwrap();
    // Restoring permissions does not change size or mtime; the file has no base, so it is read.
    let r = v.sync();
    assert_eq!(r["imported"], 1, "{r}");
}

#[test]
fn unreadable_folder_is_not_a_deletion() {
    use std::os::unix::fs::PermissionsExt;
    let v = TestVault::new();
    v.write("sub/a.md", "a\n");
    v.write("top.md", "t\n");
    v.sync();
    std::fs::set_permissions(v.path("sub"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut cmd = util::without_root_override(v.cmd());
    let out: util::Run = cmd.args(["--json", "sync"]).output().unwrap().into();
    std::fs::set_permissions(v.path("sub"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(out.json()["deleted"], 0);
    assert_eq!(listed(&v, &[]), ["note/sub/a", "note/top"]);
}

/// Runs `brain ARGS` with `stdin`, failing (and killing it) if it has not finished within a
/// deadline: a named pipe opened for reading blocks forever, which must fail, not hang, the
/// test.
fn run_within_deadline(v: &TestVault, args: &[&str], stdin: &[u8]) -> util::Run {
    use std::io::Write;
    let mut child = v
        .cmd()
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(120)) {
        Ok(out) => out.unwrap().into(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            panic!("brain {args:?} hung (a named pipe opened?)");
        }
    }
}

/// Issue 13 item 3: `brain put` of a note whose file sync never reads (a real 50 MB file, a
/// 2 GB sparse file, a named pipe, a synced note's file grown past the limit) is refused up
/// front, naming the file, why and what to do, and stores nothing: `get` answers what the file
/// holds (or not found), no export waits, and every sync lists those files as skipped with
/// their reason, never as "changed on disk during the sync". Nothing hangs on the pipe.
#[test]
fn issue13_put_refuses_a_note_whose_file_sync_never_reads() {
    use std::os::unix::fs::FileTypeExt;
    let v = TestVault::new();
    v.write("grown.md", "# Grown\n");
    v.write("ok.md", "# Ok\n");
    v.sync();
    v.write("big50.md", vec![b'x'; 50 * 1024 * 1024]);
    std::fs::File::create(v.path("sparse.md"))
        .unwrap()
        .set_len(2 * 1024 * 1024 * 1024)
        .unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(v.path("grown.md"))
        .unwrap()
        .set_len(50 * 1024 * 1024)
        .unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(v.path("pipe.md"))
        .status()
        .unwrap();
    assert!(st.success());
    let before = |rel: &str| std::fs::symlink_metadata(v.path(rel)).unwrap().len();
    let sizes: Vec<u64> = ["big50.md", "sparse.md", "grown.md"]
        .iter()
        .map(|p| before(p))
        .collect();

    for (id, file, says, todo) in [
        (
            "note/big50",
            "big50.md",
            "52428800 bytes, over the limit",
            "move or shrink",
        ),
        (
            "note/sparse",
            "sparse.md",
            "2147483648 bytes, over the limit",
            "move or shrink",
        ),
        (
            "note/grown",
            "grown.md",
            "52428800 bytes, over the limit",
            "move or shrink",
        ),
        (
            "note/pipe",
            "pipe.md",
            "named pipe (FIFO), not a regular file",
            "remove or rename",
        ),
    ] {
        let r = run_within_deadline(&v, &["put", id], b"# New text\n");
        assert_eq!(r.code, 1, "{id}: {}\n{}", r.stdout, r.stderr);
        for part in [&format!("{id} was not stored"), file, says, todo] {
            assert!(r.stderr.contains(part), "{id}: no {part:?} in {}", r.stderr);
        }
    }
    assert_eq!(v.run(&["get", "note/big50"]).code, 4);
    assert_eq!(v.run(&["get", "note/pipe"]).code, 4);
    assert_eq!(v.ok(&["get", "note/grown"]).stdout, "# Grown\n");
    assert_eq!(v.ok(&["get", "note/ok"]).stdout, "# Ok\n");

    for _ in 0..2 {
        let r = run_within_deadline(&v, &["--json", "sync"], b"");
        assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
        let report = r.json();
        let skipped = skipped_of(&report);
        for (path, reason) in [
            ("big50.md", "over the limit"),
            ("sparse.md", "over the limit"),
            ("grown.md", "over the limit"),
            ("pipe.md", "named pipe (FIFO), not a regular file"),
        ] {
            let got = skipped
                .get(path)
                .unwrap_or_else(|| panic!("{path} not listed: {skipped:#?}"));
            assert!(got.contains(reason), "{path}: {got}");
        }
        assert_eq!(skipped.len(), 4, "{skipped:#?}");
        assert!(
            !r.stdout.contains("changed on disk during the sync"),
            "{report}"
        );
        assert_eq!(
            (report["exported"].as_u64(), report["deleted"].as_u64()),
            (Some(0), Some(0)),
            "{report}"
        );
    }
    let sizes_after: Vec<u64> = ["big50.md", "sparse.md", "grown.md"]
        .iter()
        .map(|p| before(p))
        .collect();
    assert_eq!(sizes_after, sizes, "files left as they were");
    assert!(
        std::fs::symlink_metadata(v.path("pipe.md"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

/// Issue 13 item 2, through the binary: the vault a `brain sync` killed right after writing a
/// conflict copy leaves behind (the copy on disk, nothing recorded). The next sync uses that
/// copy rather than writing a second identical one, and `brain conflicts list` names it.
#[test]
fn issue13_a_conflict_copy_a_killed_sync_left_is_used_once_and_listed() {
    let v = TestVault::new();
    v.write("n.md", "# N\n\nbase\n");
    v.sync();
    let store_side = "# N\n\nput by an agent\n";
    v.run_stdin(&["put", "note/n"], store_side.as_bytes());
    assert_eq!(v.ok(&["get", "note/n"]).stdout, store_side);
    v.write("n.md.tmp", "# N\n\nedited in a file\n");
    std::fs::rename(v.path("n.md.tmp"), v.path("n.md")).unwrap();
    // What the killed sync wrote before it could record anything.
    let left = "n.conflict-20260101-000000.md";
    v.write(left, store_side);

    let r = v.run(&["--json", "sync"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    let copies: Vec<String> = v
        .snapshot()
        .into_keys()
        .filter(|p| p.starts_with("n.conflict-"))
        .collect();
    assert_eq!(copies, [left], "{report}");
    assert_eq!(v.read(left), store_side.as_bytes());
    assert_eq!(report["conflicts"][0]["copy_path"], left, "{report}");
    let list = v.ok(&["--json", "conflicts", "list"]).json();
    let named: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["copy_path"].as_str())
        .collect();
    assert_eq!(named, [left], "{list}");
    assert_eq!(
        v.ok(&["get", "note/n.conflict-20260101-000000"]).stdout,
        store_side
    );
    assert_eq!(v.ok(&["get", "note/n"]).stdout, "# N\n\nedited in a file\n");
}

/// `brain status --json`'s notes not written to their file, as (path, reason).
fn unwritten_of(v: &TestVault) -> Vec<(String, String)> {
    let st = v.ok(&["--json", "status"]).json();
    let notes = st["unwritten"]["notes"].as_array().unwrap();
    assert_eq!(st["unwritten"]["count"], notes.len(), "{st}");
    notes
        .iter()
        .map(|n| {
            (
                n["path"].as_str().unwrap().to_string(),
                n["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Issue 13 item 3 (hostile test): a `brain put` acknowledged, then the note's file replaced by
/// one over `sync.max_file_bytes` before the export ran. The export neither reads nor writes
/// over the big file; its worker logs a WARN naming the job and the path; `brain status` lists
/// the note with the file's size and what to do; once the file is moved away, `brain sync`
/// writes the put's text and status lists nothing.
#[test]
fn issue13_an_edit_held_back_by_an_oversized_file_is_listed_until_the_file_is_moved() {
    let v = TestVault::new();
    v.set_config("[sync]\nmax_file_bytes = 4096\n");
    v.write("x.md", "# X\n\nold\n");
    v.sync();
    let edit = "# X\n\nput before the big file came\n";
    let put = v.run_stdin(&["put", "note/x"], edit.as_bytes());
    assert_eq!(put.code, 0, "{}\n{}", put.stdout, put.stderr);
    let big = vec![b'y'; 10_000];
    v.write("x.md", &big);

    // The export the put queued runs in this worker.
    let work = v.ok(&["work", "--until-idle"]);
    let exports = v.jobs_of("directory-export");
    assert_eq!(exports.len(), 1, "{exports:?}");
    let export = &exports[0];
    assert_eq!(
        export.state,
        brain_store::jobs::JobState::Succeeded,
        "{export:?}"
    );
    let warned = work
        .stderr
        .lines()
        .find(|l| {
            l.contains("WARN")
                && l.contains(&format!("job={}", export.id))
                && l.contains("path=x.md")
        })
        .unwrap_or_else(|| panic!("no WARN for the export on x.md:\n{}", work.stderr));
    for part in [
        "not written",
        "10000 bytes",
        "note/x",
        "move 'x.md'",
        "brain sync",
    ] {
        assert!(warned.contains(part), "no {part:?} in {warned}");
    }
    assert_eq!(v.read("x.md"), big, "the big file is left as it is");
    assert_eq!(v.ok(&["get", "note/x"]).stdout, edit, "the edit is kept");

    let listed = unwritten_of(&v);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].0, "x.md");
    for part in [
        "x.md holds a file of 10000 bytes, over sync.max_file_bytes (4096)",
        "move 'x.md' out of the vault or shrink it",
        "brain sync",
    ] {
        assert!(listed[0].1.contains(part), "no {part:?} in {}", listed[0].1);
    }
    let text = v.ok(&["status"]).stdout;
    assert!(
        text.contains("1 note not written to its file") && text.contains("x.md holds a file of"),
        "{text}"
    );

    std::fs::rename(v.path("x.md"), v.path("x.md.big")).unwrap();
    let r = v.run(&["--json", "sync"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(v.read("x.md"), edit.as_bytes(), "{}", r.stdout);
    assert!(unwritten_of(&v).is_empty(), "written, so no longer listed");
    assert!(!v.ok(&["status"]).stdout.contains("not written"));
}

/// Issue 13 item 3 (hostile test): `brain sync`'s skip reason for a path holding a named pipe
/// says when the store holds an edit of that path's note that is not written out (and what to
/// do), and says nothing of the kind for a pipe no note is waiting for.
#[test]
fn issue13_a_skipped_path_says_the_store_holds_an_unwritten_edit() {
    let v = TestVault::new();
    v.write("x.md", "# X\n\nold\n");
    v.sync();
    let put = v.run_stdin(&["put", "note/x"], b"# X\n\nnew\n");
    assert_eq!(put.code, 0, "{}\n{}", put.stdout, put.stderr);
    std::fs::remove_file(v.path("x.md")).unwrap();
    for pipe in ["x.md", "lone.md"] {
        let made = std::process::Command::new("mkfifo")
            .arg(v.path(pipe))
            .status()
            .unwrap();
        assert!(made.success());
    }

    let r = run_within_deadline(&v, &["--json", "sync"], b"");
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    let skipped = skipped_of(&report);
    assert_eq!(skipped.len(), 2, "{skipped:#?}");
    let x = &skipped["x.md"];
    for part in [
        "named pipe (FIFO)",
        "The store holds an edit of note/x that is not in this file",
        "kept in the store",
        "remove 'x.md' or move it out of the vault, then `brain sync` writes the note",
    ] {
        assert!(x.contains(part), "no {part:?} in {x}");
    }
    assert!(
        !skipped["lone.md"].contains("holds an edit"),
        "{}",
        skipped["lone.md"]
    );
    assert_eq!(report["unwritten"][0]["path"], "x.md", "{report}");
    assert_eq!(report["unwritten"].as_array().unwrap().len(), 1, "{report}");

    let text = run_within_deadline(&v, &["sync"], b"");
    assert_eq!(text.code, 3, "{}\n{}", text.stdout, text.stderr);
    assert!(
        text.stdout
            .contains("x.md: a named pipe (FIFO), not a regular file")
            && text.stdout.contains("holds an edit of note/x"),
        "{}",
        text.stdout
    );
    assert!(
        !text.stderr.contains("edit not written"),
        "the report says it; the log does not say it again: {}",
        text.stderr
    );
}
