#![allow(clippy::unwrap_used)] // tests fail loudly by design
//! Git sync through the real binary: `brain git init|sync|pull|push|status|log` between vaults
//! sharing a bare remote (a folder, or served over loopback HTTP), checked against plain `git`
//! and the store.

mod util;

#[path = "util/git.rs"]
mod git_util;
#[path = "../../brain-git/tests/common/http_remote.rs"]
mod http_remote;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use git_util::{
    assert_in_step, bare, brain, brain_env, brain_ok, commits_with_markers, count, files, get, git,
    git_init, git_run, git_sync, jobs, read, rev, rev_list, text_files, tree, vault_with,
};
use http_remote::HttpRemote;
use util::{TestVault, listed};

/// A note long enough for git's rename detection to follow it through a small edit.
fn note(name: &str) -> String {
    format!(
        "# {name}\n\nline one of {name}\nline two of {name}\nline three of {name}\n\
         line four of {name}\nline five of {name}\nline six of {name}\n"
    )
}

/// Replaces `from` with `to` in a note, then imports it (as the watcher would).
fn edit(v: &TestVault, rel: &str, from: &str, to: &str) -> String {
    let old = read(v, rel);
    assert!(old.contains(from), "{rel} has no {from:?}: {old}");
    let new = old.replacen(from, to, 1);
    v.write(rel, &new);
    v.sync();
    new
}

/// Deletes a note, then imports the deletion.
fn delete(v: &TestVault, rel: &str) {
    std::fs::remove_file(v.path(rel)).unwrap();
    v.sync();
}

/// A bare remote in its own folder, and its path as a URL.
struct Remote {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Remote {
    fn new() -> Remote {
        let dir = tempfile::Builder::new()
            .prefix("brain-remote-")
            .tempdir()
            .unwrap();
        let path = bare(dir.path(), "notes.git");
        Remote { _dir: dir, path }
    }

    fn url(&self) -> &str {
        self.path.to_str().unwrap()
    }

    fn head(&self) -> String {
        rev(&self.path, "main")
    }

    fn commits(&self) -> usize {
        count(&self.path, "main")
    }
}

/// Vault A with `notes`, connected to an empty remote (its first commit), and vault B cloned
/// from it.
fn pair(notes: &[&str]) -> (Remote, TestVault, TestVault) {
    let remote = Remote::new();
    let owned: Vec<(String, String)> = notes.iter().map(|n| (format!("{n}.md"), note(n))).collect();
    let refs: Vec<(&str, &str)> = owned
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let a = vault_with(&refs);
    git_init(&a, remote.url());
    let b = TestVault::uninitialized();
    git_init(&b, remote.url());
    assert_eq!(files(&a), files(&b));
    (remote, a, b)
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

fn job<'a>(all: &'a [Value], id: &Value) -> &'a Value {
    all.iter()
        .find(|j| &j["id"] == id)
        .unwrap_or_else(|| panic!("no job {id} in {all:?}"))
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
    let out = r.json();
    assert_eq!(out["retrying"], false);
    let all = jobs(&a);
    let failed = job(&all, &out["job"]);
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["attempts"], 1, "{failed}");

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

/// A folder of bare repositories for an HTTP server.
fn http_root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("brain-http-")
        .tempdir()
        .unwrap();
    let repo = bare(dir.path(), "notes.git");
    (dir, repo)
}

#[test]
fn http_remote_syncs_two_vaults() {
    let (dir, repo) = http_root();
    let server = HttpRemote::start(dir.path());
    let url = server.url("notes.git");
    let a = vault_with(&[
        ("alpha.md", note("alpha").as_str()),
        ("bravo.md", note("bravo").as_str()),
    ]);
    git_init(&a, &url);
    let b = TestVault::uninitialized();
    git_init(&b, &url);
    assert_eq!(text_files(&a), text_files(&b));

    let alpha = edit(&a, "alpha.md", "line one of alpha", "alpha on A");
    let bravo = edit(&b, "bravo.md", "line one of bravo", "bravo on B");
    git_sync(&a);
    git_sync(&b);
    git_sync(&a);
    let head = rev(&repo, "main");
    assert_eq!(rev(a.root(), "HEAD"), head);
    assert_eq!(rev(b.root(), "HEAD"), head);
    assert_eq!(text_files(&a), text_files(&b));
    for v in [&a, &b] {
        assert_eq!(get(v, "note/alpha"), Some(alpha.clone()));
        assert_eq!(get(v, "note/bravo"), Some(bravo.clone()));
        assert_in_step(v);
    }
    let lines = server.request_lines();
    assert!(
        lines
            .iter()
            .any(|l| l == "POST /notes.git/git-receive-pack"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l == "POST /notes.git/git-upload-pack"),
        "{lines:?}"
    );
    assert_eq!(server.authorizations(), Vec::<String>::new());
}

/// Whether `haystack` holds `needle`, as bytes.
fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every file under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn token_protected_http_remote() {
    const TOKEN: &str = "secret123";
    // base64("x-access-token:secret123")
    const BASIC: &str = "Basic eC1hY2Nlc3MtdG9rZW46c2VjcmV0MTIz";
    let secrets = [TOKEN, BASIC.trim_start_matches("Basic ")];
    let with_token = [("BRAIN_GIT_TOKEN", TOKEN)];
    let (dir, repo) = http_root();
    let server = HttpRemote::start_with_auth(dir.path(), BASIC);
    let url = server.url("notes.git");
    let mut printed = Vec::new();

    let a = vault_with(&[("alpha.md", note("alpha").as_str())]);
    let r = brain_env(
        &a,
        &["--json", "git", "init", "--remote", &url],
        &with_token,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    printed.push(r);
    assert_eq!(rev(&repo, "main"), rev(a.root(), "HEAD"));
    let pushed = rev(&repo, "main");

    // Without the token: refused, once, and not retried.
    let alpha = edit(&a, "alpha.md", "line one of alpha", "alpha, changed");
    let refused = server.unauthorized_count();
    let r = brain(&a, &["--json", "git", "sync"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("authentication failed"), "{}", r.stderr);
    assert!(server.unauthorized_count() > refused);
    let out = r.json();
    assert_eq!(out["retrying"], false);
    let all = jobs(&a);
    let failed = job(&all, &out["job"]);
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["attempts"], 1, "{failed}");
    printed.push(r);
    assert_eq!(rev(&repo, "main"), pushed);
    // The change was committed here and waits for the push.
    assert_eq!(rev(a.root(), "HEAD^"), pushed);

    // With it: pushed.
    let r = brain_env(&a, &["--json", "git", "sync"], &with_token);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["pushed"], true);
    printed.push(r);
    assert_eq!(rev(&repo, "main"), rev(a.root(), "HEAD"));

    // A second device: refused without the token, cloned with it.
    let b = TestVault::uninitialized();
    let r = brain(&b, &["--json", "git", "init", "--remote", &url]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("authentication failed"), "{}", r.stderr);
    printed.push(r);
    let r = brain_env(
        &b,
        &["--json", "git", "init", "--remote", &url],
        &with_token,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    printed.push(r);
    assert_eq!(read(&b, "alpha.md"), alpha);
    assert_eq!(get(&b, "note/alpha"), Some(alpha));

    // The token travelled as the header, and nowhere else.
    let auths = server.authorizations();
    assert!(!auths.is_empty());
    assert!(auths.iter().all(|h| h == BASIC), "{auths:?}");
    for v in [&a, &b] {
        for args in [
            &["--json", "jobs", "list"][..],
            &["--json", "git", "status"],
        ] {
            printed.push(brain_env(v, args, &with_token));
        }
    }
    let mut places: Vec<(String, Vec<u8>)> = printed
        .iter()
        .map(|r| {
            (
                "brain output".to_owned(),
                format!("{}{}", r.stdout, r.stderr).into_bytes(),
            )
        })
        .collect();
    places.push((
        "request lines".into(),
        server.request_lines().join("\n").into_bytes(),
    ));
    for v in [&a, &b] {
        for p in all_files(&v.path(".brain"))
            .into_iter()
            .chain([v.path(".git/config")])
        {
            places.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    for (place, bytes) in &places {
        for secret in secrets {
            assert!(!holds(bytes, secret), "the token is in {place}");
        }
    }
}

#[test]
fn a_push_cut_off_keeps_the_commit_for_the_next_sync() {
    let (dir, repo) = http_root();
    let server = HttpRemote::start(dir.path());
    let url = server.url("notes.git");
    let a = vault_with(&[("alpha.md", note("alpha").as_str())]);
    git_init(&a, &url);
    let before = rev(&repo, "main");

    let alpha = edit(&a, "alpha.md", "line one of alpha", "alpha, changed");
    server.set_cut_pushes(true);
    let r = brain(&a, &["git", "sync"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("your commits are kept"), "{}", r.stderr);
    assert!(server.cut_count() >= 1);

    // The commit is here, not there.
    let local = rev(a.root(), "HEAD");
    assert_ne!(local, before);
    assert_eq!(rev(a.root(), "HEAD^"), before);
    assert_eq!(git(a.root(), &["show", "HEAD:alpha.md"]) + "\n", alpha);
    assert_eq!(git(a.root(), &["status", "--porcelain"]), "");
    assert_eq!(rev(&repo, "main"), before);
    assert_ne!(git_run(&repo, &["cat-file", "-e", &local]).code, 0);

    server.set_cut_pushes(false);
    // `brain git push` alone delivers the kept commit.
    let report = brain_ok(&a, &["--json", "git", "push"]).json();
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(report["commits"], json!([]), "{report}");
    assert_eq!(rev(&repo, "main"), local);
    assert_eq!(git(&repo, &["show", "main:alpha.md"]) + "\n", alpha);
    assert_eq!(report["ahead"], 0);
    assert_eq!(report["behind"], 0);
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
