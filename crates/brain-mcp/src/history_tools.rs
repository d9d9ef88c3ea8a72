//! The history tools, `history` and `revert` (issue 19): a router of their own, added to the
//! main one, so `tools.rs` stays the note tools. Same conventions: arguments deny unknown
//! fields, every failure is a tool error with the facade's kind and message.

use brain_core::EntityRef;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::tools::{fail_with, ok_value, result_of};
use crate::{BrainMcp, fresh_blocking};

/// `history` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryArgs {
    /// The note's type.
    #[serde(rename = "type")]
    entity_type: String,
    /// The note's id.
    id: String,
    /// Also return the text of this version (a number from the list). Default: none.
    version: Option<u64>,
}

/// `revert` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevertArgs {
    /// The note's type.
    #[serde(rename = "type")]
    entity_type: String,
    /// The note's id.
    id: String,
    /// The version to write back, a number `history` listed.
    version: u64,
    /// Why, kept with the new version (`history` shows it).
    message: Option<String>,
}

#[tool_router(router = history_router, vis = "pub(crate)")]
impl BrainMcp {
    #[tool(
        description = "A note's versions, oldest first and the current one last: every change (a file saved, an agent's update, a git pull, a delete or restore) keeps the version it replaced. Returns {\"versions\": [{number, path, content_hash, deleted, made (ISO time), source (file, cli, mcp, git...), message, current}]}; with `version`, also {\"content\": that version's whole file}. Write one back with `revert`.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn history(&self, Parameters(args): Parameters<HistoryArgs>) -> CallToolResult {
        let r = EntityRef::new(args.entity_type, args.id);
        let wanted = args.version;
        let read = fresh_blocking(self, move |b| {
            let versions = b.history(&r)?;
            let content = wanted.map(|n| b.version_text(&r, n)).transpose()?;
            Ok((versions, content))
        })
        .await;
        match read {
            Ok(((versions, content), stale)) => {
                let versions: Vec<_> = versions
                    .iter()
                    .map(|v| {
                        json!({
                            "number": v.number,
                            "path": v.path,
                            "content_hash": v.content_hash,
                            "deleted": v.deleted,
                            "made": brain_core::time::format_iso(v.made_ms),
                            "source": v.why.source,
                            "message": v.why.message,
                            "current": v.current,
                        })
                    })
                    .collect();
                let mut value = json!({ "versions": versions });
                if let Some(c) = content {
                    value["content"] = json!(c);
                }
                ok_value(value, stale)
            }
            Err(e) => fail_with(&e),
        }
    }

    #[tool(
        description = "Write an earlier version of a note back as a new change (the version it replaces is kept too, so a revert can itself be reverted; a deleted note comes back). Returns {type, id, path, outcome, content_hash, export_job}; the file is written by the export job shortly after.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn revert(&self, Parameters(args): Parameters<RevertArgs>) -> CallToolResult {
        let r = EntityRef::new(args.entity_type, args.id);
        let (number, message) = (args.version, args.message);
        let written = fresh_blocking(self, move |b| b.revert(&r, number, message.as_deref())).await;
        result_of(written)
    }
}
