//! Who works on a batch: a batch nobody works on (its background worker killed, or stopped by a
//! store away for too long) is taken up by the process waiting for it, as a command following
//! a job takes the job over (`Brain::follow`); and a wait for a batch that ends once its files
//! are written too.

use brain_core::time::now_ms;
use brain_store::jobs::JobState;

use crate::{Brain, BrainError, Workers, daemon_pid, runner};

/// How long a batch's due children may wait with none running and none ending before nobody is
/// taken to work on it: longer than a worker takes between two children.
const IDLE_BEFORE_TENDED_MS: i64 = 3_000;

impl Brain {
    /// Starts this process's workers if nobody works on batch `id`: it has children left, no
    /// daemon holds the vault, no child runs under a live lease of a live worker, and none
    /// ended or was due within the last few seconds. Only a facade that may run jobs
    /// (`Workers::OnDemand`) starts them. Returns whether it started them now.
    pub fn tend_batch(&self, id: i64) -> Result<bool, BrainError> {
        if !matches!(self.workers, Workers::OnDemand(_))
            || self.runs_workers()
            || !self.batch_unattended(id)?
        {
            return Ok(false);
        }
        tracing::info!(batch = id, "nobody works on this batch: running it here");
        self.ensure_workers();
        Ok(self.runs_workers())
    }

    /// Whether nobody works on batch `id` now: it has children left, no daemon holds the
    /// vault, no child runs under a live lease of a live worker, and none ended or was due
    /// within the last few seconds. `brain batch status` says so rather than "running".
    pub fn batch_unattended(&self, id: i64) -> Result<bool, BrainError> {
        if daemon_pid(&self.root).is_some() {
            return Ok(false);
        }
        let children = self.batch_children(id)?;
        let now = now_ms();
        let mut left = false;
        let mut last_event = 0;
        for c in &children {
            last_event = last_event.max(c.finished_ms.unwrap_or(0));
            match c.state {
                JobState::Running
                    if runner::lease_lapsed_ms(c, now).is_none()
                        && runner::worker_gone(c, now).is_none() =>
                {
                    return Ok(false);
                }
                JobState::Running => left = true,
                JobState::Queued => {
                    left = true;
                    last_event = last_event.max(c.run_at_ms);
                }
                _ => {}
            }
        }
        Ok(left && now - last_event >= IDLE_BEFORE_TENDED_MS)
    }
}

impl Brain {
    /// Waits (up to `timeout`) until no export of this vault is queued or running, whoever
    /// writes them (a daemon, a background worker, or this process's workers, started when
    /// no daemon would): a batch that ended has changed the store, and its files follow in an
    /// export. Returns whether they were all written; `false` at once when exports are paused.
    pub fn wait_files_written(&self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        if self
            .store_paused()
            .is_ok_and(|p| p.iter().any(|t| t == crate::directory::DIRECTORY_EXPORT))
        {
            return false;
        }
        self.finish_writes(timeout);
        loop {
            match self.pending_exports() {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the queue to see the files written");
                    return false;
                }
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
