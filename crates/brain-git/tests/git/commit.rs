//! `Repo::commit_all` against the real `git` on this machine, in temporary directories.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{init, merge_expecting_conflict, open, run, write};

use std::path::Path;
use std::time::Duration;

use brain_git::{Git, GitError, Repo, RunOptions, ensure_gitignore};

fn log(dir: &Path) -> Vec<String> {
    run(dir, &["log", "--format=%s"])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Files in the last commit's tree.
fn tree(dir: &Path) -> Vec<String> {
    run(dir, &["ls-tree", "-r", "--name-only", "HEAD"])
        .lines()
        .map(str::to_owned)
        .collect()
}

fn staged(dir: &Path) -> String {
    run(dir, &["diff", "--cached", "--name-only"])
}

#[test]
fn commits_new_modified_and_deleted_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root);
    let repo = open(root);

    write(root, "a.md", "a\n");
    write(root, "b.md", "b\n");
    let first = repo.commit_all("first", None).unwrap().unwrap();
    assert_eq!(first, run(root, &["rev-parse", "HEAD"]).trim());
    assert_eq!(log(root), ["first"]);
    assert_eq!(tree(root), ["a.md", "b.md"]);

    write(root, "a.md", "a2\n");
    std::fs::remove_file(root.join("b.md")).unwrap();
    write(root, "dir/c.md", "c\n");
    let second = repo.commit_all("second", None).unwrap().unwrap();
    assert_ne!(first, second);
    assert_eq!(log(root), ["second", "first"]);
    assert_eq!(tree(root), ["a.md", "dir/c.md"]);
    assert_eq!(run(root, &["show", "HEAD:a.md"]), "a2\n");
    assert!(repo.status().unwrap().changed.is_empty());
}

#[test]
fn nothing_to_commit_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root);
    let repo = open(root);
    // Unborn branch, empty work tree.
    assert_eq!(repo.commit_all("empty", None).unwrap(), None);
    assert!(repo.head().unwrap().is_none());

    write(root, "a.md", "a\n");
    repo.commit_all("one", None).unwrap().unwrap();
    assert_eq!(repo.commit_all("again", None).unwrap(), None);
    assert_eq!(log(root), ["one"]);
}

#[test]
fn ignored_files_stay_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root);
    assert!(ensure_gitignore(root).unwrap());
    write(root, ".brain/x", "index\n");
    write(root, ".trash/old.md", "old\n");
    write(root, "note.md", "n\n");
    let repo = open(root);
    repo.commit_all("notes", None).unwrap().unwrap();
    assert_eq!(tree(root), [".gitignore", "note.md"]);

    // Only ignored changes: nothing to commit.
    write(root, ".brain/x", "index 2\n");
    assert_eq!(repo.commit_all("again", None).unwrap(), None);
}

/// Issue 13 item 4: a note that documents git holds marker lines the user wrote; it is
/// committed like any other text, byte for byte, together with the other changes.
#[test]
fn issue13_hand_written_conflict_markers_are_committed_like_any_text() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root);
    write(root, "a.md", "a\n");
    let repo = open(root);
    repo.commit_all("base", None).unwrap().unwrap();

    let documented = "How a conflict looks:\n<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> other\n";
    write(root, "a.md", "a2\n");
    write(root, "notes/git-howto.md", documented);
    let id = repo.commit_all("docs", None).unwrap().unwrap();
    assert_eq!(id, run(root, &["rev-parse", "HEAD"]).trim());
    assert_eq!(log(root), ["docs", "base"]);
    assert_eq!(tree(root), ["a.md", "notes/git-howto.md"]);
    assert_eq!(run(root, &["show", "HEAD:notes/git-howto.md"]), documented);
    assert!(repo.status().unwrap().changed.is_empty());
}

/// Issue 13 item 4, the intent kept: markers a merge left come with a path git reports as
/// unmerged, and that is refused with nothing staged, naming the path and what to do; a file
/// with hand-written markers changed beside it is not what blocks the commit.
#[test]
fn issue13_markers_a_merge_left_are_refused_by_the_unmerged_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root);
    let repo = open(root);
    write(root, "both.md", "base\n");
    repo.commit_all("base", None).unwrap().unwrap();
    run(root, &["checkout", "-q", "-b", "other"]);
    write(root, "both.md", "theirs\n");
    repo.commit_all("theirs", None).unwrap().unwrap();
    run(root, &["checkout", "-q", "main"]);
    write(root, "both.md", "mine\n");
    repo.commit_all("mine", None).unwrap().unwrap();
    merge_expecting_conflict(root, "other");
    let left = std::fs::read_to_string(root.join("both.md")).unwrap();
    assert!(left.contains("<<<<<<< HEAD"), "{left}");

    write(root, "howto.md", "<<<<<<< HEAD\nx\n=======\ny\n>>>>>>> z\n");
    let err = repo.commit_all("sync", None).unwrap_err();
    match &err {
        GitError::MergeUnresolved { paths } => assert_eq!(paths, &["both.md"]),
        other => panic!("unexpected {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("both.md") && text.contains("git merge --abort"),
        "{text}"
    );
    assert_eq!(log(root), ["mine", "base"]);
    assert!(!staged(root).contains("howto.md"));
}

/// Issue 13 item 5: nothing a `.brainignore` excludes is staged. A new excluded file stays out
/// of git; a tracked one (in a subfolder with its own `.brainignore`) keeps the content git has,
/// modified or deleted on disk, and is never removed from git.
#[test]
fn issue13_commit_all_stages_nothing_brainignore_excludes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root);
    let repo = open(root);
    write(root, "keep.md", "k\n");
    write(root, "drafts/old.md", "old\n");
    write(root, "sub/x.tmp", "x\n");
    repo.commit_all("base", None).unwrap().unwrap();

    write(root, ".brainignore", "drafts/\n");
    write(root, "sub/.brainignore", "*.tmp\n");
    write(root, "drafts/secret.md", "secret\n");
    write(root, "drafts/old.md", "old, edited\n");
    std::fs::remove_file(root.join("sub/x.tmp")).unwrap();
    write(root, "sub/y.tmp", "y\n");
    write(root, "keep.md", "k2\n");

    let status = repo.status().unwrap();
    let mut changed: Vec<&str> = status.changed.iter().map(|c| c.path.as_str()).collect();
    changed.sort_unstable();
    assert_eq!(changed, [".brainignore", "keep.md", "sub/.brainignore"]);
    let mut held: Vec<&str> = status
        .brainignored
        .iter()
        .map(|c| c.path.as_str())
        .collect();
    held.sort_unstable();
    assert_eq!(
        held,
        [
            "drafts/old.md",
            "drafts/secret.md",
            "sub/x.tmp",
            "sub/y.tmp"
        ]
    );
    assert_eq!(
        repo.tracked_but_brainignored().unwrap(),
        ["drafts/old.md", "sub/x.tmp"]
    );

    repo.commit_all("sync", None).unwrap().unwrap();
    assert_eq!(
        tree(root),
        [
            ".brainignore",
            "drafts/old.md",
            "keep.md",
            "sub/.brainignore",
            "sub/x.tmp"
        ]
    );
    assert_eq!(run(root, &["show", "HEAD:drafts/old.md"]), "old\n");
    assert_eq!(run(root, &["show", "HEAD:sub/x.tmp"]), "x\n");
    assert_eq!(run(root, &["show", "HEAD:keep.md"]), "k2\n");
    // Nothing left staged, and only excluded files left changed.
    assert_eq!(staged(root), "");
    assert_eq!(repo.commit_all("again", None).unwrap(), None);
}

#[test]
fn unresolved_merge_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root);
    let repo = open(root);
    write(root, "both.md", "base\n");
    repo.commit_all("base", None).unwrap().unwrap();
    run(root, &["checkout", "-q", "-b", "other"]);
    write(root, "both.md", "theirs\n");
    repo.commit_all("theirs", None).unwrap().unwrap();
    run(root, &["checkout", "-q", "main"]);
    write(root, "both.md", "mine\n");
    repo.commit_all("mine", None).unwrap().unwrap();
    merge_expecting_conflict(root, "other");

    write(root, "new.md", "n\n");
    let err = repo.commit_all("sync", None).unwrap_err();
    match &err {
        GitError::MergeUnresolved { paths } => assert_eq!(paths, &["both.md"]),
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("brain git sync"), "{err}");
    assert_eq!(log(root), ["mine", "base"]);
    // The new file was not staged.
    assert!(!staged(root).contains("new.md"));

    // Resolved but not concluded: still refused.
    write(root, "both.md", "merged\n");
    run(root, &["add", "both.md"]);
    let err = repo.commit_all("sync", None).unwrap_err();
    assert!(
        matches!(&err, GitError::MergeUnresolved { paths } if paths.is_empty()),
        "{err}"
    );
}

/// A git that sees no global or system config (so no identity), via a wrapper script: the
/// runner passes the test's environment through, and tests must not change it.
#[cfg(unix)]
fn git_without_identity(dir: &Path) -> Git {
    use std::os::unix::fs::PermissionsExt;
    let real = run(dir, &["--exec-path"]);
    let real = Path::new(real.trim()).join("git");
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let script = dir.join("git-no-identity");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nunset EMAIL GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME \
             GIT_COMMITTER_EMAIL\nHOME='{}' XDG_CONFIG_HOME='{}' GIT_CONFIG_NOSYSTEM=1 \
             GIT_CONFIG_GLOBAL=/dev/null exec '{}' \"$@\"\n",
            home.display(),
            home.display(),
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    Git::at(script).unwrap()
}

#[cfg(unix)]
#[test]
fn author_override_without_identity() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("vault");
    std::fs::create_dir(&root).unwrap();
    let git = git_without_identity(dir.path());
    let opts = RunOptions::with_timeout(Duration::from_secs(60));
    git.run(&root, &["init", "-q", "-b", "main"], &opts)
        .unwrap();
    // No identity, and no guessing one from the host name.
    git.run(&root, &["config", "user.useConfigOnly", "true"], &opts)
        .unwrap();
    write(&root, "a.md", "a\n");
    let repo = Repo::open(git.clone(), &root).unwrap().unwrap();

    let err = repo.commit_all("no one", None).unwrap_err();
    assert!(
        err.to_string().contains("Please tell me who you are"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("set git.author_name and git.author_email"),
        "{err}"
    );
    assert!(repo.head().unwrap().is_none());

    let id = repo
        .commit_all("someone", Some(("Ada Lovelace", "ada@example.com")))
        .unwrap()
        .unwrap();
    let who = git
        .run(
            &root,
            &["log", "-1", "--format=%an <%ae>|%cn <%ce>", &id],
            &opts,
        )
        .unwrap()
        .stdout;
    assert_eq!(
        who.trim(),
        "Ada Lovelace <ada@example.com>|Ada Lovelace <ada@example.com>"
    );
}

#[test]
fn message_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root);
    run(root, &["config", "commit.cleanup", "strip"]);
    write(root, "caf\u{e9}.md", "x\n");
    let repo = open(root);
    let message = "sync laptop: caf\u{e9}.md \u{1f9e0} \"quoted\" 'single' `tick` $HOME \\n\n\n\
                   #tag.md kept\n  indented -- --no-verify\n-F -";
    let id = repo.commit_all(message, None).unwrap().unwrap();
    let body = run(root, &["log", "-1", "--format=%B", &id]);
    assert_eq!(body.trim_end(), message);
    assert_eq!(log(root).len(), 1);
}
