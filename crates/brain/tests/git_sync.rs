#![allow(clippy::unwrap_used)] // tests fail loudly by design
//! Git sync through the real binary: `brain git init|sync|pull|push|status|log` between vaults
//! sharing a bare remote folder, checked against plain `git` and the store (over HTTP:
//! `git_http.rs`).

mod util;

#[path = "util/git.rs"]
mod git_util;

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
