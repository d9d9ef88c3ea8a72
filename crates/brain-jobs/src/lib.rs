//! The job queue: every piece of work brains does is a job in the store, run by workers that
//! may live in another process.
//!
//! Roles, one per file (as River splits them): [`queue`] is the facade interfaces use (enqueue
//! with validation, cancel, retry, follow); [`executor`] runs claimed jobs on worker threads;
//! [`heartbeat`] keeps their leases and relays cancel requests; [`reaper`] reclaims jobs whose
//! worker died and prunes old ones; `watch` wakes idle workers when another process commits;
//! `idle` decides how long an idle worker sleeps; `signal` is what the pool's threads
//! sleep on until shutdown; [`vault_lock`] is the lock every job working on the vault folder
//! holds; [`progress`] persists and publishes progress; [`bus`] carries
//! events in-process; [`follow`] turns both into one stream per job for whoever shows it.
//! States and transitions are drawn in `brain_store::jobs`.
//!
//! Workers are OS threads, not async tasks: every handler today does blocking file and SQLite
//! work, and the event bus works from threads and async code alike.

pub mod backoff;
pub mod bus;
mod error;
pub mod executor;
pub mod follow;
pub mod handler;
mod heartbeat;
mod idle;
pub mod liveness;
pub mod progress;
pub mod queue;
mod reaper;
pub mod recurring;
mod signal;
pub mod vault_lock;
mod watch;

pub use bus::{Event, EventBus};
pub use error::QueueError;
pub use executor::{PoolConfig, WorkerPool};
pub use follow::{Follow, FollowEvent};
pub use handler::{Handler, JobContext, JobError, Registry};
pub use queue::{EnqueueRequest, Queue};
