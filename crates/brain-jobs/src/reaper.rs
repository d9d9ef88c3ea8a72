//! The reaper: jobs whose worker died (no heartbeat until the lease ended) go back to the queue,
//! and finished jobs past the retention are pruned.

use std::time::{Duration, Instant};

use brain_core::time::now_ms;

use crate::executor::PoolConfig;
use crate::queue::Queue;
use crate::signal::PoolSignal;

const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Reaps every `reap_every_ms`, sleeping on the pool's signal in between, so an idle reaper
/// wakes only at its interval and leaves at once on shutdown.
pub(crate) fn run(queue: &Queue, signal: &PoolSignal, config: &PoolConfig) {
    let every = Duration::from_millis(config.reap_every_ms.max(10));
    let mut last_prune: Option<Instant> = None;
    while !signal.is_stopped() {
        match queue.store().reap(now_ms()) {
            Ok(ids) if !ids.is_empty() => {
                // Info, not a warning: a command following the job says so in words
                // (`FollowEvent::TakenOver`), and the daemon's log still records it.
                tracing::info!(?ids, "reclaimed jobs whose worker stopped responding");
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
        signal.wait_stopped(every);
    }
}
