//! The persistent job queue's storage: what a job is, and the `JobStore` trait every backend
//! implements (SQLite now, PostgreSQL later, one conformance suite for both).
//!
//! ```text
//!            enqueue                 claim (lease)*           complete
//!  (new) ──────────────► queued ─────────────────► running ─────────────► succeeded
//!                          ▲  │                     │  │ fail, attempts < max
//!         retry (user) ────┘  │ cancel              │  └──────────────► queued (run_at = backoff)
//!         lease expired ──────┼─────────────────────┘  fail, attempts = max
//!         (reaper)            ▼                     ├──────────────────► failed
//!                         cancelled ◄───────────────┘ cancel requested, handler stopped
//!
//!  * only jobs whose run_at has come, of a type that is not paused
//! ```
//!
//! Every transition is one conditional update: a job is completed or failed only while it is
//! still `running` under the lease of the worker that reports, so a reclaimed job's late worker
//! cannot overwrite the new attempt.
//!
//! A job type can be **paused** ([`JobStore::pause_types`], for `brain sync pause`): its jobs
//! still enter `queued` (with dedupe) and can still be cancelled there, but the `claim` arrow
//! is closed for them in every process until [`JobStore::resume_types`]. Idle workers sleep
//! until the next `run_at` of a type they run ([`JobStore::next_run_at`], paused types left
//! out) and notice work enqueued by other processes through [`JobStore::change_notifier`].

mod types;

pub use types::{
    BatchStatus, DedupePolicy, Enqueued, Job, JobCount, JobFilter, JobProgress, JobState,
    LEASE_EXPIRED, LEASE_EXPIRED_LAST, NewJob, Outcome,
};

use crate::Result;

/// Storage of the job queue. Each method is one transaction.
pub trait JobStore: Send + Sync {
    /// Enqueues jobs in one transaction, applying each one's dedupe policy (a job sees the ones
    /// before it in the same call); returns one [`Enqueued`] per job, in order. A job with a
    /// priority outside 1-10, no attempts, a non-object input, no type or an unknown parent
    /// is refused with [`crate::StoreError::InvalidJob`] and nothing is enqueued.
    fn enqueue(&self, jobs: &[NewJob], now_ms: i64) -> Result<Vec<Enqueued>>;

    /// Claims up to `limit` queued jobs whose `run_at` has come, highest priority then oldest
    /// first, only of `types` and never of a paused type ([`JobStore::pause_types`]: the pause
    /// is read inside the claim's transaction, so it holds for every worker of every process
    /// from the commit of the pause on). Each type comes with its concurrency limit: at most that many
    /// jobs of the type run at once across every process, so the jobs of that type already
    /// running in the store (under any worker) use up part of it. Claimed jobs become `running`
    /// under `worker`'s lease until `now + lease_ms`, with `attempts + 1`, and are returned in
    /// claim order (priority, then id).
    fn claim(
        &self,
        worker: &str,
        types: &[(String, u32)],
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<Job>>;

    /// Extends the leases of `worker`'s running jobs `ids` to `until_ms`; returns the ids among
    /// them the worker should stop: those whose cancel was requested, and those it no longer
    /// holds (the reaper took the job back after a missed heartbeat, so another attempt may be
    /// running it now).
    fn heartbeat(&self, worker: &str, ids: &[i64], until_ms: i64) -> Result<Vec<i64>>;

    /// Records progress of a running job (only while it runs under `worker`; a report from a
    /// worker that lost the lease is dropped, not an error).
    fn set_progress(&self, id: i64, worker: &str, progress: &JobProgress) -> Result<()>;

    /// Ends an attempt. Applies only while the job is `running` under `worker`; returns whether
    /// it applied (false: the lease was lost and another attempt owns the job).
    fn finish(&self, id: i64, worker: &str, outcome: &Outcome, now_ms: i64) -> Result<bool>;

    /// Cancels a job: a queued one at once (returns its new state), a running one by setting
    /// `cancel_requested` (its worker stops it; returns `Running`). Finished jobs are left as
    /// they are (their state is returned). Cancelling a batch root does the same to every job
    /// under it, whatever the root's own state.
    fn cancel(&self, id: i64, now_ms: i64) -> Result<JobState>;

    /// Puts a failed or cancelled job back in the queue with a fresh set of attempts, to run now
    /// (its last error is kept). Any other state is refused with [`crate::StoreError::JobState`].
    fn retry(&self, id: i64, now_ms: i64) -> Result<Job>;

    /// Running jobs whose lease ended before `now_ms` go back to `queued` (or to `failed` when
    /// they have used every attempt, or to `cancelled` when a cancel was requested): their
    /// worker died. Returns the ids reclaimed, in id order.
    fn reap(&self, now_ms: i64) -> Result<Vec<i64>>;

    /// Deletes finished jobs that finished before `before_ms`; returns how many. A job with a
    /// descendant that is kept (unfinished, or finished later) is kept too, so a batch is never
    /// left with children whose root is gone.
    fn prune(&self, before_ms: i64) -> Result<u64>;

    /// One job.
    fn job(&self, id: i64) -> Result<Job>;

    /// Jobs, newest first.
    fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>>;

    /// Children of a batch root, counted by state. An unknown root is
    /// [`crate::StoreError::JobNotFound`].
    fn batch_status(&self, parent_id: i64) -> Result<BatchStatus>;

    /// Runs `body` in one write transaction that holds entity writes and enqueues together
    /// (the outbox): committed once when `body` returns `Ok`, rolled back entirely when it or
    /// any call in it fails. The one primitive an interface's write needs, so a crash can
    /// never leave a written entity without its follow-up job; the calls below are built on
    /// it.
    fn transaction(&self, body: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()>;

    /// Soft-deletes a live entity (as [`crate::Store::soft_delete`]) and enqueues `job` in the
    /// same transaction: the outbox for deletes. An invalid job or a missing entity changes
    /// nothing.
    fn soft_delete_and_enqueue(
        &self,
        r: &brain_core::EntityRef,
        job: &NewJob,
        now_ms: i64,
        why: &crate::ChangeWhy,
    ) -> Result<Enqueued> {
        job.validate()?;
        let mut out = None;
        self.transaction(&mut |tx| {
            tx.set_why(why);
            tx.soft_delete(r, now_ms)?;
            out = Some(tx.enqueue(job, now_ms)?);
            Ok(())
        })?;
        committed(out)
    }

    /// Restores a soft-deleted entity (as [`crate::Store::restore`]) and enqueues `job` in the
    /// same transaction.
    fn restore_and_enqueue(
        &self,
        r: &brain_core::EntityRef,
        job: &NewJob,
        now_ms: i64,
        why: &crate::ChangeWhy,
    ) -> Result<(crate::Entity, Enqueued)> {
        job.validate()?;
        let mut out = None;
        self.transaction(&mut |tx| {
            tx.set_why(why);
            let entity = tx.restore(r, now_ms)?;
            out = Some((entity, tx.enqueue(job, now_ms)?));
            Ok(())
        })?;
        committed(out)
    }

    /// Stores an entity (as [`crate::Store::put`]) and enqueues `job` in the same transaction:
    /// the outbox, so a crash can never leave a written entity without its export. The version
    /// it makes is by `why` (history).
    ///
    /// `expected_hash` makes it a compare-and-set (see [`WriteTx::put`]). The job is enqueued
    /// only when the put changed something: an `Unchanged` put returns `None`, since the
    /// entity is already as its last write (and that write's job) left it. An invalid job is
    /// refused before anything is written, whatever the put would have done.
    fn put_and_enqueue(
        &self,
        entity: &crate::Entity,
        expected_hash: Option<&str>,
        job: &NewJob,
        now_ms: i64,
        why: &crate::ChangeWhy,
    ) -> Result<(crate::PutOutcome, Option<Enqueued>)> {
        // Refused before the put, so an `Unchanged` put does not hide it.
        job.validate()?;
        let mut out = None;
        self.transaction(&mut |tx| {
            tx.set_why(why);
            let outcome = tx.put(entity, expected_hash)?;
            let enqueued = match outcome {
                crate::PutOutcome::Unchanged => None,
                crate::PutOutcome::Created | crate::PutOutcome::Updated => {
                    Some(tx.enqueue(job, now_ms)?)
                }
            };
            out = Some((outcome, enqueued));
            Ok(())
        })?;
        committed(out)
    }

    /// Pauses these job types: no worker in any process claims their jobs until they are
    /// resumed (`brain sync pause`, so a user can edit a vault without syncs running under
    /// them). Enqueue, dedupe and cancel go on as usual; running jobs are not stopped.
    /// Pausing a paused type changes nothing (it keeps its first `paused_ms`). On a store that
    /// several vault folders share, the pause is the calling folder's: its workers claim no job
    /// of these types (so its folder's jobs wait), and the other folders' workers go on.
    fn pause_types(&self, types: &[&str], now_ms: i64) -> Result<()>;

    /// Lets these job types be claimed again (resuming a type that is not paused changes
    /// nothing). Workers of other processes notice at their next claim: at once if they
    /// watch [`JobStore::change_notifier`], else within their idle poll.
    fn resume_types(&self, types: &[&str]) -> Result<()>;

    /// The paused job types, sorted (for `brain status` and `brain sync resume`).
    fn paused_types(&self) -> Result<Vec<String>>;

    /// The earliest `run_at_ms` among queued jobs of `types` that are not paused, or `None`
    /// if there is none. An idle worker sleeps until then (at most its idle poll), so a job
    /// delayed by a debounce starts on time rather than up to a poll interval late. The time
    /// may have passed already: that job is due but could not be claimed (its type is at its
    /// concurrency limit), and waiting for it is the caller's choice.
    fn next_run_at(&self, types: &[String]) -> Result<Option<i64>>;

    /// How this store tells a process that another one committed, if it can (see
    /// [`ChangeNotifier`]); `None` when it cannot, and workers then rely on their idle poll.
    fn change_notifier(&self) -> Option<&dyn ChangeNotifier>;

    /// Queued and running jobs counted by type and state (one row per pair that has any),
    /// sorted by type then state: the queue depth for `brain status`. On a store several vault
    /// folders share, the calling folder's jobs and the store-wide ones (not other folders').
    fn job_counts(&self) -> Result<Vec<JobCount>>;

    /// Adds a schedule, or replaces the one of the same name. A schedule whose definition is
    /// unchanged keeps its timing (restarting a daemon neither fires it again nor skips a
    /// firing); a new or changed one fires next at `next_run_ms`.
    fn put_schedule(&self, def: &crate::schedules::ScheduleDef, next_run_ms: i64) -> Result<()>;

    /// Removes the schedules defined by `source` whose names are not in `keep` (a schedule
    /// taken out of `config.toml`); returns how many went.
    fn remove_schedules(&self, source: &str, keep: &[&str]) -> Result<u64>;

    /// Every schedule, by name.
    fn schedules(&self) -> Result<Vec<crate::schedules::Schedule>>;

    /// Fires schedule `name` if it is still due at `due_ms`: enqueues `job` (with its dedupe
    /// policy, so a firing while the last one's job is still queued joins it) and moves the
    /// next run to `next_ms`, in one transaction. `None` when another scheduler fired it first,
    /// or it was changed or removed meanwhile: nothing is enqueued then.
    fn fire_schedule(
        &self,
        name: &str,
        due_ms: i64,
        next_ms: i64,
        job: &NewJob,
        now_ms: i64,
    ) -> Result<Option<Enqueued>>;
}

/// What [`JobStore::transaction`]'s body writes: entities and jobs, committed together.
pub trait WriteTx {
    /// What the changes this transaction makes from here on are made by, and why: each version
    /// they make keeps it (history). Unsaid, an interface write is by `brain`.
    fn set_why(&mut self, why: &crate::ChangeWhy);

    /// Stores an entity as an interface write (as [`crate::Store::put`]: dirty, so the next
    /// sync writes its file). `expected_hash` makes it a compare-and-set, so a writer on top of
    /// what it read never overwrites a change it did not see: `None` writes whatever is there;
    /// `Some(h)` writes only if the live entity's `content_hash` is `h` (an absent or
    /// soft-deleted entity never matches a hash); `Some("")` writes only if the entity is
    /// absent or soft-deleted (create, never replace). On a mismatch it returns
    /// [`crate::StoreError::Stale`].
    fn put(
        &mut self,
        entity: &crate::Entity,
        expected_hash: Option<&str>,
    ) -> Result<crate::PutOutcome>;

    /// Soft-deletes a live entity (as [`crate::Store::soft_delete`]).
    fn soft_delete(&mut self, r: &brain_core::EntityRef, now_ms: i64) -> Result<()>;

    /// Moves live entity `from` to `to`'s reference and path, content as `to` holds it: the
    /// same entity, so its history and `created_ms` go with it (`brain mv`). A live entity at
    /// the target is refused ([`crate::StoreError::Stale`] expecting none); a deleted one there
    /// is kept under another name; another note's path in another case or Unicode form is
    /// refused ([`crate::StoreError::PathCollision`]).
    fn move_to(&mut self, from: &brain_core::EntityRef, to: &crate::Entity) -> Result<()>;

    /// Brings back a soft-deleted entity (as [`crate::Store::restore`]).
    fn restore(&mut self, r: &brain_core::EntityRef, now_ms: i64) -> Result<crate::Entity>;

    /// Enqueues one job (validated, with its dedupe policy), as [`JobStore::enqueue`].
    fn enqueue(&mut self, job: &NewJob, now_ms: i64) -> Result<Enqueued>;
}

/// The value a committed transaction's body left. A body that returned `Ok` always sets it; a
/// backend whose `transaction` returned `Ok` without running its body broke the contract, which
/// is an error, not a panic.
fn committed<T>(out: Option<T>) -> Result<T> {
    out.ok_or_else(|| {
        crate::StoreError::Database("the store committed a transaction without running it".into())
    })
}

/// A capability a backend may have: telling a process that another process committed, without
/// reading any table, so a daemon's idle workers start a job a CLI enqueued at once. SQLite's
/// `PRAGMA data_version` on the store's connection; PostgreSQL will count `NOTIFY` messages its
/// `LISTEN` connection receives.
pub trait ChangeNotifier: Send + Sync {
    /// A number that changes whenever another connection or process commits to the store, and
    /// not for this store's own commits (so a busy daemon does not wake itself). Cheap enough
    /// to read every few milliseconds; only equality between two readings means anything.
    fn version(&self) -> Result<i64>;

    /// Waits until the version differs from `seen`, at most `timeout`, and returns it: a
    /// notifier that is told of commits (PostgreSQL's `LISTEN`) returns as soon as it hears
    /// one, so a job another process enqueued starts within the notification's delivery, not
    /// within a poll interval. `None` (the default) means this notifier can only be polled.
    fn wait_change(&self, seen: i64, timeout: std::time::Duration) -> Option<Result<i64>> {
        let _ = (seen, timeout);
        None
    }
}
