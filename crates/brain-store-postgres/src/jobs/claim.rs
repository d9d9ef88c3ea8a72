//! A worker's side of the queue: claiming, heartbeats, progress, the finish, and the reaper.
//!
//! A claim may run in many processes at once. Each type it claims is locked first with a
//! transaction-level advisory lock (types in sorted order, so two claimers never wait on each
//! other in a cycle): the count of that type's running jobs, the choice of rows and their
//! update then happen with no other claim of the type in between, so a per-type limit holds
//! across every worker of every machine. Claims of different types run side by side. Rows
//! are chosen `FOR UPDATE SKIP LOCKED`, so a claim never waits on a row another transaction
//! holds (a cancel, a dedupe replace): it takes the next one.

use std::cmp::Reverse;

use crate::db::{Db, get};
use brain_store::Result;
use brain_store::jobs::{Job, JobProgress, LEASE_EXPIRED, LEASE_EXPIRED_LAST, Outcome};

use super::{COLUMNS, admin, from_row, notify, stored_counter};

/// The first key of the claim locks (`pg_advisory_xact_lock(int, int)`; "bcla").
const CLAIM_LOCK: i32 = 0x6263_6c61;

fn running_count(db: &mut Db<'_>, job_type: &str) -> Result<u64> {
    let row = db.query_one(
        "SELECT count(*) FROM jobs WHERE state = 'running' AND job_type = $1",
        &[&job_type],
    )?;
    Ok(u64::try_from(get::<i64>(&row, 0)?).unwrap_or_default())
}

/// How many jobs of each type to claim so that the `limit` goes to the best jobs across types.
fn quotas<'t>(
    db: &mut Db<'_>,
    free: &[(&'t str, usize)],
    limit: usize,
    now_ms: i64,
) -> Result<Vec<(&'t str, usize)>> {
    let mut candidates: Vec<(Reverse<i32>, i64, usize)> = Vec::new();
    for (slot, (job_type, n)) in free.iter().enumerate() {
        let rows = db.query(
            "SELECT priority, id FROM jobs
             WHERE state = 'queued' AND job_type = $1 AND run_at_ms <= $2
             ORDER BY priority DESC, id
             LIMIT $3",
            &[job_type, &now_ms, &(*n as i64)],
        )?;
        for row in &rows {
            candidates.push((Reverse(get(row, 0)?), get(row, 1)?, slot));
        }
    }
    candidates.sort_unstable();
    let mut counts = vec![0usize; free.len()];
    for (_, _, slot) in candidates.iter().take(limit) {
        counts[*slot] += 1;
    }
    Ok(free
        .iter()
        .zip(counts)
        .map(|((job_type, _), n)| (*job_type, n))
        .collect())
}

/// [`brain_store::JobStore::claim`] (see the module doc).
pub(super) fn claim(
    db: &mut Db<'_>,
    worker: &str,
    types: &[(String, u32)],
    limit: usize,
    now_ms: i64,
    lease_ms: i64,
) -> Result<Vec<Job>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let paused = admin::paused(db)?;
    let mut limits: Vec<(&str, u32)> = Vec::with_capacity(types.len());
    for (job_type, max) in types {
        if paused.contains(job_type) {
            continue;
        }
        match limits.iter_mut().find(|(t, _)| t == job_type) {
            Some((_, m)) => *m = (*m).max(*max),
            None => limits.push((job_type, *max)),
        }
    }
    limits.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut free: Vec<(&str, usize)> = Vec::with_capacity(limits.len());
    for (job_type, max) in limits {
        // Only a type with a job due is locked: an idle worker's claim takes no lock at all.
        let due = db.query_opt(
            "SELECT 1 FROM jobs WHERE state = 'queued' AND job_type = $1 AND run_at_ms <= $2
             LIMIT 1",
            &[&job_type, &now_ms],
        )?;
        if due.is_none() {
            continue;
        }
        db.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || ':' || $2))",
            &[&CLAIM_LOCK, &job_type],
        )?;
        let slots = u64::from(max).saturating_sub(running_count(db, job_type)?);
        let n = usize::try_from(slots).unwrap_or(usize::MAX).min(limit);
        if n > 0 {
            free.push((job_type, n));
        }
    }
    let offered: usize = free.iter().map(|(_, n)| n).sum();
    let take = if free.len() > 1 && offered > limit {
        quotas(db, &free, limit, now_ms)?
    } else {
        free
    };
    let sql = format!(
        "UPDATE jobs SET state = 'running', worker = $1, started_ms = $2, lease_until_ms = $3,
                         attempts = attempts + 1, progress_current = NULL,
                         progress_total = NULL, progress_message = NULL, progress_ms = NULL,
                         progress_phase = NULL
         WHERE id IN (SELECT id FROM jobs
                      WHERE state = 'queued' AND job_type = $4 AND run_at_ms <= $2
                      ORDER BY priority DESC, id
                      LIMIT $5
                      FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    );
    let lease_until = now_ms.saturating_add(lease_ms);
    let mut claimed = Vec::new();
    for (job_type, n) in take {
        if n == 0 {
            continue;
        }
        let rows = db.query(
            &sql,
            &[&worker, &now_ms, &lease_until, &job_type, &(n as i64)],
        )?;
        for row in &rows {
            claimed.push(from_row(row)?);
        }
    }
    claimed.sort_unstable_by_key(|j| (Reverse(j.priority), j.id));
    Ok(claimed)
}

pub(super) fn heartbeat(
    db: &mut Db<'_>,
    worker: &str,
    ids: &[i64],
    until_ms: i64,
) -> Result<Vec<i64>> {
    let mut stop = Vec::new();
    for &id in ids {
        let held = db.query_opt(
            "UPDATE jobs SET lease_until_ms = $3
             WHERE id = $1 AND state = 'running' AND worker = $2
             RETURNING cancel_requested",
            &[&id, &worker, &until_ms],
        )?;
        match held {
            Some(row) if !get::<bool>(&row, 0)? => {}
            // Its cancel was requested, or it is no longer this worker's.
            _ => stop.push(id),
        }
    }
    Ok(stop)
}

pub(super) fn set_progress(db: &mut Db<'_>, id: i64, worker: &str, p: &JobProgress) -> Result<()> {
    db.execute(
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
    db: &mut Db<'_>,
    id: i64,
    worker: &str,
    outcome: &Outcome,
    now_ms: i64,
) -> Result<bool> {
    let changed = match outcome {
        Outcome::Succeeded(result) => db.execute(
            "UPDATE jobs SET state = 'succeeded', result = $3, finished_ms = $4,
                             lease_until_ms = NULL
             WHERE id = $1 AND state = 'running' AND worker = $2",
            &[&id, &worker, &serde_json::to_string(result)?, &now_ms],
        )?,
        Outcome::Failed { error, retry_at_ms } => db.execute(
            &format!(
                "UPDATE jobs SET {}, lease_until_ms = NULL, error = $3
                 WHERE id = $1 AND state = 'running' AND worker = $2",
                retry_or_end("$4", "$5")
            ),
            &[&id, &worker, error, retry_at_ms, &now_ms],
        )?,
        Outcome::Cancelled => db.execute(
            "UPDATE jobs SET state = 'cancelled', finished_ms = $3, lease_until_ms = NULL
             WHERE id = $1 AND state = 'running' AND worker = $2",
            &[&id, &worker, &now_ms],
        )?,
        Outcome::GaveUp(error) => db.execute(
            "UPDATE jobs SET state = 'failed', finished_ms = $4, lease_until_ms = NULL,
                             error = $3
             WHERE id = $1 AND state = 'running' AND worker = $2",
            &[&id, &worker, error, &now_ms],
        )?,
    };
    if changed == 1 {
        // A slot of its type is free again, and a retry may be due: other workers look.
        notify(db)?;
    }
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
