//! Git sync's integrity cases (issue 13), through the real binary like the rest of
//! `git_sync.rs`, whose helpers they use.

use super::*;

/// Issue 13 item 4: a note that documents git (marker lines the user wrote) neither blocks
/// `brain git init` nor later syncs: it reaches the remote byte for byte, and so does an edit.
#[test]
fn issue13_a_note_documenting_git_markers_never_blocks_a_git_sync() {
    let documented = "# Resolving conflicts\n\nGit writes:\n\n<<<<<<< HEAD\nmine\n=======\n\
                      theirs\n>>>>>>> feature\n";
    let remote = Remote::new();
    let a = vault_with(&[("git-howto.md", documented), ("b.md", "# B\n")]);
    let report = git_init(&a, remote.url());
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(
        format!("{}\n", git(&remote.path, &["show", "main:git-howto.md"])),
        documented
    );

    let edited = format!("{documented}\nThen pick one side.\n");
    a.write("git-howto.md", &edited);
    a.sync();
    let report = git_sync(&a);
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(
        format!("{}\n", git(&remote.path, &["show", "main:git-howto.md"])),
        edited
    );
    assert_eq!(git(a.root(), &["status", "--porcelain"]), "");
}

/// Issue 13 item 11: `brain git init` with a remote that does not exist fails for good, saying
/// so and what to do (never "retried ... pushed on a later try"), and leaves no `origin`
/// behind; a remote the user had set up before is put back as it was.
#[test]
fn issue13_git_init_with_a_wrong_remote_fails_for_good_and_undoes_its_remote() {
    let a = vault_with(&[("a.md", "# A\n")]);
    let r = brain(
        &a,
        &["--json", "git", "init", "--remote", "file:///nonexistent"],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    git_util::assert_failed_without_retry(&a, &r);
    let error = r.json()["error"].as_str().unwrap().to_owned();
    for said in [
        "/nonexistent",
        "retrying cannot fix this",
        "brain git init --remote URL",
        "this is not retried",
    ] {
        assert!(error.contains(said), "{said:?} not in {error}");
    }
    for never in ["later try", "it is retried", "backoff"] {
        assert!(!error.contains(never), "{never:?} in {error}");
        assert!(!r.stderr.contains(never), "{never:?} in {}", r.stderr);
    }
    assert_eq!(git(a.root(), &["remote"]), "");
    let config = std::fs::read_to_string(a.path(".brain/config.toml")).unwrap();
    assert!(!config.contains("nonexistent"), "{config}");

    // A remote the user set up is pointed back at its URL, and still works.
    let remote = Remote::new();
    git(a.root(), &["remote", "add", "origin", remote.url()]);
    let r = brain(
        &a,
        &["--json", "git", "init", "--remote", "file:///nonexistent"],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        git(a.root(), &["remote", "get-url", "origin"]),
        remote.url()
    );
    let report = git_init(&a, remote.url());
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(tree(&remote.path, "main"), [".gitignore", "a.md"]);
}

/// Issue 13 item 5: git sync stages nothing a `.brainignore` excludes. A new excluded file never
/// reaches the remote; a tracked file that becomes excluded stays there as it was (never
/// deleted, its edits not committed), with one warning; the commit message counts notes as
/// notes and settings as files.
#[test]
fn issue13_git_sync_never_pushes_what_brainignore_excludes() {
    let plan = note("plan");
    let remote = Remote::new();
    let a = vault_with(&[("a.md", &note("a")), ("drafts/plan.md", &plan)]);
    git_init(&a, remote.url());
    assert_eq!(
        tree(&remote.path, "main"),
        [".gitignore", "a.md", "drafts/plan.md"]
    );

    a.write(".brainignore", "drafts/\n");
    a.write("drafts/secret.md", "# Secret\n\nnever pushed\n");
    a.write("drafts/plan.md", format!("{plan}\nedited while excluded\n"));
    a.write(".obsidian/app.json", "{\"x\": 1}\n");
    let a_text = format!("{}\nedited\n", note("a"));
    a.write("a.md", &a_text);
    a.sync();
    let r = brain_ok(&a, &["--json", "git", "sync"]);
    let report = r.json();
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(report["brainignored_tracked"], json!(["drafts/plan.md"]));
    assert!(
        r.stderr
            .contains("excluded by .brainignore: drafts/plan.md")
            && r.stderr.contains("git add PATH && git commit"),
        "{}",
        r.stderr
    );
    assert_eq!(
        tree(&remote.path, "main"),
        [
            ".brainignore",
            ".gitignore",
            ".obsidian/app.json",
            "a.md",
            "drafts/plan.md"
        ]
    );
    assert_eq!(
        format!("{}\n", git(&remote.path, &["show", "main:drafts/plan.md"])),
        plan
    );
    let message = git(&remote.path, &["log", "-1", "--format=%B", "main"]);
    let subject = message.lines().next().unwrap();
    assert!(
        subject.starts_with("brain: 1 note(s) changed on "),
        "{message}"
    );
    assert!(
        message.contains(".brainignore") && !message.contains("secret"),
        "{message}"
    );

    // Edited again, then deleted: still left as it was in git, and no second warning.
    a.write("drafts/plan.md", "# Plan\n\nrewritten\n");
    a.write("b.md", note("b"));
    a.sync();
    let r = brain_ok(&a, &["--json", "git", "sync"]);
    assert_eq!(r.json()["brainignored_tracked"], json!([]));
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    std::fs::remove_file(a.path("drafts/plan.md")).unwrap();
    a.write("b.md", format!("{}\nmore\n", note("b")));
    a.sync();
    let r = brain_ok(&a, &["--json", "git", "sync"]);
    assert_eq!(r.json()["pushed"], true);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    let remote_files = tree(&remote.path, "main");
    assert!(
        remote_files.contains(&"drafts/plan.md".to_owned())
            && !remote_files.contains(&"drafts/secret.md".to_owned()),
        "{remote_files:?}"
    );
    assert_eq!(
        format!("{}\n", git(&remote.path, &["show", "main:drafts/plan.md"])),
        plan
    );
    let history = git(&remote.path, &["log", "--all", "--format=%H"]);
    for commit in history.lines() {
        let files = tree(&remote.path, commit);
        assert!(!files.contains(&"drafts/secret.md".to_owned()), "{commit}");
    }
}

/// `brain put ID` of `text` (through stdin) with the commit identity and `env`, expecting
/// success.
fn put(v: &TestVault, id: &str, text: &str, env: &[(&str, &str)]) {
    use std::io::Write;
    let mut cmd = v.cmd();
    cmd.envs(env.iter().copied())
        .args(["put", id])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "brain put {id}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The exact bytes of `path` in the remote's `main`.
fn pushed(remote: &Remote, path: &str) -> String {
    let r = git_util::git_run(&remote.path, &["show", &format!("main:{path}")]);
    assert_eq!(r.code, 0, "{path} is not in the remote: {}", r.stderr);
    r.stdout
}

/// Issue 13 item 8, without a daemon: `brain put` then at once `brain git sync` pushes the new
/// note, byte for byte as put, and an edit put the same way.
#[test]
fn issue13_git_sync_right_after_put_pushes_the_note() {
    let remote = Remote::new();
    let a = vault_with(&[("a.md", "# A\n")]);
    git_init(&a, remote.url());
    let text = "# Fresh\n\nput just before the git sync\n";
    put(&a, "note/fresh", text, &[]);
    let report = git_sync(&a);
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(pushed(&remote, "fresh.md"), text);

    let edited = "# Fresh\n\nedited by a second put\n";
    put(&a, "note/fresh", edited, &[]);
    git_sync(&a);
    assert_eq!(pushed(&remote, "fresh.md"), edited);
    assert_eq!(git(a.root(), &["status", "--porcelain"]), "");
}

/// Issue 13 item 8, with `brain serve` running: the put's export waits out a debounce far
/// longer than the test, so only the git sync itself can write the file before it commits
/// (the lock it holds is the one the export job would take: no deadlock, no wait).
#[test]
fn issue13_git_sync_under_a_daemon_writes_the_pending_export_before_committing() {
    const DEBOUNCE: (&str, &str) = ("BRAIN_SERVE_SYNC_DEBOUNCE_MS", "600000");
    let remote = Remote::new();
    let a = vault_with(&[("a.md", "# A\n")]);
    git_init(&a, remote.url());
    let daemon = a.serve(&[
        DEBOUNCE,
        ("BRAIN_GIT_AUTHOR_NAME", git_util::NAME),
        ("BRAIN_GIT_AUTHOR_EMAIL", git_util::EMAIL),
        ("BRAIN_GIT_COMMIT_DEBOUNCE_MS", "600000"),
        ("BRAIN_GIT_PULL_ON_START", "false"),
        ("BRAIN_GIT_SYNC_INTERVAL_S", "0"),
    ]);
    let text = "# Fresh\n\nput while brain serve runs\n";
    put(&a, "note/fresh", text, &[DEBOUNCE]);
    // The export is queued and not due for minutes: the file is not there yet.
    let exports = a.jobs_of("directory-export");
    let pending = exports.last().expect("the put queued an export");
    assert_eq!(
        pending.state,
        brain_store::jobs::JobState::Queued,
        "{pending:?}"
    );
    assert!(
        pending.run_at_ms > brain_core::time::now_ms() + 60_000,
        "{pending:?}"
    );
    assert!(!a.path("fresh.md").exists());

    let report = git_sync(&a);
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(pushed(&remote, "fresh.md"), text);
    assert_eq!(read(&a, "fresh.md"), text);
    assert_eq!(git(a.root(), &["status", "--porcelain"]), "");
    assert_eq!(daemon.stop(), 0);
}

/// A folder that is a vault of its own (it holds a `.brain/`) is left out of the outer vault's
/// git sync as it is left out of its directory sync: none of its files reach the outer remote,
/// so no clone imports them and no pull writes into it.
#[test]
fn issue13_git_sync_never_pushes_a_vault_inside_the_vault() {
    let remote = Remote::new();
    let a = vault_with(&[("a.md", &note("a")), ("sub/s.md", &note("s"))]);
    git_init(&a, remote.url());
    assert_eq!(
        tree(&remote.path, "main"),
        [".gitignore", "a.md", "sub/s.md"]
    );

    std::fs::create_dir_all(a.path("sub/copied/.brain")).unwrap();
    a.write("sub/copied/.brain/config.toml", "");
    a.write("sub/copied/inner.md", "# Inner\n\nthe inner vault's own\n");
    let a_text = format!("{}\nedited\n", note("a"));
    a.write("a.md", &a_text);
    brain_ok(&a, &["--json", "git", "sync"]);
    assert_eq!(
        tree(&remote.path, "main"),
        [".gitignore", "a.md", "sub/s.md"],
        "the nested vault's files stay out of the outer remote"
    );
    assert_eq!(
        format!("{}\n", git(&remote.path, &["show", "main:a.md"])),
        a_text
    );
}

/// `brain --json get REF`'s `content`, the store's text of the note.
fn stored_content(v: &TestVault, entity: &str) -> String {
    let got = brain_ok(v, &["--json", "get", entity]).json();
    got["content"]
        .as_str()
        .unwrap_or_else(|| panic!("no content in {got}"))
        .to_owned()
}

/// Issue 14 (new user): a one-shot `brain git sync` (no `brain serve` watching the files)
/// imports the note files it commits that were edited, added or deleted on disk since the store
/// last read them, so the store that `get`, `search` and MCP answer from holds what the commit
/// holds: no stale line after it, and a later `brain sync` has nothing left to import. While
/// directory sync is paused it commits the files as they are and imports nothing.
#[test]
fn issue13_git_sync_imports_the_local_edits_it_commits() {
    let remote = Remote::new();
    let a = vault_with(&[
        ("loose.md", &note("loose")),
        ("gone.md", &note("gone")),
        ("keep.md", &note("keep")),
    ]);
    git_init(&a, remote.url());

    let edited = format!("{}\nedited in the vault, then git synced\n", note("loose"));
    a.write("loose.md", &edited);
    let added = "# Added\n\nwritten in the vault, never synced\n";
    a.write("added.md", added);
    std::fs::remove_file(a.path("gone.md")).unwrap();
    let r = brain_ok(&a, &["--json", "git", "sync"]);
    let report = r.json();
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(report["imported_local"], 3, "{report}");
    assert_eq!(report["commits"].as_array().unwrap().len(), 1, "{report}");

    // The commit holds the edit, the new file and the deletion...
    assert_eq!(pushed(&remote, "loose.md"), edited);
    assert_eq!(pushed(&remote, "added.md"), added);
    assert_eq!(
        tree(&remote.path, "main"),
        [".gitignore", "added.md", "keep.md", "loose.md"]
    );
    // ... and so does the store, right away.
    assert_eq!(stored_content(&a, "note/loose"), edited);
    assert_eq!(stored_content(&a, "note/added"), added);
    assert_eq!(
        get(&a, "note/gone"),
        None,
        "the deleted file's note is live"
    );
    let deleted = brain_ok(&a, &["--json", "list", "--deleted"]).json();
    let gone = deleted
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["path"] == "gone.md")
        .unwrap_or_else(|| panic!("gone.md's note is not kept, soft-deleted: {deleted}"));
    assert!(gone["deleted"].is_string(), "{gone}");
    let list = brain_ok(&a, &["list"]);
    assert!(
        !list.stderr.contains("stale") && !list.stderr.contains("changed on disk"),
        "`brain list` right after the git sync: {}",
        list.stderr
    );
    let sync = a.sync();
    for key in ["imported", "updated", "renamed", "deleted"] {
        assert_eq!(
            sync[key], 0,
            "`brain sync` after the git sync ({key}): {sync}"
        );
    }
    assert_in_step(&a);
    assert_eq!(git(a.root(), &["status", "--porcelain"]), "");

    // The CLI line says it too.
    let again = format!("{edited}and again\n");
    a.write("loose.md", &again);
    let r = brain_ok(&a, &["git", "sync"]);
    assert!(
        r.stdout
            .contains("1 edited note(s) imported from their files"),
        "{}",
        r.stdout
    );
    assert_eq!(stored_content(&a, "note/loose"), again);

    // Paused: the file is committed as it is, the store left as it was until resume.
    brain_ok(&a, &["sync", "pause"]);
    let paused = format!("{again}while paused\n");
    a.write("loose.md", &paused);
    let report = git_sync(&a);
    assert_eq!(report["imported_local"], 0, "{report}");
    assert_eq!(pushed(&remote, "loose.md"), paused);
    assert_eq!(stored_content(&a, "note/loose"), again);
    brain_ok(&a, &["sync", "resume"]);
}

/// The import a git sync makes of the files it commits keeps the mass-delete guard: a vault
/// folder emptied by mistake is refused (exit 5) before any note is deleted from the store, and
/// `brain git sync --allow-mass-delete` then deletes (soft) exactly the notes it commits deleted.
#[test]
fn issue13_git_sync_imports_no_mass_delete_until_allowed() {
    let names: Vec<String> = (0..12).map(|i| format!("m{i:02}")).collect();
    let notes: Vec<(String, String)> = names.iter().map(|n| (format!("{n}.md"), note(n))).collect();
    let refs: Vec<(&str, &str)> = notes
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let remote = Remote::new();
    let a = vault_with(&refs);
    git_init(&a, remote.url());
    let (deleted, kept) = names.split_at(11);
    for n in deleted {
        std::fs::remove_file(a.path(&format!("{n}.md"))).unwrap();
    }

    let refused = brain(&a, &["--json", "git", "sync"]);
    assert_eq!(refused.code, 5, "{}\n{}", refused.stdout, refused.stderr);
    for n in &names {
        assert!(
            get(&a, &format!("note/{n}")).is_some(),
            "the refused git sync deleted note/{n} from the store"
        );
    }

    let report = brain_ok(&a, &["--json", "git", "sync", "--allow-mass-delete"]).json();
    assert_eq!(report["imported_local"], 11, "{report}");
    assert_eq!(report["pushed"], true, "{report}");
    for n in deleted {
        assert_eq!(get(&a, &format!("note/{n}")), None, "note/{n} is live");
    }
    assert_eq!(
        stored_content(&a, &format!("note/{}", kept[0])),
        note(&kept[0])
    );
    assert_in_step(&a);
}
