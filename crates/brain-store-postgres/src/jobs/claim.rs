//! A worker's side of the queue: claiming, heartbeats, progress, the finish, and the reaper.
//!
//! A claim may run in many processes at once. Each type it claims is locked first with a
//! transaction-level advisory lock (types in sorted order, so two claimers never wait on each
//! other in a cycle): the count of that type's running jobs, the choice of rows and their
//! update then happen with no other claim of the type in between, so a per-type limit holds
//! across every worker of every machine. Claims of different types run side by side, and so do
//! claims of a type with no limit (`i32::MAX`, which brain_jobs' `TypeConfig::UNLIMITED`
//! becomes here): it takes no lock and counts nothing (migration 0003). Rows
//! are chosen `FOR UPDATE SKIP LOCKED`, so a claim never waits on a row another transaction
//! holds (a cancel, a dedupe replace): it takes the next one.

use std::cmp::Reverse;

use crate::db::{Db, Single, get};
use brain_store::Result;
use brain_store::jobs::{Job, JobProgress, LEASE_EXPIRED, LEASE_EXPIRED_LAST, Outcome};

use super::{COLUMNS, from_row, stored_counter};

/// [`brain_store::JobStore::claim`] in one statement: the migration's `brain_claim` (see the
/// module doc), with each type once (its largest limit), in sorted order.
pub(super) fn claim(
    one: &mut Single<'_>,
    worker: &str,
    types: &[(String, u32)],
    limit: usize,
    now_ms: i64,
    lease_ms: i64,
    replica: &str,
) -> Result<Vec<Job>> {
    if limit == 0 || types.is_empty() {
        return Ok(Vec::new());
    }
    let mut limits: Vec<(&str, u32)> = Vec::with_capacity(types.len());
    for (job_type, max) in types {
        match limits.iter_mut().find(|(t, _)| t == job_type) {
            Some((_, m)) => *m = (*m).max(*max),
            None => limits.push((job_type, *max)),
        }
    }
    limits.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let names: Vec<&str> = limits.iter().map(|(t, _)| *t).collect();
    let maxes: Vec<i32> = limits
        .iter()
        .map(|(_, m)| i32::try_from(*m).unwrap_or(i32::MAX))
        .collect();
    let limit = i32::try_from(limit).unwrap_or(i32::MAX);
    let lease_until = now_ms.saturating_add(lease_ms);
    let rows = one.query(
        &format!("SELECT {COLUMNS} FROM brain_claim($1, $2, $3, $4, $5, $6, $7)"),
        &[
            &worker,
            &names,
            &maxes,
            &limit,
            &now_ms,
            &lease_until,
            &replica,
        ],
    )?;
    let mut claimed = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    claimed.sort_unstable_by_key(|j| (Reverse(j.priority), j.id));
    Ok(claimed)
}

/// Extends the leases of `worker`'s jobs `ids` in one statement; returns those to stop.
pub(super) fn heartbeat(
    one: &mut Single<'_>,
    worker: &str,
    ids: &[i64],
    until_ms: i64,
) -> Result<Vec<i64>> {
    let rows = one.query(
        "UPDATE jobs SET lease_until_ms = $3
         WHERE id = ANY($1) AND state = 'running' AND worker = $2
         RETURNING id, cancel_requested",
        &[&ids, &worker, &until_ms],
    )?;
    let mut held = std::collections::HashMap::new();
    for row in &rows {
        held.insert(get::<i64>(row, 0)?, get::<bool>(row, 1)?);
    }
    // Its cancel was requested, or it is no longer this worker's (reaped, or gone).
    Ok(ids
        .iter()
        .copied()
        .filter(|id| held.get(id).is_none_or(|cancel| *cancel))
        .collect())
}

pub(super) fn set_progress(
    one: &mut Single<'_>,
    id: i64,
    worker: &str,
    p: &JobProgress,
) -> Result<()> {
    one.execute(
        "UPDATE jobs SET progress_current = $3, progress_total = $4, progress_message = $5,
                         progress_ms = $6, progress_phase = $7
         WHERE id = $1 AND state = 'running' AND worker = $2",
        &[
            &id,
            &worker,
            &stored_counter(p.current),
            &p.total.map(stored_counter),
            &p.message,
            &p.updated_ms,
            &p.phase.map(brain_core::Phase::as_str),
        ],
    )?;
    Ok(())
}

pub(super) fn finish(
    one: &mut Single<'_>,
    id: i64,
    worker: &str,
    outcome: &Outcome,
    now_ms: i64,
) -> Result<bool> {
    let changed = match outcome {
        Outcome::Succeeded(result) => one.execute(
            "UPDATE jobs SET state = 'succeeded', result = $3, finished_ms = $4,
                             lease_until_ms = NULL
             WHERE id = $1 AND state = 'running' AND worker = $2",
            &[&id, &worker, &serde_json::to_string(result)?, &now_ms],
        )?,
        Outcome::Failed { error, retry_at_ms } => one.execute(
            &format!(
                "UPDATE jobs SET {}, lease_until_ms = NULL, error = $3
                 WHERE id = $1 AND state = 'running' AND worker = $2",
                retry_or_end("$4", "$5")
            ),
            &[&id, &worker, error, retry_at_ms, &now_ms],
        )?,
        Outcome::Cancelled => one.execute(
            "UPDATE jobs SET state = 'cancelled', finished_ms = $3, lease_until_ms = NULL
             WHERE id = $1 AND state = 'running' AND worker = $2",
            &[&id, &worker, &now_ms],
        )?,
        Outcome::GaveUp(error) => one.execute(
            "UPDATE jobs SET state = 'failed', finished_ms = $4, lease_until_ms = NULL,
                             error = $3
             WHERE id = $1 AND state = 'running' AND worker = $2",
            &[&id, &worker, error, &now_ms],
        )?,
    };
    // No NOTIFY: a finish that frees a slot wakes this process's own workers (the queue does),
    // and a notification at every finish made every idle worker of every process claim at once
    // (and NOTIFY serializes the commits that send it). A retry due later is found by the
    // idle poll, which sleeps until the next `run_at`.
    Ok(changed == 1)
}

/// The SET clauses of "this attempt is over" (as on SQLite).
fn retry_or_end(run_at: &str, finished: &str) -> String {
    format!(
        "state = CASE WHEN cancel_requested THEN 'cancelled'
                      WHEN attempts < max_attempts THEN 'queued'
                      ELSE 'failed' END,
         run_at_ms = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                          THEN {run_at}::bigint ELSE run_at_ms END,
         finished_ms = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                            THEN NULL ELSE {finished}::bigint END,
         worker = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                       THEN NULL ELSE worker END"
    )
}

pub(super) fn reap(db: &mut Db<'_>, now_ms: i64) -> Result<Vec<i64>> {
    let rows = db.query(
        &format!(
            "UPDATE jobs SET {},
                error = CASE WHEN cancel_requested THEN error
                             WHEN attempts < max_attempts THEN $2
                             ELSE $3 END,
                lease_until_ms = NULL
             WHERE state = 'running' AND lease_until_ms < $1
             RETURNING id",
            retry_or_end("$1", "$1")
        ),
        &[&now_ms, &LEASE_EXPIRED, &LEASE_EXPIRED_LAST],
    )?;
    let mut ids = rows
        .iter()
        .map(|r| get::<i64>(r, 0))
        .collect::<Result<Vec<_>>>()?;
    ids.sort_unstable();
    Ok(ids)
}
