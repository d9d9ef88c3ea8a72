//! Getting jobs into the queue: [`brain_store::JobStore::enqueue`] and the outbox's write
//! transaction, as on SQLite: validation, a parent that must exist, and the dedupe policies
//! against a queued or running job with the same key (that row locked, so two enqueuers of
//! one key do not both insert).

use serde_json::{Map, Value};

use crate::db::{Db, get};
use crate::entities;
use brain_store::jobs::{DedupePolicy, Enqueued, NewJob, WriteTx};
use brain_store::{ChangeWhy, Entity, PutOutcome, Result, StoreError};

struct Duplicate {
    id: i64,
    queued: bool,
    input: String,
    priority: i32,
    run_at_ms: i64,
    max_attempts: i32,
}

/// The oldest queued job with the key, else a running one whose cancel was not requested.
fn duplicate(
    db: &mut Db<'_>,
    job_type: &str,
    key: &str,
    replica: Option<&str>,
) -> Result<Option<Duplicate>> {
    let row = db.query_opt(
        "SELECT id, state = 'queued', input, priority, run_at_ms, max_attempts FROM jobs
         WHERE job_type = $1 AND dedupe_key = $2 AND state IN ('queued', 'running')
           AND NOT cancel_requested AND replica IS NOT DISTINCT FROM $3
         ORDER BY state = 'running', id
         LIMIT 1
         FOR UPDATE",
        &[&job_type, &key, &replica],
    )?;
    row.map(|row| {
        Ok(Duplicate {
            id: get(&row, 0)?,
            queued: get(&row, 1)?,
            input: get(&row, 2)?,
            priority: get(&row, 3)?,
            run_at_ms: get(&row, 4)?,
            max_attempts: get(&row, 5)?,
        })
    })
    .transpose()
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

/// Enqueues one job, applying its dedupe policy.
/// Enqueues one job, applying its dedupe policy. A job bound to a folder
/// ([`NewJob::bound_to_replica`]) is `replica`'s, and dedupes only with that replica's jobs.
pub(super) fn enqueue_one(
    db: &mut Db<'_>,
    job: &NewJob,
    now_ms: i64,
    replica: &str,
) -> Result<Enqueued> {
    job.validate()?;
    let bound = job.bound_to_replica.then_some(replica);
    let priority = i32::from(job.priority);
    let max_attempts = i32::try_from(job.max_attempts).unwrap_or(i32::MAX);
    if let Some(parent) = job.parent_id
        && db
            .query_opt("SELECT 1 FROM jobs WHERE id = $1", &[&parent])?
            .is_none()
    {
        return Err(StoreError::InvalidJob(format!(
            "the parent of a {} job, #{parent}, does not exist (never created, or pruned): \
             enqueue the batch root first",
            job.job_type
        )));
    }
    if let Some((key, policy)) = &job.dedupe {
        // Two enqueuers of one key, each finding none, would both insert: the key is locked
        // for the rest of the transaction first.
        db.execute(
            "SELECT pg_advisory_xact_lock(
                 hashtext(current_schema() || ':' || $1 || ':' || $2 || ':' || coalesce($3, '')))",
            &[&job.job_type, &key, &bound],
        )?;
        if let Some(dup) = duplicate(db, &job.job_type, key, bound)? {
            match policy {
                DedupePolicy::Skip => return Ok(Enqueued::Existing(dup.id)),
                DedupePolicy::Replace if dup.queued => {
                    db.execute(
                        "UPDATE jobs SET input = $2, priority = $3, run_at_ms = $4,
                                         max_attempts = $5
                         WHERE id = $1",
                        &[
                            &dup.id,
                            &serde_json::to_string(&job.input)?,
                            &priority,
                            &job.run_at_ms,
                            &max_attempts,
                        ],
                    )?;
                    return Ok(Enqueued::Existing(dup.id));
                }
                DedupePolicy::Coalesce if dup.queued => {
                    let merged = match (serde_json::from_str::<Value>(&dup.input)?, &job.input) {
                        (Value::Object(mut old), Value::Object(new)) => {
                            coalesce_into(&mut old, new);
                            Value::Object(old)
                        }
                        (_, new) => new.clone(),
                    };
                    db.execute(
                        "UPDATE jobs SET input = $2, priority = $3, run_at_ms = $4,
                                         max_attempts = $5
                         WHERE id = $1",
                        &[
                            &dup.id,
                            &serde_json::to_string(&merged)?,
                            &dup.priority.max(priority),
                            &dup.run_at_ms.min(job.run_at_ms),
                            &dup.max_attempts.max(max_attempts),
                        ],
                    )?;
                    return Ok(Enqueued::Existing(dup.id));
                }
                DedupePolicy::Replace | DedupePolicy::Coalesce => {}
            }
        }
    }
    let row = db.query_one(
        "INSERT INTO jobs (job_type, state, priority, max_attempts, run_at_ms, created_ms,
                           dedupe_key, parent_id, input, replica)
         VALUES ($1, 'queued', $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING id",
        &[
            &job.job_type,
            &priority,
            &max_attempts,
            &job.run_at_ms,
            &now_ms,
            &job.dedupe.as_ref().map(|(key, _)| key.as_str()),
            &job.parent_id,
            &serde_json::to_string(&job.input)?,
            &bound,
        ],
    )?;
    Ok(Enqueued::Created(get(&row, 0)?))
}

/// The compare of [`WriteTx::put`]'s compare-and-set, on the row locked by `existing`.
fn check_expected(db: &mut Db<'_>, entity: &Entity, expected: &str, replica: &str) -> Result<()> {
    let actual = entities::existing(db, &entity.entity_ref, replica)?
        .filter(|e| e.deleted_ms.is_none())
        .map(|e| e.content_hash);
    let matches = match actual.as_deref() {
        None => expected.is_empty(),
        Some(hash) => !expected.is_empty() && hash == expected,
    };
    if matches {
        Ok(())
    } else {
        Err(StoreError::Stale {
            entity: entity.entity_ref.to_string(),
            expected: expected.to_string(),
            actual,
        })
    }
}

/// Entity writes and enqueues on one transaction, for [`brain_store::JobStore::transaction`].
pub(super) struct PgWriteTx<'a, 'c> {
    pub(super) db: &'a mut Db<'c>,
    /// The replica of the store handle writing.
    pub(super) replica: &'a str,
    /// Whether a job was enqueued (workers are told at commit).
    pub(super) enqueued: bool,
    /// What the versions this transaction makes are made by ([`WriteTx::set_why`]).
    pub(super) why: ChangeWhy,
}

impl WriteTx for PgWriteTx<'_, '_> {
    fn set_why(&mut self, why: &ChangeWhy) {
        self.why = why.clone();
    }

    fn put(&mut self, entity: &Entity, expected_hash: Option<&str>) -> Result<PutOutcome> {
        if let Some(expected) = expected_hash {
            check_expected(self.db, entity, expected, self.replica)?;
        }
        entities::put(self.db, entity, self.replica, &self.why)
    }

    fn soft_delete(&mut self, r: &brain_core::EntityRef, now_ms: i64) -> Result<()> {
        entities::soft_delete(self.db, r, now_ms, self.replica, &self.why)
    }

    fn move_to(&mut self, from: &brain_core::EntityRef, to: &Entity) -> Result<()> {
        entities::move_to(self.db, from, to, self.replica, &self.why)
    }

    fn restore(&mut self, r: &brain_core::EntityRef, now_ms: i64) -> Result<Entity> {
        entities::restore(self.db, r, now_ms, self.replica, &self.why)
    }

    fn enqueue(&mut self, job: &NewJob, now_ms: i64) -> Result<Enqueued> {
        self.enqueued = true;
        enqueue_one(self.db, job, now_ms, self.replica)
    }
}
