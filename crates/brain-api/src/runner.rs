//! Who runs a job, and following it to its end: the one policy every command and MCP use.
//!
//! [`Workers`](crate::Workers) says what this process may do: it is the daemon (its pool runs
//! everything), it runs jobs on demand when no daemon holds the vault (`brain sync`,
//! `brain git`, `brain mcp`), or it never runs them (one-shot reads). While a caller follows a
//! job ([`Brain::follow`]), the policy is applied again about once a second and whenever the
//! job's worker stops renewing its lease: if no daemon holds the vault, this process starts its
//! workers, and a job whose lease lapsed is reclaimed at once (not at the reaper's next round)
//! so they take it over. The follower then sees [`FollowEvent::TakenOver`] and says so in words.

use std::time::{Duration, Instant};

use brain_core::time::now_ms;
use brain_jobs::{Follow, FollowEvent};
use brain_store::jobs::{Job, JobState};

use crate::{Brain, BrainError, Workers, daemon_pid};

/// How often the policy is applied while a job is followed, so a daemon that stops mid-job is
/// noticed within about this long.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Whether this process should run jobs now: the daemon always does; an on-demand process when
/// no daemon holds the vault (`daemon` is its pid, if one does); a `Never` process does not.
pub fn runs_here(workers: &Workers, daemon: Option<u32>) -> bool {
    match workers {
        Workers::Daemon => true,
        Workers::OnDemand(_) => daemon.is_none(),
        Workers::Never => false,
    }
}

/// How long ago (ms) the lease of a job shown `running` ran out at `now_ms`: its worker stopped
/// renewing it (killed, or hung), so nobody works on it until a worker takes it over. `None`
/// for a job that is not running or whose lease holds.
pub fn lease_lapsed_ms(j: &Job, now_ms: i64) -> Option<i64> {
    let until = j.lease_until_ms?;
    (j.state == JobState::Running && until < now_ms).then_some(now_ms - until)
}

/// The pid of a running job's worker when that process is known gone from this machine
/// (`brain_jobs::liveness`) while its lease still holds: nobody works on the job, and it is
/// taken over once the lease lapses. `None` otherwise (a lapsed lease says it already).
pub fn worker_gone(j: &Job, now_ms: i64) -> Option<u32> {
    if j.state != JobState::Running || lease_lapsed_ms(j, now_ms).is_some() {
        return None;
    }
    brain_jobs::liveness::worker_gone(j.worker.as_deref()?)
}

/// What a person reads about a running job whose worker `pid` is gone, its lease lapsing in
/// `lease_left_ms`.
pub fn worker_gone_text(pid: u32, lease_left_ms: i64) -> String {
    format!(
        "running, but its worker (pid {pid}) is gone; `brain sync` or `brain serve` takes it \
         over when its lease lapses, within {}s",
        (lease_left_ms.max(0) + 999) / 1000
    )
}

/// Why nobody works on a job shown running, in words, if that is so: its lease lapsed, or its
/// worker's process is gone. `None` for a job being worked on (or not running).
pub fn stalled_text(j: &Job, now_ms: i64) -> Option<String> {
    if let Some(ms) = lease_lapsed_ms(j, now_ms) {
        return Some(format!(
            "running, but its worker stopped responding (lease lapsed {}s ago); {}",
            (ms.max(0) + 999) / 1000,
            what_comes_next(j, None)
        ));
    }
    let pid = worker_gone(j, now_ms)?;
    let left_s = (j.lease_until_ms.map_or(0, |until| until - now_ms).max(0) + 999) / 1000;
    Some(format!(
        "running, but its worker (pid {pid}) is gone; {}",
        what_comes_next(j, Some(left_s))
    ))
}

/// What happens to a job nobody works on, told as it will happen: a cancel asked for is
/// carried out, a last attempt ends as failed, any other is taken over; each once its lease
/// lapses (in `left_s` seconds, when it has not yet) and a worker of any process looks.
fn what_comes_next(j: &Job, left_s: Option<i64>) -> String {
    let when = left_s.map_or(String::new(), |s| {
        format!(" when its lease lapses, within {s}s")
    });
    if j.cancel_requested {
        format!("it is marked cancelled{when}, once `brain sync` or `brain serve` runs")
    } else if j.attempts >= j.max_attempts {
        format!(
            "that was its last attempt, so it ends as failed{when}, once `brain sync` or \
             `brain serve` runs; the next `brain sync` starts a new one"
        )
    } else {
        format!("`brain sync` or `brain serve` takes it over{when}")
    }
}

/// What a person reads about a running job whose lease lapsed `lapsed_ms` ago.
pub fn lease_lapsed_text(lapsed_ms: i64) -> String {
    format!(
        "running, but its worker stopped responding (lease lapsed {}s ago); `brain sync` or \
         `brain serve` takes it over",
        (lapsed_ms.max(0) + 999) / 1000
    )
}

/// A job followed to its end, with this process's workers started (and the job taken over)
/// when the policy says so. Made by [`Brain::follow`].
pub struct Following<'a> {
    brain: &'a Brain,
    follow: Follow,
    last_check: Option<Instant>,
    /// This process started its workers while following (no daemon held the vault, or the one
    /// that did stopped); taken by [`Following::started_workers`].
    started: bool,
}

impl Brain {
    /// Follows job `id` wherever it runs (see [`brain_jobs::follow`]); while followed, this
    /// process takes the job over if no daemon holds the vault and its worker stopped.
    pub fn follow(&self, id: i64) -> Following<'_> {
        Following {
            brain: self,
            follow: Follow::new(self.queue(), id),
            last_check: None,
            started: false,
        }
    }

    /// Whether this process has started workers (and so runs queued jobs now).
    pub fn runs_jobs_here(&self) -> bool {
        self.runs_workers()
    }
}

impl Following<'_> {
    /// The followed job's id.
    pub fn id(&self) -> i64 {
        self.follow.id()
    }

    /// The job as last read (`None` before the first read).
    pub fn job(&self) -> Option<&Job> {
        self.follow.job()
    }

    /// Whether the stream is over (the job finished and its last event was taken).
    pub fn is_done(&self) -> bool {
        self.follow.is_done()
    }

    /// The next event, waiting up to `limit`; `None` if none came in time or the stream is
    /// over. Applies the runner policy as it goes.
    pub fn next_within(&mut self, limit: Duration) -> Result<Option<FollowEvent>, BrainError> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self
                .follow
                .next_within(left.min(brain_jobs::follow::POLL_EVERY))?;
            let lapsed = matches!(event, Some(FollowEvent::LeaseLapsed { .. }));
            if lapsed || self.last_check.is_none_or(|t| t.elapsed() >= CHECK_EVERY) {
                self.last_check = Some(Instant::now());
                self.apply_policy();
            }
            if event.is_some() || Instant::now() >= deadline || self.follow.is_done() {
                return Ok(event);
            }
        }
    }

    /// Whether the attempt running now is one of this process's workers', from the job's row
    /// read now (a command that joined someone else's job owns it once it took it over).
    pub fn runs_it_here_now(&self) -> Result<bool, BrainError> {
        let Workers::OnDemand(config) = &self.brain.workers else {
            return Ok(false);
        };
        let ours = format!("{}-", config.worker_id);
        let j = self.brain.job(self.id())?;
        Ok(j.state == JobState::Running
            && j.worker.as_deref().is_some_and(|w| w.starts_with(&ours)))
    }

    /// Whether this process started its workers since the last call (a command that saw a
    /// daemon says it runs the job itself now).
    pub fn started_workers(&mut self) -> bool {
        std::mem::take(&mut self.started)
    }

    /// Starts this process's workers if it may run jobs and no daemon holds the vault; if they
    /// run and the job's lease lapsed, reclaims it now so they take it over.
    fn apply_policy(&mut self) {
        let brain = self.brain;
        if self.follow.job().is_none_or(|j| j.state.is_finished()) {
            return;
        }
        let before = brain.runs_workers();
        brain.ensure_workers();
        self.started |= !before && brain.runs_workers();
        if !brain.runs_workers() {
            return;
        }
        let now = now_ms();
        // Never one of this process's own workers: their heartbeat is late (a loaded machine),
        // not dead, and the reaper's usual round decides that.
        let ours = match &brain.workers {
            Workers::OnDemand(config) => Some(format!("{}-", config.worker_id)),
            _ => None,
        };
        if self.follow.job().is_some_and(|j| {
            lease_lapsed_ms(j, now).is_some()
                && !j
                    .worker
                    .as_deref()
                    .zip(ours.as_deref())
                    .is_some_and(|(w, o)| w.starts_with(o))
        }) {
            match brain.queue().store().reap(now) {
                Ok(ids) if !ids.is_empty() => {
                    tracing::info!(?ids, "reclaimed jobs whose worker stopped responding");
                    brain.queue().notify();
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(job = self.id(), error = %e, "cannot reclaim the job now; the reaper retries")
                }
            }
        }
    }
}

/// Whether a follower in a process with `workers` would start workers for the vault at `root`
/// now (for a command deciding what to tell the user before following).
pub fn would_run_here(workers: &Workers, root: &std::path::Path) -> bool {
    runs_here(workers, daemon_pid(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_runs_jobs_on_demand_only_without_one_never_never() {
        let on_demand = Workers::OnDemand(brain_jobs::PoolConfig::default());
        assert!(runs_here(&Workers::Daemon, None));
        assert!(runs_here(&on_demand, None));
        assert!(!runs_here(&on_demand, Some(42)), "a daemon holds the vault");
        assert!(!runs_here(&Workers::Never, None));
    }
}
