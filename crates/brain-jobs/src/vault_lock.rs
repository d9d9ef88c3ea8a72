//! The vault lock, `.brain/sync.lock`: held by every job that works on the vault folder (a
//! directory sync, import or export; a git merge and its import), so two of them never work on
//! one vault at once, whichever process runs them.
//!
//! It lives here, beside the handlers, because the plugin runtime takes it for the job types
//! registered as holding it, and a job that holds it only for part of its run (git) takes it
//! itself: one implementation for both. The path comes from [`VaultLayout`].

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::Duration;

use brain_core::VaultLayout;

use crate::handler::{JobContext, JobError};

/// How often a job waiting for the lock tries again (and checks its cancel token).
const RETRY_EVERY: Duration = Duration::from_millis(50);

/// Holds `.brain/sync.lock` while the returned file lives: one vault job at a time, across
/// processes (the kernel releases it if the process dies). Waiting for it can be cancelled,
/// and the job's progress says what it waits for.
pub fn lock_vault(root: &Path, ctx: &JobContext) -> Result<File, JobError> {
    let layout = VaultLayout::new(root);
    let dir = layout.state_dir();
    std::fs::create_dir_all(dir)
        .map_err(|e| JobError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    let path = layout.sync_lock();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| JobError::Failed(format!("cannot open {}: {e}", path.display())))?;
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                if ctx.cancel.is_cancelled() {
                    return Err(JobError::Cancelled);
                }
                if !told {
                    told = true;
                    ctx.progress
                        .set(0, None, "Waiting for another sync of this vault to finish");
                    ctx.progress.flush();
                }
                std::thread::sleep(RETRY_EVERY);
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(JobError::Failed(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )));
            }
        }
    }
}
