//! The streamable HTTP service at the socket: the Host check each `allowed_hosts` setting makes,
//! and shutdown through the token ending open streams so the server can stop. Requests are
//! written by hand (HTTP/1.1 over a TCP stream): only status lines and headers matter here; the
//! Python suite (tests/mcp) drives whole sessions over HTTP with the official SDK.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use brain_api::{Brain, Workers};
use brain_core::Config;
use brain_mcp::{BrainMcp, CancellationToken, McpSettings, http_service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"0"}}}"#;

fn server(dir: &std::path::Path) -> BrainMcp {
    std::fs::create_dir_all(dir.join(".brain")).expect(".brain");
    let config = Config::default();
    let store = brain_store_sqlite::testing::at(&dir.join(".brain/brain.db")).expect("store");
    let plugins: Vec<Box<dyn brain_api::Plugin>> = vec![
        Box::new(brain_sync::SyncPlugin),
        Box::new(brain_git::GitPlugin),
    ];
    let plugged = brain_api::plug(dir, &config, store.clone(), &plugins).expect("plugins");
    let brain = Arc::new(Brain::new(dir, config, store, plugged, Workers::Never));
    BrainMcp::new(brain, McpSettings::default())
}

/// Serves `http_service` on a free loopback port until `stop` is cancelled; the handle ends
/// when the server has stopped.
async fn serve(
    allowed_hosts: Option<Vec<String>>,
    stop: CancellationToken,
) -> (SocketAddr, tokio::task::JoinHandle<()>, tempfile::TempDir) {
    serve_with_origins(allowed_hosts, Vec::new(), stop).await
}

/// [`serve`] with an Origin allow-list.
async fn serve_with_origins(
    allowed_hosts: Option<Vec<String>>,
    allowed_origins: Vec<String>,
    stop: CancellationToken,
) -> (SocketAddr, tokio::task::JoinHandle<()>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = http_service(
        server(dir.path()),
        allowed_hosts,
        allowed_origins,
        stop.child_token(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
    });
    (addr, handle, dir)
}

/// Sends `initialize` with this `Host`; returns the response head (status line and headers)
/// and the stream, still open.
async fn initialize(addr: SocketAddr, host: &str) -> (String, TcpStream) {
    initialize_from(addr, host, None).await
}

/// [`initialize`] as a browser page at `origin` would send it.
async fn initialize_from(
    addr: SocketAddr,
    host: &str,
    origin: Option<&str>,
) -> (String, TcpStream) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\n{origin}Content-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{INITIALIZE}",
        INITIALIZE.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    (read_head(&mut s).await, s)
}

/// Reads up to the end of the response head.
async fn read_head(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut byte))
            .await
            .expect("a response within 10 s")
            .expect("read");
        assert!(
            n > 0,
            "closed before the head ended: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn session_id(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("mcp-session-id:")
                .then(|| l["mcp-session-id:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| panic!("no session id in {head}"))
}

fn status(head: &str) -> &str {
    head.split(' ').nth(1).unwrap_or("")
}

#[tokio::test]
async fn host_check_follows_allowed_hosts() {
    let stop = CancellationToken::new();
    // Default: loopback names only, any port.
    let (addr, _h, _d) = serve(None, stop.clone()).await;
    let port = addr.port();
    for (host, want) in [
        (format!("127.0.0.1:{port}"), "200"),
        (format!("localhost:{port}"), "200"),
        ("evil.example".to_string(), "403"),
        (format!("notes.example:{port}"), "403"),
    ] {
        let (head, _) = initialize(addr, &host).await;
        assert_eq!(status(&head), want, "None, Host {host}: {head}");
    }
    // Empty list: any host (a public bind, guarded by a token upstream).
    let (addr, _h, _d) = serve(Some(vec![]), stop.clone()).await;
    let (head, _) = initialize(addr, "notes.example").await;
    assert_eq!(status(&head), "200", "{head}");
    // A list: those hosts only.
    let (addr, _h, _d) = serve(Some(vec!["notes.example".into()]), stop.clone()).await;
    let (head, _) = initialize(addr, &format!("notes.example:{}", addr.port())).await;
    assert_eq!(status(&head), "200", "{head}");
    let (head, _) = initialize(addr, &format!("127.0.0.1:{}", addr.port())).await;
    assert_eq!(status(&head), "403", "{head}");
    stop.cancel();
}

#[tokio::test]
async fn a_present_origin_must_be_listed() {
    let stop = CancellationToken::new();
    let listed = "http://localhost:7433".to_string();
    let (addr, _h, _d) = serve_with_origins(
        None,
        vec![listed.clone(), "https://notes.example".into()],
        stop.clone(),
    )
    .await;
    let host = format!("127.0.0.1:{}", addr.port());
    for (origin, want) in [
        (None, "200"),
        (Some(listed.as_str()), "200"),
        (Some("https://notes.example"), "200"),
        (Some("http://evil.example.com"), "403"),
        (Some("http://localhost:7434"), "403"),
        (Some("null"), "403"),
        (Some("not an origin"), "403"),
    ] {
        let (head, _) = initialize_from(addr, &host, origin).await;
        assert_eq!(status(&head), want, "Origin {origin:?}: {head}");
    }
    // An empty list refuses every present Origin; none still passes.
    let (addr, _h, _d) = serve(None, stop.clone()).await;
    let host = format!("127.0.0.1:{}", addr.port());
    let (head, _) = initialize_from(addr, &host, Some("http://evil.example.com")).await;
    assert_eq!(status(&head), "403", "{head}");
    let (head, _) = initialize_from(addr, &host, None).await;
    assert_eq!(status(&head), "200", "{head}");
    stop.cancel();
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let stop = CancellationToken::new();
    let (addr, handle, _d) = serve(None, stop.clone()).await;
    let host = format!("127.0.0.1:{}", addr.port());
    let (head, _init) = initialize(addr, &host).await;
    assert_eq!(status(&head), "200", "{head}");
    let session = session_id(&head);

    // The session's standalone stream: stays open until the server ends it.
    let mut get = TcpStream::connect(addr).await.expect("connect");
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let mut post = TcpStream::connect(addr).await.expect("connect");
    post.write_all(
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nMcp-Session-Id: {session}\r\n\
             Content-Length: {}\r\n\r\n{initialized}",
            initialized.len()
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    assert_eq!(status(&read_head(&mut post).await), "202");
    get.write_all(
        format!(
            "GET /mcp HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\
             Mcp-Session-Id: {session}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let get_head = read_head(&mut get).await;
    assert_eq!(status(&get_head), "200", "{get_head}");

    // Ending a session by DELETE answers 200 (rmcp says 202, which the Python SDK logs as a
    // failure).
    let (head2, _s2) = initialize(addr, &host).await;
    let other = session_id(&head2);
    let mut del = TcpStream::connect(addr).await.expect("connect");
    del.write_all(
        format!("DELETE /mcp HTTP/1.1\r\nHost: {host}\r\nMcp-Session-Id: {other}\r\n\r\n")
            .as_bytes(),
    )
    .await
    .expect("write");
    assert_eq!(status(&read_head(&mut del).await), "200");

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("the server stopped within 5 s of the token, open stream and all")
        .expect("join");
}
