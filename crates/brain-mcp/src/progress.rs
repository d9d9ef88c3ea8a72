//! Following a job for a `sync` or `git_sync` call: stream `notifications/progress` to the
//! caller, and cancel the job when the caller cancels the request.
//!
//! The job is followed through [`Brain::follow`] (the same stream the CLI draws its bars from):
//! it works whether the job runs in this process or in another one (a daemon serving the vault
//! while `brain mcp` runs), and it takes the job over with this process's workers when no
//! daemon holds the vault and the job's worker stopped. It runs on a blocking thread and hands
//! its events to the request's task.
//!
//! MCP requires `progress` to increase with every notification. The stream's counter already
//! never goes back and carries a total from its first event (one counter across the phases,
//! whose total grows as each phase learns its size), so every notification has a `total` at
//! least its `progress`; [`ProgressClock`] only drops events that did not move the counter (a
//! message-only change waits for the next step). The first notification is sent at once, even
//! at 0; the last one when the job ends, with `progress == total` (for a job that succeeded,
//! the whole total; always above the last value sent) and the job's final state as its
//! message.
//!
//! Cancellation: rmcp cancels the request's token (`RequestContext::ct`) when the client sends
//! `notifications/cancelled` for it, on stdio and on streamable HTTP sessions alike (both feed
//! the same service loop), when a stateless HTTP client drops its response stream, and when the
//! connection closes. Each of these cancels the job: nobody is left waiting for it.

use std::sync::Arc;
use std::time::Duration;

use brain_api::{Brain, BrainError};
use brain_jobs::FollowEvent;
use brain_jobs::follow::Progress;
use brain_store::jobs::{Job, JobState};
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{Failure, blocking};

/// How long the following thread waits for an event before it checks that the request still
/// listens.
const WAIT: Duration = Duration::from_millis(200);

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

/// Follows job `id` on a blocking thread, sending its events to the returned channel until it
/// finishes, the stream fails, or the receiver is dropped.
fn spawn_follower(
    brain: &Arc<Brain>,
    id: i64,
) -> (
    mpsc::Receiver<Result<FollowEvent, BrainError>>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel(64);
    let brain = brain.clone();
    let handle = tokio::task::spawn_blocking(move || {
        let mut following = brain.follow(id);
        while !tx.is_closed() {
            match following.next_within(WAIT) {
                Ok(Some(event)) => {
                    let last = matches!(event, FollowEvent::Finished(_));
                    if tx.blocking_send(Ok(event)).is_err() || last {
                        return;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    (rx, handle)
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
    let (mut events, handle) = spawn_follower(brain, id);
    loop {
        tokio::select! {
            () = ctx.ct.cancelled() => {
                drop(events);
                if !owns {
                    tracing::info!(job = id, "the MCP request was cancelled; the job it joined keeps running");
                    return Ok(Followed::Left);
                }
                tracing::info!(job = id, "the MCP request was cancelled; cancelling its job");
                let state = blocking(brain, move |b| b.cancel_job(id)).await;
                return Ok(Followed::Cancelled(state));
            }
            event = events.recv() => match event {
                Some(Ok(FollowEvent::Progress(p))) => {
                    if let Some(n) = &mut notifier {
                        n.observe(&p, id).await;
                    }
                }
                Some(Ok(FollowEvent::LeaseLapsed { lapsed_ms, .. })) => {
                    if let Some(n) = &mut notifier {
                        n.note = Some(format!("its worker stopped responding ({}); ", brain_api::runner::lease_lapsed_text(lapsed_ms)));
                    }
                }
                Some(Ok(FollowEvent::TakenOver { attempt, max_attempts, .. })) => {
                    if let Some(n) = &mut notifier {
                        n.note = Some(format!("taken over after its worker stopped (attempt {attempt} of {max_attempts}); "));
                    }
                }
                Some(Ok(FollowEvent::Retrying { .. })) => {}
                Some(Ok(FollowEvent::Finished(job))) => {
                    if let Some(n) = &mut notifier {
                        n.finish(&job).await;
                    }
                    return Ok(Followed::Finished(job));
                }
                Some(Err(e)) => return Err(e.into()),
                // The thread ended without a last event: it panicked (an internal failure), or
                // cannot have; the job as stored is the answer then.
                None => {
                    handle.await?;
                    let job = blocking(brain, move |b| b.job(id)).await?;
                    return Ok(Followed::Finished(Box::new(job)));
                }
            },
        }
    }
}

/// Sends the progress notifications of one request.
struct Notifier {
    peer: Peer<RoleServer>,
    token: ProgressToken,
    ct: CancellationToken,
    clock: ProgressClock,
    /// The last progress seen, for the final notification.
    last: Option<Progress>,
    /// Said once, with the next notification: the job's worker stopped, or it was taken over.
    note: Option<String>,
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
            last: None,
            note: None,
            broken: false,
        }
    }

    /// Notifies if the counter moved since the last notification.
    async fn observe(&mut self, p: &Progress, id: i64) {
        self.last = Some(p.clone());
        if let Some(value) = self.clock.observe(p) {
            let mut message = describe(p).unwrap_or_else(|| format!("job #{id} running"));
            if let Some(note) = self.note.take() {
                message.insert_str(0, &note);
            }
            self.send(value, p.total.max(value), message).await;
        }
    }

    /// The last notification, when the job has ended: progress reaches total.
    async fn finish(&mut self, job: &Job) {
        let end = self.clock.finish(self.last.as_ref());
        let mut message = format!("{} #{} {}", job.job_type, job.id, job.state.as_str());
        if let Some(e) = &job.error {
            message.push_str(": ");
            message.push_str(e);
        }
        self.send(end, end, message).await;
    }

    async fn send(&mut self, progress: u64, total: u64, message: String) {
        if self.broken {
            return;
        }
        let param = ProgressNotificationParam::new(self.token.clone(), progress as f64)
            .with_message(message)
            .with_total(total as f64);
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

/// What the job is doing, in words, with its phase's counts; `None` before it has said
/// anything.
fn describe(p: &Progress) -> Option<String> {
    if p.message.is_empty() {
        return None;
    }
    Some(match p.phase_total {
        Some(total) => format!("{} ({}/{total})", p.message, p.phase_current),
        None if p.phase_current > 0 => format!("{} ({})", p.message, p.phase_current),
        None => p.message.clone(),
    })
}

/// Keeps MCP's `progress` strictly increasing: the stream's counter never goes back, but it
/// may stand still while the message changes (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct ProgressClock {
    /// The last progress value sent.
    sent: Option<u64>,
}

impl ProgressClock {
    /// Returns the progress to notify when `p` moved past the last one sent (the very first
    /// observation always notifies), and `None` otherwise.
    pub(crate) fn observe(&mut self, p: &Progress) -> Option<u64> {
        if self.sent.is_some_and(|sent| p.current <= sent) {
            return None;
        }
        self.sent = Some(p.current);
        Some(p.current)
    }

    /// The progress (and total) of the last notification, sent when the job has ended: the
    /// stream's last value (for a job that succeeded, its whole total); in any case more than
    /// the last value sent.
    pub(crate) fn finish(&mut self, last: Option<&Progress>) -> u64 {
        let end_of_job = last.map_or(0, |p| p.current);
        let end = match self.sent {
            Some(sent) if end_of_job <= sent => sent.saturating_add(1),
            _ => end_of_job,
        };
        self.sent = Some(end);
        end
    }
}

#[cfg(test)]
mod tests {
    //! The clock fed by the follow stream's tally, as a request sees it: one report per step,
    //! of one attempt. The assertions are those of the clock that summed phases itself.
    use brain_core::Phase;
    use brain_jobs::follow::{Progress, Tally};
    use brain_store::jobs::JobProgress;

    use super::ProgressClock;

    /// A tally and a clock, observing per-phase reports as the stream would.
    #[derive(Default)]
    struct Request {
        tally: Tally,
        clock: ProgressClock,
        last: Option<Progress>,
        at: i64,
    }

    impl Request {
        fn observe_in(&mut self, phase: Option<Phase>, c: u64, t: Option<u64>) -> Option<u64> {
            self.at += 1;
            let report = JobProgress {
                current: c,
                total: t,
                message: String::new(),
                updated_ms: self.at,
                phase,
            };
            let p = self.tally.observe(1, Some(&report))?;
            assert!(p.total >= p.current, "a total at least the progress: {p:?}");
            let sent = self.clock.observe(&p);
            self.last = Some(p);
            sent
        }

        fn observe(&mut self, c: u64, t: Option<u64>) -> Option<u64> {
            self.observe_in(None, c, t)
        }

        fn finish(&mut self, completed: bool) -> u64 {
            let end = self.last.is_some().then(|| self.tally.finish(completed));
            self.clock.finish(end.as_ref())
        }
    }

    /// Every value a clock sends for `steps`, then its final one.
    fn run(steps: &[(u64, Option<u64>)]) -> (Vec<u64>, u64) {
        let mut clock = Request::default();
        let sent = steps
            .iter()
            .filter_map(|&(c, t)| clock.observe(c, t))
            .collect();
        (sent, clock.finish(true))
    }

    #[test]
    fn first_observation_notifies_even_at_zero() {
        let mut clock = Request::default();
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
        // The poll missed the new phase's start: the phase changed, current did not go down.
        // (The phase is typed now; the old clock guessed it from the total changing.)
        let mut clock = Request::default();
        let sent: Vec<u64> = [
            clock.observe_in(Some(Phase::Scanning), 5, None),
            clock.observe_in(Some(Phase::Importing), 8, Some(50)),
        ]
        .into_iter()
        .flatten()
        .collect();
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
        let mut clock = Request::default();
        assert_eq!(clock.observe(2, Some(10)), Some(2));
        assert_eq!(clock.finish(false), 3);
    }

    #[test]
    fn a_job_with_no_progress_still_ends_above_its_start() {
        let (sent, end) = run(&[(0, None), (0, None)]);
        assert_eq!(sent, vec![0]);
        assert_eq!(end, 1);
        let mut clock = Request::default();
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
