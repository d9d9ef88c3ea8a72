//! The watcher of `brain serve`: turns changes to the vault's files into directory jobs.
//!
//! ```text
//!  notify (inotify… or PollWatcher), raw events stamped on receipt
//!    ─► collector thread: filter (scanner's rules) ─► pending notes / folders / rescan
//!         quiet for `sync_debounce_ms` since the last event (or `max_wait` since the first)
//!         and no directory job running ─► drop echoes (stat == base) ─► one job:
//!            directory-import {"paths": [...]}  (coalesces into a queued one)
//!            or directory-sync {"mode": "full"} (joins a queued one) for folders and errors
//! ```
//!
//! A burst (a `git checkout`, a `cp -r`) becomes one job; a file written in chunks is imported
//! once, after it is stable; our own writes are not imported back. What events miss is caught
//! by the daemon's `verify-scan` schedule, a whole-vault sync every `serve.verify_interval_s`.
//!
//! The vault folder moved away is watched again when it comes back; another folder made at its
//! path never is ([`VaultRoot`]): the watcher stops for good and says so in its status
//! (`root_changed`), and the daemon, which checks the same, exits.

mod backend;
mod collect;
mod filter;
mod flush;
mod status;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use brain_core::config::VaultConfig;
use brain_core::{Config, PathError, PathMapper, WatchMode};
use brain_jobs::Queue;
use brain_store::Store;

pub use brain_api::daemon::{Replacement, RootChanged, VaultRoot};
pub use filter::FENCE_PREFIX;
pub use status::{WatchErrorNote, WatcherMode, WatcherStatus};

use backend::Msg;
use collect::{Collector, Times};
use filter::EventFilter;
use flush::Flusher;

/// The shortest polling interval: polling walks the whole vault, so a zero or tiny setting
/// would turn into a busy loop.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How to watch one vault. [`WatchSettings::from_config`] gives the configured values; the
/// fields are public so a caller (a test, a benchmark) can set finer ones.
#[derive(Clone, Debug)]
pub struct WatchSettings {
    /// The vault root.
    pub root: PathBuf,
    /// Entity types (which paths are notes) and the vault's format (Logseq's folder).
    pub vault: VaultConfig,
    /// Native events or polling.
    pub mode: WatchMode,
    /// The quiet window after the last change before its job is queued.
    pub debounce: Duration,
    /// The longest changes wait while more keep coming, so constant churn cannot starve imports.
    pub max_wait: Duration,
    /// How often polling looks (at least 100 ms), and how often a watcher that stopped working
    /// is set up again.
    pub poll_interval: Duration,
}

impl WatchSettings {
    /// The settings `[serve]` and `[vault]` give for the vault at `root`. The longest wait is ten
    /// debounce windows, at most 5 s (but at least two windows).
    pub fn from_config(root: &Path, config: &Config) -> Self {
        let serve = &config.serve;
        let debounce = Duration::from_millis(serve.sync_debounce_ms);
        Self {
            root: root.to_path_buf(),
            vault: config.vault.clone(),
            mode: serve.watch_mode,
            debounce,
            max_wait: (debounce * 10)
                .min(Duration::from_secs(5))
                .max(debounce * 2),
            poll_interval: Duration::from_millis(serve.watch_interval_ms),
        }
    }
}

/// Why a watcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The vault root is not a folder we can read.
    #[error("cannot watch {}: {source}; check that the vault folder exists and is readable", path.display())]
    Root {
        /// The root.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configured entity types are invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] PathError),
    /// Neither native events nor polling could be set up.
    #[error("cannot watch {}: {source}", path.display())]
    Notify {
        /// The root.
        path: PathBuf,
        /// notify's error.
        source: notify::Error,
    },
    /// The collector thread could not be started.
    #[error("cannot start the watcher thread: {0}")]
    Thread(std::io::Error),
}

/// A running watcher of one vault. Stops when dropped (or [`VaultWatcher::stop`]ped).
pub struct VaultWatcher {
    tx: Sender<Msg>,
    thread: Option<JoinHandle<()>>,
    status: Arc<Mutex<WatcherStatus>>,
}

impl VaultWatcher {
    /// Starts watching `settings.root`: returns once the watch is in place, so a change made
    /// after it returns is seen. Jobs go to `queue`; `store` tells echoes from changes. Native
    /// events that cannot be set up (no inotify instance or watch left, an unsupported file
    /// system) fall back to polling, which the status and a warning say.
    pub fn start(
        settings: WatchSettings,
        store: Arc<dyn Store>,
        queue: Queue,
    ) -> Result<Self, WatchError> {
        let root_err = |source| WatchError::Root {
            path: settings.root.clone(),
            source,
        };
        // Events carry the path as watched; canonical, it matches what the filter strips.
        let root = std::fs::canonicalize(&settings.root).map_err(root_err)?;
        std::fs::read_dir(&root).map_err(root_err)?;
        let identity = VaultRoot::capture(&root).map_err(root_err)?;
        let mapper = PathMapper::new(settings.vault.entity_types.iter().cloned())?;
        let skip_logseq = crate::scan::skips_logseq_dir(&root, settings.vault.format);
        let times = Times {
            debounce: settings.debounce,
            max_wait: settings.max_wait.max(settings.debounce),
            poll_interval: settings.poll_interval.max(MIN_POLL_INTERVAL),
        };
        let (tx, rx) = channel();
        let status = Arc::new(Mutex::new(WatcherStatus::new(WatcherMode::Failed)));
        let mut collector = Collector::new(
            identity,
            settings.mode,
            times,
            (tx.clone(), rx),
            status.clone(),
            EventFilter::new(&root, skip_logseq),
            Flusher {
                root: root.clone(),
                store,
                queue,
                mapper,
            },
        );
        collector
            .start_source(true)
            .map_err(|source| WatchError::Notify {
                path: root.clone(),
                source,
            })?;
        tracing::info!(
            path = %root.display(),
            mode = ?status.lock().map(|s| s.mode).unwrap_or(WatcherMode::Failed),
            debounce_ms = settings.debounce.as_millis() as u64,
            "watching the vault"
        );
        let thread = std::thread::Builder::new()
            .name("brain-watch".into())
            .spawn(move || collector.run())
            .map_err(WatchError::Thread)?;
        Ok(Self {
            tx,
            thread: Some(thread),
            status,
        })
    }

    /// A snapshot of the watcher's state and counters.
    pub fn status(&self) -> WatcherStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops watching and waits for the watcher's threads to end. Changes still waiting for
    /// their debounce window are queued at once rather than dropped.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.tx.send(Msg::Stop);
            if thread.join().is_err() {
                tracing::error!("the watcher thread panicked");
            }
        }
    }
}

impl Drop for VaultWatcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}
