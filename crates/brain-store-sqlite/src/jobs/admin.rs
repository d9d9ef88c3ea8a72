//! What is done to jobs from outside a worker: cancel (cascading down a batch), retry and
//! prune, and the reads (one job, a filtered list, a batch's counts by state, the queue depth
//! by type).
//!
//! None of these needs a lease; cancel only asks a running job to stop (the worker sees it
//! at its next heartbeat), so the lease holder still makes the final transition.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{COLUMNS, from_row};
use brain_store::jobs::{BatchStatus, Job, JobCount, JobFilter, JobState};
use brain_store::{Result, StoreError};

fn state_of(tx: &Transaction<'_>, id: i64) -> Result<JobState> {
    tx.prepare_cached("SELECT state FROM jobs WHERE id = ?1")?
        .query_row([id], |row| row.get::<_, super::StateColumn>(0))
        .optional()?
        .map(|s| s.0)
        .ok_or(StoreError::JobNotFound(id))
}

pub(super) fn cancel(tx: &Transaction<'_>, id: i64, now_ms: i64) -> Result<JobState> {
    let state = match state_of(tx, id)? {
        JobState::Queued => {
            tx.prepare_cached(
                "UPDATE jobs SET state = 'cancelled', finished_ms = ?2 WHERE id = ?1",
            )?
            .execute(params![id, now_ms])?;
            JobState::Cancelled
        }
        JobState::Running => {
            tx.prepare_cached("UPDATE jobs SET cancel_requested = 1 WHERE id = ?1")?
                .execute([id])?;
            JobState::Running
        }
        finished => finished,
    };
    // Everything under it, at any depth (a leaf costs one index lookup).
    tx.prepare_cached(
        "WITH RECURSIVE under(id) AS (
             SELECT id FROM jobs WHERE parent_id = ?1
             UNION SELECT jobs.id FROM jobs JOIN under ON jobs.parent_id = under.id)
         UPDATE jobs SET state = 'cancelled', finished_ms = ?2
         WHERE state = 'queued' AND id IN under",
    )?
    .execute(params![id, now_ms])?;
    tx.prepare_cached(
        "WITH RECURSIVE under(id) AS (
             SELECT id FROM jobs WHERE parent_id = ?1
             UNION SELECT jobs.id FROM jobs JOIN under ON jobs.parent_id = under.id)
         UPDATE jobs SET cancel_requested = 1
         WHERE state = 'running' AND id IN under",
    )?
    .execute([id])?;
    Ok(state)
}

pub(super) fn retry(tx: &Transaction<'_>, id: i64, now_ms: i64) -> Result<Job> {
    let state = state_of(tx, id)?;
    if !matches!(state, JobState::Failed | JobState::Cancelled) {
        return Err(StoreError::JobState {
            id,
            state: state.as_str(),
            what: "only failed or cancelled jobs can be retried",
        });
    }
    let sql = format!(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at_ms = ?2, finished_ms = NULL,
                         cancel_requested = 0, worker = NULL, lease_until_ms = NULL
         WHERE id = ?1
         RETURNING {COLUMNS}"
    );
    Ok(tx
        .prepare_cached(&sql)?
        .query_row(params![id, now_ms], from_row)?)
}

pub(super) fn prune(tx: &Transaction<'_>, before_ms: i64) -> Result<u64> {
    // `keep` is every ancestor of a job that stays: a prunable root whose batch still has a
    // running child (or a child finished after `before_ms`) stays with it.
    let n = tx
        .prepare_cached(
            "WITH RECURSIVE keep(id) AS (
                 SELECT parent_id FROM jobs
                 WHERE parent_id IS NOT NULL AND (finished_ms IS NULL OR finished_ms >= ?1)
                 UNION SELECT jobs.parent_id FROM jobs JOIN keep ON jobs.id = keep.id
                 WHERE jobs.parent_id IS NOT NULL)
             DELETE FROM jobs
             WHERE finished_ms < ?1
               AND state IN ('succeeded', 'failed', 'cancelled')
               AND id NOT IN keep",
        )?
        .execute([before_ms])?;
    Ok(n as u64)
}

pub(super) fn job(tx: &Transaction<'_>, id: i64) -> Result<Job> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1");
    tx.prepare_cached(&sql)?
        .query_row([id], from_row)
        .optional()?
        .ok_or(StoreError::JobNotFound(id))
}

pub(super) fn list_jobs(tx: &Transaction<'_>, filter: &JobFilter) -> Result<Vec<Job>> {
    let mut conditions = Vec::new();
    if !filter.states.is_empty() {
        // The names are the enum's own constants, never user text.
        let names: Vec<String> = filter
            .states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        conditions.push(format!("state IN ({})", names.join(", ")));
    }
    if filter.job_type.is_some() {
        conditions.push("job_type = ?1".to_string());
    }
    if filter.parent_id.is_some() {
        conditions.push("parent_id = ?2".to_string());
    }
    let filter_sql = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!("SELECT {COLUMNS} FROM jobs {filter_sql} ORDER BY id DESC LIMIT ?3");
    let limit = if filter.limit == 0 {
        -1
    } else {
        i64::try_from(filter.limit).unwrap_or(i64::MAX)
    };
    // SQLite numbers parameters up to the highest `?N` in the text, so all three can be
    // bound whichever filters are set; an unused one is simply never read.
    let mut stmt = tx.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![filter.job_type, filter.parent_id, limit], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn batch_status(tx: &Transaction<'_>, parent_id: i64) -> Result<BatchStatus> {
    state_of(tx, parent_id)?;
    let mut stmt =
        tx.prepare_cached("SELECT state, count(*) FROM jobs WHERE parent_id = ?1 GROUP BY state")?;
    let rows = stmt.query_map([parent_id], |row| {
        Ok((
            row.get::<_, super::StateColumn>(0)?.0,
            row.get::<_, i64>(1)?,
        ))
    })?;
    let mut status = BatchStatus::default();
    for row in rows {
        let (state, n) = row?;
        let n = u64::try_from(n).unwrap_or_default();
        match state {
            JobState::Queued => status.queued = n,
            JobState::Running => status.running = n,
            JobState::Succeeded => status.succeeded = n,
            JobState::Failed => status.failed = n,
            JobState::Cancelled => status.cancelled = n,
        }
    }
    Ok(status)
}

/// Queued and running jobs counted by type: one statement, each half answered from the partial
/// index that holds exactly that state (`jobs_claim` for queued, `jobs_lease` for running), so
/// the finished history that fills most of the table is never read. `'queued' < 'running'`, so
/// the order is type, then queued before running.
pub(super) const JOB_COUNTS_SQL: &str = "
    SELECT job_type, 'queued' AS state, count(*) FROM jobs
    WHERE state = 'queued' GROUP BY job_type
    UNION ALL
    SELECT job_type, 'running' AS state, count(*) FROM jobs
    WHERE state = 'running' GROUP BY job_type
    ORDER BY 1, 2";

/// [`brain_store::JobStore::job_counts`].
pub(super) fn job_counts(tx: &Transaction<'_>) -> Result<Vec<JobCount>> {
    let mut stmt = tx.prepare_cached(JOB_COUNTS_SQL)?;
    let rows = stmt.query_map([], |row| {
        Ok(JobCount {
            job_type: row.get(0)?,
            state: row.get::<_, super::StateColumn>(1)?.0,
            count: u64::try_from(row.get::<_, i64>(2)?).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
