//! The job queue on PostgreSQL ([`JobStore`] for [`PgStore`]), the SQLite queue's transitions
//! over concurrent writers.
//!
//! Every transition is one conditional `UPDATE` (still `running`, lease still held by the
//! reporting worker), so a late report from a worker whose job was reclaimed changes nothing.
//! What differs from SQLite, where one writer at a time makes a claim trivially safe: claims
//! select with `FOR UPDATE SKIP LOCKED` (two claimers never take the same job nor wait on each
//! other's rows) under a transaction-level advisory lock per job type, so the running count a
//! per-type limit is checked against cannot change under the claim (`claim.rs`); and every
//! commit that gives workers something to do sends `NOTIFY` on the store's channel, which
//! idle workers of other processes hear (`notify.rs`).

mod admin;
mod claim;
mod enqueue;
pub(crate) mod notify;
mod recurring;
pub(crate) use admin::paused_replicas;

use postgres::Row;
use serde_json::Value;

use crate::PgStore;
use crate::db::{Db, get};
use brain_store::jobs::{
    BatchStatus, ChangeNotifier, Enqueued, Job, JobCount, JobFilter, JobProgress, JobState,
    JobStore, NewJob, Outcome, WriteTx,
};
use brain_store::schedules::{Schedule, ScheduleDef};
use brain_store::{Result, StoreError};

/// The columns [`from_row`] reads, in its order; shared by every `SELECT` and `RETURNING`.
const COLUMNS: &str = "id, job_type, state, priority, attempts, max_attempts, run_at_ms,
    created_ms, started_ms, finished_ms, worker, lease_until_ms, dedupe_key, parent_id,
    cancel_requested, progress_current, progress_total, progress_message, progress_ms, error,
    input, result, progress_phase, replica";

/// Tells idle workers of every other store handle that there is something to claim (sent at
/// commit), marked with `token`, this handle's own, which its own listener skips.
pub(crate) fn notify(db: &mut Db<'_>, token: &str) -> Result<()> {
    db.execute(
        &format!("SELECT pg_notify({}, $1::text)", notify::CHANNEL_SQL),
        &[&token],
    )?;
    Ok(())
}

fn state_of(s: &str) -> Result<JobState> {
    // An unknown state can only come from a newer brain sharing the database.
    JobState::parse(s)
        .ok_or_else(|| StoreError::Database(format!("unknown job state '{s}'").into()))
}

fn counter(row: &Row, idx: usize) -> Result<Option<u64>> {
    Ok(get::<Option<i64>>(row, idx)?.map(|v| u64::try_from(v).unwrap_or(0)))
}

/// A counter as stored; past `i64::MAX` (never in practice) it sticks at the top.
fn stored_counter(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_row(row: &Row) -> Result<Job> {
    let progress = match get::<Option<i64>>(row, 18)? {
        None => None,
        Some(updated_ms) => Some(JobProgress {
            current: counter(row, 15)?.unwrap_or_default(),
            total: counter(row, 16)?,
            message: get::<Option<String>>(row, 17)?.unwrap_or_default(),
            updated_ms,
            phase: get::<Option<String>>(row, 22)?
                .as_deref()
                .and_then(brain_core::Phase::parse),
        }),
    };
    let input: String = get(row, 20)?;
    let result: Option<String> = get(row, 21)?;
    Ok(Job {
        id: get(row, 0)?,
        job_type: get(row, 1)?,
        state: state_of(get(row, 2)?)?,
        priority: u8::try_from(get::<i32>(row, 3)?).unwrap_or(1),
        attempts: u32::try_from(get::<i32>(row, 4)?).unwrap_or(0),
        max_attempts: u32::try_from(get::<i32>(row, 5)?).unwrap_or(1),
        run_at_ms: get(row, 6)?,
        created_ms: get(row, 7)?,
        started_ms: get(row, 8)?,
        finished_ms: get(row, 9)?,
        worker: get(row, 10)?,
        lease_until_ms: get(row, 11)?,
        dedupe_key: get(row, 12)?,
        parent_id: get(row, 13)?,
        replica: get(row, 23)?,
        cancel_requested: get(row, 14)?,
        progress,
        error: get(row, 19)?,
        input: serde_json::from_str::<Value>(&input)?,
        result: result.map(|r| serde_json::from_str(&r)).transpose()?,
    })
}

impl JobStore for PgStore {
    fn enqueue(&self, jobs: &[NewJob], now_ms: i64) -> Result<Vec<Enqueued>> {
        for j in jobs {
            j.validate()?;
        }
        self.pool.write(|db| {
            let out = jobs
                .iter()
                .map(|j| enqueue::enqueue_one(db, j, now_ms, &self.replica))
                .collect::<Result<Vec<_>>>()?;
            notify(db, self.notifier.token())?;
            Ok(out)
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
        self.pool
            .single(|one| claim::claim(one, worker, types, limit, now_ms, lease_ms, &self.replica))
    }

    fn heartbeat(&self, worker: &str, ids: &[i64], until_ms: i64) -> Result<Vec<i64>> {
        self.pool
            .single(|one| claim::heartbeat(one, worker, ids, until_ms))
    }

    fn set_progress(&self, id: i64, worker: &str, progress: &JobProgress) -> Result<()> {
        self.pool
            .single(|one| claim::set_progress(one, id, worker, progress))
    }

    fn finish(&self, id: i64, worker: &str, outcome: &Outcome, now_ms: i64) -> Result<bool> {
        self.pool
            .single(|one| claim::finish(one, id, worker, outcome, now_ms))
    }

    fn cancel(&self, id: i64, now_ms: i64) -> Result<JobState> {
        self.pool.write(|db| admin::cancel(db, id, now_ms))
    }

    fn retry(&self, id: i64, now_ms: i64) -> Result<Job> {
        self.pool.write(|db| {
            let job = admin::retry(db, id, now_ms)?;
            notify(db, self.notifier.token())?;
            Ok(job)
        })
    }

    fn reap(&self, now_ms: i64) -> Result<Vec<i64>> {
        self.pool.write(|db| {
            let ids = claim::reap(db, now_ms)?;
            if !ids.is_empty() {
                notify(db, self.notifier.token())?;
            }
            Ok(ids)
        })
    }

    fn prune(&self, before_ms: i64) -> Result<u64> {
        self.pool.write(|db| admin::prune(db, before_ms))
    }

    fn job(&self, id: i64) -> Result<Job> {
        self.pool.read(|db| admin::job(db, id))
    }

    fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        self.pool.read(|db| admin::list_jobs(db, filter))
    }

    fn batch_status(&self, parent_id: i64) -> Result<BatchStatus> {
        self.pool.read(|db| admin::batch_status(db, parent_id))
    }

    fn transaction(&self, body: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        self.pool.write(|db| {
            let mut tx = enqueue::PgWriteTx {
                db,
                replica: &self.replica,
                enqueued: false,
                why: brain_store::ChangeWhy::by(crate::BRAIN),
            };
            body(&mut tx)?;
            if tx.enqueued {
                notify(tx.db, self.notifier.token())?;
            }
            Ok(())
        })
    }

    fn pause_types(&self, types: &[&str], now_ms: i64) -> Result<()> {
        self.pool
            .write(|db| admin::pause(db, types, now_ms, &self.replica))
    }

    fn resume_types(&self, types: &[&str]) -> Result<()> {
        self.pool.write(|db| {
            admin::resume(db, types, &self.replica)?;
            notify(db, self.notifier.token())
        })
    }

    fn paused_types(&self) -> Result<Vec<String>> {
        self.pool.read(|db| admin::paused_types(db, &self.replica))
    }

    fn next_run_at(&self, types: &[String]) -> Result<Option<i64>> {
        self.pool
            .read(|db| admin::next_run_at(db, types, &self.replica))
    }

    fn change_notifier(&self) -> Option<&dyn ChangeNotifier> {
        Some(&self.notifier)
    }

    fn job_counts(&self) -> Result<Vec<JobCount>> {
        self.pool.read(|db| admin::job_counts(db, &self.replica))
    }

    fn put_schedule(&self, def: &ScheduleDef, next_run_ms: i64) -> Result<()> {
        self.pool
            .write(|db| recurring::put(db, def, next_run_ms, &self.replica))
    }

    fn remove_schedules(&self, source: &str, keep: &[&str]) -> Result<u64> {
        self.pool
            .write(|db| recurring::remove(db, source, keep, &self.replica))
    }

    fn schedules(&self) -> Result<Vec<Schedule>> {
        self.pool.read(|db| recurring::list(db, &self.replica))
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
        self.pool.write(|db| {
            let fired = recurring::fire(db, name, due_ms, next_ms, job, now_ms, &self.replica)?;
            if fired.is_some() {
                notify(db, self.notifier.token())?;
            }
            Ok(fired)
        })
    }
}
