//! The job queue on SQLite: [`JobStore`] for [`SqliteStore`].
//!
//! Every transition is one conditional `UPDATE` (still `running`, lease still held by the
//! reporting worker) inside the store's write transaction, so a late report from a worker whose
//! job was reclaimed changes nothing. Rows come back through `RETURNING` where a caller needs
//! them, so no transition reads a row a second time.

use std::cmp::Reverse;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde_json::{Map, Value};

use super::{SqliteStore, entities};
use crate::jobs::{
    BatchStatus, DedupePolicy, Enqueued, Job, JobFilter, JobProgress, JobState, JobStore, NewJob,
    Outcome,
};
use crate::{Entity, PutOutcome, Result, StoreError};

/// The columns [`from_row`] reads, in its order; shared by every `SELECT` and `RETURNING`.
const COLUMNS: &str = "id, job_type, state, priority, attempts, max_attempts, run_at_ms,
    created_ms, started_ms, finished_ms, worker, lease_until_ms, dedupe_key, parent_id,
    cancel_requested, progress_current, progress_total, progress_message, progress_ms, error,
    input, result";

/// The error a job gets when the reaper finds its last attempt's lease expired.
const LEASE_EXPIRED_LAST: &str = "worker stopped responding (lease expired) on the last attempt";
/// The error a job gets when the reaper puts it back in the queue for another attempt.
const LEASE_EXPIRED: &str = "worker stopped responding (lease expired); retrying";

impl FromSql for JobState {
    /// An unknown state can only come from a newer brain sharing the database (which would
    /// have bumped the schema version first), so it is a conversion error, not a panic.
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        JobState::parse(s)
            .ok_or_else(|| FromSqlError::Other(format!("unknown job state '{s}'").into()))
    }
}

/// A JSON column (a job's input or result), decoded while the row is read.
struct Json(Value);

impl FromSql for Json {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        serde_json::from_str(value.as_str()?)
            .map(Json)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// A progress counter: stored as SQLite's signed integer, never written negative.
fn counter(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    row.get::<_, Option<i64>>(idx)?
        .map(|v| u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v)))
        .transpose()
}

/// A counter as SQLite stores it; past `i64::MAX` (never in practice) it sticks at the top.
fn stored_counter(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    let progress = match row.get::<_, Option<i64>>(18)? {
        None => None,
        Some(updated_ms) => Some(JobProgress {
            current: counter(row, 15)?.unwrap_or_default(),
            total: counter(row, 16)?,
            message: row.get::<_, Option<String>>(17)?.unwrap_or_default(),
            updated_ms,
        }),
    };
    Ok(Job {
        id: row.get(0)?,
        job_type: row.get(1)?,
        state: row.get(2)?,
        priority: row.get(3)?,
        attempts: row.get(4)?,
        max_attempts: row.get(5)?,
        run_at_ms: row.get(6)?,
        created_ms: row.get(7)?,
        started_ms: row.get(8)?,
        finished_ms: row.get(9)?,
        worker: row.get(10)?,
        lease_until_ms: row.get(11)?,
        dedupe_key: row.get(12)?,
        parent_id: row.get(13)?,
        cancel_requested: row.get(14)?,
        progress,
        error: row.get(19)?,
        input: row.get::<_, Json>(20)?.0,
        result: row.get::<_, Option<Json>>(21)?.map(|j| j.0),
    })
}

/// Refuses a job that could never run as given, with what to change.
fn validate(job: &NewJob) -> Result<()> {
    let invalid = |msg: String| Err(StoreError::InvalidJob(msg));
    if job.job_type.is_empty() {
        return invalid("the job type is empty: name the handler that runs it".into());
    }
    let t = &job.job_type;
    if !(1..=10).contains(&job.priority) {
        return invalid(format!(
            "a {t} job has priority {}: use 1 (lowest) to 10 (highest)",
            job.priority
        ));
    }
    if job.max_attempts == 0 {
        return invalid(format!(
            "a {t} job allows 0 attempts: set max_attempts to 1 or more"
        ));
    }
    if !job.input.is_object() {
        let kind = match &job.input {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        return invalid(format!(
            "the input of a {t} job is {kind}: it must be a JSON object (wrap the value in a key)"
        ));
    }
    Ok(())
}

/// A queued or running job with the same type and dedupe key.
struct Duplicate {
    id: i64,
    queued: bool,
    input: String,
    priority: u8,
    run_at_ms: i64,
    max_attempts: u32,
}

/// The job a new one with `key` would duplicate: a queued one if there is any (the oldest),
/// else a running one whose cancel was not requested.
fn duplicate(tx: &Transaction<'_>, job_type: &str, key: &str) -> Result<Option<Duplicate>> {
    // `state IN (...)` is written exactly as in the partial index `jobs_dedupe`, which is
    // what lets SQLite use it.
    let mut stmt = tx.prepare_cached(
        "SELECT id, state = 'queued', input, priority, run_at_ms, max_attempts FROM jobs
         WHERE job_type = ?1 AND dedupe_key = ?2 AND state IN ('queued', 'running')
           AND cancel_requested = 0
         ORDER BY state = 'running', id
         LIMIT 1",
    )?;
    let found = stmt
        .query_row(params![job_type, key], |row| {
            Ok(Duplicate {
                id: row.get(0)?,
                queued: row.get(1)?,
                input: row.get(2)?,
                priority: row.get(3)?,
                run_at_ms: row.get(4)?,
                max_attempts: row.get(5)?,
            })
        })
        .optional()?;
    Ok(found)
}

/// Merges `new` into `old` as [`DedupePolicy::Coalesce`] says: arrays gain the items they do
/// not have yet, in order; every other key takes the new value.
fn coalesce_into(old: &mut Map<String, Value>, new: &Map<String, Value>) {
    for (key, value) in new {
        match (old.get_mut(key), value) {
            (Some(Value::Array(items)), Value::Array(more)) => {
                for item in more {
                    if !items.contains(item) {
                        items.push(item.clone());
                    }
                }
            }
            _ => {
                old.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Enqueues one job inside `tx`, applying its dedupe policy.
fn enqueue_one(tx: &Transaction<'_>, job: &NewJob, now_ms: i64) -> Result<Enqueued> {
    validate(job)?;
    if let Some(parent) = job.parent_id {
        let known = tx
            .prepare_cached("SELECT 1 FROM jobs WHERE id = ?1")?
            .exists([parent])?;
        if !known {
            return Err(StoreError::InvalidJob(format!(
                "the parent of a {} job, #{parent}, does not exist (never created, or pruned): \
                 enqueue the batch root first",
                job.job_type
            )));
        }
    }
    if let Some((key, policy)) = &job.dedupe
        && let Some(dup) = duplicate(tx, &job.job_type, key)?
    {
        match policy {
            DedupePolicy::Skip => return Ok(Enqueued::Existing(dup.id)),
            DedupePolicy::Replace if dup.queued => {
                tx.prepare_cached(
                    "UPDATE jobs SET input = ?2, priority = ?3, run_at_ms = ?4, max_attempts = ?5
                     WHERE id = ?1",
                )?
                .execute(params![
                    dup.id,
                    serde_json::to_string(&job.input)?,
                    job.priority,
                    job.run_at_ms,
                    job.max_attempts,
                ])?;
                return Ok(Enqueued::Existing(dup.id));
            }
            DedupePolicy::Coalesce if dup.queued => {
                let merged = match (serde_json::from_str::<Value>(&dup.input)?, &job.input) {
                    (Value::Object(mut old), Value::Object(new)) => {
                        coalesce_into(&mut old, new);
                        Value::Object(old)
                    }
                    // Only a database edited by hand holds a non-object input: the new one wins.
                    (_, new) => new.clone(),
                };
                tx.prepare_cached(
                    "UPDATE jobs SET input = ?2, priority = ?3, run_at_ms = ?4, max_attempts = ?5
                     WHERE id = ?1",
                )?
                .execute(params![
                    dup.id,
                    serde_json::to_string(&merged)?,
                    dup.priority.max(job.priority),
                    dup.run_at_ms.min(job.run_at_ms),
                    dup.max_attempts.max(job.max_attempts),
                ])?;
                return Ok(Enqueued::Existing(dup.id));
            }
            // Only a running job has the key: it may have read its input already, so the new
            // work gets a job of its own.
            DedupePolicy::Replace | DedupePolicy::Coalesce => {}
        }
    }
    tx.prepare_cached(
        "INSERT INTO jobs (job_type, state, priority, max_attempts, run_at_ms, created_ms,
                           dedupe_key, parent_id, input)
         VALUES (?1, 'queued', ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        job.job_type,
        job.priority,
        job.max_attempts,
        job.run_at_ms,
        now_ms,
        job.dedupe.as_ref().map(|(key, _)| key),
        job.parent_id,
        serde_json::to_string(&job.input)?,
    ])?;
    Ok(Enqueued::Created(tx.last_insert_rowid()))
}

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

/// [`JobStore::claim`] inside a write transaction.
///
/// Why one `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING` per type is safe here:
/// the transaction began with `BEGIN IMMEDIATE`, which takes SQLite's single write lock before
/// the first statement, so no other connection (thread or process) can write between the
/// running-count, the choice of rows and their update; two claimers are serialized and the
/// second sees the first's jobs as running. (PostgreSQL, with concurrent writers, will select
/// with `FOR UPDATE SKIP LOCKED` instead.)
fn claim(
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
    // A type listed twice counts once, with its larger limit.
    let mut limits: Vec<(&str, u32)> = Vec::with_capacity(types.len());
    for (job_type, max) in types {
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
                         progress_total = NULL, progress_message = NULL, progress_ms = NULL
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

fn heartbeat(tx: &Transaction<'_>, worker: &str, ids: &[i64], until_ms: i64) -> Result<Vec<i64>> {
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

fn set_progress(tx: &Transaction<'_>, id: i64, worker: &str, p: &JobProgress) -> Result<()> {
    tx.prepare_cached(
        "UPDATE jobs SET progress_current = ?3, progress_total = ?4, progress_message = ?5,
                         progress_ms = ?6
         WHERE id = ?1 AND state = 'running' AND worker = ?2",
    )?
    .execute(params![
        id,
        worker,
        stored_counter(p.current),
        p.total.map(stored_counter),
        p.message,
        p.updated_ms,
    ])?;
    Ok(())
}

fn finish(
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
        // SET expressions all see the row as it was, so `attempts < max_attempts` is the same
        // test in every CASE. A cancel request stops retries: the user asked for it to end.
        Outcome::Failed { error, retry_at_ms } => tx
            .prepare_cached(
                "UPDATE jobs SET
                    state = CASE WHEN cancel_requested THEN 'cancelled'
                                 WHEN attempts < max_attempts THEN 'queued'
                                 ELSE 'failed' END,
                    run_at_ms = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                                     THEN ?4 ELSE run_at_ms END,
                    finished_ms = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                                       THEN NULL ELSE ?5 END,
                    worker = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                                  THEN NULL ELSE worker END,
                    lease_until_ms = NULL,
                    error = ?3
                 WHERE id = ?1 AND state = 'running' AND worker = ?2",
            )?
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

fn state_of(tx: &Transaction<'_>, id: i64) -> Result<JobState> {
    tx.prepare_cached("SELECT state FROM jobs WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?
        .ok_or(StoreError::JobNotFound(id))
}

fn cancel(tx: &Transaction<'_>, id: i64, now_ms: i64) -> Result<JobState> {
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

fn retry(tx: &Transaction<'_>, id: i64, now_ms: i64) -> Result<Job> {
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

fn reap(tx: &Transaction<'_>, now_ms: i64) -> Result<Vec<i64>> {
    let mut stmt = tx.prepare_cached(
        "UPDATE jobs SET
            state = CASE WHEN cancel_requested THEN 'cancelled'
                         WHEN attempts < max_attempts THEN 'queued'
                         ELSE 'failed' END,
            run_at_ms = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                             THEN ?1 ELSE run_at_ms END,
            finished_ms = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                               THEN NULL ELSE ?1 END,
            worker = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                          THEN NULL ELSE worker END,
            error = CASE WHEN cancel_requested THEN error
                         WHEN attempts < max_attempts THEN ?2
                         ELSE ?3 END,
            lease_until_ms = NULL
         WHERE state = 'running' AND lease_until_ms < ?1
         RETURNING id",
    )?;
    let mut ids = stmt
        .query_map(params![now_ms, LEASE_EXPIRED, LEASE_EXPIRED_LAST], |row| {
            row.get::<_, i64>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    ids.sort_unstable();
    Ok(ids)
}

fn prune(tx: &Transaction<'_>, before_ms: i64) -> Result<u64> {
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

fn job(tx: &Transaction<'_>, id: i64) -> Result<Job> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1");
    tx.prepare_cached(&sql)?
        .query_row([id], from_row)
        .optional()?
        .ok_or(StoreError::JobNotFound(id))
}

fn list_jobs(tx: &Transaction<'_>, filter: &JobFilter) -> Result<Vec<Job>> {
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

fn batch_status(tx: &Transaction<'_>, parent_id: i64) -> Result<BatchStatus> {
    state_of(tx, parent_id)?;
    let mut stmt =
        tx.prepare_cached("SELECT state, count(*) FROM jobs WHERE parent_id = ?1 GROUP BY state")?;
    let rows = stmt.query_map([parent_id], |row| {
        Ok((row.get::<_, JobState>(0)?, row.get::<_, i64>(1)?))
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

impl JobStore for SqliteStore {
    fn enqueue(&self, jobs: &[NewJob], now_ms: i64) -> Result<Vec<Enqueued>> {
        self.write(|tx| jobs.iter().map(|j| enqueue_one(tx, j, now_ms)).collect())
    }

    fn claim(
        &self,
        worker: &str,
        types: &[(String, u32)],
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<Job>> {
        self.write(|tx| claim(tx, worker, types, limit, now_ms, lease_ms))
    }

    fn heartbeat(&self, worker: &str, ids: &[i64], until_ms: i64) -> Result<Vec<i64>> {
        self.write(|tx| heartbeat(tx, worker, ids, until_ms))
    }

    fn set_progress(&self, id: i64, worker: &str, progress: &JobProgress) -> Result<()> {
        self.write(|tx| set_progress(tx, id, worker, progress))
    }

    fn finish(&self, id: i64, worker: &str, outcome: &Outcome, now_ms: i64) -> Result<bool> {
        self.write(|tx| finish(tx, id, worker, outcome, now_ms))
    }

    fn cancel(&self, id: i64, now_ms: i64) -> Result<JobState> {
        self.write(|tx| cancel(tx, id, now_ms))
    }

    fn retry(&self, id: i64, now_ms: i64) -> Result<Job> {
        self.write(|tx| retry(tx, id, now_ms))
    }

    fn reap(&self, now_ms: i64) -> Result<Vec<i64>> {
        self.write(|tx| reap(tx, now_ms))
    }

    fn prune(&self, before_ms: i64) -> Result<u64> {
        self.write(|tx| prune(tx, before_ms))
    }

    fn job(&self, id: i64) -> Result<Job> {
        self.read(|tx| job(tx, id))
    }

    fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        self.read(|tx| list_jobs(tx, filter))
    }

    fn batch_status(&self, parent_id: i64) -> Result<BatchStatus> {
        self.read(|tx| batch_status(tx, parent_id))
    }

    fn put_and_enqueue(
        &self,
        entity: &Entity,
        job: &NewJob,
        now_ms: i64,
    ) -> Result<(PutOutcome, Option<Enqueued>)> {
        // Refuse a bad job before the put, so an `Unchanged` put does not hide it.
        validate(job)?;
        self.write(|tx| {
            let outcome = entities::put(tx, entity)?;
            let enqueued = match outcome {
                PutOutcome::Unchanged => None,
                PutOutcome::Created | PutOutcome::Updated => Some(enqueue_one(tx, job, now_ms)?),
            };
            Ok((outcome, enqueued))
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::coalesce_into;

    #[test]
    fn coalesce_appends_missing_items_and_overwrites_the_rest() {
        let mut old = json!({"paths": ["a", "b"], "mode": "fast", "kept": 1})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let new = json!({"paths": ["b", "c", "c", "a", "d"], "mode": "full", "extra": [1]});
        coalesce_into(&mut old, new.as_object().expect("object"));
        assert_eq!(
            serde_json::Value::Object(old),
            json!({"paths": ["a", "b", "c", "d"], "mode": "full", "kept": 1, "extra": [1]})
        );
    }
}
