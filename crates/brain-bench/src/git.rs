//! `brain bench git`: how fast the `brain` binary commits and pushes a vault, with real git and
//! bare remotes on disk, next to plain git doing the same work on a clone of the same tree in
//! the same run (runs interleaved, so a noisy machine moves both).
//!
//! - initial commit + push: `brain git init --remote <bare>` on an imported vault (no baseline);
//! - no-change sync: `brain git sync` with nothing changed, against
//!   `git add -A && { git diff --cached --quiet || git commit; } && git push`;
//! - changed notes: `changed` notes get a line appended, the store is brought in step by an
//!   untimed `brain sync` (as the daemon would), then `brain git sync` is timed, against
//!   `git add -A && git commit && git push` of the same edits in the clone.
//!
//! After every timed run the remote must hold the working copy's HEAD, the tree must be clean
//! and the commit must hold exactly the changed notes, or the bench fails: a fast sync that did
//! not push is not a figure. Both sides use `git` from PATH (`BRAIN_GIT` is cleared for brain).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::args::BenchGitArgs;
use crate::child::brain_cmd;
use crate::common::{find_generator, fresh_dir, generate, median, ms, work_dir};
use crate::error::{Context, Result, fail};
use crate::out;

const BRANCH: &str = "main";
const NAME: &str = "brain bench";
const EMAIL: &str = "bench@brain.invalid";
const PLAIN_NO_CHANGE: &str =
    "git add -A && { git diff --cached --quiet || git commit -q -m x; } && git push -q";
const PLAIN_CHANGED: &str = "git add -A && git commit -q -m x && git push -q";

/// `brain --vault <vault> <args>` with the bench's commit identity.
fn brain(vault: &Path, args: &[&str]) -> Result<Command> {
    let mut cmd = brain_cmd(vault, args)?;
    cmd.env("BRAIN_GIT_AUTHOR_NAME", NAME)
        .env("BRAIN_GIT_AUTHOR_EMAIL", EMAIL)
        .env_remove("BRAIN_GIT");
    Ok(cmd)
}

/// `git -C <dir> <args>`.
fn git(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).args(args);
    cmd
}

/// `sh -c <script>` in `dir`.
fn sh(dir: &Path, script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).current_dir(dir);
    cmd
}

/// Runs `cmd` to completion and returns its trimmed stdout; fails with its stderr unless it
/// exits with one of `ok`.
fn exec(mut cmd: Command, ok: &[i32]) -> Result<String> {
    let what = format!("{cmd:?}");
    let out = cmd.output().ctx(|| format!("cannot run {what}"))?;
    if !out.status.code().is_some_and(|c| ok.contains(&c)) {
        fail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Wall time of `cmd`, which must exit 0.
fn timed(cmd: Command) -> Result<Duration> {
    let t = Instant::now();
    exec(cmd, &[0])?;
    Ok(t.elapsed())
}

/// Checks that `remote` holds the HEAD of `work` and that `work` has nothing uncommitted;
/// returns that HEAD.
fn check_pushed(work: &Path, remote: &Path, what: &str) -> Result<String> {
    let head = exec(git(work, &["rev-parse", "HEAD"]), &[0])?;
    let pushed = exec(
        git(remote, &["rev-parse", &format!("refs/heads/{BRANCH}")]),
        &[0],
    )?;
    if head != pushed {
        fail!(
            "{what}: {} is at {head} but {BRANCH} in {} is at {pushed}: the push did not happen",
            work.display(),
            remote.display()
        );
    }
    let dirty = exec(git(work, &["status", "--porcelain"]), &[0])?;
    if !dirty.is_empty() {
        let first: Vec<&str> = dirty.lines().take(10).collect();
        fail!(
            "{what}: {} has uncommitted changes ({} paths), first:\n{}",
            work.display(),
            dirty.lines().count(),
            first.join("\n")
        );
    }
    Ok(head)
}

/// Checks that the commits from `before` to `after` changed exactly `expected` files.
fn check_changed(
    work: &Path,
    before: &str,
    after: &str,
    expected: usize,
    what: &str,
) -> Result<()> {
    let names = exec(git(work, &["diff", "--name-only", before, after]), &[0])?;
    let got = names.lines().count();
    if before == after || got != expected {
        fail!(
            "{what}: expected a commit of {expected} changed notes, got {got} ({before}..{after})"
        );
    }
    Ok(())
}

/// Appends a line to `changed` distinct notes of `files`, spread over the vault and shifted by
/// `run`, in each of `roots`.
fn edit(roots: &[&Path], files: &[String], run: usize, changed: usize) -> Result<()> {
    let step = (files.len() / changed).max(1);
    for i in 0..changed {
        let rel = &files[(run + i * step) % files.len()];
        for root in roots {
            let path = root.join(rel);
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .ctx(|| format!("cannot open {}", path.display()))?;
            writeln!(f, "\nbench git: run {run}, edit {i}")
                .ctx(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

fn stats(xs: &[Duration]) -> Value {
    let max = xs.iter().max().copied().unwrap_or_default();
    json!({"median_ms": ms(median(xs.to_vec())), "max_ms": ms(max), "n": xs.len()})
}

fn figure(brain: &[Duration], plain: &[Duration]) -> Value {
    let (b, p) = (stats(brain), stats(plain));
    let ratio = b["median_ms"].as_f64().unwrap_or(0.0) / p["median_ms"].as_f64().unwrap_or(1.0);
    json!({"brain": b, "plain_git": p, "ratio": ratio})
}

/// Runs the git benchmark.
pub(crate) fn run(args: &BenchGitArgs, json_out: bool) -> Result<u8> {
    if args.changed == 0 {
        fail!("--changed must be at least 1");
    }
    let runs = args.runs.max(1);
    let generator = find_generator(args.generator.as_deref())?;
    let (_temp, base) = work_dir(args.workdir.as_deref(), "brain-bench-git-")?;
    let work = fresh_dir(&base, &format!("git-{}", args.notes))?;
    std::fs::create_dir_all(&work).ctx(|| format!("cannot create {}", work.display()))?;
    let vault = work.join("vault");
    let remote = work.join("remote.git");
    let plain = work.join("plain");
    let plain_remote = work.join("plain-remote.git");
    let git_version = exec(git(&work, &["--version"]), &[0])?;
    let git_version = git_version.trim_start_matches("git version ").to_string();

    generate(&generator, &vault, args.notes)?;
    exec(brain(&vault, &["init"])?, &[0])?;
    exec(brain(&vault, &["sync"])?, &[0, 3])?;
    exec(
        git(&work, &["init", "-q", "--bare", "-b", BRANCH, "remote.git"]),
        &[0],
    )?;
    let url = remote
        .to_str()
        .ctx(|| "the work folder's path is not UTF-8".into())?;
    let init = timed(brain(&vault, &["git", "init", "--remote", url])?)?;
    let mut head = check_pushed(&vault, &remote, "brain git init")?;

    // The baseline's working copy: the same tree, with its own bare remote.
    exec(
        git(
            &work,
            &["clone", "-q", "--bare", "remote.git", "plain-remote.git"],
        ),
        &[0],
    )?;
    exec(
        git(&work, &["clone", "-q", "plain-remote.git", "plain"]),
        &[0],
    )?;
    exec(git(&plain, &["config", "user.name", NAME]), &[0])?;
    exec(git(&plain, &["config", "user.email", EMAIL]), &[0])?;
    let mut plain_head = check_pushed(&plain, &plain_remote, "plain git clone")?;
    let listed = exec(git(&plain, &["ls-files", "-z", "--", "*.md"]), &[0])?;
    let files: Vec<String> = listed
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if files.len() < args.changed {
        fail!(
            "--changed {} is more than the {} notes committed",
            args.changed,
            files.len()
        );
    }

    let (mut a_brain, mut a_plain) = (Vec::new(), Vec::new());
    for r in 1..=runs {
        a_brain.push(timed(brain(&vault, &["git", "sync"])?)?);
        let what = format!("no-change brain git sync, run {r}");
        if check_pushed(&vault, &remote, &what)? != head {
            fail!("{what}: made a commit although nothing changed");
        }
        a_plain.push(timed(sh(&plain, PLAIN_NO_CHANGE))?);
        check_pushed(&plain, &plain_remote, "no-change plain git")?;
    }

    let (mut b_brain, mut b_plain) = (Vec::new(), Vec::new());
    for r in 1..=runs {
        edit(&[&vault, &plain], &files, r, args.changed)?;
        exec(brain(&vault, &["sync"])?, &[0, 3])?;
        b_brain.push(timed(brain(&vault, &["git", "sync"])?)?);
        let what = format!("brain git sync of {} changed notes, run {r}", args.changed);
        let after = check_pushed(&vault, &remote, &what)?;
        check_changed(&vault, &head, &after, args.changed, &what)?;
        head = after;
        b_plain.push(timed(sh(&plain, PLAIN_CHANGED))?);
        let after = check_pushed(&plain, &plain_remote, "plain git commit+push")?;
        check_changed(&plain, &plain_head, &after, args.changed, "plain git")?;
        plain_head = after;
    }

    let no_change = figure(&a_brain, &a_plain);
    let changed = figure(&b_brain, &b_plain);
    let commands = json!({
        "initial": "brain --vault VAULT git init --remote REMOTE",
        "brain": "brain --vault VAULT git sync",
        "brain_untimed_before_changed": "brain --vault VAULT sync",
        "plain_no_change": format!("sh -c '{PLAIN_NO_CHANGE}'"),
        "plain_changed": format!("sh -c '{PLAIN_CHANGED}'"),
    });
    let result = json!({
        "bench": "git",
        "notes": files.len(),
        "changed": args.changed,
        "runs": runs,
        "git_version": git_version,
        "initial_commit_push_ms": ms(init),
        "no_change_sync": no_change,
        "changed_sync": changed,
        "commands": commands,
        "workdir": args.workdir.as_ref().map(|_| work.display().to_string()),
    });
    if json_out {
        out::json(&result)?;
        return Ok(0);
    }
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    out::line(format!(
        "git sync, {} notes, git {git_version}, {runs} runs each (median, max):",
        files.len()
    ))?;
    out::line(format!(
        "  initial commit+push (brain git init --remote)  {:>9.1} ms",
        ms(init)
    ))?;
    out::line(format!(
        "  {:<22} {:>22} {:>22} {:>7}",
        "figure", "brain ms", "plain git ms", "ratio"
    ))?;
    for (name, fig) in [
        ("no-change sync".to_string(), &no_change),
        (format!("{} changed notes", args.changed), &changed),
    ] {
        let cell =
            |s: &Value| format!("{:>9.1} (max {:>6.1})", f(&s["median_ms"]), f(&s["max_ms"]));
        out::line(format!(
            "  {name:<22} {:>22} {:>22} {:>6.2}x",
            cell(&fig["brain"]),
            cell(&fig["plain_git"]),
            f(&fig["ratio"])
        ))?;
    }
    out::line(
        "commands measured (VAULT: the brain vault; the plain clone has its own bare remote):",
    )?;
    for key in [
        "initial",
        "brain",
        "brain_untimed_before_changed",
        "plain_no_change",
        "plain_changed",
    ] {
        out::line(format!(
            "  {key:<30} {}",
            commands[key].as_str().unwrap_or_default()
        ))?;
    }
    if args.workdir.is_some() {
        out::line(format!("kept in {}", work.display()))?;
    }
    Ok(0)
}
