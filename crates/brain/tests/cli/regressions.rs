//! Issue 2 regressions found in review: each would have lost a version or broken sync.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

use std::os::unix::fs::PermissionsExt;

use util::{TestVault, listed};

#[test]
fn issue2_repeated_conflicts_keep_every_losing_version() {
    let v = TestVault::new();
    v.set_config("[sync]\nconflict_policy = \"file-wins\"\n");
    v.write("a.md", "base\n");
    v.sync();
    for round in ["store v1", "store v2 precious"] {
        v.run_stdin(&["put", "note/a"], format!("{round}\n").as_bytes());
        v.write("a.md", format!("file side of {round}, longer\n"));
        assert_eq!(v.sync()["conflicts"].as_array().unwrap().len(), 1);
    }
    let list = v.ok(&["--json", "conflicts", "list"]).json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let kept: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let id = c["id"].as_i64().unwrap().to_string();
            v.ok(&["--json", "conflicts", "show", &id]).json()["store_content"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        kept.contains(&"store v2 precious\n".to_string()),
        "{kept:?}"
    );
    assert!(kept.contains(&"store v1\n".to_string()), "{kept:?}");
}

#[test]
fn issue2_adding_an_entity_type_moves_existing_notes() {
    let v = TestVault::new();
    v.write("topic/rust.md", "# Rust\n");
    v.sync();
    assert_eq!(listed(&v, &[]), ["note/topic/rust"]);
    v.set_config("[vault]\nentity_types = [\"topic\"]\n");
    v.write("topic/rust.md", "# Rust\n\nedited\n");
    let r = v.sync();
    assert_eq!(r["renamed"], 1, "{r}");
    assert_eq!(listed(&v, &[]), ["topic/rust"]);
    assert_eq!(v.sync()["unchanged"], 1);
    v.ok(&["rm", "topic/rust"]);
    assert_eq!(v.sync()["trashed"], 1);
    assert!(listed(&v, &[]).is_empty());
}

#[test]
fn issue2_a_new_file_never_erases_a_deleted_note() {
    let v = TestVault::new();
    v.write("b.md", "old B important\n");
    v.write("a.md", "note a\n");
    v.sync();
    std::fs::remove_file(v.path("b.md")).unwrap();
    v.sync();
    std::fs::rename(v.path("a.md"), v.path("b.md")).unwrap();
    v.sync();
    v.write("a.md", "a new a\n");
    v.sync();
    std::fs::remove_file(v.path("a.md")).unwrap();
    v.sync();
    v.write("a.md", "yet another a\n");
    v.sync();
    let deleted = listed(&v, &["--deleted"]);
    let mut found_b = false;
    let mut found_a = false;
    for name in deleted.iter().filter(|n| n.contains(".deleted-")) {
        let restored = v.ok(&["--json", "restore", name]).json();
        found_b |= restored["content"] == "old B important\n";
        found_a |= restored["content"] == "a new a\n";
    }
    assert!(found_b && found_a, "deleted versions lost: {deleted:?}");
}

#[test]
fn issue2_a_folder_that_cannot_be_entered_is_not_a_deletion() {
    let v = TestVault::new();
    v.write("locked/a.md", "a\n");
    v.sync();
    std::fs::set_permissions(v.path("locked"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = util::without_root_override(v.cmd());
    let out: util::Run = cmd.args(["--json", "sync"]).output().unwrap().into();
    std::fs::set_permissions(v.path("locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(out.json()["deleted"], 0);
    assert_eq!(listed(&v, &[]), ["note/locked/a"]);
}

#[test]
fn issue2_puts_never_write_through_links_or_into_ignored_folders() {
    let v = TestVault::new();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), v.path("ext")).unwrap();
    v.write(".brainignore", "drafts/\n");
    v.write("drafts/keep.md", "ignored\n");
    for id in ["note/ext/evil", "note/drafts/plan"] {
        let r = v.run_stdin(&["put", id], b"x\n");
        assert_eq!(r.code, 1, "{id}: {}", r.stdout);
        assert!(r.stderr.contains("was not stored"), "{}", r.stderr);
    }
    assert_eq!(v.run(&["sync"]).code, 3, "the link is reported as skipped");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    assert!(listed(&v, &[]).is_empty());
}

#[test]
fn issue2_export_keeps_a_private_note_private() {
    let v = TestVault::new();
    v.write("secret.md", "one\n");
    std::fs::set_permissions(v.path("secret.md"), std::fs::Permissions::from_mode(0o600)).unwrap();
    v.sync();
    v.run_stdin(&["put", "note/secret"], b"two\n");
    assert_eq!(v.sync()["exported"], 1);
    let mode = std::fs::metadata(v.path("secret.md"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn issue2_an_edit_that_restores_the_mtime_is_still_seen() {
    let v = TestVault::new();
    v.write("a.md", "aaaa\n");
    v.sync();
    let mtime = std::fs::metadata(v.path("a.md"))
        .unwrap()
        .modified()
        .unwrap();
    v.write("a.md", "bbbb\n");
    let f = std::fs::File::options()
        .write(true)
        .open(v.path("a.md"))
        .unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    let r = v.sync();
    assert_eq!(r["updated"], 1, "{r}");
    assert_eq!(v.ok(&["get", "note/a"]).stdout, "bbbb\n");
}

/// Found in the issue 6 review: `brain rm` then `brain put` (or MCP `delete` then `create`) of
/// one id before the delete's export ran brought the row back with the new content, and the
/// export wrote it over the only copy of the deleted note.
#[test]
fn issue6_writing_a_deleted_note_again_keeps_the_deleted_file() {
    let v = TestVault::new();
    v.write("orig.md", "# keep\nIMPORTANT ORIGINAL\n");
    v.sync();
    v.ok(&["rm", "note/orig"]);
    v.run_stdin(&["put", "note/orig"], b"# new\nreplacement\n");
    v.sync();
    assert_eq!(v.read("orig.md"), b"# new\nreplacement\n");
    let trash = v.path(".brain/trash");
    let kept: Vec<Vec<u8>> = std::fs::read_dir(&trash)
        .unwrap()
        .map(|stamp| std::fs::read(stamp.unwrap().path().join("orig.md")).unwrap())
        .collect();
    assert_eq!(kept, vec![b"# keep\nIMPORTANT ORIGINAL\n".to_vec()]);
}

/// Makes a named pipe at `rel` (never opened here: opening one blocks).
fn mkfifo(v: &TestVault, rel: &str) {
    let made = std::process::Command::new("mkfifo")
        .arg(v.path(rel))
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo {rel}");
}

/// Whether `rel` is a named pipe, by `lstat` alone.
fn is_fifo(v: &TestVault, rel: &str) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(v.path(rel)).is_ok_and(|m| m.file_type().is_fifo())
}

/// `brain status --json`'s list of notes not written to their file: (path, entity, reason).
fn unwritten(v: &TestVault) -> Vec<(String, String, String)> {
    let st = v.ok(&["--json", "status"]).json();
    let notes = st["unwritten"]["notes"].as_array().unwrap();
    assert_eq!(st["unwritten"]["count"], notes.len(), "{st}");
    notes
        .iter()
        .map(|n| {
            let s = |k: &str| n[k].as_str().unwrap().to_string();
            (s("path"), s("entity"), s("reason"))
        })
        .collect()
}

/// Issue 13 item 3 (hostile test): under `brain serve`, a `brain put` is acknowledged and,
/// before its export runs (held back by construction: sync paused), the note's file is
/// replaced by a named pipe. The export never opens the pipe, and the user learns the edit is
/// not on disk: the serve log has a WARN naming the export job and the path, `brain status`
/// (text and JSON) lists the note with what to do, and keeps listing it with the daemon
/// stopped (the record is in the store). Once the pipe is removed the daemon writes the put's
/// text, and status lists nothing.
#[test]
fn issue13_an_edit_held_back_by_a_fifo_is_warned_listed_and_written_once_it_is_gone() {
    use brain_store::jobs::JobState;
    use std::time::Duration;
    use util::daemon::wait_for;
    const LIMIT: Duration = Duration::from_secs(60);

    let v = TestVault::new();
    v.write("x.md", "# X\n\nold\n");
    v.sync();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("serve.log");
    let d = v.serve_logged(&[], &log);
    v.settle();
    v.ok(&["sync", "pause"]);
    let edit = "# X\n\nput while the file was in the way\n";
    let put = v.run_stdin(&["put", "note/x"], edit.as_bytes());
    assert_eq!(put.code, 0, "{}\n{}", put.stdout, put.stderr);
    std::fs::remove_file(v.path("x.md")).unwrap();
    mkfifo(&v, "x.md");
    // The watcher took the pipe in; the export (and the import of the pipe) wait, paused.
    v.fence_idle();
    let export = v.jobs_of("directory-export").pop().unwrap();
    assert_eq!(export.state, JobState::Queued, "{export:?}");
    assert!(unwritten(&v).is_empty(), "nothing was tried yet");

    v.ok(&["sync", "resume"]);
    let export = wait_for(LIMIT, "the export to end", || {
        v.jobs_of("directory-export")
            .into_iter()
            .find(|j| j.id == export.id && j.state.is_finished())
    });
    v.settle();
    assert_eq!(export.state, JobState::Succeeded, "{export:?}");
    let result = export.result.unwrap();
    let skipped = result["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{result}");
    assert_eq!(skipped[0]["path"], "x.md");
    let reason = skipped[0]["reason"].as_str().unwrap();
    for part in ["named pipe (FIFO)", "holds an edit of note/x", "brain sync"] {
        assert!(reason.contains(part), "no {part:?} in {reason}");
    }
    assert!(is_fifo(&v, "x.md"), "the pipe is left as it is");
    assert_eq!(
        v.entity_content("note/x").unwrap(),
        edit,
        "the edit is kept"
    );

    let log_text = std::fs::read_to_string(&log).unwrap();
    let job_field = format!("job={}", export.id);
    let warned = log_text
        .lines()
        .find(|l| l.contains("WARN") && l.contains(&job_field) && l.contains("path=x.md"));
    let warned =
        warned.unwrap_or_else(|| panic!("no WARN for job {} on x.md:\n{log_text}", export.id));
    for part in [
        "not written",
        "named pipe (FIFO)",
        "note/x",
        "kept in the store",
        "remove 'x.md'",
        "brain sync",
    ] {
        assert!(warned.contains(part), "no {part:?} in {warned}");
    }

    let listed_now = unwritten(&v);
    assert_eq!(listed_now.len(), 1, "{listed_now:?}");
    let (path, entity, reason) = &listed_now[0];
    assert_eq!((path.as_str(), entity.as_str()), ("x.md", "note/x"));
    for part in [
        "x.md holds a named pipe (FIFO)",
        "remove 'x.md'",
        "brain sync",
    ] {
        assert!(reason.contains(part), "no {part:?} in {reason}");
    }
    let text = v.ok(&["status"]).stdout;
    assert!(
        text.contains("1 note not written to its file")
            && text.contains("x.md holds a named pipe (FIFO)"),
        "{text}"
    );

    // The record is in the store: a stopped daemon changes nothing.
    assert_eq!(d.stop(), 0);
    assert_eq!(unwritten(&v).len(), 1, "still listed with no daemon");
    let d = v.serve_logged(&[], &logs.path().join("serve2.log"));
    v.settle();
    assert_eq!(unwritten(&v).len(), 1, "still listed after a restart");

    std::fs::remove_file(v.path("x.md")).unwrap();
    wait_for(LIMIT, "the daemon to write the put's text to x.md", || {
        // Only a regular file is read: nothing here opens a pipe.
        let regular = std::fs::symlink_metadata(v.path("x.md")).is_ok_and(|m| m.is_file());
        (regular && util::daemon::holds(&v.path("x.md"), edit)).then_some(())
    });
    v.settle();
    assert!(unwritten(&v).is_empty(), "written, so no longer listed");
    let text = v.ok(&["status"]).stdout;
    assert!(!text.contains("not written"), "{text}");
    assert_eq!(d.stop(), 0);
}
