#![allow(clippy::unwrap_used)] // tests fail loudly by design
//! What git sync refuses, and what it shows: auto-commit while the user's merge is unresolved
//! (left alone, while a merge of its own cut short is aborted and redone), a commit deleting most
//! notes (exit code 5); `brain git log` of one note across a rename, and `brain git status`.

use crate::util;

use crate::git_util;

use std::collections::BTreeSet;

use git_util::*;
use serde_json::json;
use util::{Run, TestVault};

#[test]
fn auto_commit_is_refused_while_a_merge_is_unresolved() {
    let remote = Remote::new();
    let a = vault_with(&[
        ("alpha.md", note("alpha").as_str()),
        ("bravo.md", note("bravo").as_str()),
    ]);
    git_init(&a, remote.url());
    let root = a.root();

    // A conflicting merge started by hand and left with its markers.
    git(root, &["checkout", "-q", "-b", "side"]);
    a.write(
        "alpha.md",
        note("alpha").replace("line two", "side's line two"),
    );
    git(root, &["commit", "-q", "-am", "side"]);
    git(root, &["checkout", "-q", "main"]);
    a.write(
        "alpha.md",
        note("alpha").replace("line two", "main's line two"),
    );
    git(root, &["commit", "-q", "-am", "main"]);
    let merge = git_run(root, &["merge", "side"]);
    assert_eq!(merge.code, 1, "{}{}", merge.stdout, merge.stderr);
    assert!(read(&a, "alpha.md").contains("<<<<<<<"));
    // And a change that an auto-commit would take along.
    a.write("bravo.md", note("bravo") + "more\n");
    let head = rev(root, "HEAD");
    let remote_head = remote.head();

    let r = brain(&a, &["--json", "git", "sync"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("while a merge is unresolved") && r.stderr.contains("alpha.md"),
        "{}",
        r.stderr
    );
    assert_failed_without_retry(&a, &r);

    // Nothing committed or pushed; the user's merge is left as it was.
    assert_eq!(rev(root, "HEAD"), head);
    assert_eq!(remote.head(), remote_head);
    assert_eq!(commits_with_markers(root), Vec::<String>::new());
    assert_eq!(commits_with_markers(&remote.path), Vec::<String>::new());
    assert!(read(&a, "alpha.md").contains("<<<<<<<"));
    assert_eq!(
        git_run(root, &["rev-parse", "-q", "--verify", "MERGE_HEAD"]).code,
        0
    );
    let status = brain_ok(&a, &["--json", "git", "status"]).json();
    assert_eq!(status["merging"], true);
    assert_eq!(status["unmerged"], json!(["alpha.md"]));

    // Once the user concludes it, sync goes on.
    a.write("alpha.md", note("alpha"));
    git(root, &["add", "alpha.md"]);
    git(root, &["commit", "-q", "--no-edit"]);
    let report = git_sync(&a);
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(remote.head(), rev(root, "HEAD"));
    assert_eq!(commits_with_markers(&remote.path), Vec::<String>::new());
    assert_eq!(
        git(&remote.path, &["show", "main:bravo.md"]) + "\n",
        note("bravo") + "more\n"
    );
}

/// `brain --json git log ARGS` as commit ids, newest first.
fn logged(v: &TestVault, args: &[&str]) -> Vec<String> {
    let mut all = vec!["--json", "git", "log"];
    all.extend_from_slice(args);
    brain_ok(v, &all)
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["commit"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn log_follows_a_note_and_status_shows_where_the_vault_stands() {
    let remote = Remote::new();
    let a = vault_with(&[
        ("x.md", note("x").as_str()),
        ("other.md", note("other").as_str()),
    ]);
    let c0 = git_init(&a, remote.url())["commits"][0]
        .as_str()
        .unwrap()
        .to_owned();
    edit(&a, "x.md", "line one of x", "x, edited");
    let c1 = git_sync(&a)["commits"][0].as_str().unwrap().to_owned();
    edit(&a, "other.md", "line one of other", "other, edited");
    let c2 = git_sync(&a)["commits"][0].as_str().unwrap().to_owned();
    std::fs::rename(a.path("x.md"), a.path("y.md")).unwrap();
    a.sync();
    let c3 = git_sync(&a)["commits"][0].as_str().unwrap().to_owned();
    edit(&a, "y.md", "line two of x", "y, edited");
    let c4 = git_sync(&a)["commits"][0].as_str().unwrap().to_owned();

    assert_eq!(
        logged(&a, &["note/y"]),
        [c4.clone(), c3.clone(), c1.clone(), c0.clone()]
    );
    assert_eq!(logged(&a, &["note/other"]), [c2.clone(), c0.clone()]);
    assert_eq!(
        logged(&a, &[]),
        [c4.clone(), c3.clone(), c2.clone(), c1.clone(), c0.clone()]
    );
    assert_eq!(logged(&a, &["note/y", "-n", "2"]), [c4.clone(), c3.clone()]);
    let entry = &brain_ok(&a, &["--json", "git", "log", "note/y"]).json()[0];
    assert_eq!(entry["author"], git_util::NAME);

    // Clean and level with the remote.
    let status = brain_ok(&a, &["--json", "git", "status"]).json();
    assert_eq!(status["repository"], true);
    assert_eq!(status["branch"], "main");
    assert_eq!(status["head"], json!(c4));
    assert_eq!(status["upstream"], "origin/main");
    assert_eq!(status["remote"], remote.url());
    assert_eq!(
        (status["ahead"].as_u64(), status["behind"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(status["changed"], json!([]));
    assert_eq!(status["merging"], false);

    // One commit ahead (made by hand), one behind (pushed by B, fetched by hand), two changes.
    let b = TestVault::uninitialized();
    git_init(&b, remote.url());
    edit(&b, "other.md", "line two of other", "other, on B");
    git_sync(&b);
    a.write("y.md", read(&a, "y.md") + "committed by hand\n");
    git(a.root(), &["commit", "-q", "-am", "by hand"]);
    git(a.root(), &["fetch", "-q", "origin"]);
    a.write("y.md", read(&a, "y.md") + "not committed\n");
    a.write("new.md", "# New\n");
    let status = brain_ok(&a, &["--json", "git", "status"]).json();
    assert_eq!(
        (status["ahead"].as_u64(), status["behind"].as_u64()),
        (Some(1), Some(1))
    );
    let changed: BTreeSet<&str> = status["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(changed, BTreeSet::from(["new.md", "y.md"]));
    assert_eq!(status["head"], json!(rev(a.root(), "HEAD")));

    // A sync settles all of it.
    a.sync();
    let report = git_sync(&a);
    assert_eq!(report["pushed"], true, "{report}");
    let status = brain_ok(&a, &["--json", "git", "status"]).json();
    assert_eq!(
        (status["ahead"].as_u64(), status["behind"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(status["changed"], json!([]));
    assert_eq!(status["head"], json!(remote.head()));
}

/// `git show REV:PATH` in `repo`, byte for byte.
fn blob(repo: &std::path::Path, rev: &str, path: &str) -> String {
    let r = git_run(repo, &["cat-file", "blob", &format!("{rev}:{path}")]);
    assert_eq!(r.code, 0, "{rev}:{path}: {}", r.stderr);
    r.stdout
}

/// A vault folder emptied by mistake must not delete every device's notes: `brain sync` and
/// `brain git sync` both refuse with exit code 5 (as `brain --help` and the README say), deleting,
/// staging, committing and pushing nothing, until `--allow-mass-delete` says it is meant; then
/// exactly the deleted notes leave the remote's tree and every other file stays byte for byte.
#[test]
fn a_commit_deleting_most_notes_is_refused_with_code_5_until_allowed() {
    let help = brain_ok(&TestVault::uninitialized(), &["--help"]).stdout;
    assert!(
        help.contains("5  refused for safety: a sync or git commit would delete too many notes"),
        "{help}"
    );

    let names: Vec<String> = (0..14).map(|i| format!("n{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (remote, a, _b) = pair(&refs);
    let before = remote.head();
    let tree_before = tree(&remote.path, &before);
    let (deleted, kept) = names.split_at(11);
    for n in deleted {
        std::fs::remove_file(a.path(&format!("{n}.md"))).unwrap();
    }

    // The directory sync's guard: the store keeps every note.
    let refused = brain(&a, &["--json", "sync"]);
    assert_eq!(refused.code, 5, "{}\n{}", refused.stdout, refused.stderr);
    assert_eq!(refused.json()["exit_code"], 5);
    assert!(get(&a, "note/n00").is_some(), "brain sync deleted a note");

    // The git commit's guard.
    let refused = brain(&a, &["--json", "git", "sync"]);
    assert_eq!(refused.code, 5, "{}\n{}", refused.stdout, refused.stderr);
    let out = refused.json();
    assert_eq!(out["exit_code"], 5, "{out}");
    assert!(
        out["error"]
            .as_str()
            .unwrap()
            .starts_with("this commit would delete 11 of the 14 notes"),
        "{out}"
    );
    assert!(
        refused.stderr.contains("--allow-mass-delete"),
        "{}",
        refused.stderr
    );
    assert_failed_without_retry(&a, &refused);
    assert_eq!(remote.head(), before, "nothing was pushed");
    assert_eq!(rev(a.root(), "HEAD"), before, "nothing was committed");
    assert_eq!(
        git(a.root(), &["diff", "--cached", "--name-only"]),
        "",
        "nothing was staged"
    );

    // Any other failure still exits 1: the code is the refusal's, not every git failure's.
    let elsewhere = TestVault::new();
    let r = brain(&elsewhere, &["--json", "git", "sync"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["exit_code"], 1);

    let report = brain_ok(&a, &["--json", "git", "sync", "--allow-mass-delete"]).json();
    assert_eq!(report["pushed"], true, "{report}");
    let head = remote.head();
    assert_ne!(head, before);
    assert_eq!(rev(a.root(), "HEAD"), head);
    let expected: Vec<String> = tree_before
        .iter()
        .filter(|p| !deleted.iter().any(|n| **p == format!("{n}.md")))
        .cloned()
        .collect();
    assert_eq!(tree_before.len(), expected.len() + deleted.len());
    assert_eq!(tree(&remote.path, &head), expected);
    for path in &expected {
        assert_eq!(
            blob(&remote.path, &head, path),
            blob(&remote.path, &before, path),
            "{path} changed"
        );
    }
    for n in kept {
        assert_eq!(blob(&remote.path, &head, &format!("{n}.md")), note(n));
    }
}

/// Where a git wrapper kills the `brain` that runs it, in the middle of a merge of its own.
#[derive(Clone, Copy, Debug)]
enum KillPoint {
    /// Right after `git merge` stopped on a conflict (MERGE_HEAD set, markers in the file).
    AfterConflictedMerge,
    /// Right before the commit that concludes the merge (both versions written and staged).
    BeforeConcludingCommit,
}

/// A `git` for `BRAIN_GIT` that runs the real one but SIGKILLs its parent (the `brain` running
/// the git job) at `at`, touching `mark` first so the test knows the kill happened there.
fn killing_git(dir: &std::path::Path, at: KillPoint, mark: &std::path::Path) -> String {
    let real = git(dir, &["--exec-path"]);
    let real = std::path::Path::new(&real).join("git");
    assert!(real.is_file(), "no git at {}", real.display());
    let (real, mark) = (real.display(), mark.display());
    let body = match at {
        // brains' own merge (`merge --ff --no-edit ...`); exit 1 is a conflict.
        KillPoint::AfterConflictedMerge => format!(
            "'{real}' \"$@\"; rc=$?\n\
             case \" $* \" in *' merge --ff --no-edit '*)\n\
               if [ $rc -eq 1 ]; then touch '{mark}'; kill -KILL $PPID; fi;;\n\
             esac\n\
             exit $rc\n"
        ),
        // Only the merge's concluding commit skips hooks.
        KillPoint::BeforeConcludingCommit => format!(
            "case \" $* \" in *' commit -q --cleanup=whitespace -F - --no-verify '*)\n\
               touch '{mark}'; kill -KILL $PPID; exit 1;;\n\
             esac\n\
             exec '{real}' \"$@\"\n"
        ),
    };
    let path = dir.join("git");
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// A git sync killed in the middle of a merge it started leaves MERGE_HEAD behind; the next git
/// job sees the merge is its own (by its message), aborts it and merges again: both devices'
/// edits end up in the vault, the store and the remote, with no conflict markers committed.
#[test]
fn a_merge_of_ours_cut_short_by_a_kill_is_aborted_and_redone_by_the_next_job() {
    for at in [
        KillPoint::AfterConflictedMerge,
        KillPoint::BeforeConcludingCommit,
    ] {
        let (remote, a, b) = pair(&["alpha", "bravo"]);
        // Both edit the same line of alpha (a conflict) and different lines of bravo (merged).
        let b_alpha = edit(
            &b,
            "alpha.md",
            "line two of alpha",
            "alpha's line two, on B",
        );
        edit(
            &b,
            "bravo.md",
            "line one of bravo",
            "bravo's line one, on B",
        );
        git_sync(&b);
        let theirs = remote.head();
        let a_alpha = edit(
            &a,
            "alpha.md",
            "line two of alpha",
            "alpha's line two, on A",
        );
        edit(
            &a,
            "bravo.md",
            "line six of bravo",
            "bravo's line six, on A",
        );

        let tools = tempfile::tempdir().unwrap();
        let mark = tools.path().join("killed");
        let wrapper = killing_git(tools.path(), at, &mark);
        let lease = ("BRAIN_JOBS_LEASE_MS", "1000");
        let killed = brain_env(&a, &["git", "sync"], &[("BRAIN_GIT", &wrapper), lease]);
        assert!(mark.exists(), "{at:?}: not killed there\n{}", killed.stderr);
        assert_eq!(killed.code, -1, "{at:?}: {}", killed.stderr);
        // What the kill left: a merge of ours with the remote, unfinished.
        assert_eq!(rev(a.root(), "MERGE_HEAD"), theirs, "{at:?}");
        let merge_msg = std::fs::read_to_string(a.path(".git/MERGE_MSG")).unwrap();
        assert!(
            merge_msg.starts_with("brain: merge "),
            "{at:?}: {merge_msg}"
        );

        // The next command takes the killed job over once its lease runs out.
        let r = brain_env(&a, &["--json", "git", "sync"], &[lease]);
        assert_eq!(r.code, 0, "{at:?}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr
                .contains("aborting an unfinished merge left by an earlier git job"),
            "{at:?}: {}",
            r.stderr
        );
        let report = r.json();
        assert_eq!(report["pushed"], true, "{at:?}: {report}");
        assert_eq!(report["kept_both"].as_array().unwrap().len(), 1, "{report}");
        assert_ne!(
            git_run(a.root(), &["rev-parse", "-q", "--verify", "MERGE_HEAD"]).code,
            0,
            "{at:?}: the merge is still in progress"
        );
        assert_eq!(git(a.root(), &["status", "--porcelain"]), "", "{at:?}");
        assert_eq!(remote.head(), rev(a.root(), "HEAD"), "{at:?}");
        assert_eq!(
            git_run(a.root(), &["merge-base", "--is-ancestor", &theirs, "HEAD"]).code,
            0,
            "{at:?}: B's commit was not merged"
        );

        // Nothing lost: A's alpha at its path, B's in one conflict copy, both bravo edits in one
        // file; in the files, the store and the remote alike.
        let copies: Vec<String> = files(&a)
            .into_keys()
            .filter(|p| p.starts_with("alpha.conflict-"))
            .collect();
        assert_eq!(copies.len(), 1, "{at:?}: {copies:?}");
        let bravo = read(&a, "bravo.md");
        assert!(bravo.contains("bravo's line one, on B"), "{at:?}: {bravo}");
        assert!(bravo.contains("bravo's line six, on A"), "{at:?}: {bravo}");
        let expected = [
            ("alpha.md", a_alpha.as_str()),
            (copies[0].as_str(), b_alpha.as_str()),
            ("bravo.md", bravo.as_str()),
        ];
        for (path, text) in expected {
            assert_eq!(read(&a, path), text, "{at:?}: {path}");
            assert_eq!(blob(&remote.path, "main", path), text, "{at:?}: {path}");
        }
        assert_eq!(get(&a, "note/alpha"), Some(a_alpha.clone()), "{at:?}");
        assert_eq!(get(&a, "note/bravo"), Some(bravo.clone()), "{at:?}");
        assert_eq!(commits_with_markers(&remote.path), Vec::<String>::new());
        assert_eq!(commits_with_markers(a.root()), Vec::<String>::new());
        assert_in_step(&a);
    }
}

/// A merge the user started (here the remote's branch, the very merge a git job would make) is
/// theirs to finish: git sync refuses and leaves it exactly as it was, never aborting it.
#[test]
fn a_merge_the_user_started_from_the_remote_is_left_alone() {
    let (remote, a, b) = pair(&["alpha"]);
    edit(
        &b,
        "alpha.md",
        "line two of alpha",
        "alpha's line two, on B",
    );
    git_sync(&b);
    edit(
        &a,
        "alpha.md",
        "line two of alpha",
        "alpha's line two, on A",
    );
    let root = a.root();
    git(root, &["commit", "-q", "-am", "by hand"]);
    git(root, &["fetch", "-q", "origin"]);
    let merge = git_run(root, &["merge", "origin/main"]);
    assert_eq!(merge.code, 1, "{}{}", merge.stdout, merge.stderr);
    let merge_head = rev(root, "MERGE_HEAD");
    assert_eq!(merge_head, remote.head());
    let merge_msg = std::fs::read_to_string(a.path(".git/MERGE_MSG")).unwrap();
    let in_progress = read(&a, "alpha.md");
    assert!(in_progress.contains("<<<<<<<"), "{in_progress}");
    let head = rev(root, "HEAD");

    let r = brain(&a, &["--json", "git", "sync"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("while a merge is unresolved") && !r.stderr.contains("aborting"),
        "{}",
        r.stderr
    );
    assert_failed_without_retry(&a, &r);
    assert_eq!(rev(root, "MERGE_HEAD"), merge_head);
    assert_eq!(rev(root, "HEAD"), head);
    assert_eq!(
        std::fs::read_to_string(a.path(".git/MERGE_MSG")).unwrap(),
        merge_msg
    );
    assert_eq!(read(&a, "alpha.md"), in_progress);
    assert_eq!(remote.head(), merge_head, "nothing was pushed");
}

#[path = "git_guards/issue13.rs"]
mod issue13;
