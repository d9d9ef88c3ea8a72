//! Following one job to its end: the one stream the CLI bars, MCP progress notifications (and
//! later the web page and the Matrix bot) are drawn from.
//!
//! The job may run in this process (its worker publishes progress on the [`EventBus`] as it
//! goes) or in another one (a daemon, another `brain sync`), which this process only sees in
//! the store. A [`Follow`] listens to both: bus events as they come, and the job's row about
//! every [`POLL_EVERY`] (at once after the bus says an attempt started or ended), so one stream
//! works wherever the job runs. What it yields:
//!
//! - [`FollowEvent::Progress`]: one counter across phases and attempts that never goes back,
//!   with a total from the first event, and a rate and ETA from the job's own pace as seen by
//!   this follower ([`tally`]);
//! - [`FollowEvent::LeaseLapsed`]: the job shows `running` but its worker stopped renewing its
//!   lease (the process died or hangs): nobody works on it until a worker takes it over;
//! - [`FollowEvent::TakenOver`]: a new attempt started after the last one's worker stopped;
//! - [`FollowEvent::Retrying`]: an attempt failed and the job waits out its backoff;
//! - [`FollowEvent::Finished`]: the job reached a final state; nothing follows.
//!
//! Who runs the job (and so who takes it over) is not decided here: `brain_api`'s runner
//! policy watches these events and starts workers when nobody else will.

pub mod tally;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use brain_core::time::now_ms;
use brain_store::jobs::{Job, JobState};
use tokio::sync::broadcast::{self, error::TryRecvError};

use crate::bus::Event;
use crate::error::QueueError;
use crate::queue::Queue;
pub use tally::{Progress, Tally};

/// How often the job's row is read while followed (a read of one row).
pub const POLL_EVERY: Duration = Duration::from_millis(100);

/// Something that happened to a followed job.
#[derive(Clone, Debug, PartialEq)]
pub enum FollowEvent {
    /// It moved (or this is the first look at it).
    Progress(Progress),
    /// It shows `running`, but its worker's lease ran out `lapsed_ms` ago: that worker stopped
    /// (killed, or hung). Said once per attempt.
    LeaseLapsed {
        /// The attempt whose worker stopped.
        attempt: u32,
        /// That worker, as recorded in the job.
        worker: Option<String>,
        /// How long ago the lease ran out (ms).
        lapsed_ms: i64,
    },
    /// It shows `running` under a lease that still holds, but its worker's process is gone from
    /// this machine (`crate::liveness`): nobody works on it; it is taken over when the lease
    /// lapses, in `lease_left_ms`. Said once per attempt, before any [`FollowEvent::LeaseLapsed`].
    WorkerGone {
        /// The attempt whose worker is gone.
        attempt: u32,
        /// That worker's process.
        pid: u32,
        /// How long its lease still holds (ms).
        lease_left_ms: i64,
    },
    /// A new attempt started after the previous one's worker stopped (its lease lapsed and the
    /// job was reclaimed). Work the earlier attempts committed is kept.
    TakenOver {
        /// The new attempt (2 for the first takeover).
        attempt: u32,
        /// Attempts allowed.
        max_attempts: u32,
        /// The overall count shown when it was taken over (the counter goes on from here).
        kept: u64,
    },
    /// An attempt failed and the job is queued again, to run at `run_at_ms`.
    Retrying {
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        error: String,
        /// When the next attempt may start (ms since the epoch).
        run_at_ms: i64,
    },
    /// It reached a final state.
    Finished(Box<Job>),
}

/// A job followed to its end. Poll it ([`Follow::poll`], never blocks longer than one row
/// read) or wait on it ([`Follow::next_within`]).
pub struct Follow {
    id: i64,
    queue: Queue,
    events: broadcast::Receiver<Event>,
    tally: Tally,
    pending: VecDeque<FollowEvent>,
    last_read: Option<Instant>,
    /// The attempt last seen in the job row, and whether its lease was seen lapsed.
    attempt: Option<u32>,
    lapsed: Option<u32>,
    /// The attempt whose worker was seen gone (said once).
    gone: Option<u32>,
    /// The failed attempt already announced as [`FollowEvent::Retrying`].
    retrying: Option<u32>,
    /// The attempt whose reports the bus brings (it runs in this process, and none was lost).
    bus_attempt: Option<u32>,
    last: Option<Progress>,
    job: Option<Job>,
    done: bool,
}

impl Follow {
    /// Starts following job `id` of `queue`: subscribes to this process's bus first, so no
    /// event published after the first read is missed.
    pub fn new(queue: &Queue, id: i64) -> Self {
        Follow {
            id,
            events: queue.bus().subscribe(),
            queue: queue.clone(),
            tally: Tally::default(),
            pending: VecDeque::new(),
            last_read: None,
            attempt: None,
            lapsed: None,
            gone: None,
            retrying: None,
            bus_attempt: None,
            last: None,
            job: None,
            done: false,
        }
    }

    /// The followed job's id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The job as last read from the store (`None` before the first read).
    pub fn job(&self) -> Option<&Job> {
        self.job.as_ref()
    }

    /// Whether [`FollowEvent::Finished`] was yielded: the stream is over.
    pub fn is_done(&self) -> bool {
        self.done && self.pending.is_empty()
    }

    /// The events available now: bus events since the last call, and the job's row when it is
    /// due for a read. Returns an empty list when nothing happened.
    pub fn poll(&mut self) -> Result<Vec<FollowEvent>, QueueError> {
        if !self.done {
            self.step()?;
        }
        Ok(self.pending.drain(..).collect())
    }

    /// The next event, waiting up to `limit` for one; `None` if none came in time (or the
    /// stream is over).
    pub fn next_within(&mut self, limit: Duration) -> Result<Option<FollowEvent>, QueueError> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(Some(e));
            }
            if self.done {
                return Ok(None);
            }
            self.step()?;
            if !self.pending.is_empty() {
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            // Bus events are drained at the next step: a worker in this process publishes at
            // most every 250 ms, so 10 ms adds no visible delay.
            std::thread::sleep(Duration::from_millis(10).min(deadline - now));
        }
    }

    fn step(&mut self) -> Result<(), QueueError> {
        // The first look is the row: it says which attempt later bus reports belong to.
        if self.attempt.is_none() {
            self.read_row()?;
        }
        let mut read_now = self.last_read.is_none_or(|t| t.elapsed() >= POLL_EVERY);
        // Bus events are older than a read made after them: apply them first, in order. Each
        // names its attempt; whether a new attempt is a takeover is decided from the row, read
        // as soon as the bus names a new attempt, so the word comes before its progress.
        loop {
            match self.events.try_recv() {
                Ok(Event::Progress {
                    id,
                    attempt,
                    progress,
                }) if id == self.id => {
                    self.on_bus_attempt(attempt)?;
                    self.bus_attempt = Some(attempt);
                    let shown = self.tally.observe(attempt, Some(&progress));
                    self.show(shown);
                }
                Ok(Event::Started { id, attempt, .. }) if id == self.id => {
                    self.on_bus_attempt(attempt)?;
                    self.bus_attempt = Some(attempt);
                }
                // An attempt ended: read the row now, not at the next tick.
                Ok(Event::Finished { id, .. }) if id == self.id => read_now = true,
                // Reports were lost: the row is the source again until the next attempt.
                Err(TryRecvError::Lagged(_)) => self.bus_attempt = None,
                Ok(_) => {}
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if read_now && !self.done {
            self.read_row()?;
        }
        Ok(())
    }

    /// The bus names `attempt`: if it is a new one, reads the row for what the attempt before
    /// it became (a takeover is said before the new attempt's progress), but not its progress:
    /// this process runs the job, so the bus brings every report, in order, and a row read now
    /// may be newer than the reports still waiting on the bus.
    fn on_bus_attempt(&mut self, attempt: u32) -> Result<(), QueueError> {
        if self.attempt.is_some_and(|a| attempt > a) {
            let job = self.queue.job(self.id)?;
            self.enter_attempt(&job);
        }
        Ok(())
    }

    fn read_row(&mut self) -> Result<(), QueueError> {
        self.last_read = Some(Instant::now());
        let job = self.queue.job(self.id)?;
        self.read(job);
        Ok(())
    }

    /// Notes that the row shows `job.attempts`. A later attempt than the last one seen is a
    /// takeover when the one before it was seen with its lease lapsed, or the row says it was
    /// reclaimed from a stopped worker; a retry after a failure is not one (nor is anything this
    /// follower cannot tell apart: better no word than a false one).
    fn enter_attempt(&mut self, job: &Job) {
        let attempt = job.attempts;
        let Some(prev) = self.attempt else {
            self.attempt = Some(attempt);
            return;
        };
        if attempt <= prev {
            return;
        }
        let stopped = self.lapsed == Some(prev) || job.was_reclaimed();
        if prev > 0 && self.retrying != Some(prev) && stopped {
            let kept = self.last.as_ref().map_or(0, |p| p.current);
            self.pending.push_back(FollowEvent::TakenOver {
                attempt,
                max_attempts: job.max_attempts,
                kept,
            });
        }
        self.attempt = Some(attempt);
        let shown = self.tally.observe(attempt, None);
        self.show(shown);
    }

    /// Turns a read of the job's row into events.
    fn read(&mut self, job: Job) {
        self.enter_attempt(&job);
        let attempt = self.attempt.unwrap_or(job.attempts);
        // The row's progress only when the bus does not bring this attempt's reports: they
        // come in order there, and a row read between two of them would be out of order with
        // the ones still waiting (reports within one millisecond cannot be told apart).
        if self.bus_attempt != Some(attempt) {
            let shown = self.tally.observe(attempt, job.progress.as_ref());
            self.show(shown);
        }
        let now = now_ms();
        match job.state {
            JobState::Running => {
                if let Some(until) = job.lease_until_ms
                    && until < now
                    && self.lapsed != Some(attempt)
                {
                    self.lapsed = Some(attempt);
                    self.pending.push_back(FollowEvent::LeaseLapsed {
                        attempt,
                        worker: job.worker.clone(),
                        lapsed_ms: now - until,
                    });
                } else if let Some(until) = job.lease_until_ms
                    && until >= now
                    && self.gone != Some(attempt)
                    && let Some(pid) = job.worker.as_deref().and_then(crate::liveness::worker_gone)
                {
                    self.gone = Some(attempt);
                    self.pending.push_back(FollowEvent::WorkerGone {
                        attempt,
                        pid,
                        lease_left_ms: until - now,
                    });
                }
            }
            JobState::Queued => {
                // Queued again with an error: an attempt failed. (A job reclaimed from a
                // stopped worker carries the reaper's error: that is a takeover to come.)
                if attempt > 0
                    && !job.was_reclaimed()
                    && self.retrying != Some(attempt)
                    && let Some(error) = &job.error
                {
                    self.retrying = Some(attempt);
                    self.pending.push_back(FollowEvent::Retrying {
                        attempt,
                        error: error.clone(),
                        run_at_ms: job.run_at_ms,
                    });
                }
            }
            _ => {
                let end = self.tally.finish(job.state == JobState::Succeeded);
                self.show(Some(end));
                self.pending
                    .push_back(FollowEvent::Finished(Box::new(job.clone())));
                self.done = true;
            }
        }
        self.job = Some(job);
    }

    fn show(&mut self, shown: Option<Progress>) {
        let Some(p) = shown else { return };
        if self.last.as_ref() == Some(&p) {
            return;
        }
        self.last = Some(p.clone());
        self.pending.push_back(FollowEvent::Progress(p));
    }
}
