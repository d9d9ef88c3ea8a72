//! `brain batch`: one operation over every note a query selects, as a batch of jobs
//! (`brain_api::batch`), with its dry run, status, cancel and rollback.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Result, bail};
use brain_api::batch::{BatchOp, BatchPreview, BatchQueued, BatchReport};
use brain_core::edit::value_of;

use super::Vault;
use crate::cli::{BatchCommand, BatchWhere};
use crate::output;

/// The op a subcommand names, and the notes it selects.
fn op_of(c: &BatchCommand) -> Result<Option<(BatchOp, &BatchWhere)>> {
    Ok(Some(match c {
        BatchCommand::Set {
            assignment,
            string,
            select,
        } => {
            let Some((key, value)) = assignment.split_once('=') else {
                bail!("set takes KEY=VALUE (e.g. `set status=done`); '{assignment}' has no '='");
            };
            (
                BatchOp::Set {
                    key: key.trim().to_string(),
                    value: value_of(value, *string),
                },
                select,
            )
        }
        BatchCommand::Unset { key, select } => (BatchOp::Unset { key: key.clone() }, select),
        BatchCommand::Tag {
            action,
            tag,
            select,
        } => {
            let tag = tag.clone();
            let op = if action == "add" {
                BatchOp::TagAdd { tag }
            } else {
                BatchOp::TagRemove { tag }
            };
            (op, select)
        }
        BatchCommand::Mv { to, select } => (BatchOp::Move { to: to.clone() }, select),
        BatchCommand::Replace { old, new, select } => (
            BatchOp::Replace {
                old: old.clone(),
                new: new.clone(),
            },
            select,
        ),
        BatchCommand::Rm { select, .. } => (BatchOp::Delete, select),
        _ => return Ok(None),
    }))
}

/// Runs a `brain batch` subcommand.
pub fn run(vault: &Vault, c: &BatchCommand, json: bool) -> Result<u8> {
    let brain = vault.facade()?;
    if let Some((op, select)) = op_of(c)? {
        let allow = matches!(
            c,
            BatchCommand::Rm {
                allow_mass_delete: true,
                ..
            }
        );
        if select.dry_run {
            let preview = brain.preview_batch_allowing(&op, &select.query, 0..usize::MAX, allow)?;
            return if json {
                output::json(&preview).map(|()| 0)
            } else {
                print_preview(&preview).map(|()| 0)
            };
        }
        let queued = brain.start_batch_allowing(&op, &select.query, allow)?;
        return queued_said(vault, &queued, json);
    }
    match c {
        BatchCommand::Status { id, wait: false } => status(&brain, *id, false, json),
        BatchCommand::Status { id, wait: true } => {
            // A wait may run the batch here when nobody else does (its worker was killed, or
            // stopped after the store was away too long).
            let brain = vault.brain(
                vault.plugged()?,
                brain_api::Workers::OnDemand(vault.pool_config()),
            );
            let code = status(&brain, *id, true, json);
            if brain.runs_jobs_here() {
                let _ = brain.shutdown_within(Duration::from_secs(2));
            }
            code
        }
        BatchCommand::Rollback { id } => {
            let queued = brain.rollback_batch(*id)?;
            queued_said(vault, &queued, json)
        }
        BatchCommand::Cancel { id } => {
            let before = brain.batch_report(*id)?;
            let report = if before.is_finished() {
                before.clone()
            } else {
                brain.cancel_batch(*id)?
            };
            if json {
                return output::json(&report).map(|()| 0);
            }
            if before.is_finished() {
                output::line(format!(
                    "Batch {id} had already ended ({}): there was nothing to cancel.",
                    before.state
                ))?;
                return Ok(0);
            }
            output::line(format!(
                "Batch {id} cancelled: notes not yet reached stay as they are. {} changed so \
                 far stay changed, and a job already under way stops within about a second \
                 (at most its 100 notes); `brain batch status {id} --wait` shows where it \
                 ended, and `brain batch rollback {id}` undoes the changes then.",
                report.changed
            ))?;
            Ok(0)
        }
        BatchCommand::List { limit } => {
            let reports = brain.batches(*limit)?;
            if json {
                return output::json(&reports).map(|()| 0);
            }
            if reports.is_empty() {
                output::line("No batches.")?;
            }
            for r in &reports {
                output::line(summary(r))?;
            }
            Ok(0)
        }
        _ => unreachable_subcommand(),
    }
}

/// Every subcommand is handled above; clap cannot produce another.
fn unreachable_subcommand() -> Result<u8> {
    bail!("unknown batch subcommand: `brain batch --help` lists them")
}

/// Says what was queued, and starts a worker when no daemon will run it.
fn queued_said(vault: &Vault, queued: &BatchQueued, json: bool) -> Result<u8> {
    if queued.batch_id.is_some() && brain_api::daemon_pid(&vault.paths.root).is_none() {
        super::work::spawn_background_worker(vault)?;
    }
    if json {
        return output::json(queued).map(|()| 0);
    }
    output::line(&queued.message)?;
    if let Some(note) = &queued.note {
        output::line(format!("Note: {note}."))?;
    }
    if let Some(id) = queued.batch_id {
        output::line(format!(
            "Follow it with `brain batch status {id} --wait`; undo it with `brain batch rollback {id}`."
        ))?;
    }
    if let Some(w) = &queued.warning {
        eprintln!("warning: {w}");
    }
    Ok(0)
}

fn print_preview(p: &BatchPreview) -> Result<()> {
    let headline = format!(
        "Dry run: {} on {} matching `{}`; {} would change. Nothing was written.",
        p.op,
        notes(p.count as u64),
        p.query,
        p.would_change
    );
    output::line(&headline)?;
    // Each change in full; the notes left as they are, by reason, once each reason.
    let mut left: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for n in &p.notes {
        match n.change {
            "edit" => output::line(n.diff.as_deref().unwrap_or_default().trim_end())?,
            "move" => output::line(format!(
                "move {} → {}",
                n.entity,
                n.to.as_deref().unwrap_or_default()
            ))?,
            "delete" => output::line(format!("delete {} ({})", n.entity, n.path))?,
            other => {
                let why = n.why.as_deref().unwrap_or_default();
                match left.iter_mut().find(|(c, w, _)| *c == other && *w == why) {
                    Some((_, _, list)) => list.push(&n.entity),
                    None => left.push((other, why, vec![&n.entity])),
                }
            }
        }
    }
    for (change, why, list) in &left {
        let shown: Vec<&str> = list.iter().take(3).copied().collect();
        let more = if list.len() > shown.len() {
            format!(", and {} more", list.len() - shown.len())
        } else {
            String::new()
        };
        output::line(format!(
            "{change}: {} ({}{more}): {why}",
            notes(list.len() as u64),
            shown.join(", ")
        ))?;
    }
    if let Some(note) = &p.note {
        output::line(format!("Note: {note}."))?;
    }
    if p.notes.len() > 20 {
        output::line(&headline)?;
    }
    if let Some(w) = &p.warning {
        eprintln!("warning: {w}");
    }
    Ok(())
}

fn notes(n: u64) -> String {
    if n == 1 {
        "1 note".into()
    } else {
        format!("{n} notes")
    }
}

/// One line for a batch: `Batch 17 (succeeded): set status=done on 312 notes; 310 changed...`.
fn summary(r: &BatchReport) -> String {
    let state = match r.state {
        "failed" if r.changed > 0 => format!("failed: {} of {} not changed", r.failed, r.total),
        other => other.to_string(),
    };
    // Under way, a running job's notes are counted in `done` as it goes, but by outcome only
    // when it ends.
    let counted = if r.is_finished() {
        ","
    } else {
        "; in its jobs that ended:"
    };
    let mut s = format!(
        "Batch {} ({state}): {} on {}: {} of {} done{counted} {} changed, {} unchanged",
        r.batch_id,
        r.op,
        notes(r.total),
        r.done,
        r.total,
        r.changed,
        r.unchanged
    );
    if r.conflicts > 0 {
        s.push_str(&format!(", {} kept both ways as conflicts", r.conflicts));
    }
    if r.failed > 0 {
        s.push_str(&format!(", {} failed", r.failed));
    }
    if r.not_done > 0 {
        s.push_str(&format!(", {} not reached", r.not_done));
    }
    if let Some(of) = r.rollback_of {
        s.push_str(&format!(" (rolls back batch {of})"));
    }
    if !r.rolled_back_by.is_empty() {
        let by: Vec<String> = r.rolled_back_by.iter().map(|b| b.to_string()).collect();
        s.push_str(&format!(" (rolled back by batch {})", by.join(", ")));
    }
    s
}

fn print_report(r: &BatchReport) -> Result<()> {
    output::line(summary(r))?;
    output::line(format!("  query: {}", r.query))?;
    for f in &r.failures {
        output::line(format!("  failed {}: {}", f.entity, f.reason))?;
    }
    for k in &r.kept_both {
        output::line(format!("  kept both {}: {}", k.entity, k.reason))?;
    }
    if r.failed as usize > r.failures.len() {
        output::line(format!(
            "  ... and {} more failed (`--json` lists the first 100)",
            r.failed as usize - r.failures.len()
        ))?;
    }
    if r.conflicts > 0 {
        output::line(
            "  `brain conflicts list` lists the conflicts; `brain conflicts show ID` shows both texts of one.",
        )?;
    }
    if r.state == "cancelled" {
        for c in &r.children {
            output::line(format!(
                "  job {} ({}): {} of its {} changed",
                c.job,
                c.state.as_str(),
                c.changed,
                notes(c.notes)
            ))?;
        }
    }
    Ok(())
}

/// How long `batch status --wait` waits for the files of a batch that ended.
const FINISH_WRITES: Duration = Duration::from_secs(60);

/// `brain batch status ID [--wait]`.
fn status(brain: &brain_api::Brain, id: i64, wait: bool, json: bool) -> Result<u8> {
    let mut report = brain.batch_report(id)?;
    if wait {
        let tty = std::io::stderr().is_terminal();
        let mut last_said = None;
        let mut store_away = false;
        let mut last_tended = std::time::Instant::now();
        // A child taken over from a dead worker starts its count again: what was shown stays
        // the floor, so the count never goes back.
        let mut shown_done = 0;
        while !report.is_finished() {
            shown_done = shown_done.max(report.done);
            let now = (shown_done, report.state);
            if !json && last_said != Some(now) {
                if tty {
                    eprint!(
                        "\r\x1b[2KBatch {id}: {shown_done} of {} notes",
                        report.total
                    );
                } else {
                    eprintln!("Batch {id}: {shown_done} of {} notes", report.total);
                }
                last_said = Some(now);
            }
            std::thread::sleep(Duration::from_millis(250));
            if last_tended.elapsed() >= Duration::from_secs(1) {
                last_tended = std::time::Instant::now();
                if let Ok(true) = brain.tend_batch(id) {
                    eprintln!(
                        "{}Nobody was working on batch {id} (its worker stopped): this command runs it now.",
                        if tty { "\n" } else { "" }
                    );
                }
            }
            // A store away for a while (a PostgreSQL server restarting) is waited out, said
            // once; the batch's jobs wait it out too.
            match brain.batch_report(id) {
                Ok(r) => {
                    if store_away {
                        eprintln!("The store answers again.");
                        store_away = false;
                    }
                    report = r;
                }
                Err(e) if e.is_retryable() => {
                    if !store_away {
                        eprintln!(
                            "{}The store does not answer ({e}); waiting for it (Ctrl-C stops waiting, not the batch).",
                            if tty { "\n" } else { "" }
                        );
                        store_away = true;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        if tty && !json && last_said.is_some() {
            eprintln!();
        }
        // Ended is in the store; what is said is the files too, so `--wait && git commit`
        // commits what the batch did.
        if !brain.wait_files_written(FINISH_WRITES) {
            eprintln!(
                "The store holds what batch {id} did; some of its files are not written yet \
                 (`brain status` shows the export; `brain sync` writes them)."
            );
        }
    }
    if json {
        output::json(&report)?;
    } else {
        print_report(&report)?;
        if !report.is_finished() && brain.batch_unattended(id).unwrap_or(false) {
            output::line(format!(
                "  Nobody is working on it now (its worker stopped): `brain batch status {id} \
                 --wait` runs it here, as `brain serve` does."
            ))?;
        }
    }
    Ok(match (wait, report.state) {
        (true, "failed" | "cancelled") => 1,
        _ => 0,
    })
}
