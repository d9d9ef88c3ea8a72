//! `brain jobs list|show|cancel|retry` and `brain status`: views of the queue, read from the
//! store so they show jobs run by any process.

use anyhow::{Result, bail};
use brain_api::{JobDetail, JobsRequest};
use brain_core::time::{format_iso, now_ms};
use brain_store::jobs::{BatchStatus, Job, JobState};
use serde_json::{Value, json};

use super::Vault;
use crate::cli::JobsCommand;
use crate::output::{self, clip};

/// A job as every interface shows it (the facade's form, with its ETA).
fn job_json(j: &Job) -> Value {
    brain_api::job_json(j)
}

/// A job's progress as one phrase ("120/300 Importing a.md", "Waiting for ..."), empty when it
/// has none; `jobs list`, `jobs show`, `status` and `serve`'s stopping line all use it.
pub(super) fn progress_text(j: &Job) -> String {
    match &j.progress {
        Some(p) => match p.total {
            Some(t) => format!("{}/{} {}", p.current, t, p.message),
            // A count with no total and nothing counted yet says nothing: leave it out.
            None if p.current == 0 => p.message.clone(),
            None => format!("{} {}", p.current, p.message),
        },
        None => String::new(),
    }
}

/// The column heads of [`row`], so a table explains itself.
const HEADER: &str = concat!(
    "JOB     TYPE             STATE      TRIES    SINCE                 ",
    "WHERE                             DETAIL"
);

/// "1 of 3": attempts made of those allowed.
fn tries(j: &Job) -> String {
    format!("{} of {}", j.attempts, j.max_attempts)
}

fn row(j: &Job) -> String {
    let eta = brain_api::eta_s(j)
        .map(|s| format!(" ETA {s}s"))
        .unwrap_or_default();
    let tail = match j.state {
        JobState::Failed => j.error.clone().unwrap_or_default(),
        JobState::Running => match brain_api::runner::stalled_text(j, now_ms()) {
            Some(stalled) => stalled,
            None => format!("{}{eta}", progress_text(j)),
        },
        _ => String::new(),
    };
    format!(
        "#{:<6} {:<16} {:<10} {:<8} {}  {:<33} {}",
        j.id,
        clip(&j.job_type, 16),
        j.state.as_str(),
        tries(j),
        format_iso(j.started_ms.unwrap_or(j.created_ms)),
        clip(&brain_api::worker_text(j), 33),
        clip(&tail, 80)
    )
    .trim_end()
    .to_string()
}

/// `brain jobs show` for a person: one labelled line per fact, JSON only where the job's own
/// input and result are.
fn describe(j: &Job, batch: Option<&BatchStatus>) -> Vec<String> {
    let mut lines = vec![format!(
        "Job #{}: {}, {} (attempt {} of at most {})",
        j.id,
        j.job_type,
        j.state.as_str(),
        j.attempts,
        j.max_attempts
    )];
    let mut field = |label: &str, value: String| lines.push(format!("  {label:<10} {value}"));
    field("queued", format_iso(j.created_ms));
    if j.state == JobState::Queued && j.run_at_ms > now_ms() {
        field("runs at", format_iso(j.run_at_ms));
    }
    if let Some(t) = j.started_ms {
        field("started", format_iso(t));
    }
    if let Some(t) = j.finished_ms {
        field("finished", format_iso(t));
    }
    // One worker line: who holds it, and whether that worker is gone or its lease lapsed.
    if let Some(r) = &j.replica {
        field(
            "replica",
            format!("{r} (only that folder's workers run it)"),
        );
    }
    match (&j.worker, brain_api::runner::stalled_text(j, now_ms())) {
        (Some(w), Some(stalled)) => field("worker", format!("{w}: {stalled}")),
        (Some(w), None) => field("worker", w.clone()),
        (None, Some(stalled)) => field("worker", stalled),
        (None, None) => {}
    }
    let progress = progress_text(j);
    if !progress.is_empty() {
        let eta = brain_api::eta_s(j)
            .map(|s| format!(" (ETA {s}s)"))
            .unwrap_or_default();
        field("progress", format!("{progress}{eta}"));
    }
    if j.cancel_requested && !j.state.is_finished() {
        // With its worker gone the worker line says when it ends; a live worker stops soon.
        if brain_api::runner::stalled_text(j, now_ms()).is_none() {
            field("cancel", "requested; it stops within a second".into());
        } else {
            field("cancel", "requested".into());
        }
    }
    match (&j.error, j.state) {
        // What an earlier attempt left ("...; retrying") is history once a later one
        // succeeded, or the job was cancelled before it retried.
        (Some(e), JobState::Succeeded | JobState::Cancelled) => {
            let e = e.strip_suffix("; retrying").unwrap_or(e);
            field("earlier", format!("an earlier attempt ended: {e}"))
        }
        (Some(e), _) => field("error", e.clone()),
        (None, _) => {}
    }
    if let Some(b) = batch {
        field(
            "batch",
            format!(
                "{} queued, {} running, {} succeeded, {} failed, {} cancelled",
                b.queued, b.running, b.succeeded, b.failed, b.cancelled
            ),
        );
    }
    field("input", cut_json(&j.input, "paths"));
    if let Some(r) = &j.result {
        // A batch child's result lists each of its notes.
        field("result", cut_json(r, "notes"));
    }
    lines
}

/// A job's input or result for a person: whole when short; a long one (an import of 8,000
/// paths, a batch child's 100 notes) cut, saying how much is left out (how many items of its
/// `list` field there are) and where to see it all.
fn cut_json(value: &Value, list: &str) -> String {
    const SHOWN: usize = 300;
    let text = value.to_string();
    if text.chars().count() <= SHOWN {
        return text;
    }
    let paths = value[list]
        .as_array()
        .map(|p| format!(" of {} {list}", p.len()))
        .unwrap_or_default();
    let head: String = text.chars().take(SHOWN).collect();
    format!(
        "{head}… ({} characters{paths}; `brain --json jobs show ID` prints it all)",
        text.chars().count()
    )
}

/// Dispatches `brain jobs`, each a call on the facade.
pub fn run(vault: &Vault, cmd: &JobsCommand, json: bool) -> Result<u8> {
    let brain = vault.facade()?;
    match cmd {
        JobsCommand::List { states, limit } => {
            let mut req = JobsRequest {
                limit: *limit,
                ..JobsRequest::default()
            };
            for s in states {
                match JobState::parse(s) {
                    Some(st) => req.states.push(st),
                    None => bail!(
                        "unknown state '{s}': use queued, running, succeeded, failed or cancelled"
                    ),
                }
            }
            let jobs = brain.jobs(&req)?;
            if json {
                return output::json(&jobs.iter().map(job_json).collect::<Vec<_>>()).map(|()| 0);
            }
            if jobs.is_empty() {
                output::line("No jobs.")?;
            } else {
                output::line(HEADER)?;
            }
            for j in &jobs {
                output::line(row(j))?;
            }
        }
        JobsCommand::Show { id } => {
            let JobDetail { job: j, batch } = brain.job_detail(*id)?;
            let mut doc = job_json(&j);
            if let Some(b) = &batch {
                doc["batch"] = json!(b);
            }
            let outcome = brain.batch_outcome(&j);
            if let Some(o) = &outcome {
                doc["batch_outcome"] = json!(o);
            }
            if json {
                return output::json(&doc).map(|()| 0);
            }
            for line in describe(&j, batch.as_ref()) {
                output::line(line)?;
            }
            // A batch's job is its marker: it ends `succeeded` once its children are queued,
            // whatever they did to the notes. The batch's own outcome is said beside it.
            if let Some(o) = &outcome {
                let note = o.note.strip_prefix("this").unwrap_or(&o.note);
                output::line(format!("  This{note}."))?;
            }
            if j.state == JobState::Queued
                && !brain.queue().registry().names().any(|t| t == j.job_type)
            {
                output::line(format!(
                    "  No plugin of this build runs {} jobs: it waits until a build that has \
                     one runs, or `brain jobs cancel {id}` removes it.",
                    j.job_type
                ))?;
            }
        }
        JobsCommand::Cancel { id } => {
            let state = brain.cancel(*id)?;
            if json {
                return output::json(&json!({"id": id, "state": state})).map(|()| 0);
            }
            let stalled = match state {
                JobState::Running => brain
                    .job(*id)
                    .ok()
                    .and_then(|j| brain_api::runner::stalled_text(&j, now_ms())),
                _ => None,
            };
            if let Some(stalled) = stalled {
                output::line(format!(
                    "Job #{id}: cancel requested. Nobody works on it now: it is {stalled}."
                ))?;
                return Ok(0);
            }
            let what = match state {
                JobState::Running => "cancel requested; it stops within a second",
                JobState::Cancelled => "cancelled",
                _ => "already finished; nothing to cancel",
            };
            output::line(format!("Job #{id}: {what}."))?;
        }
        JobsCommand::Retry { id } => {
            let j = brain.retry_job(*id)?;
            if json {
                return output::json(&job_json(&j)).map(|()| 0);
            }
            output::line(format!(
                "Job #{id} queued again; it runs when a worker is free (`brain sync` or `brain serve`)."
            ))?;
        }
    }
    Ok(0)
}

/// `brain status` when the store cannot be reached (a PostgreSQL server stopped or out of
/// reach): what the daemon of this folder recorded locally, since the store cannot answer.
/// Exits 1: the status of the store itself is unknown.
pub fn offline_status(
    cli_vault: Option<&std::path::Path>,
    error: &anyhow::Error,
    json: bool,
) -> Result<u8> {
    let paths = super::locate::vault_paths(cli_vault)?;
    let daemon = brain_api::daemon::daemon_pid(&paths.root);
    let record = daemon
        .and_then(|_| brain_api::daemon::offline::read_record(&paths.root))
        .filter(|r| r["pid"].as_u64() == daemon.map(u64::from));
    let said = crate::error_text(error);
    if json {
        output::json(&json!({
            "vault": paths.root,
            "store_reachable": false,
            "error": said,
            "daemon": record,
        }))?;
        return Ok(1);
    }
    output::line(format!(
        "{}: the store does not answer, so its notes and jobs cannot be shown: {said}",
        paths.root.display()
    ))?;
    let line = match (daemon, &record) {
        (Some(pid), Some(r)) if r["store"] == "offline" => {
            let since = r["offline_since_ms"].as_i64().unwrap_or_default();
            let waiting = r["pending_changes"].as_u64().unwrap_or(0);
            format!(
                "Daemon: pid {pid}, offline since {} ({}s): it goes on watching the files ({waiting} \
                 change(s) waiting) and catches up with the store when it answers again; \
                 nothing saved meanwhile is lost",
                format_iso(since),
                (now_ms() - since).max(0) / 1000
            )
        }
        (Some(pid), _) => format!(
            "Daemon: pid {pid} runs; it says offline within a few seconds and catches up when \
             the store answers again"
        ),
        (None, _) => "No daemon runs here: start `brain serve` to keep watching files while \
                      the store is away, or run `brain sync` once it answers"
            .to_string(),
    };
    output::line(line)?;
    Ok(1)
}

/// One folder of a shared store as `brain status` lists it: how far behind it is, whether its
/// sync is paused there, and whether its daemon runs (a daemon republishes every 20 s).
fn folder_state(r: &brain_store::ReplicaInfo, now_ms: i64) -> String {
    let mut parts = vec![match r.behind {
        0 => "in step".to_string(),
        n => format!("behind on {n} note(s) (new, changed or deleted)"),
    }];
    if r.sync_paused {
        parts.push(if r.this {
            "sync paused here (`brain sync resume` lifts it)".into()
        } else {
            "sync paused there (`brain sync resume` in that folder)".into()
        });
    }
    // On this machine a daemon killed without a word is told from /proc at once, not after
    // a minute of silence.
    let killed = r.daemon_process.and_then(|(pid, started)| {
        brain_jobs::liveness::worker_gone(&format!("pid{pid}-{started}@{}-0", r.host))
    });
    parts.push(match r.daemon_seen_ms {
        Some(_) if killed.is_some() => format!(
            "its daemon (pid {}) is gone without stopping: it catches up at its next `brain \
             sync` or `brain serve`",
            killed.unwrap_or_default()
        ),
        Some(at) if now_ms - at < brain_api::daemon::DAEMON_SEEN_WITHIN_MS => {
            "its daemon runs".into()
        }
        Some(at) => format!(
            "no daemon seen for {}: it catches up at its next `brain sync` or `brain serve`",
            age_text(now_ms - at)
        ),
        None => "no daemon: it catches up at its next `brain sync` or `brain serve`".into(),
    });
    parts.join("; ")
}

/// A duration in ms as a person reads it: `42 s`, `7 min`, `3 h`, `2 days`.
fn age_text(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..120 => format!("{s} s"),
        120..7_200 => format!("{} min", s / 60),
        7_200..172_800 => format!("{} h", s / 3_600),
        _ => format!("{} days", s / 86_400),
    }
}

/// `brain status`: operations running and recently finished, and the vault's counts.
pub fn status(vault: &Vault, json: bool) -> Result<u8> {
    let brain = vault.brain(vault.plugged()?, brain_api::Workers::Never);
    // A [[schedule]] `brain serve` would refuse is said here, where the user looks first.
    let schedule_problem = super::schedules::config_problem(vault, brain.queue());
    if json {
        let mut doc = brain.status()?;
        doc["schedule_error"] = json!(schedule_problem);
        doc["store"] = json!(store_shown(vault));
        doc["replicas"] = json!(vault.store.replicas()?);
        return output::json(&doc).map(|()| 0);
    }
    let report = brain.status_report()?;
    let (notes, conflicts) = (report.notes, report.open_conflicts);
    let (daemon, depth, paused) = (report.daemon, report.queue, report.paused);
    let (active, recent) = (report.active, report.recent);
    output::line(format!(
        "{}: {notes} notes, {conflicts} open conflict(s)",
        vault.paths.root.display()
    ))?;
    output::line(format!("  store: {}", store_shown(vault)))?;
    let replicas = vault.store.replicas()?;
    if replicas.len() > 1 {
        output::line(format!("  folders on this store ({}):", replicas.len()))?;
        let now = brain_core::time::now_ms();
        for r in &replicas {
            let this = if r.this { " (this folder)" } else { "" };
            output::line(format!(
                "    {} {}:{}{this}: {}",
                r.id,
                r.host,
                r.root,
                folder_state(r, now)
            ))?;
        }
    }
    if conflicts > 0 {
        output::line(format!(
            "  {conflicts} conflict(s) wait for you (a note changed on both sides, or two files \
             that are one on macOS and Windows); nothing was lost, see `brain conflicts list`"
        ))?;
    }
    if !report.unwritten.is_empty() {
        let n = report.unwritten.len();
        output::line(if n == 1 {
            "1 note not written to its file (its edit is kept in the store):".to_string()
        } else {
            format!("{n} notes not written to their files (each edit is kept in the store):")
        })?;
        for u in &report.unwritten {
            output::line(format!("  {}", u.reason))?;
        }
    }
    output::line(daemon_line(daemon.as_ref()))?;
    if !depth.is_empty() {
        let parts: Vec<String> = depth
            .iter()
            .map(|(t, c)| format!("{t} {} queued, {} running", c["queued"], c["running"]))
            .collect();
        output::line(format!("Queue: {}", parts.join("; ")))?;
    }
    for b in &report.batches {
        output::line(format!(
            "Batch {} ({}): {} on {} notes, {} done ({} changed, {} failed): `brain batch \
             status {}`",
            b.batch_id, b.state, b.op, b.total, b.done, b.changed, b.failed, b.batch_id
        ))?;
    }
    if !report.unhandled.is_empty() {
        output::line(format!(
            "Waiting for a plugin this build does not have: {} (queued by another build or a \
             plugin no longer loaded; nothing here runs them: `brain jobs list --state queued` \
             shows them, `brain jobs cancel ID` removes one)",
            report.unhandled.join(", ")
        ))?;
    }
    if !paused.is_empty() {
        output::line(format!(
            "Paused: {} (changes are queued; `brain sync resume` applies them)",
            paused.join(", ")
        ))?;
    }
    output::line(if active.is_empty() {
        "Nothing running."
    } else {
        "Running and queued:"
    })?;
    if !active.is_empty() {
        output::line(format!("  {HEADER}"))?;
    }
    for j in &active {
        output::line(format!("  {}", row(j)))?;
        // A job shown running whose worker died says so, under its row (not clipped).
        if let Some(stalled) = brain_api::runner::stalled_text(j, now_ms()) {
            output::line(format!("          #{} is {stalled}", j.id))?;
        }
    }
    for line in super::schedules::status_lines(&report.schedules, daemon.is_some()) {
        output::line(line)?;
    }
    if let Some(problem) = schedule_problem {
        output::line(format!("Schedules: {problem}"))?;
    }
    if !recent.is_empty() {
        output::line("Recently finished:")?;
        output::line(format!("  {HEADER}"))?;
        for j in &recent {
            output::line(format!("  {}", row(j)))?;
        }
    }
    Ok(0)
}

/// Where the vault's brain is, as people may see it: the SQLite file, or the PostgreSQL URL
/// (which never holds a password: one is refused before it is written).
fn store_shown(vault: &Vault) -> String {
    match (&vault.config.store.backend, &vault.config.store.url) {
        (brain_core::config::StoreBackend::Postgres, Some(url)) => format!(
            "{} (PostgreSQL)",
            brain_store_postgres::connect::without_password(url)
        ),
        _ => format!("{} (SQLite)", vault.paths.database().display()),
    }
}

/// One line on the daemon: whether it runs, how it watches, its last event and error.
fn daemon_line(daemon: Option<&Value>) -> String {
    let Some(d) = daemon else {
        return "No daemon: start `brain serve` to sync changes as they happen \
                (until then `brain sync` picks them up)."
            .into();
    };
    let w = &d["watcher"];
    let when = |v: &Value| v.as_i64().map(format_iso).unwrap_or_else(|| "never".into());
    let mut line = format!(
        "Daemon: pid {}, {}; watcher {}, {} change(s) pending, last event {}",
        d["pid"],
        d["state"].as_str().unwrap_or("starting"),
        w["mode"].as_str().unwrap_or("not running"),
        w["pending_paths"].as_u64().unwrap_or(0),
        when(&w["last_event_ms"]),
    );
    if w["fell_back"].as_bool() == Some(true) {
        line.push_str(&format!(
            " (fell back from native events: {})",
            w["fallback_reason"].as_str().unwrap_or("unknown reason")
        ));
    }
    if let Some(err) = w["last_error"]["message"].as_str() {
        line.push_str(&format!(
            "; last error at {}: {err}",
            when(&w["last_error"]["at_ms"])
        ));
    }
    if let Some(addr) = d["http"].as_str() {
        line.push_str(&format!("; MCP at http://{addr}/mcp"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_input_or_result_is_cut_saying_what_is_left_out() {
        assert_eq!(
            cut_json(&json!({"mode": "full"}), "paths"),
            r#"{"mode":"full"}"#
        );
        let paths: Vec<String> = (0..8_000).map(|i| format!("notes/n{i}.md")).collect();
        let text = cut_json(&json!({ "paths": paths }), "paths");
        assert!(text.chars().count() < 450, "{}", text.len());
        assert!(
            text.ends_with("of 8000 paths; `brain --json jobs show ID` prints it all)"),
            "{text}"
        );
        // A batch child's result: one entry per note.
        let notes: Vec<Value> = (0..100)
            .map(|i| json!({"outcome": "changed", "entity": format!("note/n{i}")}))
            .collect();
        let text = cut_json(&json!({ "notes": notes, "not_done": [] }), "notes");
        assert!(text.chars().count() < 450, "{}", text.len());
        assert!(text.contains("of 100 notes;"), "{text}");
    }
}
