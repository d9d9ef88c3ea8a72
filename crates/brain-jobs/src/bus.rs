//! The in-process event bus. Interfaces in this process subscribe to follow jobs live (and,
//! under a running plugin runtime, to hear of entity changes); a process that did not run a
//! job follows it by reading the store instead.

use brain_core::EntityRef;
use brain_store::jobs::{JobProgress, JobState};
use tokio::sync::broadcast;

/// Something that happened to a job, or to an entity.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A job reported progress.
    Progress {
        /// The job.
        id: i64,
        /// The attempt reporting it (the job's `attempts` when it was claimed), so a follower
        /// never mistakes an attempt's report for another's.
        attempt: u32,
        /// Its progress.
        progress: JobProgress,
    },
    /// A job started running.
    Started {
        /// The job.
        id: i64,
        /// Which attempt this is (1 for the first).
        attempt: u32,
        /// Its type.
        job_type: String,
    },
    /// An attempt ended; `state` is the job's state after it (`queued` for a retry).
    Finished {
        /// The job.
        id: i64,
        /// State after the attempt.
        state: JobState,
    },
    /// `entity.changed`: an entity changed in the store, one event per change of the store's
    /// change feed, in feed order. A running plugin runtime publishes these as it reads the
    /// feed (when a job of this process ends, and on its poll for other processes' writes),
    /// so an in-process listener learns what changed, whatever changed it, without reading
    /// job results.
    EntityChanged {
        /// The change's number in the feed.
        seq: u64,
        /// The entity.
        entity: EntityRef,
        /// Its vault-relative path now.
        path: String,
        /// Whether it is (soft) deleted now.
        deleted: bool,
    },
}

impl Event {
    /// The event's name as interfaces show it: `job.progress`, `job.started`, `job.finished`,
    /// `entity.changed`.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Progress { .. } => "job.progress",
            Event::Started { .. } => "job.started",
            Event::Finished { .. } => "job.finished",
            Event::EntityChanged { .. } => "entity.changed",
        }
    }
}

/// A broadcast channel of [`Event`]s. Slow subscribers lose old events rather than slow the
/// queue down (they can always read the store).
#[derive(Clone, Debug)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl EventBus {
    /// A bus keeping up to `capacity` events for slow subscribers.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self { tx }
    }

    /// Publishes an event; fine with no subscribers.
    pub fn publish(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    /// A new subscription, seeing events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
