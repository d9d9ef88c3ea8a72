#![allow(clippy::unwrap_used)]
//! The test HTTP remote (`common/http_remote.rs`) against the real `git`: clone, chunked push,
//! header authentication, and pushes cut off mid-request.

use crate::common;
#[path = "common/http_remote.rs"]
mod http_remote;

use std::path::{Path, PathBuf};
use std::time::Duration;

use brain_git::{RunOptions, Secret};
use http_remote::HttpRemote;

/// `user:s3cr3t-token` in base64.
const TOKEN: &str = "dXNlcjpzM2NyM3QtdG9rZW4=";

fn opts() -> RunOptions {
    RunOptions::with_timeout(Duration::from_secs(20))
}

/// A folder holding one empty bare repository, `remote.git`, on branch `main`.
fn project_root(tmp: &Path) -> PathBuf {
    let root = tmp.join("srv");
    std::fs::create_dir(&root).unwrap();
    common::run(&root, &["init", "-q", "--bare", "-b", "main", "remote.git"]);
    root
}

/// The commit `main` points to in `repo`, or `None` when it has none.
fn main_of(repo: &Path) -> Option<String> {
    let out = common::git()
        .run(
            repo,
            &["rev-parse", "--verify", "-q", "refs/heads/main"],
            &opts(),
        )
        .ok()?;
    Some(out.stdout.trim().to_owned())
}

/// `len` bytes of text that compresses poorly (about 6 bits a character), from a fixed seed.
fn noise(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|i| {
            if i % 80 == 79 {
                return '\n';
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ALPHABET[(state % 64) as usize] as char
        })
        .collect()
}

/// Adds `count` commits on a new branch `local` in `repo`, with one `git fast-import`.
fn local_commits(repo: &Path, count: usize) {
    let mut stream = String::new();
    for i in 0..count {
        let from = if i == 0 { "from refs/heads/main\n" } else { "" };
        stream.push_str(&format!(
            "commit refs/heads/local\ncommitter T <t@example.com> {} +0000\ndata 2\n{}\n\n{from}\
             M 644 inline local.md\ndata 2\n{}\n\n",
            2_000_000_000 + i,
            i % 10,
            i % 10
        ));
    }
    let opts = RunOptions {
        input: Some(stream.into_bytes()),
        ..opts()
    };
    common::git()
        .run(repo, &["fast-import", "--quiet"], &opts)
        .unwrap();
}

/// A new repository in `tmp/name` with one commit holding `file.md`, and `origin` set to `url`.
fn client(tmp: &Path, name: &str, url: &str) -> PathBuf {
    let dir = tmp.join(name);
    std::fs::create_dir(&dir).unwrap();
    common::init(&dir);
    common::write(&dir, "file.md", "first\n");
    common::run(&dir, &["add", "-A"]);
    common::run(&dir, &["commit", "-q", "-m", "first"]);
    common::run(&dir, &["remote", "add", "origin", url]);
    dir
}

#[test]
fn clones_and_takes_a_chunked_push() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project_root(tmp.path());
    let server = HttpRemote::start(&root);
    let url = server.url("remote.git");

    common::run(tmp.path(), &["clone", "-q", &url, "work"]);
    let work = tmp.path().join("work");
    common::identity(&work);
    common::run(&work, &["symbolic-ref", "HEAD", "refs/heads/main"]);
    let big = noise(400_000);
    common::write(&work, "big.md", &big);
    for i in 0..200 {
        common::write(&work, &format!("notes/n{i:03}.md"), &format!("note {i}\n"));
    }
    common::run(&work, &["add", "-A"]);
    common::run(&work, &["commit", "-q", "-m", "many files"]);
    // Git sends a body larger than http.postBuffer (default 1 MiB) chunked; its smallest value
    // makes this ~300 KiB pack go chunked without a slow multi-megabyte test.
    common::run(
        &work,
        &[
            "-c",
            "http.postBuffer=65520",
            "push",
            "-q",
            "origin",
            "main",
        ],
    );
    assert!(server.chunked_count() > 0, "the push was not chunked");
    assert_eq!(main_of(&root.join("remote.git")), main_of(&work));

    common::run(tmp.path(), &["clone", "-q", &url, "copy"]);
    let copy = tmp.path().join("copy");
    assert_eq!(std::fs::read_to_string(copy.join("big.md")).unwrap(), big);
    assert_eq!(
        std::fs::read_to_string(copy.join("notes/n199.md")).unwrap(),
        "note 199\n"
    );
    assert_eq!(main_of(&copy), main_of(&work));

    // A fetch from a clone with many commits the server lacks: git gzips its (over 1 KiB)
    // list of `have` lines, which the backend must get still encoded.
    local_commits(&copy, 60);
    common::write(&work, "later.md", "later\n");
    common::run(&work, &["add", "-A"]);
    common::run(&work, &["commit", "-q", "-m", "later"]);
    common::run(&work, &["push", "-q", "origin", "main"]);
    common::run(&copy, &["fetch", "-q", "origin"]);
    assert!(server.gzipped_count() > 0, "no fetch request was gzipped");
    assert_eq!(
        common::run(&copy, &["rev-parse", "origin/main"]).trim(),
        main_of(&work).unwrap()
    );
    assert_eq!(server.unauthorized_count(), 0);
}

#[test]
fn requires_the_authorization_header() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project_root(tmp.path());
    let value = format!("Basic {TOKEN}");
    let server = HttpRemote::start_with_auth(&root, &value);
    let work = client(tmp.path(), "work", &server.url("remote.git"));
    let git = common::git();

    let header = |value: &str| RunOptions {
        auth_header: Some(Secret::new(format!("Authorization: {value}"))),
        ..opts()
    };
    let push: &[&str] = &["push", "-q", "origin", "main"];
    let fetch: &[&str] = &["fetch", "-q", "origin"];

    // No header, then a wrong one: refused, and said to be an authentication problem.
    let wrong = header("Basic d3Jvbmc6dG9rZW4tMTIzNA==");
    for (args, opts) in [(push, opts()), (fetch, opts()), (push, wrong)] {
        let err = git.run(&work, args, &opts).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("authentication failed"), "{message}");
        assert!(!err.is_transient(), "{message}");
    }
    assert_eq!(server.unauthorized_count(), 3);
    assert_eq!(main_of(&root.join("remote.git")), None);

    let with_header = header(&value);
    git.run(&work, push, &with_header).unwrap();
    git.run(&work, fetch, &with_header).unwrap();
    assert_eq!(main_of(&root.join("remote.git")), main_of(&work));

    assert!(server.authorizations().contains(&value));
    let lines = server.request_lines();
    assert!(lines.iter().any(|l| l.contains("git-receive-pack")));
    assert!(lines.iter().all(|l| !l.contains(TOKEN)), "{lines:?}");
    let config = std::fs::read_to_string(work.join(".git/config")).unwrap();
    assert!(!config.contains(TOKEN), "{config}");
}

/// Issue 13 item 11: a URL with no repository behind it on a live server (HTTP 404) is not a
/// network error: it is not retried and says to check the URL.
#[test]
fn issue13_a_repository_the_server_does_not_have_is_not_temporary() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project_root(tmp.path());
    let server = HttpRemote::start(&root);
    let work = client(tmp.path(), "work", &server.url("no-such-repo.git"));
    for args in [
        &["fetch", "-q", "origin"][..],
        &["push", "-q", "origin", "main"],
    ] {
        let err = common::git().run(&work, args, &opts()).unwrap_err();
        let message = err.to_string();
        assert!(err.is_no_such_remote(), "{message}");
        assert!(!err.is_transient(), "{message}");
        assert!(message.contains("check the URL"), "{message}");
    }
}

#[test]
fn a_cut_push_fails_and_moves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project_root(tmp.path());
    let server = HttpRemote::start(&root);
    let work = client(tmp.path(), "work", &server.url("remote.git"));
    common::run(&work, &["push", "-q", "origin", "main"]);
    let before = main_of(&root.join("remote.git"));
    assert!(before.is_some());

    common::write(&work, "file.md", &noise(50_000));
    common::run(&work, &["commit", "-q", "-am", "second"]);
    server.set_cut_pushes(true);
    let err = common::git()
        .run(&work, &["push", "-q", "origin", "main"], &opts())
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(server.cut_count(), 1);
    assert_eq!(main_of(&root.join("remote.git")), before);

    // Fetches still work while pushes are cut.
    common::run(&work, &["fetch", "-q", "origin"]);

    server.set_cut_pushes(false);
    common::run(&work, &["push", "-q", "origin", "main"]);
    assert_eq!(main_of(&root.join("remote.git")), main_of(&work));
}
