//! The job tools: `sync` and `git_sync` (queue the job, then answer at once or follow it to
//! its end with progress notifications), `status`, `job_status` and `cancel_job`.

use brain_api::{JobState, Started, job_json};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::progress::{self, Followed};
use crate::tools::{fail, failed, ok};
use crate::{BrainMcp, Failure, blocking, kinds};

/// `sync` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SyncArgs {
    /// `full` (import changed files, then export pending notes), `import-only` or
    /// `export-only`. Default: `full`.
    #[schemars(extend("enum" = ["full", "import-only", "export-only", null], "default" = "full"))]
    mode: Option<String>,
    /// Let the sync delete most notes of the store (when most files vanished from the folder).
    /// Default: false, which refuses such a sync with an explanation.
    #[schemars(extend("default" = false))]
    allow_mass_delete: Option<bool>,
    /// Wait for the job to end, reporting progress (default: true). With false, return the job
    /// id at once and follow it with `job_status`.
    #[schemars(extend("default" = true))]
    wait: Option<bool>,
}

/// `git_sync` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GitSyncArgs {
    /// `sync` (commit, pull and merge, push), `pull` or `push`. Default: `sync`.
    #[schemars(extend("enum" = ["sync", "pull", "push", null], "default" = "sync"))]
    op: Option<String>,
    /// Wait for the job to end, reporting progress (default: true). With false, return the job
    /// id at once and follow it with `job_status`.
    #[schemars(extend("default" = true))]
    wait: Option<bool>,
}

/// `status` takes no arguments; this empty struct refuses any that are given, as every tool
/// refuses arguments it does not know.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoArgs {}

/// The id of a job: `job_status`, `cancel_job` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobArgs {
    /// The job id, as returned by `sync`, `git_sync`, `create`/`update`/`delete`
    /// (`export_job`) or listed by `status`.
    id: i64,
}

#[tool_router(router = job_router, vis = "pub(crate)")]
impl BrainMcp {
    #[tool(
        description = "Synchronize the vault folder with the store: import files changed on disk, export notes written through this server. By default waits for the job to end, sending progress notifications when the request has a progress token, and returns {job, joined, state, result, error}; cancelling the request cancels the job it started (a sync it joined keeps running). With wait=false returns {job, joined} at once (joined: an equal sync was already queued or running).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn sync(
        &self,
        Parameters(args): Parameters<SyncArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let mode = args.mode.unwrap_or_else(|| "full".into());
        let allow = args.allow_mass_delete.unwrap_or(false);
        let started = blocking(&self.brain, move |b| b.start_sync(&mode, allow)).await;
        self.run_job(started, args.wait.unwrap_or(true), &ctx).await
    }

    #[tool(
        description = "Synchronize the vault with its git remote: `sync` commits local changes, pulls and merges, then pushes; `pull` and `push` do one side. Fails with an explanation if the vault has no git sync set up. Waits and reports progress like `sync`, returning {job, joined, state, result, error}; with wait=false returns {job, joined} at once.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = true
        )
    )]
    async fn git_sync(
        &self,
        Parameters(args): Parameters<GitSyncArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let op = args.op.unwrap_or_else(|| "sync".into());
        let started = blocking(&self.brain, move |b| b.start_git(&op)).await;
        self.run_job(started, args.wait.unwrap_or(true), &ctx).await
    }

    #[tool(
        description = "What the vault is doing: its folder, note count, types, open conflicts, the daemon, queued and running jobs, recent jobs, and git sync.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn status(&self, Parameters(NoArgs {}): Parameters<NoArgs>) -> CallToolResult {
        match blocking(&self.brain, |b| b.status()).await {
            Ok(v) => ok(v),
            Err(e) => failed(&e),
        }
    }

    #[tool(
        description = "One job by id: {id, type, state (queued, running, succeeded, failed, cancelled), progress {current, total, message}, result, error, times...}. A batch's job only marks the batch: it also has batch_outcome {state, changed, unchanged, failed, note}, the batch's own state (batch_status has its notes).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn job_status(&self, Parameters(args): Parameters<JobArgs>) -> CallToolResult {
        let id = args.id;
        match blocking(&self.brain, move |b| {
            b.job(id).map(|job| {
                let outcome = b.batch_outcome(&job);
                (job, outcome)
            })
        })
        .await
        {
            Ok((job, outcome)) => {
                let mut doc = job_json(&job);
                // A batch's job is only its marker: its own state is not the batch's.
                if let Some(o) = outcome {
                    doc["batch_outcome"] = json!(o);
                }
                ok(doc)
            }
            Err(e) => failed(&e),
        }
    }

    #[tool(
        description = "Cancel a job: a queued one at once, a running one within about a second (work it finished is kept). Returns {id, state}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn cancel_job(&self, Parameters(args): Parameters<JobArgs>) -> CallToolResult {
        let id = args.id;
        match blocking(&self.brain, move |b| b.cancel_job(id)).await {
            Ok(state) => ok(json!({ "id": id, "state": state })),
            Err(e) => failed(&e),
        }
    }
}

impl BrainMcp {
    /// `sync` and `git_sync` once the job is queued: answer at once, or follow it to its end.
    async fn run_job(
        &self,
        started: Result<Started, Failure>,
        wait: bool,
        ctx: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let started = match started {
            Ok(s) => s,
            Err(e) => return failed(&e),
        };
        if !wait {
            return ok(json!({ "job": started.job, "joined": started.joined }));
        }
        match progress::follow(&self.brain, started.job, !started.joined, ctx).await {
            Ok(Followed::Finished(job)) => {
                // A job that did not succeed is a tool error like any other: its `error` is
                // `{kind, message}` (null on success), the job's own error as the message.
                let kind = match job.state {
                    JobState::Succeeded => None,
                    JobState::Cancelled => Some(kinds::JOB_CANCELLED),
                    _ => Some(kinds::JOB_FAILED),
                };
                let error = kind.map(|kind| {
                    let message = job
                        .error
                        .clone()
                        .unwrap_or_else(|| format!("job #{} ended {}", job.id, job.state.as_str()));
                    json!({ "kind": kind, "message": message })
                });
                let succeeded = error.is_none();
                let value = json!({
                    "job": job.id,
                    "joined": started.joined,
                    "state": job.state,
                    "result": job.result,
                    "error": error,
                });
                if succeeded {
                    ok(value)
                } else {
                    CallToolResult::structured_error(value)
                }
            }
            Ok(Followed::Left) => fail(
                kinds::CANCELLED,
                format!(
                    "the request was cancelled; job #{} was already queued or running for someone \
                 else when this call joined it, so it keeps running (cancel it with cancel_job \
                 if you mean to)",
                    started.job
                ),
            ),
            Ok(Followed::Cancelled(state)) => fail(
                kinds::CANCELLED,
                format!(
                    "the request was cancelled, so job #{} was cancelled too (it is now {})",
                    started.job,
                    match state {
                        Ok(s) => s.as_str().to_string(),
                        Err(e) => format!("unknown: {e}"),
                    }
                ),
            ),
            Err(e) => failed(&e),
        }
    }
}
