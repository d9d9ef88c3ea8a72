//! Sync errors: the ones that stop a whole sync. Per-file problems are not errors; they are
//! [`super::SkippedFile`]s in the report.

use std::path::PathBuf;

use brain_store::StoreError;

use super::SyncReport;

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The vault root cannot be listed; nothing was changed.
    #[error(
        "cannot read the vault folder {path}: {source}. Nothing was changed; check that it exists, is mounted and readable"
    )]
    VaultUnreadable {
        /// The root.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The sync would soft-delete too much at once; nothing was deleted.
    #[error(
        "this sync would delete {would_delete} of {live} notes (more than the configured share {share}); nothing was deleted. If the files really are gone, run `brain sync --allow-mass-delete`; otherwise check that the whole vault is present"
    )]
    MassDelete {
        /// How many entities would be tombstoned.
        would_delete: u64,
        /// Live entities before the sync.
        live: u64,
        /// `sync.mass_delete_share`.
        share: f64,
        /// What was done before stopping (imports are kept).
        report: Box<SyncReport>,
    },
    /// The caller cancelled; what was done so far is committed and listed.
    #[error("sync cancelled; {} files were imported and {} written before it stopped", report.imported + report.updated, report.exported)]
    Cancelled {
        /// What was done before stopping.
        report: Box<SyncReport>,
    },
    /// The configured entity types are invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] brain_core::PathError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
