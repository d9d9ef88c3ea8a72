//! Issue 5 under `brain serve`: with git sync on, saved notes are committed once changes settle
//! and pushed, and the remote's commits are pulled on a timer and imported, without the pull
//! making commits or exports of its own. Real daemon, real git, a bare remote on disk.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

use crate::http_remote;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use util::TestVault;
use util::daemon::wait_for;

const LIMIT: Duration = Duration::from_secs(30);
const AUTHOR: [(&str, &str); 2] = [
    ("BRAIN_GIT_AUTHOR_NAME", "Test"),
    ("BRAIN_GIT_AUTHOR_EMAIL", "test@example.com"),
];

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn commits(repo: &Path) -> usize {
    git(repo, &["rev-list", "--count", "main"])
        .trim()
        .parse()
        .unwrap()
}

/// A bare remote and a vault with `a.md` connected to it (its first commit pushed).
fn connected() -> (tempfile::TempDir, TestVault) {
    let remote = tempfile::tempdir().unwrap();
    git(remote.path(), &["init", "-q", "--bare", "-b", "main"]);
    let v = TestVault::new();
    v.write("a.md", "# A\n\nfirst\n");
    let url = remote.path().to_str().unwrap();
    let mut cmd = v.cmd();
    cmd.envs(AUTHOR).args(["git", "init", "--remote", url]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (remote, v)
}

fn serve_env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = AUTHOR.to_vec();
    env.extend([
        ("BRAIN_GIT_COMMIT_DEBOUNCE_MS", "300"),
        ("BRAIN_GIT_PULL_ON_START", "false"),
        ("BRAIN_GIT_SYNC_INTERVAL_S", "0"),
    ]);
    env.extend_from_slice(extra);
    env
}

#[test]
fn saved_notes_are_committed_once_they_settle_and_pushed() {
    let (remote, v) = connected();
    assert_eq!(commits(remote.path()), 1);
    let d = v.serve(&serve_env(&[]));
    wait_for(LIMIT, "the initial sync to import a.md", || {
        v.entity_content("note/a")
    });

    // A burst of saves to two notes, then a `brain put`: one commit per settled burst, never
    // one per save. The burst is one import by construction: written while sync is paused and
    // taken in by the daemon (a fence) before the resume, each flush joins the one queued
    // import, however slowly the test thread runs; that import is the one change a commit
    // follows.
    v.settle();
    let imports = v.jobs_of("directory-import").len();
    v.ok(&["sync", "pause"]);
    v.write("a.md", "# A\n\nsecond\n");
    v.write("b.md", "# B\n");
    v.write("a.md", "# A\n\nthird\n");
    v.fence_idle();
    let queued = v.jobs_of("directory-import").split_off(imports);
    assert_eq!(
        queued.len(),
        1,
        "the burst is one queued import: {queued:?}"
    );
    assert_eq!(queued[0].state, brain_store::jobs::JobState::Queued);
    v.ok(&["sync", "resume"]);
    wait_for(LIMIT, "the saves to be committed and pushed", || {
        let pushed = git(remote.path(), &["show", "main:a.md"]);
        (pushed.contains("third") && commits(remote.path()) >= 2).then_some(())
    });
    assert_eq!(commits(remote.path()), 2, "one commit for the burst");
    let files = git(remote.path(), &["show", "--name-only", "--format=", "main"]);
    assert_eq!(files.lines().collect::<Vec<_>>(), ["a.md", "b.md"]);

    v.run_stdin(&["put", "note/c"], b"# C\n\nfrom the store\n");
    wait_for(
        LIMIT,
        "the put to be exported, committed and pushed",
        || {
            let listed = git(remote.path(), &["ls-tree", "--name-only", "main"]);
            listed.lines().any(|l| l == "c.md").then_some(())
        },
    );
    assert_eq!(commits(remote.path()), 3);
    // Nothing left behind, nothing committed twice.
    v.settle();
    assert_eq!(git(v.root(), &["status", "--porcelain"]), "");
    assert_eq!(commits(v.root()), 3);
    let git_jobs = v.jobs_of("git");
    assert!(
        git_jobs
            .iter()
            .all(|j| j.state == brain_store::jobs::JobState::Succeeded)
    );
    assert_eq!(d.stop(), 0);
}

/// A note put while no daemon ran is before the change feed's cursor when `brain serve`
/// starts: with no pull at start and no timer, the daemon's start commits it all the same.
#[test]
fn a_note_changed_while_no_daemon_ran_is_committed_when_it_starts() {
    let (remote, v) = connected();
    v.run_stdin(
        &["put", "note/offline"],
        b"# Offline\n\nput with no daemon\n",
    );
    assert_eq!(commits(remote.path()), 1);
    let d = v.serve(&serve_env(&[]));
    wait_for(LIMIT, "the offline put to be committed and pushed", || {
        let listed = git(remote.path(), &["ls-tree", "--name-only", "main"]);
        listed.lines().any(|l| l == "offline.md").then_some(())
    });
    assert_eq!(commits(remote.path()), 2);
    assert_eq!(d.stop(), 0);
}

#[test]
fn the_remotes_commits_are_pulled_on_a_timer_and_imported_without_commits_of_ours() {
    let (remote, a) = connected();
    let b = TestVault::uninitialized();
    let url = remote.path().to_str().unwrap();
    let mut cmd = b.cmd();
    cmd.envs(AUTHOR).args(["git", "init", "--remote", url]);
    assert!(cmd.output().unwrap().status.success());

    let d = a.serve(&serve_env(&[("BRAIN_GIT_SYNC_INTERVAL_S", "1")]));
    wait_for(LIMIT, "the initial sync to import a.md", || {
        a.entity_content("note/a")
    });
    a.settle();
    let exports_before = a.jobs_of("directory-export").len();

    // Another device pushes an edit and a new note.
    b.write("a.md", "# A\n\nedited on b\n");
    b.write("new.md", "# New\n");
    let mut cmd = b.cmd();
    cmd.envs(AUTHOR).args(["git", "sync"]);
    assert!(cmd.output().unwrap().status.success());
    let remote_commits = commits(remote.path());
    assert_eq!(remote_commits, 2);

    wait_for(LIMIT, "the daemon to pull and import b's changes", || {
        let a_note = a.entity_content("note/a")?;
        let new = a.entity_content("note/new")?;
        (a_note.contains("edited on b") && new.contains("# New")).then_some(())
    });
    a.settle();
    // The pull fast-forwarded: A has exactly the remote's commits, none of its own.
    assert_eq!(commits(a.root()), remote_commits);
    assert_eq!(
        git(a.root(), &["rev-parse", "main"]),
        git(remote.path(), &["rev-parse", "main"])
    );
    assert_eq!(
        a.jobs_of("directory-export").len(),
        exports_before,
        "a pull exports nothing"
    );
    assert_eq!(git(a.root(), &["status", "--porcelain"]), "");
    // Further timer syncs find nothing to do.
    let runs = a.jobs_of("git").len();
    let timer = wait_for(LIMIT, "two more timer syncs to end", || {
        let later = a.jobs_of("git").split_off(runs);
        (later.len() >= 2 && later[..2].iter().all(|j| j.state.is_finished())).then_some(later)
    });
    for job in &timer[..2] {
        assert_eq!(
            job.state,
            brain_store::jobs::JobState::Succeeded,
            "a timer sync with nothing to do succeeds: {job:?}"
        );
        assert_eq!(job.attempts, 1, "{job:?}");
    }
    assert_eq!(commits(a.root()), remote_commits);
    assert_eq!(commits(remote.path()), remote_commits);
    assert_eq!(d.stop(), 0);
}

#[test]
fn a_push_cut_off_is_retried_with_backoff_and_lands_once_the_remote_is_back() {
    let root = tempfile::tempdir().unwrap();
    git(
        root.path(),
        &["init", "-q", "--bare", "-b", "main", "notes.git"],
    );
    let bare = root.path().join("notes.git");
    let server = http_remote::HttpRemote::start(root.path());
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    let mut cmd = v.cmd();
    cmd.envs(AUTHOR)
        .args(["git", "init", "--remote", &server.url("notes.git")]);
    assert!(cmd.output().unwrap().status.success());
    assert_eq!(commits(&bare), 1);

    let d = v.serve(&serve_env(&[]));
    wait_for(LIMIT, "the initial sync to import a.md", || {
        v.entity_content("note/a")
    });
    server.set_cut_pushes(true);
    v.write("a.md", "# A\n\nwhile the remote is away\n");
    // The commit is made here, its push cut off, and the job queued again for later.
    let failed = wait_for(
        LIMIT,
        "a git job's push to fail and be queued again",
        || {
            v.jobs_of("git").into_iter().find(|j| {
                j.state == brain_store::jobs::JobState::Queued
                    && j.attempts >= 1
                    && j.error
                        .as_deref()
                        .is_some_and(|e| e.contains("your commits are kept"))
            })
        },
    );
    assert!(server.cut_count() >= 1);
    assert_eq!(commits(&bare), 1, "the remote did not get it");
    assert_eq!(commits(v.root()), 2, "the commit is kept here");
    assert!(
        failed.run_at_ms > failed.created_ms,
        "retried later, not at once"
    );

    server.set_cut_pushes(false);
    wait_for(LIMIT, "the retry to push the kept commit", || {
        (commits(&bare) == 2).then_some(())
    });
    assert_eq!(
        git(&bare, &["rev-parse", "main"]),
        git(v.root(), &["rev-parse", "main"])
    );
    assert!(git(&bare, &["show", "main:a.md"]).contains("while the remote is away"));
    // The same job, retried: it pushed, so it succeeds.
    wait_for(LIMIT, "the retried job to succeed", || {
        v.jobs_of("git")
            .into_iter()
            .find(|j| j.id == failed.id && j.state == brain_store::jobs::JobState::Succeeded)
    });
    assert_eq!(d.stop(), 0);
}

/// A counter of the daemon's watcher, as it last published it.
fn watcher_count(v: &TestVault, key: &str) -> u64 {
    let state = v.daemon_state().expect("the daemon published its state");
    state["watcher"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("no watcher.{key} in {state}"))
}

/// A pull under `brain serve` is imported once, by the git job itself: the files the merge
/// wrote reach the watcher, which drops them as already in the store (their stat is their
/// base) instead of queueing a `directory-import` or a rescan of its own for them.
#[test]
fn a_pull_is_imported_by_the_git_job_and_the_watcher_does_not_import_it_again() {
    let (remote, a) = connected();
    a.write("gone.md", "# Gone\n\nto be deleted on b\n");
    a.sync();
    let mut cmd = a.cmd();
    cmd.envs(AUTHOR).args(["git", "sync"]);
    assert!(cmd.output().unwrap().status.success());
    let b = TestVault::uninitialized();
    let url = remote.path().to_str().unwrap();
    let mut cmd = b.cmd();
    cmd.envs(AUTHOR).args(["git", "init", "--remote", url]);
    assert!(cmd.output().unwrap().status.success());

    let d = a.serve(&serve_env(&[]));
    wait_for(LIMIT, "the initial sync to import a.md", || {
        a.entity_content("note/a")
    });
    let (syncs, imports, exports) = a.settle();
    let echoes = watcher_count(&a, "echoes_dropped");
    let imports_enqueued = watcher_count(&a, "imports_enqueued");
    let rescans_enqueued = watcher_count(&a, "rescans_enqueued");

    // Another device edits a note, adds one and deletes one, and pushes.
    b.write("a.md", "# A\n\nedited on b\n");
    b.write("new.md", "# New\n\nmade on b\n");
    std::fs::remove_file(b.path("gone.md")).unwrap();
    let mut cmd = b.cmd();
    cmd.envs(AUTHOR).args(["git", "sync"]);
    assert!(cmd.output().unwrap().status.success());

    // A pulls, through its daemon: the git job imports the three files.
    let mut cmd = a.cmd();
    cmd.envs(AUTHOR).args(["--json", "git", "pull"]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["pulled"], true, "{report}");
    assert_eq!(report["changed_paths"], 3, "{report}");
    assert_eq!(report["imported"], 3, "{report}");
    let job = report["job"].as_i64().unwrap();
    assert!(
        a.jobs_of("git").iter().any(|j| j.id == job),
        "the pull ran as the daemon's git job"
    );
    assert!(a.entity_content("note/a").unwrap().contains("edited on b"));
    assert!(a.entity_content("note/new").unwrap().contains("made on b"));
    assert_eq!(a.entity_content("note/gone"), None);

    // The watcher got the merge's writes and found each already in the store (or queued a job
    // for them, which then fails below at once rather than at the deadline)...
    wait_for(LIMIT, "the watcher to handle the pulled files", || {
        let queued = watcher_count(&a, "imports_enqueued") > imports_enqueued
            || watcher_count(&a, "rescans_enqueued") > rescans_enqueued;
        (queued || watcher_count(&a, "echoes_dropped") >= echoes + 3).then_some(())
    });
    assert_eq!(watcher_count(&a, "imports_enqueued"), imports_enqueued);
    assert_eq!(watcher_count(&a, "rescans_enqueued"), rescans_enqueued);
    // ...and, once the daemon is idle, no directory job had run or been queued for them.
    assert_eq!(
        a.settle(),
        (syncs, imports, exports),
        "no directory job ran"
    );
    assert_eq!(watcher_count(&a, "imports_enqueued"), imports_enqueued);
    assert_eq!(watcher_count(&a, "rescans_enqueued"), rescans_enqueued);
    assert_eq!(git(a.root(), &["status", "--porcelain"]), "");
    assert_eq!(
        git(a.root(), &["rev-parse", "main"]),
        git(remote.path(), &["rev-parse", "main"])
    );
    assert_eq!(d.stop(), 0);
}
