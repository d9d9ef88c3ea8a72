//! Setting up the event source: notify-debouncer-full over the native watcher, or over notify's
//! `PollWatcher`. The debouncer's own timeout is short: it only stitches renames (`From` + `To`
//! into one event with both paths) and merges duplicate events of a path; the real debounce is
//! the collector's ([`super::collect`]).

use std::path::Path;
use std::sync::mpsc::Sender;
use std::time::Duration;

use notify::{PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use notify_debouncer_full::{
    DebounceEventHandler, DebounceEventResult, Debouncer, NoCache, RecommendedCache,
    new_debouncer_opt,
};

use super::status::WatcherMode;

/// What the event source sends the collector. Every message carries the generation of the
/// source that sent it, so that what a replaced source still had in flight is dropped.
pub(crate) enum Msg {
    /// Events or errors from the source.
    Notify(u64, DebounceEventResult),
    /// The source's event thread ended (it stopped or panicked): nothing more will come from it.
    SourceGone(u64),
    /// The watcher is asked to stop.
    Stop,
}

/// The debouncer's event handler: forwards to the collector, and says so when its thread drops
/// it, which is how a debouncer thread that died is noticed.
struct Feed {
    tx: Sender<Msg>,
    generation: u64,
}

impl DebounceEventHandler for Feed {
    fn handle_event(&mut self, event: DebounceEventResult) {
        let _ = self.tx.send(Msg::Notify(self.generation, event));
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::SourceGone(self.generation));
    }
}

/// A running event source; dropping it stops watching.
pub(crate) enum Source {
    /// inotify, FSEvents or ReadDirectoryChangesW.
    Native(Debouncer<RecommendedWatcher, RecommendedCache>),
    /// notify's `PollWatcher`.
    Poll(Debouncer<PollWatcher, NoCache>),
}

impl Source {
    /// Which mode it is.
    pub(crate) fn mode(&self) -> WatcherMode {
        match self {
            Source::Native(_) => WatcherMode::Native,
            Source::Poll(_) => WatcherMode::Poll,
        }
    }

    /// Stops watching and waits for the debouncer's thread (at most one tick).
    pub(crate) fn stop(self) {
        match self {
            Source::Native(d) => d.stop(),
            Source::Poll(d) => d.stop(),
        }
    }
}

/// How the debouncer is timed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    /// The debouncer's timeout: how long an event is held for its rename partner or duplicates.
    pub(crate) timeout: Duration,
    /// How often the debouncer's thread wakes: the watcher's only periodic wake-up when idle.
    pub(crate) tick: Duration,
}

impl Timing {
    /// A quarter of the debounce window, between 10 and 100 ms; ticks a quarter of that, never
    /// under 10 ms. Events reach the collector at most `timeout + tick` after they happened,
    /// well inside the window, so the window's end is the collector's to compute exactly.
    pub(crate) fn for_debounce(debounce: Duration) -> Self {
        let timeout = (debounce / 4).clamp(Duration::from_millis(10), Duration::from_millis(100));
        let tick = (timeout / 4).max(Duration::from_millis(10)).min(timeout);
        Self { timeout, tick }
    }
}

/// Native events on `root`, recursively. Links are not followed (the scan does not follow them
/// either, and they could lead out of the vault).
pub(crate) fn start_native(
    root: &Path,
    timing: Timing,
    tx: &Sender<Msg>,
    generation: u64,
) -> notify::Result<Source> {
    let config = notify::Config::default().with_follow_symlinks(false);
    // The debouncer starts its ticking thread before it creates the watcher and leaves that
    // thread running if the creation fails (no inotify instance left, say). Creating a watcher
    // on its own first makes that failure ours, with nothing left behind.
    drop(RecommendedWatcher::new(
        |_: notify::Result<notify::Event>| {},
        config,
    )?);
    let feed = Feed {
        tx: tx.clone(),
        generation,
    };
    let mut debouncer = new_debouncer_opt::<_, RecommendedWatcher, RecommendedCache>(
        timing.timeout,
        Some(timing.tick),
        feed,
        RecommendedCache::new(),
        config,
    )?;
    if let Err(e) = debouncer.watch(root, RecursiveMode::Recursive) {
        debouncer.stop();
        return Err(e);
    }
    Ok(Source::Native(debouncer))
}

/// notify's `PollWatcher` on `root`, looking every `interval`.
pub(crate) fn start_poll(
    root: &Path,
    timing: Timing,
    interval: Duration,
    tx: &Sender<Msg>,
    generation: u64,
) -> notify::Result<Source> {
    let config = notify::Config::default()
        .with_follow_symlinks(false)
        .with_poll_interval(interval);
    let feed = Feed {
        tx: tx.clone(),
        generation,
    };
    let mut debouncer = new_debouncer_opt::<_, PollWatcher, NoCache>(
        timing.timeout,
        Some(timing.tick),
        feed,
        NoCache,
        config,
    )?;
    if let Err(e) = debouncer.watch(root, RecursiveMode::Recursive) {
        debouncer.stop();
        return Err(e);
    }
    Ok(Source::Poll(debouncer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_stays_inside_the_window_and_ticks_slowly() {
        for (debounce, timeout, tick) in [
            (500, 100, 25),
            (150, 37, 10),
            (20, 10, 10),
            (5_000, 100, 25),
            (0, 10, 10),
        ] {
            let t = Timing::for_debounce(Duration::from_millis(debounce));
            assert_eq!(t.timeout.as_millis(), timeout, "{debounce}");
            assert_eq!(t.tick.as_millis(), tick, "{debounce}");
        }
    }
}
