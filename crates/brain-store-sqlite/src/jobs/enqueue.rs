//! Getting jobs into the queue: [`JobStore::enqueue`] and the outbox's write transaction
//! ([`JobStore::transaction`]).
//!
//! Everything a new job goes through before its row exists: validation, a parent that must
//! exist, and the dedupe policies (skip, replace, coalesce) against a queued or running job
//! with the same key. Kept apart from the worker's transitions because none of it touches a
//! lease.
//!
//! [`JobStore::enqueue`]: brain_store::JobStore::enqueue
//! [`JobStore::transaction`]: brain_store::JobStore::transaction

use crate::tx::StoreTx;
use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Map, Value};

use crate::entities;
use brain_store::jobs::WriteTx;
use brain_store::jobs::{DedupePolicy, Enqueued, NewJob};
use brain_store::{ChangeWhy, Entity, PutOutcome, Result, StoreError};

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
pub(super) fn enqueue_one(tx: &Transaction<'_>, job: &NewJob, now_ms: i64) -> Result<Enqueued> {
    job.validate()?;
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

/// The compare of [`WriteTx::put`]'s compare-and-set: refuses with
/// [`StoreError::Stale`] unless the live entity's hash is `expected` (`""`: no live entity).
/// Read inside the put's write transaction, so nothing can change between compare and set.
///
fn check_expected(tx: &Transaction<'_>, entity: &Entity, expected: &str) -> Result<()> {
    let actual = entities::existing(tx, &entity.entity_ref)?
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

/// The write transaction [`brain_store::JobStore::transaction`] hands its body: entity writes
/// and enqueues on one SQLite transaction, committed once by the caller.
pub(super) struct SqliteWriteTx<'a, 'conn> {
    pub(super) tx: &'a StoreTx<'conn>,
    /// What the versions this transaction makes are made by ([`WriteTx::set_why`]).
    pub(super) why: ChangeWhy,
}

impl WriteTx for SqliteWriteTx<'_, '_> {
    fn set_why(&mut self, why: &ChangeWhy) {
        self.why = why.clone();
    }

    fn put(&mut self, entity: &Entity, expected_hash: Option<&str>) -> Result<PutOutcome> {
        if let Some(expected) = expected_hash {
            check_expected(self.tx, entity, expected)?;
        }
        entities::put(self.tx, entity, &self.why)
    }

    fn soft_delete(&mut self, r: &brain_core::EntityRef, now_ms: i64) -> Result<()> {
        entities::soft_delete(self.tx, r, now_ms, &self.why)
    }

    fn move_to(&mut self, from: &brain_core::EntityRef, to: &Entity) -> Result<()> {
        entities::move_to(self.tx, from, to, &self.why)
    }

    fn restore(&mut self, r: &brain_core::EntityRef, now_ms: i64) -> Result<Entity> {
        entities::restore(self.tx, r, now_ms, &self.why)
    }

    fn enqueue(&mut self, job: &NewJob, now_ms: i64) -> Result<Enqueued> {
        enqueue_one(self.tx, job, now_ms)
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
