//! What the watcher reports about itself: `brain status`, the web page and the daemon's logs
//! read it to tell whether saved files will be picked up, and how.

use serde::{Deserialize, Serialize};

/// How the watcher learns of changes right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatcherMode {
    /// The operating system's file events (inotify, FSEvents, ReadDirectoryChangesW).
    Native,
    /// Looking at the vault every `serve.watch_interval_ms`.
    Poll,
    /// Stopped on request; nothing is watched.
    Stopped,
    /// Nothing is watched because it could not be set up (the vault folder is gone, say); the
    /// watcher retries every `serve.watch_interval_ms` and rescans the vault once it succeeds.
    Failed,
}

/// The last error the watcher met, kept so a user can see why changes may have been late.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchErrorNote {
    /// What went wrong, for a person.
    pub message: String,
    /// When (ms since the epoch).
    pub at_ms: i64,
}

/// A snapshot of the watcher's state and counters. Cheap to take ([`super::VaultWatcher::status`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatcherStatus {
    /// The mode in use now.
    pub mode: WatcherMode,
    /// Native events were asked for but could not be used, so the watcher polls.
    pub fell_back: bool,
    /// Why it fell back to polling, when it did.
    pub fallback_reason: Option<String>,
    /// Notes and folders changed and not yet turned into a job (waiting for the debounce
    /// window, or for a running directory job to end).
    pub pending_paths: usize,
    /// Whether a whole-vault rescan is waiting with them.
    pub rescan_pending: bool,
    /// When the last file event arrived, ignored ones included (ms since the epoch).
    pub last_event_ms: Option<i64>,
    /// When pending changes were last turned into jobs, or found to need none (ms).
    pub last_flush_ms: Option<i64>,
    /// The last error met (a watcher error, an event queue overflow, a failed enqueue).
    pub last_error: Option<WatchErrorNote>,
    /// File events received (after the event layer merged duplicates), ignored ones included.
    pub events_seen: u64,
    /// `directory-import` jobs enqueued (or merged into one still queued).
    pub imports_enqueued: u64,
    /// Whole-vault `directory-sync` jobs enqueued (or joined) for folders, errors and the
    /// periodic verification.
    pub rescans_enqueued: u64,
    /// Paths dropped at flush because nothing changed for the store: our own writes (the file's
    /// stat equals its base) and files that came and went.
    pub echoes_dropped: u64,
    /// Times the watcher was set up again after it stopped working.
    pub restarts: u64,
    /// The highest `.brain/fence-N` whose event the watcher has taken in (0: none). Every change
    /// made before that file was created was taken in too, and `pending_paths` and
    /// `rescan_pending` in the same snapshot include it: so a caller that creates a fence and
    /// then sees it here with nothing pending knows those changes are jobs now, or were echoes.
    /// With native events only; a poll may see the fence before an earlier change.
    #[serde(default)]
    pub fence: u64,
    /// Set when the vault folder was replaced by another folder at its path: the watcher has
    /// stopped for good (it never watches the other folder), and this says why.
    #[serde(default)]
    pub root_changed: Option<String>,
}

impl WatcherStatus {
    /// The state of a watcher just started in `mode`.
    pub(crate) fn new(mode: WatcherMode) -> Self {
        Self {
            mode,
            fell_back: false,
            fallback_reason: None,
            pending_paths: 0,
            rescan_pending: false,
            last_event_ms: None,
            last_flush_ms: None,
            last_error: None,
            events_seen: 0,
            imports_enqueued: 0,
            rescans_enqueued: 0,
            echoes_dropped: 0,
            restarts: 0,
            fence: 0,
            root_changed: None,
        }
    }

    /// Records `message` as the last error, now.
    pub(crate) fn error(&mut self, message: impl Into<String>) {
        self.last_error = Some(WatchErrorNote {
            message: message.into(),
            at_ms: brain_core::time::now_ms(),
        });
    }
}
