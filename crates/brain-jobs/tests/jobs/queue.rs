//! The queue against a real SQLite store, with real worker threads.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brain_core::time::now_ms;
use brain_jobs::handler::TypeConfig;
use brain_jobs::{
    EnqueueRequest, Event, EventBus, Handler, JobContext, JobError, PoolConfig, Queue, QueueError,
    Registry, WorkerPool,
};
use brain_store::jobs::{DedupePolicy, JobState, NewJob};
use serde_json::{Value, json};

#[path = "queue/recurring.rs"]
mod recurring;

struct FnHandler<F>(F);

impl<F> Handler for FnHandler<F>
where
    F: Fn(&JobContext) -> Result<Value, JobError> + Send + Sync + 'static,
{
    fn validate(&self, input: &Value) -> Result<(), String> {
        match input.get("bad") {
            Some(_) => Err("the 'bad' key is refused".into()),
            None => Ok(()),
        }
    }
    fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        (self.0)(ctx)
    }
}

fn fast() -> TypeConfig {
    TypeConfig {
        backoff_base_ms: 10,
        backoff_max_ms: 50,
        max_attempts: 3,
        concurrency: 4,
        ..TypeConfig::default()
    }
}

fn pool_config(workers: usize) -> PoolConfig {
    PoolConfig {
        workers,
        heartbeat_ms: 100,
        idle_poll_ms: 20,
        reap_every_ms: 50,
        lease_ms: 2_000,
        ..PoolConfig::default()
    }
}

fn queue_with(registry: Registry) -> (Queue, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = brain_store_sqlite::testing::at(&dir.path().join("brain.db")).unwrap();
    (Queue::new(store, registry, EventBus::default()), dir)
}

/// A queue whose one type, `job_type`, returns its input as its result.
fn echo_queue(job_type: &str) -> (Queue, tempfile::TempDir) {
    let mut registry = Registry::new();
    registry.register(
        job_type,
        FnHandler(|ctx: &JobContext| Ok(ctx.job.input.clone())),
        fast(),
    );
    queue_with(registry)
}

fn wait(queue: &Queue, id: i64) -> brain_store::jobs::Job {
    let job = queue.wait_finished(id, Duration::from_secs(60)).unwrap();
    assert!(job.state.is_finished(), "job {id} still {:?}", job.state);
    job
}

#[test]
fn jobs_run_and_publish_their_lifecycle() {
    let (queue, _dir) = echo_queue("echo");
    let mut events = queue.bus().subscribe();
    let pool = WorkerPool::start(queue.clone(), pool_config(2));
    let ids: Vec<i64> = (0..20)
        .map(|i| {
            queue
                .enqueue(EnqueueRequest::new("echo", json!({"n": i})))
                .unwrap()
                .id()
        })
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let job = wait(&queue, *id);
        assert_eq!(job.state, JobState::Succeeded);
        assert_eq!(job.result, Some(json!({"n": i})));
        assert_eq!(job.attempts, 1);
    }
    pool.shutdown();
    let mut finished = 0;
    while let Ok(e) = events.try_recv() {
        if matches!(
            e,
            Event::Finished {
                state: JobState::Succeeded,
                ..
            }
        ) {
            finished += 1;
        }
    }
    assert_eq!(finished, 20);
}

#[test]
fn bad_jobs_are_refused_at_enqueue() {
    let mut registry = Registry::new();
    registry.register("echo", FnHandler(|_: &JobContext| Ok(json!({}))), fast());
    let (queue, _dir) = queue_with(registry);
    let e = queue
        .enqueue(EnqueueRequest::new("nope", json!({})))
        .unwrap_err();
    assert!(
        matches!(&e, QueueError::UnknownType { known, .. } if known == "echo"),
        "{e}"
    );
    // The echo handler's validate accepts an array (it has no 'bad' key), so this refusal is
    // the queue's own object check.
    let e = queue
        .enqueue(EnqueueRequest::new("echo", json!([1, 2])))
        .unwrap_err();
    assert!(
        matches!(&e, QueueError::InvalidInput { job_type, .. } if job_type == "echo"),
        "{e:?}"
    );
    // The handler's own refusal, passed through as the reason.
    let e = queue
        .enqueue(EnqueueRequest::new("echo", json!({"bad": 1})))
        .unwrap_err();
    assert!(
        matches!(&e, QueueError::InvalidInput { job_type, reason }
            if job_type == "echo" && reason == "the 'bad' key is refused"),
        "{e:?}"
    );
    // A valid input with a priority out of 1..=10, refused by the queue before the store.
    let mut req = EnqueueRequest::new("echo", json!({}));
    req.priority = Some(11);
    let e = queue.enqueue(req).unwrap_err();
    assert!(
        matches!(&e, QueueError::InvalidInput { job_type, .. } if job_type == "echo"),
        "{e:?}"
    );
    assert!(
        queue
            .store()
            .list_jobs(&Default::default())
            .unwrap()
            .is_empty(),
        "nothing stored"
    );
}

#[test]
fn a_stored_input_the_handler_refuses_fails_once_without_running() {
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    let mut registry = Registry::new();
    registry.register(
        "echo",
        FnHandler(move |_: &JobContext| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(json!({}))
        }),
        fast(),
    );
    let (queue, _dir) = queue_with(registry);
    // Written past the queue's check, as another build or a hand-edited row would.
    let row = NewJob {
        job_type: "echo".into(),
        input: json!({"bad": 1}),
        priority: 5,
        run_at_ms: now_ms(),
        max_attempts: 3,
        dedupe: None,
        parent_id: None,
        bound_to_replica: false,
    };
    let id = queue.store().enqueue(&[row], now_ms()).unwrap()[0].id();
    let pool = WorkerPool::start(queue.clone(), pool_config(1));
    let job = wait(&queue, id);
    pool.shutdown();
    assert_eq!(job.state, JobState::Failed, "{job:?}");
    assert_eq!(job.attempts, 1, "refused at once, not retried: {job:?}");
    let error = job.error.clone().unwrap_or_default();
    assert!(
        error.contains("was not run") && error.contains("the 'bad' key is refused"),
        "{error}"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 0, "the handler never ran");
}

#[test]
fn errors_and_panics_are_retried_then_failed_while_others_go_on() {
    let mut registry = Registry::new();
    registry.register(
        "boom",
        FnHandler(|_: &JobContext| Err(JobError::Failed("disk on fire".into()))),
        fast(),
    );
    registry.register(
        "panic",
        FnHandler(|_: &JobContext| -> Result<Value, JobError> { panic!("bug in handler") }),
        fast(),
    );
    registry.register("ok", FnHandler(|_: &JobContext| Ok(json!("fine"))), fast());
    registry.register(
        "refuse",
        FnHandler(|_: &JobContext| Err(JobError::Permanent("refused for safety".into()))),
        fast(),
    );
    let (queue, _dir) = queue_with(registry);
    let pool = WorkerPool::start(queue.clone(), pool_config(2));
    let boom = queue
        .enqueue(EnqueueRequest::new("boom", json!({})))
        .unwrap()
        .id();
    let panic = queue
        .enqueue(EnqueueRequest::new("panic", json!({})))
        .unwrap()
        .id();
    let ok = queue
        .enqueue(EnqueueRequest::new("ok", json!({})))
        .unwrap()
        .id();
    let refuse = queue
        .enqueue(EnqueueRequest::new("refuse", json!({})))
        .unwrap()
        .id();
    let ok = wait(&queue, ok);
    assert_eq!(ok.state, JobState::Succeeded);
    let refused = wait(&queue, refuse);
    assert_eq!(
        (refused.state, refused.attempts),
        (JobState::Failed, 1),
        "a permanent failure is not retried"
    );
    assert_eq!(refused.error.as_deref(), Some("refused for safety"));
    for (id, message) in [(boom, "disk on fire"), (panic, "panicked: bug in handler")] {
        let job = wait(&queue, id);
        assert_eq!(job.state, JobState::Failed);
        assert_eq!(job.attempts, 3, "retried up to max_attempts");
        assert!(
            job.error.as_deref().unwrap_or("").contains(message),
            "{:?}",
            job.error
        );
    }
    let retried = queue.retry(boom).unwrap();
    assert_eq!(retried.state, JobState::Queued);
    assert_eq!(wait(&queue, boom).state, JobState::Failed);
    pool.shutdown();
}

#[test]
fn cancel_stops_queued_jobs_at_once_and_running_ones_at_the_next_heartbeat() {
    let started = Arc::new(AtomicUsize::new(0));
    let seen = started.clone();
    let mut registry = Registry::new();
    registry.register(
        "slow",
        FnHandler(move |ctx: &JobContext| {
            seen.fetch_add(1, Ordering::SeqCst);
            // Far longer than the test waits: only a relayed cancel ends it in time.
            let deadline = Instant::now() + Duration::from_secs(600);
            while Instant::now() < deadline {
                if ctx.cancel.is_cancelled() {
                    return Err(JobError::Cancelled);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(json!("not cancelled"))
        }),
        TypeConfig {
            concurrency: 1,
            ..fast()
        },
    );
    let (queue, _dir) = queue_with(registry);
    let pool = WorkerPool::start(queue.clone(), pool_config(1));
    let running = queue
        .enqueue(EnqueueRequest::new("slow", json!({"n": 1})))
        .unwrap()
        .id();
    let queued = queue
        .enqueue(EnqueueRequest::new("slow", json!({"n": 2})))
        .unwrap()
        .id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while started.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the first job never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        queue.cancel(queued).unwrap(),
        JobState::Cancelled,
        "a queued job is cancelled at once"
    );
    // Cancel through the store only, as another process would: the heartbeat relays it.
    let asked = now_ms();
    queue.store().cancel(running, asked).unwrap();
    let job = queue
        .wait_finished(running, Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        job.state,
        JobState::Cancelled,
        "the running job was cancelled"
    );
    // Measured on the job's own clock, so a stall of this test thread cannot fail it; the
    // heartbeat relays it every 100 ms, and the bound leaves a loaded machine fifty of them
    // (without the relay the job would run its 600 s).
    let took = job.finished_ms.unwrap() - asked;
    assert!(
        took < 5_000,
        "a running job stopped {took} ms after its cancel"
    );
    assert_eq!(
        started.load(Ordering::SeqCst),
        1,
        "the cancelled queued job never ran"
    );
    pool.shutdown();
}

#[test]
fn a_job_whose_worker_died_is_reclaimed_after_its_lease() {
    let mut registry = Registry::new();
    registry.register(
        "echo",
        FnHandler(|_: &JobContext| Ok(json!("done"))),
        fast(),
    );
    let (queue, _dir) = queue_with(registry);
    let id = queue
        .enqueue(EnqueueRequest::new("echo", json!({})))
        .unwrap()
        .id();
    // A worker that claims the job and dies (never heartbeats, never finishes).
    let claimed = queue
        .store()
        .claim("dead-worker", &[("echo".into(), 4)], 1, now_ms(), 300)
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let pool = WorkerPool::start(queue.clone(), pool_config(1));
    let job = wait(&queue, id);
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.attempts, 2, "the dead attempt counts");
    assert!(
        !queue
            .store()
            .finish(
                id,
                "dead-worker",
                &brain_store::jobs::Outcome::Cancelled,
                now_ms()
            )
            .unwrap(),
        "the dead worker's late report is refused"
    );
    pool.shutdown();
}

#[test]
fn per_type_concurrency_and_priority_order_hold() {
    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));
    let (a, p, o) = (active.clone(), peak.clone(), order.clone());
    let mut registry = Registry::new();
    registry.register(
        "single",
        FnHandler(move |ctx: &JobContext| {
            let now = a.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            o.lock().unwrap().push(ctx.job.priority);
            std::thread::sleep(Duration::from_millis(5));
            a.fetch_sub(1, Ordering::SeqCst);
            Ok(json!(null))
        }),
        TypeConfig {
            concurrency: 1,
            ..fast()
        },
    );
    let (queue, _dir) = queue_with(registry);
    let mut ids = Vec::new();
    for p in [3u8, 9, 1, 9, 5, 7, 2, 10] {
        let mut req = EnqueueRequest::new("single", json!({"p": p}));
        req.priority = Some(p);
        ids.push(queue.enqueue(req).unwrap().id());
    }
    let pool = WorkerPool::start(
        queue.clone(),
        PoolConfig {
            claim_batch: 1,
            ..pool_config(3)
        },
    );
    for id in ids {
        wait(&queue, id);
    }
    pool.shutdown();
    assert_eq!(
        peak.load(Ordering::SeqCst),
        1,
        "concurrency 1 across three workers"
    );
    assert_eq!(*order.lock().unwrap(), [10, 9, 9, 7, 5, 3, 2, 1]);
}

#[test]
fn progress_is_followed_from_the_store() {
    let release = Arc::new(AtomicUsize::new(0));
    let r = release.clone();
    let mut registry = Registry::new();
    registry.register(
        "steps",
        FnHandler(move |ctx: &JobContext| {
            ctx.progress.set(3, Some(10), "step three");
            ctx.progress.flush();
            let deadline = Instant::now() + Duration::from_secs(20);
            while r.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(json!(null))
        }),
        fast(),
    );
    let (queue, _dir) = queue_with(registry);
    let pool = WorkerPool::start(queue.clone(), pool_config(1));
    let id = queue
        .enqueue(EnqueueRequest::new("steps", json!({})))
        .unwrap()
        .id();
    let deadline = Instant::now() + Duration::from_secs(10);
    let progress = loop {
        if let Some(p) = queue.job(id).unwrap().progress.filter(|p| p.current == 3) {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "progress never reached the store"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(
        (progress.total, progress.message.as_str()),
        (Some(10), "step three")
    );
    release.store(1, Ordering::SeqCst);
    assert_eq!(wait(&queue, id).state, JobState::Succeeded);
    pool.shutdown();
}

#[test]
fn coalesced_imports_become_one_job() {
    let (queue, _dir) = echo_queue("import");
    let mut ids = Vec::new();
    for p in ["a.md", "b.md", "a.md", "c.md"] {
        let req = EnqueueRequest::new("import", json!({"paths": [p]}))
            .dedupe("vault", DedupePolicy::Coalesce);
        ids.push(queue.enqueue(req).unwrap().id());
    }
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    let pool = WorkerPool::start(queue.clone(), pool_config(1));
    let job = wait(&queue, ids[0]);
    pool.shutdown();
    assert_eq!(job.result, Some(json!({"paths": ["a.md", "b.md", "c.md"]})));
}

#[test]
fn batches_report_their_children_and_cancel_together() {
    let (queue, _dir) = echo_queue("echo");
    let children = (0..5)
        .map(|i| EnqueueRequest::new("echo", json!({"i": i})))
        .collect();
    let (root, kids) = queue
        .enqueue_batch(EnqueueRequest::new("echo", json!({"root": true})), children)
        .unwrap();
    assert_eq!(kids.len(), 5);
    assert_eq!(queue.batch_status(root).unwrap().queued, 5);
    let pool = WorkerPool::start(queue.clone(), pool_config(2));
    for k in &kids {
        wait(&queue, k.id());
    }
    pool.shutdown();
    let status = queue.batch_status(root).unwrap();
    assert_eq!((status.succeeded, status.queued, status.failed), (5, 0, 0));
    for k in &kids {
        assert_eq!(queue.job(k.id()).unwrap().parent_id, Some(root));
    }

    // Cancelling a batch's root cancels its queued children at once.
    let children = (0..3)
        .map(|i| EnqueueRequest::new("echo", json!({"j": i})))
        .collect();
    let (root, _) = queue
        .enqueue_batch(EnqueueRequest::new("echo", json!({})), children)
        .unwrap();
    queue.cancel(root).unwrap();
    assert_eq!(queue.batch_status(root).unwrap().cancelled, 3);
    // A bad child refuses the whole batch before anything is stored.
    let before = queue.store().list_jobs(&Default::default()).unwrap().len();
    let bad = vec![
        EnqueueRequest::new("echo", json!({})),
        EnqueueRequest::new("nope", json!({})),
    ];
    let e = queue
        .enqueue_batch(EnqueueRequest::new("echo", json!({})), bad)
        .unwrap_err();
    assert!(
        matches!(&e, QueueError::UnknownType { job_type, .. } if job_type == "nope"),
        "{e:?}"
    );
    assert_eq!(
        queue.store().list_jobs(&Default::default()).unwrap().len(),
        before
    );
}

/// A pool whose idle poll is far longer than any deadline below: whatever starts a job on
/// time in these tests is a wake, not the poll.
/// The idle poll of [`sleepy_pool`]: longer than any test waits, so a job started in time was
/// started by a wake, never by the poll.
const IDLE_POLL_MS: i64 = 600_000;

fn sleepy_pool(queue: &Queue, watch_store_ms: Option<u64>) -> WorkerPool {
    WorkerPool::start(
        queue.clone(),
        PoolConfig {
            idle_poll_ms: IDLE_POLL_MS as u64,
            watch_store_ms,
            ..pool_config(2)
        },
    )
}

#[test]
fn a_delayed_job_starts_when_due_on_an_idle_pool() {
    let (queue, _dir) = echo_queue("debounced");
    let pool = sleepy_pool(&queue, None);
    let mut req = EnqueueRequest::new("debounced", json!({}));
    let run_at = now_ms() + 300;
    req.run_at_ms = Some(run_at);
    let id = queue.enqueue(req).unwrap().id();
    let job = wait(&queue, id);
    pool.shutdown();
    assert_eq!(job.state, JobState::Succeeded);
    let late = job.started_ms.unwrap() - run_at;
    // Started by the wake at its due time, not by the idle poll (10 min); the bound, on the
    // job's own clock, leaves a loaded machine a minute (the latency itself is a benchmark
    // figure, not a test's).
    assert!(
        (0..60_000).contains(&late),
        "started {late} ms after its run_at (the idle poll is {IDLE_POLL_MS} ms)"
    );
}

#[test]
fn a_job_from_another_process_starts_promptly_with_the_store_watch() {
    let (queue, dir) = echo_queue("echo");
    let pool = sleepy_pool(&queue, Some(5));
    // One job through this process first, so the workers are idle in their long wait after.
    let local = queue
        .enqueue(EnqueueRequest::new("echo", json!({"from": "here"})))
        .unwrap()
        .id();
    assert_eq!(wait(&queue, local).state, JobState::Succeeded);

    // "Another process": its own connection to the file, enqueuing without notifying us.
    let cli = brain_store_sqlite::testing::at(&dir.path().join("brain.db")).unwrap();
    for n in 0..3 {
        let job = NewJob {
            job_type: "echo".into(),
            input: json!({"from": "cli", "n": n}),
            priority: 5,
            run_at_ms: now_ms(),
            max_attempts: 1,
            dedupe: None,
            parent_id: None,
            bound_to_replica: false,
        };
        let id = cli.enqueue(&[job], now_ms()).unwrap()[0].id();
        let job = queue.wait_finished(id, Duration::from_secs(60)).unwrap();
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        // On the job's own clock: started by the store watch, not by the idle poll.
        let late = job.started_ms.unwrap() - job.run_at_ms;
        assert!(
            late < 60_000,
            "a job from another process started {late} ms after it was due (idle poll \
             {IDLE_POLL_MS} ms)"
        );
    }
    pool.shutdown();
}

#[test]
fn paused_types_run_only_when_resumed() {
    let mut registry = Registry::new();
    for job_type in ["paused", "other"] {
        registry.register(
            job_type,
            FnHandler(|ctx: &JobContext| Ok(ctx.job.input.clone())),
            fast(),
        );
    }
    let (queue, _dir) = queue_with(registry);
    queue.pause_types(&["paused"]).unwrap();
    let mut first = EnqueueRequest::new("paused", json!({}));
    first.priority = Some(10);
    let paused = queue.enqueue(first).unwrap().id();
    let mut second = EnqueueRequest::new("other", json!({}));
    second.priority = Some(1);
    let other = queue.enqueue(second).unwrap().id();
    let pool = WorkerPool::start(
        queue.clone(),
        PoolConfig {
            idle_poll_ms: 10_000,
            ..pool_config(1)
        },
    );
    // The one worker claims best first: running the low-priority job means it skipped the
    // paused one.
    assert_eq!(wait(&queue, other).state, JobState::Succeeded);
    let held = queue.job(paused).unwrap();
    assert_eq!((held.state, held.attempts), (JobState::Queued, 0));
    assert_eq!(queue.store().paused_types().unwrap(), ["paused"]);

    queue.resume_types(&["paused"]).unwrap();
    assert_eq!(
        wait(&queue, paused).state,
        JobState::Succeeded,
        "resuming wakes the idle worker"
    );
    pool.shutdown();
}
