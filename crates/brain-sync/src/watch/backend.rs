//! Setting up the event source: notify's native watcher, or its `PollWatcher`. Raw events go
//! straight to the collector ([`super::collect`]), which does the debouncing.
//!
//! Not notify-debouncer-full, though DESIGN.md names it: when a renamed file is removed within
//! its window (`mv a.md .tmp && rm .tmp`, which is how some tools delete), it replaces the
//! stitched rename with a removal of the new name only, and `a.md` going away is never reported.
//! Our collector needs only the set of paths touched, which raw events give exactly; a rename
//! reports both names (`From` and `To`, and `Both` when inotify pairs them).

use std::path::Path;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use notify::{Event, EventHandler, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};

use super::status::WatcherMode;

/// An event with the moment it was received: the quiet window is measured from the last one.
#[derive(Debug)]
pub(crate) struct TimedEvent {
    /// What notify reported.
    pub(crate) event: Event,
    /// When it reached us.
    pub(crate) time: Instant,
}

/// What the event source sends the collector. Every message carries the generation of the
/// source that sent it, so that what a replaced source still had in flight is dropped.
pub(crate) enum Msg {
    /// Events or errors from the source.
    Notify(u64, Result<Vec<TimedEvent>, Vec<notify::Error>>),
    /// The source's event thread ended (it stopped or panicked): nothing more will come from it.
    SourceGone(u64),
    /// The watcher is asked to stop.
    Stop,
}

/// The watcher's event handler: forwards to the collector, and says so when the watcher's
/// thread drops it, which is how a watcher thread that died is noticed.
struct Feed {
    tx: Sender<Msg>,
    generation: u64,
}

impl EventHandler for Feed {
    fn handle_event(&mut self, event: notify::Result<Event>) {
        let msg = match event {
            Ok(event) => Ok(vec![TimedEvent {
                event,
                time: Instant::now(),
            }]),
            Err(e) => Err(vec![e]),
        };
        let _ = self.tx.send(Msg::Notify(self.generation, msg));
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::SourceGone(self.generation));
    }
}

/// A running event source; dropping it stops watching.
pub(crate) enum Source {
    /// inotify, FSEvents or ReadDirectoryChangesW (held: dropping it stops the watch).
    Native(#[allow(dead_code)] RecommendedWatcher),
    /// notify's `PollWatcher` (held, likewise).
    Poll(#[allow(dead_code)] PollWatcher),
}

impl Source {
    /// Which mode it is.
    pub(crate) fn mode(&self) -> WatcherMode {
        match self {
            Source::Native(_) => WatcherMode::Native,
            Source::Poll(_) => WatcherMode::Poll,
        }
    }

    /// Stops watching.
    pub(crate) fn stop(self) {
        drop(self);
    }
}

/// Native events on `root`, recursively. Links are not followed (the scan does not follow them
/// either, and they could lead out of the vault).
pub(crate) fn start_native(
    root: &Path,
    tx: &Sender<Msg>,
    generation: u64,
) -> notify::Result<Source> {
    let config = notify::Config::default().with_follow_symlinks(false);
    let feed = Feed {
        tx: tx.clone(),
        generation,
    };
    let mut watcher = RecommendedWatcher::new(feed, config)?;
    watcher.watch(root, RecursiveMode::Recursive)?;
    Ok(Source::Native(watcher))
}

/// notify's `PollWatcher` on `root`, looking every `interval`.
pub(crate) fn start_poll(
    root: &Path,
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
    let mut watcher = PollWatcher::new(feed, config)?;
    watcher.watch(root, RecursiveMode::Recursive)?;
    Ok(Source::Poll(watcher))
}
