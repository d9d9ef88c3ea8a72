//! The tools of issue 19, `history`, `revert` and `edit`: a router of their own, added to the
//! main one, so `tools.rs` stays the whole-note tools. Same conventions: arguments deny unknown
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

/// `move` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MoveArgs {
    /// The note's type.
    #[serde(rename = "type")]
    entity_type: String,
    /// The note's id.
    id: String,
    /// The type it moves to (default: the same).
    new_type: Option<String>,
    /// The id it moves to; for `note`, its new vault path without `.md`.
    new_id: String,
    /// Why, kept with the new version.
    message: Option<String>,
}

/// `edit` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditArgs {
    /// The note's type.
    #[serde(rename = "type")]
    entity_type: String,
    /// The note's id.
    id: String,
    /// What to do: `append` (text at the end), `prepend` (text after the frontmatter),
    /// `replace_section` (the text under `heading`, to the next heading of its level or
    /// higher), `find_replace` (`find` → `replace`, only if it occurs exactly `count` times),
    /// `set_meta` (`key` to `value`), `remove_meta` (`key`).
    #[schemars(extend("enum" = ["append", "prepend", "replace_section", "find_replace", "set_meta", "remove_meta"]))]
    op: String,
    /// The text for append, prepend and replace_section.
    text: Option<String>,
    /// The heading for replace_section (with or without its # marks).
    heading: Option<String>,
    /// The text to find, for find_replace.
    find: Option<String>,
    /// What replaces it, for find_replace.
    replace: Option<String>,
    /// How many times `find` must occur. Default: 1.
    #[schemars(extend("default" = 1))]
    count: Option<usize>,
    /// The metadata key, for set_meta and remove_meta.
    key: Option<String>,
    /// The value for set_meta, as JSON (a string, number, boolean or list; a list replaces
    /// the old value whole).
    value: Option<serde_json::Value>,
    /// The content_hash you read: if the note changed since, nothing is written.
    expected_hash: Option<String>,
    /// Why, kept with the new version.
    message: Option<String>,
}

impl EditArgs {
    /// The edit these arguments name, or what is missing for it.
    fn edit(&self) -> Result<brain_core::edit::Edit, String> {
        use brain_core::edit::Edit;
        let need = |v: &Option<String>, what: &str| {
            v.clone()
                .ok_or_else(|| format!("op `{}` needs `{what}`", self.op))
        };
        Ok(match self.op.as_str() {
            "append" => Edit::Append(need(&self.text, "text")?),
            "prepend" => Edit::Prepend(need(&self.text, "text")?),
            "replace_section" => Edit::ReplaceSection {
                heading: need(&self.heading, "heading")?,
                text: need(&self.text, "text")?,
            },
            "find_replace" => Edit::FindReplace {
                find: need(&self.find, "find")?,
                replace: need(&self.replace, "replace")?,
                expected: self.count.unwrap_or(1),
            },
            "set_meta" => Edit::SetMeta {
                key: need(&self.key, "key")?,
                value: self
                    .value
                    .clone()
                    .ok_or_else(|| "op `set_meta` needs `value`".to_string())?,
            },
            "remove_meta" => Edit::RemoveMeta {
                key: need(&self.key, "key")?,
            },
            other => {
                return Err(format!(
                    "unknown op `{other}`: use append, prepend, replace_section, find_replace, \
                     set_meta or remove_meta"
                ));
            }
        })
    }
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
        description = "Change part of a note without sending it whole: op append or prepend (text), replace_section (the text under heading), find_replace (find → replace, refused unless it occurs exactly count times), set_meta (key to value: YAML frontmatter, or Logseq page properties) or remove_meta (key). Everything else stays byte for byte. Pass expected_hash from `get` so an edit never lands on a version you did not read. A missing section or key is refused with the ones there are. Returns {type, id, path, outcome, content_hash, export_job}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn edit(&self, Parameters(args): Parameters<EditArgs>) -> CallToolResult {
        let edit = match args.edit() {
            Ok(e) => e,
            Err(why) => return crate::tools::fail(crate::kinds::BAD_ARGUMENT, why),
        };
        let r = EntityRef::new(args.entity_type, args.id);
        let (expected, message) = (args.expected_hash, args.message);
        let written = fresh_blocking(self, move |b| {
            b.edit(&r, &edit, expected.as_deref(), message.as_deref())
        })
        .await;
        result_of(written)
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

    #[tool(
        name = "move",
        description = "Move a note to another id or type (e.g. promote a draft into the notes): the same note, its history and creation time kept; its file moves shortly after (the old one to .brain/trash). Refused when the target exists, or differs from another note's path only by case or Unicode form. Links that point at it are left as they are. Returns {from, to, from_path, path, content_hash, export_job, links}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn r#move(&self, Parameters(args): Parameters<MoveArgs>) -> CallToolResult {
        let new_type = args.new_type.unwrap_or_else(|| args.entity_type.clone());
        let from = EntityRef::new(args.entity_type, args.id);
        let to = EntityRef::new(new_type, args.new_id);
        let message = args.message;
        let moved =
            fresh_blocking(self, move |b| b.move_note(&from, &to, message.as_deref())).await;
        result_of(moved)
    }
}
