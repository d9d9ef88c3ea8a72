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
        let ids: Vec<i64> = queue.lock_running().keys().copied().collect();
        if stop.load(Ordering::SeqCst) && ids.is_empty() {
            return;
        }
        if !ids.is_empty() {
            match queue
                .store()
                .heartbeat(&config.worker_id, &ids, now_ms() + config.lease_ms)
            {
                Ok(cancelled) => {
                    let running = queue.lock_running();
                    for id in cancelled {
                        if let Some(token) = running.get(&id) {
                            tracing::info!(job = id, "cancel requested or lease lost; stopping");
                            token.cancel();
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "heartbeat failed; leases may expire"),
            }
        }
        crate::reaper::nap(every, stop, !ids.is_empty());
    }
}
