//! Helpers for the git-sync tests: plain `git` with a fixed identity and no user config, bare
//! remotes, and the `brain` binary with a commit identity.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{Run, TestVault};

/// The commit identity of every device and of the plain git commands.
pub const NAME: &str = "Brain Test";
pub const EMAIL: &str = "brain-test@example.com";

/// A plain `git -C dir ...`: no prompts, no user or system config, a fixed identity.
pub fn git_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("git");
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", NAME)
        .env("GIT_AUTHOR_EMAIL", EMAIL)
        .env("GIT_COMMITTER_NAME", NAME)
        .env("GIT_COMMITTER_EMAIL", EMAIL)
        .arg("-C")
        .arg(dir)
        .args(["-c", "commit.gpgsign=false"])
        .args(args);
    c
}

/// Runs git and returns its exit code and what it printed.
pub fn git_run(dir: &Path, args: &[&str]) -> Run {
    git_cmd(dir, args).output().expect("git runs").into()
}

/// Runs git expecting success; returns its stdout without the final newline.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let r = git_run(dir, args);
    assert_eq!(
        r.code,
        0,
        "git {args:?} in {} failed\nstdout:\n{}\nstderr:\n{}",
        dir.display(),
        r.stdout,
        r.stderr
    );
    r.stdout.trim_end_matches('\n').to_owned()
}

/// A new bare repository `dir/name` with `main` as its default branch.
pub fn bare(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let r = git_run(
        dir,
        &["init", "-q", "--bare", "-b", "main", path.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "git init --bare: {}", r.stderr);
    path
}

/// The commit `rev` names in `repo`.
pub fn rev(repo: &Path, rev: &str) -> String {
    git(repo, &["rev-parse", "--verify", "-q", rev])
}

/// How many commits `rev` has (0 when it names nothing, as on an empty remote).
pub fn count(repo: &Path, rev: &str) -> usize {
    let r = git_run(repo, &["rev-list", "--count", rev, "--"]);
    if r.code != 0 {
        return 0;
    }
    r.stdout.trim().parse().unwrap()
}

/// `git rev-list --reverse ARGS` as a list, oldest first.
pub fn rev_list(repo: &Path, args: &[&str]) -> Vec<String> {
    let mut all = vec!["rev-list", "--reverse"];
    all.extend_from_slice(args);
    all.push("--");
    git(repo, &all).lines().map(str::to_owned).collect()
}

/// The files of `rev` in `repo`, sorted.
pub fn tree(repo: &Path, rev: &str) -> Vec<String> {
    git(repo, &["ls-tree", "-r", "--name-only", rev])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The commits of `repo` (any ref) whose tree has a file holding a conflict marker.
pub fn commits_with_markers(repo: &Path) -> Vec<String> {
    let commits = rev_list(repo, &["--all"]);
    if commits.is_empty() {
        return Vec::new();
    }
    let mut args = vec!["grep", "-l", "-F", "<<<<<<<"];
    args.extend(commits.iter().map(String::as_str));
    let r = git_run(repo, &args);
    assert!(r.code == 0 || r.code == 1, "git grep: {}", r.stderr);
    r.stdout.lines().map(str::to_owned).collect()
}

/// `brain --vault V ARGS` with the commit identity set, and `env` on top.
pub fn brain_env(v: &TestVault, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = v.cmd();
    c.env("BRAIN_GIT_AUTHOR_NAME", NAME)
        .env("BRAIN_GIT_AUTHOR_EMAIL", EMAIL);
    for (k, val) in env {
        c.env(k, val);
    }
    c.args(args).output().expect("brain runs").into()
}

/// `brain --vault V ARGS` with the commit identity set.
pub fn brain(v: &TestVault, args: &[&str]) -> Run {
    brain_env(v, args, &[])
}

/// Like [`brain`], expecting exit code 0.
pub fn brain_ok(v: &TestVault, args: &[&str]) -> Run {
    let r = brain(v, args);
    assert_eq!(
        r.code, 0,
        "brain {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    r
}

/// `brain --json git init --remote URL`, expecting success; returns the report.
pub fn git_init(v: &TestVault, url: &str) -> Value {
    brain_ok(v, &["--json", "git", "init", "--remote", url]).json()
}

/// `brain --json git sync`, expecting success; returns the report.
pub fn git_sync(v: &TestVault) -> Value {
    brain_ok(v, &["--json", "git", "sync"]).json()
}

/// A vault with these notes, imported into its store.
pub fn vault_with(notes: &[(&str, &str)]) -> TestVault {
    let v = TestVault::new();
    for (path, text) in notes {
        v.write(path, text);
    }
    v.sync();
    v
}

/// Every file of the vault outside `.brain/` and `.git/`, with its bytes.
pub fn files(v: &TestVault) -> BTreeMap<String, Vec<u8>> {
    let mut all = v.snapshot();
    all.retain(|path, _| path != ".git" && !path.starts_with(".git/"));
    all
}

/// The same, as text, for readable failure messages.
pub fn text_files(v: &TestVault) -> BTreeMap<String, String> {
    files(v)
        .into_iter()
        .map(|(p, b)| (p, String::from_utf8_lossy(&b).into_owned()))
        .collect()
}

/// The text of a file of the vault.
pub fn read(v: &TestVault, rel: &str) -> String {
    String::from_utf8(v.read(rel)).unwrap()
}

/// `brain get REF`'s output, or `None` when the entity does not exist (exit code 4).
pub fn get(v: &TestVault, entity: &str) -> Option<String> {
    let r = brain(v, &["get", entity]);
    match r.code {
        0 => Some(r.stdout),
        4 => None,
        code => panic!("brain get {entity} exited {code}: {}", r.stderr),
    }
}

/// Asserts that files and store agree: a directory sync finds nothing to import or export and
/// writes nothing.
pub fn assert_in_step(v: &TestVault) {
    let before = files(v);
    let report = v.sync();
    for key in [
        "imported", "updated", "renamed", "deleted", "exported", "trashed",
    ] {
        assert_eq!(
            report[key],
            0,
            "{}: `brain sync` still had work ({key}): {report}",
            v.root().display()
        );
    }
    assert_eq!(report["conflicts"], serde_json::json!([]), "{report}");
    assert_eq!(report["skipped"], serde_json::json!([]), "{report}");
    assert_eq!(files(v), before, "`brain sync` changed files");
}

/// The jobs of the vault, newest first.
pub fn jobs(v: &TestVault) -> Vec<Value> {
    brain_ok(v, &["--json", "jobs", "list", "--limit", "1000"])
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// A note long enough for git's rename detection to follow it through a small edit.
pub fn note(name: &str) -> String {
    format!(
        "# {name}\n\nline one of {name}\nline two of {name}\nline three of {name}\n\
         line four of {name}\nline five of {name}\nline six of {name}\n"
    )
}

/// Replaces `from` with `to` in a note, then imports it (as the watcher would).
pub fn edit(v: &TestVault, rel: &str, from: &str, to: &str) -> String {
    let old = read(v, rel);
    assert!(old.contains(from), "{rel} has no {from:?}: {old}");
    let new = old.replacen(from, to, 1);
    v.write(rel, &new);
    v.sync();
    new
}

/// The job with this id in a `brain jobs list --json` array.
pub fn job<'a>(all: &'a [Value], id: &Value) -> &'a Value {
    all.iter()
        .find(|j| &j["id"] == id)
        .unwrap_or_else(|| panic!("no job {id} in {all:?}"))
}

/// Asserts that the `brain git` command `r` (run with `--json`) failed for good: it says it is
/// not retrying, and its job failed after one attempt.
pub fn assert_failed_without_retry(v: &TestVault, r: &Run) {
    let out = r.json();
    assert_eq!(out["retrying"], false);
    let all = jobs(v);
    let failed = job(&all, &out["job"]);
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["attempts"], 1, "{failed}");
}

/// A bare remote in its own folder, and its path as a URL.
pub struct Remote {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Remote {
    pub fn new() -> Remote {
        let dir = tempfile::Builder::new()
            .prefix("brain-remote-")
            .tempdir()
            .unwrap();
        let path = bare(dir.path(), "notes.git");
        Remote { _dir: dir, path }
    }

    pub fn url(&self) -> &str {
        self.path.to_str().unwrap()
    }

    pub fn head(&self) -> String {
        rev(&self.path, "main")
    }

    pub fn commits(&self) -> usize {
        count(&self.path, "main")
    }
}

/// Vault A with `notes`, connected to an empty remote (its first commit), and vault B cloned
/// from it.
pub fn pair(notes: &[&str]) -> (Remote, TestVault, TestVault) {
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
