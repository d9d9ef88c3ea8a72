//! `brain bench git` (being written).

use anyhow::Result;

use crate::cli::BenchGitArgs;

/// Runs the git benchmark.
pub fn run(_args: &BenchGitArgs, _json_out: bool) -> Result<u8> {
    anyhow::bail!("not yet")
}
