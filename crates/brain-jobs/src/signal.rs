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
    /// Threads inside a wait, counted under the lock (tests only): whoever holds the lock and
    /// reads 1 knows a waiter is parked on the condition variable, since a waiter counts itself
    /// and parks in one hold of the lock and uncounts itself in the hold its wait returns with.
    /// Lets a test prove a wake-up woke a thread that was really waiting.
    #[cfg(test)]
    parked: std::sync::atomic::AtomicUsize,
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
        self.count_parked(true);
        let g = self
            .cv
            .wait_timeout_while(g, timeout, |_| !self.is_stopped())
            .map_or_else(|p| p.into_inner().0, |(g, _)| g);
        self.count_parked(false);
        drop(g);
        self.is_stopped()
    }

    /// Sleeps up to `timeout`, returning early on any signal sent since `seen` was read.
    pub(crate) fn wait_changed(&self, seen: u64, timeout: Duration) {
        let g = self.lock();
        self.count_parked(true);
        let g = self
            .cv
            .wait_timeout_while(g, timeout, |now| *now == seen)
            .map_or_else(|p| p.into_inner().0, |(g, _)| g);
        self.count_parked(false);
        drop(g);
    }

    /// Counts a waiter in or out of [`PoolSignal::parked`]; called with the lock held.
    #[cfg(test)]
    fn count_parked(&self, parked: bool) {
        if parked {
            self.parked.fetch_add(1, Ordering::SeqCst);
        } else {
            self.parked.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[cfg(not(test))]
    fn count_parked(&self, _: bool) {}

    /// How many threads are parked in a wait right now, read under the lock (see the field).
    #[cfg(test)]
    fn parked(&self) -> usize {
        let _g = self.lock();
        self.parked.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::mpsc::{self, Receiver};
    use std::time::{Duration, Instant};

    use super::PoolSignal;

    /// Far longer than any test runs: a wait that ends before the test's deadline was woken,
    /// not timed out.
    const FOREVER: Duration = Duration::from_secs(3600);
    /// How long a woken waiter may take to report back, even on a loaded machine. Generous on
    /// purpose: only a waiter that was never woken (and sleeps `FOREVER`) reaches it.
    const DEADLINE: Duration = Duration::from_secs(60);

    /// Runs `wait` on its own thread and returns its result's channel once the thread is
    /// parked in the wait (so whatever the caller does next happens during the wait, never
    /// before it).
    fn parked_waiter<T: Send + 'static>(
        signal: &Arc<PoolSignal>,
        wait: impl FnOnce(&PoolSignal) -> T + Send + 'static,
    ) -> Receiver<T> {
        let (tx, rx) = mpsc::channel();
        let waiter = signal.clone();
        std::thread::spawn(move || {
            let out = wait(&waiter);
            let _ = tx.send(out);
        });
        let deadline = Instant::now() + DEADLINE;
        while signal.parked() == 0 {
            assert!(Instant::now() < deadline, "the waiter never parked");
            std::thread::sleep(Duration::from_millis(1));
        }
        rx
    }

    #[test]
    fn stop_wakes_a_thread_parked_in_a_long_wait() {
        let signal = Arc::new(PoolSignal::default());
        let woken = parked_waiter(&signal, |s| s.wait_stopped(FOREVER));
        assert!(!signal.is_stopped(), "not stopped before the waiter parked");
        signal.stop();
        let stopped = woken
            .recv_timeout(DEADLINE)
            .expect("stop() wakes a waiter parked for an hour");
        assert!(stopped, "the wait reports the stop that woke it");
        assert_eq!(signal.parked(), 0, "the waiter left the wait");
        assert!(signal.wait_stopped(FOREVER), "stays stopped");
    }

    #[test]
    fn a_poke_or_a_stop_wakes_a_thread_parked_in_wait_changed() {
        for stop in [false, true] {
            let signal = Arc::new(PoolSignal::default());
            let seen = signal.generation();
            let woken = parked_waiter(&signal, move |s| s.wait_changed(seen, FOREVER));
            if stop {
                signal.stop();
            } else {
                signal.poke();
            }
            woken
                .recv_timeout(DEADLINE)
                .unwrap_or_else(|e| panic!("stop={stop}: the parked waiter was not woken: {e}"));
            assert_eq!(signal.is_stopped(), stop, "a poke is not a stop");
        }
    }

    #[test]
    fn a_poke_after_looking_is_never_missed() {
        let signal = Arc::new(PoolSignal::default());
        let seen = signal.generation();
        signal.poke();
        // Sent before the wait: the wait must return without parking for its hour.
        let (tx, rx) = mpsc::channel();
        let waiter = signal.clone();
        std::thread::spawn(move || {
            waiter.wait_changed(seen, FOREVER);
            let _ = tx.send(());
        });
        rx.recv_timeout(DEADLINE)
            .expect("a poke sent between generation() and the wait is seen");
        assert!(!signal.is_stopped());
    }
}
