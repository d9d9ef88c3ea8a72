//! What the daemon publishes about itself in the store (runtime state
//! [`SERVE_STATE_KEY`](super::SERVE_STATE_KEY)) for `brain status` in other processes. Whether
//! it is alive is told by its lock, not by this record.
//!
//! Besides what `brain status` shows, the record says whether the daemon is `idle` and the
//! newest job id (`last_job`), read in that order after the watcher's snapshot, so a caller
//! can wait for work to end instead of waiting out a quiet spell: once the watcher's `fence` is
//! past the fence the caller created, `idle` says every change before it was handled, and an
//! unchanged `last_job` across two such waits says no job ran in between (so no write of ours
//! is still on its way back as an event).

use std::sync::Arc;

use brain_core::time::now_ms;
use brain_store::Backend;
use brain_store::jobs::{JobFilter, JobState};
use serde_json::{Value, json};

use super::SERVE_STATE_KEY;
use crate::directory::{WATCHER, Watching};
use crate::runtime::Runtime;

/// Writes the daemon's state to the store when it changed since the last write.
pub struct StatusPublisher {
    store: Arc<dyn Backend>,
    queue: brain_jobs::Queue,
    /// Whether the store answers, and the local record `brain status` reads when it does not.
    connectivity: super::offline::Connectivity,
    watching: Option<Arc<dyn Watching>>,
    started_ms: i64,
    http: Option<String>,
    workers: usize,
    /// The job types this daemon's plugins registered.
    known: Vec<String>,
    /// What was published last, and when (ms): the same state is written again after
    /// [`REPUBLISH_MS`], so its time says the daemon is alive to other folders of the store.
    last: Option<(Value, i64)>,
}

/// How often a daemon whose state did not change writes it again. Other folders' `brain status`
/// and `brain store forget` judge a daemon gone when its state is older than
/// [`DAEMON_SEEN_WITHIN_MS`].
pub const REPUBLISH_MS: i64 = 20_000;

/// A daemon whose published state is younger than this is taken to be running.
pub const DAEMON_SEEN_WITHIN_MS: i64 = 60_000;

impl StatusPublisher {
    /// A publisher for the daemon running `runtime` with `workers` workers, started at
    /// `started_ms`, serving HTTP at `http` (for clients and `brain status`).
    pub fn new(runtime: &Runtime, started_ms: i64, http: Option<String>, workers: usize) -> Self {
        StatusPublisher {
            store: runtime.context().store().clone(),
            queue: runtime.queue().clone(),
            connectivity: super::offline::Connectivity::new(runtime.context().root(), started_ms),
            watching: runtime.capability(WATCHER).ok(),
            started_ms,
            http,
            workers,
            known: runtime
                .queue()
                .registry()
                .names()
                .map(str::to_owned)
                .collect(),
            last: None,
        }
    }

    /// The watcher's mode (`native`, `poll`, ...), or `failed` when no watcher runs.
    pub fn watcher_mode(&self) -> String {
        self.watching
            .as_ref()
            .and_then(|w| w.watcher_status())
            .and_then(|(status, _)| status.get("mode")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| "failed".into())
    }

    /// Publishes the daemon in `state` (`ready`, `stopping`, `stopped`) if anything changed
    /// since the last write. A store that refuses is logged: the daemon goes on.
    pub fn publish(&mut self, state: &str) {
        // The watcher first: what it held then is either still pending, or a job by the time
        // the queue is read below.
        if state == "stopped" {
            self.connectivity.stopped();
        }
        let snapshot = self.watching.as_ref().and_then(|w| w.watcher_status());
        let store = self.store.as_ref();
        let pending = snapshot
            .as_ref()
            .and_then(|(s, _)| s.get("pending_paths")?.as_u64())
            .unwrap_or(0);
        let answer = store.ping();
        if !self
            .connectivity
            .saw(answer.as_ref().map(|_| ()), pending, &self.queue)
        {
            // Offline: nothing to publish to; the local record says it.
            return;
        }
        let paused = store.paused_types().unwrap_or_default();

        let idle = snapshot.as_ref().is_none_or(|(_, settled)| *settled)
            && queue_idle(store, &paused, &self.known);
        let last_job = store
            .list_jobs(&JobFilter {
                limit: 1,
                ..JobFilter::default()
            })
            .ok()
            .and_then(|jobs| jobs.first().map(|j| j.id));
        let doc = json!({
            "state": state,
            "pid": std::process::id(),
            "started_ms": self.started_ms,
            "http": self.http,
            "workers": self.workers,
            "paused": paused,
            "watcher": snapshot.map(|(status, _)| status),
            "idle": idle,
            "last_job": last_job,
        });
        let now = now_ms();
        if self
            .last
            .as_ref()
            .is_some_and(|(last, at)| *last == doc && now - at < REPUBLISH_MS)
        {
            return;
        }
        match store.set_runtime_state(SERVE_STATE_KEY, &doc, now) {
            Ok(()) => self.last = Some((doc, now)),
            Err(e) => tracing::warn!(error = %e, "cannot publish the daemon's state"),
        }
    }
}

/// Whether no job runs and none waits that a worker would run: a queued job of a paused type
/// waits for `brain sync resume`, not for the daemon, and one of a type no plugin here handles
/// (`known` are the types that are) waits for a build that has it; one due later (a debounced
/// export, the delayed initial sync) is work still to do. `false` when the queue cannot be read.
pub(super) fn queue_idle(store: &dyn Backend, paused: &[String], known: &[String]) -> bool {
    store.job_counts().is_ok_and(|counts| {
        counts.iter().all(|c| {
            c.count == 0
                || match c.state {
                    JobState::Running => false,
                    JobState::Queued => {
                        paused.contains(&c.job_type) || !known.contains(&c.job_type)
                    }
                    _ => true,
                }
        })
    })
}
