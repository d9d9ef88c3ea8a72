//! What is done to jobs from outside a worker (cancel down a batch, retry, prune), the reads
//! (one job, a filtered list, a batch's counts, the queue depth), and pausing types.

use crate::db::{Db, get};
use brain_store::jobs::{BatchStatus, Job, JobCount, JobFilter, JobState};
use brain_store::{Result, StoreError};

use super::{COLUMNS, from_row, state_of};

fn state(db: &mut Db<'_>, id: i64, lock: bool) -> Result<JobState> {
    let sql = if lock {
        "SELECT state FROM jobs WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT state FROM jobs WHERE id = $1"
    };
    match db.query_opt(sql, &[&id])? {
        Some(row) => state_of(get(&row, 0)?),
        None => Err(StoreError::JobNotFound(id)),
    }
}

pub(super) fn cancel(db: &mut Db<'_>, id: i64, now_ms: i64) -> Result<JobState> {
    let out = match state(db, id, true)? {
        JobState::Queued => {
            db.execute(
                "UPDATE jobs SET state = 'cancelled', finished_ms = $2 WHERE id = $1",
                &[&id, &now_ms],
            )?;
            JobState::Cancelled
        }
        JobState::Running => {
            db.execute(
                "UPDATE jobs SET cancel_requested = true WHERE id = $1",
                &[&id],
            )?;
            JobState::Running
        }
        finished => finished,
    };
    db.execute(
        "WITH RECURSIVE under(id) AS (
             SELECT id FROM jobs WHERE parent_id = $1
             UNION SELECT jobs.id FROM jobs JOIN under ON jobs.parent_id = under.id)
         UPDATE jobs SET state = 'cancelled', finished_ms = $2
         WHERE state = 'queued' AND id IN (SELECT id FROM under)",
        &[&id, &now_ms],
    )?;
    db.execute(
        "WITH RECURSIVE under(id) AS (
             SELECT id FROM jobs WHERE parent_id = $1
             UNION SELECT jobs.id FROM jobs JOIN under ON jobs.parent_id = under.id)
         UPDATE jobs SET cancel_requested = true
         WHERE state = 'running' AND id IN (SELECT id FROM under)",
        &[&id],
    )?;
    Ok(out)
}

pub(super) fn retry(db: &mut Db<'_>, id: i64, now_ms: i64) -> Result<Job> {
    let s = state(db, id, true)?;
    if !matches!(s, JobState::Failed | JobState::Cancelled) {
        return Err(StoreError::JobState {
            id,
            state: s.as_str(),
            what: "only failed or cancelled jobs can be retried",
        });
    }
    let row = db.query_one(
        &format!(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_at_ms = $2, finished_ms = NULL,
                             cancel_requested = false, worker = NULL, lease_until_ms = NULL
             WHERE id = $1
             RETURNING {COLUMNS}"
        ),
        &[&id, &now_ms],
    )?;
    from_row(&row)
}

/// [`brain_store::JobStore::prune`] in two statements. The first locks the finished jobs old
/// enough to go (`FOR UPDATE SKIP LOCKED`: one that a retry, or an enqueue naming it as
/// parent, holds is left for the next prune). The second, whose snapshot is taken after those
/// locks, deletes them except every ancestor of a job that stays, so a batch root with a
/// running child, a child finished later or a child left locked stays with it. A child
/// committed under a root before the second statement is in its snapshot; one not yet
/// committed holds the root (`FOR KEY SHARE`), so the root was not locked here; one enqueued
/// later waits for this commit and finds its parent gone. A delete so never breaks the parent
/// key, which one statement could (its snapshot predates a child committed while it locked).
pub(super) fn prune(db: &mut Db<'_>, before_ms: i64) -> Result<u64> {
    let rows = db.query(
        "SELECT id FROM jobs
         WHERE finished_ms < $1 AND state IN ('succeeded', 'failed', 'cancelled')
         FOR UPDATE SKIP LOCKED",
        &[&before_ms],
    )?;
    let ids = rows
        .iter()
        .map(|row| get::<i64>(row, 0))
        .collect::<Result<Vec<_>>>()?;
    if ids.is_empty() {
        return Ok(0);
    }
    // Joined against the array (`unnest`), not searched with `= ANY`, so a long history is
    // hashed once rather than scanned for every row.
    db.execute(
        "WITH RECURSIVE going(id) AS MATERIALIZED (SELECT unnest($1::bigint[])),
         keep(id) AS (
             SELECT j.parent_id FROM jobs j
             WHERE j.parent_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM going g WHERE g.id = j.id)
             UNION SELECT jobs.parent_id FROM jobs JOIN keep ON jobs.id = keep.id
             WHERE jobs.parent_id IS NOT NULL)
         DELETE FROM jobs
         WHERE id IN (SELECT id FROM going) AND id NOT IN (SELECT id FROM keep)",
        &[&ids],
    )
}

pub(super) fn job(db: &mut Db<'_>, id: i64) -> Result<Job> {
    match db.query_opt(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"), &[&id])? {
        Some(row) => from_row(&row),
        None => Err(StoreError::JobNotFound(id)),
    }
}

pub(super) fn list_jobs(db: &mut Db<'_>, filter: &JobFilter) -> Result<Vec<Job>> {
    let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
    let limit = if filter.limit == 0 {
        i64::MAX
    } else {
        i64::try_from(filter.limit).unwrap_or(i64::MAX)
    };
    let rows = db.query(
        &format!(
            "SELECT {COLUMNS} FROM jobs
             WHERE (cardinality($1::text[]) = 0 OR state = ANY($1))
               AND ($2::text IS NULL OR job_type = $2)
               AND ($3::bigint IS NULL OR parent_id = $3)
             ORDER BY id DESC LIMIT $4"
        ),
        &[&states, &filter.job_type, &filter.parent_id, &limit],
    )?;
    rows.iter().map(from_row).collect()
}

pub(super) fn batch_status(db: &mut Db<'_>, parent_id: i64) -> Result<BatchStatus> {
    state(db, parent_id, false)?;
    let rows = db.query(
        "SELECT state, count(*) FROM jobs WHERE parent_id = $1 GROUP BY state",
        &[&parent_id],
    )?;
    let mut status = BatchStatus::default();
    for row in &rows {
        let n = u64::try_from(get::<i64>(row, 1)?).unwrap_or_default();
        match state_of(get(row, 0)?)? {
            JobState::Queued => status.queued = n,
            JobState::Running => status.running = n,
            JobState::Succeeded => status.succeeded = n,
            JobState::Failed => status.failed = n,
            JobState::Cancelled => status.cancelled = n,
        }
    }
    Ok(status)
}

/// Queued and running jobs counted by type, each half from its partial index.
/// The queue depth this folder sees: store-wide jobs and its own (not other folders').
pub(super) fn job_counts(db: &mut Db<'_>, replica: &str) -> Result<Vec<JobCount>> {
    let rows = db.query(
        "SELECT job_type, state, n FROM (
             SELECT job_type, 'queued' AS state, count(*) AS n FROM jobs
             WHERE state = 'queued' AND (replica IS NULL OR replica = $1) GROUP BY job_type
             UNION ALL
             SELECT job_type, 'running' AS state, count(*) AS n FROM jobs
             WHERE state = 'running' AND (replica IS NULL OR replica = $1) GROUP BY job_type) counts
         ORDER BY job_type COLLATE \"C\", state",
        &[&replica],
    )?;
    rows.iter()
        .map(|row| {
            Ok(JobCount {
                job_type: get(row, 0)?,
                state: state_of(get(row, 1)?)?,
                count: u64::try_from(get::<i64>(row, 2)?).unwrap_or_default(),
            })
        })
        .collect()
}

/// Pauses `types` for this folder (migration 0005): its workers claim no job of those types.
pub(super) fn pause(db: &mut Db<'_>, types: &[&str], now_ms: i64, replica: &str) -> Result<()> {
    for job_type in types {
        db.execute(
            "INSERT INTO job_type_pauses (job_type, replica, paused_ms) VALUES ($1, $2, $3)
             ON CONFLICT (job_type, replica) DO NOTHING",
            &[job_type, &replica, &now_ms],
        )?;
    }
    Ok(())
}

/// Lifts this folder's pause of `types`, and a store-wide one made before migration 0005.
pub(super) fn resume(db: &mut Db<'_>, types: &[&str], replica: &str) -> Result<()> {
    db.execute(
        "DELETE FROM job_type_pauses WHERE job_type = ANY($1) AND replica IN ('', $2)",
        &[&types, &replica],
    )?;
    Ok(())
}

/// The types paused for this folder (its own pauses and store-wide ones).
pub(super) fn paused_types(db: &mut Db<'_>, replica: &str) -> Result<Vec<String>> {
    db.query(
        "SELECT DISTINCT job_type COLLATE \"C\" FROM job_type_pauses WHERE replica IN ('', $1)
         ORDER BY 1",
        &[&replica],
    )?
    .iter()
    .map(|r| get(r, 0))
    .collect()
}

/// The folders (replica ids) with a pause of their own, for the folder list of `brain status`.
pub(crate) fn paused_replicas(db: &mut Db<'_>) -> Result<Vec<String>> {
    db.query(
        "SELECT DISTINCT replica FROM job_type_pauses WHERE replica <> ''",
        &[],
    )?
    .iter()
    .map(|r| get(r, 0))
    .collect()
}

/// The earliest due time among the queued jobs this folder's workers may claim: store-wide
/// ones and its own, of types not paused for them.
pub(super) fn next_run_at(db: &mut Db<'_>, types: &[String], replica: &str) -> Result<Option<i64>> {
    if types.is_empty() {
        return Ok(None);
    }
    let row = db.query_one(
        "SELECT min(run_at_ms) FROM jobs j
         WHERE j.state = 'queued' AND j.job_type = ANY($1)
           AND (j.replica IS NULL OR j.replica = $2)
           AND NOT EXISTS (
               SELECT 1 FROM job_type_pauses p
               WHERE p.job_type = j.job_type AND p.replica IN ('', $2))",
        &[&types, &replica],
    )?;
    get(&row, 0)
}
