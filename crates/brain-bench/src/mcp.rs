//! `brain bench mcp`: how long an agent waits for `search` and `get`, measured from the
//! official Python MCP client (`tests/mcp/bench_client.py`, run by the `mcp` SDK from PyPI)
//! over both transports: stdio (`brain mcp`) and streamable HTTP (`brain serve`). The baseline,
//! measured in the same run on the same queries and notes, is the facade call itself in this
//! process, so the ratio is what the protocol, the transport and the client cost.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use brain_api::{ListRequest, SearchRequest};
use serde_json::{Value, json};

use crate::args::BenchMcpArgs;
use crate::child::{Daemon, OpenVault, brain_cmd, brain_exe};
use crate::common::{find_above, find_generator, fresh_dir, generate, ms, percentile, work_dir};
use crate::error::{Context, Result, fail};
use crate::out;

/// The client, built into the binary so the bench runs from any folder.
const CLIENT: &str = include_str!("../../../tests/mcp/bench_client.py");

fn find_python(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    find_above("target/mcp-venv/bin/python").ctx(|| {
        "no Python with the MCP SDK found: run scripts/mcp-venv (it makes target/mcp-venv with \
         the official `mcp` package), or pass --python PATH"
            .into()
    })
}

fn brain(vault: &Path, args: &[&str]) -> Result<()> {
    let out = brain_cmd(vault, args)?
        .output()
        .ctx(|| format!("running brain {}", args.join(" ")))?;
    if !out.status.success() {
        fail!(
            "brain {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn stats(mut xs: Vec<Duration>) -> Value {
    xs.sort();
    let mean = xs.iter().sum::<Duration>() / u32::try_from(xs.len().max(1)).unwrap_or(1);
    json!({"n": xs.len(), "p50_ms": ms(percentile(&xs, 0.5)),
           "p99_ms": ms(percentile(&xs, 0.99)), "mean_ms": ms(mean)})
}

/// Runs the Python client with `args` and reads its one JSON line.
fn client(python: &Path, script: &Path, args: &[String]) -> Result<Value> {
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .ctx(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        fail!(
            "the MCP bench client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ctx(|| "the MCP bench client printed no JSON".into())?;
    serde_json::from_str(line).ctx(|| format!("the MCP bench client printed bad JSON: {line}"))
}

/// A `brain serve` on a free loopback port; returns it and its MCP URL.
fn serve(root: &Path) -> Result<(Daemon, String)> {
    let mut child = brain_cmd(root, &["--json", "serve"])?
        .env("BRAIN_SERVE_HTTP", "127.0.0.1:0")
        .env("BRAIN_SERVE_INITIAL_SYNC", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ctx(|| "starting brain serve".into())?;
    let stdout = child.stdout.take();
    let daemon = Daemon::new(child);
    let stdout = stdout.ctx(|| "brain serve's stdout".into())?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .ctx(|| "reading brain serve's first line".into())?;
    let ready: Value = serde_json::from_str(&line)
        .ctx(|| format!("brain serve did not say it was ready: {line}"))?;
    let addr = ready["http"]
        .as_str()
        .ctx(|| "brain serve started without HTTP".into())?;
    Ok((daemon, format!("http://{addr}/mcp")))
}

/// Runs the MCP benchmark.
pub(crate) fn run(args: &BenchMcpArgs, json_out: bool) -> Result<u8> {
    let python = find_python(args.python.as_deref())?;
    let generator = find_generator(args.generator.as_deref())?;
    let (_temp, work) = work_dir(args.workdir.as_deref(), "brain-bench-mcp-")?;
    let root = fresh_dir(&work, &format!("vault-mcp-{}", args.notes))?;
    generate(&generator, &root, args.notes)?;
    brain(&root, &["init"])?;
    brain(&root, &["sync"])?;

    // The same notes and queries for every transport: ids spread over the vault, and words
    // taken from their titles.
    let vault = OpenVault::open(&root)?;
    let facade = vault.facade()?;
    let all = facade
        .list(&ListRequest {
            limit: usize::MAX / 2,
            ..ListRequest::default()
        })
        .ctx(|| format!("listing the notes of {}", root.display()))?;
    if all.items.is_empty() {
        fail!("the generated vault has no notes");
    }
    let step = (all.items.len() / args.calls.max(1)).max(1);
    let picked: Vec<_> = all.items.iter().step_by(step).take(args.calls).collect();
    let ids: Vec<String> = picked.iter().map(|r| r.entity.to_string()).collect();
    let queries: Vec<String> = picked
        .iter()
        .filter_map(|r| {
            r.title
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() >= 4)
                .max_by_key(|w| w.len())
                .map(str::to_lowercase)
        })
        .collect();
    if queries.is_empty() {
        fail!("no search words in the generated titles");
    }
    let script = work.join("bench_client.py");
    std::fs::write(&script, CLIENT).ctx(|| format!("cannot write {}", script.display()))?;
    let queries_file = work.join("queries.txt");
    std::fs::write(&queries_file, queries.join("\n"))
        .ctx(|| format!("cannot write {}", queries_file.display()))?;

    // Baseline: the facade calls in this process.
    let mut search_direct = Vec::new();
    let mut get_direct = Vec::new();
    for q in queries.iter().cycle().take(args.calls) {
        let t = Instant::now();
        facade
            .search(&SearchRequest {
                query: q.clone(),
                ..SearchRequest::default()
            })
            .ctx(|| format!("searching for {q:?} through the facade"))?;
        search_direct.push(t.elapsed());
    }
    for id in ids.iter().cycle().take(args.calls) {
        let r: brain_api::EntityRef = id
            .parse()
            .ctx(|| format!("{id}, listed by the store, is not a note id"))?;
        let t = Instant::now();
        facade
            .get(&r)
            .ctx(|| format!("reading {id} through the facade"))?;
        get_direct.push(t.elapsed());
    }
    drop(facade);
    drop(vault);

    // The client draws its notes from `list` (the first thousand ids) and its queries from
    // these words, the ones timed in process above.
    let common = vec![
        "--n".to_string(),
        args.calls.to_string(),
        "--words".to_string(),
        queries_file.display().to_string(),
    ];
    let exe = brain_exe()?.display().to_string();
    let mut stdio_args = vec![
        "--transport".to_string(),
        "stdio".to_string(),
        "--brain".to_string(),
        exe,
        "--vault".to_string(),
        root.display().to_string(),
    ];
    stdio_args.extend(common.clone());
    let stdio = client(&python, &script, &stdio_args)?;

    let (mut daemon, url) = serve(&root)?;
    let mut http_args = vec![
        "--transport".to_string(),
        "http".to_string(),
        "--url".to_string(),
        url,
        "--vault".to_string(),
        root.display().to_string(),
        "--writes".to_string(),
        args.writes.to_string(),
    ];
    http_args.extend(common);
    let http = client(&python, &script, &http_args);
    daemon.stop()?;
    let http = http?;

    let direct = json!({"search": stats(search_direct), "get": stats(get_direct)});
    let debounce_ms = OpenVault::open(&root)?.config.serve.sync_debounce_ms;
    let ratio = |t: &Value, tool: &str| {
        let base = direct[tool]["p50_ms"].as_f64().unwrap_or(0.0).max(1e-6);
        t[tool]["p50_ms"].as_f64().unwrap_or(0.0) / base
    };
    let result = json!({
        "notes": all.items.len(),
        "calls": args.calls,
        "direct": direct,
        "stdio": {"search": stdio["search"], "get": stdio["get"]},
        "http": {"search": http["search"], "get": http["get"]},
        "http_update_to_file": http["write_to_file"],
        "debounce_ms": debounce_ms,
        "p50_ratio_to_direct": {
            "stdio_search": ratio(&stdio, "search"), "stdio_get": ratio(&stdio, "get"),
            "http_search": ratio(&http, "search"), "http_get": ratio(&http, "get"),
        },
    });
    if json_out {
        return out::json(&result).map(|()| 0);
    }
    out::line(format!(
        "MCP tool-call latency on {} notes, {} calls each, from the Python `mcp` client:",
        all.items.len(),
        args.calls
    ))?;
    out::line(format!(
        "{:<28} {:>9} {:>9} {:>9}",
        "", "p50 ms", "p99 ms", "mean ms"
    ))?;
    for (name, doc) in [
        ("search, in process (facade)", &result["direct"]["search"]),
        ("search over stdio", &result["stdio"]["search"]),
        ("search over HTTP", &result["http"]["search"]),
        ("get, in process (facade)", &result["direct"]["get"]),
        ("get over stdio", &result["stdio"]["get"]),
        ("get over HTTP", &result["http"]["get"]),
    ] {
        out::line(format!(
            "{name:<28} {:>9.3} {:>9.3} {:>9.3}",
            doc["p50_ms"].as_f64().unwrap_or(0.0),
            doc["p99_ms"].as_f64().unwrap_or(0.0),
            doc["mean_ms"].as_f64().unwrap_or(0.0)
        ))?;
    }
    let w = &result["http_update_to_file"];
    out::line(format!(
        "{:<28} {:>9.3} {:>9.3} {:>9.3}   ({} writes; the export waits serve.sync_debounce_ms = {debounce_ms} ms)",
        "update over HTTP → file",
        w["p50_ms"].as_f64().unwrap_or(0.0),
        w["p99_ms"].as_f64().unwrap_or(0.0),
        w["mean_ms"].as_f64().unwrap_or(0.0),
        args.writes
    ))?;
    out::line(format!(
        "p50 over the in-process call: stdio search {:.1}x, get {:.1}x; HTTP search {:.1}x, get {:.1}x",
        ratio(&stdio, "search"),
        ratio(&stdio, "get"),
        ratio(&http, "search"),
        ratio(&http, "get")
    ))?;
    Ok(0)
}
