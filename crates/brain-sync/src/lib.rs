//! Directory sync: keeps a folder of Markdown notes and the store in step, in both directions,
//! without ever losing a version.
//!
//! A sync is scan → three-way decision per path against the stored base ([`plan::decide`]) →
//! apply. The scan only stats files; only files whose size or mtime moved are read, in parallel,
//! while the store writes what is read. Per-file problems are reported and skipped, never fatal;
//! whole-sync stops ([`SyncError`]) change nothing they should not.
//!
//! [`watch`] is the daemon's side: it turns file events into `directory-import` and
//! `directory-sync` jobs.

mod engine;
mod error;
pub mod fsio;
pub mod jobs;
pub mod plan;
pub mod plugin;
pub mod read;
mod report;
pub mod scan;
pub mod unwritten;
pub mod watch;

pub use engine::{SyncEngine, SyncMode, SyncOptions};
pub use error::SyncError;
pub use plugin::{SyncPlugin, VaultSync};
pub use read::EntityBuilder;
pub use report::{ConflictNote, SkippedFile, SyncReport};
pub use unwritten::UnwrittenNote;
pub use watch::{VaultWatcher, WatchError, WatchSettings, WatcherStatus};
