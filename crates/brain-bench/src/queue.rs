//! `brain bench queue`: the job queue's figures on SQLite, each measured in this run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use brain_core::{CancelToken, Config, NoProgress};
use brain_jobs::handler::TypeConfig;
use brain_jobs::{
    EnqueueRequest, EventBus, Handler, JobContext, JobError, PoolConfig, Queue, Registry,
    WorkerPool,
};
use brain_store::jobs::JobState;
use brain_sync::jobs::DIRECTORY_SYNC;
use brain_sync::{SyncEngine, SyncOptions};
use serde_json::{Value, json};

use crate::args::BenchQueueArgs;
use crate::common::{find_generator, fresh_store, generate, median, ms, percentile, work_dir};
use crate::error::{Context, Result, fail};
use crate::out;

/// A handler that only counts, or reports when it starts.
struct Probe {
    done: Arc<AtomicUsize>,
    started: Option<mpsc::Sender<Instant>>,
}

impl Handler for Probe {
    fn run(&self, _: &JobContext) -> Result<Value, JobError> {
        if let Some(tx) = &self.started {
            let _ = tx.send(Instant::now());
        }
        self.done.fetch_add(1, Ordering::Relaxed);
        Ok(Value::Null)
    }
}

fn wide_open() -> TypeConfig {
    TypeConfig {
        concurrency: 1_000,
        ..TypeConfig::default()
    }
}

fn pool(queue: &Queue, workers: usize, claim_batch: usize) -> WorkerPool {
    WorkerPool::start(
        queue.clone(),
        PoolConfig {
            workers,
            claim_batch,
            idle_poll_ms: 50,
            ..PoolConfig::default()
        },
    )
}

/// Enqueues `n` no-op jobs in batches of 1,000 and runs them; returns (enqueue, run) times.
fn throughput(
    work: &std::path::Path,
    n: usize,
    workers: usize,
    claim_batch: usize,
) -> Result<(Duration, Duration)> {
    let done = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    registry.register(
        "noop",
        Probe {
            done: done.clone(),
            started: None,
        },
        wide_open(),
    );
    let queue = Queue::new(
        fresh_store(work, "queue.db")?,
        registry,
        EventBus::default(),
    );
    let t = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1_000) {
        let reqs = chunk
            .iter()
            .map(|i| EnqueueRequest::new("noop", json!({"i": i})))
            .collect();
        queue
            .enqueue_many(reqs)
            .ctx(|| format!("enqueueing {n} no-op jobs"))?;
    }
    let enqueue = t.elapsed();
    let t = Instant::now();
    let workers = pool(&queue, workers, claim_batch);
    let deadline = Instant::now() + Duration::from_secs(600);
    while done.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline {
            fail!("the queue did not finish {n} jobs in 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let run = t.elapsed();
    workers.shutdown();
    Ok((enqueue, run))
}

/// Runs the queue benchmark.
pub(crate) fn run(args: &BenchQueueArgs, json_out: bool) -> Result<u8> {
    let (_temp, work) = work_dir(args.workdir.as_deref(), "brain-bench-queue-")?;

    // Throughput with the default pool (one job claimed per free worker), then with batched
    // claims to show what the store itself sustains.
    let (enqueue, run) = throughput(&work, args.jobs, args.workers, 1)?;
    let (_, run_batched) = throughput(&work, args.jobs, args.workers, 64)?;

    // Claim-to-start latency on an idle pool, one job at a time.
    let (tx, rx) = mpsc::channel();
    let mut registry = Registry::new();
    let done2 = Arc::new(AtomicUsize::new(0));
    registry.register(
        "probe",
        Probe {
            done: done2,
            started: Some(tx),
        },
        wide_open(),
    );
    let queue = Queue::new(
        fresh_store(&work, "latency.db")?,
        registry,
        EventBus::default(),
    );
    let workers = pool(&queue, args.workers, 1);
    let mut lat = Vec::new();
    for i in 0..1_000 {
        let t = Instant::now();
        queue
            .enqueue(EnqueueRequest::new("probe", json!({"i": i})))
            .ctx(|| format!("enqueueing probe job {i}"))?;
        let started = rx
            .recv_timeout(Duration::from_secs(10))
            .ok()
            .ctx(|| format!("probe job {i} did not start within 10 s of its enqueue"))?;
        lat.push(started.saturating_duration_since(t));
    }
    workers.shutdown();
    lat.sort();

    // Overhead of a 10,000-note import run as a job against calling the engine directly.
    let overhead = if args.notes > 0 {
        Some(import_overhead(args, &work)?)
    } else {
        None
    };

    let result = json!({
        "jobs": args.jobs,
        "workers": args.workers,
        "enqueue_jobs_per_s": args.jobs as f64 / enqueue.as_secs_f64(),
        "run_jobs_per_s": args.jobs as f64 / run.as_secs_f64(),
        "end_to_end_jobs_per_s": args.jobs as f64 / (enqueue + run).as_secs_f64(),
        "run_jobs_per_s_batched_claims": args.jobs as f64 / run_batched.as_secs_f64(),
        "target_jobs_per_s": 10_000,
        "claim_to_start_ms": {"p50": ms(percentile(&lat, 0.5)), "p99": ms(percentile(&lat, 0.99))},
        "import_overhead": overhead,
    });
    if json_out {
        out::json(&result)?;
        return Ok(0);
    }
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    out::line(format!(
        "queue on SQLite, {} no-op jobs, {} workers",
        args.jobs, args.workers
    ))?;
    out::line(format!(
        "  enqueue (batches of 1,000)   {:>10.0} jobs/s",
        f(&result["enqueue_jobs_per_s"])
    ))?;
    out::line(format!(
        "  claim + run + finish          {:>10.0} jobs/s",
        f(&result["run_jobs_per_s"])
    ))?;
    out::line(format!(
        "  enqueue-to-done               {:>10.0} jobs/s (target >= 10,000)",
        f(&result["end_to_end_jobs_per_s"])
    ))?;
    out::line(format!(
        "  (claims batched by 64:         {:>10.0} jobs/s claim + run + finish)",
        f(&result["run_jobs_per_s_batched_claims"])
    ))?;
    out::line(format!(
        "  claim-to-start latency        p50 {:.2} ms  p99 {:.2} ms",
        f(&result["claim_to_start_ms"]["p50"]),
        f(&result["claim_to_start_ms"]["p99"])
    ))?;
    if let Some(o) = result["import_overhead"].as_object() {
        out::line(format!(
            "  {}-note import: direct {:.3} s, as a job {:.3} s, overhead {:.1}% (target < 5%)",
            o["notes"],
            f(&o["direct_s"]),
            f(&o["job_s"]),
            f(&o["overhead_pct"])
        ))?;
    }
    Ok(0)
}

fn import_overhead(args: &BenchQueueArgs, work: &std::path::Path) -> Result<Value> {
    let vault = work.join(format!("vault-{}", args.notes));
    if !vault.is_dir() {
        let generator = find_generator(args.generator.as_deref())?;
        generate(&generator, &vault, args.notes)?;
    }
    let config = Config::default();
    let (mut direct, mut as_job) = (Vec::new(), Vec::new());
    for _ in 0..args.runs.max(1) {
        let store = fresh_store(work, "direct.db")?;
        let t = Instant::now();
        let what = || format!("importing {} directly", vault.display());
        SyncEngine::new(&vault, &config, store.as_ref())
            .ctx(what)?
            .run(&SyncOptions::default(), &NoProgress, &CancelToken::new())
            .ctx(what)?;
        direct.push(t.elapsed());

        let store = fresh_store(work, "job.db")?;
        let mut registry = Registry::new();
        brain_sync::jobs::register(&mut registry, &vault, &config, store.clone());
        let queue = Queue::new(store, registry, EventBus::default());
        let workers = pool(&queue, 1, 1);
        let t = Instant::now();
        let id = queue
            .enqueue(EnqueueRequest::new(DIRECTORY_SYNC, json!({})))
            .ctx(|| format!("enqueueing the import of {} as a job", vault.display()))?
            .id();
        let job = queue
            .wait_finished(id, Duration::from_secs(600))
            .ctx(|| format!("waiting for import job {id} of {}", vault.display()))?;
        as_job.push(t.elapsed());
        workers.shutdown();
        if job.state != JobState::Succeeded {
            fail!("the import job ended {:?}: {:?}", job.state, job.error);
        }
    }
    let (d, j) = (median(direct), median(as_job));
    Ok(json!({
        "notes": args.notes,
        "direct_s": d.as_secs_f64(),
        "job_s": j.as_secs_f64(),
        "overhead_pct": (j.as_secs_f64() / d.as_secs_f64() - 1.0) * 100.0,
    }))
}
