//! The note tools (`search`, `get`, `list`, `create`, `update`, `delete`) and the results every
//! tool module answers with. The job tools are in `job_tools.rs`, history's in
//! `history_tools.rs`, the batch tools in `batch_tools.rs`; each module holds its tools' arguments
//! (whose doc comments become the JSON schema's descriptions, which is all an agent reads) and
//! one handler each, a call on the facade.
//!
//! Every handler returns a [`CallToolResult`], never a JSON-RPC error: a result holds the JSON
//! object as structured content and as text; a failure is `isError: true` with the facade's
//! message. Arguments of the wrong JSON type are refused by rmcp before a handler runs; rmcp 3.9
//! turns that refusal into a tool error too ("failed to deserialize parameters: ...", given the
//! kind `bad_argument` in `lib.rs`). Every argument struct denies unknown fields (and its schema
//! says `additionalProperties: false`): a misspelt argument (`limt`, `offest`) is refused by
//! name instead of being ignored, which would answer a different question than was asked.

use brain_api::{Expect, ListRequest, SearchRequest};
use brain_core::EntityRef;
use brain_core::time::format_iso;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{BrainMcp, Failure, fresh_blocking, kinds};

/// `list` returns this many notes when no limit is given.
const DEFAULT_LIST_LIMIT: usize = 100;
/// ... and never more than this many.
const MAX_LIST_LIMIT: usize = 1000;

/// A successful result with `warning` (a stale-read hint) added when there is one.
pub(crate) fn ok_value(value: Value, warning: Option<String>) -> CallToolResult {
    ok(with_warning(value, warning))
}

/// The tool error of a failed facade call.
pub(crate) fn fail_with(e: &Failure) -> CallToolResult {
    failed(e)
}

/// A facade call's serializable answer (with its stale-read hint), or its tool error.
pub(crate) fn result_of<T: serde::Serialize>(
    answer: Result<(T, Option<String>), Failure>,
) -> CallToolResult {
    match answer {
        Ok((value, stale)) => with_warning_result(to_result(&value), stale),
        Err(e) => failed(&e),
    }
}

/// A successful result: `value` as structured content and as text.
pub(crate) fn ok(value: Value) -> CallToolResult {
    CallToolResult::structured(value)
}

/// A tool error: `{"error": {"kind", "message"}}` as structured content and as text, `kind`
/// one of the stable names listed in the crate doc, `message` the sentence for the agent.
pub(crate) fn fail(kind: &str, message: impl Into<String>) -> CallToolResult {
    CallToolResult::structured_error(json!({
        "error": { "kind": kind, "message": message.into() }
    }))
}

/// The tool error of a failed facade call, kind and message from the facade.
pub(crate) fn failed(e: &Failure) -> CallToolResult {
    fail(e.kind(), e.to_string())
}

/// `value` serialized, or a tool error if it cannot be (it always can: plain data).
fn to_result<T: serde::Serialize>(value: &T) -> CallToolResult {
    match serde_json::to_value(value) {
        Ok(v) => ok(v),
        Err(e) => fail(
            kinds::INTERNAL,
            format!("the server could not encode its answer: {e}"),
        ),
    }
}

/// `value` (an object) with `warning` set when there is one.
fn with_warning(mut value: Value, warning: Option<String>) -> Value {
    if let (Some(w), Some(map)) = (warning, value.as_object_mut()) {
        map.insert("warning".into(), Value::String(w));
    }
    value
}

/// A successful result with `warning` added to its structured content (and its text).
fn with_warning_result(result: CallToolResult, warning: Option<String>) -> CallToolResult {
    match (&warning, &result.structured_content, result.is_error) {
        (Some(_), Some(v), Some(false) | None) => ok(with_warning(v.clone(), warning)),
        _ => result,
    }
}

/// Two warnings as one sentence each, or the one there is.
fn join_warnings(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

/// `search` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchArgs {
    /// What to find: words (all must match), "quoted phrases", -excluded words, prefix* words.
    query: String,
    /// Only notes of these types (any of them), e.g. ["note"]. Default: every type.
    types: Option<Vec<String>>,
    /// Only notes carrying all of these tags ('#' optional, any case). Default: no tag filter.
    tags: Option<Vec<String>>,
    /// At most this many hits, 1-500 (larger values are lowered to 500). Default: the vault's
    /// `search.default_limit` (20 unless configured).
    limit: Option<usize>,
    /// Skip this many hits first: pass the `next_offset` of the previous page. Default: 0.
    #[schemars(extend("default" = 0))]
    offset: Option<usize>,
}

/// The name of one note: `get`, `delete` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefArgs {
    /// The note's type: `note` for plain Markdown files, or a configured type (see `brain://types`
    /// or `status`).
    #[serde(rename = "type")]
    entity_type: String,
    /// The note's id within its type; for `note`, its vault path without `.md`
    /// (e.g. `Projects/plan`).
    id: String,
}

/// `list` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListArgs {
    /// Only notes of this type. Default: every type.
    #[serde(rename = "type")]
    entity_type: Option<String>,
    /// Only notes under this vault folder, e.g. `Projects/Work`. Default: the whole vault.
    folder: Option<String>,
    /// Only notes with this tag ('#' optional, any case).
    tag: Option<String>,
    /// Page size, 1-1000 (larger values are lowered to 1000; 0 is refused). Default: 100.
    #[schemars(extend("default" = 100))]
    limit: Option<usize>,
    /// Skip this many notes first: pass the `next_offset` of the previous page. Default: 0.
    #[schemars(extend("default" = 0))]
    offset: Option<usize>,
}

/// `create` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateArgs {
    /// The new note's type: `note`, or a configured type.
    #[serde(rename = "type")]
    entity_type: String,
    /// The new note's id; for `note`, its vault path without `.md` (folders are created).
    id: String,
    /// The whole Markdown file: optional YAML frontmatter between `---` lines, then the body.
    content: String,
    /// Why you make this change, kept with the version it makes (`history` shows it).
    message: Option<String>,
}

/// `update` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateArgs {
    /// The note's type.
    #[serde(rename = "type")]
    entity_type: String,
    /// The note's id.
    id: String,
    /// The whole new Markdown file (frontmatter included): it replaces the note entirely.
    content: String,
    /// The `content_hash` the note had when you read it (from `get`, or from your last
    /// `create`/`update`). If the note changed since, nothing is stored and you are told to
    /// merge. Omit it only to overwrite whatever the note holds now.
    expected_hash: Option<String>,
    /// Why you make this change, kept with the version it makes (`history` shows it).
    message: Option<String>,
}

/// `delete` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteArgs {
    /// The note's type.
    #[serde(rename = "type")]
    entity_type: String,
    /// The note's id.
    id: String,
    /// Why you make this change, kept with the version it makes (`history` shows it).
    message: Option<String>,
}

#[tool_router(vis = "pub(crate)")]
impl BrainMcp {
    #[tool(
        description = "Full-text search over every note, best match first, one page at a time. Returns {\"hits\": [{type, id, title, path, score, snippet}], \"next_offset\": number or null, \"hint\" when nothing matched and a path: filter names a folder in another letter case}; call again with offset = next_offset for the next page. In a snippet, matched words are wrapped in ⟦ and ⟧ (U+27E6, U+27E7), e.g. ⟦crab⟧; a ⟦ or ⟧ the note itself holds is written twice (⟦⟦, ⟧⟧), so anything else, such as **bold**, is the note's own text. Read a hit with `get`.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search(&self, Parameters(args): Parameters<SearchArgs>) -> CallToolResult {
        let asked = args.types.unwrap_or_default();
        let warning = self.brain.unknown_types_warning(&asked);
        let types = self.known_types(asked.clone());
        if !asked.is_empty() && types.is_empty() {
            // Only types the vault does not have: nothing can match.
            return ok(json!({ "hits": [], "next_offset": null, "warning": warning }));
        }
        let req = SearchRequest {
            query: args.query,
            types,
            tags: args.tags.unwrap_or_default(),
            limit: args.limit,
            offset: args.offset.unwrap_or(0),
        };
        match fresh_blocking(self, move |b| b.search(&req)).await {
            Ok((page, stale)) => ok(with_warning(
                serde_json::to_value(&page).unwrap_or(Value::Null),
                join_warnings(warning, stale),
            )),
            Err(e) => failed(&e),
        }
    }

    #[tool(
        description = "Read one note. Returns {type, id, path, title, metadata (frontmatter), tags, content (the whole file, frontmatter included), content_hash, created, updated}. Keep content_hash: pass it to `update` as expected_hash.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get(&self, Parameters(args): Parameters<RefArgs>) -> CallToolResult {
        let r = EntityRef::new(args.entity_type, args.id);
        match fresh_blocking(self, move |b| b.get(&r)).await {
            Ok((e, stale)) => ok(with_warning(brain_api::entity_json(&e), stale)),
            Err(e) => failed(&e),
        }
    }

    #[tool(
        description = "List notes in path order, filtered by type, folder or tag, one page at a time. Returns {\"items\": [{type, id, title, path, updated}], \"next_offset\": number or null}; call again with offset = next_offset for the next page.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list(&self, Parameters(args): Parameters<ListArgs>) -> CallToolResult {
        let asked: Vec<String> = args.entity_type.iter().cloned().collect();
        if let Some(w) = self.brain.unknown_types_warning(&asked) {
            return ok(json!({ "items": [], "next_offset": null, "warning": w }));
        }
        let req = ListRequest {
            entity_type: args.entity_type,
            folder: args.folder,
            tag: args.tag,
            // 0 is left for the facade to refuse: it is a mistake, not a request for one note.
            limit: args.limit.unwrap_or(DEFAULT_LIST_LIMIT).min(MAX_LIST_LIMIT),
            offset: args.offset.unwrap_or(0),
            include_deleted: false,
        };
        match fresh_blocking(self, move |b| b.list(&req)).await {
            Ok((page, stale)) => {
                let items: Vec<Value> = page
                    .items
                    .iter()
                    .map(|s| {
                        json!({
                            "type": s.entity.entity_type,
                            "id": s.entity.id,
                            "title": s.title,
                            "path": s.path,
                            "updated": format_iso(s.updated_ms),
                        })
                    })
                    .collect();
                ok(with_warning(
                    json!({ "items": items, "next_offset": page.next_offset }),
                    stale,
                ))
            }
            Err(e) => failed(&e),
        }
    }

    #[tool(
        description = "Create a new note from the whole Markdown file (YAML frontmatter optional). Refused if the note already exists (then `get` it and `update` it). Returns {type, id, path, outcome, content_hash, export_job}; the file is written by the export job shortly after.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn create(&self, Parameters(args): Parameters<CreateArgs>) -> CallToolResult {
        let r = EntityRef::new(args.entity_type, args.id);
        self.write(r, args.content, Expect::Absent, args.message)
            .await
    }

    #[tool(
        description = "Replace an existing note with a whole new Markdown file (frontmatter included); to make a new note use `create`. Pass the content_hash you got from `get` as expected_hash: if someone edited the note since you read it, nothing is stored and you are told to re-read and merge, so you never overwrite an edit you have not seen. Returns {type, id, path, outcome (updated or unchanged), content_hash, export_job}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn update(&self, Parameters(args): Parameters<UpdateArgs>) -> CallToolResult {
        let r = EntityRef::new(args.entity_type, args.id);
        let expect = match args.expected_hash {
            Some(h) => Expect::Hash(h),
            // Overwrite whatever is there, but only if something is: `update` never creates.
            None => Expect::Present,
        };
        self.write(r, args.content, expect, args.message).await
    }

    #[tool(
        description = "Delete a note. The delete is soft: its file moves to .brain/trash in the vault and can be restored (`brain restore`). Returns {type, id, path, export_job}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn delete(&self, Parameters(args): Parameters<DeleteArgs>) -> CallToolResult {
        let r = EntityRef::new(args.entity_type, args.id);
        let message = args.message;
        match fresh_blocking(self, move |b| b.delete_saying(&r, message.as_deref())).await {
            Ok((outcome, stale)) => with_warning_result(to_result(&outcome), stale),
            Err(e) => failed(&e),
        }
    }
}

impl BrainMcp {
    /// The type filters the vault has. The facade refuses an unknown type in a filter; over
    /// MCP a filter that names no type of the vault matches nothing instead (the answer's
    /// warning says why), as a filter on an absent tag does.
    fn known_types(&self, types: Vec<String>) -> Vec<String> {
        let have = self.brain.entity_types();
        types.into_iter().filter(|t| have.contains(t)).collect()
    }

    /// `create` and `update`: the size limit of this interface first, then the facade.
    async fn write(
        &self,
        r: EntityRef,
        content: String,
        expect: Expect,
        why: Option<String>,
    ) -> CallToolResult {
        let limit = self.settings.max_body_bytes;
        if content.len() > limit {
            let message = format!(
                "{r} was not stored: its content is {} bytes, over the limit of {limit} bytes \
                 for writes over MCP (`mcp.max_body_bytes` in the vault config); shorten it or \
                 split it into several notes",
                content.len()
            );
            return fail(kinds::TOO_LARGE, message);
        }
        // The files first: a person's save the store has not imported yet makes an update
        // with the hash read before it stale, instead of landing in a conflict copy later.
        let written = fresh_blocking(self, move |b| {
            b.write_saying(&r, content.as_bytes(), expect, why.as_deref())
        })
        .await;
        match written {
            Ok((outcome, stale)) => with_warning_result(to_result(&outcome), stale),
            Err(e) => failed(&e),
        }
    }
}
