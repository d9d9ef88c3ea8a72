//! Git sync as jobs: one job type, `git`, with input `{"op": "sync" | "pull" | "push" |
//! "commit" | "init", "remote"?: URL, "branch"?: NAME}` (`remote` and `branch` only for `init`,
//! which runs before they are in the config). One type with a concurrency of one makes every git
//! operation of a vault run one at a time, whichever process runs it.
//!
//! Failures the network or a timeout caused are retried with backoff (the commits made stay in
//! the vault's repository and are pushed by the retry); refused credentials, an unresolved
//! merge and every failed `init` fail at once with what to do. The recorded error never
//! promises a retry itself: the job's state (queued, with attempts left) is what says one is
//! coming, and the CLI and the log say it only then. Each run publishes its outcome in the store (runtime
//! state [`STATE_KEY`]) for `brain git status`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use brain_api::directory::DirectorySync;
use brain_core::Config;
use brain_core::time::now_ms;
use brain_jobs::handler::TypeConfig;
use brain_jobs::{Handler, JobContext, JobError};
use brain_store::Store;
use serde_json::{Value, json};

use crate::Git;
use crate::sync::{GitOp, GitSync, GitSyncError, Steps};

pub use brain_api::git::{
    GIT_JOB, STATE_KEY, commit_request, git_request, init_request, sync_allowing_mass_delete,
};

/// Runs git jobs for one vault.
pub struct GitHandler {
    root: PathBuf,
    config: Config,
    store: Arc<dyn Store>,
    sync: Arc<dyn DirectorySync>,
}

/// The handler of `git` jobs for the vault at `root`: what the git plugin registers. `sync` is
/// the directory-sync plugin's engine, which writes the pending exports before a commit and
/// imports what a pull brought.
pub fn handler(
    root: &Path,
    config: &Config,
    store: Arc<dyn Store>,
    sync: Arc<dyn DirectorySync>,
) -> GitHandler {
    GitHandler {
        root: root.to_path_buf(),
        config: config.clone(),
        store,
        sync,
    }
}

/// How the queue runs `git` jobs: one at a time (across processes), retried with a long
/// backoff (a network that is down stays down a while). Its priority is below directory
/// sync's, so a worker that has both due writes pending exports to files before it commits
/// them.
pub fn type_config() -> TypeConfig {
    TypeConfig {
        concurrency: 1,
        max_attempts: 6,
        priority: 4,
        backoff_base_ms: 2_000,
        backoff_max_ms: 300_000,
        // Git runs in one folder, the one configured with the remote.
        bound_to_replica: true,
    }
}

fn parse(input: &Value) -> Result<(GitOp, Option<String>, Option<String>), String> {
    let op: GitOp = serde_json::from_value(input.get("op").cloned().unwrap_or(Value::Null))
        .map_err(|_| "'op' must be one of sync, pull, push, commit, init".to_string())?;
    let text = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_owned);
    Ok((op, text("remote"), text("branch")))
}

impl Handler for GitHandler {
    fn validate(&self, input: &Value) -> Result<(), String> {
        brain_api::refuse_unknown_keys(input, &["op", "remote", "branch", "allow_mass_delete"])?;
        parse(input).map(drop)
    }

    fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let (op, remote, branch) = parse(&ctx.job.input).map_err(JobError::Permanent)?;
        let git = Git::locate().map_err(|e| JobError::Permanent(e.to_string()))?;
        let mut config = self.config.clone();
        if let Some(remote) = remote {
            config.git.remote = remote;
        }
        if let Some(branch) = branch {
            config.git.branch = branch;
        }
        let exports_paused = ctx
            .queue
            .store()
            .paused_types()
            .map_err(|e| JobError::Failed(format!("cannot read which job types are paused: {e}")))?
            .iter()
            .any(|t| t == brain_api::directory::DIRECTORY_EXPORT);
        let runner = GitSync {
            root: &self.root,
            config: &config,
            store: self.store.as_ref(),
            sync: self.sync.as_ref(),
            git,
            allow_mass_delete: ctx.job.input.get("allow_mass_delete") == Some(&Value::Bool(true)),
            exports_paused,
        };
        let lock = || {
            brain_jobs::vault_lock::lock_vault(&self.root, ctx).map_err(|e| match e {
                JobError::Cancelled => "cancelled while waiting for the vault lock".to_string(),
                other => other.to_string(),
            })
        };
        let steps = Steps {
            progress: &ctx.progress,
            cancel: &ctx.cancel,
            lock: &lock,
        };
        let outcome = runner.run(op, &steps);
        self.publish(ctx, op, &outcome);
        match outcome {
            Ok(report) => {
                serde_json::to_value(&report).map_err(|e| JobError::Failed(e.to_string()))
            }
            Err(GitSyncError::Cancelled) => Err(JobError::Cancelled),
            Err(e) if e.is_retryable() => {
                // No retry is promised here: a CLI that ran the job without a daemon cancels
                // it, and the queue marks it failed after its last attempt; the CLI and the
                // queue's own log say which.
                let (tried, of) = (ctx.job.attempts, ctx.job.max_attempts);
                tracing::warn!(job = ctx.job.id, error = %e, tried, of, "git job try failed");
                Err(JobError::Failed(e.to_string()))
            }
            Err(e) => Err(JobError::Permanent(e.to_string())),
        }
    }
}

impl GitHandler {
    /// Publishes the outcome for `brain git status`, keeping the last success's time.
    fn publish(
        &self,
        ctx: &JobContext,
        op: GitOp,
        outcome: &Result<crate::sync::GitReport, GitSyncError>,
    ) {
        let now = now_ms();
        let previous = self
            .store
            .runtime_state(STATE_KEY)
            .ok()
            .flatten()
            .map(|s| s.value)
            .unwrap_or_else(|| json!({}));
        let mut doc = json!({
            "job": ctx.job.id,
            "op": op,
            "at_ms": now,
            "last_success_ms": previous.get("last_success_ms").cloned().unwrap_or(Value::Null),
            "last_push_ms": previous.get("last_push_ms").cloned().unwrap_or(Value::Null),
        });
        match outcome {
            Ok(report) => {
                doc["ok"] = json!(true);
                doc["last_success_ms"] = json!(now);
                if report.pushed {
                    doc["last_push_ms"] = json!(now);
                }
                doc["report"] = serde_json::to_value(report).unwrap_or_default();
            }
            Err(e) => {
                doc["ok"] = json!(false);
                doc["error"] = json!(e.to_string());
            }
        }
        if let Err(e) = self.store.set_runtime_state(STATE_KEY, &doc, now) {
            tracing::warn!(job = ctx.job.id, error = %e, "cannot publish the git job's outcome");
        }
    }
}
