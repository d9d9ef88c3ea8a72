//! `brain mcp`: the Model Context Protocol on stdin/stdout, for an agent's MCP client.
//!
//! The session works through the `Brain` facade like every interface. With no daemon serving
//! the vault, this process starts workers the first time a call queues a job, so an agent's
//! writes reach their files (after `serve.sync_debounce_ms`) and its syncs run; with a daemon,
//! it only queues and follows. When the client closes the session, exports still due are
//! written before the process leaves, so nothing an agent wrote waits for the next sync.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use brain_api::Workers;

use super::Vault;

/// The longest the session waits, once the client is gone, for its exports to be written.
const FINISH_WRITES: Duration = Duration::from_secs(10);

/// Serves until the client closes stdin.
pub fn run(vault: Vault) -> Result<u8> {
    let brain = Arc::new(vault.brain(vault.queue(), Workers::OnDemand(vault.pool_config())));
    let settings = brain_mcp::McpSettings {
        max_body_bytes: usize::try_from(vault.config.mcp.max_body_bytes).unwrap_or(usize::MAX),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("brain-mcp")
        .enable_all()
        .build()
        .context("cannot start the MCP server's runtime")?;
    let server = brain_mcp::BrainMcp::new(brain.clone(), settings);
    let served = runtime.block_on(brain_mcp::serve_stdio(server));
    runtime.shutdown_timeout(Duration::from_secs(1));
    brain.finish_writes(FINISH_WRITES);
    brain.shutdown();
    served.context("the MCP session over stdio failed")?;
    Ok(0)
}
