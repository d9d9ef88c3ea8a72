//! Whether a `brain serve` holds a vault, and how a long-lived process that lost its vault
//! says so. The daemon's lock, its bearings check and its published state are brain-api's
//! (`brain_api::daemon`); this is the binary's side of them.

use brain_api::daemon::Lost;

use crate::config::VaultPaths;

pub use brain_api::daemon::Bearings;

/// The pid of the `brain serve` holding this vault, if one does.
pub fn running(paths: &VaultPaths) -> Option<u32> {
    brain_api::daemon_pid(&paths.root)
}

/// The error a process stopped by `lost` fails with: `who` (`brain serve`) stopped, and why.
pub fn stopped_by(lost: Lost, who: &str) -> anyhow::Error {
    anyhow::Error::new(lost).context(format!("{who} stopped"))
}
