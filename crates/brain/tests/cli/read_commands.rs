//! Issue 14 (items 3, 6, 7): what `brain list`, `brain search` and `brain get` answer, read as
//! a person and a script would, through the same facade as MCP: a limit of 0 is a usage
//! mistake, an unknown type filter warns and lists nothing, an empty listing says so, a deleted
//! note is said to be restorable, a note's text is sent once, and search marks its matches so
//! a pipe can tell them from the note's own Markdown.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

use util::TestVault;

/// A vault with three plain notes, synced.
fn three_notes() -> TestVault {
    let v = TestVault::new();
    v.write("a.md", "# A\n\nThe **bold** crab said ⟦hi⟧ twice.\n");
    v.write("b.md", "# B\n\nanother crab here\n");
    v.write("c.md", "# C\n\nno match\n");
    v.sync();
    v
}

#[test]
fn issue14_a_limit_of_zero_is_a_usage_mistake() {
    let v = three_notes();
    for args in [
        &["list", "--limit", "0"][..],
        &["search", "crab", "--limit", "0"],
        &["--json", "list", "--limit", "0"],
    ] {
        let r = v.run(args);
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("at least 1"), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("--limit"), "{args:?}: {}", r.stderr);
    }
    // No --limit lists every note; a limit cuts the list.
    let all = v.ok(&["--json", "list"]).json();
    assert_eq!(all.as_array().unwrap().len(), 3, "{all}");
    let two = v.ok(&["--json", "list", "--limit", "2"]).json();
    assert_eq!(two.as_array().unwrap().len(), 2, "{two}");
    let one = v.ok(&["--json", "search", "crab", "--limit", "1"]).json();
    assert_eq!(one.as_array().unwrap().len(), 1, "{one}");
}

#[test]
fn issue14_an_unknown_type_filter_warns_and_an_empty_list_says_no_notes() {
    let v = three_notes();
    v.set_config("[vault]\nentity_types = [\"topic\"]\n");
    let r = v.ok(&["list", "--type", "bogus"]);
    assert_eq!(r.stdout, "No notes.\n");
    assert!(
        r.stderr
            .contains("warning: this vault has no type bogus: it has note, topic"),
        "{}",
        r.stderr
    );
    let r = v.ok(&["--json", "list", "--type", "bogus"]);
    assert_eq!(r.json(), serde_json::json!([]), "{}", r.stdout);
    assert!(r.stderr.contains("no type bogus"), "{}", r.stderr);
    // Search filters alike.
    let r = v.ok(&["search", "crab", "--type", "bogus"]);
    assert_eq!(r.stdout, "No matches.\n");
    assert!(r.stderr.contains("no type bogus"), "{}", r.stderr);
    // A known type with no notes, and an empty vault: "No notes.", no warning.
    let r = v.ok(&["list", "--type", "topic"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("No notes.\n", ""));
    let empty = TestVault::new();
    empty.sync();
    let r = empty.ok(&["list"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("No notes.\n", ""));
}

#[test]
fn issue14_get_of_a_deleted_note_says_it_is_restorable() {
    let v = three_notes();
    v.ok(&["rm", "note/a"]);
    let r = v.run(&["get", "note/a"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "note/a was deleted (its last text is kept): bring it back with `brain restore note/a`"
        ),
        "{}",
        r.stderr
    );
    let r = v.run(&["--json", "get", "note/a"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("brain restore note/a"),
        "{}",
        r.stdout
    );
    // A note that never was is not called deleted.
    let r = v.run(&["get", "note/never"]);
    assert_eq!(r.code, 4);
    assert!(!r.stderr.contains("was deleted"), "{}", r.stderr);
    // `--deleted` still lists it, through the facade, marked.
    let listed = v.ok(&["--json", "list", "--deleted"]).json();
    let a = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "a")
        .cloned()
        .unwrap();
    assert!(a["deleted"].is_string(), "{listed}");
    v.ok(&["restore", "note/a"]);
    v.ok(&["get", "note/a"]);
}

#[test]
fn issue14_get_json_sends_the_text_once() {
    let v = three_notes();
    let doc = v.ok(&["--json", "get", "note/b"]).json();
    let mut keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "content",
            "content_hash",
            "created",
            "deleted",
            "id",
            "metadata",
            "path",
            "tags",
            "title",
            "type",
            "updated"
        ]
    );
    assert_eq!(doc["content"], "# B\n\nanother crab here\n");
}

#[test]
fn issue14_search_on_a_pipe_marks_matches_unambiguously() {
    let v = three_notes();
    let text = v.ok(&["search", "crab"]).stdout;
    assert!(
        text.contains("The **bold** ⟦crab⟧ said ⟦⟦hi⟧⟧ twice"),
        "the note's bold stays, its own ⟦ ⟧ are doubled: {text}"
    );
    assert!(!text.contains('\x1b'), "no colour on a pipe: {text:?}");
    let hits = v.ok(&["--json", "search", "crab"]).json();
    let snippets: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["snippet"].as_str().unwrap())
        .collect();
    assert!(
        snippets.contains(&"B\n\nanother ⟦crab⟧ here"),
        "{snippets:?}"
    );
}

/// On a terminal the matches are coloured instead (and marked ⟦ ⟧ with `NO_COLOR`).
#[test]
fn issue14_search_on_a_terminal_colours_matches() {
    let v = three_notes();
    let run = |no_color: bool| v.on_a_terminal("search another", no_color);
    let shown = run(false);
    assert!(shown.contains("\x1b[1;33manother\x1b[0m"), "{shown:?}");
    assert!(!shown.contains('⟦'), "{shown:?}");
    let plain = run(true);
    assert!(plain.contains("⟦another⟧"), "{plain:?}");
    assert!(!plain.contains("\x1b[1;33m"), "{plain:?}");
}

#[test]
fn list_prints_whole_ids_under_a_header_and_keeps_wide_titles_aligned() {
    let v = TestVault::new();
    let long = "deep/folder/with/a/very/long/path/and-a-long-note-name-here";
    v.write(&format!("{long}.md"), "# Café ideas 💡\n");
    v.write("p.md", "# plain\n");
    v.sync();
    let out = v.ok(&["list"]).stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("NOTE ") && lines[0].contains("TITLE"),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!("note/{long}  ")),
        "the whole id, never cut: {out}"
    );
    // Every row's last column (PATH) starts at the same terminal column, emoji or not.
    let column = |line: &str| {
        let at = line.rfind("  ").unwrap() + 2;
        unicode_width::UnicodeWidthStr::width(&line[..at])
    };
    assert_eq!(column(lines[0]), column(lines[1]), "{out}");
    assert_eq!(column(lines[1]), column(lines[2]), "{out}");
}

#[test]
fn a_path_typed_as_type_and_id_is_answered_with_the_note_meant() {
    let v = TestVault::new();
    v.write("work/plan.md", "# Plan\n");
    v.sync();
    let r = v.run(&["get", "work/plan"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("did you mean note/work/plan?"),
        "{}",
        r.stderr
    );
    // A type nobody has and no such note: still the unknown type, a usage mistake.
    let r = v.run(&["get", "nosuch/plan"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("unknown type 'nosuch'"), "{}", r.stderr);
}

/// A new user's findings: a read before the first sync says the notes are not imported yet
/// (not that a note "may have been deleted", nor "changed since the last sync" when none ran),
/// and a new note too large to import is told as that, not as a change `brain sync` would pick up.
#[test]
fn reads_before_the_first_sync_and_of_an_unimportable_note_say_why() {
    let v = TestVault::new();
    v.write("Welcome.md", "# Welcome\n");
    let r = v.run(&["get", "note/Welcome"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("no note is imported into the store yet")
            && r.stderr.contains("run `brain sync`")
            && !r.stderr.contains("may have been deleted")
            && !r.stderr.contains("since the last sync"),
        "{}",
        r.stderr
    );
    let r = v.ok(&["search", "welcome"]);
    assert!(
        r.stderr.contains("no note is imported into the store yet"),
        "{}",
        r.stderr
    );

    v.sync();
    let big = format!("# big\n{}", "word ".repeat(1_100_000));
    v.write("big.md", big);
    let r = v.run(&["get", "note/big"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("big.md is")
            && r.stderr.contains("over sync.max_file_bytes")
            && r.stderr
                .contains("a sync skips it, so it is not in the store"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("run `brain sync` to import it"),
        "{}",
        r.stderr
    );
}

#[path = "read_commands/history.rs"]
mod history;

#[path = "read_commands/edit.rs"]
mod edit;
