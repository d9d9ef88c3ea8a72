//! What `brain serve` does on its own when `git.enabled` is on: a sync at start
//! (`pull_on_start`; else a commit of what changed while no daemon ran, with `auto_commit`)
//! and a commit once changes settle (`auto_commit`, `commit_debounce_ms`).
//! The sync every `sync_interval_s` is a schedule ([`git_sync_schedule`]), fired by the
//! daemon's scheduler like any other. It only enqueues `git` jobs; the workers run them.
//!
//! "Changes" come from the store's change feed: the git plugin subscribes to it through the
//! runtime (`PluginContext::subscribe_changes`), which reads it whenever a job of the daemon
//! ends (an import of an edited file, the export of a `brain put`, a pull) and on a slow poll,
//! and tells the timer through [`GitScheduler::changed`], so it learns of every change whatever
//! made it, without reading what jobs report, and nothing polls git or the disk. Files that are
//! not notes (attachments) are committed by the periodic sync.

use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;

use brain_core::config::GitConfig;
use brain_core::time::now_ms;
use brain_jobs::Queue;
use brain_store::Store;

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
    /// Starts scheduling git jobs on `queue` as `config` asks; `store` is read once, for what
    /// changed while no daemon ran. Later changes come through [`GitScheduler::changed`].
    pub fn start(queue: Queue, store: &dyn Store, config: GitConfig, root: &Path) -> GitScheduler {
        // Decided before the daemon says it is ready, so a change made after that is the
        // feed's business, not the start's.
        let commit_at_start =
            !config.pull_on_start && config.auto_commit && changed_before_start(store, root);
        let (tx, rx) = mpsc::channel();
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
                } else if commit_at_start {
                    enqueue(commit_request(GitOp::Commit, now_ms()));
                }
                // The periodic sync is the daemon's `git-sync` schedule; this thread only
                // commits once changes settle.
                loop {
                    match rx.recv() {
                        Ok(Signal::Stop) | Err(_) => return,
                        Ok(Signal::Changed) if config.auto_commit => {
                            let due = now_ms() + config.commit_debounce_ms as i64;
                            enqueue(commit_request(GitOp::Commit, due));
                        }
                        Ok(Signal::Changed) => {}
                    }
                }
            })
            .ok();
        GitScheduler { tx, thread }
    }

    /// Notes changed (the change feed showed some): a commit is due once they settle.
    pub fn changed(&self) {
        let _ = self.tx.send(Signal::Changed);
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

/// Whether notes changed while no daemon ran (a `brain put`, an edit taken in by `brain sync`)
/// and wait for a commit: they are before the change feed's cursor, so only a commit at start
/// takes them. Notes changed in the store and not yet written, or files git sees changed. A
/// store that cannot be read counts as changed (a commit of nothing changes nothing); a repo
/// git cannot read does not (the commit would fail the same way, and the sync says so).
fn changed_before_start(store: &dyn Store, root: &Path) -> bool {
    match store.dirty_entities() {
        Ok(dirty) if !dirty.is_empty() => return true,
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the notes waiting for export; committing at start to be safe");
            return true;
        }
    }
    let status = crate::Git::locate()
        .and_then(|git| crate::Repo::open(git, root))
        .and_then(|repo| repo.map(|r| r.status()).transpose());
    match status {
        Ok(Some(s)) => !s.changed.is_empty(),
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the vault's git status at start");
            false
        }
    }
}

/// The `git-sync` schedule: a sync (or a pull, without `auto_push`) every `sync_interval_s`, in
/// this vault's folder; `None` when git sync is off or the interval is 0.
pub fn git_sync_schedule(
    config: &GitConfig,
    scope: &str,
) -> Option<brain_store::schedules::ScheduleDef> {
    if !config.enabled || config.sync_interval_s == 0 {
        return None;
    }
    let op = if config.auto_push {
        GitOp::Sync
    } else {
        GitOp::Pull
    };
    Some(brain_store::schedules::ScheduleDef {
        name: "git-sync".into(),
        job_type: crate::jobs::GIT_JOB.into(),
        input: git_request(op).input,
        timing: format!("every {}s", config.sync_interval_s),
        scope: scope.into(),
        source: "builtin".into(),
    })
}
