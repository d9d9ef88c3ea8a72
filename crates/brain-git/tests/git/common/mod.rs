//! Setup shared by the tests that drive the real `git` in temporary directories.
#![allow(dead_code)] // each test file uses its own part

use std::path::Path;
use std::time::Duration;

use brain_git::{Git, GitError, Repo, RunOptions};

pub fn git() -> Git {
    Git::locate().unwrap()
}

/// Runs git in `dir` and returns its stdout; panics on failure.
pub fn run(dir: &Path, args: &[&str]) -> String {
    git()
        .run(
            dir,
            args,
            &RunOptions::with_timeout(Duration::from_secs(60)),
        )
        .unwrap()
        .stdout
}

/// Merges `branch` into the current branch, which must stop on a conflict (git fails and
/// leaves the merge unresolved).
pub fn merge_expecting_conflict(dir: &Path, branch: &str) {
    let err = git()
        .run(
            dir,
            &["merge", "-q", "--no-edit", branch],
            &RunOptions::with_timeout(Duration::from_secs(60)),
        )
        .unwrap_err();
    assert!(matches!(err, GitError::Failed { .. }), "{err}");
}

/// Sets a local identity and turns off signing, so commits work whatever the global config.
pub fn identity(dir: &Path) {
    run(dir, &["config", "user.name", "Test"]);
    run(dir, &["config", "user.email", "test@example.com"]);
    run(dir, &["config", "commit.gpgsign", "false"]);
}

/// A fresh repository on branch `main` with a local identity and no signing.
pub fn init(dir: &Path) {
    run(dir, &["init", "-q", "-b", "main"]);
    identity(dir);
}

pub fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

pub fn open(dir: &Path) -> Repo {
    Repo::open(git(), dir).unwrap().expect("a repository")
}
