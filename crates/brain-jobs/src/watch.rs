//! The store watch ([`PoolConfig::watch_store_ms`]): notices commits made by other processes
//! (a `brain put` or `brain sync` from the CLI enqueuing a job next to a running daemon) by
//! polling the store's change notifier (`JobStore::change_notifier`: SQLite's `data_version`),
//! and wakes this pool's idle workers so the job starts
//! within about one interval, however long their idle poll.
//!
//! Polling one number is the cheap part: it reads no table, and a commit made by this process
//! does not change it, so a busy daemon does not wake itself.

use std::time::Duration;

use crate::executor::PoolConfig;
use crate::queue::Queue;
use crate::signal::PoolSignal;

/// Polls until shutdown. `start` is the version read before the pool's workers first looked
/// for work, so a commit made while the threads were starting is not missed.
pub(crate) fn run(queue: &Queue, signal: &PoolSignal, config: &PoolConfig, start: Option<i64>) {
    let Some(every_ms) = config.watch_store_ms else {
        return;
    };
    let Some(notifier) = queue.store().change_notifier() else {
        return;
    };
    let every = Duration::from_millis(every_ms.max(1));
    let mut last = start;
    let mut failing = false;
    loop {
        match notifier.version() {
            Ok(version) => {
                if last.is_some_and(|seen| seen != version) {
                    queue.notify();
                }
                last = Some(version);
                if failing {
                    tracing::info!("watching the store for other processes' commits works again");
                    failing = false;
                }
            }
            // Reported once, not every few milliseconds; workers still poll meanwhile.
            Err(e) if !failing => {
                tracing::error!(error = %e, "cannot watch the store for other processes' jobs; they start within the idle poll");
                failing = true;
            }
            Err(_) => {}
        }
        // A notifier that is told of commits wakes this loop itself; one that is only polled
        // is read again after `every`.
        let waited = last.and_then(|seen| notifier.wait_change(seen, every));
        match waited {
            Some(_) if signal.is_stopped() => return,
            Some(_) => {}
            None if signal.wait_stopped(every) => return,
            None => {}
        }
    }
}
