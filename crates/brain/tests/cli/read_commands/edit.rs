//! Issue 19: `brain edit`: a part of a note changed the way one thinks of the change, every
//! other byte kept, through the same compare-and-set as a whole write.

use crate::util::TestVault;

const PLAN: &str = "---\ntitle: Plan # as typed\nstatus: draft\n---\n# Plan\n\n## Tasks\n\n- one\n\n## Notes\n\nx\n";

fn versions(v: &TestVault) -> usize {
    v.ok(&["--json", "history", "note/plan"])
        .json()
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn each_partial_edit_changes_only_its_part() {
    let v = TestVault::new();
    v.write("plan.md", PLAN);
    v.sync();
    v.ok(&["edit", "note/plan", "--set", "count=3"]);
    v.ok(&[
        "edit",
        "note/plan",
        "--set",
        "status=done",
        "-m",
        "finished",
    ]);
    v.ok(&["edit", "note/plan", "--append", "- appended"]);
    v.ok(&[
        "edit",
        "note/plan",
        "--section",
        "Tasks",
        "--text",
        "- done",
    ]);
    v.ok(&["edit", "note/plan", "--find", "x", "--replace", "y"]);
    v.sync();
    assert_eq!(
        String::from_utf8(v.read("plan.md")).unwrap(),
        "---\ntitle: Plan # as typed\nstatus: done\ncount: 3\n---\n# Plan\n\n## Tasks\n\n- done\n\n## Notes\n\ny\n- appended\n"
    );
    let got = v.ok(&["--json", "get", "note/plan"]).json();
    assert_eq!(got["metadata"]["count"], 3, "a YAML scalar: {got}");
    let history = v.ok(&["--json", "history", "note/plan"]).json();
    let v3 = &history.as_array().unwrap()[2];
    assert_eq!(v3["why"]["message"], "finished", "{history}");
    assert_eq!(v3["why"]["source"], "cli");

    v.ok(&["edit", "note/plan", "--unset", "count"]);
    v.ok(&["edit", "note/plan", "--set", "count=3", "--string"]);
    let got = v.ok(&["--json", "get", "note/plan"]).json();
    assert_eq!(got["metadata"]["count"], "3", "{got}");
}

#[test]
fn a_refused_edit_writes_nothing_and_names_what_exists() {
    let v = TestVault::new();
    v.write("plan.md", PLAN);
    v.sync();
    let before = versions(&v);
    for (args, says) in [
        (
            &["--section", "Nope", "--text", "z"][..],
            "the headings are 'Plan', 'Tasks', 'Notes'",
        ),
        (&["--unset", "nope"], "the keys are 'title', 'status'"),
        (
            &["--find", "x", "--replace", "y", "--count", "2"],
            "occurs 1 time(s), not the 2",
        ),
        (
            &["--set", "status=done", "--expected-hash", "abc"],
            "changed since you read it",
        ),
    ] {
        let mut all = vec!["edit", "note/plan"];
        all.extend_from_slice(args);
        let r = v.run(&all);
        assert_ne!(r.code, 0, "{args:?}");
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    assert_eq!(versions(&v), before, "nothing was written");
    let hash = v.ok(&["--json", "get", "note/plan"]).json()["content_hash"]
        .as_str()
        .unwrap()
        .to_string();
    v.ok(&[
        "edit",
        "note/plan",
        "--set",
        "status=done",
        "--expected-hash",
        &hash,
    ]);
    assert_eq!(versions(&v), before + 1);
}

#[test]
fn a_logseq_page_gains_a_property_line() {
    let v = TestVault::new();
    v.write("logseq/config.edn", "{}\n");
    v.write("pages/plan.md", "- a block\n");
    v.sync();
    let r = "note/pages/plan";
    v.ok(&["edit", r, "--set", "status=done"]);
    v.ok(&["edit", r, "--set", "status=later"]);
    let text = v.ok(&["get", r]).stdout;
    assert_eq!(text, "status:: later\n- a block\n");
}

/// `brain mv`: the same note at a new id, its history and creation time kept; the file moves
/// at the next sync (the old one to the trash); a target that exists, or differs from another
/// note's path only by case, is refused.
#[test]
fn a_move_keeps_the_note_and_moves_its_file() {
    let v = TestVault::new();
    v.write("plan.md", PLAN);
    v.write("taken.md", "# Taken\n");
    v.sync();
    v.ok(&["edit", "note/plan", "--set", "status=doing"]);
    let created = v.ok(&["--json", "get", "note/plan"]).json()["created"].clone();
    let out = v
        .ok(&["mv", "note/plan", "note/Projects/plan", "-m", "file it"])
        .stdout;
    assert!(out.contains("left as they are"), "{out}");
    v.sync();
    assert!(!v.path("plan.md").exists());
    assert!(v.path("Projects/plan.md").exists());
    let got = v.ok(&["--json", "get", "note/Projects/plan"]).json();
    assert_eq!(got["created"], created);
    let history = v.ok(&["--json", "history", "note/Projects/plan"]).json();
    assert_eq!(history.as_array().unwrap().len(), 3, "{history}");
    let old_id = v.run(&["get", "note/plan"]);
    assert_eq!(old_id.code, 4);
    assert!(
        old_id.stderr.contains("it was moved to note/Projects/plan"),
        "the old id says where the note went: {}",
        old_id.stderr
    );
    for args in [
        &["history", "note/plan"][..],
        &["get", "note/plan", "--version", "1"],
        &["diff", "note/plan", "1"],
        &["revert", "note/plan", "--to", "1"],
    ] {
        let r = v.run(args);
        assert_eq!(r.code, 4, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("moved to note/Projects/plan"),
            "{args:?}: {}",
            r.stderr
        );
    }
    for target in ["note/taken", "note/Taken"] {
        let r = v.run(&["mv", "note/Projects/plan", target]);
        assert_ne!(r.code, 0, "{target}: {}", r.stdout);
    }
    assert!(
        v.path("Projects/plan.md").exists(),
        "a refused move moves nothing"
    );
}

/// An edit, a revert and a move made on the store's copy of a note whose file a person edited
/// since the last sync are refused, with what to do, and nothing is written; after a sync they
/// go through (hostile review F15, new-user M1 and M5).
#[test]
fn changes_over_an_unsynced_file_edit_are_refused_until_a_sync() {
    let v = TestVault::new();
    v.write("plan.md", PLAN);
    v.sync();
    v.ok(&["edit", "note/plan", "--append", "- two"]);
    v.sync();
    let person = format!("{PLAN}- two\nthe person's line\n");
    v.write("plan.md", &person);
    let before = versions(&v);
    for args in [
        &["edit", "note/plan", "--append", "x"][..],
        &["revert", "note/plan", "--to", "1"],
        &["mv", "note/plan", "note/done/plan"],
    ] {
        let r = v.run(args);
        assert_ne!(r.code, 0, "{args:?}: {}", r.stdout);
        assert!(
            r.stderr
                .contains("plan.md was edited on disk since the last sync")
                && r.stderr.contains("run `brain sync`"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("expected hash"), "{}", r.stderr);
    }
    assert_eq!(versions(&v), before, "nothing was written");
    assert_eq!(v.read("plan.md"), person.as_bytes());
    v.sync();
    v.ok(&["revert", "note/plan", "--to", "1"]);
    v.sync();
    assert_eq!(v.read("plan.md"), PLAN.as_bytes());
}

/// A person's edit of a note's old file after `brain mv` and before the sync that moves it is
/// kept as a note of its own, and the conflict says the note was moved, and where, not that
/// it was deleted (hostile review F9, new-user M7).
#[test]
fn an_edit_of_the_old_file_after_a_move_is_kept_and_said_to_be_a_move() {
    let v = TestVault::new();
    v.write("inbox/m.md", "# M\n\noriginal\n");
    v.sync();
    v.ok(&["mv", "note/inbox/m", "note/Projects/m"]);
    v.write("inbox/m.md", "# M\n\noriginal\nthe person's line\n");
    v.sync();
    assert_eq!(v.read("Projects/m.md"), b"# M\n\noriginal\n");
    assert_eq!(
        v.read("inbox/m.md"),
        b"# M\n\noriginal\nthe person's line\n"
    );
    let conflicts = v.ok(&["--json", "conflicts", "list"]).json();
    let detail = conflicts[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("moved to note/Projects/m") && !detail.contains("deleted"),
        "{conflicts}"
    );
}

/// A move onto a live note says the id is taken and what to do (not `put`'s advice); a move
/// onto a deleted note's id says where the deleted note went (hostile F10, F11; new-user L7,
/// L8).
#[test]
fn a_move_onto_a_taken_or_deleted_id_says_so() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    v.write("b.md", "# B\n");
    v.write("old.md", "# Old\n");
    v.sync();
    let r = v.run(&["mv", "note/a", "note/b"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("note/b is taken") && !r.stderr.contains("put"),
        "{}",
        r.stderr
    );
    v.ok(&["rm", "note/old"]);
    v.sync();
    let out = v.ok(&["mv", "note/a", "note/old"]).stdout;
    assert!(out.contains("a deleted note had the id note/old"), "{out}");
    v.sync();
    assert_eq!(v.read("old.md"), b"# A\n");
}

/// A note moved and then deleted before a sync: the sync moves its old file to the trash too,
/// so no file of it stays a note; a move of a note whose file was deleted on disk since the
/// last sync is refused (re-check N3, N4).
#[test]
fn a_note_moved_then_deleted_leaves_no_file_and_a_deleted_file_is_not_moved_back() {
    let v = TestVault::new();
    v.write("x.md", "# X\n");
    v.write("z.md", "# Z\n");
    v.sync();
    v.ok(&["mv", "note/x", "note/y"]);
    v.ok(&["rm", "note/y"]);
    v.sync();
    assert!(!v.path("x.md").exists() && !v.path("y.md").exists());
    let listed = crate::util::listed(&v, &[]);
    assert!(
        !listed.iter().any(|l| l == "note/x" || l == "note/y"),
        "{listed:?}"
    );
    std::fs::remove_file(v.path("z.md")).unwrap();
    let r = v.run(&["mv", "note/z", "note/zz"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("z.md was deleted on disk"),
        "{}",
        r.stderr
    );
}

/// A move to another type moves the note into that type's folder: a draft promoted into the
/// notes keeps its history and creation time (issue 19).
#[test]
fn a_draft_is_promoted_into_the_notes_with_its_history() {
    let v = TestVault::new();
    v.set_config("[vault]\nentity_types = [\"draft\"]\n");
    v.write("draft/plan.md", "# Plan\n\nrough\n");
    v.sync();
    v.ok(&["edit", "draft/plan", "--append", "less rough"]);
    let created = v.ok(&["--json", "get", "draft/plan"]).json()["created"].clone();
    v.ok(&["mv", "draft/plan", "note/Projects/plan", "-m", "ready"]);
    v.sync();
    assert!(!v.path("draft/plan.md").exists());
    assert_eq!(v.read("Projects/plan.md"), b"# Plan\n\nrough\nless rough\n");
    let got = v.ok(&["--json", "get", "note/Projects/plan"]).json();
    assert_eq!(got["created"], created);
    let h = v.ok(&["--json", "history", "note/Projects/plan"]).json();
    let paths: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["draft/plan.md", "draft/plan.md", "Projects/plan.md"],
        "{h}"
    );
}

/// A note whose file the sync skips (broken frontmatter) is not "maybe deleted": the answer
/// names the file and says `brain sync` tells why (hostile F16).
#[test]
fn a_skipped_file_s_note_is_said_to_be_on_disk_but_not_imported() {
    let v = TestVault::new();
    v.write("ok.md", "# Ok\n");
    v.write("broken.md", "---\ntitle: [unclosed\n---\n# Broken\n");
    let r = v.run(&["sync"]);
    assert_eq!(r.code, 3, "the broken file is skipped: {}", r.stderr);
    let r = v.run(&["edit", "note/broken", "--append", "x"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("broken.md is on disk but not imported")
            && r.stderr.contains("brain sync"),
        "{}",
        r.stderr
    );
    assert_eq!(
        v.read("broken.md"),
        b"---\ntitle: [unclosed\n---\n# Broken\n"
    );
}

/// A move onto an id whose path differs from another note's only by Unicode normalization
/// (NFD against NFC: one file on macOS) is refused and moves nothing (issue 19, bad input).
#[test]
fn a_move_onto_another_note_s_name_in_another_unicode_form_is_refused() {
    let v = TestVault::new();
    v.write("caf\u{e9}.md", "# Café\n");
    v.write("plan.md", "# Plan\n");
    v.sync();
    let r = v.run(&["mv", "note/plan", "note/cafe\u{301}"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    v.sync();
    assert_eq!(v.read("plan.md"), b"# Plan\n", "nothing was moved");
    assert_eq!(v.read("caf\u{e9}.md"), "# Café\n".as_bytes());
    assert!(!v.path("cafe\u{301}.md").exists());
}
