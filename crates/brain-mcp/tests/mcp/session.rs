//! The server end to end in process: a real `Brain` over a temp vault, served by `BrainMcp` over
//! an in-memory pipe exactly as `serve_stdio` serves stdin/stdout, driven by hand-written
//! JSON-RPC lines (what any client sends). The Python suite (tests/mcp) runs the official SDK
//! against the binary; these pin what that suite relies on without a binary: tool errors, the
//! resources, progress notifications and cancellation.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use brain_api::PoolConfig;
use brain_api::{Brain, Workers};
use brain_core::Config;
use brain_mcp::{BrainMcp, McpSettings};
use rmcp::ServiceExt;
use serde_json::{Value, json};
use tokio::io::{
    AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf,
};

const MAX_BODY: usize = 500;

/// A vault with `n` notes on disk (not imported yet) and a facade over it.
fn vault(n: usize, workers: Workers) -> (tempfile::TempDir, Arc<Brain>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join(".brain")).expect(".brain");
    for i in 0..n {
        let folder = root.join(format!("f{}", i % 10));
        std::fs::create_dir_all(&folder).expect("folder");
        std::fs::write(
            folder.join(format!("n{i}.md")),
            format!(
                "---\ntitle: Note {i}\ntags:\n  - t{}\n---\n# Note {i}\n\nword{i} common\n",
                i % 3
            ),
        )
        .expect("note");
    }
    let brain = brain(root, workers);
    (dir, brain)
}

fn brain(root: &Path, workers: Workers) -> Arc<Brain> {
    let config = Config::default();
    let store = brain_store_sqlite::testing::at(&root.join(".brain/brain.db")).expect("store");
    let plugged = brain_api::plug(root, &config, store.clone(), &plugins()).expect("plugins");
    Arc::new(Brain::new(root, config, store, plugged, workers))
}

/// The plugins of this build, as the binary registers them (sync first: git uses its engine).
pub fn plugins() -> Vec<Box<dyn brain_api::Plugin>> {
    vec![
        Box::new(brain_sync::SyncPlugin),
        Box::new(brain_git::GitPlugin),
        Box::new(brain_api::batch::BatchPlugin),
    ]
}

fn on_demand() -> Workers {
    Workers::OnDemand(PoolConfig {
        workers: 1,
        idle_poll_ms: 50,
        ..PoolConfig::default()
    })
}

/// A JSON-RPC client on one end of the pipe.
struct Client {
    w: WriteHalf<DuplexStream>,
    lines: Lines<BufReader<ReadHalf<DuplexStream>>>,
    next_id: i64,
}

impl Client {
    /// Serves `brain` on the other end and completes the handshake.
    async fn connect(brain: Arc<Brain>) -> Client {
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        let server = BrainMcp::new(
            brain,
            McpSettings {
                max_body_bytes: MAX_BODY,
            },
        );
        tokio::spawn(async move {
            if let Ok(running) = server.serve(theirs).await {
                let _ = running.waiting().await;
            }
        });
        let (r, w) = tokio::io::split(ours);
        let mut c = Client {
            w,
            lines: BufReader::new(r).lines(),
            next_id: 1,
        };
        let (init, _) = c
            .request(
                "initialize",
                json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "test", "version": "0"},
                }),
            )
            .await;
        assert_eq!(init["result"]["serverInfo"]["name"], "brains", "{init}");
        assert!(
            init["result"]["capabilities"]["tools"].is_object(),
            "{init}"
        );
        assert!(
            init["result"]["capabilities"]["resources"].is_object(),
            "{init}"
        );
        c.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        c
    }

    async fn send(&mut self, msg: Value) {
        let mut line = msg.to_string();
        line.push('\n');
        self.w.write_all(line.as_bytes()).await.expect("write");
        self.w.flush().await.expect("flush");
    }

    async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
            .await
            .expect("the server answered within 60 s")
            .expect("read")
            .expect("the server closed the pipe");
        serde_json::from_str(&line).expect("a JSON line")
    }

    /// Sends a request; returns its response and the notifications that came before it.
    async fn request(&mut self, method: &str, params: Value) -> (Value, Vec<Value>) {
        let id = self.start(method, params).await;
        self.response(id).await
    }

    async fn start(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        id
    }

    async fn response(&mut self, id: i64) -> (Value, Vec<Value>) {
        let mut notes = Vec::new();
        loop {
            let msg = self.recv().await;
            if msg["id"] == json!(id) {
                return (msg, notes);
            }
            notes.push(msg);
        }
    }

    /// Calls a tool; returns `(isError, the JSON of its text, structuredContent)`.
    async fn call(&mut self, tool: &str, args: Value) -> (bool, Value, Value) {
        let (resp, _) = self
            .request("tools/call", json!({"name": tool, "arguments": args}))
            .await;
        tool_result(&resp)
    }

    /// Calls a tool that must succeed; returns its JSON.
    async fn ok(&mut self, tool: &str, args: Value) -> Value {
        let (is_error, doc, structured) = self.call(tool, args.clone()).await;
        assert!(!is_error, "{tool}({args}) failed: {doc}");
        assert_eq!(
            doc, structured,
            "{tool}: structuredContent differs from the text"
        );
        doc
    }

    /// Calls a tool that must fail as a tool result with `{"error": {"kind", "message"}}` as
    /// its structured content and text; asserts the kind is `kind`, returns the message.
    async fn error(&mut self, tool: &str, args: Value, kind: &str) -> String {
        let (is_error, doc, structured) = self.call(tool, args.clone()).await;
        assert!(is_error, "{tool}({args}) should be a tool error, got {doc}");
        assert_eq!(
            doc, structured,
            "{tool}: structuredContent differs from the text"
        );
        assert_eq!(doc["error"]["kind"], kind, "{tool}({args}): {doc}");
        let message = doc["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{tool}({args}): no message in {doc}");
        message.to_string()
    }
}

/// `(isError, the text parsed as JSON or kept as a string, structuredContent)` of a response.
fn tool_result(resp: &Value) -> (bool, Value, Value) {
    assert!(
        resp.get("error").is_none(),
        "a protocol error, not a tool result: {resp}"
    );
    let result = &resp["result"];
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    let doc = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()));
    (
        result["isError"] == json!(true),
        doc,
        result["structuredContent"].clone(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_resources_and_bad_input() {
    let (_dir, brain) = vault(0, on_demand());
    let mut c = Client::connect(brain).await;

    let (resp, _) = c.request("tools/list", json!({})).await;
    let tools = resp["result"]["tools"].as_array().expect("tools").clone();
    let required = |name: &str| -> Vec<String> {
        let t = tools.iter().find(|t| t["name"] == name).expect(name);
        assert!(
            t["description"].as_str().is_some_and(|d| d.len() > 10),
            "{t}"
        );
        assert_eq!(t["inputSchema"]["type"], "object", "{t}");
        let mut r: Vec<String> = t["inputSchema"]["required"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        r.sort();
        r
    };
    assert_eq!(required("search"), ["query"]);
    assert_eq!(required("get"), ["id", "type"]);
    assert_eq!(required("create"), ["content", "id", "type"]);
    assert_eq!(required("update"), ["content", "id", "type"]);
    for name in ["list", "sync", "git_sync", "status"] {
        assert!(required(name).is_empty(), "{name}");
    }
    assert_eq!(required("job_status"), ["id"]);
    assert_eq!(required("cancel_job"), ["id"]);
    assert_eq!(required("history"), ["id", "type"]);
    assert_eq!(required("revert"), ["id", "type", "version"]);
    assert_eq!(required("edit"), ["id", "op", "type"]);
    assert_eq!(required("move"), ["id", "new_id", "type"]);
    assert_eq!(required("batch"), ["op", "where"]);
    assert_eq!(required("batch_status"), ["id"]);
    assert_eq!(required("batch_rollback"), ["id"]);
    assert_eq!(required("batch_cancel"), ["id"]);
    assert_eq!(tools.len(), 19);

    // A write, read back; a stale hash refused.
    let good = "---\ntitle: Fine\n---\nbody\n";
    let w = c
        .ok(
            "create",
            json!({"type": "note", "id": "a/b", "content": good}),
        )
        .await;
    assert_eq!(w["outcome"], "created", "{w}");
    let g = c.ok("get", json!({"type": "note", "id": "a/b"})).await;
    assert_eq!(g["content"], good);
    assert_eq!(g["tags"], json!([]), "{g}");
    assert_eq!(g["content_hash"], w["content_hash"]);
    let msg = c
        .error(
            "update",
            json!({"type": "note", "id": "a/b", "content": "x\n", "expected_hash": "nope"}),
            "stale",
        )
        .await;
    assert!(msg.contains("nope"), "{msg}");

    // Bad input: tool errors, never protocol errors, each with the kind of its reason.
    let big = "x".repeat(MAX_BODY + 1);
    let msg = c
        .error(
            "create",
            json!({"type": "note", "id": "big", "content": big}),
            "too_large",
        )
        .await;
    assert!(msg.contains(&MAX_BODY.to_string()), "{msg}");
    let msg = c
        .error(
            "create",
            json!({"type": "nosuchtype", "id": "x", "content": good}),
            "unknown_type",
        )
        .await;
    assert!(msg.contains("nosuchtype"), "{msg}");
    c.error(
        "get",
        json!({"type": "nosuchtype", "id": "x"}),
        "unknown_type",
    )
    .await;
    for id in [
        "../escape",
        "/abs",
        "a/../../escape",
        ".brain/x",
        "note/.git/x",
    ] {
        c.error(
            "create",
            json!({"type": "note", "id": id, "content": good}),
            "unsafe_id",
        )
        .await;
    }
    c.error(
        "create",
        json!({"type": "note", "id": "fm", "content": "---\ntitle: [unclosed\n---\nbody"}),
        "invalid_frontmatter",
    )
    .await;
    c.error(
        "create",
        json!({"type": "note", "id": "fm", "content": "---\ntitle: never closed\n"}),
        "invalid_frontmatter",
    )
    .await;
    c.error(
        "create",
        json!({"type": "note", "id": "empty", "content": ""}),
        "not_text",
    )
    .await;
    c.error(
        "create",
        json!({"type": "note", "id": "a/b", "content": good}),
        "exists",
    )
    .await;
    c.error("get", json!({"type": "note", "id": "no/such"}), "not_found")
        .await;
    c.error(
        "delete",
        json!({"type": "note", "id": "no/such"}),
        "not_found",
    )
    .await;
    let msg = c
        .error(
            "update",
            json!({"type": "note", "id": "no/such", "content": good}),
            "not_found",
        )
        .await;
    assert!(msg.contains("no/such"), "update never creates: {msg}");
    c.error(
        "update",
        json!({"type": "note", "id": "a/b", "content": good, "expected_hash": ""}),
        "bad_argument",
    )
    .await;
    c.error("job_status", json!({"id": 987_654_321}), "unknown_job")
        .await;
    c.error("cancel_job", json!({"id": 987_654_321}), "unknown_job")
        .await;
    c.error("sync", json!({"mode": "sideways"}), "bad_argument")
        .await;
    c.error("git_sync", json!({"op": "teleport"}), "bad_argument")
        .await;
    c.error("git_sync", json!({}), "git_not_configured").await;
    // rmcp's own refusal of arguments it cannot deserialize has a kind too.
    let msg = c.error("list", json!({"limit": -5}), "bad_argument").await;
    assert!(msg.contains("-5"), "{msg}");
    c.error("get", json!({"type": "note"}), "bad_argument")
        .await;

    // A filter on a type the vault does not have matches nothing.
    let s = c
        .ok("search", json!({"query": "body", "types": ["nosuchtype"]}))
        .await;
    assert_eq!(s["hits"], json!([]), "{s}");
    let l = c.ok("list", json!({"type": "nosuchtype"})).await;
    assert_eq!((&l["items"], &l["next_offset"]), (&json!([]), &Value::Null));
    let l = c.ok("list", json!({})).await;
    assert_eq!(l["items"][0]["id"], "a/b", "{l}");

    // Resources.
    let (r, _) = c.request("resources/templates/list", json!({})).await;
    assert_eq!(
        r["result"]["resourceTemplates"][0]["uriTemplate"],
        "entity://{type}/{id}"
    );
    let (r, _) = c
        .request("resources/read", json!({"uri": "entity://note/a%2Fb"}))
        .await;
    assert_eq!(r["result"]["contents"][0]["text"], good, "{r}");
    assert_eq!(r["result"]["contents"][0]["mimeType"], "text/markdown");
    let u = c
        .ok(
            "update",
            json!({"type": "note", "id": "a/b", "content": "# New\n"}),
        )
        .await;
    assert_eq!(u["outcome"], "updated", "{u}");
    let (r, _) = c
        .request("resources/read", json!({"uri": "brain://types"}))
        .await;
    let types: Value =
        serde_json::from_str(r["result"]["contents"][0]["text"].as_str().unwrap_or(""))
            .expect("JSON");
    assert_eq!(types, json!([{"type": "note", "count": 1}]));
    for uri in [
        "entity://note/no/such",
        "file:///etc/passwd",
        "entity://note",
    ] {
        let (r, _) = c.request("resources/read", json!({"uri": uri})).await;
        assert_eq!(r["error"]["code"], -32002, "{uri}: {r}");
    }
    let (r, _) = c
        .request("resources/read", json!({"uri": "entity://note/no/such"}))
        .await;
    assert_eq!(r["error"]["data"]["kind"], "not_found", "{r}");

    // The session still works.
    let st = c.ok("status", json!({})).await;
    assert_eq!(st["notes"], 1, "{st}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_streams_monotonic_progress() {
    let (_dir, brain) = vault(600, on_demand());
    let mut c = Client::connect(brain).await;
    let (resp, notes) = c
        .request(
            "tools/call",
            json!({"name": "sync", "arguments": {}, "_meta": {"progressToken": "tok"}}),
        )
        .await;
    let (is_error, doc, _) = tool_result(&resp);
    assert!(!is_error, "{doc}");
    assert_eq!(doc["state"], "succeeded", "{doc}");
    assert_eq!(doc["result"]["imported"], 600, "{doc}");

    let progress: Vec<&Value> = notes
        .iter()
        .filter(|n| n["method"] == "notifications/progress")
        .map(|n| &n["params"])
        .collect();
    assert!(progress.len() >= 2, "{notes:?}");
    assert!(progress.iter().all(|p| p["progressToken"] == "tok"));
    let values: Vec<f64> = progress
        .iter()
        .filter_map(|p| p["progress"].as_f64())
        .collect();
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    let last = progress.last().expect("a last notification");
    assert_eq!(last["total"], last["progress"], "{last}");
    assert!(
        last["message"]
            .as_str()
            .is_some_and(|m| m.contains("succeeded")),
        "{last}"
    );
    // Issue 15: a total comes with every notification once the sync knows its size (the first
    // one is sent at once, before the scan has found anything, so it has none), and may grow
    // as the sync finds its work; it is never below a progress already sent (it was: never
    // below the last progress, when a total came only with the last notification).
    let mut max = 0.0;
    for p in &progress[1..] {
        max = p["progress"].as_f64().unwrap_or(0.0).max(max);
        let t = p["total"].as_f64().expect("every notification has a total");
        assert!(t >= max, "total {t} below progress {max}");
    }

    // Without a token: no notifications, same answer shape.
    let (resp, notes) = c
        .request(
            "tools/call",
            json!({"name": "sync", "arguments": {"mode": "import-only"}}),
        )
        .await;
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(tool_result(&resp).1["state"], "succeeded");
}

/// Issue 15.3: a client can show a percentage from the first notification that has a total:
/// every one after the first (sent at once, before anything is known, with no total: never
/// `0/0`) carries a total at least its progress, progress strictly increases, the total never
/// shrinks, and 100% is said only by the last one, once the job has ended (never `total + 1`).
#[tokio::test(flavor = "multi_thread")]
async fn issue15_every_progress_notification_has_a_total_that_never_shrinks() {
    let (_dir, brain) = vault(3000, on_demand());
    let mut c = Client::connect(brain).await;
    let (resp, notes) = c
        .request(
            "tools/call",
            json!({"name": "sync", "arguments": {}, "_meta": {"progressToken": "p15"}}),
        )
        .await;
    let (is_error, doc, _) = tool_result(&resp);
    assert!(!is_error, "{doc}");
    assert_eq!(doc["result"]["imported"], 3000, "{doc}");
    let params: Vec<&Value> = notes
        .iter()
        .filter(|n| n["method"] == "notifications/progress")
        .map(|n| &n["params"])
        .collect();
    assert!(params.len() >= 3, "{notes:?}");
    let first = params[0];
    assert!(
        first["total"].is_null() || first["total"].as_f64() > Some(0.0),
        "never 0/0: {first}"
    );
    let progress: Vec<(f64, f64)> = params[1..]
        .iter()
        .map(|p| {
            let total = p["total"]
                .as_f64()
                .unwrap_or_else(|| panic!("a notification without a total: {p}"));
            (p["progress"].as_f64().expect("progress"), total)
        })
        .collect();
    assert!(
        params[1]["progress"].as_f64() > first["progress"].as_f64(),
        "{params:?}"
    );
    for w in progress.windows(2) {
        assert!(w[1].0 > w[0].0, "progress did not increase: {progress:?}");
        assert!(w[1].1 >= w[0].1, "the total shrank: {progress:?}");
    }
    let (end, total) = *progress.last().unwrap();
    for (p, t) in &progress[..progress.len() - 1] {
        assert!(t > p, "100% before the job ended: {progress:?}");
    }
    assert_eq!(
        (end, total),
        (3000.0, 3000.0),
        "it ends at the notes it synced, not past them: {progress:?}"
    );
    let last = params.last().unwrap();
    assert_eq!(
        last["message"], "directory-sync #1 succeeded",
        "the outcome, with no error of an earlier attempt: {last}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_the_request_cancels_the_job() {
    // Nobody runs jobs: the sync stays queued until the cancel.
    let (_dir, brain) = vault(5, Workers::Never);
    let mut c = Client::connect(brain).await;
    let id = c
        .start(
            "tools/call",
            json!({"name": "sync", "arguments": {}, "_meta": {"progressToken": 77}}),
        )
        .await;
    let first = c.recv().await;
    assert_eq!(first["method"], "notifications/progress", "{first}");
    assert_eq!(first["params"]["progressToken"], 77);
    c.send(json!({
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": id, "reason": "test"},
    }))
    .await;

    // The job goes to cancelled; the cancelled request gets no answer (rmcp drops it).
    let mut state = Value::Null;
    for _ in 0..100 {
        let st = c.ok("status", json!({})).await;
        let job = st["recent"]
            .as_array()
            .and_then(|j| j.iter().find(|j| j["type"] == "directory-sync"))
            .cloned();
        if let Some(job) = job {
            state = job["state"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "cancelled");

    // wait=false answers at once with the job.
    let d = c.ok("sync", json!({"wait": false})).await;
    assert!(d["job"].is_i64() && d["joined"] == false, "{d}");
    let c2 = c.ok("cancel_job", json!({"id": d["job"]})).await;
    assert_eq!(c2["state"], "cancelled", "{c2}");
}

// Issue 14 (the interface an agent meets): arguments refused by name, limits, paging,
// highlights, one copy of the text, deleted notes.
#[path = "session/issue14.rs"]
mod issue14;

#[path = "session/history.rs"]
mod history;

#[path = "session/batch.rs"]
mod batch;
