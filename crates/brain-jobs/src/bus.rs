//! The in-process event bus. Interfaces in this process subscribe to follow jobs live; a
//! process that did not run a job follows it by reading the store instead.

use brain_store::jobs::{JobProgress, JobState};
use tokio::sync::broadcast;

/// Something that happened to a job.
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
