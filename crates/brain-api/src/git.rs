//! The git contract: the `git` job type by name, its operations and the requests that queue
//! them, and where its outcome is published. The git plugin (`brain-git`) registers the
//! handler; the facade, the CLI and schedules queue git work through these, without importing
//! the plugin.

use brain_jobs::EnqueueRequest;
use brain_store::jobs::DedupePolicy;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What a git job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GitOp {
    /// Commit, pull, import, commit, push.
    Sync,
    /// Fetch and merge, then import (commits local changes first when `auto_commit` is on).
    Pull,
    /// Push local commits (merging first if the remote moved).
    Push,
    /// Commit local changes (and push them when `auto_push` is on).
    Commit,
    /// Make the vault a repository connected to the remote (see `brain_git::sync::GitSync::init`).
    Init,
}

/// The job type of every git operation.
pub const GIT_JOB: &str = "git";

/// The runtime-state key the last git job's outcome is published under.
pub const STATE_KEY: &str = "git";

/// A git job for `op` that joins an identical one already queued or running.
pub fn git_request(op: GitOp) -> EnqueueRequest {
    let name = op_name(op);
    EnqueueRequest::new(GIT_JOB, json!({ "op": name }))
        .dedupe(format!("{GIT_JOB}:{name}"), DedupePolicy::Skip)
}

/// A `sync` that commits even when most notes are deleted (`--allow-mass-delete`); never
/// joined with a plain one.
pub fn sync_allowing_mass_delete() -> EnqueueRequest {
    EnqueueRequest::new(GIT_JOB, json!({ "op": "sync", "allow_mass_delete": true })).dedupe(
        format!("{GIT_JOB}:sync:allow-mass-delete"),
        DedupePolicy::Skip,
    )
}

/// The auto-commit after a change: due at `run_at_ms`, and moved later by every change that
/// comes before it runs (`Replace`), so a burst of edits is one commit once they settle.
pub fn commit_request(op: GitOp, run_at_ms: i64) -> EnqueueRequest {
    let mut request = EnqueueRequest::new(GIT_JOB, json!({ "op": op_name(op) }))
        .dedupe(format!("{GIT_JOB}:auto-commit"), DedupePolicy::Replace);
    request.run_at_ms = Some(run_at_ms);
    request
}

/// `brain git init`'s job.
pub fn init_request(remote: &str, branch: &str) -> EnqueueRequest {
    EnqueueRequest::new(
        GIT_JOB,
        json!({"op": "init", "remote": remote, "branch": branch}),
    )
    .dedupe(format!("{GIT_JOB}:init"), DedupePolicy::Skip)
}

fn op_name(op: GitOp) -> String {
    serde_json::to_value(op)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
