//! Issue 19: `brain history`, `get --version`, `diff` and `revert`: every change of a note, from
//! any writer, keeps the version it replaced, and any version can be read, compared and
//! written back.

use crate::util::TestVault;

#[test]
fn every_change_is_kept_and_any_version_can_be_read_compared_and_written_back() {
    let v = TestVault::new();
    v.write("plan.md", "# Plan\n\nfirst line\n");
    v.sync();
    v.run_stdin(
        &["put", "note/plan"],
        b"# Plan\n\nfirst line\nsecond line\n",
    );
    v.sync();
    v.write("plan.md", "# Plan\n\nrewritten in the editor\n");
    v.sync();
    v.ok(&["rm", "note/plan"]);
    v.sync();
    v.ok(&["restore", "note/plan"]);
    v.sync();

    let history = v.ok(&["--json", "history", "note/plan"]).json();
    let versions = history.as_array().unwrap();
    let sources: Vec<&str> = versions
        .iter()
        .map(|x| x["why"]["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["file", "cli", "file", "cli", "cli"], "{history}");
    assert_eq!(versions[3]["deleted"], true);
    assert_eq!(versions[4]["current"], true);
    let human = v.ok(&["history", "note/plan"]).stdout;
    assert!(
        human.contains("5 version(s)") && human.contains("deleted"),
        "{human}"
    );

    let first = v.ok(&["get", "note/plan", "--version", "1"]).stdout;
    assert_eq!(first, "# Plan\n\nfirst line\n");
    let diff = v.ok(&["diff", "note/plan", "2", "3"]).stdout;
    assert!(
        diff.contains("-first line") && diff.contains("+rewritten in the editor"),
        "{diff}"
    );
    let same = v.ok(&["diff", "note/plan", "3", "5"]).stdout;
    assert!(same.contains("the same text"), "{same}");

    let reverted = v
        .ok(&[
            "--json",
            "revert",
            "note/plan",
            "--to",
            "2",
            "-m",
            "undo the rewrite",
        ])
        .json();
    assert_eq!(reverted["outcome"], "updated", "{reverted}");
    v.sync();
    assert_eq!(v.read("plan.md"), b"# Plan\n\nfirst line\nsecond line\n");
    let history = v.ok(&["--json", "history", "note/plan"]).json();
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["number"], 6, "{history}");
    assert_eq!(
        last["why"]["message"],
        "revert to version 2: undo the rewrite"
    );
    // The version the revert replaced is kept too.
    let before = v.ok(&["get", "note/plan", "--version", "5"]).stdout;
    assert_eq!(before, "# Plan\n\nrewritten in the editor\n");
}

#[test]
fn a_version_that_is_not_there_is_not_found_with_the_range() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    v.sync();
    for args in [
        &["get", "note/a", "--version", "9"][..],
        &["diff", "note/a", "1", "9"],
        &["revert", "note/a", "--to", "0"],
    ] {
        let r = v.run(args);
        assert_eq!(r.code, 4, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("brain history note/a"), "{}", r.stderr);
    }
    let r = v.run(&["history", "note/nope"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
}

/// A note whose file name is in decomposed Unicode (as macOS writes names) is not found by the
/// composed id a keyboard types; the hint that names it says why the two look alike (hostile
/// review F18).
#[test]
fn a_decomposed_name_is_named_with_why_it_looks_the_same() {
    let v = TestVault::new();
    v.write("cafe\u{301}.md", "# Café\n");
    v.sync();
    let r = v.run(&["get", "note/caf\u{e9}"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("did you mean note/cafe\u{301}?")
            && r.stderr.contains("another Unicode form"),
        "{}",
        r.stderr
    );
}

/// `diff N` compares with the current version; a revert to a version from before a move says
/// that a revert writes text, not a place; `history` over a file edited since the last sync
/// says the current version is the store's (new-user L1, M8, M9).
#[test]
fn diff_to_current_revert_across_a_move_and_history_of_an_unsynced_file() {
    let v = TestVault::new();
    v.write("two.md", "# Two\n\nfirst\n");
    v.sync();
    v.ok(&["edit", "note/two", "--append", "second"]);
    let diff = v.ok(&["diff", "note/two", "1"]).stdout;
    assert!(diff.contains("+second"), "{diff}");
    v.ok(&["mv", "note/two", "note/archive/two"]);
    v.sync();
    let r = v.ok(&["revert", "note/archive/two", "--to", "2"]);
    assert!(
        r.stdout.contains("was at two.md") && r.stdout.contains("`brain mv`"),
        "{}",
        r.stdout
    );
    v.write(
        "archive/two.md",
        "# Two\n\nfirst\nsecond\nthird, unsynced\n",
    );
    let h = v.ok(&["history", "note/archive/two"]);
    assert!(h.stderr.contains("brain sync"), "{}", h.stderr);
}

/// `put`, `rm` and `restore` take a message, kept with the version each makes (new-user L16).
#[test]
fn put_rm_and_restore_say_why() {
    let v = TestVault::new();
    let r = v.run_stdin(&["put", "note/why", "-m", "first draft"], b"# Why\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    v.ok(&["rm", "note/why", "-m", "not needed"]);
    v.ok(&["restore", "note/why", "-m", "needed after all"]);
    let h = v.ok(&["--json", "history", "note/why"]).json();
    let messages: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["why"]["message"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        messages,
        ["first draft", "not needed", "needed after all"],
        "{h}"
    );
}

/// A stored version that decodes but is not the text it was kept as (a damaged row holding
/// another version's bytes) is refused as damaged, never printed as that version (re-check N1).
#[test]
fn a_version_that_reads_back_as_other_text_is_refused_as_damaged() {
    let v = TestVault::new();
    v.write("d.md", "# D\n\none\n");
    v.sync();
    v.ok(&["edit", "note/d", "--append", "two"]);
    v.ok(&["edit", "note/d", "--append", "three"]);
    {
        let conn = rusqlite::Connection::open(v.path(".brain/brain.db")).unwrap();
        // Version 2's delta in version 1's place: it decodes, to version 2's text.
        conn.execute(
            "UPDATE entity_versions SET stored =
                (SELECT stored FROM entity_versions WHERE version = 2)
             WHERE version = 1",
            [],
        )
        .unwrap();
    }
    let r = v.run(&["get", "note/d", "--version", "1"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("cannot be read back"), "{}", r.stderr);
    assert_eq!(
        v.ok(&["get", "note/d", "--version", "2"]).stdout,
        "# D\n\none\ntwo\n"
    );
    let doctor = v.run(&["doctor"]);
    assert_eq!(doctor.code, 1, "{}", doctor.stdout);
    assert!(
        doctor.stdout.contains("history of note/d") && doctor.stdout.contains("--rebuild"),
        "{}",
        doctor.stdout
    );
}

/// A note whose text in the store no longer matches its hash (a damaged store) is neither
/// served nor edited and written over its file; `brain doctor` names it (second re-check R5).
#[test]
fn a_damaged_current_text_is_neither_served_nor_edited() {
    let v = TestVault::new();
    v.write("a.md", "# A\n\na line 5\n");
    v.sync();
    {
        let conn = rusqlite::Connection::open(v.path(".brain/brain.db")).unwrap();
        conn.execute(
            "UPDATE entities SET body = replace(body, 'line', 'LINE') WHERE id = 'a'",
            [],
        )
        .unwrap();
    }
    let r = v.run(&["get", "note/a"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("does not match the hash"), "{}", r.stderr);
    let r = v.run(&["edit", "note/a", "--append", "x"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    v.sync();
    assert_eq!(
        v.read("a.md"),
        b"# A\n\na line 5\n",
        "the file keeps its text"
    );
    let doctor = v.run(&["doctor"]);
    assert_eq!(doctor.code, 1, "{}", doctor.stdout);
    assert!(
        doctor.stdout.contains("note/a: the store's text"),
        "{}",
        doctor.stdout
    );
}
