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

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use brain_api::Workers;

use super::Vault;

/// The longest the session waits, once the client is gone, for its exports to be written.
const FINISH_WRITES: Duration = Duration::from_millis(1_200);
/// ...then for running jobs to end before leaving them to their lease.
const LET_JOBS_END: Duration = Duration::from_millis(300);
/// ...and for answers in flight when stdin closed.
const DRAIN_ANSWERS: Duration = Duration::from_millis(200);

/// Leaves as the client expects: the exports due first, then running jobs a moment.
fn wind_down(brain: &brain_api::Brain) {
    brain.finish_writes(FINISH_WRITES);
    if !brain.shutdown_within(LET_JOBS_END) {
        tracing::info!(
            "jobs still running are left to their lease: the next brain command or brain serve \
             takes them over"
        );
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
    let brain = Arc::new(vault.brain(vault.queue(), Workers::OnDemand(pool)));
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
    let served = runtime.block_on(brain_mcp::serve_stdio(server));
    runtime.shutdown_timeout(DRAIN_ANSWERS);
    wind_down(&brain);
    served.context("the MCP session over stdio failed")?;
    Ok(0)
}
