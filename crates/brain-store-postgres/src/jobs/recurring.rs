//! Schedules: the rows `brain_jobs::recurring` fires from. Firing is a compare-and-set on
//! `next_run_ms` in the transaction that enqueues the job, so one due time fires once
//! whichever process, on whichever machine, gets there first.

use crate::db::{Db, get};
use brain_store::Result;
use brain_store::jobs::{Enqueued, NewJob};
use brain_store::schedules::{Schedule, ScheduleDef};

use super::enqueue;

pub(super) fn put(db: &mut Db<'_>, def: &ScheduleDef, next_run_ms: i64) -> Result<()> {
    let input = serde_json::to_string(&def.input)?;
    db.execute(
        "INSERT INTO schedules AS s (name, job_type, input, timing, scope, source, next_run_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (name) DO UPDATE SET
             next_run_ms = CASE WHEN s.job_type = excluded.job_type AND s.input = excluded.input
                                 AND s.timing = excluded.timing AND s.scope = excluded.scope
                                THEN s.next_run_ms ELSE excluded.next_run_ms END,
             job_type = excluded.job_type, input = excluded.input, timing = excluded.timing,
             scope = excluded.scope, source = excluded.source",
        &[
            &def.name,
            &def.job_type,
            &input,
            &def.timing,
            &def.scope,
            &def.source,
            &next_run_ms,
        ],
    )?;
    Ok(())
}

pub(super) fn remove(db: &mut Db<'_>, source: &str, keep: &[&str]) -> Result<u64> {
    db.execute(
        "DELETE FROM schedules WHERE source = $1 AND NOT (name = ANY($2))",
        &[&source, &keep],
    )
}

pub(super) fn list(db: &mut Db<'_>) -> Result<Vec<Schedule>> {
    let rows = db.query(
        "SELECT name, job_type, input, timing, scope, source, next_run_ms, last_run_ms,
                last_job_id
         FROM schedules ORDER BY name COLLATE \"C\"",
        &[],
    )?;
    rows.iter()
        .map(|row| {
            let input: String = get(row, 2)?;
            Ok(Schedule {
                def: ScheduleDef {
                    name: get(row, 0)?,
                    job_type: get(row, 1)?,
                    input: serde_json::from_str(&input)?,
                    timing: get(row, 3)?,
                    scope: get(row, 4)?,
                    source: get(row, 5)?,
                },
                next_run_ms: get(row, 6)?,
                last_run_ms: get(row, 7)?,
                last_job: get(row, 8)?,
            })
        })
        .collect()
}

pub(super) fn fire(
    db: &mut Db<'_>,
    name: &str,
    due_ms: i64,
    next_ms: i64,
    job: &NewJob,
    now_ms: i64,
    replica: &str,
) -> Result<Option<Enqueued>> {
    let claimed = db.query_opt(
        "UPDATE schedules SET next_run_ms = $3, last_run_ms = $4
         WHERE name = $1 AND next_run_ms = $2
         RETURNING name",
        &[&name, &due_ms, &next_ms, &now_ms],
    )?;
    if claimed.is_none() {
        return Ok(None);
    }
    let enqueued = enqueue::enqueue_one(db, job, now_ms, replica)?;
    db.execute(
        "UPDATE schedules SET last_job_id = $2 WHERE name = $1",
        &[&name, &enqueued.id()],
    )?;
    Ok(Some(enqueued))
}
