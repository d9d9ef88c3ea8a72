//! The job queue on SQLite: [`JobStore`] for [`SqliteStore`].
//!
//! Every transition is one conditional `UPDATE` (still `running`, lease still held by the
//! reporting worker) inside the store's write transaction, so a late report from a worker whose
//! job was reclaimed changes nothing. Rows come back through `RETURNING` where a caller needs
//! them, so no transition reads a row a second time.
//!
//! This file holds the trait impl, which only picks the transaction (read or write) and hands
//! it to a function, and the row mapping every part shares (`COLUMNS`, `from_row` and the
//! column conversions). The transitions are split by who drives them: `enqueue` (validation,
//! dedupe and the outbox), `claim` (a worker's claim, heartbeats, progress and finish, and the
//! reaper), `schedule` (pausing types, and when the next job is due) and `admin` (cancel,
//! retry, prune and the reads).

mod admin;
mod claim;
mod enqueue;
mod recurring;
mod schedule;

use rusqlite::Row;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use serde_json::Value;

use super::SqliteStore;
use brain_store::jobs::{
    BatchStatus, ChangeNotifier, Enqueued, Job, JobCount, JobFilter, JobProgress, JobState,
    JobStore, NewJob, Outcome, WriteTx,
};
use brain_store::schedules::{Schedule, ScheduleDef};
use brain_store::{ChangeWhy, Result};

/// The columns [`from_row`] reads, in its order; shared by every `SELECT` and `RETURNING`.
const COLUMNS: &str = "id, job_type, state, priority, attempts, max_attempts, run_at_ms,
    created_ms, started_ms, finished_ms, worker, lease_until_ms, dedupe_key, parent_id,
    cancel_requested, progress_current, progress_total, progress_message, progress_ms, error,
    input, result, progress_phase";

/// A job's `state` column. A newtype because neither `FromSql` nor `JobState` is this crate's.
pub(super) struct StateColumn(pub(super) JobState);

impl FromSql for StateColumn {
    /// An unknown state can only come from a newer brain sharing the database (which would
    /// have bumped the schema version first), so it is a conversion error, not a panic.
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        JobState::parse(s)
            .map(StateColumn)
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
            // A phase this build does not know (a newer brain's) reads as none, not an error.
            phase: row
                .get::<_, Option<String>>(22)?
                .as_deref()
                .and_then(brain_core::Phase::parse),
        }),
    };
    Ok(Job {
        id: row.get(0)?,
        job_type: row.get(1)?,
        state: row.get::<_, StateColumn>(2)?.0,
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
        // One folder per SQLite store: no job is bound to another.
        replica: None,
        cancel_requested: row.get(14)?,
        progress,
        error: row.get(19)?,
        input: row.get::<_, Json>(20)?.0,
        result: row.get::<_, Option<Json>>(21)?.map(|j| j.0),
    })
}

impl JobStore for SqliteStore {
    fn enqueue(&self, jobs: &[NewJob], now_ms: i64) -> Result<Vec<Enqueued>> {
        self.write(|tx| {
            jobs.iter()
                .map(|j| enqueue::enqueue_one(tx, j, now_ms))
                .collect()
        })
    }

    fn claim(
        &self,
        worker: &str,
        types: &[(String, u32)],
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<Job>> {
        self.write(|tx| claim::claim(tx, worker, types, limit, now_ms, lease_ms))
    }

    fn heartbeat(&self, worker: &str, ids: &[i64], until_ms: i64) -> Result<Vec<i64>> {
        self.write(|tx| claim::heartbeat(tx, worker, ids, until_ms))
    }

    fn set_progress(&self, id: i64, worker: &str, progress: &JobProgress) -> Result<()> {
        self.write(|tx| claim::set_progress(tx, id, worker, progress))
    }

    fn finish(&self, id: i64, worker: &str, outcome: &Outcome, now_ms: i64) -> Result<bool> {
        self.write(|tx| claim::finish(tx, id, worker, outcome, now_ms))
    }

    fn cancel(&self, id: i64, now_ms: i64) -> Result<JobState> {
        self.write(|tx| admin::cancel(tx, id, now_ms))
    }

    fn retry(&self, id: i64, now_ms: i64) -> Result<Job> {
        self.write(|tx| admin::retry(tx, id, now_ms))
    }

    fn reap(&self, now_ms: i64) -> Result<Vec<i64>> {
        self.write(|tx| claim::reap(tx, now_ms))
    }

    fn prune(&self, before_ms: i64) -> Result<u64> {
        self.write(|tx| admin::prune(tx, before_ms))
    }

    fn job(&self, id: i64) -> Result<Job> {
        self.read(|tx| admin::job(tx, id))
    }

    fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        self.read(|tx| admin::list_jobs(tx, filter))
    }

    fn batch_status(&self, parent_id: i64) -> Result<BatchStatus> {
        self.read(|tx| admin::batch_status(tx, parent_id))
    }

    fn transaction(&self, body: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        self.write(|tx| {
            body(&mut enqueue::SqliteWriteTx {
                tx,
                why: ChangeWhy::by(crate::BRAIN),
            })
        })
    }

    fn pause_types(&self, types: &[&str], now_ms: i64) -> Result<()> {
        self.write(|tx| schedule::pause(tx, types, now_ms))
    }

    fn resume_types(&self, types: &[&str]) -> Result<()> {
        self.write(|tx| schedule::resume(tx, types))
    }

    fn paused_types(&self) -> Result<Vec<String>> {
        self.read(schedule::paused_types)
    }

    fn next_run_at(&self, types: &[String]) -> Result<Option<i64>> {
        self.read(|tx| schedule::next_run_at(tx, types))
    }

    fn change_notifier(&self) -> Option<&dyn ChangeNotifier> {
        Some(self)
    }

    fn job_counts(&self) -> Result<Vec<JobCount>> {
        self.read(admin::job_counts)
    }

    fn put_schedule(&self, def: &ScheduleDef, next_run_ms: i64) -> Result<()> {
        self.write(|tx| recurring::put(tx, def, next_run_ms))
    }

    fn remove_schedules(&self, source: &str, keep: &[&str]) -> Result<u64> {
        self.write(|tx| recurring::remove(tx, source, keep))
    }

    fn schedules(&self) -> Result<Vec<Schedule>> {
        self.read(recurring::list)
    }

    fn fire_schedule(
        &self,
        name: &str,
        due_ms: i64,
        next_ms: i64,
        job: &NewJob,
        now_ms: i64,
    ) -> Result<Option<Enqueued>> {
        job.validate()?;
        self.write(|tx| recurring::fire(tx, name, due_ms, next_ms, job, now_ms))
    }
}

#[cfg(test)]
mod plans;

impl ChangeNotifier for SqliteStore {
    /// SQLite's `PRAGMA data_version` on this store's one connection: it changes when another
    /// connection (in this process or another) commits, never for this connection's own
    /// commits, and costs no read of any table.
    fn version(&self) -> Result<i64> {
        Ok(self
            .lock()
            .pragma_query_value(None, "data_version", |row| row.get(0))?)
    }
}
