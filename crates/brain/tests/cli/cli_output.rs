//! What the CLI prints for people and tools: complete plain lines on pipes, colour only on a
//! terminal (and never with `NO_COLOR`), each message once, and exit codes as `--help` says.

use crate::util;

use util::TestVault;

/// Whether `text` holds an SGR (colour / style) escape sequence.
fn has_colour(text: &str) -> bool {
    let mut rest = text;
    while let Some(at) = rest.find("\x1b[") {
        let tail = &rest[at + 2..];
        let params = tail
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(tail.len());
        if tail[params..].starts_with('m') {
            return true;
        }
        rest = tail;
    }
    false
}

/// The progress lines ("Importing 3/6 notes") of a piped stderr, in order.
fn progress_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.ends_with(" notes") && l.contains('/'))
        .collect()
}

#[test]
fn a_piped_sync_ends_its_progress_with_where_the_work_ended() {
    for json in [false, true] {
        let v = TestVault::new();
        for i in 0..6 {
            v.write(&format!("n{i}.md"), format!("# note {i}\n"));
        }
        let args: &[&str] = if json { &["--json", "sync"] } else { &["sync"] };
        let r = v.ok(args);
        let lines = progress_lines(&r.stderr);
        assert_eq!(
            lines.last(),
            Some(&"Importing 6/6 notes"),
            "json={json}: the last progress line says all 6 were imported\n{}",
            r.stderr
        );
        assert_eq!(lines.first(), Some(&"Importing 0/6 notes"), "{}", r.stderr);
        assert!(!has_colour(&r.stderr), "{:?}", r.stderr);
        if json {
            assert_eq!(r.json()["imported"], 6);
        }
    }
}

#[test]
fn logs_on_a_pipe_are_plain_and_a_refusal_is_said_once() {
    let v = util::vault_after_deleting(20);
    for verbose in [None, Some("-v")] {
        let mut args: Vec<&str> = verbose.into_iter().collect();
        args.push("sync");
        let r = v.run(&args);
        assert_eq!(r.code, 5, "{}", r.stderr);
        assert!(!has_colour(&r.stderr), "{:?}", r.stderr);
        assert_eq!(
            r.stderr
                .matches("this sync would delete 20 of 30 notes")
                .count(),
            1,
            "{verbose:?}: the refusal is said once\n{}",
            r.stderr
        );
        assert!(
            r.stderr.contains("error: sync job #"),
            "said as the command's error: {}",
            r.stderr
        );
        if verbose.is_some() {
            assert!(
                r.stderr.contains("INFO"),
                "-v still logs, plainly: {}",
                r.stderr
            );
        }
    }
    // MCP's log goes to stderr too: plain on a file.
    let initialize = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}
"#;
    let r = v.run_stdin(&["-v", "mcp"], initialize);
    assert!(r.stderr.contains("INFO"), "{}", r.stderr);
    assert!(!has_colour(&r.stderr), "{:?}", r.stderr);
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let v = util::vault_after_deleting(20);
    let shown = v.on_a_terminal("-v sync", false);
    assert!(
        has_colour(&shown),
        "a terminal gets coloured log levels: {shown:?}"
    );
    assert_eq!(
        shown
            .matches("this sync would delete 20 of 30 notes")
            .count(),
        1,
        "{shown:?}"
    );
    let shown = v.on_a_terminal("-v sync", true);
    assert!(shown.contains("INFO"), "{shown:?}");
    assert!(!has_colour(&shown), "NO_COLOR is honoured: {shown:?}");
}

#[test]
fn usage_mistakes_exit_2_and_refusals_exit_1_as_help_documents() {
    let v = TestVault::new();
    v.write("Welcome.md", "# Welcome\n");
    v.sync();
    let help = v.ok(&["--help"]).stdout;
    assert!(help.contains("    2  usage mistake"), "{help}");
    for args in [
        &["get", "Welcome"][..],
        &["search", ""],
        &["jobs", "list", "--state", "bogus"],
        &["put", "nosuchtype/x"],
        &["rm", "Welcome"],
        &["get", "--bogus-flag", "note/Welcome"],
    ] {
        let r = v.run_stdin(args, b"# x\n");
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("error"), "{args:?}: {}", r.stderr);
        let mut json = vec!["--json"];
        json.extend_from_slice(args);
        let r = v.run_stdin(&json, b"# x\n");
        assert_eq!(r.code, 2, "--json {args:?}: {}", r.stderr);
        if !r.stdout.is_empty() {
            // clap's own mistakes come before --json is read; ours carry a kind to branch on.
            let doc = r.json();
            assert_eq!(doc["exit_code"], 2, "{doc}");
            assert!(
                ["bad_argument", "unknown_type"].contains(&doc["kind"].as_str().unwrap_or("")),
                "{doc}"
            );
        }
    }
    // Refusals of a well-formed request, with their reason: 1.
    for (args, why) in [
        (&["put", "note/../escape"][..], "would leave its folder"),
        (&["put", "note//abs"], "absolute path"),
    ] {
        let r = v.run_stdin(args, b"# x\n");
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(why), "{args:?}: {}", r.stderr);
    }
    let r = v.run(&["get", "note/nothere"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(
        v.run(&["--json", "get", "note/nothere"]).json()["kind"],
        "not_found"
    );
    // One vocabulary: the CLI names its own commands, never an MCP tool, and says "note".
    assert!(
        r.stderr.contains("`brain list` or `brain search`") && !r.stderr.contains("tool"),
        "{}",
        r.stderr
    );
    assert_eq!(
        v.store().count_live().unwrap(),
        1,
        "no mistake stored anything"
    );
}

#[test]
fn init_makes_the_folder_it_is_given_and_its_hint_names_it() {
    let home = tempfile::tempdir().unwrap();
    let vault = home.path().join("new notes/inner");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(util::brain_bin())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .current_dir(home.path())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&["init".as_ref(), "--vault".as_ref(), vault.as_os_str()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(vault.join(".brain/config.toml").is_file());
    let hint = format!("`brain --vault '{}' sync`", vault.display());
    assert!(stdout.contains(&hint), "the hint names the vault: {stdout}");
    // The hint works as printed, from the folder the user was in.
    std::fs::write(vault.join("a.md"), "# A\n").unwrap();
    let (code, stdout, stderr) = run(&["--vault".as_ref(), vault.as_os_str(), "sync".as_ref()]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("1 imported"), "{stdout}");

    // A file is not a vault, and is called what it is.
    let file = vault.join("a.md");
    for args in [
        vec!["--vault".as_ref(), file.as_os_str(), "list".as_ref()],
        vec!["init".as_ref(), "--vault".as_ref(), file.as_os_str()],
    ] {
        let (code, _, stderr) = run(&args);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("{} is a file, not a folder", file.display())),
            "{stderr}"
        );
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"# A\n");
}

#[test]
fn the_cli_says_note_and_names_its_own_commands() {
    let v = TestVault::new();
    for sub in [
        "",
        "sync",
        "list",
        "get",
        "put",
        "rm",
        "restore",
        "serve",
        "status",
        "search",
        "jobs",
        "conflicts",
        "git",
        "doctor",
        "init",
    ] {
        let mut args: Vec<&str> = sub.split_whitespace().collect();
        args.push("--help");
        let help = v.ok(&args).stdout.to_lowercase();
        assert!(!help.contains("entit"), "brain {sub} --help: {help}");
    }
    v.write("a.md", "# A\n");
    v.sync();
    let hash = v.ok(&["--json", "get", "note/a"]).json()["content_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let r = v.run_stdin(&["put", "note/a", "--expected-hash", &hash], b"# A1\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = v.run_stdin(&["put", "note/a", "--expected-hash", &hash], b"# A2\n");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("brain get --json")
            && r.stderr.contains("brain put --expected-hash")
            && r.stderr.contains("run `brain sync`"),
        "a stale write names the commands that fix it: {}",
        r.stderr
    );
    let r = v.run_stdin(&["put", "note/b", "--if-absent"], b"# B\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = v.run_stdin(&["put", "note/b", "--if-absent"], b"# B\n");
    assert!(
        r.stderr.contains("brain get --json") && !r.stderr.contains("`update`"),
        "{}",
        r.stderr
    );
}

#[test]
fn job_tables_have_a_header_and_show_is_text_unless_json() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    let id = v.sync()["job"].as_i64().unwrap();
    let list = v.ok(&["jobs", "list"]).stdout;
    let mut lines = list.lines();
    let header = lines.next().unwrap();
    for column in ["JOB", "TYPE", "STATE", "TRIES", "SINCE"] {
        assert!(header.contains(column), "{list}");
    }
    let first = lines.next().unwrap();
    assert!(
        first.starts_with(&format!("#{id} ")) && first.contains("succeeded  1 of 3"),
        "{list}"
    );
    let status = v.ok(&["status"]).stdout;
    assert!(
        status.contains("Recently finished:\n  JOB ") && status.contains("1 of 3"),
        "{status}"
    );
    let show = v.ok(&["jobs", "show", &id.to_string()]).stdout;
    assert!(
        show.starts_with(&format!(
            "Job #{id}: directory-sync, succeeded (attempt 1 of at most 3)"
        )),
        "{show}"
    );
    assert!(show.contains("\n  result     {\"scanned\":1"), "{show}");
    assert!(!show.trim_start().starts_with('{'), "not raw JSON: {show}");
    let json = v.ok(&["--json", "jobs", "show", &id.to_string()]).json();
    assert_eq!(json["state"], "succeeded");
}

#[test]
fn restore_says_what_it_did() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    v.sync();
    let live = v.ok(&["restore", "note/a"]).stdout;
    assert!(
        live.contains("note/a is not deleted") && live.contains("nothing to restore"),
        "{live}"
    );
    assert!(!live.contains("Restored"), "{live}");
    assert_eq!(
        v.ok(&["--json", "restore", "note/a"]).json()["restored"],
        false
    );
    v.ok(&["rm", "note/a"]);
    let back = v.ok(&["restore", "note/a"]).stdout;
    assert!(back.starts_with("Restored note/a"), "{back}");
    v.sync();
    assert_eq!(v.read("a.md"), b"# A\n");
    assert_eq!(v.run(&["restore", "note/never"]).code, 4);
}

#[test]
fn a_failed_git_command_is_said_once() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    v.sync();
    let missing = v.root().with_extension("no-such-remote.git");
    let r = v.run(&["git", "init", "--remote", missing.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stderr
            .matches("did not finish: nothing was pushed")
            .count(),
        1,
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("WARN"),
        "the command's error, not a log line too: {}",
        r.stderr
    );
}

#[test]
fn put_and_rm_say_what_the_sync_will_do_with_a_file_edited_on_disk() {
    let v = TestVault::new();
    v.write("q.md", "# q\n");
    v.write("r.md", "# r\n");
    v.sync();
    v.write("q.md", "# q\n\nperson edit\n");
    let r = v.run_stdin(&["put", "note/q"], b"# q agent\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("q.md was changed on disk since the last sync")
            && r.stdout
                .contains("keep-both: q.md keeps the text saved on disk"),
        "{}",
        r.stdout
    );
    let report = v.sync();
    assert_eq!(report["conflicts"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(v.read("q.md"), b"# q\n\nperson edit\n", "as the put said");

    v.write("r.md", "# r\n\nedited\n");
    let r = v.ok(&["rm", "note/r"]);
    assert!(
        r.stdout
            .contains("r.md was changed on disk since the last sync, so the next sync keeps"),
        "{}",
        r.stdout
    );
    v.sync();
    assert_eq!(v.read("r.md"), b"# r\n\nedited\n", "as rm said: kept");
    assert_eq!(v.ok(&["--json", "get", "note/r"]).code, 0, "imported again");

    // Untouched files: no such note.
    v.write("s.md", "# s\n");
    v.sync();
    let r = v.run_stdin(&["put", "note/s"], b"# s2\n");
    assert!(!r.stdout.contains("changed on disk"), "{}", r.stdout);
}

/// Issue 15 (a new user's finding): a sync of a vault where few notes changed counts the
/// vault's notes in every view: the piped lines and the job's own progress (`brain jobs show`,
/// `brain status`, what an MCP client or a late follower reads) say the same numbers, ending at
/// the vault's note count, never "0/10" in one place and "1,990/2,000" in another.
#[test]
fn a_sync_of_a_few_changes_counts_the_vault_in_every_view() {
    let v = TestVault::generated(2_000, false);
    v.sync();
    for i in 0..10 {
        let rel = format!("edited-{i}.md");
        v.write(&rel, format!("# edited {i}\n"));
    }
    let r = v.ok(&["sync"]);
    let lines = progress_lines(&r.stderr);
    assert_eq!(
        lines.first(),
        Some(&"Importing 2000/2010 notes"),
        "{}",
        r.stderr
    );
    assert_eq!(
        lines.last(),
        Some(&"Importing 2010/2010 notes"),
        "{}",
        r.stderr
    );
    let job = v.ok(&["--json", "jobs", "list", "--limit", "1"]).json()[0].clone();
    assert_eq!(
        (&job["progress"]["current"], &job["progress"]["total"]),
        (&serde_json::json!(2010), &serde_json::json!(2010)),
        "the job's own count is the bar's: {job}"
    );
}

/// A new user's finding: an id copied from a listing (`#7`) is taken as listed; anything else
/// is a usage mistake (exit 2) that says what to give.
#[test]
fn ids_are_taken_as_listings_print_them() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    let id = v.sync()["job"].as_i64().unwrap();
    let shown = v.ok(&["--json", "jobs", "show", &format!("#{id}")]).json();
    assert_eq!(shown["id"], id, "{shown}");
    let r = v.run(&["jobs", "show", "seven"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("'seven' is not an id: give the number a listing shows, e.g. 7 or #7"),
        "{}",
        r.stderr
    );
}
