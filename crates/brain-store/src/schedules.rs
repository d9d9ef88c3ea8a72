//! Recurring jobs (schedules) as the store keeps them.
//!
//! A schedule is a row, so every process and machine attached to the store sees the same ones,
//! and firing it is a compare-and-set on its due time in the transaction that enqueues its job
//! ([`crate::JobStore::fire_schedule`]): whichever scheduler fires a due time first enqueues the
//! job, every other one finds the time moved on and does nothing. A restart neither fires a
//! schedule twice nor loses a firing: the next due time is stored, and one that passed while
//! nothing ran is fired once when a scheduler next looks, then moved past now.
//!
//! When a schedule fires is computed by the scheduler (cron or interval, `brain_jobs::recurring`),
//! not by the store: the store keeps the definition as written and the due times.

use serde::Serialize;
use serde_json::Value;

/// Where a schedule fires: once for the whole store, or on one replica (a vault folder), for
/// jobs that work on a folder (the git timer, the verification scan).
pub const SCOPE_STORE: &str = "store";

/// A schedule as defined (in `config.toml`, or built in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScheduleDef {
    /// Unique name (`git-sync`, or the name given in `[[schedule]]`).
    pub name: String,
    /// The job type it enqueues.
    pub job_type: String,
    /// The job's input.
    pub input: Value,
    /// When, as written: `cron <expression>` or `every <seconds>s`.
    pub timing: String,
    /// [`SCOPE_STORE`], or `replica:<id>` for a schedule bound to one replica.
    pub scope: String,
    /// Who defined it (`config`, `builtin`), so a daemon removes the schedules its config no
    /// longer lists and no others.
    pub source: String,
}

/// A stored schedule with its timing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Schedule {
    /// Its definition.
    #[serde(flatten)]
    pub def: ScheduleDef,
    /// When it fires next (ms since the epoch).
    pub next_run_ms: i64,
    /// When it last fired.
    pub last_run_ms: Option<i64>,
    /// The job its last firing enqueued (or joined, when one was still queued).
    pub last_job: Option<i64>,
}
