//! `brain work`: a worker with no daemon. `--until-idle` runs until no job is queued or
//! running, which is how a command (`brain sync --detach`, `brain batch`, `brain mcp`) gets
//! its jobs run when no `brain serve` holds the vault; `--store URL` runs a shared store's
//! jobs that need no vault folder.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use brain_jobs::{PoolConfig, Queue, WorkerPool};
use brain_store::jobs::{Job, JobFilter, JobState};

use super::Vault;
use super::sync::busy;
use crate::cli::WorkArgs;
use crate::output;

/// Starts `brain work --until-idle` for this vault in the background, detached from this
/// terminal, so a detached sync runs without a daemon.
pub(crate) fn spawn_background_worker(vault: &Vault) -> Result<()> {
    spawn_worker_for(&vault.paths.root)
}

/// [`spawn_background_worker`] for the vault at `root`.
pub(crate) fn spawn_worker_for(root: &std::path::Path) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().context("cannot find the brain executable")?;
    std::process::Command::new(exe)
        .arg("--vault")
        .arg(root)
        .args(["work", "--until-idle"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .context("cannot start a background worker")?;
    Ok(())
}

/// How long `brain work --until-idle` waits for a store that does not answer before it stops.
const STORE_AWAY_LIMIT: Duration = Duration::from_secs(600);

/// `brain work`: runs queued jobs here; with `--until-idle`, until none is queued or running.
pub fn work(vault: &Vault, args: &WorkArgs) -> Result<u8> {
    let plugged = vault.plugged()?;
    let queue = plugged.queue.clone();
    let pool = WorkerPool::start(queue.clone(), vault.pool_config());
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }
    let mut away_since: Option<std::time::Instant> = None;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        if args.until_idle {
            match busy(vault, &queue, true) {
                Ok(true) => away_since = None,
                Ok(false) => break,
                // A store away for a moment (a PostgreSQL server restarting) is waited out, as
                // the jobs' own retries wait it out: this worker is what finishes a batch no
                // daemon runs. Away for longer, the next command or `brain serve` takes over.
                Err(e) => {
                    // A vault whose `.brain/` is gone (the folder deleted or moved) has nothing
                    // to wait for: its store will not come back here.
                    if !vault.paths.state.is_dir() {
                        pool.shutdown();
                        return Err(e.context(format!(
                            "{} is gone, so this worker stops",
                            vault.paths.state.display()
                        )));
                    }
                    let since = *away_since.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() >= STORE_AWAY_LIMIT {
                        pool.shutdown();
                        return Err(e.context(format!(
                            "the store did not answer for {}s, so this worker stops; the jobs \
                             left are run by the next brain command or `brain serve`",
                            STORE_AWAY_LIMIT.as_secs()
                        )));
                    }
                    tracing::warn!(error = %e, "the store does not answer; waiting for it");
                }
            }
        }
    }
    pool.shutdown();
    if interrupted.load(Ordering::SeqCst) {
        bail!("stopped by a signal; running jobs were finished or will be retried");
    }
    Ok(0)
}

/// `brain work --store URL`: the store's jobs that need no vault folder, on a machine that has
/// none of its folders (the runtime of [`brain_api::Runtime::without_folder`], with every
/// plugin: their folder-bound job types are left to the folder's machine and said so).
pub fn work_store(url: &str, args: &WorkArgs, json: bool) -> Result<u8> {
    let store = crate::backend::open_url(url)?;
    let shown = brain_store_postgres::connect::without_password(url);
    let config = brain_core::Config::default();
    let mut runtime =
        brain_api::Runtime::without_folder(config.clone(), store.clone(), super::plugins())
            .context("registering the plugins")?;
    let runs: Vec<String> = runtime
        .job_types()
        .iter()
        .map(|t| t.job_type.clone())
        .filter(|t| !runtime.left_to_folder().contains(t))
        .collect();
    let left = runtime.left_to_folder().to_vec();
    if !json {
        output::line(format!(
            "Working on {shown}: {}; left to the machines with the vault folder: {}.",
            if runs.is_empty() {
                "no job type of this build runs without a vault folder".to_string()
            } else {
                format!("running {}", runs.join(", "))
            },
            if left.is_empty() {
                "none".to_string()
            } else {
                left.join(", ")
            }
        ))?;
    }
    let pool = PoolConfig {
        watch_store_ms: Some(10),
        ..PoolConfig::default()
    };
    runtime.start(pool).context("starting the workers")?;
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }
    let queue = runtime.queue().clone();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        if args.until_idle && !store_busy(store.as_ref(), &queue)? {
            break;
        }
    }
    runtime.stop();
    if json {
        output::json(&serde_json::json!({"store": shown, "ran": runs, "left_to_folder": left}))?;
    }
    if interrupted.load(Ordering::SeqCst) {
        bail!("stopped by a signal; running jobs were finished or will be retried");
    }
    Ok(0)
}

/// Whether a job of a type `queue` runs is queued (due now) or running in `store`.
fn store_busy(store: &dyn brain_store::Backend, queue: &Queue) -> Result<bool> {
    let now = brain_core::time::now_ms();
    let paused = store.paused_types()?;
    for job_type in queue.registry().names() {
        if paused.iter().any(|p| p == job_type) {
            continue;
        }
        let jobs = store.list_jobs(&JobFilter {
            states: vec![JobState::Queued, JobState::Running],
            job_type: Some(job_type.to_string()),
            limit: 100,
            ..JobFilter::default()
        })?;
        let mine = this_replica(store);
        if jobs
            .iter()
            .filter(|j| mine(j))
            .any(|j| j.state == JobState::Running || j.run_at_ms <= now)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether a job is this store handle's to run: store-wide, or bound to its own folder. A job
/// of another folder sharing the store is that folder's workers' (a worker waiting for the
/// queue to empty does not wait for it).
pub(super) fn this_replica(store: &dyn brain_store::Backend) -> impl Fn(&Job) -> bool {
    let replica = store.replica_id();
    move |job| job.replica.is_none() || job.replica == replica
}
