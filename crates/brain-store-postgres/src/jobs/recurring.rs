//! Schedules: the rows `brain_jobs::recurring` fires from. Firing is a compare-and-set on
//! `next_run_ms` in the transaction that enqueues the job, so one due time fires once
//! whichever process, on whichever machine, gets there first.
//!
//! A schedule of one folder is given with the scope `replica:local` ("this folder",
//! `brain_jobs::recurring::LOCAL_REPLICA`) and kept as that folder's own
//! (`replica:<its id>`): each folder of a shared store has its own `verify-scan`, and a handle
//! reads, fires and removes only the store's schedules and its own folder's.

use crate::db::{Db, get};
use brain_store::Result;
use brain_store::jobs::{Enqueued, NewJob};
use brain_store::schedules::{Schedule, ScheduleDef};

use super::enqueue;

/// The scope "this folder" as a folder-less caller gives it.
const THIS_FOLDER: &str = "replica:local";

/// The scope stored for `scope` given by the handle of `replica`.
fn stored(scope: &str, replica: &str) -> String {
    if scope == THIS_FOLDER {
        format!("replica:{replica}")
    } else {
        scope.to_string()
    }
}

/// SQL: the schedule row is the store's or `$N`'s folder's (`$N` the stored own scope).
fn ours(param: usize) -> String {
    format!(
        "(scope = '{}' OR scope = ${param})",
        brain_store::schedules::SCOPE_STORE
    )
}

pub(super) fn put(
    db: &mut Db<'_>,
    def: &ScheduleDef,
    next_run_ms: i64,
    replica: &str,
) -> Result<()> {
    let input = serde_json::to_string(&def.input)?;
    let scope = stored(&def.scope, replica);
    let own = stored(THIS_FOLDER, replica);
    // The same name in the other scope of this handle (a schedule moved between the store
    // and this folder) goes, so it never fires twice.
    db.execute(
        &format!(
            "DELETE FROM schedules WHERE name = $1 AND scope <> $2 AND {}",
            ours(3)
        ),
        &[&def.name, &scope, &own],
    )?;
    db.execute(
        "INSERT INTO schedules AS s (name, job_type, input, timing, scope, source, next_run_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (name, scope) DO UPDATE SET
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
            &scope,
            &def.source,
            &next_run_ms,
        ],
    )?;
    Ok(())
}

pub(super) fn remove(db: &mut Db<'_>, source: &str, keep: &[&str], replica: &str) -> Result<u64> {
    db.execute(
        &format!(
            "DELETE FROM schedules WHERE source = $1 AND NOT (name = ANY($2)) AND {}",
            ours(3)
        ),
        &[&source, &keep, &stored(THIS_FOLDER, replica)],
    )
}

/// The store's schedules and this folder's (its scope given back as `replica:local`).
pub(super) fn list(db: &mut Db<'_>, replica: &str) -> Result<Vec<Schedule>> {
    let own = stored(THIS_FOLDER, replica);
    let rows = db.query(
        &format!(
            "SELECT name, job_type, input, timing,
                    CASE WHEN scope = $1 THEN '{THIS_FOLDER}' ELSE scope END,
                    source, next_run_ms, last_run_ms, last_job_id
             FROM schedules WHERE {} ORDER BY name COLLATE \"C\"",
            ours(1)
        ),
        &[&own],
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
    let own = stored(THIS_FOLDER, replica);
    let claimed = db.query_opt(
        &format!(
            "UPDATE schedules SET next_run_ms = $3, last_run_ms = $4
             WHERE (name, scope) = (SELECT name, scope FROM schedules
                                    WHERE name = $1 AND next_run_ms = $2 AND {}
                                    ORDER BY scope = 'store' LIMIT 1 FOR UPDATE)
             RETURNING scope",
            ours(5)
        ),
        &[&name, &due_ms, &next_ms, &now_ms, &own],
    )?;
    let Some(claimed) = claimed else {
        return Ok(None);
    };
    let enqueued = enqueue::enqueue_one(db, job, now_ms, replica)?;
    let scope: String = get(&claimed, 0)?;
    db.execute(
        "UPDATE schedules SET last_job_id = $2 WHERE name = $1 AND scope = $3",
        &[&name, &enqueued.id(), &scope],
    )?;
    Ok(Some(enqueued))
}
