//! What git sync says and refuses around directory sync (issue 13): under a pause, and with
//! `.brainignore` edits the remote changed; through the real binary like the rest of
//! `git_guards.rs`, whose helpers they use.

use super::*;

/// Issue 13: `brain git sync` while directory sync is paused and a `brain put` waits to be
/// written does not say "nothing to do": it says how many notes wait, why, and that
/// `brain sync resume` lets them be written (--json carries the count); it commits nothing.
/// Once resumed, the next git sync writes, commits and pushes the note.
#[test]
fn issue13_git_sync_under_pause_says_notes_wait_for_resume_and_commits_nothing() {
    let remote = Remote::new();
    let a = vault_with(&[("a.md", &note("a"))]);
    git_init(&a, remote.url());
    let head = rev(a.root(), "HEAD");
    brain_ok(&a, &["sync", "pause"]);
    let put = a.run_stdin(&["put", "note/waiting"], b"# Waiting\n\nput while paused\n");
    assert_eq!(put.code, 0, "{}\n{}", put.stdout, put.stderr);

    let r = brain_ok(&a, &["git", "sync"]);
    assert!(!r.stdout.contains("nothing to do"), "{}", r.stdout);
    for said in [
        "Git sync: nothing committed.",
        "1 note(s) are waiting to be written to their files because directory sync is paused",
        "`brain sync resume` lets them be written, and the next `brain git sync` commits them",
    ] {
        assert!(r.stdout.contains(said), "{said:?} not in {}", r.stdout);
    }
    let report = git_sync(&a);
    assert_eq!(report["waiting_for_resume"], 1, "{report}");
    assert_eq!(report["commits"], json!([]), "{report}");
    assert_eq!(rev(a.root(), "HEAD"), head, "nothing was committed");
    assert_eq!(remote.head(), head, "nothing was pushed");
    assert!(
        !a.path("waiting.md").exists(),
        "paused: the file is not written"
    );

    brain_ok(&a, &["sync", "resume"]);
    let report = git_sync(&a);
    assert_eq!(report["waiting_for_resume"], 0, "{report}");
    assert_eq!(report["commits"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["pushed"], true, "{report}");
    let written = read(&a, "waiting.md");
    assert!(written.contains("put while paused"), "{written}");
    assert_eq!(
        git(&remote.path, &["show", "main:waiting.md"]) + "\n",
        written
    );
    let r = brain_ok(&a, &["git", "sync"]);
    assert!(
        r.stdout.contains("Git sync: nothing to do."),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("waiting"), "{}", r.stdout);
}

/// The hostile tester's scenario, up to the sync that used to fail forever: vault A commits
/// `drafts/plan.md`, then excludes it with `.brainignore` (`pattern`) and edits it; clone C
/// commits its own edit of the file by hand and pushes it; A writes a new note `afterblock`
/// and runs `brain git sync`, whose result (exit code, output) is returned with the remote, A,
/// A's uncommitted edit and C's version.
fn sync_after_the_remote_changed_a_brainignored_edit(
    pattern: &str,
) -> (Remote, TestVault, Run, String, String) {
    let remote = Remote::new();
    let a = TestVault::new();
    git_init(&a, remote.url());
    let c = TestVault::uninitialized();
    git_init(&c, remote.url());
    a.write("drafts/plan.md", "# plan\n");
    git_sync(&a);
    assert_eq!(
        git(&remote.path, &["show", "main:drafts/plan.md"]),
        "# plan"
    );

    a.write(".brainignore", format!("{pattern}\n"));
    let local = "# plan\n\nA's private edit, never committed\n".to_owned();
    a.write("drafts/plan.md", &local);
    let report = git_sync(&a);
    assert_eq!(report["brainignored_tracked"], json!(["drafts/plan.md"]));

    git_sync(&c);
    let theirs = "# plan\n\nC's edit, committed by hand\n".to_owned();
    c.write("drafts/plan.md", &theirs);
    git(c.root(), &["commit", "-q", "-am", "C edits the plan"]);
    assert_eq!(git_sync(&c)["pushed"], true);

    let put = a.run_stdin(&["put", "note/afterblock"], b"# After block\n");
    assert_eq!(put.code, 0, "{}\n{}", put.stdout, put.stderr);
    let r = brain(&a, &["git", "sync"]);
    (remote, a, r, local, theirs)
}

/// The copy the sync's output names as holding this device's version of `drafts/plan.md`.
fn copy_named_in(out: &str) -> String {
    let said = "this device's version was saved as '";
    let start = out
        .find(said)
        .unwrap_or_else(|| panic!("no {said:?} in {out}"))
        + said.len();
    out[start..]
        .split('\'')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Issue 13 (hostile review): a file git tracks that a `.brainignore` later excludes, edited
/// here and changed on the remote, used to make every `brain git sync` fail with git's raw
/// "would be overwritten by merge", holding back every other note's push forever. Now the
/// sync goes on around it: this device's edit is kept byte for byte in a conflict copy beside
/// the file (excluded too, so never committed), the remote's version is taken, the output and
/// `brain conflicts list` name the copy, `brain git status` counts the conflict, the new note
/// is pushed by that same sync, and once the user settles the conflict as advised the next
/// syncs go on with nothing left over.
#[test]
fn issue13_a_tracked_file_later_brainignored_does_not_block_git_sync_silently() {
    let (remote, a, r, local, theirs) =
        sync_after_the_remote_changed_a_brainignored_edit("drafts/");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("would be overwritten"), "{}", r.stderr);
    for said in [
        "'drafts/plan.md' is excluded by .brainignore, was edited here and changed on the remote",
        "kept out of git, and the remote's version is taken at 'drafts/plan.md'",
        "`brain conflicts resolve`",
        "pushed",
    ] {
        assert!(r.stdout.contains(said), "{said:?} not in {}", r.stdout);
    }
    let copy = copy_named_in(&r.stdout);
    assert!(
        copy.starts_with("drafts/plan.conflict-") && copy.ends_with(".md"),
        "{copy}"
    );
    assert_eq!(read(&a, &copy), local, "A's edit is kept whole at {copy}");
    assert_eq!(read(&a, "drafts/plan.md"), theirs, "the remote's version");

    // The new note reached the remote in that same sync; the private edit and its copy did not.
    assert_eq!(remote.head(), rev(a.root(), "HEAD"));
    let pushed = tree(&remote.path, "main");
    assert!(pushed.contains(&"afterblock.md".to_owned()), "{pushed:?}");
    assert!(!pushed.iter().any(|p| p.contains("conflict")), "{pushed:?}");
    assert_eq!(
        git(&remote.path, &["show", "main:drafts/plan.md"]) + "\n",
        theirs
    );

    let conflicts = brain_ok(&a, &["--json", "conflicts", "list"]).json();
    let listed = conflicts.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{conflicts}");
    assert_eq!(listed[0]["path"], "drafts/plan.md");
    assert_eq!(listed[0]["copy_path"], json!(copy));
    assert_eq!(listed[0]["entity"], json!(null), "the file is no note");
    let status = brain_ok(&a, &["git", "status"]);
    assert!(
        status
            .stdout
            .contains("1 unresolved conflict(s): see `brain conflicts list`.")
            && status
                .stdout
                .contains("git sync keeps this version apart as a conflict copy"),
        "{}",
        status.stdout
    );

    // Following the advice: keep this device's version, delete the other, resolve.
    a.write("drafts/plan.md", &local);
    std::fs::remove_file(a.path(&copy)).unwrap();
    let id = listed[0]["id"].to_string();
    brain_ok(&a, &["conflicts", "resolve", &id]);
    let put = a.run_stdin(&["put", "note/later"], b"# Later\n");
    assert_eq!(put.code, 0, "{}\n{}", put.stdout, put.stderr);
    let report = git_sync(&a);
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(report["kept_both"], json!([]), "{report}");
    assert!(tree(&remote.path, "main").contains(&"later.md".to_owned()));
    assert_eq!(read(&a, "drafts/plan.md"), local, "left as the user chose");
    assert_eq!(
        git(&remote.path, &["show", "main:drafts/plan.md"]) + "\n",
        theirs,
        "the excluded edit is still never committed"
    );
}

/// Issue 13: when the `.brainignore` names the file alone, a conflict copy beside it would not
/// be excluded, and the next commit would push the edit the user kept out of git: this device's
/// version goes under `.brain/kept/` instead (git never stages `.brain/`), byte for byte, and
/// the sync still goes on and pushes the new note.
#[test]
fn issue13_a_set_aside_edit_the_brainignore_would_not_exclude_beside_it_goes_under_dot_brain() {
    let (remote, a, r, local, theirs) =
        sync_after_the_remote_changed_a_brainignored_edit("drafts/plan.md");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let copy = copy_named_in(&r.stdout);
    assert!(
        copy.starts_with(".brain/kept/drafts/plan.conflict-") && copy.ends_with(".md"),
        "{copy}"
    );
    assert_eq!(read(&a, &copy), local);
    assert_eq!(read(&a, "drafts/plan.md"), theirs);
    let on_disk: Vec<String> = files(&a)
        .into_keys()
        .filter(|p| p.starts_with("drafts/"))
        .collect();
    assert_eq!(on_disk, ["drafts/plan.md"], "no copy beside the file");
    let pushed = tree(&remote.path, "main");
    assert!(pushed.contains(&"afterblock.md".to_owned()), "{pushed:?}");
    assert!(!pushed.iter().any(|p| p.contains("conflict")), "{pushed:?}");
    // A later sync commits nothing of it either.
    git_sync(&a);
    assert!(
        !tree(&remote.path, "main")
            .iter()
            .any(|p| p.contains("conflict"))
    );
}
