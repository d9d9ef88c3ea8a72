//! Following a job for a `sync` or `git_sync` call: stream `notifications/progress` to the
//! caller, keep workers alive, and cancel the job when the caller cancels the request.
//!
//! Two sources, because the job may run in this process or in another one (a daemon serving the
//! vault while `brain mcp` runs). The in-process event bus carries every progress update as its
//! worker publishes it (phase starts and ends are published at once, steps at most every 250 ms);
//! the store is read every [`POLL_EVERY`] for the job's state (and for its progress as long as
//! the bus has said nothing about the job, i.e. when another process runs it). A read is one
//! small SQLite query.
//!
//! MCP requires `progress` to increase with every notification, but a job reports
//! `(current, total, message)` per phase (scanning, importing, exporting...), and `current`
//! starts again from 0 at each phase. [`ProgressClock`] turns that into one monotonic number:
//! the steps done in the phases already left behind plus `current`. While the job runs no
//! `total` is sent, because how many steps the later phases will take is not known and a total
//! must never fall below a progress sent later; the phase's own count is in the `message`
//! ("Importing Projects/plan.md (120/2000)"). A notification is sent when the number moves (the
//! first one at once, even at 0; a message-only change waits for the next step), and a last one
//! when the job ends, with `progress == total` (for a job that succeeded, the end of its last
//! phase; always above the last value sent) and the job's final state as its message.
//!
//! Cancellation: rmcp cancels the request's token (`RequestContext::ct`) when the client sends
//! `notifications/cancelled` for it, on stdio and on streamable HTTP sessions alike (both feed
//! the same service loop), when a stateless HTTP client drops its response stream, and when the
//! connection closes. Each of these cancels the job: nobody is left waiting for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use brain_api::{Brain, BrainError};
use brain_jobs::Event;
use brain_store::jobs::{Job, JobProgress, JobState};
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::{Failure, blocking};

/// How often the job is read while followed.
const POLL_EVERY: Duration = Duration::from_millis(100);
/// How often `Brain::ensure_workers` is called while following, so a daemon that dies mid-job
/// is taken over by this process.
const ENSURE_WORKERS_EVERY: Duration = Duration::from_secs(1);

/// How following a job ended.
#[derive(Debug)]
pub(crate) enum Followed {
    /// The job reached a final state (succeeded, failed or cancelled by someone).
    Finished(Box<Job>),
    /// The request was cancelled; the job was asked to cancel, and this is its state after.
    Cancelled(Result<JobState, Failure>),
    /// The request was cancelled, but the job was someone else's (joined): left running.
    Left,
}

/// Follows job `id` until it ends or `ctx` is cancelled, sending progress notifications when
/// the request carries a progress token. A cancelled request cancels the job only if it
/// `owns` it: a job the request joined (a sync someone else started) keeps running for them.
pub(crate) async fn follow(
    brain: &Arc<Brain>,
    id: i64,
    owns: bool,
    ctx: &RequestContext<RoleServer>,
) -> Result<Followed, Failure> {
    let mut notifier = ctx
        .meta
        .get_progress_token()
        .map(|token| Notifier::new(ctx.peer.clone(), token, ctx.ct.clone()));
    let mut events = brain.queue().bus().subscribe();
    let mut bus_open = true;
    // Once the bus has spoken about the job it is the one source of its progress: a store read
    // racing a publish could hand back an older value after a newer one.
    let mut bus_seen = false;
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_ensure = Instant::now();
    loop {
        // Unbiased: a busy bus (other jobs' events) must not starve the poll, nor the cancel.
        tokio::select! {
            () = ctx.ct.cancelled() => {
                if !owns {
                    tracing::info!(job = id, "the MCP request was cancelled; the job it joined keeps running");
                    return Ok(Followed::Left);
                }
                tracing::info!(job = id, "the MCP request was cancelled; cancelling its job");
                let state = blocking(brain, move |b| b.cancel_job(id)).await;
                return Ok(Followed::Cancelled(state));
            }
            event = events.recv(), if bus_open => match event {
                Ok(Event::Progress { id: job, progress }) if job == id => {
                    bus_seen = true;
                    if let Some(n) = &mut notifier {
                        n.observe(Some(&progress), || format!("job #{id} running")).await;
                    }
                }
                // An attempt ended: read the job now rather than at the next tick.
                Ok(Event::Finished { id: job, .. }) if job == id => poll.reset_immediately(),
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => bus_open = false,
            },
            _ = poll.tick() => {
                let job = blocking(brain, move |b| b.job(id)).await?;
                if job.state.is_finished() {
                    if let Some(n) = &mut notifier {
                        n.finish(&job).await;
                    }
                    return Ok(Followed::Finished(Box::new(job)));
                }
                if !bus_seen && let Some(n) = &mut notifier {
                    n.observe(job.progress.as_ref(), || {
                        format!("{} #{} {}", job.job_type, job.id, job.state.as_str())
                    })
                    .await;
                }
                if last_ensure.elapsed() >= ENSURE_WORKERS_EVERY {
                    last_ensure = Instant::now();
                    if let Err(e) = blocking(brain, |b| {
                        b.ensure_workers();
                        Ok::<(), BrainError>(())
                    })
                    .await
                    {
                        tracing::warn!(job = id, error = %e, "could not check the workers");
                    }
                }
            }
        }
    }
}

/// Sends the progress notifications of one request.
struct Notifier {
    peer: Peer<RoleServer>,
    token: ProgressToken,
    ct: CancellationToken,
    clock: ProgressClock,
    /// Set when a send failed: the transport is gone, so stop trying.
    broken: bool,
}

impl Notifier {
    fn new(peer: Peer<RoleServer>, token: ProgressToken, ct: CancellationToken) -> Self {
        Notifier {
            peer,
            token,
            ct,
            clock: ProgressClock::default(),
            broken: false,
        }
    }

    /// Notifies if the job moved since the last notification. `idle` describes a job that has
    /// reported no progress yet.
    async fn observe(&mut self, progress: Option<&JobProgress>, idle: impl FnOnce() -> String) {
        let (current, total) = progress.map_or((0, None), |p| (p.current, p.total));
        if let Some(value) = self.clock.observe(current, total) {
            let message = progress.and_then(describe).unwrap_or_else(idle);
            self.send(value, None, message).await;
        }
    }

    /// The last notification, when the job has ended: progress reaches total.
    async fn finish(&mut self, job: &Job) {
        let end = self.clock.finish(job.state == JobState::Succeeded);
        let mut message = format!("{} #{} {}", job.job_type, job.id, job.state.as_str());
        if let Some(e) = &job.error {
            message.push_str(": ");
            message.push_str(e);
        }
        self.send(end, Some(end), message).await;
    }

    async fn send(&mut self, progress: u64, total: Option<u64>, message: String) {
        if self.broken {
            return;
        }
        let mut param = ProgressNotificationParam::new(self.token.clone(), progress as f64)
            .with_message(message);
        if let Some(total) = total {
            param = param.with_total(total as f64);
        }
        // A client that stopped reading must not hold the follower: a cancel still ends it.
        tokio::select! {
            sent = self.peer.notify_progress(param) => {
                if let Err(e) = sent {
                    tracing::debug!(error = %e, "could not send a progress notification; not sending more");
                    self.broken = true;
                }
            }
            () = self.ct.cancelled() => {}
        }
    }
}

/// What the job is doing, in words, with its counts; `None` before it has said anything.
fn describe(p: &JobProgress) -> Option<String> {
    if p.message.is_empty() {
        return None;
    }
    Some(match p.total {
        Some(total) => format!("{} ({}/{total})", p.message, p.current),
        None if p.current > 0 => format!("{} ({})", p.message, p.current),
        None => p.message.clone(),
    })
}

/// Turns a job's per-phase `(current, total)` into MCP's one monotonic `progress` (see the
/// module docs).
#[derive(Debug, Default)]
pub(crate) struct ProgressClock {
    /// Steps done in the phases already left behind.
    base: u64,
    /// The last `(current, total)` observed.
    last: Option<(u64, Option<u64>)>,
    /// The last progress value sent.
    sent: Option<u64>,
}

impl ProgressClock {
    /// Notes the job's `(current, total)`. Returns the progress to notify when it moved past the
    /// last one sent (the very first observation always notifies), and `None` otherwise.
    ///
    /// A phase change shows as `current` going down or `total` changing (a job sets its total
    /// only when a phase starts); the new phase then counts on from where the old one stopped.
    pub(crate) fn observe(&mut self, current: u64, total: Option<u64>) -> Option<u64> {
        if let Some((last_current, last_total)) = self.last
            && (current < last_current || total != last_total)
        {
            self.base = self.base.saturating_add(last_current);
        }
        self.last = Some((current, total));
        let progress = self.base.saturating_add(current);
        if self.sent.is_some_and(|sent| progress <= sent) {
            return None;
        }
        self.sent = Some(progress);
        Some(progress)
    }

    /// The progress (and total) of the last notification, sent when the job has ended: for a job
    /// that `completed`, the end of its last phase; in any case more than the last value sent.
    pub(crate) fn finish(&mut self, completed: bool) -> u64 {
        let end_of_phase = self.last.map_or(0, |(current, total)| {
            let phase = if completed {
                total.unwrap_or(current).max(current)
            } else {
                current
            };
            self.base.saturating_add(phase)
        });
        let end = match self.sent {
            Some(sent) if end_of_phase <= sent => sent.saturating_add(1),
            _ => end_of_phase,
        };
        self.sent = Some(end);
        end
    }
}

#[cfg(test)]
mod tests {
    use super::ProgressClock;

    /// Every value a clock sends for `steps`, then its final one.
    fn run(steps: &[(u64, Option<u64>)]) -> (Vec<u64>, u64) {
        let mut clock = ProgressClock::default();
        let sent = steps
            .iter()
            .filter_map(|&(c, t)| clock.observe(c, t))
            .collect();
        (sent, clock.finish(true))
    }

    #[test]
    fn first_observation_notifies_even_at_zero() {
        let mut clock = ProgressClock::default();
        assert_eq!(clock.observe(0, None), Some(0));
        assert_eq!(clock.observe(0, None), None, "nothing moved");
    }

    #[test]
    fn one_phase_counts_current() {
        let (sent, end) = run(&[(0, Some(10)), (3, Some(10)), (3, Some(10)), (10, Some(10))]);
        assert_eq!(sent, vec![0, 3, 10]);
        // The last phase was complete: the final notification goes one past it.
        assert_eq!(end, 11);
    }

    #[test]
    fn a_new_phase_counts_on_from_the_last() {
        // Scanning 100 files, then importing 20 of them: current restarts at 0.
        let (sent, end) = run(&[
            (40, Some(100)),
            (100, Some(100)),
            (0, Some(20)),
            (5, Some(20)),
            (20, Some(20)),
        ]);
        assert_eq!(sent, vec![40, 100, 105, 120]);
        assert_eq!(end, 121);
    }

    #[test]
    fn a_phase_seen_midway_still_moves_forward() {
        // The poll missed the new phase's start: total changed, current did not go down.
        let (sent, _) = run(&[(5, None), (8, Some(50))]);
        assert_eq!(sent, vec![5, 13]);
    }

    #[test]
    fn finish_reaches_an_unfinished_phase_total() {
        let (sent, end) = run(&[(0, None), (2, Some(10))]);
        assert_eq!(sent, vec![0, 2]);
        assert_eq!(end, 10);
    }

    #[test]
    fn a_job_that_failed_midway_ends_just_above_its_last_value() {
        let mut clock = ProgressClock::default();
        assert_eq!(clock.observe(2, Some(10)), Some(2));
        assert_eq!(clock.finish(false), 3);
    }

    #[test]
    fn a_job_with_no_progress_still_ends_above_its_start() {
        let (sent, end) = run(&[(0, None), (0, None)]);
        assert_eq!(sent, vec![0]);
        assert_eq!(end, 1);
        let mut clock = ProgressClock::default();
        assert_eq!(
            clock.finish(true),
            0,
            "never observed: the only notification is the last"
        );
    }

    #[test]
    fn progress_only_goes_up_and_ends_at_its_maximum() {
        // Phases of every shape, a glimpse of each at arbitrary points.
        let steps: Vec<(u64, Option<u64>)> = vec![
            (0, None),
            (7, None),
            (3, None),
            (3, Some(4)),
            (4, Some(4)),
            (0, Some(4)),
            (1, Some(9)),
            (0, None),
            (9, None),
            (2, Some(2)),
        ];
        let (mut values, end) = run(&steps);
        values.push(end);
        assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
        // The final total (== end) is at least every progress sent.
        assert!(values.iter().all(|&v| v <= end), "{values:?}");
    }
}
