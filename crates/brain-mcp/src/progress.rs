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
//! never goes back and carries a total once the job knows its size (the notes a scan found),
//! and that total only grows, so a client can show a percentage from the moment the job knows
//! its size: [`ProgressClock`] sends the first notification at once (the job is queued or
//! starting), with no total while the job has none (never `0/0`), then only notifications with
//! a total. It drops events that did not
//! move the counter (a message-only change waits for the next step), and while the job runs
//! holds the value one short of the total, so `progress == total` (100%) is said only by the
//! last notification, when the job has ended, with the job's final state as its message. (A job
//! that failed or was cancelled ends just above its last value, within the total; a job that
//! counted nothing at all ends with no total.)
//!
//! Cancellation: rmcp cancels the request's token (`RequestContext::ct`) when the client sends
//! `notifications/cancelled` for it, on stdio and on streamable HTTP sessions alike (both feed
//! the same service loop), when a stateless HTTP client drops its response stream, and when the
//! connection closes. Each of these cancels the job: nobody is left waiting for it.

use std::sync::Arc;
use std::time::Duration;

use brain_api::follow::{FollowEvent, Progress};
use brain_api::{Brain, BrainError};
use brain_api::{Job, JobState};
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
                Some(Ok(FollowEvent::WorkerGone { pid, lease_left_ms, .. })) => {
                    if let Some(n) = &mut notifier {
                        n.note = Some(format!(
                            "its worker (pid {pid}) is gone; taken over when its lease lapses, within {}s; ",
                            (lease_left_ms.max(0) + 999) / 1000
                        ));
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
        if let Some((value, total)) = self.clock.observe(p) {
            let mut message = describe(p).unwrap_or_else(|| format!("job #{id} {}", waiting(p)));
            if let Some(note) = self.note.take() {
                message.insert_str(0, &note);
            }
            self.send(value, total, message).await;
        }
    }

    /// The last notification, when the job has ended: for a job that succeeded, progress
    /// reaches total.
    async fn finish(&mut self, job: &Job) {
        let (end, total) = self.clock.finish(self.last.as_ref());
        let mut message = format!("{} #{} {}", job.job_type, job.id, job.state.as_str());
        // An error an earlier attempt left on a job that then succeeded is not its outcome.
        if let Some(e) = job.outcome_error() {
            message.push_str(": ");
            message.push_str(e);
        }
        self.send(end, total, message).await;
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

/// What a job that has reported nothing yet is doing.
fn waiting(p: &Progress) -> &'static str {
    if p.attempt == 0 {
        "queued, waiting for a worker"
    } else {
        "starting"
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

/// Keeps MCP's `progress` strictly increasing and a percentage honest (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct ProgressClock {
    /// The last progress value sent.
    sent: Option<u64>,
}

impl ProgressClock {
    /// Returns the progress (and total) to notify for `p` while the job runs: the first
    /// observation at once (at 0 and with no total while the job has none yet: it waits for a
    /// worker, or its scan is under way), then only values with a total that moved past the
    /// last one sent; never the total itself (the job is not done until it has ended).
    pub(crate) fn observe(&mut self, p: &Progress) -> Option<(u64, Option<u64>)> {
        if self.sent.is_none() && p.total == 0 {
            self.sent = Some(0);
            return Some((0, None));
        }
        if p.total == 0 {
            return None;
        }
        let value = p.current.min(p.total - 1);
        if self.sent.is_some_and(|sent| value <= sent) {
            return None;
        }
        self.sent = Some(value);
        Some((value, Some(p.total)))
    }

    /// The progress and total of the last notification, sent when the job has ended: the
    /// stream's last value (for a job that succeeded, its whole total), in any case more than
    /// the last value sent; no total when the job never had one.
    pub(crate) fn finish(&mut self, last: Option<&Progress>) -> (u64, Option<u64>) {
        let (end_of_job, total) = last.map_or((0, 0), |p| (p.current, p.total));
        let end = match self.sent {
            Some(sent) if end_of_job <= sent => sent.saturating_add(1),
            _ => end_of_job,
        };
        self.sent = Some(end);
        (end, (total > 0).then(|| total.max(end)))
    }
}

#[cfg(test)]
mod tests {
    //! The clock fed by the follow stream's tally, as a request sees it: one report per step,
    //! of one attempt.
    use brain_api::JobProgress;
    use brain_api::follow::{Progress, Tally};
    use brain_core::Phase;

    use super::ProgressClock;

    /// A tally and a clock, observing per-phase reports as the stream would.
    #[derive(Default)]
    struct Request {
        tally: Tally,
        clock: ProgressClock,
        last: Option<Progress>,
        at: i64,
        /// Every `(progress, total)` notified.
        sent: Vec<(u64, Option<u64>)>,
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
            if let Some(v) = sent {
                self.sent.push(v);
            }
            self.last = Some(p);
            sent.map(|(v, _)| v)
        }

        fn observe(&mut self, c: u64, t: Option<u64>) -> Option<u64> {
            self.observe_in(None, c, t)
        }

        fn finish(&mut self, completed: bool) -> (u64, Option<u64>) {
            let end = self.last.is_some().then(|| self.tally.finish(completed));
            let last = self.clock.finish(end.as_ref());
            self.sent.push(last);
            last
        }
    }

    /// Every value a clock sends for `steps`, then its final one.
    fn run(steps: &[(u64, Option<u64>)]) -> (Vec<u64>, (u64, Option<u64>)) {
        let mut clock = Request::default();
        let sent = steps
            .iter()
            .filter_map(|&(c, t)| clock.observe(c, t))
            .collect();
        (sent, clock.finish(true))
    }

    #[test]
    fn the_first_notification_comes_at_once_without_a_total_then_every_one_has_one() {
        let mut clock = Request::default();
        assert_eq!(clock.observe(0, None), Some(0), "at once");
        assert_eq!(clock.sent, vec![(0, None)], "no 0/0: no total yet");
        assert_eq!(clock.observe(0, None), None, "nothing moved");
        assert_eq!(clock.observe(0, Some(10)), None, "0 again: not an increase");
        assert_eq!(clock.observe(1, Some(10)), Some(1));
        assert_eq!(clock.sent.last(), Some(&(1, Some(10))));
    }

    #[test]
    fn one_phase_ends_at_its_total_only_when_the_job_ends() {
        let (sent, end) = run(&[(0, Some(10)), (3, Some(10)), (3, Some(10)), (10, Some(10))]);
        assert_eq!(sent, vec![0, 3, 9], "100% is not said while the job runs");
        let mut clock = Request::default();
        clock.observe(0, Some(10));
        assert_eq!(
            clock.sent,
            vec![(0, Some(10))],
            "a total from the first when known"
        );
        assert_eq!(
            end,
            (10, Some(10)),
            "the last notification is 10/10, not 11"
        );
    }

    #[test]
    fn a_sync_of_a_vault_with_few_changes_is_a_percentage_from_the_first_notification() {
        let mut r = Request::default();
        for (ph, c, t) in [
            (Phase::Scanning, 0, None),
            (Phase::Scanning, 15_000, None),
            (Phase::Importing, 0, Some(675)),
            (Phase::Importing, 675, Some(675)),
        ] {
            r.observe_in(Some(ph), c, t);
        }
        r.finish(true);
        assert_eq!(
            r.sent,
            vec![
                (0, None),
                (14_325, Some(15_000)),
                (14_999, Some(15_000)),
                (15_000, Some(15_000)),
            ],
            "never 15000/15000 then 15675/30000"
        );
    }

    #[test]
    fn a_job_that_failed_midway_ends_just_above_its_last_value() {
        let mut clock = Request::default();
        assert_eq!(clock.observe(2, Some(10)), Some(2));
        assert_eq!(clock.finish(false), (3, Some(10)));
    }

    #[test]
    fn a_job_that_counted_nothing_ends_without_a_total() {
        let (sent, end) = run(&[(0, None), (0, None)]);
        assert_eq!(sent, vec![0]);
        assert_eq!(end, (1, None), "above the first, with no total to claim");
        let mut clock = Request::default();
        assert_eq!(
            clock.finish(true),
            (0, None),
            "never observed: the only notification is the last"
        );
    }

    #[test]
    fn progress_only_goes_up_never_past_its_total_and_ends_at_its_maximum() {
        // Phases of every shape, a glimpse of each at arbitrary points.
        let steps: Vec<(Option<Phase>, u64, Option<u64>)> = vec![
            (Some(Phase::Scanning), 0, None),
            (Some(Phase::Scanning), 7, None),
            (Some(Phase::Importing), 3, None),
            (Some(Phase::Importing), 3, Some(4)),
            (Some(Phase::Importing), 4, Some(4)),
            (Some(Phase::Importing), 0, Some(4)),
            (None, 1, Some(9)),
            (None, 0, None),
            (Some(Phase::Exporting), 9, None),
            (Some(Phase::Exporting), 2, Some(2)),
        ];
        let mut r = Request::default();
        for (ph, c, t) in steps {
            r.observe_in(ph, c, t);
        }
        let (end, total) = r.finish(true);
        let values: Vec<u64> = r.sent.iter().map(|(v, _)| *v).collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
        let totals: Vec<u64> = r.sent.iter().filter_map(|(_, t)| *t).collect();
        assert!(totals.windows(2).all(|w| w[0] <= w[1]), "{totals:?}");
        assert!(
            r.sent[1..].iter().all(|(v, t)| t.is_some_and(|t| *v <= t)),
            "every notification after the first has a total at least its progress: {:?}",
            r.sent
        );
        assert_eq!(Some(end), total, "it ends at its total");
    }
}
