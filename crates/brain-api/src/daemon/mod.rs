//! The daemon's parts that are not plugins: whether a `brain serve` holds a vault
//! (`.brain/serve.lock`, locked by the daemon for as long as it lives (the kernel releases it
//! when the process dies, even by SIGKILL), with its pid inside), taking it ([`acquire`]),
//! checking that the vault under a long-lived process is still the one it started on
//! ([`Bearings`]), and publishing what the daemon does for `brain status` in other processes
//! ([`StatusPublisher`]). Every process that needs work done asks [`daemon_pid`]: with a
//! daemon, it only enqueues and follows; without one, it runs workers itself.

mod bearings;
mod lock;
pub mod offline;
pub mod root;
mod status;
mod upkeep;

pub use bearings::{Bearings, Lost};
pub use lock::{DaemonError, DaemonLock, acquire};
pub use root::{Replacement, RootChanged, VaultRoot};
pub use status::{DAEMON_SEEN_WITHIN_MS, StatusPublisher};
pub use upkeep::{HISTORY_PRUNE, UpkeepPlugin};

use std::fs::OpenOptions;
use std::io::Read;
use std::path::{Path, PathBuf};

use brain_core::VaultLayout;

/// The runtime-state key under which the daemon publishes what it is doing.
pub const SERVE_STATE_KEY: &str = "serve";

/// Where the daemon's lock lives in a vault ([`VaultLayout::serve_lock`]).
pub fn serve_lock_path(root: &Path) -> PathBuf {
    VaultLayout::new(root).serve_lock()
}

/// The pid of the `brain serve` holding the vault at `root`, if one does.
pub fn daemon_pid(root: &Path) -> Option<u32> {
    let path = serve_lock_path(root);
    let mut file = OpenOptions::new().read(true).write(true).open(path).ok()?;
    // Shared: two processes checking at once do not collide with each other.
    match file.try_lock_shared() {
        // Nobody held it; let go at once so a daemon starting now is not refused.
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            Some(pid.trim().parse().unwrap_or(0))
        }
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}
