//! Progress of a running job: persisted at most every 250 ms (so a process that did not run the
//! job can follow it from the store) and published on the bus at the same pace.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brain_core::time::now_ms;
use brain_core::{Phase, ProgressSink};
use brain_store::JobStore;
use brain_store::jobs::JobProgress;

use crate::bus::{Event, EventBus};

/// Longest gap between persisted progress updates while progress changes.
pub const PERSIST_EVERY: Duration = Duration::from_millis(250);

struct State {
    progress: JobProgress,
    phase: Option<Phase>,
    last: Option<Instant>,
    /// Progress changed since it was last written.
    dirty: bool,
}

/// Reports one job's progress. Clones share state. Also a [`ProgressSink`], so the sync engine
/// reports straight into it.
#[derive(Clone)]
pub struct JobProgressReporter {
    id: i64,
    attempt: u32,
    worker: String,
    store: Arc<dyn JobStore>,
    bus: EventBus,
    state: Arc<Mutex<State>>,
}

impl JobProgressReporter {
    pub(crate) fn new(
        id: i64,
        attempt: u32,
        worker: &str,
        store: Arc<dyn JobStore>,
        bus: EventBus,
    ) -> Self {
        Self {
            id,
            attempt,
            worker: worker.to_string(),
            store,
            bus,
            state: Arc::new(Mutex::new(State {
                progress: JobProgress::default(),
                phase: None,
                last: None,
                dirty: false,
            })),
        }
    }

    /// Sets progress outside a sync's phases (a git job's "Pushing to the remote"); persisted
    /// and published now if the last write is 250 ms old.
    pub fn set(&self, current: u64, total: Option<u64>, message: &str) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.phase = None;
        s.progress.phase = None;
        s.progress.current = current;
        s.progress.total = total;
        s.progress.message = message.to_string();
        self.maybe_flush(&mut s, false);
    }

    fn start(&self, phase: Phase, total: Option<u64>, done: u64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.phase = Some(phase);
        s.progress.phase = Some(phase);
        s.progress.current = done;
        s.progress.total = total;
        s.progress.message = phase.verb().to_string();
        self.maybe_flush(&mut s, true);
    }

    /// Starts a step with a typed phase but no count (a git job's "Pushing to the remote"):
    /// `message` says what it does.
    pub fn step(&self, phase: Phase, message: &str) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.phase = Some(phase);
        s.progress.phase = Some(phase);
        s.progress.current = 0;
        s.progress.total = None;
        s.progress.message = message.to_string();
        self.maybe_flush(&mut s, true);
    }

    /// Persists and publishes the latest progress now, if it changed since it was last written
    /// (at phase ends and before finishing).
    pub fn flush(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.write_if(&mut s, true);
    }

    fn maybe_flush(&self, s: &mut State, force: bool) {
        s.dirty = true;
        self.write_if(s, force);
    }

    fn write_if(&self, s: &mut State, force: bool) {
        if !s.dirty || (!force && s.last.is_some_and(|t| t.elapsed() < PERSIST_EVERY)) {
            return;
        }
        s.dirty = false;
        s.last = Some(Instant::now());
        s.progress.updated_ms = now_ms();
        if let Err(e) = self.store.set_progress(self.id, &self.worker, &s.progress) {
            tracing::warn!(job = self.id, error = %e, "progress not saved");
        }
        self.bus.publish(Event::Progress {
            id: self.id,
            attempt: self.attempt,
            progress: s.progress.clone(),
        });
    }
}

impl ProgressSink for JobProgressReporter {
    fn start_phase(&self, phase: Phase, total: Option<u64>) {
        self.start(phase, total, 0);
    }

    fn start_phase_at(&self, phase: Phase, total: u64, done: u64) {
        self.start(phase, Some(total), done);
    }

    fn advance(&self, n: u64, item: &str) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.progress.current += n;
        if let Some(phase) = s.phase {
            s.progress.message = if item.is_empty() {
                phase.verb().to_string()
            } else {
                format!("{} {item}", phase.verb())
            };
        }
        self.maybe_flush(&mut s, false);
    }

    fn finish_phase(&self) {
        self.flush();
    }
}
