#![allow(clippy::unwrap_used)] // tests fail loudly by design
//! What git sync refuses, and what it shows: auto-commit while the user's merge is unresolved,
//! a commit deleting most notes; `brain git log` of one note across a rename, and
//! `brain git status`.

mod util;

#[path = "util/git.rs"]
mod git_util;

use std::collections::BTreeSet;

use git_util::*;
use serde_json::json;
use util::TestVault;

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

/// A vault folder emptied by mistake must not delete every device's notes: the commit is
/// refused (nothing staged, nothing pushed) until `--allow-mass-delete` says it is meant.
#[test]
fn a_commit_deleting_most_notes_is_refused_until_allowed() {
    let names: Vec<String> = (0..12).map(|i| format!("n{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (remote, a, _b) = pair(&refs);
    let before = remote.head();
    for n in &names {
        std::fs::remove_file(a.path(&format!("{n}.md"))).unwrap();
    }
    let refused = brain(&a, &["git", "sync"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("would delete 12 of the 12 notes"),
        "{}",
        refused.stderr
    );
    assert_eq!(remote.head(), before, "nothing was pushed");
    assert_eq!(rev(a.root(), "HEAD"), before, "nothing was committed");
    brain_ok(&a, &["git", "sync", "--allow-mass-delete"]);
    assert_ne!(remote.head(), before);
}
