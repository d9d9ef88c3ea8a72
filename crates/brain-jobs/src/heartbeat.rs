//! The heartbeat: keeps the leases of this pool's jobs and relays cancel requests made by
//! other processes to the running handlers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use brain_core::time::now_ms;

use crate::executor::PoolConfig;
use crate::queue::Queue;

pub(crate) fn run(queue: &Queue, stop: &AtomicBool, config: &PoolConfig) {
    let every = Duration::from_millis(config.heartbeat_ms.max(10));
    loop {
        let mut by_worker: std::collections::HashMap<String, Vec<i64>> =
            std::collections::HashMap::new();
        for (id, (worker, _)) in queue.lock_running().iter() {
            by_worker.entry(worker.clone()).or_default().push(*id);
        }
        let busy = !by_worker.is_empty();
        if stop.load(Ordering::SeqCst) && !busy {
            return;
        }
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
        crate::reaper::nap(every, stop, busy);
    }
}
