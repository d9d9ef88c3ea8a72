//! Issue 13 item 7 on the command line: a compare-and-set `brain put` is compared with the
//! file on disk too, and a one-shot read with no daemon says when what it answers may be older
//! than the files.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

use util::TestVault;

/// The content hash `brain get --json` gives for `entity`.
fn hash_of(v: &TestVault, entity: &str) -> String {
    v.ok(&["--json", "get", entity]).json()["content_hash"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every conflict copy in the vault's top folder.
fn conflict_copies(v: &TestVault) -> Vec<String> {
    v.snapshot()
        .into_keys()
        .filter(|p| p.contains(".conflict-"))
        .collect()
}

const STALE: &str = "may be stale";

#[test]
fn issue13_put_expected_hash_is_refused_when_the_file_changed_on_disk() {
    let v = TestVault::new();
    v.write("a.md", "# A\n\nas synced\n");
    v.sync();
    let read = hash_of(&v, "note/a");

    // A person edits the file; nothing syncs it.
    v.write("a.md", "# A\n\nthe person's edit\n");
    let put = v.run_stdin(
        &["put", "note/a", "--expected-hash", &read],
        b"# A\n\nthe agent's text\n",
    );
    assert_ne!(
        put.code, 0,
        "put over a file that moved on must be refused: {}",
        put.stderr
    );
    assert!(
        put.stderr.contains("note/a changed since you read it") && put.stderr.contains("a.md"),
        "the refusal names the note, its file and what happened: {}",
        put.stderr
    );
    assert!(put.stderr.contains("nothing was stored"), "{}", put.stderr);
    // Nothing of the agent's text was stored: a sync keeps the person's file, with no copy.
    assert_eq!(v.read("a.md"), b"# A\n\nthe person's edit\n");
    v.sync();
    assert_eq!(v.read("a.md"), b"# A\n\nthe person's edit\n");
    assert_eq!(conflict_copies(&v), Vec::<String>::new());
    assert_eq!(
        v.ok(&["get", "note/a"]).stdout,
        "# A\n\nthe person's edit\n"
    );

    // With the hash of what is there now, the put is what happens, on disk too.
    let now = hash_of(&v, "note/a");
    assert_ne!(now, read);
    let put = v.run_stdin(
        &["--json", "put", "note/a", "--expected-hash", &now],
        b"# A\n\nthe agent's text\n",
    );
    assert_eq!(put.code, 0, "{}", put.stderr);
    assert_eq!(put.json()["outcome"], "updated");
    v.sync();
    assert_eq!(v.read("a.md"), b"# A\n\nthe agent's text\n");
    assert_eq!(conflict_copies(&v), Vec::<String>::new());

    // A hash the store no longer has is refused as well (the file is as synced).
    let put = v.run_stdin(
        &["put", "note/a", "--expected-hash", &read],
        b"# A\n\nlate\n",
    );
    assert_ne!(put.code, 0, "{}", put.stderr);
    assert!(
        put.stderr.contains("changed since you read it"),
        "{}",
        put.stderr
    );
    assert_eq!(v.read("a.md"), b"# A\n\nthe agent's text\n");
}

#[test]
fn issue13_put_if_absent_refuses_an_existing_note_and_an_unsynced_file() {
    let v = TestVault::new();
    let made = v.run_stdin(&["--json", "put", "note/new", "--if-absent"], b"# New\n");
    assert_eq!(made.code, 0, "{}", made.stderr);
    assert_eq!(made.json()["outcome"], "created");

    let again = v.run_stdin(&["put", "note/new", "--if-absent"], b"# Other\n");
    assert_ne!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("note/new already exists"),
        "{}",
        again.stderr
    );
    assert_eq!(v.ok(&["get", "note/new"]).stdout, "# New\n");

    // A file saved by hand and not synced yet is a note that exists.
    v.write("by-hand.md", "# Saved by a person\n");
    let over = v.run_stdin(&["put", "note/by-hand", "--if-absent"], b"# Agent\n");
    assert_ne!(over.code, 0, "{}", over.stderr);
    assert!(
        over.stderr
            .contains("by-hand.md is on disk, not yet synced"),
        "{}",
        over.stderr
    );
    v.sync();
    assert_eq!(v.read("by-hand.md"), b"# Saved by a person\n");
    assert_eq!(conflict_copies(&v), Vec::<String>::new());

    // The two flags ask for different things.
    let both = v.run_stdin(
        &["put", "note/x", "--if-absent", "--expected-hash", "abc"],
        b"# X\n",
    );
    assert_ne!(both.code, 0, "{}", both.stderr);
    assert!(
        both.stderr.contains("cannot be used with"),
        "{}",
        both.stderr
    );
}

#[test]
fn issue13_a_one_shot_read_says_when_files_changed_since_the_last_sync() {
    let v = TestVault::new();
    v.write("a.md", "# A\n\nzebrafresh as synced\n");
    v.write("folder/b.md", "# B\n");
    v.sync();
    for args in [
        &["get", "note/a"][..],
        &["search", "zebrafresh"],
        &["list"],
        &["list", "--folder", "folder"],
    ] {
        let r = v.ok(args);
        assert!(
            !r.stderr.contains(STALE),
            "{args:?} after a sync: {}",
            r.stderr
        );
    }

    // Edited in place: the read answers from the store and says so, with the fix.
    v.write("a.md", "# A\n\nzebrafresh edited by hand\n");
    let get = v.ok(&["get", "note/a"]);
    assert_eq!(get.stdout, "# A\n\nzebrafresh as synced\n");
    let line: Vec<&str> = get.stderr.lines().filter(|l| l.contains(STALE)).collect();
    assert_eq!(line.len(), 1, "one line: {}", get.stderr);
    assert!(
        line[0].contains("a.md changed on disk") && line[0].contains("brain sync"),
        "{}",
        line[0]
    );
    let search = v.ok(&["search", "zebrafresh"]);
    assert!(search.stderr.contains(STALE), "{}", search.stderr);

    // A note added in a folder a listing covers.
    v.write("folder/c.md", "# C\n");
    let list = v.ok(&["list", "--folder", "folder"]);
    assert!(
        list.stderr.contains(STALE) && list.stderr.contains("folder/"),
        "{}",
        list.stderr
    );
    // A file saved under the id asked for, missing from the store.
    v.write("unsynced.md", "# U\n");
    let missing = v.run(&["get", "note/unsynced"]);
    assert_ne!(missing.code, 0);
    assert!(missing.stderr.contains(STALE), "{}", missing.stderr);

    // Synced: nothing to say.
    v.sync();
    for args in [
        &["get", "note/a"][..],
        &["search", "zebrafresh"],
        &["list", "--folder", "folder"],
        &["get", "note/unsynced"],
    ] {
        let r = v.ok(args);
        assert!(
            !r.stderr.contains(STALE),
            "{args:?} after a sync: {}",
            r.stderr
        );
    }
}

/// A read-only `.brain/` (run without root's override, as a user would meet it): reads answer
/// from the store and say, in one line, that the answer may be stale and what to do.
#[test]
fn issue13_a_read_on_a_read_only_store_says_it_may_be_stale() {
    use std::process::Stdio;
    let v = TestVault::new();
    v.write("a.md", "# A\nreadable words\n");
    v.sync();
    let _restore = v.make_state_read_only();
    let run = |args: &[&str]| -> util::Run {
        let mut cmd = v.cmd();
        cmd.args(args);
        util::without_root_override(cmd)
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .into()
    };
    for args in [&["get", "note/a"][..], &["search", "readable"], &["list"]] {
        let r = run(args);
        assert_eq!(r.code, 0, "{args:?} on a read-only store: {}", r.stderr);
        assert!(!r.stdout.is_empty(), "{args:?} answers from the store");
        let lines: Vec<&str> = r.stderr.lines().filter(|l| l.contains(STALE)).collect();
        assert_eq!(lines.len(), 1, "{args:?}: {}", r.stderr);
        assert!(
            lines[0].contains("read-only") && lines[0].contains("writable"),
            "{}",
            lines[0]
        );
    }
}

/// The lines of `r`'s stderr that say the answer may be stale.
fn stale_lines(r: &util::Run) -> Vec<String> {
    r.stderr
        .lines()
        .filter(|l| l.contains(STALE))
        .map(str::to_string)
        .collect()
}

/// A folder's time moves for any entry made in it: a Git repository, an editor's swap file,
/// Obsidian's settings, a picture, a temp file, a note `.brainignore` excludes, an empty file
/// sync skips. None of them is a note a sync imports, so none makes an answer stale; before,
/// every read said "files were added ... in the vault's top folder" until the next sync. A note
/// added in a new folder, however deep, is named.
#[test]
fn issue13_a_one_shot_read_never_says_stale_for_files_that_are_not_notes() {
    let v = TestVault::new();
    v.write(".brainignore", "drafts/\n");
    v.write("a.md", "# A\n\nwombatword\n");
    v.write("folder/b.md", "# B\n\nwombatword\n");
    v.sync();
    v.write(".a.md.swp", "vim swap");
    v.write(".obsidian/app.json", "{}");
    v.write(".git/HEAD", "ref: refs/heads/main\n");
    v.write("picture.png", "not markdown");
    v.write("folder/b.md.tmp", "# B being saved\n");
    v.write(
        "drafts/secret.md",
        "# Kept out of the brain\n\nwombatword\n",
    );
    v.write("folder/empty.md", "");
    let reads = [
        &["get", "note/folder/b"][..],
        &["search", "wombatword"],
        &["list"],
        &["list", "--folder", "folder"],
    ];
    for args in reads {
        let r = v.ok(args);
        assert_eq!(stale_lines(&r), Vec::<String>::new(), "{args:?}");
    }
    // Asked for by name, the excluded note is not there, and no sync would bring it.
    let excluded = v.run(&["get", "note/drafts/secret"]);
    assert_eq!(excluded.code, 4, "{}", excluded.stderr);
    assert_eq!(stale_lines(&excluded), Vec::<String>::new());

    // A real note, in a folder new to the store, is named with the fix.
    v.write("new/deeper/c.md", "# C\n\nwombatword\n");
    for args in reads {
        let r = v.ok(args);
        let lines = stale_lines(&r);
        assert_eq!(lines.len(), 1, "{args:?}: {}", r.stderr);
        assert!(
            lines[0].contains("new/deeper/c.md was added") && lines[0].contains("brain sync"),
            "{args:?}: {}",
            lines[0]
        );
    }
    // (The empty file would make the sync exit 3, skipped files listed.)
    std::fs::remove_file(v.path("folder/empty.md")).unwrap();
    v.sync();
    for args in reads {
        assert_eq!(stale_lines(&v.ok(args)), Vec::<String>::new(), "{args:?}");
    }
}

/// Right after `brain init`, before any sync, the store holds nothing of the notes on disk:
/// a read says so (before, with no sync on record, it said nothing at all). A vault with no
/// note has nothing to import and says nothing.
#[test]
fn issue13_a_read_before_the_first_sync_says_the_notes_are_not_imported() {
    let empty = TestVault::new();
    empty.write("picture.png", "not a note");
    assert_eq!(stale_lines(&empty.ok(&["list"])), Vec::<String>::new());

    let v = TestVault::new();
    v.write("a.md", "# A\n");
    let list = v.ok(&["list"]);
    assert!(
        !list.stdout.contains("note/a"),
        "nothing is imported yet: {}",
        list.stdout
    );
    let lines = stale_lines(&list);
    assert_eq!(lines.len(), 1, "{}", list.stderr);
    assert!(
        lines[0].contains("a.md was added") && lines[0].contains("brain sync"),
        "{}",
        lines[0]
    );
    v.sync();
    assert_eq!(stale_lines(&v.ok(&["list"])), Vec::<String>::new());
}

/// A note's file emptied on disk is skipped by every sync, so "run `brain sync` to import it"
/// would be advice that changes nothing: the line says the answer is the note's last synced
/// text, why a sync will not import the file, and what to do.
#[test]
fn issue13_a_read_of_a_note_whose_file_a_sync_skips_says_what_to_do_instead_of_sync() {
    let v = TestVault::new();
    v.write("a.md", "# A\n\nas synced\n");
    v.sync();
    v.write("a.md", "");
    let get = v.ok(&["get", "note/a"]);
    assert_eq!(get.stdout, "# A\n\nas synced\n");
    let lines: Vec<&str> = get.stderr.lines().filter(|l| l.contains("stale")).collect();
    assert_eq!(lines.len(), 1, "{}", get.stderr);
    assert!(
        lines[0].contains("a.md")
            && lines[0].contains("empty")
            && lines[0].contains("write the note's text in it")
            && !lines[0].contains("to import it"),
        "{}",
        lines[0]
    );
    // And it is right: a sync leaves the note as it was.
    v.run(&["sync"]);
    assert_eq!(v.ok(&["get", "note/a"]).stdout, "# A\n\nas synced\n");
}

/// A file that differs from a synced note's only by letter case is skipped by every sync (one
/// file on macOS and Windows): a read of it, or of a note beside it after its folder changed,
/// never says "run `brain sync` to import it", which would never help. The read of the twin
/// says why it is not synced and where the conflict is.
#[test]
fn a_read_never_says_sync_imports_a_case_twin() {
    let v = TestVault::new();
    v.write("Note.md", "# Note\n\nupper\n");
    v.sync();
    v.write("note.md", "# note\n\nlower\n");
    v.run(&["sync"]);
    let twin = v.run(&["get", "note/note"]);
    assert_eq!(twin.code, 4, "{}", twin.stderr);
    assert!(
        twin.stderr.contains("note.md is not synced")
            && twin.stderr.contains("only by letter case")
            && twin.stderr.contains("conflict #1")
            && !twin.stderr.contains("brain sync"),
        "{}",
        twin.stderr
    );
    // The folder moves on (a file that is not a note): the twin is still not "added".
    v.write("picture.png", "not a note");
    let get = v.ok(&["get", "note/Note"]);
    assert!(stale_lines(&get).is_empty(), "{}", get.stderr);
}
