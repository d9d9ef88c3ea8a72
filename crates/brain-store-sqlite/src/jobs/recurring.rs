//! Schedules (migration 0007): the rows `brain_jobs::recurring` fires from. Firing is a
//! compare-and-set on `next_run_ms` in the transaction that enqueues the job, so one due time
//! fires once whichever process gets there first.

use rusqlite::{OptionalExtension, Transaction, params};

use super::enqueue;
use brain_store::Result;
use brain_store::jobs::{Enqueued, NewJob};
use brain_store::schedules::{Schedule, ScheduleDef};

/// Inserts or replaces `def`, keeping the timing of an unchanged definition.
pub(super) fn put(tx: &Transaction<'_>, def: &ScheduleDef, next_run_ms: i64) -> Result<()> {
    let input = serde_json::to_string(&def.input)?;
    tx.prepare_cached(
        "INSERT INTO schedules (name, job_type, input, timing, scope, source, next_run_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (name) DO UPDATE SET
             next_run_ms = CASE WHEN job_type = excluded.job_type AND input = excluded.input
                                 AND timing = excluded.timing AND scope = excluded.scope
                                THEN next_run_ms ELSE excluded.next_run_ms END,
             job_type = excluded.job_type, input = excluded.input, timing = excluded.timing,
             scope = excluded.scope, source = excluded.source",
    )?
    .execute(params![
        def.name,
        def.job_type,
        input,
        def.timing,
        def.scope,
        def.source,
        next_run_ms
    ])?;
    Ok(())
}

/// Deletes the schedules of `source` not named in `keep`.
pub(super) fn remove(tx: &Transaction<'_>, source: &str, keep: &[&str]) -> Result<u64> {
    let mut gone = 0;
    let names: Vec<String> = tx
        .prepare_cached("SELECT name FROM schedules WHERE source = ?1")?
        .query_map([source], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut delete = tx.prepare_cached("DELETE FROM schedules WHERE name = ?1")?;
    for name in names.iter().filter(|n| !keep.contains(&n.as_str())) {
        gone += delete.execute([name])? as u64;
    }
    Ok(gone)
}

/// Every schedule, by name.
pub(super) fn list(tx: &Transaction<'_>) -> Result<Vec<Schedule>> {
    let mut stmt = tx.prepare_cached(
        "SELECT name, job_type, input, timing, scope, source, next_run_ms, last_run_ms,
                last_job_id
         FROM schedules ORDER BY name",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((
            ScheduleDef {
                name: row.get(0)?,
                job_type: row.get(1)?,
                input: serde_json::Value::Null,
                timing: row.get(3)?,
                scope: row.get(4)?,
                source: row.get(5)?,
            },
            row.get::<_, String>(2)?,
            row.get::<_, i64>(6)?,
            row.get::<_, Option<i64>>(7)?,
            row.get::<_, Option<i64>>(8)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (mut def, input, next_run_ms, last_run_ms, last_job) = row?;
        def.input = serde_json::from_str(&input)?;
        out.push(Schedule {
            def,
            next_run_ms,
            last_run_ms,
            last_job,
        });
    }
    Ok(out)
}

/// Fires `name` if it is still due at `due_ms` (see `JobStore::fire_schedule`).
pub(super) fn fire(
    tx: &Transaction<'_>,
    name: &str,
    due_ms: i64,
    next_ms: i64,
    job: &NewJob,
    now_ms: i64,
) -> Result<Option<Enqueued>> {
    let claimed = tx
        .prepare_cached(
            "UPDATE schedules SET next_run_ms = ?3, last_run_ms = ?4
             WHERE name = ?1 AND next_run_ms = ?2
             RETURNING name",
        )?
        .query_row(params![name, due_ms, next_ms, now_ms], |row| {
            row.get::<_, String>(0)
        })
        .optional()?;
    if claimed.is_none() {
        return Ok(None);
    }
    let enqueued = enqueue::enqueue_one(tx, job, now_ms)?;
    tx.prepare_cached("UPDATE schedules SET last_job_id = ?2 WHERE name = ?1")?
        .execute(params![name, enqueued.id()])?;
    Ok(Some(enqueued))
}
