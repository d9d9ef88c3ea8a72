//! What `brain serve` does on its own when `git.enabled` is on: a sync at start
//! (`pull_on_start`), a commit once changes settle (`auto_commit`, `commit_debounce_ms`), and a
//! sync every `sync_interval_s`. It only enqueues `git` jobs; the workers run them.
//!
//! "Changes" are directory jobs that changed something (an import of an edited file, an export of
//! a `brain put`): the job bus tells of each as it finishes, so nothing polls git or the disk.
//! Files that are not notes (attachments) are committed by the periodic sync.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use brain_core::config::GitConfig;
use brain_core::time::now_ms;
use brain_jobs::{Event, Queue};
use brain_store::jobs::JobState;

use crate::jobs::{commit_request, git_request};
use crate::sync::GitOp;

enum Signal {
    Changed,
    Stop,
}

/// The daemon's git timer; stops when dropped or with [`GitScheduler::stop`].
pub struct GitScheduler {
    tx: Sender<Signal>,
    thread: Option<JoinHandle<()>>,
}

impl GitScheduler {
    /// Starts scheduling git jobs on `queue` as `config` asks.
    pub fn start(queue: Queue, config: GitConfig) -> GitScheduler {
        let (tx, rx) = mpsc::channel();
        spawn_change_listener(&queue, tx.clone());
        let thread = std::thread::Builder::new()
            .name("git-schedule".into())
            .spawn(move || {
                let sync_op = if config.auto_push {
                    GitOp::Sync
                } else {
                    GitOp::Pull
                };
                let enqueue = |request| {
                    if let Err(e) = queue.enqueue(request) {
                        tracing::warn!(error = %e, "cannot queue a git job");
                    }
                };
                if config.pull_on_start {
                    enqueue(git_request(sync_op));
                }
                let every = (config.sync_interval_s > 0)
                    .then(|| Duration::from_secs(config.sync_interval_s));
                let mut next = every.map(|d| Instant::now() + d);
                loop {
                    let wait = next.map(|n| n.saturating_duration_since(Instant::now()));
                    let signal = match wait {
                        Some(w) => rx.recv_timeout(w),
                        None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    };
                    match signal {
                        Ok(Signal::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                        Ok(Signal::Changed) if config.auto_commit => {
                            let due = now_ms() + config.commit_debounce_ms as i64;
                            enqueue(commit_request(GitOp::Commit, due));
                        }
                        Ok(Signal::Changed) => {}
                        Err(RecvTimeoutError::Timeout) => {
                            enqueue(git_request(sync_op));
                            next = every.map(|d| Instant::now() + d);
                        }
                    }
                }
            })
            .ok();
        GitScheduler { tx, thread }
    }

    /// Stops the timer (queued git jobs stay queued).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.tx.send(Signal::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for GitScheduler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Forwards "a directory job changed something" from the job bus. The thread ends at the first
/// event after the scheduler is gone.
fn spawn_change_listener(queue: &Queue, tx: Sender<Signal>) {
    let mut events = queue.bus().subscribe();
    let queue = queue.clone();
    let _ = std::thread::Builder::new()
        .name("git-changes".into())
        .spawn(move || {
            loop {
                let changed = match events.blocking_recv() {
                    Ok(Event::Finished {
                        id,
                        state: JobState::Succeeded,
                    }) => queue.job(id).is_ok_and(|job| {
                        job.job_type.starts_with("directory-")
                            && job.result.as_ref().is_some_and(changed_something)
                    }),
                    Ok(_) => false,
                    // Missed events may have been changes.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                if changed && tx.send(Signal::Changed).is_err() {
                    return;
                }
            }
        });
}

/// Whether a directory job's report (a `SyncReport`) says files or notes changed.
fn changed_something(result: &serde_json::Value) -> bool {
    const COUNTS: [&str; 6] = [
        "imported", "updated", "renamed", "deleted", "exported", "trashed",
    ];
    COUNTS.iter().any(|k| {
        result
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
            > 0
    }) || result
        .get("conflicts")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|c| !c.is_empty())
}
