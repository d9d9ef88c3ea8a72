#![allow(clippy::unwrap_used)] // tests fail loudly by design
//! Git sync through the real binary: `brain git init|sync|pull|push|status|log` between vaults
//! sharing a bare remote folder, checked against plain `git` and the store (over HTTP:
//! `git_http.rs`).

use crate::util;

use crate::git_util;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use git_util::{
    Remote, assert_in_step, brain, brain_env, brain_ok, commits_with_markers, count, edit, files,
    get, git, git_init, git_sync, jobs, note, pair, read, rev, rev_list, text_files, tree,
    vault_with,
};
use util::{TestVault, listed};

/// Deletes a note, then imports the deletion.
fn delete(v: &TestVault, rel: &str) {
    std::fs::remove_file(v.path(rel)).unwrap();
    v.sync();
}

/// What one round of A sync, B sync, A sync did.
struct Round {
    b: Value,
    /// Commits the remote gained.
    remote_commits: usize,
}

/// A syncs, B syncs (merging A's commit), A syncs (taking B's merge); then both vaults and the
/// remote are at one commit, hold the same files, none with conflict markers, and each store
/// agrees with its files.
fn converge(remote: &Remote, a: &TestVault, b: &TestVault) -> Round {
    let before = remote.commits();
    let first = git_sync(a);
    assert_eq!(first["pushed"], true, "{first}");
    let second = git_sync(b);
    assert_eq!(second["pushed"], true, "{second}");
    let third = git_sync(a);
    assert_eq!(
        third["commits"],
        json!([]),
        "A made a commit of its own: {third}"
    );
    assert_eq!(third["pushed"], false, "{third}");

    let head = remote.head();
    assert_eq!(rev(a.root(), "HEAD"), head);
    assert_eq!(rev(b.root(), "HEAD"), head);
    assert_eq!(text_files(a), text_files(b));
    for v in [a, b] {
        for (path, text) in text_files(v) {
            assert!(
                !text.contains("<<<<<<<"),
                "{path} has conflict markers:\n{text}"
            );
        }
        assert_eq!(commits_with_markers(v.root()), Vec::<String>::new());
        assert_eq!(git(v.root(), &["status", "--porcelain"]), "");
        assert_in_step(v);
    }
    assert_eq!(commits_with_markers(&remote.path), Vec::<String>::new());
    Round {
        b: second,
        remote_commits: remote.commits() - before,
    }
}

/// Unresolved `git_merge` conflicts of a vault.
fn git_merge_conflicts(v: &TestVault) -> Vec<Value> {
    let list = brain_ok(v, &["--json", "conflicts", "list"]).json();
    list.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "git_merge")
        .cloned()
        .collect()
}

/// The vault's `[git]` table from config.toml.
fn git_config(v: &TestVault) -> toml::Table {
    let text = std::fs::read_to_string(v.path(".brain/config.toml")).unwrap();
    let mut doc: toml::Table = toml::from_str(&text).unwrap();
    match doc.remove("git") {
        Some(toml::Value::Table(t)) => t,
        other => panic!("no [git] table: {other:?}"),
    }
}

#[test]
fn init_pushes_the_vault_to_an_empty_remote() {
    const TOKEN: &str = "tok-never-stored-7731";
    let remote = Remote::new();
    let a = vault_with(&[("a.md", "# A\n"), ("b.md", "# B\n"), ("c.md", "# C\n")]);
    let r = brain_env(
        &a,
        &["--json", "git", "init", "--remote", remote.url()],
        &[("BRAIN_GIT_TOKEN", TOKEN)],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();

    assert_eq!(remote.commits(), 1);
    let head = remote.head();
    assert_eq!(report["commits"], json!([head]));
    assert_eq!(report["pushed"], true);
    assert_eq!(rev(a.root(), "HEAD"), head);
    assert_eq!(
        tree(&remote.path, "main"),
        [".gitignore", "a.md", "b.md", "c.md"]
    );
    for n in ["a.md", "b.md", "c.md"] {
        let committed = git(&remote.path, &["show", &format!("main:{n}")]);
        assert_eq!(format!("{committed}\n"), read(&a, n));
    }
    let gitignore = git(&remote.path, &["show", "main:.gitignore"]);
    for line in [".brain/", ".obsidian/workspace*.json", ".trash/"] {
        assert!(
            gitignore.lines().any(|l| l == line),
            "{line} missing:\n{gitignore}"
        );
    }
    assert_eq!(read(&a, ".gitignore"), format!("{gitignore}\n"));
    assert_eq!(git(a.root(), &["status", "--porcelain"]), "");

    let dot_git_config = read(&a, ".git/config");
    assert!(!dot_git_config.contains(TOKEN), "{dot_git_config}");
    assert_eq!(
        git(a.root(), &["remote", "get-url", "origin"]),
        remote.url()
    );
    let config = git_config(&a);
    assert_eq!(config["enabled"].as_bool(), Some(true));
    assert_eq!(config["remote"].as_str(), Some(remote.url()));
    assert_eq!(config["branch"].as_str(), Some("main"));
    let config_text = read(&a, ".brain/config.toml");
    assert!(!config_text.contains(TOKEN), "{config_text}");
    assert!(!r.stdout.contains(TOKEN) && !r.stderr.contains(TOKEN));
}

#[test]
fn init_in_an_empty_folder_clones_without_a_commit() {
    let remote = Remote::new();
    let a = vault_with(&[
        ("a.md", "# A\n\nalpha\n"),
        ("b.md", "---\ntitle: Bravo\n---\nbravo\n"),
        ("c.md", "# C\n"),
    ]);
    git_init(&a, remote.url());
    let (commits, head) = (remote.commits(), remote.head());

    let b = TestVault::uninitialized();
    let report = git_init(&b, remote.url());
    assert_eq!(report["commits"], json!([]), "{report}");
    assert_eq!(report["pulled"], true);
    assert_eq!(report["imported"], 3);
    assert_eq!(report["pushed"], false);

    assert_eq!(text_files(&b), text_files(&a));
    let mut names = listed(&b, &[]);
    names.sort();
    assert_eq!(names, ["note/a", "note/b", "note/c"]);
    for (id, path) in [("note/a", "a.md"), ("note/b", "b.md"), ("note/c", "c.md")] {
        assert_eq!(get(&b, id), Some(read(&b, path)), "{id}");
    }
    assert_eq!(remote.commits(), commits);
    assert_eq!(remote.head(), head);
    assert_eq!(rev(b.root(), "HEAD"), head);
    assert_eq!(count(b.root(), "HEAD"), commits);
    assert_eq!(git(b.root(), &["status", "--porcelain"]), "");
    assert_eq!(git_config(&b)["enabled"].as_bool(), Some(true));
    assert_in_step(&b);
}

#[test]
fn two_vaults_converge_through_concurrent_edits() {
    let (remote, a, b) = pair(&["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]);

    // (a) Different notes on each side: a clean merge.
    let alpha = edit(
        &a,
        "alpha.md",
        "line two of alpha",
        "line two of alpha, edited on A",
    );
    let bravo = edit(
        &b,
        "bravo.md",
        "line two of bravo",
        "line two of bravo, edited on B",
    );
    let round = converge(&remote, &a, &b);
    // A's commit, B's commit, B's merge commit.
    assert_eq!(round.remote_commits, 3);
    assert_eq!(round.b["kept_both"], json!([]));
    for v in [&a, &b] {
        assert_eq!(read(v, "alpha.md"), alpha);
        assert_eq!(read(v, "bravo.md"), bravo);
        assert_eq!(get(v, "note/alpha"), Some(alpha.clone()));
        assert_eq!(get(v, "note/bravo"), Some(bravo.clone()));
    }

    // (b) The same line of one note, changed differently on both sides.
    let ours_a = edit(
        &a,
        "charlie.md",
        "line three of charlie",
        "charlie as A has it",
    );
    let ours_b = edit(
        &b,
        "charlie.md",
        "line three of charlie",
        "charlie as B has it",
    );
    let round = converge(&remote, &a, &b);
    assert_eq!(round.remote_commits, 3);
    let copies: Vec<String> = files(&a)
        .into_keys()
        .filter(|p| p.starts_with("charlie.conflict-") && p.ends_with(".md"))
        .collect();
    assert_eq!(copies.len(), 1, "{:?}", files(&a).keys());
    let copy = &copies[0];
    let copy_id = format!("note/{}", copy.trim_end_matches(".md"));
    for v in [&a, &b] {
        // B merged: its own version stays at the path, A's goes to the copy.
        assert_eq!(read(v, "charlie.md"), ours_b);
        assert_eq!(read(v, copy), ours_a);
        assert_eq!(get(v, "note/charlie"), Some(ours_b.clone()));
        assert_eq!(get(v, &copy_id), Some(ours_a.clone()));
    }
    let kept = round.b["kept_both"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["path"], "charlie.md");
    assert_eq!(kept[0]["copy_path"], json!(copy));
    let conflicts = git_merge_conflicts(&b);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0]["path"], "charlie.md");
    assert_eq!(conflicts[0]["entity"], "note/charlie");
    assert_eq!(conflicts[0]["copy_path"], json!(copy));
    // A, which pulled B's merge, lists the copy too (issue 13 item 2: every copy on disk is
    // listed), recorded by the pull rather than left to its next full sync.
    let pulled = git_merge_conflicts(&a);
    assert_eq!(pulled.len(), 1, "{pulled:?}");
    assert_eq!(pulled[0]["path"], "charlie.md");
    assert_eq!(pulled[0]["copy_path"], json!(copy));

    // (c) A moves a note, B edits it: the edit ends up at the new path.
    std::fs::rename(a.path("delta.md"), a.path("delta-moved.md")).unwrap();
    let moved = a.sync();
    assert_eq!(moved["renamed"], 1, "{moved}");
    let delta = edit(
        &b,
        "delta.md",
        "line four of delta",
        "line four of delta, edited on B",
    );
    let round = converge(&remote, &a, &b);
    assert_eq!(round.remote_commits, 3);
    assert_eq!(round.b["kept_both"], json!([]));
    for v in [&a, &b] {
        assert!(!v.path("delta.md").exists());
        assert_eq!(read(v, "delta-moved.md"), delta);
        assert_eq!(get(v, "note/delta-moved"), Some(delta.clone()));
        assert_eq!(get(v, "note/delta"), None);
    }

    // (d) Deleted on one side, edited on the other: the edit survives, both ways round.
    delete(&a, "echo.md");
    let echo = edit(
        &b,
        "echo.md",
        "line five of echo",
        "line five of echo, edited on B",
    );
    let foxtrot = edit(
        &a,
        "foxtrot.md",
        "line one of foxtrot",
        "foxtrot edited on A",
    );
    delete(&b, "foxtrot.md");
    let round = converge(&remote, &a, &b);
    assert_eq!(round.remote_commits, 3);
    for v in [&a, &b] {
        assert_eq!(read(v, "echo.md"), echo);
        assert_eq!(read(v, "foxtrot.md"), foxtrot);
        assert_eq!(get(v, "note/echo"), Some(echo.clone()));
        assert_eq!(get(v, "note/foxtrot"), Some(foxtrot.clone()));
    }
    let kept: BTreeSet<(String, bool)> = round.b["kept_both"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["path"].as_str().unwrap().to_owned(),
                k["copy_path"].is_null(),
            )
        })
        .collect();
    // No copy: only one side has a version.
    assert_eq!(
        kept,
        BTreeSet::from([
            ("echo.md".to_owned(), true),
            ("foxtrot.md".to_owned(), true)
        ])
    );
    let conflicts: BTreeSet<String> = git_merge_conflicts(&b)
        .iter()
        .map(|c| c["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        conflicts,
        BTreeSet::from(["charlie.md", "echo.md", "foxtrot.md"].map(String::from))
    );
}

#[test]
fn sync_report_lists_the_merge_commits_it_made() {
    let (remote, a, b) = pair(&["alpha", "bravo"]);

    // A clean merge.
    edit(&a, "alpha.md", "line two of alpha", "alpha on A");
    git_sync(&a);
    let theirs = remote.head();
    edit(&b, "bravo.md", "line two of bravo", "bravo on B");
    let before = rev(b.root(), "HEAD");
    let report = git_sync(&b);
    let made_here = rev_list(b.root(), &["HEAD", "--not", &before, &theirs]);
    assert_eq!(made_here.len(), 2, "B's own commit and the merge commit");
    assert_eq!(report["commits"], json!(made_here), "{report}");

    // A merge concluded after keeping both sides of a conflict.
    git_sync(&a);
    edit(&a, "alpha.md", "line three of alpha", "alpha again on A");
    git_sync(&a);
    let theirs = remote.head();
    edit(&b, "alpha.md", "line three of alpha", "alpha on B");
    let before = rev(b.root(), "HEAD");
    let report = git_sync(&b);
    assert_eq!(report["kept_both"].as_array().unwrap().len(), 1, "{report}");
    let made_here = rev_list(b.root(), &["HEAD", "--not", &before, &theirs]);
    assert_eq!(made_here.len(), 2, "B's own commit and the merge commit");
    assert_eq!(report["commits"], json!(made_here), "{report}");
}

/// A `git` for `brain` (through `BRAIN_GIT`) that, at the first push, first pushes what the
/// clone `$OTHER` has: the remote moves between the sync's fetch and its push, as when another
/// device pushes at that moment.
#[cfg(unix)]
fn git_racing_a_push(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let script = dir.join("git-racing-a-push");
    std::fs::write(
        &script,
        "#!/bin/sh\n\
         for arg in \"$@\"; do\n\
           if [ \"$arg\" = push ] && [ ! -e \"$OTHER/raced\" ]; then\n\
             : > \"$OTHER/raced\"\n\
             git -C \"$OTHER\" push -q origin HEAD:refs/heads/main || exit 99\n\
           fi\n\
         done\n\
         exec git \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
#[cfg(unix)]
fn a_push_rejected_because_the_remote_moved_pulls_again_then_pushes() {
    let (remote, _a, b) = pair(&["alpha", "bravo"]);
    let scratch = tempfile::tempdir().unwrap();
    let other = scratch.path().join("other");
    git(
        scratch.path(),
        &["clone", "-q", remote.url(), other.to_str().unwrap()],
    );
    let alpha = note("alpha").replace("line one of alpha", "alpha from another device");
    std::fs::write(other.join("alpha.md"), &alpha).unwrap();
    git(&other, &["commit", "-q", "-am", "another device"]);
    let theirs = rev(&other, "HEAD");
    let wrapper = git_racing_a_push(scratch.path());

    let bravo = edit(&b, "bravo.md", "line one of bravo", "bravo on B");
    let before = rev(b.root(), "HEAD");
    let r = brain_env(
        &b,
        &["--json", "git", "sync"],
        &[
            ("BRAIN_GIT", wrapper.to_str().unwrap()),
            ("OTHER", other.to_str().unwrap()),
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(other.join("raced").exists(), "the race did not happen");
    let report = r.json();
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(report["pulled"], true, "{report}");
    assert_eq!(report["imported"], 1, "{report}");
    assert_eq!(report["kept_both"], json!([]), "{report}");

    // B's commit and a merge with the other device's, both on the remote.
    let head = rev(b.root(), "HEAD");
    assert_eq!(remote.head(), head);
    assert_eq!(
        git(b.root(), &["rev-list", "--parents", "-n1", "HEAD"]),
        format!("{head} {} {theirs}", rev(b.root(), "HEAD^1"))
    );
    assert_eq!(rev(b.root(), "HEAD^1^"), before);
    assert_eq!(read(&b, "alpha.md"), alpha);
    assert_eq!(read(&b, "bravo.md"), bravo);
    assert_eq!(get(&b, "note/alpha"), Some(alpha));
    assert_eq!(git(b.root(), &["status", "--porcelain"]), "");
    assert_in_step(&b);
}

#[test]
fn a_pull_makes_no_commit_and_queues_no_export() {
    let (remote, a, b) = pair(&["alpha", "bravo", "charlie"]);
    let b_start = rev(b.root(), "HEAD");
    let b_commits = count(b.root(), "HEAD");

    // Three notes change on A, in two commits.
    let alpha = edit(&a, "alpha.md", "line one of alpha", "alpha, changed");
    let bravo = edit(&a, "bravo.md", "line one of bravo", "bravo, changed");
    git_sync(&a);
    let golf = "---\ntitle: Golf\ntags: [x, y]\n---\nA new note with front matter.\n";
    a.write("golf.md", golf);
    a.sync();
    git_sync(&a);
    let pulled = rev_list(&remote.path, &["main", "--not", &b_start]);
    assert_eq!(pulled.len(), 2);

    let last_job = jobs(&b)[0]["id"].as_i64().unwrap();
    let report = brain_ok(&b, &["--json", "git", "pull"]).json();
    assert_eq!(report["commits"], json!([]), "{report}");
    assert_eq!(report["pulled"], true);
    assert_eq!(report["changed_paths"], 3);
    assert_eq!(report["imported"], 3);
    assert_eq!(report["pushed"], false);

    // Only the pulled commits: B is exactly at A's commit.
    assert_eq!(count(b.root(), "HEAD"), b_commits + pulled.len());
    assert_eq!(rev(b.root(), "HEAD"), remote.head());
    assert_eq!(git(b.root(), &["status", "--porcelain"]), "");
    assert_eq!(read(&b, "alpha.md"), alpha);
    assert_eq!(read(&b, "golf.md"), golf);
    assert_eq!(get(&b, "note/alpha"), Some(alpha));
    assert_eq!(get(&b, "note/bravo"), Some(bravo));
    assert!(get(&b, "note/golf").is_some());

    // The pull's only job is itself: no directory export was queued by the import.
    let new_jobs: Vec<Value> = jobs(&b)
        .into_iter()
        .filter(|j| j["id"].as_i64().unwrap() > last_job)
        .collect();
    assert_eq!(new_jobs.len(), 1, "{new_jobs:?}");
    assert_eq!(new_jobs[0]["id"], report["job"]);
    assert_eq!(new_jobs[0]["type"], "git");
    assert_eq!(new_jobs[0]["input"]["op"], "pull");
    assert!(jobs(&b).iter().all(|j| j["type"] != "directory-export"));

    // Nothing left to commit or push.
    let remote_commits = remote.commits();
    let again = git_sync(&b);
    assert_eq!(again["commits"], json!([]), "{again}");
    assert_eq!(again["pushed"], false, "{again}");
    assert_eq!(again["pulled"], false, "{again}");
    assert_eq!(count(b.root(), "HEAD"), b_commits + pulled.len());
    assert_eq!(remote.commits(), remote_commits);
    assert_in_step(&b);
}

/// A rename collision: A edits `alpha` and renames `bravo` to `charlie`; B edits the same line
/// of `alpha` and renames it to `charlie`. Git folds three versions into `charlie.md` with
/// nested (eight-character) markers in its index stages. All three versions must survive
/// whole, and no marker may reach a file, a commit or a store.
#[test]
fn a_rename_collision_keeps_every_version_and_commits_no_markers() {
    let (remote, a, b) = pair(&["alpha", "bravo"]);
    let alpha_a = edit(&a, "alpha.md", "line five of alpha", "alpha five by A");
    std::fs::rename(a.path("bravo.md"), a.path("charlie.md")).unwrap();
    a.sync();
    let alpha_b = edit(&b, "alpha.md", "line five of alpha", "alpha five by B");
    std::fs::rename(b.path("alpha.md"), b.path("charlie.md")).unwrap();
    b.sync();
    converge(&remote, &a, &b);
    for v in [&a, &b] {
        let texts: Vec<String> = files(v)
            .into_values()
            .map(|b| String::from_utf8(b).unwrap())
            .collect();
        for version in [&alpha_a, &alpha_b, &note("bravo")] {
            assert!(
                texts.iter().any(|t| t == version),
                "a version was lost: {version:?} not in {:?}",
                files(v).keys()
            );
        }
        assert!(texts.iter().all(|t| !t.contains("<<<<<<<")));
    }
}

// Issue 13 (integrity) cases: markers, a wrong remote, .brainignore, put then sync, a daemon's
// pending export, nested vaults, local edits imported, mass deletes.
#[path = "git_sync/issue13.rs"]
mod issue13;
