//! The batch tools of issue 20: `batch` (one operation over every note a query selects, or its
//! dry run), `batch_status` (with `wait`, progress notifications until it ends),
//! `batch_rollback` and `batch_cancel`. A batch always returns at once with its id: a tool
//! never blocks on a long change, and waiting is the caller's choice through `batch_status`.

use std::time::Duration;

use brain_api::batch::{BatchOp, BatchReport};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ProgressNotificationParam};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::tools::{fail, fail_with, ok_value};
use crate::{BrainMcp, blocking, kinds};

/// How often a waiting `batch_status` reads the batch again.
const POLL: Duration = Duration::from_millis(250);

/// `batch` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchArgs {
    /// What to do to each note: `set` (key to value), `unset` (key), `tag_add` / `tag_remove`
    /// (tag, in the frontmatter or page properties; inline #tags are left), `move` (into
    /// folder `to`, keeping the file name), `replace` (every `old` with `new`), `delete`.
    #[schemars(extend("enum" = ["set", "unset", "tag_add", "tag_remove", "move", "replace", "delete"]))]
    op: String,
    /// The notes: search words and filters `type:T`, `tag:T`, `path:FOLDER`,
    /// `meta.KEY:VALUE` (quote a value with spaces). Filters alone select every match.
    #[serde(rename = "where")]
    query: String,
    /// The key, for set and unset.
    key: Option<String>,
    /// The value for set, as JSON (a string, number, boolean or list).
    value: Option<Value>,
    /// The tag, for tag_add and tag_remove.
    tag: Option<String>,
    /// The folder, for move (vault-relative, `Archive/2026`).
    to: Option<String>,
    /// The text to find, for replace.
    old: Option<String>,
    /// What replaces it, for replace.
    new: Option<String>,
    /// Return the count and each note's diff, and write nothing. Default: false.
    dry_run: Option<bool>,
}

impl BatchArgs {
    fn op(&self) -> Result<BatchOp, String> {
        let need = |v: &Option<String>, what: &str| {
            v.clone()
                .ok_or_else(|| format!("op `{}` needs `{what}`", self.op))
        };
        Ok(match self.op.as_str() {
            "set" => BatchOp::Set {
                key: need(&self.key, "key")?,
                value: self
                    .value
                    .clone()
                    .ok_or_else(|| "op `set` needs `value`".to_string())?,
            },
            "unset" => BatchOp::Unset {
                key: need(&self.key, "key")?,
            },
            "tag_add" => BatchOp::TagAdd {
                tag: need(&self.tag, "tag")?,
            },
            "tag_remove" => BatchOp::TagRemove {
                tag: need(&self.tag, "tag")?,
            },
            "move" => BatchOp::Move {
                to: need(&self.to, "to")?,
            },
            "replace" => BatchOp::Replace {
                old: need(&self.old, "old")?,
                new: need(&self.new, "new")?,
            },
            "delete" => BatchOp::Delete,
            other => {
                return Err(format!(
                    "unknown op `{other}`: use set, unset, tag_add, tag_remove, move, replace or \
                     delete"
                ));
            }
        })
    }
}

/// `batch_status` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchStatusArgs {
    /// The batch id `batch` returned.
    id: i64,
    /// Wait until the batch ends, sending progress notifications when the request has a
    /// progress token. Cancelling the request stops the wait, not the batch. Default: false.
    wait: Option<bool>,
}

/// `batch_rollback` and `batch_cancel` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchIdArgs {
    /// The batch id.
    id: i64,
}

fn report_value(r: &BatchReport) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

#[tool_router(router = batch_router, vis = "pub(crate)")]
impl BrainMcp {
    #[tool(
        description = "Change every note a query selects in one go: op set (key, value), unset (key), tag_add / tag_remove (tag; frontmatter tags only, inline #tags are left), move (to: a folder), replace (old → new), delete. `where` is the search language with filters type:T, tag:T, path:FOLDER, meta.KEY:VALUE; filters alone select every match. With dry_run returns {op, query, count, would_change, notes: [{entity, path, change, diff, to, why}]} and writes nothing. Otherwise returns at once with {batch_id, count, op, message}: the batch runs as jobs; follow it with batch_status (wait: true streams progress), undo it with batch_rollback. A query selecting no note queues nothing (batch_id null).",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn batch(&self, Parameters(args): Parameters<BatchArgs>) -> CallToolResult {
        let op = match args.op() {
            Ok(op) => op,
            Err(why) => return fail(kinds::BAD_ARGUMENT, why),
        };
        let query = args.query.clone();
        if args.dry_run.unwrap_or(false) {
            return match blocking(&self.brain, move |b| b.preview_batch(&op, &query)).await {
                Ok(p) => ok_value(serde_json::to_value(p).unwrap_or(Value::Null), None),
                Err(e) => fail_with(&e),
            };
        }
        match blocking(&self.brain, move |b| b.start_batch(&op, &query)).await {
            Ok(q) => ok_value(serde_json::to_value(q).unwrap_or(Value::Null), None),
            Err(e) => fail_with(&e),
        }
    }

    #[tool(
        description = "A batch's progress and outcome: {batch_id, op, query, state (queued, running, succeeded, failed, cancelled), total, done, changed, unchanged, conflicts, failed, not_done, failures: [{entity, reason}], kept_both, jobs, rollback_of, rolled_back_by}. With wait: true, returns when the batch has ended, sending progress notifications (done of total notes) meanwhile.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn batch_status(
        &self,
        Parameters(args): Parameters<BatchStatusArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let id = args.id;
        let token = ctx.meta.get_progress_token();
        let mut last_sent = None;
        loop {
            let report = match blocking(&self.brain, move |b| b.batch_report(id)).await {
                Ok(r) => r,
                Err(e) => return fail_with(&e),
            };
            if !args.wait.unwrap_or(false) || report.is_finished() {
                if let Some(token) = &token
                    && args.wait.unwrap_or(false)
                {
                    let param = ProgressNotificationParam::new(token.clone(), report.total as f64)
                        .with_total(report.total as f64)
                        .with_message(format!("batch {id} {}", report.state));
                    let _ = ctx.peer.notify_progress(param).await;
                }
                return ok_value(report_value(&report), None);
            }
            // Progress must grow with every notification, and 100% is said only at the end.
            let at = report.done.min(report.total.saturating_sub(1));
            if let Some(token) = &token
                && last_sent.is_none_or(|sent| at > sent)
            {
                let param = ProgressNotificationParam::new(token.clone(), at as f64)
                    .with_total(report.total as f64)
                    .with_message(format!(
                        "batch {id}: {} of {} notes ({} changed)",
                        report.done, report.total, report.changed
                    ));
                if ctx.peer.notify_progress(param).await.is_ok() {
                    last_sent = Some(at);
                }
            }
            tokio::select! {
                () = ctx.ct.cancelled() => {
                    return fail(
                        kinds::CANCELLED,
                        format!("the request was cancelled; batch {id} keeps running (batch_cancel stops it)"),
                    );
                }
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    #[tool(
        description = "Undo a batch: every note it changed gets its version from before it, as a batch of its own (returns {batch_id, count, op, message} at once). A note changed since the batch is kept as it is, with a conflict holding both versions. Rolling back a rollback applies the batch again; rolling back a batch twice is refused, naming the rollback that ran.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn batch_rollback(&self, Parameters(args): Parameters<BatchIdArgs>) -> CallToolResult {
        let id = args.id;
        match blocking(&self.brain, move |b| b.rollback_batch(id)).await {
            Ok(q) => ok_value(serde_json::to_value(q).unwrap_or(Value::Null), None),
            Err(e) => fail_with(&e),
        }
    }

    #[tool(
        description = "Cancel a batch: notes not yet reached stay as they are, notes it changed stay changed (batch_rollback undoes them once it has stopped). Returns the batch's status.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn batch_cancel(&self, Parameters(args): Parameters<BatchIdArgs>) -> CallToolResult {
        let id = args.id;
        match blocking(&self.brain, move |b| b.cancel_batch(id)).await {
            Ok(r) => ok_value(report_value(&r), None),
            Err(e) => fail_with(&e),
        }
    }
}
