//! The two ways an agent reaches the server: stdio (`brain mcp`, one client, until it closes
//! stdin) and streamable HTTP (`brain serve`, mounted at [`MCP_PATH`]).
//!
//! Streamable HTTP runs in rmcp's stateful ("legacy session") mode with SSE responses: a client
//! that initializes with a protocol version before 2026-07-28 (every released SDK today) gets an
//! `Mcp-Session-Id`, and each POSTed request is answered on its own SSE stream. rmcp routes a
//! progress notification to the stream of the request whose progress token it carries, and
//! closes that stream only when the request's response (or error) is sent, or when the client
//! cancels the request; so a `sync` that runs for minutes streams its progress to the end. SSE
//! keep-alive comments every [`SSE_KEEP_ALIVE`] keep proxies and client read timeouts from
//! closing a stream while a job is quiet (a git push waiting on the network). A
//! `notifications/cancelled` POSTed to the session reaches the same service loop as on stdio and
//! cancels the request's token. A session with no message either way for
//! [`SESSION_IDLE_TIMEOUT`] is ended. Clients of protocol 2026-07-28 are served statelessly, one
//! request per POST, and rmcp cancels such a request when its client drops the response stream.

use std::sync::Arc;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::{BrainMcp, McpError};

/// Where [`http_service`] mounts the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";

/// How often an idle SSE stream gets a keep-alive comment.
pub const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long a session may go without a message either way before rmcp ends it (rmcp's default
/// is 5 minutes). The clock only restarts on a message, so it also bounds a call that sends no
/// progress for that long, and an agent pausing between calls longer than this must start a new
/// session (clients do, on the 404 they get). Its purpose is reaping sessions whose client
/// vanished without a DELETE.
pub const SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// rmcp refuses request bodies over 4 MiB by default (413). Room is kept above
/// `mcp.max_body_bytes` for JSON escaping and the envelope, so an oversized note is refused by
/// the tool with a message naming the setting, not by the transport with a bare status.
const MIN_REQUEST_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Serves MCP over this process's stdin and stdout until the client closes stdin. Nothing else
/// may write to stdout meanwhile: logs go to stderr (the caller's tracing setup).
///
/// Returns when stdin closes. Requests still running then are dropped by the caller's runtime
/// shutdown without cancelling their jobs: a sync an agent started and left is not undone, and
/// the `brain mcp` process leaves it to its lease for the next process to finish.
pub async fn serve_stdio(server: BrainMcp) -> Result<(), McpError> {
    let running = server.serve(rmcp::transport::stdio()).await?;
    let reason = running.waiting().await?;
    tracing::info!(?reason, "MCP stdio session ended");
    Ok(())
}

/// The streamable HTTP MCP service, as an axum router with one route, [`MCP_PATH`] (POST for
/// requests, GET for the session's stream, DELETE to end a session). Authentication is the
/// caller's: wrap the router in its middleware.
///
/// `allowed_hosts` is rmcp's DNS-rebinding guard on the `Host` header: `None` keeps rmcp's
/// default, loopback only (`localhost`, `127.0.0.1`, `::1`, any port); `Some(list)` allows those
/// hosts (`example.org`, or `example.org:8080` for one port); `Some(vec![])` allows any host,
/// for a non-loopback bind that a bearer token already guards.
///
/// `allowed_origins` is the MCP transport's Origin check (also against DNS rebinding): a request
/// whose `Origin` header is present and matches none of them is refused with 403, whatever the
/// list (an empty list refuses every present Origin); a request without `Origin`, as the SDKs
/// send, passes. Entries are `scheme://host[:port|:*]`.
///
/// Cancelling `shutdown` ends every session and its streams, and refuses new requests.
pub fn http_service(
    server: BrainMcp,
    allowed_hosts: Option<Vec<String>>,
    allowed_origins: Vec<String>,
    shutdown: CancellationToken,
) -> axum::Router {
    let body_limit = server
        .settings()
        .max_body_bytes
        .saturating_mul(2)
        .saturating_add(64 * 1024)
        .max(MIN_REQUEST_BODY_BYTES);
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(true)
        .with_json_response(false)
        .with_sse_keep_alive(Some(SSE_KEEP_ALIVE))
        .with_cancellation_token(shutdown)
        .with_max_request_body_bytes(body_limit)
        .with_allowed_origins(allowed_origins)
        .enforce_origin_validation();
    config = match allowed_hosts {
        None => config,
        Some(hosts) if hosts.is_empty() => config.disable_allowed_hosts(),
        Some(hosts) => config.with_allowed_hosts(hosts),
    };
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(SESSION_IDLE_TIMEOUT);
    let service =
        StreamableHttpService::new(move || Ok(server.clone()), Arc::new(sessions), config);
    axum::Router::new()
        .route_service(MCP_PATH, service)
        .layer(axum::middleware::from_fn(session_deleted_ok))
}

/// rmcp answers the DELETE that ends a session with 202 Accepted; the official Python SDK
/// (mcp 1.x) takes anything but 200 for a failed termination and logs a warning on every clean
/// disconnect. The session is gone either way, so say 200.
async fn session_deleted_ok(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let delete = req.method() == axum::http::Method::DELETE;
    let mut resp = next.run(req).await;
    if delete && resp.status() == axum::http::StatusCode::ACCEPTED {
        *resp.status_mut() = axum::http::StatusCode::OK;
    }
    resp
}
