//! The heartbeat: keeps the leases of this pool's jobs and relays cancel requests made by
//! other processes to the running handlers.
//!
//! It beats every `heartbeat_ms` and sleeps on the pool's signal in between. After shutdown is
//! asked for it goes on beating while jobs still run (they need their leases until they end),
//! and leaves as soon as the last one has ended: the workers poke the signal when they finish
//! a job while stopping, so the heartbeat never sleeps through a pool that is done.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use brain_core::time::now_ms;

use crate::executor::PoolConfig;
use crate::queue::Queue;
use crate::signal::PoolSignal;

pub(crate) fn run(queue: &Queue, signal: &PoolSignal, config: &PoolConfig) {
    let every = Duration::from_millis(config.heartbeat_ms.max(10));
    let mut next_beat = Instant::now();
    loop {
        // Read before looking at the running jobs: a job ending after this ends the wait below.
        let seen = signal.generation();
        let mut by_worker: HashMap<String, Vec<i64>> = HashMap::new();
        for (id, (worker, _)) in queue.lock_running().iter() {
            by_worker.entry(worker.clone()).or_default().push(*id);
        }
        if by_worker.is_empty() && signal.is_stopped() {
            return;
        }
        let now = Instant::now();
        if now >= next_beat {
            beat(queue, config, by_worker);
            next_beat = now + every;
        }
        signal.wait_changed(seen, next_beat.saturating_duration_since(Instant::now()));
    }
}

/// Renews the leases of each worker's running jobs and stops those whose cancel was requested
/// or whose lease was lost.
fn beat(queue: &Queue, config: &PoolConfig, by_worker: HashMap<String, Vec<i64>>) {
    for (worker, ids) in by_worker {
        match queue
            .store()
            .heartbeat(&worker, &ids, now_ms() + config.lease_ms)
        {
            Ok(stopped) => {
                let running = queue.lock_running();
                for id in stopped {
                    if let Some((w, token)) = running.get(&id)
                        && *w == worker
                    {
                        tracing::info!(job = id, "cancel requested or lease lost; stopping");
                        token.cancel();
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "heartbeat failed; leases may expire"),
        }
    }
}
