//! `brain git init|status|sync|pull|push|log`.
//!
//! Init, sync, pull and push queue a `git` job (joining an identical one already queued) and
//! follow it: with `brain serve` running, its workers run it; without, this process does. A try
//! that failed on the network is not waited out here: the command says so and leaves the retry
//! to `brain serve`, or to the next `brain git sync` (the commits made are kept either way).
//! Status and log only read.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use brain_core::time::format_iso;
use brain_core::{EntityRef, PathMapper};
use brain_git::jobs::{STATE_KEY, git_request, init_request};
use brain_git::{Git, GitOp, GitReport, Repo};
use brain_jobs::FollowEvent;
use brain_store::Store;
use brain_store::jobs::{Job, JobState};
use serde_json::{Value, json};

use super::{EXIT_FAILED, EXIT_REFUSED, Vault};
use crate::cli::{GitCommand, GitInitArgs, GitLogArgs};
use crate::output;

/// Dispatches `brain git ...`.
pub fn run(vault_arg: Option<&std::path::Path>, cmd: &GitCommand, json: bool) -> Result<u8> {
    if let GitCommand::Init(args) = cmd {
        return init(vault_arg, args, json);
    }
    let vault = Vault::open(vault_arg)?;
    match cmd {
        GitCommand::Init(_) => unreachable!("handled above"),
        GitCommand::Status => status(&vault, json),
        GitCommand::Sync { allow_mass_delete } => {
            let request = if *allow_mass_delete {
                brain_git::jobs::sync_allowing_mass_delete()
            } else {
                git_request(GitOp::Sync)
            };
            operate(&vault, request, "sync", json)
        }
        GitCommand::Pull => operate(&vault, git_request(GitOp::Pull), "pull", json),
        GitCommand::Push => operate(&vault, git_request(GitOp::Push), "push", json),
        GitCommand::Log(args) => log(&vault, args, json),
    }
}

fn init(vault_arg: Option<&std::path::Path>, args: &GitInitArgs, json: bool) -> Result<u8> {
    super::init::create(vault_arg, None)?;
    let vault = Vault::open(vault_arg)?;
    let remote = args.remote.clone().unwrap_or_default();
    if remote.starts_with("http://") || remote.starts_with("https://") {
        let after_scheme = remote.split_once("://").map_or("", |(_, rest)| rest);
        if after_scheme.split('/').next().unwrap_or("").contains('@') {
            bail!(
                "the remote URL holds a user, password or token: remove it from the URL and set \
                 BRAIN_GIT_TOKEN (or git.token) instead; brains sends it as a header and never \
                 writes it to .git/config"
            );
        }
    }
    let code = operate(&vault, init_request(&remote, &args.branch), "init", json)?;
    if code == 0 {
        write_git_config(&vault, &remote, &args.branch)?;
        if !json {
            output::line(format!(
                "Git sync is on (git.enabled in {}): `brain serve` commits, pulls and pushes on \
                 its own.",
                vault.paths.config_file().display()
            ))?;
        }
    }
    Ok(code)
}

/// Sets `[git] enabled`, `remote` and `branch` in the vault's config.toml, keeping the rest of
/// the file (comments, order) as the user wrote it.
fn write_git_config(vault: &Vault, remote: &str, branch: &str) -> Result<()> {
    let path = vault.paths.config_file();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("cannot parse {}", path.display()))?;
    if !doc.contains_table("git") {
        doc["git"] = toml_edit::table();
    }
    doc["git"]["enabled"] = toml_edit::value(true);
    doc["git"]["remote"] = toml_edit::value(remote);
    doc["git"]["branch"] = toml_edit::value(branch);
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, doc.to_string())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Queues `request`, follows the job, prints its outcome.
fn operate(
    vault: &Vault,
    request: brain_jobs::EnqueueRequest,
    what: &str,
    json: bool,
) -> Result<u8> {
    let plugged = vault.plugged()?;
    let queue = plugged.queue.clone();
    let id = queue.enqueue(request)?.id();
    // This command says how the job ended, each failed try, and the conflicts it kept.
    crate::logging::command_reports_job(id);
    crate::logging::command_reports_every_try();
    crate::logging::command_reports_file_outcomes();
    let daemon = super::daemon::running(&vault.paths);
    // Who runs it is the facade's policy (as for `brain sync`): the daemon, or this process
    // when no daemon holds the vault, taking it over if the daemon stops mid-job.
    let brain = vault.brain(
        plugged.clone(),
        brain_api::Workers::OnDemand(vault.pool_config()),
    );
    let job = follow(&brain, id, what, daemon.is_some());
    brain.shutdown();
    let job = job?;
    match job.state {
        JobState::Succeeded => {
            let value = job.result.clone().unwrap_or_default();
            let report: GitReport = serde_json::from_value(value.clone())
                .with_context(|| format!("git job #{id} returned an unexpected result"))?;
            if json {
                let mut doc = value;
                doc["job"] = json!(id);
                output::json(&doc)?;
            } else {
                print_report(what, &report)?;
            }
            warn_brainignored(&report);
            Ok(0)
        }
        state => {
            let error = job
                .error
                .clone()
                .unwrap_or_else(|| "no error recorded".into());
            let retrying = state == JobState::Queued;
            // The mass-delete refusal has its own documented code (as in `brain sync`).
            let code = if brain_git::sync::is_mass_delete_refusal(&error) {
                EXIT_REFUSED
            } else {
                EXIT_FAILED
            };
            if retrying && daemon.is_none() {
                // Nobody would run the retry before the next command; that command retries.
                let _ = queue.cancel(id);
            }
            if json {
                output::json(
                    &json!({"job": id, "error": error, "retrying": retrying && daemon.is_some(), "exit_code": code}),
                )?;
            }
            eprintln!("error: git {what} (job #{id}) failed: {error}");
            if retrying {
                eprintln!(
                    "{}",
                    // The job is queued again with attempts left; without a daemon it was
                    // just cancelled, so no retry is promised.
                    if daemon.is_some() {
                        "brain serve retries it with backoff.".to_owned()
                    } else if vault.config.git.enabled {
                        format!(
                            "Nothing retries it now: run `brain git {what}` again once the remote \
                             is reachable, or run `brain serve`, which syncs with it on its own \
                             (git.enabled)."
                        )
                    } else {
                        format!(
                            "Nothing retries it now: run `brain git {what}` again once the remote \
                             is reachable."
                        )
                    }
                );
            }
            Ok(code)
        }
    }
}

/// Waits for the job to finish, or for its first failed try (then it is queued again with an
/// error recorded and a backoff), saying in words when its worker stopped and when it was
/// taken over.
///
/// A job queued again after its worker died (a killed `brain git sync`) is not a failed try:
/// the stream reports it as taken over, and following goes on.
fn follow(brain: &brain_api::Brain, id: i64, what: &str, daemon_seen: bool) -> Result<Job> {
    let mut following = brain.follow(id);
    loop {
        let event = following.next_within(Duration::from_millis(100))?;
        if following.started_workers() && daemon_seen {
            eprintln!("No daemon serves this vault any more; running git job #{id} here.");
        }
        match event {
            Some(FollowEvent::Finished(job)) => return Ok(*job),
            Some(FollowEvent::Retrying { .. }) => {
                if let Some(job) = following.job() {
                    return Ok(job.clone());
                }
            }
            Some(FollowEvent::WorkerGone {
                pid, lease_left_ms, ..
            }) => eprintln!(
                "Git {what} (job #{id}): its worker (pid {pid}) is gone; it is taken over when \
                 its lease lapses, within {}s.",
                (lease_left_ms.max(0) + 999) / 1000
            ),
            Some(FollowEvent::LeaseLapsed { lapsed_ms, .. }) => eprintln!(
                "Git {what} (job #{id}): its worker stopped responding (lease lapsed {}s ago).",
                (lapsed_ms.max(0) + 999) / 1000
            ),
            Some(FollowEvent::TakenOver {
                attempt,
                max_attempts,
                ..
            }) => eprintln!(
                "Git {what} (job #{id}) taken over {} (attempt {attempt} of {max_attempts}).",
                if brain.runs_jobs_here() {
                    "by this command"
                } else {
                    "by another worker"
                }
            ),
            Some(FollowEvent::Progress(_)) | None => {}
        }
    }
}

/// Warns on stderr (in every output mode) about tracked files a `.brainignore` now excludes:
/// git sync leaves them as they are in git, and says so once.
fn warn_brainignored(r: &GitReport) {
    if !r.brainignored_tracked.is_empty() {
        eprintln!(
            "warning: {} file(s) git already tracks are excluded by .brainignore: {}. Git sync \
             leaves them as they are in git (it never deletes them there, which would delete \
             them on every other clone) and does not commit their changes. To version such a \
             file anyway, commit it yourself (`git add PATH && git commit`); git sync pushes \
             that commit. This warning is not repeated.",
            r.brainignored_tracked.len(),
            r.brainignored_tracked.join(", ")
        );
    }
}

fn print_report(what: &str, r: &GitReport) -> Result<()> {
    let mut parts = Vec::new();
    if r.imported_local > 0 {
        parts.push(format!(
            "{} edited note(s) imported from their files",
            r.imported_local
        ));
    }
    if !r.commits.is_empty() {
        parts.push(format!("{} commit(s) made", r.commits.len()));
    }
    if r.pulled {
        parts.push(format!(
            "pulled {} changed file(s), {} note(s) imported",
            r.changed_paths, r.imported
        ));
    }
    if r.pushed {
        parts.push("pushed".into());
    }
    if parts.is_empty() {
        // Not "nothing to do" while notes wait, paused, to be written: they are not committed.
        parts.push(if r.waiting_for_resume > 0 {
            "nothing committed".into()
        } else {
            "nothing to do".into()
        });
    }
    output::line(format!("Git {what}: {}.", parts.join(", ")))?;
    if r.waiting_for_resume > 0 {
        output::line(format!(
            "{} note(s) are waiting to be written to their files because directory sync is \
             paused (`brain sync pause`), so they are not in any commit: `brain sync resume` \
             lets them be written, and the next `brain git sync` commits them.",
            r.waiting_for_resume
        ))?;
    }
    if !r.remote {
        output::line(
            "No remote is set: the history is kept in this vault only (`brain git init --remote URL`).",
        )?;
    } else if r.ahead > 0 || r.behind > 0 {
        output::line(format!(
            "{} commit(s) ahead, {} behind the remote.",
            r.ahead, r.behind
        ))?;
    }
    if !r.kept_both.is_empty() {
        output::line(format!(
            "{} file(s) changed on both sides; both versions kept (see `brain conflicts list`):",
            r.kept_both.len()
        ))?;
        for k in &r.kept_both {
            output::line(format!("  {}", k.detail))?;
        }
    }
    Ok(())
}

fn repo(vault: &Vault) -> Result<Option<Repo>> {
    let git = Git::locate()?;
    Ok(Repo::open(git, &vault.paths.root)?)
}

/// `brain git status`.
fn status(vault: &Vault, json: bool) -> Result<u8> {
    let Some(repo) = repo(vault)? else {
        if json {
            output::json(&json!({"repository": false}))?;
        } else {
            output::line("Not a git repository yet: run `brain git init --remote URL`.")?;
        }
        return Ok(0);
    };
    let st = repo.status()?;
    let remote = repo.remote_url()?;
    let last = Store::runtime_state(vault.store.as_ref(), STATE_KEY)?.map(|s| s.value);
    let conflicts = vault.store.conflicts(false)?.len();
    let queued = vault
        .store
        .job_counts()?
        .iter()
        .filter(|c| c.job_type == brain_git::jobs::GIT_JOB && !c.state.is_finished())
        .map(|c| c.count)
        .sum::<u64>();
    let changed: Vec<&str> = st.changed.iter().map(|c| c.path.as_str()).collect();
    let brainignored: Vec<&str> = st.brainignored.iter().map(|c| c.path.as_str()).collect();
    if json {
        return output::json(&json!({
            "repository": true,
            "branch": st.branch,
            "head": st.head,
            "upstream": st.upstream,
            "remote": remote,
            "ahead": st.ahead,
            "behind": st.behind,
            "changed": changed,
            "brainignored": brainignored,
            "unmerged": st.unmerged,
            "merging": st.merging,
            "unresolved_conflicts": conflicts,
            "git_jobs_pending": queued,
            "enabled": vault.config.git.enabled,
            "last": last,
        }))
        .map(|()| 0);
    }
    output::line(format!(
        "Branch {} ({}), remote {}",
        st.branch.as_deref().unwrap_or("(detached)"),
        st.head
            .as_deref()
            .map_or("no commits yet", |h| &h[..h.len().min(10)]),
        remote.as_deref().unwrap_or("none")
    ))?;
    if let Some(up) = &st.upstream {
        output::line(format!(
            "{} ahead, {} behind {up} (as of the last fetch)",
            st.ahead, st.behind
        ))?;
    }
    if changed.is_empty() {
        output::line("No uncommitted changes.")?;
    } else {
        output::line(format!("{} uncommitted change(s):", changed.len()))?;
        for p in changed.iter().take(10) {
            output::line(format!("  {p}"))?;
        }
        if changed.len() > 10 {
            output::line(format!("  ... and {} more", changed.len() - 10))?;
        }
    }
    if !brainignored.is_empty() {
        output::line(format!(
            "{} changed file(s) excluded by .brainignore are not committed by git sync (commit \
             one yourself with `git add PATH && git commit` to version it anyway); if the \
             remote changes one that is edited here, git sync keeps this version apart as a \
             conflict copy (see `brain conflicts list`) and takes the remote's.",
            brainignored.len()
        ))?;
    }
    if st.merging || !st.unmerged.is_empty() {
        output::line(format!(
            "A merge is in progress ({} unmerged file(s)): auto-commit is refused until it is \
             concluded (`git commit`) or aborted (`git merge --abort`).",
            st.unmerged.len()
        ))?;
    }
    match &last {
        Some(doc) => output::line(last_line(doc))?,
        None => output::line("No git job has run yet.")?,
    }
    if conflicts > 0 {
        output::line(format!(
            "{conflicts} unresolved conflict(s): see `brain conflicts list`."
        ))?;
    }
    output::line(format!(
        "Automatic git sync in `brain serve`: {}{}",
        if vault.config.git.enabled {
            "on"
        } else {
            "off (git.enabled)"
        },
        if queued > 0 {
            format!("; {queued} git job(s) queued or running")
        } else {
            String::new()
        }
    ))?;
    Ok(0)
}

fn last_line(doc: &Value) -> String {
    let when = |key: &str| doc.get(key).and_then(Value::as_i64).map(format_iso);
    let op = doc.get("op").and_then(Value::as_str).unwrap_or("?");
    let mut line = match doc.get("ok").and_then(Value::as_bool) {
        Some(true) => format!(
            "Last git {op}: succeeded at {}",
            when("at_ms").unwrap_or_default()
        ),
        _ => format!(
            "Last git {op}: FAILED at {}: {}",
            when("at_ms").unwrap_or_default(),
            doc.get("error").and_then(Value::as_str).unwrap_or("")
        ),
    };
    if let Some(push) = when("last_push_ms") {
        line.push_str(&format!("; last push {push}"));
    }
    line
}

/// `brain git log [TYPE/ID]`.
fn log(vault: &Vault, args: &GitLogArgs, json: bool) -> Result<u8> {
    let Some(repo) = repo(vault)? else {
        bail!("not a git repository yet: run `brain git init --remote URL`");
    };
    if repo.head()?.is_none() {
        if json {
            output::json(&json!([]))?;
        } else {
            output::line("No commits yet.")?;
        }
        return Ok(0);
    }
    let path = match &args.entity {
        Some(text) => {
            let r: EntityRef = text
                .parse()
                .with_context(|| format!("'{text}' is not TYPE/ID"))?;
            let mapper = PathMapper::new(vault.config.vault.entity_types.iter().cloned())?;
            Some(mapper.to_path(&r)?)
        }
        None => None,
    };
    let limit = format!("-n{}", args.limit.max(1));
    let mut git_args = vec![
        "log",
        "--no-color",
        "--format=%H%x1f%an%x1f%aI%x1f%s%x1e",
        &limit,
    ];
    if let Some(p) = &path {
        git_args.extend(["--follow", "--", p]);
    }
    let out = repo
        .git()
        .run(repo.root(), &git_args, &brain_git::RunOptions::default())?;
    let entries: Vec<Value> = out
        .stdout
        .split('\u{1e}')
        .filter_map(|rec| {
            let mut f = rec.trim_start_matches('\n').split('\u{1f}');
            Some(json!({
                "commit": f.next().filter(|c| !c.is_empty())?,
                "author": f.next()?,
                "date": f.next()?,
                "subject": f.next()?,
            }))
        })
        .collect();
    if json {
        return output::json(&entries).map(|()| 0);
    }
    if entries.is_empty() {
        output::line(match &path {
            Some(p) => format!("No commits touch {p}."),
            None => "No commits.".into(),
        })?;
    }
    for e in &entries {
        let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
        output::line(format!(
            "{}  {}  {}  {}",
            &s("commit")[..10.min(s("commit").len())],
            s("date"),
            s("author"),
            s("subject")
        ))?;
    }
    Ok(0)
}
