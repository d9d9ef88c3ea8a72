//! `brain bench queue --store URL` and `brain bench import --store URL`: the PostgreSQL store's
//! figures, each next to a baseline measured in the same run on the same server.
//!
//! - queue: no-op jobs enqueued, then claimed, run and finished by 1, 4 and 16 workers split
//!   over two processes (this one and a `brain bench queue-worker` child), next to pgbench's
//!   simple-update transactions per second (`pgbench -N`) with as many clients; and
//!   claim-to-start through NOTIFY: a job enqueued by another connection, to its handler's
//!   start in an idle worker.
//! - import: a generated vault imported by the sync engine, next to reading the same files and
//!   `COPY`ing the same rows (with the same search text) into a table and building the same
//!   GIN index; and search p50/p99 next to SQLite's on the same vault.
//!
//! Everything happens in scratch schemas of the given database, dropped at the end.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use brain_core::{CancelToken, Config, NoProgress};
use brain_jobs::handler::TypeConfig;
use brain_jobs::{
    EventBus, Handler, JobContext, JobError, PoolConfig, Queue, Registry, WorkerPool,
};
use brain_store::Backend;
use brain_store::jobs::JobStore;
use brain_store_postgres::{ConnectOptions, PgStore};
use brain_sync::{SyncEngine, SyncOptions};
use serde_json::{Value, json};

use crate::args::{BenchImportArgs, BenchQueueArgs, BenchQueueWorkerArgs};
use crate::child::brain_exe;
use crate::common::{find_generator, generate, ms, open_scratch, percentile, work_dir};
use crate::error::{Context, Result, fail};
use crate::import::{search_latency, walk_md};
use crate::out;

/// A schema of its own in the bench database, dropped when this goes.
struct Scratch {
    url: String,
    name: String,
}

impl Scratch {
    fn new(url: &str, what: &str) -> Result<Self> {
        let name = format!("brain_bench_{what}_{}", std::process::id());
        let s = Scratch {
            url: url.to_string(),
            name,
        };
        let mut c = s.admin()?;
        c.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}",
            s.name
        ))
        .ctx(|| format!("cannot create the scratch schema {}", s.name))?;
        Ok(s)
    }

    fn options(&self) -> Result<ConnectOptions> {
        Ok(ConnectOptions::parse(&self.url)
            .ctx(|| "the --store URL".into())?
            .with_options(&format!("-c search_path={}", self.name)))
    }

    fn store(&self) -> Result<Arc<PgStore>> {
        Ok(Arc::new(
            PgStore::open(&self.options()?).ctx(|| format!("opening {}", self.name))?,
        ))
    }

    fn admin(&self) -> Result<postgres::Client> {
        let o = ConnectOptions::parse(&self.url).ctx(|| "the --store URL".into())?;
        o.config
            .connect(postgres::NoTls)
            .ctx(|| "connecting to the --store database".into())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut c) = self.admin() {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// A handler that counts, or reports when it starts.
struct Probe {
    done: Arc<AtomicUsize>,
    started: Option<mpsc::Sender<Instant>>,
}

impl Handler for Probe {
    fn run(&self, _: &JobContext) -> std::result::Result<Value, JobError> {
        if let Some(tx) = &self.started {
            let _ = tx.send(Instant::now());
        }
        self.done.fetch_add(1, Ordering::Relaxed);
        Ok(Value::Null)
    }
}

fn noop_queue(store: Arc<PgStore>, started: Option<mpsc::Sender<Instant>>) -> Queue {
    let mut registry = Registry::new();
    registry.register(
        "noop",
        Probe {
            done: Arc::new(AtomicUsize::new(0)),
            started,
        },
        TypeConfig {
            concurrency: TypeConfig::UNLIMITED,
            ..TypeConfig::default()
        },
    );
    Queue::new(store, registry, EventBus::default())
}

fn pool(queue: &Queue, workers: usize, claim_batch: usize) -> WorkerPool {
    WorkerPool::start(
        queue.clone(),
        PoolConfig {
            workers,
            claim_batch,
            idle_poll_ms: 50,
            watch_store_ms: Some(10),
            ..PoolConfig::default()
        },
    )
}

/// Waits until `store` holds no queued or running job, looking every 50 ms: a count of the
/// jobs table is work for the server the queue under test is measured against, so the harness
/// asks seldom (50 ms on runs of seconds).
fn drained(store: &PgStore, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if store
            .job_counts()
            .ctx(|| "counting jobs".into())?
            .is_empty()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            fail!("the queue did not drain in {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The second process: `workers` workers on the parent's schema until the queue is empty.
pub(crate) fn queue_worker(args: &BenchQueueWorkerArgs) -> Result<u8> {
    let options = ConnectOptions::parse(&args.store)
        .ctx(|| "the --store URL".into())?
        .with_options(&format!("-c search_path={}", args.schema));
    let store = Arc::new(PgStore::open(&options).ctx(|| "opening the bench schema".into())?);
    let queue = noop_queue(store.clone(), None);
    let workers = pool(&queue, args.workers, args.claim_batch);
    drained(&store, Duration::from_secs(600))?;
    workers.shutdown();
    Ok(0)
}

/// Enqueue-to-done of `n` no-op jobs with `workers` workers (half in a child process), each
/// claiming `claim_batch` jobs at a time.
fn throughput(url: &str, n: usize, workers: usize, claim_batch: usize) -> Result<(f64, f64)> {
    let scratch = Scratch::new(url, &format!("q{workers}"))?;
    let store = scratch.store()?;
    let t = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1_000) {
        let jobs: Vec<_> = chunk
            .iter()
            .map(|i| brain_store::jobs::NewJob {
                job_type: "noop".into(),
                input: json!({"i": i}),
                priority: 5,
                run_at_ms: 0,
                max_attempts: 3,
                dedupe: None,
                parent_id: None,
                bound_to_replica: false,
            })
            .collect();
        store
            .enqueue(&jobs, brain_core::time::now_ms())
            .ctx(|| "enqueueing no-op jobs".into())?;
    }
    let enqueue = t.elapsed();
    let here = workers - workers / 2;
    let t = Instant::now();
    let child = if workers >= 2 {
        Some(
            Command::new(brain_exe()?)
                .args(["bench", "queue-worker", "--store", url, "--schema"])
                .arg(&scratch.name)
                .args(["--workers", &(workers / 2).to_string()])
                .args(["--claim-batch", &claim_batch.to_string()])
                .stdout(Stdio::null())
                .spawn()
                .ctx(|| "cannot start the second worker process".into())?,
        )
    } else {
        None
    };
    let queue = noop_queue(store.clone(), None);
    let pool = pool(&queue, here, claim_batch);
    drained(&store, Duration::from_secs(600))?;
    let run = t.elapsed();
    pool.shutdown();
    if let Some(mut c) = child {
        let _ = c.wait();
    }
    Ok((
        n as f64 / enqueue.as_secs_f64(),
        n as f64 / run.as_secs_f64(),
    ))
}

fn pgbench_bin() -> Option<std::path::PathBuf> {
    let on_path = Command::new("pgbench").arg("--version").output().ok();
    if on_path.is_some_and(|o| o.status.success()) {
        return Some("pgbench".into());
    }
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|d| d.path().join("bin/pgbench"))
        .find(|p| p.is_file())
}

/// pgbench's simple-update transactions per second with `clients` clients, 10 s.
fn pgbench(url: &str, clients: usize) -> Result<f64> {
    let bin =
        pgbench_bin().ctx(|| "pgbench not found (Debian's postgresql-client has it)".into())?;
    let scratch = Scratch::new(url, "pgbench")?;
    // The same durability as the store's sessions ask for (`synchronous_commit=on`, whatever
    // the server's default), so the two commit the same way.
    let env = format!("-c search_path={} -c synchronous_commit=on", scratch.name);
    let init = Command::new(&bin)
        .env("PGOPTIONS", &env)
        .args(["-i", "-s", "1", "-q", url])
        .output()
        .ctx(|| "cannot run pgbench -i".into())?;
    if !init.status.success() {
        fail!(
            "pgbench -i failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
    }
    let run = Command::new(&bin)
        .env("PGOPTIONS", &env)
        .args([
            "-N",
            "-n",
            "-T",
            "10",
            "-j",
            "2",
            "-c",
            &clients.to_string(),
            url,
        ])
        .output()
        .ctx(|| "cannot run pgbench -N".into())?;
    let text = String::from_utf8_lossy(&run.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ctx(|| format!("no tps in pgbench's output: {text}"))
}

/// Claim-to-start through NOTIFY: one job at a time enqueued by another connection.
fn latency(url: &str, jobs: usize) -> Result<(f64, f64)> {
    let scratch = Scratch::new(url, "lat")?;
    let worker_store = scratch.store()?;
    let enqueuer = scratch.store()?;
    let (tx, rx) = mpsc::channel();
    let queue = noop_queue(worker_store, Some(tx));
    let pool = pool(&queue, 1, 1);
    // Let the listener connect before measuring.
    std::thread::sleep(Duration::from_millis(500));
    let mut lat = Vec::with_capacity(jobs);
    for i in 0..jobs {
        let t = Instant::now();
        enqueuer
            .enqueue(
                &[brain_store::jobs::NewJob {
                    job_type: "noop".into(),
                    input: json!({"i": i}),
                    priority: 5,
                    run_at_ms: 0,
                    max_attempts: 1,
                    dedupe: None,
                    parent_id: None,
                    bound_to_replica: false,
                }],
                brain_core::time::now_ms(),
            )
            .ctx(|| "enqueueing a probe job".into())?;
        let started = rx
            .recv_timeout(Duration::from_secs(10))
            .ok()
            .ctx(|| format!("probe job {i} did not start within 10 s"))?;
        lat.push(started.saturating_duration_since(t));
    }
    pool.shutdown();
    lat.sort();
    Ok((ms(percentile(&lat, 0.5)), ms(percentile(&lat, 0.99))))
}

/// Runs the PostgreSQL queue benchmark.
pub(crate) fn queue(args: &BenchQueueArgs, url: &str, json_out: bool) -> Result<u8> {
    let n = args.jobs.min(50_000);
    let mut rows = Vec::new();
    for workers in [1usize, 4, 16] {
        let (enqueue, run) = throughput(url, n, workers, 1)?;
        let (_, batched) = throughput(url, n, workers, 64)?;
        let tps = pgbench(url, workers)?;
        rows.push(json!({
            "workers": workers,
            "enqueue_jobs_per_s": enqueue,
            "jobs_per_s": run,
            "jobs_per_s_batched_claims": batched,
            "pgbench_tps": tps,
            "ratio": run / tps,
            "ratio_batched_claims": batched / tps,
        }));
    }
    let (p50, p99) = latency(url, 300)?;
    let result = json!({
        "bench": "queue", "store": "postgres", "jobs": n, "processes": 2,
        "throughput": rows, "target_ratio": 0.5,
        "claim_to_start_ms": {"p50": p50, "p99": p99, "target_p50": 5.0},
    });
    if json_out {
        out::json(&result)?;
        return Ok(0);
    }
    out::line(format!(
        "queue on PostgreSQL, {n} no-op jobs per row, workers over 2 processes"
    ))?;
    for r in &rows {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        out::line(format!(
            "  {:>2} workers: {:>7.0} jobs/s ({:>7.0} with claims batched by 64), pgbench -N -c {:<2} {:>7.0} tps: ratio {:.2} ({:.2}) (target >= 0.5); enqueue {:.0} jobs/s",
            r["workers"],
            f("jobs_per_s"),
            f("jobs_per_s_batched_claims"),
            r["workers"],
            f("pgbench_tps"),
            f("ratio"),
            f("ratio_batched_claims"),
            f("enqueue_jobs_per_s")
        ))?;
    }
    out::line(format!(
        "  claim-to-start through NOTIFY: p50 {p50:.2} ms, p99 {p99:.2} ms (target p50 < 5 ms)"
    ))?;
    Ok(0)
}

/// COPY text format: a field with its backslashes, tabs and line ends escaped.
fn copy_field(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// The baseline: read every note, parse it, make its search text, `COPY` the rows, build the
/// GIN index.
fn copy_baseline(url: &str, vault: &Path) -> Result<std::time::Duration> {
    let scratch = Scratch::new(url, "copy")?;
    let mut client = scratch.admin()?;
    client
        .batch_execute(&format!(
            "CREATE TABLE {}.notes (path text, title text, body text, hash text, tsv tsvector)",
            scratch.name
        ))
        .ctx(|| "creating the baseline table".into())?;
    let t = Instant::now();
    let mut files = Vec::new();
    walk_md(vault, &mut files, false)?;
    let mut data = String::new();
    for f in &files {
        let raw = std::fs::read(f).ctx(|| format!("cannot read {}", f.display()))?;
        let text = String::from_utf8_lossy(&raw);
        let Ok(doc) = brain_core::Document::parse(&text) else {
            continue;
        };
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let title = doc.title(&stem);
        let rel = f
            .strip_prefix(vault)
            .unwrap_or(f)
            .to_string_lossy()
            .to_string();
        for (i, field) in [
            rel.as_str(),
            title.as_str(),
            doc.body.as_str(),
            &brain_core::content_hash(&raw),
            &brain_store_postgres::tokens::tsvector_text(&title, &doc.body),
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                data.push('\t');
            }
            copy_field(&mut data, field);
        }
        data.push('\n');
    }
    let mut w = client
        .copy_in(&format!("COPY {}.notes FROM STDIN", scratch.name))
        .ctx(|| "starting COPY".into())?;
    std::io::Write::write_all(&mut w, data.as_bytes()).ctx(|| "writing COPY data".into())?;
    w.finish().ctx(|| "finishing COPY".into())?;
    client
        .batch_execute(&format!(
            "CREATE INDEX ON {}.notes USING GIN (tsv)",
            scratch.name
        ))
        .ctx(|| "building the GIN index".into())?;
    Ok(t.elapsed())
}

/// Runs the PostgreSQL import benchmark (the last `--notes` size).
pub(crate) fn import(args: &BenchImportArgs, url: &str, json_out: bool) -> Result<u8> {
    let generator = find_generator(args.generator.as_deref())?;
    let (_temp, work) = work_dir(args.workdir.as_deref(), "brain-bench-pg-")?;
    let n = args.notes.last().copied().unwrap_or(10_000);
    let vault = work.join(format!("vault-{n}"));
    let manifest = generate(&generator, &vault, n)?;
    let config = Config::default();
    let mut base = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..args.runs.max(1) {
        base.push(copy_baseline(url, &vault)?);
        let scratch = Scratch::new(url, "import")?;
        let store = scratch.store()?;
        let t = Instant::now();
        SyncEngine::new(&vault, &config, store.as_ref())
            .and_then(|e| e.run(&SyncOptions::default(), &NoProgress, &CancelToken::new()))
            .ctx(|| "importing into PostgreSQL".into())?;
        ours.push(t.elapsed());
    }
    let (base, ours) = (crate::common::median(base), crate::common::median(ours));
    // Search on both backends, the same vault and queries.
    let scratch = Scratch::new(url, "search")?;
    let pg = scratch.store()?;
    SyncEngine::new(&vault, &config, pg.as_ref())
        .and_then(|e| e.run(&SyncOptions::default(), &NoProgress, &CancelToken::new()))
        .ctx(|| "importing into PostgreSQL".into())?;
    let sqlite_db = work.join("search.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", sqlite_db.display()));
    }
    let sqlite = open_scratch(&sqlite_db)?;
    SyncEngine::new(&vault, &config, sqlite.as_ref())
        .and_then(|e| e.run(&SyncOptions::default(), &NoProgress, &CancelToken::new()))
        .ctx(|| "importing into SQLite".into())?;
    let pg_backend: &dyn Backend = pg.as_ref();
    let (pg50, pg99, _) = search_latency(pg_backend, &manifest)?;
    let (sq50, sq99, _) = search_latency(sqlite.as_ref(), &manifest)?;
    let result = json!({
        "bench": "import", "store": "postgres", "notes": n,
        "import_s": ours.as_secs_f64(), "copy_and_index_s": base.as_secs_f64(),
        "ratio": ours.as_secs_f64() / base.as_secs_f64(), "target_ratio": 2.0,
        "search_ms": {"postgres": {"p50": ms(pg50), "p99": ms(pg99)},
                      "sqlite": {"p50": ms(sq50), "p99": ms(sq99)}},
    });
    if json_out {
        out::json(&result)?;
        return Ok(0);
    }
    out::line(format!("import of {n} notes into PostgreSQL"))?;
    out::line(format!(
        "  brain import {:.2} s, COPY + GIN index {:.2} s: {:.2}x (target <= 2x)",
        ours.as_secs_f64(),
        base.as_secs_f64(),
        ours.as_secs_f64() / base.as_secs_f64()
    ))?;
    out::line(format!(
        "  search p50/p99: PostgreSQL {:.2}/{:.2} ms, SQLite {:.2}/{:.2} ms",
        ms(pg50),
        ms(pg99),
        ms(sq50),
        ms(sq99)
    ))?;
    Ok(0)
}
