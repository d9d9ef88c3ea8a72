//! The reaper: jobs whose worker died (no heartbeat until the lease ended) go back to the queue,
//! and finished jobs past the retention are pruned.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use brain_core::time::now_ms;

use crate::executor::PoolConfig;
use crate::queue::Queue;

const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub(crate) fn run(queue: &Queue, stop: &AtomicBool, config: &PoolConfig) {
    let mut last_prune: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        match queue.store().reap(now_ms()) {
            Ok(ids) if !ids.is_empty() => {
                tracing::warn!(?ids, "reclaimed jobs whose worker stopped responding");
                queue.notify();
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "reaping expired leases failed"),
        }
        if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(Instant::now());
            match queue.store().prune(now_ms() - config.retention_ms) {
                Ok(n) if n > 0 => tracing::info!(pruned = n, "pruned finished jobs"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "pruning finished jobs failed"),
            }
        }
        nap(
            Duration::from_millis(config.reap_every_ms.max(10)),
            stop,
            false,
        );
    }
}

/// Sleeps up to `d` in short steps, returning early once `stop` is set (unless `busy`: jobs
/// still running need their heartbeat until they end), so shutdown is prompt.
pub(crate) fn nap(d: Duration, stop: &AtomicBool, busy: bool) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::SeqCst) && !busy {
            return;
        }
        std::thread::sleep(Duration::from_millis(10).min(until - Instant::now()));
    }
}
