//! The queue facade: what interfaces (CLI, MCP, web) call. It validates before anything is
//! stored, so a bad job is refused to its caller rather than failing later in a worker.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use brain_core::CancelToken;
use brain_core::time::now_ms;
use brain_store::JobStore;
use brain_store::jobs::{BatchStatus, DedupePolicy, Enqueued, Job, JobState, NewJob};
use serde_json::Value;

use crate::bus::EventBus;
use crate::error::QueueError;
use crate::handler::Registry;

/// A job to enqueue; unset fields take the type's defaults.
#[derive(Clone, Debug)]
pub struct EnqueueRequest {
    /// Handler type.
    pub job_type: String,
    /// Input, a JSON object.
    pub input: Value,
    /// 1-10; default from the type.
    pub priority: Option<u8>,
    /// Not before (ms); default now.
    pub run_at_ms: Option<i64>,
    /// Deduplication key and policy.
    pub dedupe: Option<(String, DedupePolicy)>,
    /// Batch root.
    pub parent_id: Option<i64>,
}

impl EnqueueRequest {
    /// A request with defaults for everything but type and input.
    pub fn new(job_type: impl Into<String>, input: Value) -> Self {
        Self {
            job_type: job_type.into(),
            input,
            priority: None,
            run_at_ms: None,
            dedupe: None,
            parent_id: None,
        }
    }

    /// With a dedupe key and policy.
    pub fn dedupe(mut self, key: impl Into<String>, policy: DedupePolicy) -> Self {
        self.dedupe = Some((key.into(), policy));
        self
    }
}

/// Wakes idle workers of this process when a job is enqueued here, so in-process latency is not
/// the poll interval.
#[derive(Default)]
pub(crate) struct Wake {
    generation: Mutex<u64>,
    cv: Condvar,
}

struct Inner {
    store: Arc<dyn JobStore>,
    registry: Arc<Registry>,
    bus: EventBus,
    wake: Wake,
    /// Jobs running in this process: the worker (thread) holding each and its cancel token.
    running: Mutex<HashMap<i64, (String, CancelToken)>>,
}

/// The job queue of one vault, shared by interfaces and workers in a process. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

impl Queue {
    /// A queue over `store` for the types in `registry`.
    pub fn new(store: Arc<dyn JobStore>, registry: Registry, bus: EventBus) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                registry: Arc::new(registry),
                bus,
                wake: Wake::default(),
                running: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The store the jobs live in.
    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.inner.store
    }

    /// The event bus of this process.
    pub fn bus(&self) -> &EventBus {
        &self.inner.bus
    }

    /// The registered job types.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Checks a request and turns it into a storable job.
    pub fn prepare(&self, req: EnqueueRequest) -> Result<NewJob, QueueError> {
        let Some(registered) = self.inner.registry.get(&req.job_type) else {
            return Err(QueueError::UnknownType {
                job_type: req.job_type,
                known: self.inner.registry.names().collect::<Vec<_>>().join(", "),
            });
        };
        let invalid = |reason: String| QueueError::InvalidInput {
            job_type: req.job_type.clone(),
            reason,
        };
        if !req.input.is_object() {
            return Err(invalid("the input must be a JSON object".into()));
        }
        registered.handler.validate(&req.input).map_err(invalid)?;
        let priority = req.priority.unwrap_or(registered.config.priority);
        if !(1..=10).contains(&priority) {
            return Err(invalid(format!(
                "priority {priority} is not between 1 and 10"
            )));
        }
        Ok(NewJob {
            job_type: req.job_type.clone(),
            input: req.input,
            priority,
            run_at_ms: req.run_at_ms.unwrap_or_else(now_ms),
            max_attempts: registered.config.max_attempts.max(1),
            dedupe: req.dedupe,
            parent_id: req.parent_id,
            bound_to_replica: registered.config.bound_to_replica,
        })
    }

    /// Validates and enqueues one job; wakes this process's idle workers.
    pub fn enqueue(&self, req: EnqueueRequest) -> Result<Enqueued, QueueError> {
        let mut out = self.enqueue_many(vec![req])?;
        Ok(out.remove(0))
    }

    /// Validates every request, then enqueues them all in one transaction (all or none).
    pub fn enqueue_many(&self, reqs: Vec<EnqueueRequest>) -> Result<Vec<Enqueued>, QueueError> {
        let jobs = reqs
            .into_iter()
            .map(|r| self.prepare(r))
            .collect::<Result<Vec<_>, _>>()?;
        let out = self.inner.store.enqueue(&jobs, now_ms())?;
        self.notify();
        Ok(out)
    }

    /// Enqueues a batch: `root`, then `children` under it, in one transaction (a crash never
    /// leaves a root without its children, or some children without the rest). The root is an
    /// ordinary job (its type decides what it does; it may be a no-op marker); the batch's
    /// status is its children's, counted by [`Queue::batch_status`], and cancelling the root
    /// cancels them all. Everything is validated before anything is stored.
    pub fn enqueue_batch(
        &self,
        root: EnqueueRequest,
        children: Vec<EnqueueRequest>,
    ) -> Result<(i64, Vec<Enqueued>), QueueError> {
        let root_job = self.prepare(root)?;
        let prepared = children
            .into_iter()
            .map(|c| self.prepare(c))
            .collect::<Result<Vec<_>, _>>()?;
        let now = now_ms();
        let mut out = None;
        self.inner.store.transaction(&mut |tx| {
            let root_id = tx.enqueue(&root_job, now)?.id();
            let mut enqueued = Vec::with_capacity(prepared.len());
            for c in &prepared {
                let mut c = c.clone();
                c.parent_id = Some(root_id);
                enqueued.push(tx.enqueue(&c, now)?);
            }
            out = Some((root_id, enqueued));
            Ok(())
        })?;
        self.notify();
        out.ok_or_else(|| {
            QueueError::Store(brain_store::StoreError::Database(
                "the store committed a batch without running its body".into(),
            ))
        })
    }

    /// A batch's children counted by state.
    pub fn batch_status(&self, root_id: i64) -> Result<BatchStatus, QueueError> {
        Ok(self.inner.store.batch_status(root_id)?)
    }

    /// Cancels a job: a queued one at once; a running one within a second (its worker's token
    /// is set now if it runs in this process, else at that worker's next heartbeat).
    pub fn cancel(&self, id: i64) -> Result<JobState, QueueError> {
        let state = self.inner.store.cancel(id, now_ms())?;
        if let Some((_, token)) = self.lock_running().get(&id) {
            token.cancel();
        }
        Ok(state)
    }

    /// Pauses job types: their jobs keep queuing (and can be cancelled), but no worker of any
    /// process claims them until [`Queue::resume_types`] (`brain sync pause`).
    pub fn pause_types(&self, types: &[&str]) -> Result<(), QueueError> {
        Ok(self.inner.store.pause_types(types, now_ms())?)
    }

    /// Lets paused job types run again, waking this process's idle workers so their queued
    /// jobs start at once (other processes' workers notice at their next claim).
    pub fn resume_types(&self, types: &[&str]) -> Result<(), QueueError> {
        self.inner.store.resume_types(types)?;
        self.notify();
        Ok(())
    }

    /// Puts a failed or cancelled job back in the queue.
    pub fn retry(&self, id: i64) -> Result<Job, QueueError> {
        let job = self.inner.store.retry(id, now_ms())?;
        self.notify();
        Ok(job)
    }

    /// One job as stored.
    pub fn job(&self, id: i64) -> Result<Job, QueueError> {
        Ok(self.inner.store.job(id)?)
    }

    /// Waits until job `id` is finished (read from the store, so it works for jobs run by
    /// another process) or `timeout` passes; returns the job as last read.
    pub fn wait_finished(&self, id: i64, timeout: Duration) -> Result<Job, QueueError> {
        let deadline = Instant::now() + timeout;
        loop {
            let job = self.job(id)?;
            if job.state.is_finished() || Instant::now() >= deadline {
                return Ok(job);
            }
            std::thread::sleep(Duration::from_millis(20).min(deadline - Instant::now()));
        }
    }

    /// Wakes this process's idle workers: after an enqueue here, when the pool's store watch
    /// sees another process commit, and after a write that enqueued its job through the store
    /// itself (the outbox: `JobStore::put_and_enqueue` on this process's connection, which the
    /// store watch cannot see).
    pub fn notify(&self) {
        let mut g = self
            .inner
            .wake
            .generation
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *g = g.wrapping_add(1);
        self.inner.wake.cv.notify_all();
    }

    /// How many times [`Queue::notify`] has been called: read before looking for work, and
    /// handed to [`Queue::wait_for_work`], so a notify sent while looking is not missed.
    pub(crate) fn wake_generation(&self) -> u64 {
        *self
            .inner
            .wake
            .generation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Blocks until [`Queue::notify`] is called after `seen` was read (a job was enqueued in
    /// this process, another process committed, or the pool stops) or `timeout` passes.
    pub(crate) fn wait_for_work(&self, seen: u64, timeout: Duration) {
        let g = self
            .inner
            .wake
            .generation
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let _ = self
            .inner
            .wake
            .cv
            .wait_timeout_while(g, timeout, |gen_now| *gen_now == seen);
    }

    pub(crate) fn lock_running(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<i64, (String, CancelToken)>> {
        self.inner.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}
