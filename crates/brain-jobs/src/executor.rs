//! The executor: worker threads that claim jobs under a lease and run their handlers.
//!
//! An idle worker sleeps until the first of: a wake (`Queue::notify`: a job enqueued in this
//! process, a commit by another process seen by the store watch, shutdown), the next `run_at`
//! of its types, or its idle poll. Around the workers run the heartbeat, the reaper and, when
//! [`PoolConfig::watch_store_ms`] is set, the store watch; they sleep on the pool's signal, so
//! an idle pool wakes only at their intervals and still stops at once.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use brain_core::CancelToken;
use brain_core::time::now_ms;
use brain_store::jobs::{Job, JobState, Outcome};

use crate::backoff;
use crate::bus::Event;
use crate::handler::{JobContext, JobError};
use crate::progress::JobProgressReporter;
use crate::queue::Queue;
use crate::signal::PoolSignal;
use crate::{heartbeat, idle, reaper, watch};

/// How a pool runs.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Worker threads.
    pub workers: usize,
    /// Jobs a worker claims at once. 1 by default: a job claimed but not started would use an
    /// attempt if the process died, and would delay shutdown.
    pub claim_batch: usize,
    /// Lease length: a job whose worker stops heartbeating is reclaimed after this.
    pub lease_ms: i64,
    /// Heartbeat interval; also how soon a cancel from another process reaches a running job.
    pub heartbeat_ms: u64,
    /// The longest an idle worker sleeps before looking for work again. Jobs enqueued in this
    /// process wake it at once, and a delayed job of its types wakes it when due; this bounds
    /// how late it sees a job from another process when `watch_store_ms` is not set.
    pub idle_poll_ms: u64,
    /// How often expired leases are reclaimed.
    pub reap_every_ms: u64,
    /// Finished jobs are pruned after this long.
    pub retention_ms: i64,
    /// This pool's name; each worker thread is `<worker_id>-<n>` in job rows, so a lease is
    /// one thread's and a thread that lost one can never finish the job another took over.
    pub worker_id: String,
    /// When set, a thread reads the store's change notifier every this many milliseconds and
    /// wakes idle workers when another process committed, so a job a CLI enqueues next to a
    /// daemon starts within about this long. `None` (the default) for short-lived commands,
    /// which rely on the idle poll.
    pub watch_store_ms: Option<u64>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            claim_batch: 1,
            lease_ms: 30_000,
            heartbeat_ms: 400,
            idle_poll_ms: 200,
            reap_every_ms: 5_000,
            retention_ms: 7 * 24 * 3_600_000,
            worker_id: crate::liveness::pool_id(now_ms()),
            watch_store_ms: None,
        }
    }
}

/// Worker threads plus their heartbeat, reaper and store watch, until
/// [`WorkerPool::shutdown`].
pub struct WorkerPool {
    signal: Arc<PoolSignal>,
    threads: Vec<JoinHandle<()>>,
    queue: Queue,
}

/// What a pool's helper threads run.
type Role = Box<dyn FnOnce() + Send>;

impl WorkerPool {
    /// Starts `config.workers` workers on `queue`.
    pub fn start(queue: Queue, config: PoolConfig) -> Self {
        let signal = Arc::new(PoolSignal::default());
        let config = Arc::new(config);
        // Before any worker looks for work, so the watch sees every commit made after that.
        let version = match config.watch_store_ms {
            Some(_) => queue
                .store()
                .change_notifier()
                .and_then(|n| n.version().ok()),
            None => None,
        };
        let mut threads = Vec::new();
        for n in 0..config.workers.max(1) {
            let (queue, signal, config) = (queue.clone(), signal.clone(), config.clone());
            let worker = format!("{}-{n}", config.worker_id);
            let spawned = std::thread::Builder::new()
                .name(format!("brain-worker-{n}"))
                .spawn(move || worker_loop(&queue, &signal, &config, &worker));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => tracing::error!(error = %e, "cannot start a worker thread"),
            }
        }
        let role = |f: fn(&Queue, &PoolSignal, &PoolConfig)| -> Role {
            let (queue, signal, config) = (queue.clone(), signal.clone(), config.clone());
            Box::new(move || f(&queue, &signal, &config))
        };
        let mut roles: Vec<(&str, Role)> = vec![
            ("brain-heartbeat", role(heartbeat::run)),
            ("brain-reaper", role(reaper::run)),
        ];
        if config.watch_store_ms.is_some() {
            let (queue, signal, config) = (queue.clone(), signal.clone(), config.clone());
            roles.push((
                "brain-db-watch",
                Box::new(move || watch::run(&queue, &signal, &config, version)),
            ));
        }
        for (name, run) in roles {
            match std::thread::Builder::new().name(name.into()).spawn(run) {
                Ok(t) => threads.push(t),
                Err(e) => tracing::error!(error = %e, "cannot start {name}"),
            }
        }
        Self {
            signal,
            threads,
            queue,
        }
    }

    /// Stops claiming and gives running jobs until `limit` to finish; returns `false` if some
    /// were still running then. Those threads are left to end with the process, and their
    /// jobs, whose leases stop being renewed, are taken over by the next worker of any process:
    /// for a process that must leave promptly (an MCP client waits only a moment for its
    /// server to exit).
    pub fn shutdown_within(self, limit: Duration) -> bool {
        self.signal.stop();
        self.queue.notify();
        let deadline = std::time::Instant::now() + limit;
        let mut threads = self.threads;
        while !threads.is_empty() {
            let (done, running): (Vec<_>, Vec<_>) =
                threads.into_iter().partition(|t| t.is_finished());
            for t in done {
                let _ = t.join();
            }
            threads = running;
            if threads.is_empty() {
                break;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// Stops claiming, lets running jobs finish, and joins every thread.
    pub fn shutdown(self) {
        self.signal.stop();
        self.queue.notify();
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn worker_loop(queue: &Queue, signal: &PoolSignal, config: &PoolConfig, worker: &str) {
    let capacities = queue.registry().capacities();
    let types: Vec<String> = capacities.iter().map(|(t, _)| t.clone()).collect();
    let idle_poll = Duration::from_millis(config.idle_poll_ms);
    loop {
        // Read before looking for work: a wake sent from here on (a job enqueued while the
        // claim runs, or shutdown) ends the wait below instead of being missed.
        let seen = queue.wake_generation();
        if signal.is_stopped() {
            break;
        }
        let claimed_at = now_ms();
        let claimed = queue.store().claim(
            worker,
            &capacities,
            config.claim_batch.max(1),
            claimed_at,
            config.lease_ms,
        );
        let jobs = match claimed {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::error!(error = %e, "claiming jobs failed; retrying");
                queue.wait_for_work(seen, idle_poll);
                continue;
            }
        };
        if jobs.is_empty() {
            let sleep = idle::wait(queue.store().as_ref(), &types, claimed_at, idle_poll);
            queue.wait_for_work(seen, sleep);
            continue;
        }
        // Every claimed job's lease is kept from now on, even those waiting their turn here.
        {
            let mut running = queue.lock_running();
            for job in &jobs {
                running.insert(job.id, (worker.to_string(), CancelToken::new()));
            }
        }
        for job in jobs {
            execute(queue, worker, job);
        }
        if signal.is_stopped() {
            // The heartbeat waits for the last running job to end before it leaves.
            signal.poke();
        }
    }
}

/// Runs one attempt and records how it ended.
fn execute(queue: &Queue, worker: &str, job: Job) {
    let id = job.id;
    let token = queue
        .lock_running()
        .get(&id)
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    let Some(registered) = queue.registry().get(&job.job_type) else {
        return;
    };
    let handler = registered.handler.clone();
    let type_config = registered.config.clone();
    let span =
        tracing::info_span!("job", job = id, job_type = %job.job_type, attempt = job.attempts);
    let _enter = span.enter();
    queue.bus().publish(Event::Started {
        id,
        attempt: job.attempts,
        job_type: job.job_type.clone(),
    });
    if job.cancel_requested {
        token.cancel();
    }
    let attempts = job.attempts;
    let max_attempts = job.max_attempts;
    let ctx = JobContext {
        job,
        cancel: token.clone(),
        progress: JobProgressReporter::new(
            id,
            attempts,
            worker,
            queue.store().clone(),
            queue.bus().clone(),
        ),
        queue: queue.clone(),
    };
    // The input is checked again as it is run, not only when it was enqueued: a row written by
    // another build, an older version or by hand may hold what this handler would misread.
    let refused = handler.validate(&ctx.job.input).err().map(|why| {
        JobError::Permanent(format!(
            "job #{id} ({}) was not run: its stored input is not valid for this build: {why}; \
             queue it again with a valid input",
            ctx.job.job_type
        ))
    });
    let result = if token.is_cancelled() {
        Ok(Err(JobError::Cancelled))
    } else if let Some(refused) = refused {
        Ok(Err(refused))
    } else {
        catch_unwind(AssertUnwindSafe(|| handler.run(&ctx)))
    };
    ctx.progress.flush();
    let now = now_ms();
    let retry_at = |attempt| {
        now + backoff::delay_ms(
            attempt,
            type_config.backoff_base_ms,
            type_config.backoff_max_ms,
        )
    };
    let (outcome, state) = match result {
        Ok(Ok(value)) => (Outcome::Succeeded(value), JobState::Succeeded),
        Ok(Err(_)) if token.is_cancelled() => (Outcome::Cancelled, JobState::Cancelled),
        Ok(Err(JobError::Cancelled)) => (Outcome::Cancelled, JobState::Cancelled),
        Ok(Err(JobError::Failed(error))) => {
            failed(id, error, retry_at(attempts), attempts, max_attempts)
        }
        Ok(Err(JobError::Permanent(error))) => {
            // The job id is a field of its own (not only of the info-level span), so the line
            // says which job at the default level, and a command that reports this job's end
            // itself can drop it (`gave_up`).
            tracing::warn!(job = id, gave_up = true, %error, "job failed permanently");
            (Outcome::GaveUp(error), JobState::Failed)
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            failed(
                id,
                format!("the handler panicked: {what}"),
                retry_at(attempts),
                attempts,
                max_attempts,
            )
        }
    };
    match queue.store().finish(id, worker, &outcome, now) {
        Ok(true) => {
            tracing::info!(state = state.as_str(), "job attempt ended");
            queue.bus().publish(Event::Finished { id, state });
        }
        Ok(false) => tracing::warn!("lease lost before the job finished; another attempt owns it"),
        Err(e) => {
            tracing::error!(error = %e, "cannot record the end of the job; its lease will expire and it will be retried")
        }
    }
    {
        let mut running = queue.lock_running();
        if running.get(&id).is_some_and(|(w, _)| w == worker) {
            running.remove(&id);
        }
    }
    if state == JobState::Queued {
        queue.notify();
    }
}

fn failed(
    id: i64,
    error: String,
    retry_at_ms: i64,
    attempts: u32,
    max_attempts: u32,
) -> (Outcome, JobState) {
    let gave_up = attempts >= max_attempts;
    tracing::warn!(job = id, gave_up, %error, attempts, max_attempts, "job attempt failed");
    let state = if gave_up {
        JobState::Failed
    } else {
        JobState::Queued
    };
    (Outcome::Failed { error, retry_at_ms }, state)
}
