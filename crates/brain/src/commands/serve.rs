//! `brain serve`: the daemon that keeps a vault's files and store in step while both change.
//!
//! It holds the vault (`.brain/serve.lock`) and runs a `brain_api::Runtime` of the plugins:
//! the job workers, and the services they register (the HTTP server with MCP, the file watcher
//! whose changes become debounced `directory-import` jobs, the initial sync, git's timer, the
//! scheduler). The workers pick up the exports that any other process queues with its writes
//! (`brain put`, MCP): the store's change counter wakes them, so nothing polls the jobs table. It is ready at once; the initial whole-vault sync
//! is queued, never run before start-up completes. SIGINT or SIGTERM stop the watcher, let
//! running jobs finish, and exit; a second signal exits at once (the lease hands any unfinished
//! job to the next worker).
//!
//! What it is doing is published in the store (runtime state `serve`) for `brain status` in
//! other processes; whether it is alive is told by the lock, not by that record. The record
//! also says whether the daemon is idle, with the newest job id and the watcher's last
//! `.brain/fence-N`, so a caller (the tests) can wait for the daemon to have handled a change
//! instead of waiting out a quiet spell (see `brain_api::daemon::StatusPublisher`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use brain_api::daemon::StatusPublisher;
use brain_api::{Plugin, Runtime};
use brain_core::time::now_ms;
use brain_jobs::PoolConfig;
use brain_store::jobs::{JobFilter, JobState};
use serde_json::json;

use super::{EXIT_CANCELLED, Vault, daemon};
use crate::output;

/// How often the published state is refreshed (only written when it changed).
const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// Workers for a long-lived process: a lease of `jobs.lease_ms`, and the store watched for
/// jobs other processes enqueue.
fn pool_config(vault: &Vault) -> PoolConfig {
    PoolConfig {
        workers: vault.config.serve.workers,
        watch_store_ms: Some(10),
        idle_poll_ms: 2_000,
        reap_every_ms: 1_000,
        ..vault.pool_config()
    }
}

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(vault: &Vault, json: bool) -> Result<u8> {
    if vault.config.serve.workers == 0 {
        anyhow::bail!(
            "{}: serve.workers = 0, but a daemon with no worker would run no job: set it to 1 \
             or more (the default is 2)",
            vault.paths.config_file().display()
        );
    }
    let _lock = brain_api::daemon::acquire(&vault.paths.root)?;
    // The vault folder, its `.brain/` and its store as they are now: moved, deleted or
    // replaced later, the daemon stops.
    let bearings =
        daemon::Bearings::capture(&vault.paths.root, vault.store.clone()).with_context(|| {
            format!(
                "cannot read the vault folder {}",
                vault.paths.root.display()
            )
        })?;
    let started_ms = now_ms();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                say("Stopped at once; unfinished jobs are taken over after their lease.");
                std::process::exit(i32::from(EXIT_CANCELLED));
            }
        })
        .context("cannot install the SIGINT/SIGTERM handler")?;
    }

    // The HTTP socket first: a refused or busy address stops the start-up before anything
    // runs, since a daemon silently offering no MCP would leave an agent's client failing with
    // no reason.
    let http = super::http::bind(&vault.config)?;
    let http_addr = http.as_ref().map(|h| h.addr().to_string());
    // The runtime: the HTTP server's plugin first (its service starts first and stops last),
    // then the plugins every command registers (sync: the watcher and the initial sync; git:
    // its timer, woken by the change feed), the index upkeep done while idle, then the
    // scheduler, so firings start once every other service runs.
    let mut plugins: Vec<Box<dyn Plugin>> = Vec::new();
    let serves_http = http.is_some();
    if let Some(bound) = http {
        plugins.push(Box::new(super::http::HttpPlugin::new(bound)));
    }
    plugins.extend(super::plugins());
    plugins.push(Box::new(brain_api::SchedulesPlugin));
    let mut runtime = Runtime::new(
        &vault.paths.root,
        vault.config.clone(),
        vault.store.clone(),
        plugins,
    )
    .context("registering the daemon's plugins")?;
    // Jobs on a timer (the git timer, the verification scan, the [[schedule]]s of
    // config.toml), stored before anything runs: a refused schedule changes none.
    super::schedules::register(vault, runtime.queue())?;
    let config = pool_config(vault);
    let workers = config.workers;
    runtime.start(config).context("starting the daemon")?;
    let mut status = StatusPublisher::new(&runtime, started_ms, http_addr.clone(), workers);

    let root = vault.paths.root.display().to_string();
    let mode = status.watcher_mode();
    if json {
        output::json(
            &json!({"ready": true, "pid": std::process::id(), "vault": root,
                             "watcher": mode, "workers": workers,
                             "git": vault.config.git.enabled, "http": http_addr}),
        )?;
    } else {
        let git = if vault.config.git.enabled {
            "git sync on"
        } else {
            "git sync off"
        };
        let mcp = http_addr
            .as_ref()
            .map_or("no HTTP".to_string(), |a| format!("MCP at http://{a}/mcp"));
        say(&format!(
            "Serving {root}: watcher {mode}, {workers} worker(s), {git}, {mcp}. Stop with Ctrl-C."
        ));
    }

    let mut lost = None;
    while !stop.load(Ordering::SeqCst) {
        // The vault moved (its store with it), its `.brain/` or its store file was removed or
        // replaced: nothing more is read or written (issue 13). Said loudly now; `main`
        // prints why again, last, as it stands once the daemon stopped.
        if let Err(changed) = bearings.check() {
            tracing::error!("{changed}; stopping");
            lost = Some(changed);
            // Stopping already: a Ctrl-C from here on leaves at once, as a second one would.
            stop.store(true, Ordering::SeqCst);
            break;
        }
        status.publish("ready");
        std::thread::sleep(PUBLISH_EVERY);
    }

    say(&stopping_line(vault, serves_http));
    // With its store gone or elsewhere, there is nowhere to publish to: the store would only
    // refuse, in more lines saying the store is gone.
    if lost.is_none() {
        status.publish("stopping");
    }
    // Services in reverse (the scheduler, git's timer, the watcher, HTTP), then the workers
    // (running jobs finish), then the subscriptions.
    runtime.stop();
    if lost.is_none() {
        status.publish("stopped");
    }
    say("Stopped.");
    // Checked every publish tick, so the daemon stops within one; every write in between was
    // already refused by the store itself rather than acknowledged into a file nobody opens
    // again.
    match lost {
        Some(lost) => Err(daemon::stopped_by(bearings.settle(lost), "brain serve")),
        None => Ok(0),
    }
}

/// What the daemon waits for once asked to stop, and how not to: the jobs its own workers run
/// (their progress) and that a Ctrl-C leaves at once, or that nothing runs.
fn stopping_line(vault: &Vault, http: bool) -> String {
    let ours = format!("pid{}-", std::process::id());
    let running: Vec<String> = vault
        .store
        .list_jobs(&JobFilter {
            states: vec![JobState::Running],
            limit: 100,
            ..JobFilter::default()
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|j| j.worker.as_deref().is_some_and(|w| w.starts_with(&ours)))
        .map(|j| match super::jobs::progress_text(&j) {
            p if p.is_empty() => format!("#{} {}", j.id, j.job_type),
            p => format!("#{} {}, {p}", j.id, j.job_type),
        })
        .collect();
    if running.is_empty() {
        return format!(
            "Stopping: no job is running; closing {}the watcher.",
            if http { "the HTTP server and " } else { "" }
        );
    }
    format!(
        "Stopping: waiting for {} running job(s) to finish: {}. Press Ctrl-C to leave at once \
         (an unfinished job is taken over after its lease by the next `brain sync` or \
         `brain serve`).",
        running.len(),
        running.join("; ")
    )
}

/// A line on stderr that never fails: whoever read it (`brain serve | tee log`) may be gone
/// after a Ctrl-C, and the daemon must still finish its jobs.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
