//! `Repo` against the real `git` on this machine, in temporary directories.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{git, identity, init, merge_expecting_conflict, open, run, write};

use std::path::Path;

use brain_git::{ChangeKind, ChangedPath, GitError, Repo};

/// NFC `é`: one code point, as the vault writes names.
const CAFE: &str = "caf\u{e9}.md";

fn commit_all(dir: &Path, message: &str) {
    run(dir, &["add", "-A"]);
    run(dir, &["commit", "-q", "-m", message]);
}

fn changed(path: &str, kind: ChangeKind) -> ChangedPath {
    ChangedPath {
        path: path.to_owned(),
        kind,
    }
}

fn sorted(mut paths: Vec<ChangedPath>) -> Vec<ChangedPath> {
    paths.sort_by(|a, b| a.path.cmp(&b.path));
    paths
}

/// Text long enough for git's rename detection to recognise an edited copy.
fn long_text(seed: &str) -> String {
    (0..20).map(|i| format!("{seed} line {i}\n")).collect()
}

#[test]
fn not_a_repository_is_none() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Repo::open(git(), dir.path()).unwrap().is_none());
}

#[test]
fn missing_folder_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Repo::open(git(), &dir.path().join("nope")).unwrap_err();
    assert!(matches!(err, GitError::Path { .. }), "{err}");
}

#[test]
fn subfolder_of_a_repository_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let sub = dir.path().join("vault");
    std::fs::create_dir(&sub).unwrap();
    let err = Repo::open(git(), &sub).unwrap_err();
    assert!(matches!(err, GitError::NotTopLevel { .. }), "{err}");
    assert!(err.to_string().contains("versions the vault folder itself"));
}

#[test]
fn fresh_repository_is_unborn() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let repo = open(dir.path());
    assert_eq!(repo.root(), std::fs::canonicalize(dir.path()).unwrap());
    assert_eq!(repo.head().unwrap(), None);
    let status = repo.status().unwrap();
    assert_eq!(status.branch.as_deref(), Some("main"));
    assert_eq!(status.head, None);
    assert_eq!(status.upstream, None);
    assert_eq!((status.ahead, status.behind), (0, 0));
    assert!(status.changed.is_empty() && status.unmerged.is_empty() && !status.merging);
}

#[test]
fn changes_round_trip_odd_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root);
    write(root, "keep.md", "keep\n");
    write(root, "mod.md", "before\n");
    write(root, "del me.md", "bye\n");
    commit_all(root, "base");
    let repo = open(root);
    let head = repo.head().unwrap().expect("a commit");
    assert_eq!(head.len(), 40, "{head}");

    write(root, "mod.md", "after\n");
    std::fs::remove_file(root.join("del me.md")).unwrap();
    write(root, "with space.md", "new\n");
    write(root, "line\nbreak.md", "new\n");
    run(root, &["add", "--", "with space.md", "line\nbreak.md"]);
    write(root, CAFE, "untracked\n");
    write(root, "dir/sub \u{e9}/deep.md", "untracked\n");

    let status = repo.status().unwrap();
    assert_eq!(status.head.as_deref(), Some(head.as_str()));
    assert_eq!(status.branch.as_deref(), Some("main"));
    assert_eq!(
        sorted(status.changed),
        sorted(vec![
            changed("mod.md", ChangeKind::Modified),
            changed("del me.md", ChangeKind::Deleted),
            changed("with space.md", ChangeKind::Added),
            changed("line\nbreak.md", ChangeKind::Added),
            changed(CAFE, ChangeKind::Untracked),
            changed("dir/sub \u{e9}/deep.md", ChangeKind::Untracked),
        ])
    );
    assert!(status.unmerged.is_empty() && !status.merging);
}

#[test]
fn staged_rename_is_a_rename() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root);
    write(root, "old name.md", &long_text("note"));
    commit_all(root, "base");
    run(root, &["mv", "old name.md", CAFE]);
    let status = open(root).status().unwrap();
    assert_eq!(
        status.changed,
        [changed(
            CAFE,
            ChangeKind::Renamed {
                from: "old name.md".into()
            }
        )]
    );
}

#[test]
fn ahead_and_behind_the_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let (remote, mine, theirs) = (
        dir.path().join("remote.git"),
        dir.path().join("mine"),
        dir.path().join("theirs"),
    );
    let remote_arg = remote.to_str().unwrap();
    run(
        dir.path(),
        &["init", "-q", "--bare", "-b", "main", remote_arg],
    );
    std::fs::create_dir(&mine).unwrap();
    init(&mine);
    write(&mine, "a.md", "a\n");
    commit_all(&mine, "base");
    run(&mine, &["remote", "add", "origin", remote_arg]);
    run(&mine, &["push", "-q", "-u", "origin", "main"]);

    let repo = open(&mine);
    let status = repo.status().unwrap();
    assert_eq!(status.upstream.as_deref(), Some("origin/main"));
    assert_eq!((status.ahead, status.behind), (0, 0));

    write(&mine, "b.md", "b\n");
    commit_all(&mine, "mine");
    let status = repo.status().unwrap();
    assert_eq!((status.ahead, status.behind), (1, 0));

    run(
        dir.path(),
        &["clone", "-q", remote_arg, theirs.to_str().unwrap()],
    );
    identity(&theirs);
    write(&theirs, "c.md", "c\n");
    commit_all(&theirs, "theirs");
    run(&theirs, &["push", "-q", "origin", "main"]);
    run(&mine, &["fetch", "-q", "origin"]);
    let status = repo.status().unwrap();
    assert_eq!((status.ahead, status.behind), (1, 1));
    assert!(status.changed.is_empty());
}

#[test]
fn conflicting_merge_is_unmerged_and_merging() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root);
    write(root, "both.md", "base\n");
    write(root, "other.md", "base\n");
    commit_all(root, "base");
    run(root, &["checkout", "-q", "-b", "other"]);
    write(root, "both.md", "theirs\n");
    write(root, "other.md", "theirs\n");
    commit_all(root, "theirs");
    run(root, &["checkout", "-q", "main"]);
    write(root, "both.md", "mine\n");
    commit_all(root, "mine");

    let repo = open(root);
    assert!(!repo.status().unwrap().merging);
    merge_expecting_conflict(root, "other");

    let status = repo.status().unwrap();
    assert!(status.merging);
    assert_eq!(status.unmerged, ["both.md"]);
    // The cleanly merged file is staged.
    assert_eq!(status.changed, [changed("other.md", ChangeKind::Modified)]);
}

#[test]
fn changed_between_two_commits() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root);
    write(root, "keep.md", "keep\n");
    write(root, "mod.md", "before\n");
    write(root, "del.md", "bye\n");
    write(root, "old name.md", &long_text("moved"));
    commit_all(root, "one");
    let repo = open(root);
    let old = repo.head().unwrap().unwrap();

    write(root, "mod.md", "after\n");
    std::fs::remove_file(root.join("del.md")).unwrap();
    write(root, "new\nline.md", "added\n");
    run(root, &["mv", "old name.md", CAFE]);
    // Edited as well as moved: still a rename.
    write(root, CAFE, &format!("{}one more\n", long_text("moved")));
    commit_all(root, "two");
    let new = repo.head().unwrap().unwrap();

    assert_eq!(
        sorted(repo.changed_between(&old, &new).unwrap()),
        sorted(vec![
            changed("mod.md", ChangeKind::Modified),
            changed("del.md", ChangeKind::Deleted),
            changed("new\nline.md", ChangeKind::Added),
            changed(
                CAFE,
                ChangeKind::Renamed {
                    from: "old name.md".into()
                }
            ),
        ])
    );
    assert!(repo.changed_between(&new, &new).unwrap().is_empty());
    assert!(repo.changed_between(&old, "no-such-rev").is_err());
}
