//! The daemon's HTTP server: the MCP endpoint (`/mcp`, streamable HTTP) today, the status page
//! later. It listens on loopback by default; any other address is refused unless
//! `serve.http_token` is set, and with a token every request must carry
//! `Authorization: Bearer TOKEN` or gets 401. On loopback, requests whose `Host` is not a
//! loopback name are refused (403) with or without a token: a web page whose name was rebound
//! to 127.0.0.1 must not reach the vault through the user's browser. For the same reason a
//! request carrying an `Origin` header (a browser's) is refused unless that origin is the
//! server's own address or listed in `serve.allowed_origins`; requests without one (the MCP
//! SDKs, curl) pass. It runs on its own small tokio runtime beside the daemon's worker threads.

use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use brain_api::Brain;
use tokio_util::sync::CancellationToken;

/// The running server; [`HttpServer::stop`] ends it.
pub struct HttpServer {
    runtime: tokio::runtime::Runtime,
    stop: CancellationToken,
}

/// The HTTP server as a plugin of the daemon's runtime, registered before every other so its
/// service starts first: its one service serves the socket [`bind`] took, through a `Brain`
/// on the runtime's queue (the daemon's workers run what its MCP tools queue).
pub struct HttpPlugin {
    bound: std::sync::Mutex<Option<Listening>>,
}

impl HttpPlugin {
    /// The plugin serving `bound`.
    pub fn new(bound: Listening) -> Self {
        HttpPlugin {
            bound: std::sync::Mutex::new(Some(bound)),
        }
    }
}

impl brain_api::Plugin for HttpPlugin {
    fn name(&self) -> &str {
        "http"
    }

    fn register(&self, ctx: &mut brain_api::PluginContext) -> Result<(), brain_api::PluginError> {
        let bound = self.bound.lock().unwrap_or_else(|p| p.into_inner()).take();
        ctx.register_service(
            "mcp",
            HttpService {
                bound,
                running: None,
            },
        )
    }
}

/// The running side of [`HttpPlugin`].
struct HttpService {
    bound: Option<Listening>,
    running: Option<HttpServer>,
}

impl brain_api::plugin::Service for HttpService {
    fn start(
        &mut self,
        ctx: &brain_api::RuntimeContext,
    ) -> Result<(), brain_api::plugin::BoxError> {
        let Some(bound) = self.bound.take() else {
            return Err(
                "the HTTP socket was already used by an earlier start; restart `brain serve`"
                    .into(),
            );
        };
        let brain = Arc::new(
            Brain::new(
                ctx.root(),
                ctx.config().clone(),
                ctx.store().clone(),
                ctx.plugged(),
                brain_api::Workers::Daemon,
            )
            .with_source("mcp"),
        );
        self.running = Some(serve(bound, brain)?);
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(server) = self.running.take() {
            server.stop();
        }
    }
}

/// Whether every address `spec` names is loopback, where only this machine's users reach it.
fn loopback_only(addrs: &[SocketAddr]) -> bool {
    !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
}

/// The socket `serve.http` names, bound before the daemon starts anything, so a refused or
/// busy address stops the start-up at once: a daemon silently offering no MCP would leave an
/// agent's client failing with no reason.
pub struct Listening {
    listener: StdListener,
    addr: SocketAddr,
    spec: String,
    loopback: bool,
    token: String,
}

impl Listening {
    /// The address it listens on (the real port when `serve.http` asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Binds the address `serve.http` and `serve.http_token` describe, or `None` when
/// `serve.http` is empty. Refuses, before listening, a non-loopback address without a token.
pub fn bind(config: &brain_core::Config) -> Result<Option<Listening>> {
    let serve = &config.serve;
    let spec = serve.http.trim();
    if spec.is_empty() {
        return Ok(None);
    }
    let addrs: Vec<SocketAddr> = spec
        .to_socket_addrs()
        .with_context(|| {
            format!("serve.http = \"{spec}\" is not an address to listen on: use HOST:PORT, such as 127.0.0.1:7433, or \"\" for no HTTP")
        })?
        .collect();
    let token = serve.http_token.trim().to_string();
    if token.is_empty() && !serve.http_token.is_empty() {
        bail!(
            "serve.http_token (BRAIN_SERVE_HTTP_TOKEN) is only blank space: set a real token, or leave it empty on 127.0.0.1"
        );
    }
    let loopback = loopback_only(&addrs);
    if !loopback && token.is_empty() {
        bail!(
            "refusing to listen on {spec} without a token: anyone who can reach that address \
             could read and change your notes. Set serve.http_token (better: the environment \
             variable BRAIN_SERVE_HTTP_TOKEN) and send `Authorization: Bearer TOKEN`, or listen \
             on 127.0.0.1"
        );
    }
    let listener = StdListener::bind(&addrs[..]).with_context(|| {
        format!(
            "cannot listen on {spec} (serve.http): another program, or the `brain serve` of \
             another vault, uses that port. Give this vault a port of its own: \
             `serve.http = \"127.0.0.1:7434\"` under [serve] in .brain/config.toml, or \
             BRAIN_SERVE_HTTP=127.0.0.1:7434 for one run (\"\" turns HTTP off)"
        )
    })?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    Ok(Some(Listening {
        listener,
        addr,
        spec: spec.to_string(),
        loopback,
        token,
    }))
}

/// Serves MCP at `/mcp` on `bound`, through `brain`, on a tokio runtime of its own.
fn serve(bound: Listening, brain: Arc<Brain>) -> Result<HttpServer> {
    let Listening {
        listener,
        addr,
        spec,
        loopback,
        token,
    } = bound;
    let serve = &brain.config().serve;
    let spec = spec.as_str();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("brain-http")
        .enable_all()
        .build()
        .context("cannot start the HTTP server's runtime")?;
    let stop = CancellationToken::new();
    let settings = brain_mcp::McpSettings {
        max_body_bytes: usize::try_from(brain.config().mcp.max_body_bytes).unwrap_or(usize::MAX),
    };
    // Host-header checks stop DNS rebinding against a loopback server; a server reachable from
    // the network is protected by its token instead, under whatever name clients use.
    // `Some(vec![])` turns the check off; `None` keeps rmcp's loopback-only default.
    let allowed_hosts = (!loopback).then(Vec::new);
    let mut origins = own_origins(spec, addr, loopback);
    origins.extend(serve.allowed_origins.iter().cloned());
    let mcp = brain_mcp::BrainMcp::new(brain.clone(), settings);
    let mut app = axum::Router::new()
        .merge(brain_mcp::http_service(
            mcp,
            allowed_hosts,
            origins,
            stop.child_token(),
        ))
        .layer(axum::middleware::from_fn(explain_refused_origin));
    if !token.is_empty() {
        app = app.layer(axum::middleware::from_fn_with_state(
            Arc::new(token),
            require_bearer,
        ));
    }
    let shutdown = stop.clone();
    runtime.spawn(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "the HTTP server cannot use its socket");
                return;
            }
        };
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    tracing::info!(%addr, auth = !serve.http_token.is_empty(), "HTTP (MCP at /mcp) listening");
    Ok(HttpServer { runtime, stop })
}

impl HttpServer {
    /// Stops accepting requests, ends open MCP sessions and waits briefly for answers in flight.
    pub fn stop(self) {
        self.stop.cancel();
        self.runtime.shutdown_timeout(Duration::from_secs(2));
    }
}

/// The origins a page served by this server itself would send: `http://` plus the name in
/// `serve.http` and the address bound, and on loopback every loopback name, with the real port.
fn own_origins(spec: &str, addr: SocketAddr, loopback: bool) -> Vec<String> {
    let port = addr.port();
    let mut hosts: Vec<String> = Vec::new();
    if let Some((name, _)) = spec.rsplit_once(':') {
        let name = name.trim_matches(|c| c == '[' || c == ']');
        if !name.is_empty() && name.parse::<std::net::IpAddr>().is_err() {
            hosts.push(name.to_string());
        }
    }
    match addr {
        SocketAddr::V4(a) => hosts.push(a.ip().to_string()),
        SocketAddr::V6(a) => hosts.push(format!("[{}]", a.ip())),
    }
    if loopback {
        hosts.extend(["localhost", "127.0.0.1", "[::1]"].map(String::from));
    }
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    hosts
        .into_iter()
        .map(|h| format!("http://{h}:{port}"))
        .collect()
}

/// Replaces the transport's terse 403 for a refused `Origin` with what to do about it.
async fn explain_refused_origin(req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .map(|o| String::from_utf8_lossy(o.as_bytes()).into_owned());
    let resp = next.run(req).await;
    let Some(origin) = origin else {
        return resp;
    };
    if resp.status() != StatusCode::FORBIDDEN {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    if !String::from_utf8_lossy(&body).contains("Origin") {
        return Response::from_parts(parts, axum::body::Body::from(body));
    }
    (
        StatusCode::FORBIDDEN,
        format!(
            "403 forbidden: a web page at Origin {origin:?} may not use this server (it is not \
             the server's own address); if you trust that page, add it to serve.allowed_origins \
             (BRAIN_SERVE_ALLOWED_ORIGINS) and restart `brain serve`\n"
        ),
    )
        .into_response()
}

/// Lets a request through only with `Authorization: Bearer TOKEN`.
async fn require_bearer(State(token): State<Arc<String>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme is case-insensitive (RFC 9110).
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    if given.is_some_and(|g| same_secret(g.as_bytes(), token.as_bytes())) {
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "401 unauthorized: send `Authorization: Bearer TOKEN` with the token set as \
         serve.http_token (BRAIN_SERVE_HTTP_TOKEN) on the server\n",
    )
        .into_response()
}

/// Compares two secrets in time that does not depend on where they first differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_origins_name_the_server_as_a_browser_would() {
        let loopback: SocketAddr = "127.0.0.1:7433".parse().unwrap();
        assert_eq!(
            own_origins("127.0.0.1:0", loopback, true),
            [
                "http://127.0.0.1:7433",
                "http://localhost:7433",
                "http://[::1]:7433"
            ]
        );
        assert_eq!(
            own_origins("localhost:7433", loopback, true),
            [
                "http://localhost:7433",
                "http://127.0.0.1:7433",
                "http://[::1]:7433"
            ]
        );
        let public: SocketAddr = "192.0.2.7:8080".parse().unwrap();
        assert_eq!(
            own_origins("notes.example:8080", public, false),
            ["http://notes.example:8080", "http://192.0.2.7:8080"]
        );
    }

    #[test]
    fn only_loopback_addresses_count_as_loopback() {
        let parse = |s: &str| {
            s.to_socket_addrs()
                .map(|a| a.collect::<Vec<_>>())
                .unwrap_or_default()
        };
        assert!(loopback_only(&parse("127.0.0.1:0")));
        assert!(loopback_only(&parse("[::1]:0")));
        assert!(!loopback_only(&parse("0.0.0.0:0")));
        assert!(!loopback_only(&parse("[::]:0")));
        assert!(!loopback_only(&[]));
    }

    #[test]
    fn secrets_compare_by_content_and_length() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }
}
