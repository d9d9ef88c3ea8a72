//! The MCP server of brains: tools, resources and progress notifications for agents, over stdio
//! (`brain mcp`) and streamable HTTP (`brain serve`, at `/mcp`).
//!
//! Thin, like every interface: each tool is one call on the [`Brain`] facade, run on a blocking
//! thread because the facade is SQLite underneath. Whatever the facade refuses (an unknown type,
//! an id outside the vault, bad frontmatter, a stale hash, a missing note or job) comes back as a
//! *tool error* (`isError: true`) whose structured content is `{"error": {"kind", "message"}}`:
//! `message` is the facade's sentence, which says what failed and what to do, and `kind` a stable
//! name to branch on (listed in `kinds`; arguments rmcp cannot deserialize get `bad_argument`
//! too). A `search` or `list` filter on a type the vault lacks is not an error: it matches
//! nothing, and the answer's `warning` says why. A JSON-RPC protocol error is kept for requests
//! that cannot be routed at all, because MCP clients show those to nobody. Every successful result is a JSON object, sent both as
//! `structuredContent` and as the text of the first content block, so a simple client can
//! `json.loads(result.content[0].text)`.
//!
//! Long work (a directory sync, a git sync) is a queued job: `sync` and `git_sync` follow it to
//! its end, streaming `notifications/progress` when the request carries a progress token, and
//! cancel it when the client cancels the request.
//!
//! Every call that reads or writes notes first imports the files saved before it (`fresh`:
//! the session watches the vault), so an agent never answers from, or compares a hash against,
//! a note a person has since changed on disk. When that cannot be done (a read-only store,
//! another sync holding the vault for long), the answer comes from the store as it is and its
//! `warning` says it may be stale.
//!
//! Modules: `tools` (arguments and handlers), `kinds` (the names of tool errors), `resources`
//! (`entity://` and `brain://types`), `progress` (following a job), `transport` (stdio and
//! streamable HTTP), `fresh` (the watch that keeps answers up to date with the files).

mod batch_tools;
mod fresh;
mod history_tools;
mod job_tools;
mod kinds;
mod progress;
mod resources;
mod tools;
mod transport;

use std::sync::Arc;

use brain_api::{Brain, BrainError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListResourceTemplatesResult,
    ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};

pub use tokio_util::sync::CancellationToken;
pub use transport::{MCP_PATH, SESSION_IDLE_TIMEOUT, SSE_KEEP_ALIVE, http_service, serve_stdio};

/// What an agent is told about this server when it connects.
const INSTRUCTIONS: &str = "\
brains is a Markdown vault (a folder of notes, optionally synced with git) with a searchable \
store. Every note has a type (`note` for plain files, or a configured type such as `topic`) and \
an id (for `note`, its vault path without `.md`, e.g. `Projects/plan`).

Find notes with `search` (full text, ranked) or `list` (by type, folder or tag, paged). Read one \
with `get`: it returns the whole file as `content` and its `content_hash`. Write with `create` \
(a new note) or `update` (pass the `content_hash` from `get` as `expected_hash`, so you never \
overwrite an edit you have not seen); `content` is always the whole Markdown file, frontmatter \
optional. `delete` moves a note to `.brain/trash` (restorable). Writes reach the files on disk \
shortly after, through a queued export job.

A failed call is a tool error whose structured content is {\"error\": {\"kind\", \"message\"}}: the \
message says what to do; the kind (`not_found`, `unknown_type`, `unsafe_id`, \
`invalid_frontmatter`, `too_large`, `exists`, `stale`, `bad_argument`, ...) names the reason. \
An argument a tool does not list is refused (`bad_argument`), never ignored.

`sync` re-reads the folder into the store and writes pending changes out; `git_sync` commits, \
pulls and pushes. Both wait for the job by default and report progress; pass `wait: false` to \
get the job id at once and poll it with `job_status`, or stop it with `cancel_job`. `status` \
shows the vault, the queue and recent jobs.

Resources: `entity://{type}/{id}` reads a note's Markdown; `brain://types` lists the types with \
their note counts.";

/// Settings of the MCP server, taken from the vault's config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct McpSettings {
    /// The largest `content` a `create` or `update` accepts, in bytes (`mcp.max_body_bytes`).
    /// Checked before the facade is called, so an oversized write changes nothing.
    pub max_body_bytes: usize,
}

impl Default for McpSettings {
    /// 1 MiB.
    fn default() -> Self {
        McpSettings {
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// The crate's own failures: serving could not start or ended badly. Failures of a single
/// request never surface here; they are tool errors or JSON-RPC errors on that request.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The client never completed the MCP handshake (it closed the connection or sent something
    /// else first).
    #[error("the MCP client did not complete the handshake: {0}")]
    Initialize(#[source] Box<rmcp::service::ServerInitializeError>),
    /// The task serving the connection panicked or was aborted.
    #[error("the MCP server task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl From<rmcp::service::ServerInitializeError> for McpError {
    fn from(e: rmcp::service::ServerInitializeError) -> Self {
        McpError::Initialize(Box::new(e))
    }
}

/// Why a call on the facade failed: what it refused, or the blocking task dying.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// The facade refused or failed; its message is a full sentence for the agent.
    #[error("{0}")]
    Brain(#[from] BrainError),
    /// The blocking task panicked or was cancelled at shutdown.
    #[error(
        "the server failed while handling this call ({0}); try again, and report it if it persists"
    )]
    Internal(#[from] tokio::task::JoinError),
}

impl Failure {
    /// The stable name of this failure for a tool error (see `kinds`).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Failure::Brain(e) => e.kind(),
            Failure::Internal(_) => kinds::INTERNAL,
        }
    }
}

/// Runs `f` on the facade on a blocking thread: every facade call is SQLite underneath.
pub(crate) async fn blocking<T, F>(brain: &Arc<Brain>, f: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce(&Brain) -> Result<T, BrainError> + Send + 'static,
{
    let brain = brain.clone();
    Ok(tokio::task::spawn_blocking(move || f(&brain)).await??)
}

/// [`blocking`], after importing the files saved before the call ([`fresh::Freshness`]), with
/// the warning to add to the answer when that could not be done.
pub(crate) async fn fresh_blocking<T, F>(
    server: &BrainMcp,
    f: F,
) -> Result<(T, Option<String>), Failure>
where
    T: Send + 'static,
    F: FnOnce(&Brain) -> Result<T, BrainError> + Send + 'static,
{
    let brain = server.brain.clone();
    let fresh = server.fresh.clone();
    Ok(tokio::task::spawn_blocking(move || {
        let warning = fresh.refresh(&brain);
        f(&brain).map(|v| (v, warning))
    })
    .await??)
}

/// The MCP server over one vault. Cheap to clone: the streamable HTTP transport clones one per
/// session, and every clone shares the same [`Brain`].
#[derive(Clone)]
pub struct BrainMcp {
    brain: Arc<Brain>,
    settings: McpSettings,
    fresh: Arc<fresh::Freshness>,
    tool_router: ToolRouter<BrainMcp>,
}

impl BrainMcp {
    /// A server over `brain`, with its limits from `settings`. Its first call that reads or
    /// writes notes starts watching the vault and imports it once (see `fresh`).
    pub fn new(brain: Arc<Brain>, settings: McpSettings) -> Self {
        BrainMcp {
            fresh: Arc::new(fresh::Freshness::new(&brain)),
            brain,
            settings,
            tool_router: Self::tool_router()
                + Self::job_router()
                + Self::history_router()
                + Self::batch_router(),
        }
    }

    /// The facade this server calls.
    pub fn brain(&self) -> &Arc<Brain> {
        &self.brain
    }

    /// The settings it was built with.
    pub fn settings(&self) -> McpSettings {
        self.settings
    }
}

/// The message of a call whose arguments rmcp refused (`detail`: "failed to deserialize
/// parameters: unknown field `limt`, expected one of ..."): which tool was not run, serde's
/// account of the argument at fault, and what to do.
fn refused_arguments(tool: &str, detail: &str) -> String {
    let detail = detail
        .strip_prefix("failed to deserialize parameters:")
        .unwrap_or(detail)
        .trim();
    format!(
        "`{tool}` was not run: its arguments were refused ({detail}); pass only the arguments \
         its input schema lists, each of the type it gives"
    )
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BrainMcp {
    /// The router's call, with one addition: the tool errors rmcp makes itself (arguments it
    /// cannot deserialize: "failed to deserialize parameters: ...") get the same
    /// `{"error": {"kind": "bad_argument", "message"}}` as the handlers' own, so every tool
    /// error has a kind.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let tool = request.name.to_string();
        let call = ToolCallContext::new(self, request, context);
        Ok(match self.tool_router.call(call).await? {
            CallToolResponse::Complete(result)
                if result.is_error == Some(true) && result.structured_content.is_none() =>
            {
                let message: Vec<&str> = result
                    .content
                    .iter()
                    .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
                    .collect();
                tools::fail(
                    kinds::BAD_ARGUMENT,
                    refused_arguments(&tool, &message.join("\n")),
                )
                .into()
            }
            other => other,
        })
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("brains", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(resources::list())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        resources::read(self, &request.uri).await.map(Into::into)
    }
}
