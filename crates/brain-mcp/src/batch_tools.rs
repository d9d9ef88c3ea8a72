//! The batch tools of issue 20: `batch` (one operation over every note a query selects, or its
//! dry run), `batch_status` (with `wait`, progress notifications until it ends),
//! `batch_rollback` and `batch_cancel`. A batch always returns at once with its id: a tool
//! never blocks on a long change, and waiting is the caller's choice through `batch_status`.

use std::time::Duration;

use brain_api::batch::{BatchOp, BatchPreview, BatchReport, NotePreview};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ProgressNotificationParam};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::tools::{fail, fail_with, ok_value};
use crate::{BrainMcp, blocking, fresh_blocking, kinds};

/// How often a waiting `batch_status` reads the batch again.
const POLL: Duration = Duration::from_millis(250);
/// How long a waiting `batch_status` waits for the files of a batch that ended.
const FILES_WAIT: Duration = Duration::from_secs(60);
/// How often it looks whether anybody works on the batch.
const TEND_EVERY: Duration = Duration::from_secs(1);

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
    /// The text to find, for replace (exact: letter case counts; frontmatter included).
    old: Option<String>,
    /// What replaces it, for replace.
    new: Option<String>,
    /// Return the count and each note's diff, and write nothing. Default: false.
    dry_run: Option<bool>,
    /// For delete: go on when that is most of the vault's notes (more than the configured
    /// share), which is refused otherwise (kind `mass_delete`). Default: false.
    allow_mass_delete: Option<bool>,
    /// Dry run: how many notes' changes to return (1 to 500). Default: 50.
    #[schemars(range(min = 1, max = 500))]
    limit: Option<usize>,
    /// Dry run: skip this many notes first: pass the `next_offset` of the previous page.
    /// Default: 0.
    offset: Option<usize>,
}

/// The notes' changes a dry run returns when `limit` is not given, and at most.
const PREVIEW_PAGE: usize = 50;
const PREVIEW_MAX: usize = 500;

impl BatchArgs {
    /// The arguments given that `self.op` does not take: refused by name, as an unknown
    /// argument is, rather than ignored.
    fn foreign(&self) -> Vec<&'static str> {
        let takes: &[&str] = match self.op.as_str() {
            "set" => &["key", "value"],
            "unset" => &["key"],
            "tag_add" | "tag_remove" => &["tag"],
            "move" => &["to"],
            "replace" => &["old", "new"],
            "delete" => &["allow_mass_delete"],
            _ => &[],
        };
        [
            ("key", self.key.is_some()),
            ("value", self.value.is_some()),
            ("tag", self.tag.is_some()),
            ("to", self.to.is_some()),
            ("old", self.old.is_some()),
            ("new", self.new.is_some()),
            ("allow_mass_delete", self.allow_mass_delete.is_some()),
        ]
        .into_iter()
        .filter(|(name, given)| *given && !takes.contains(name))
        .map(|(name, _)| name)
        .collect()
    }

    fn op(&self) -> Result<BatchOp, String> {
        let foreign = self.foreign();
        let known = matches!(
            self.op.as_str(),
            "set" | "unset" | "tag_add" | "tag_remove" | "move" | "replace" | "delete"
        );
        // An unknown op is said below, whatever else was given.
        if known && !foreign.is_empty() {
            return Err(format!(
                "op `{}` does not take `{}`: give only its own arguments (set: key, value; \
                 unset: key; tag_add, tag_remove: tag; move: to; replace: old, new; delete: \
                 allow_mass_delete)",
                self.op,
                foreign.join("`, `")
            ));
        }
        if !self.dry_run.unwrap_or(false) && (self.limit.is_some() || self.offset.is_some()) {
            return Err(
                "`limit` and `offset` page a dry run's changes: give them with dry_run: true"
                    .into(),
            );
        }
        if self.limit == Some(0) || self.limit.is_some_and(|l| l > PREVIEW_MAX) {
            return Err(format!("`limit` is 1 to {PREVIEW_MAX}"));
        }
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
    /// The batch id `batch` returned (`batch_id`, as `batch` names it, is taken too).
    #[serde(alias = "batch_id")]
    id: i64,
    /// Wait until the batch ends, sending progress notifications when the request has a
    /// progress token. Cancelling the request stops the wait, not the batch. Default: false.
    wait: Option<bool>,
}

/// `batch_rollback` and `batch_cancel` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchIdArgs {
    /// The batch id (`batch_id`, as `batch` names it, is taken too).
    #[serde(alias = "batch_id")]
    id: i64,
}

/// One page of a dry run: the notes `offset..offset + limit` with their diffs (each cut by
/// the facade), and `next_offset` while more are left. A dry run over thousands of notes,
/// or with a long value, would otherwise answer with megabytes an agent cannot read.
fn preview_page(p: BatchPreview, offset: usize, limit: usize) -> Value {
    let listed = p.notes.len();
    let end = offset.saturating_add(limit).min(listed);
    let mut page = p;
    let notes: Vec<NotePreview> = page.notes.drain(..).skip(offset).take(limit).collect();
    page.notes = notes;
    let mut value = serde_json::to_value(page).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut value {
        o.insert("offset".into(), json!(offset));
        o.insert(
            "next_offset".into(),
            if end < listed {
                json!(end)
            } else {
                Value::Null
            },
        );
    }
    value
}

fn report_value(r: &BatchReport) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

#[tool_router(router = batch_router, vis = "pub(crate)")]
impl BrainMcp {
    #[tool(
        description = "Change every note a query selects in one go: op set (key, value), unset (key), tag_add / tag_remove (tag; frontmatter tags only, inline #tags are left), move (to: a folder), replace (old → new), delete. `where` is the search language with filters type:T, tag:T, path:FOLDER, meta.KEY:VALUE; filters alone select every match. With dry_run returns {op, query, count, would_change, notes: [{entity, path, change, diff, to, why}], offset, next_offset} and writes nothing: `notes` is one page (limit, default 50; each diff cut at 8,000 characters), call again with offset = next_offset for the next. Arguments of another op are refused. Otherwise returns at once with {batch_id, count, op, message, note}, note saying what the op does beyond its name (set tags replaces the whole list): the batch runs as jobs; follow it with batch_status (wait: true streams progress), undo it with batch_rollback. A query selecting no note queues nothing (batch_id null).",
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
        // What a person saved before the call is imported first, as for every other call: the
        // selection and each note's change are worked out on it.
        let allow = args.allow_mass_delete.unwrap_or(false);
        if args.dry_run.unwrap_or(false) {
            let (offset, limit) = (args.offset.unwrap_or(0), args.limit.unwrap_or(PREVIEW_PAGE));
            let page = offset..offset.saturating_add(limit);
            return match fresh_blocking(self, move |b| {
                b.preview_batch_allowing(&op, &query, page, allow)
            })
            .await
            {
                Ok((p, stale)) => ok_value(preview_page(p, offset, limit), stale),
                Err(e) => fail_with(&e),
            };
        }
        match fresh_blocking(self, move |b| b.start_batch_allowing(&op, &query, allow)).await {
            Ok((q, stale)) => ok_value(serde_json::to_value(q).unwrap_or(Value::Null), stale),
            Err(e) => fail_with(&e),
        }
    }

    #[tool(
        description = "A batch's progress and outcome: {batch_id, op, query, state (queued, running, succeeded, failed, cancelled), total, done, changed, unchanged, conflicts, failed, not_done, failures: [{entity, reason}], kept_both, jobs, rollback_of, rolled_back_by}. With wait: true, returns when the batch has ended and its files are written (`files_written`: false if they were not within a minute), sending progress notifications (done of total notes) meanwhile.",
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
        let mut last_tended = tokio::time::Instant::now();
        loop {
            // Waiting, this session runs a batch nobody works on (the worker that ran it
            // stopped), as `brain batch status --wait` does.
            if args.wait.unwrap_or(false) && last_tended.elapsed() >= TEND_EVERY {
                last_tended = tokio::time::Instant::now();
                let _ = blocking(&self.brain, move |b| b.tend_batch(id)).await;
            }
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
                let mut value = report_value(&report);
                if args.wait.unwrap_or(false) {
                    // Ended is in the store; the answer waits for the files too.
                    let written = blocking(&self.brain, |b| Ok(b.wait_files_written(FILES_WAIT)))
                        .await
                        .unwrap_or(false);
                    if let Value::Object(o) = &mut value {
                        o.insert("files_written".into(), json!(written));
                    }
                }
                return ok_value(value, None);
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
        description = "Cancel a batch: notes not yet reached stay as they are, notes it changed stay changed (batch_rollback undoes them once it has stopped). Returns the batch's status with a `message` saying what happened, and `already_ended: true` when it had ended before (nothing was cancelled).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn batch_cancel(&self, Parameters(args): Parameters<BatchIdArgs>) -> CallToolResult {
        let id = args.id;
        let cancelled = blocking(&self.brain, move |b| {
            let before = b.batch_report(id)?;
            if before.is_finished() {
                return Ok((before, true));
            }
            b.cancel_batch(id).map(|r| (r, false))
        })
        .await;
        match cancelled {
            Ok((r, ended)) => {
                let mut value = report_value(&r);
                if let Value::Object(o) = &mut value {
                    let message = if ended {
                        format!(
                            "batch {id} had already ended ({}): there was nothing to cancel",
                            r.state
                        )
                    } else {
                        format!(
                            "batch {id} is cancelled: notes not reached stay as they are, a job \
                             under way stops within about a second, and the notes changed stay \
                             changed (batch_rollback undoes them once it has stopped)"
                        )
                    };
                    o.insert("message".into(), json!(message));
                    o.insert("already_ended".into(), json!(ended));
                }
                ok_value(value, None)
            }
            Err(e) => fail_with(&e),
        }
    }
}
