//! `brain sync`: queue a `directory-sync` job (or join the one already queued or running) and
//! follow it (`Brain::follow`) with a progress bar per phase. With no daemon holding the vault,
//! this process runs a worker itself (the facade's runner policy), and takes the job over if
//! the worker running it dies. Ctrl-C cancels a job this command owns (it queued it, or took it
//! over) cleanly, keeping the work done so far; a command that only follows someone else's sync
//! leaves it running. A sync that ran out of attempts because its worker kept dying is started
//! afresh, once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use brain_jobs::{FollowEvent, Queue};
use brain_store::jobs::{Enqueued, Job, JobFilter, JobState, LEASE_EXPIRED_LAST};
use brain_sync::SyncReport;
use brain_sync::jobs::DIRECTORY_SYNC;
use serde_json::json;

use super::work::{spawn_background_worker, this_replica};
use super::{EXIT_CANCELLED, EXIT_REFUSED, EXIT_SKIPPED, Vault};
use crate::cli::{SyncAction, SyncArgs};
use crate::{output, progress};

/// `brain sync pause|resume`, through the facade.
fn pause_or_resume(vault: &Vault, action: &SyncAction, json: bool) -> Result<u8> {
    let brain = vault.facade()?;
    let was_paused = !brain.paused_types()?.is_empty();
    let brain_api::SyncPause {
        paused,
        queued_jobs: waiting,
    } = match action {
        SyncAction::Pause => brain.pause_sync()?,
        SyncAction::Resume => brain.resume_sync()?,
    };
    if json {
        return output::json(&json!({"paused": paused, "queued_jobs": waiting})).map(|()| 0);
    }
    let others = vault.store.replicas()?.iter().filter(|r| !r.this).count();
    let others = match others {
        0 => String::new(),
        n => format!(" The {n} other folder(s) on this store go on syncing."),
    };
    output::line(if !paused && !was_paused {
        "Directory sync was not paused in this folder: nothing to resume (a pause holds only \
         the folder it was made in; `brain status` there says so)."
            .to_string()
    } else if paused {
        format!(
            "Directory sync paused in this folder: file changes and note writes are queued \
             ({waiting} job(s) waiting) and applied on `brain sync resume` here.{others}"
        )
    } else if super::daemon::running(&vault.paths).is_some() {
        format!("Directory sync resumed: `brain serve` runs the {waiting} queued job(s) now.")
    } else {
        format!(
            "Directory sync resumed: {waiting} queued job(s) run at the next `brain sync` (or \
             start `brain serve`, which runs them as they come)."
        )
    })?;
    Ok(0)
}

/// Queues (or joins) a sync and follows it to the end.
pub fn run(vault: &Vault, args: &SyncArgs, json: bool) -> Result<u8> {
    if let Some(action) = &args.action {
        return pause_or_resume(vault, action, json);
    }
    if vault
        .store
        .paused_types()?
        .iter()
        .any(|t| t == DIRECTORY_SYNC)
    {
        bail!(
            "directory sync is paused (`brain sync pause`), so this sync would wait: run \
             `brain sync resume` first"
        );
    }
    let plugged = vault.plugged()?;
    let queue = plugged.queue.clone();
    // With a daemon serving the vault, its workers run the job; this command only follows.
    let daemon = super::daemon::running(&vault.paths);
    let mode = if args.import_only {
        "import-only"
    } else if args.export_only {
        "export-only"
    } else {
        "full"
    };
    // One sync of a vault at a time: a second `brain sync` joins the queued or running one,
    // but only one asking for the same thing, so `--allow-mass-delete` or a one-way mode is
    // never dropped by joining a plain sync.
    let request = brain_sync::jobs::sync_request(mode, args.allow_mass_delete);
    let enqueued = queue.enqueue(request.clone())?;
    let first_id = enqueued.id();
    let joined = matches!(enqueued, Enqueued::Existing(_));
    if args.detach {
        if daemon.is_none() {
            spawn_background_worker(vault)?;
        }
        if json {
            output::json(&json!({"job": first_id, "joined": joined}))?;
        } else {
            output::line(format!(
                "Sync job #{first_id} {}; follow it with `brain status` or `brain jobs show {first_id}`.",
                if joined {
                    "was already queued"
                } else {
                    "queued"
                }
            ))?;
        }
        return Ok(0);
    }
    if joined {
        eprintln!("Joining sync job #{first_id}, already queued or running.");
    }
    crate::logging::command_reports_job(first_id);
    if mode != "import-only" {
        crate::logging::command_reports_file_outcomes();
    }

    // What Ctrl-C does depends on whose job it is, which the follower decides when it comes:
    // the first one cancels a job this command owns (it queued it, or took it over and runs
    // it) cleanly; the first one of a command that only follows someone else's job leaves at
    // once, and so does a second one: the job's lease expires and whoever still wants it takes
    // it over, so nothing is lost.
    let followed_id = Arc::new(AtomicI64::new(first_id));
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let (flag, id) = (interrupted.clone(), followed_id.clone());
        // A second handler cannot be installed in one process; that only matters in tests.
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                leave(id.load(Ordering::SeqCst));
            }
        });
    }
    if let Some(pid) = daemon {
        tracing::info!(
            pid,
            job = first_id,
            "brain serve runs the sync; following it"
        );
    }
    // Who runs the job is the facade's policy: the daemon, or this process when no daemon holds
    // the vault (started while following, so no progress is missed, and again if the daemon
    // stops or the worker running the job dies).
    let brain = vault.brain(
        plugged.clone(),
        brain_api::Workers::OnDemand(vault.pool_config()),
    );
    let mut view = progress::JobView::for_stderr(false);
    let mut id = first_id;
    let mut seen = Seen {
        joined,
        ..Seen::default()
    };
    let mut owns = !joined;
    let followed = loop {
        let signals = Signals {
            interrupted: &interrupted,
            owns,
        };
        let job = match follow(&brain, id, daemon.is_some(), &mut view, signals, &mut seen) {
            Ok(job) => job,
            Err(e) => break Err(e),
        };
        // A job whose worker stopped on its last attempt failed through no fault of the sync:
        // the person asked for a sync, so start a fresh one (once) instead of failing.
        if job.state == JobState::Failed
            && job.error.as_deref() == Some(LEASE_EXPIRED_LAST)
            && !seen.restarted
            && !interrupted.load(Ordering::SeqCst)
        {
            let fresh = queue.enqueue(request.clone())?;
            eprintln!(
                "Sync job #{id} ran out of attempts (its worker stopped responding on the last \
                 one); what it imported is kept. Starting sync job #{} to finish the work.",
                fresh.id()
            );
            id = fresh.id();
            followed_id.store(id, Ordering::SeqCst);
            owns = !matches!(fresh, Enqueued::Existing(_));
            seen.restarted = true;
            continue;
        }
        break Ok(job);
    };
    if brain.runs_jobs_here() {
        if followed.is_ok() && !interrupted.load(Ordering::SeqCst) {
            // Other jobs due now (exports queued by `brain put`) run before this worker leaves.
            drain(vault, &queue, Duration::from_secs(60));
        }
        brain.shutdown();
    }
    let job = followed?;
    finish(&job, json, &seen)
}

/// What happened to the followed job along the way, for the final report.
#[derive(Debug, Default)]
struct Seen {
    /// This command joined a sync someone else had queued.
    joined: bool,
    /// The job was taken over after its worker stopped (by this command or another worker).
    taken_over: bool,
    /// The first job ran out of attempts and this command started a fresh one.
    restarted: bool,
}

/// What the follower reads: Ctrl-C was pressed; this command queued the job it follows.
#[derive(Clone, Copy)]
struct Signals<'a> {
    interrupted: &'a AtomicBool,
    owns: bool,
}

/// Leaves at once, the job left to whoever runs it (its lease lapses if that was this process).
fn leave(id: i64) -> ! {
    eprintln!("Stopped following sync job #{id}; it is kept in the queue.");
    std::process::exit(i32::from(EXIT_CANCELLED));
}

/// Follows the job to its end, drawing its progress on `view` and saying in words when its
/// worker stopped, when this command runs it because the daemon it `daemon_seen` is gone, and
/// when it was taken over. Once Ctrl-C was pressed it asks the queue to cancel the job if this
/// command owns it (queued it, or runs it now), and leaves it to its owner otherwise.
fn follow(
    brain: &brain_api::Brain,
    id: i64,
    daemon_seen: bool,
    view: &mut progress::JobView,
    signals: Signals<'_>,
    seen: &mut Seen,
) -> Result<Job> {
    let mut following = brain.follow(id);
    let mut cancel_sent = false;
    loop {
        let event = following.next_within(Duration::from_millis(50))?;
        if following.started_workers() && daemon_seen {
            view.pause();
            eprintln!("No daemon serves this vault any more; running sync job #{id} here.");
        }
        match event {
            Some(FollowEvent::Progress(p)) => view.show(&p),
            Some(FollowEvent::LeaseLapsed { lapsed_ms, .. }) => {
                view.pause();
                eprintln!(
                    "Sync job #{id}: its worker stopped responding (lease lapsed {}s ago).",
                    (lapsed_ms.max(0) + 999) / 1000
                );
            }
            Some(FollowEvent::TakenOver {
                attempt,
                max_attempts,
                ..
            }) => {
                view.pause();
                seen.taken_over = true;
                eprintln!(
                    "Sync job #{id} taken over {} (attempt {attempt} of {max_attempts}): what \
                     the stopped attempt imported is kept, and the sync goes on from there.",
                    if brain.runs_jobs_here() {
                        "by this command"
                    } else {
                        "by another worker"
                    }
                );
            }
            Some(FollowEvent::WorkerGone {
                pid, lease_left_ms, ..
            }) => {
                view.pause();
                eprintln!(
                    "Sync job #{id}: its worker (pid {pid}) is gone; it is taken over when its \
                     lease lapses, within {}s.",
                    (lease_left_ms.max(0) + 999) / 1000
                );
            }
            // The executor's log says why an attempt failed; the sync goes on with the retry.
            Some(FollowEvent::Retrying { .. }) | None => {}
            Some(FollowEvent::Finished(job)) => {
                view.finish();
                return Ok(*job);
            }
        }
        if signals.interrupted.load(Ordering::SeqCst) && !cancel_sent {
            // Whose it is now, from the job's row as it is now: a command that joined owns the
            // job once one of its workers runs it.
            if !signals.owns && !following.runs_it_here_now()? {
                view.pause();
                leave(id);
            }
            brain.cancel_job(id)?;
            cancel_sent = true;
        }
    }
}

/// Whether a job this process can run is running, or queued (and due, unless
/// `include_future`). Jobs of types this binary does not know are someone else's.
pub(super) fn busy(vault: &Vault, queue: &Queue, include_future: bool) -> Result<bool> {
    let now = brain_core::time::now_ms();
    // Paused jobs wait for `brain sync resume`, not for this worker.
    let paused = vault.store.paused_types()?;
    for job_type in queue.registry().names() {
        if paused.iter().any(|p| p == job_type) {
            continue;
        }
        let filter = JobFilter {
            states: vec![JobState::Queued, JobState::Running],
            job_type: Some(job_type.to_string()),
            limit: 100,
            ..JobFilter::default()
        };
        let jobs = vault.store.list_jobs(&filter)?;
        let mine = this_replica(vault.store.as_ref());
        if jobs
            .iter()
            .filter(|j| mine(j))
            .any(|j| j.state == JobState::Running || include_future || j.run_at_ms <= now)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Waits until no job this process can run is due or running, or `limit` passes.
fn drain(vault: &Vault, queue: &Queue, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        match busy(vault, queue, false) {
            Ok(true) => std::thread::sleep(Duration::from_millis(10)),
            _ => return,
        }
    }
}

/// Prints how the job ended and picks the exit code.
fn finish(job: &Job, json: bool, seen: &Seen) -> Result<u8> {
    match job.state {
        JobState::Succeeded => {
            let value = job.result.clone().unwrap_or_default();
            let report: SyncReport = serde_json::from_value(value.clone())
                .with_context(|| format!("job #{} returned an unexpected result", job.id))?;
            if json {
                let mut doc = value;
                doc["job"] = json!(job.id);
                doc["joined"] = json!(seen.joined);
                doc["taken_over"] = json!(seen.taken_over);
                doc["restarted"] = json!(seen.restarted);
                output::json(&doc)?;
            } else {
                print_report(&report, false, "Sync complete")?;
            }
            Ok(if report.skipped.is_empty() {
                0
            } else {
                EXIT_SKIPPED
            })
        }
        JobState::Cancelled => {
            if json {
                output::json(
                    &json!({"job": job.id, "error": "sync cancelled", "exit_code": EXIT_CANCELLED}),
                )?;
            }
            eprintln!(
                "Sync job #{} cancelled; what it imported or wrote before stopping is kept.",
                job.id
            );
            Ok(EXIT_CANCELLED)
        }
        _ => {
            let error = job
                .error
                .clone()
                .unwrap_or_else(|| "no error recorded".into());
            // The engine's mass-delete refusal: nothing was deleted (see SyncError::MassDelete).
            let code = if error.starts_with("this sync would delete") {
                EXIT_REFUSED
            } else {
                1
            };
            if json {
                output::json(&json!({"job": job.id, "error": error, "exit_code": code}))?;
            }
            eprintln!("error: sync job #{} failed: {error}", job.id);
            Ok(code)
        }
    }
}

fn print_report(report: &SyncReport, json: bool, headline: &str) -> Result<()> {
    if json {
        return output::json(report);
    }
    let secs = report.duration_ms as f64 / 1000.0;
    let mut parts = vec![
        format!("{} imported", grouped(report.imported)),
        format!("{} updated", grouped(report.updated)),
    ];
    for (n, what) in [
        (report.renamed, "renamed"),
        (report.deleted, "deleted"),
        (report.exported, "exported"),
        (report.trashed, "trashed"),
        (report.pending, "pending"),
    ] {
        if n > 0 {
            parts.push(format!("{} {what}", grouped(n)));
        }
    }
    parts.push(format!("{} unchanged", grouped(report.unchanged)));
    parts.push(format!("{} skipped", report.skipped.len()));
    output::line(format!("{headline}: {} in {secs:.1} s", parts.join(", ")))?;
    if !report.conflicts.is_empty() {
        output::line(format!(
            "{} conflict(s) (see `brain conflicts list`):",
            report.conflicts.len()
        ))?;
        for c in &report.conflicts {
            output::line(format!("  {}: {}", c.path, c.detail))?;
        }
    }
    if !report.excluded_here.is_empty() {
        output::line(format!(
            "{} note(s) not written here: this folder excludes their paths from sync \
             (.brainignore, a dot folder, or Logseq's logseq/ folder); they stay in the store, \
             and removing the exclusion then `brain sync` writes them:",
            report.excluded_here.len()
        ))?;
        for p in report.excluded_here.iter().take(10) {
            output::line(format!("  {p}"))?;
        }
        if report.excluded_here.len() > 10 {
            output::line(format!(
                "  ... and {} more",
                report.excluded_here.len() - 10
            ))?;
        }
    }
    if !report.skipped.is_empty() {
        output::line("Skipped (left untouched on disk):")?;
        for s in &report.skipped {
            output::line(format!("  {}: {}", s.path, s.reason))?;
        }
    }
    Ok(())
}

/// `12345` → `12,345`, for counts a person reads.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_thousands() {
        assert_eq!(super::grouped(0), "0");
        assert_eq!(super::grouped(999), "999");
        assert_eq!(super::grouped(1000), "1,000");
        assert_eq!(super::grouped(1234567), "1,234,567");
    }
}
