//! A worker's side of the queue: claiming due jobs of unpaused types within per-type limits,
//! then, while it holds the lease, heartbeats, progress and the finish; and the reaper, which
//! takes expired leases back.
//!
//! Heartbeat, progress and finish each change the row only while it is still `running` under
//! the reporting worker (see the parent module), so a worker whose lease was reaped changes
//! nothing; claim and reap are the two transitions that hand a lease out and take it back.

use std::cmp::Reverse;

use rusqlite::{OptionalExtension, Transaction, params};

use super::{COLUMNS, from_row, schedule, stored_counter};
use brain_store::Result;
use brain_store::jobs::{Job, JobProgress, LEASE_EXPIRED, LEASE_EXPIRED_LAST, Outcome};

/// Jobs of `job_type` running under any worker.
fn running_count(tx: &Transaction<'_>, job_type: &str) -> Result<u64> {
    let n: i64 = tx
        .prepare_cached("SELECT count(*) FROM jobs WHERE state = 'running' AND job_type = ?1")?
        .query_row([job_type], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or_default())
}

/// How many jobs of each type to claim so that the `limit` goes to the best jobs across types:
/// reads the candidates' priority and id (from the claim index alone), merges them in claim
/// order and counts the first `limit` by type.
fn quotas<'t>(
    tx: &Transaction<'_>,
    free: &[(&'t str, usize)],
    limit: usize,
    now_ms: i64,
) -> Result<Vec<(&'t str, usize)>> {
    let mut stmt = tx.prepare_cached(
        "SELECT priority, id FROM jobs
         WHERE state = 'queued' AND job_type = ?1 AND run_at_ms <= ?2
         ORDER BY priority DESC, id
         LIMIT ?3",
    )?;
    let mut candidates: Vec<(Reverse<u8>, i64, usize)> = Vec::new();
    for (slot, (job_type, n)) in free.iter().enumerate() {
        let rows = stmt.query_map(params![job_type, now_ms, *n as i64], |row| {
            Ok((Reverse(row.get::<_, u8>(0)?), row.get::<_, i64>(1)?, slot))
        })?;
        for row in rows {
            candidates.push(row?);
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

/// [`JobStore::claim`](brain_store::JobStore::claim) inside a write transaction.
///
/// Why one `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING` per type is safe here:
/// the transaction began with `BEGIN IMMEDIATE`, which takes SQLite's single write lock before
/// the first statement, so no other connection (thread or process) can write between the
/// running-count, the choice of rows and their update; two claimers are serialized and the
/// second sees the first's jobs as running. (PostgreSQL, with concurrent writers, will select
/// with `FOR UPDATE SKIP LOCKED` instead.)
pub(super) fn claim(
    tx: &Transaction<'_>,
    worker: &str,
    types: &[(String, u32)],
    limit: usize,
    now_ms: i64,
    lease_ms: i64,
) -> Result<Vec<Job>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    // A type listed twice counts once, with its larger limit; a paused type is not offered
    // (one read of the small pauses table per claim, inside this transaction).
    let paused = schedule::paused(tx)?;
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
    let mut free: Vec<(&str, usize)> = Vec::with_capacity(limits.len());
    for (job_type, max) in limits {
        let slots = u64::from(max).saturating_sub(running_count(tx, job_type)?);
        let n = usize::try_from(slots).unwrap_or(usize::MAX).min(limit);
        if n > 0 {
            free.push((job_type, n));
        }
    }
    let offered: usize = free.iter().map(|(_, n)| n).sum();
    // With one type, or room for everything, each type simply takes its free slots; otherwise
    // the limit is shared out by priority across types first.
    let take = if free.len() > 1 && offered > limit {
        quotas(tx, &free, limit, now_ms)?
    } else {
        free
    };
    let sql = format!(
        "UPDATE jobs SET state = 'running', worker = ?1, started_ms = ?2, lease_until_ms = ?3,
                         attempts = attempts + 1, progress_current = NULL,
                         progress_total = NULL, progress_message = NULL, progress_ms = NULL,
                         progress_phase = NULL
         WHERE id IN (SELECT id FROM jobs
                      WHERE state = 'queued' AND job_type = ?4 AND run_at_ms <= ?2
                      ORDER BY priority DESC, id
                      LIMIT ?5)
         RETURNING {COLUMNS}"
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let lease_until = now_ms.saturating_add(lease_ms);
    let mut claimed = Vec::new();
    for (job_type, n) in take {
        if n == 0 {
            continue;
        }
        let rows = stmt.query_map(
            params![worker, now_ms, lease_until, job_type, n as i64],
            from_row,
        )?;
        for job in rows {
            claimed.push(job?);
        }
    }
    // RETURNING gives rows in no promised order.
    claimed.sort_unstable_by_key(|j| (Reverse(j.priority), j.id));
    Ok(claimed)
}

pub(super) fn heartbeat(
    tx: &Transaction<'_>,
    worker: &str,
    ids: &[i64],
    until_ms: i64,
) -> Result<Vec<i64>> {
    let mut stmt = tx.prepare_cached(
        "UPDATE jobs SET lease_until_ms = ?3
         WHERE id = ?1 AND state = 'running' AND worker = ?2
         RETURNING cancel_requested",
    )?;
    let mut stop = Vec::new();
    for &id in ids {
        let held = stmt
            .query_row(params![id, worker, until_ms], |row| row.get::<_, bool>(0))
            .optional()?;
        match held {
            Some(false) => {}
            // Its cancel was requested.
            Some(true) => stop.push(id),
            // No longer this worker's (reaped, maybe running elsewhere now) or gone.
            None => stop.push(id),
        }
    }
    Ok(stop)
}

pub(super) fn set_progress(
    tx: &Transaction<'_>,
    id: i64,
    worker: &str,
    p: &JobProgress,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE jobs SET progress_current = ?3, progress_total = ?4, progress_message = ?5,
                         progress_ms = ?6, progress_phase = ?7
         WHERE id = ?1 AND state = 'running' AND worker = ?2",
    )?
    .execute(params![
        id,
        worker,
        stored_counter(p.current),
        p.total.map(stored_counter),
        p.message,
        p.updated_ms,
        p.phase.map(brain_core::Phase::as_str),
    ])?;
    Ok(())
}

pub(super) fn finish(
    tx: &Transaction<'_>,
    id: i64,
    worker: &str,
    outcome: &Outcome,
    now_ms: i64,
) -> Result<bool> {
    let changed = match outcome {
        Outcome::Succeeded(result) => tx
            .prepare_cached(
                "UPDATE jobs SET state = 'succeeded', result = ?3, finished_ms = ?4,
                                 lease_until_ms = NULL
                 WHERE id = ?1 AND state = 'running' AND worker = ?2",
            )?
            .execute(params![id, worker, serde_json::to_string(result)?, now_ms])?,
        // A cancel request stops retries: the user asked for it to end.
        Outcome::Failed { error, retry_at_ms } => tx
            .prepare_cached(&format!(
                "UPDATE jobs SET {}, lease_until_ms = NULL, error = ?3
                 WHERE id = ?1 AND state = 'running' AND worker = ?2",
                retry_or_end("?4", "?5")
            ))?
            .execute(params![id, worker, error, retry_at_ms, now_ms])?,
        Outcome::Cancelled => tx
            .prepare_cached(
                "UPDATE jobs SET state = 'cancelled', finished_ms = ?3, lease_until_ms = NULL
                 WHERE id = ?1 AND state = 'running' AND worker = ?2",
            )?
            .execute(params![id, worker, now_ms])?,
        Outcome::GaveUp(error) => tx
            .prepare_cached(
                "UPDATE jobs SET state = 'failed', finished_ms = ?4, lease_until_ms = NULL,
                                 error = ?3
                 WHERE id = ?1 AND state = 'running' AND worker = ?2",
            )?
            .execute(params![id, worker, error, now_ms])?,
    };
    Ok(changed == 1)
}

/// The SET clauses of "this attempt is over": back to `queued` at `run_at` while attempts
/// remain, else `failed` at `finished`; `cancelled` at `finished` whenever a cancel was
/// requested. SET expressions all see the row as it was, so every CASE tests the same thing.
/// Shared by a failed attempt and a reaped lease, which end by the same rule.
fn retry_or_end(run_at: &str, finished: &str) -> String {
    format!(
        "state = CASE WHEN cancel_requested THEN 'cancelled'
                      WHEN attempts < max_attempts THEN 'queued'
                      ELSE 'failed' END,
         run_at_ms = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                          THEN {run_at} ELSE run_at_ms END,
         finished_ms = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                            THEN NULL ELSE {finished} END,
         worker = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                       THEN NULL ELSE worker END"
    )
}

pub(super) fn reap(tx: &Transaction<'_>, now_ms: i64) -> Result<Vec<i64>> {
    let mut stmt = tx.prepare_cached(&format!(
        "UPDATE jobs SET {},
            error = CASE WHEN cancel_requested THEN error
                         WHEN attempts < max_attempts THEN ?2
                         ELSE ?3 END,
            lease_until_ms = NULL
         WHERE state = 'running' AND lease_until_ms < ?1
         RETURNING id",
        retry_or_end("?1", "?1")
    ))?;
    let mut ids = stmt
        .query_map(params![now_ms, LEASE_EXPIRED, LEASE_EXPIRED_LAST], |row| {
            row.get::<_, i64>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    ids.sort_unstable();
    Ok(ids)
}
