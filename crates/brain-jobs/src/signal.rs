//! How a pool's own threads (heartbeat, reaper, store watch) sleep: on a condition variable
//! that shutdown signals, instead of in short naps that check a flag. An idle pool then wakes
//! only at each thread's own interval (a few times a second at most), and shutdown still
//! reaches every thread at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// The stop flag of a pool, and a generation counter bumped by every signal so a waiter can
/// tell "something happened since I looked" without missing a signal sent in between.
#[derive(Default)]
pub(crate) struct PoolSignal {
    /// Set once by [`PoolSignal::stop`]; read without the lock on hot paths.
    stopped: AtomicBool,
    /// Bumped by `stop` and `poke`, under the lock the waiters wait on.
    generation: Mutex<u64>,
    cv: Condvar,
}

impl PoolSignal {
    fn lock(&self) -> MutexGuard<'_, u64> {
        self.generation.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks every thread of the pool to stop, waking those that wait.
    pub(crate) fn stop(&self) {
        let mut g = self.lock();
        // Set under the lock, so a waiter that checked the flag is already waiting (and is
        // woken) or has not checked yet (and sees it).
        self.stopped.store(true, Ordering::SeqCst);
        *g = g.wrapping_add(1);
        self.cv.notify_all();
    }

    /// Whether shutdown was asked for.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Wakes the threads waiting in [`PoolSignal::wait_changed`] (a job ended while stopping,
    /// so the heartbeat can see whether any are left).
    pub(crate) fn poke(&self) {
        let mut g = self.lock();
        *g = g.wrapping_add(1);
        self.cv.notify_all();
    }

    /// The current generation, to pass to [`PoolSignal::wait_changed`] after looking at the
    /// state it guards.
    pub(crate) fn generation(&self) -> u64 {
        *self.lock()
    }

    /// Sleeps up to `timeout`, returning early once stopped; returns whether it is stopped.
    pub(crate) fn wait_stopped(&self, timeout: Duration) -> bool {
        let g = self.lock();
        let _ = self
            .cv
            .wait_timeout_while(g, timeout, |_| !self.is_stopped());
        self.is_stopped()
    }

    /// Sleeps up to `timeout`, returning early on any signal sent since `seen` was read.
    pub(crate) fn wait_changed(&self, seen: u64, timeout: Duration) {
        let g = self.lock();
        let _ = self.cv.wait_timeout_while(g, timeout, |now| *now == seen);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::PoolSignal;

    #[test]
    fn stop_wakes_a_long_wait_at_once() {
        let signal = Arc::new(PoolSignal::default());
        let waiter = {
            let signal = signal.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                let stopped = signal.wait_stopped(Duration::from_secs(30));
                (stopped, start.elapsed())
            })
        };
        signal.stop();
        let (stopped, waited) = waiter.join().expect("waiter");
        assert!(stopped);
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        assert!(
            signal.wait_stopped(Duration::from_secs(30)),
            "stays stopped"
        );
    }

    #[test]
    fn a_poke_after_looking_is_never_missed() {
        let signal = PoolSignal::default();
        let seen = signal.generation();
        signal.poke();
        let start = Instant::now();
        signal.wait_changed(seen, Duration::from_secs(30));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(!signal.is_stopped());
    }
}
