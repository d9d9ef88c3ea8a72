//! `brain mcp`: the Model Context Protocol on stdin/stdout, for an agent's MCP client.
//!
//! The session works through the `Brain` facade like every interface. With no daemon serving
//! the vault, this process starts workers the first time a call queues a job, so an agent's
//! writes reach their files (after `serve.sync_debounce_ms`) and its syncs run; with a daemon,
//! it only queues and follows.
//!
//! When the client closes the session (or sends SIGTERM or SIGINT), the process leaves within
//! about 1.7 s, since MCP clients wait only a moment (the Python SDK: 2 s, then SIGTERM). In that
//! time it writes the exports still due, so an agent's last write is on disk; a job still
//! running after that (a long sync) is left to its lease, and the next `brain` command or
//! `brain serve` takes it over where it stopped.
//!
//! Like `brain serve`, it checks about once a second that its vault folder, `.brain/` and
//! store file are the ones it started on: a store deleted or replaced, or a vault moved, would
//! otherwise leave a session that refuses every write (or writes to the wrong place) while
//! looking alive. It says what changed on stderr (the client's log) and exits 1, so the client
//! sees the server go (issue 13).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use brain_api::Workers;

use super::{Vault, daemon};

/// The longest the session waits, once the client is gone, for its exports to be written.
const FINISH_WRITES: Duration = Duration::from_millis(1_200);
/// ...then for running jobs to end before leaving them to their lease.
const LET_JOBS_END: Duration = Duration::from_millis(300);
/// ...and for answers in flight when stdin closed.
const DRAIN_ANSWERS: Duration = Duration::from_millis(200);
/// How often the vault folder and store file are checked to still be the ones opened.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Returns, with what changed, once the vault folder, its `.brain/` or the store file is not
/// the one the session started on; never returns otherwise.
///
/// Each check runs on a blocking thread: it reads the store, and a PostgreSQL store's client
/// is synchronous, running a runtime of its own that cannot start inside this one (it
/// panicked, and the session aborted, on the first check that had to open a connection).
async fn watch_bearings(bearings: Arc<daemon::Bearings>) -> brain_api::daemon::Lost {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let b = bearings.clone();
        match tokio::task::spawn_blocking(move || b.check()).await {
            Ok(Err(lost)) => return lost,
            Ok(Ok(())) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the check that the vault is still where it was did not finish; checking again");
            }
        }
    }
}

/// Leaves as the client expects: the exports due first, then running jobs a moment.
fn wind_down(brain: &brain_api::Brain) {
    brain.finish_writes(FINISH_WRITES);
    if !brain.shutdown_within(LET_JOBS_END) {
        tracing::info!(
            "jobs still running are left to their lease: the next brain command or brain serve \
             takes them over"
        );
    }
    // A batch an agent queued goes on after the session ends, as one queued from the command
    // line does: with no daemon to run it, a background worker does.
    let unfinished = brain
        .batches(20)
        .is_ok_and(|b| b.iter().any(|r| !r.is_finished()));
    if unfinished && brain_api::daemon_pid(brain.root()).is_none() {
        match super::work::spawn_worker_for(brain.root()) {
            Ok(()) => tracing::info!("a batch is still under way: a background worker finishes it"),
            Err(e) => {
                tracing::warn!(error = %e, "a batch is still under way and no worker could be started: the next brain command or brain serve runs it")
            }
        }
    }
}

/// Serves until the client closes stdin.
pub fn run(vault: Vault) -> Result<u8> {
    // A session lives as long as the agent's client, mostly idle: its workers sleep until a
    // job of this process wakes them or the next `run_at`, not polling every 100 ms as a
    // one-shot command's do.
    let pool = brain_jobs::PoolConfig {
        idle_poll_ms: 2_000,
        reap_every_ms: 1_000,
        ..vault.pool_config()
    };
    let bearings = Arc::new(
        daemon::Bearings::capture(&vault.paths.root, vault.store.clone()).with_context(|| {
            format!(
                "cannot read the vault folder {}",
                vault.paths.root.display()
            )
        })?,
    );
    let brain = Arc::new(
        vault
            .brain(vault.plugged()?, Workers::OnDemand(pool))
            .with_source("mcp"),
    );
    let settings = brain_mcp::McpSettings {
        max_body_bytes: usize::try_from(vault.config.mcp.max_body_bytes).unwrap_or(usize::MAX),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("brain-mcp")
        .enable_all()
        .build()
        .context("cannot start the MCP server's runtime")?;
    {
        // SIGTERM (a client that gave up waiting) or Ctrl-C: the same as the client leaving.
        let brain = brain.clone();
        ctrlc::set_handler(move || {
            wind_down(&brain);
            std::process::exit(0);
        })
        .context("cannot install the SIGINT/SIGTERM handler")?;
    }
    let server = brain_mcp::BrainMcp::new(brain.clone(), settings);
    let served = runtime.block_on(async {
        tokio::select! {
            served = brain_mcp::serve_stdio(server) => Ok(served),
            lost = watch_bearings(bearings.clone()) => Err(lost),
        }
    });
    runtime.shutdown_timeout(DRAIN_ANSWERS);
    match served {
        Ok(served) => {
            wind_down(&brain);
            served.context("the MCP session over stdio failed")?;
            Ok(0)
        }
        Err(lost) => {
            // Said at once, before the wait below: the store refuses every write now, so
            // there are no exports to finish, only running jobs to leave to their lease.
            tracing::error!("{lost}; the MCP session stops");
            let _ = brain.shutdown_within(LET_JOBS_END);
            Err(daemon::stopped_by(bearings.settle(lost), "brain mcp"))
        }
    }
}
