//! `brain bench import`: the figures of the import issue, each next to a baseline measured in
//! the same run on the same generated vault, so a noisy machine moves both.
//!
//! Baselines:
//! - import: walk, read every `.md` and insert it into a plain FTS5 table in one transaction
//!   (what `shared/bench/fts5_baseline.py` does, here in Rust so the language is not the gap);
//! - no-change sync: walk the tree and `stat` every file;
//! - export: the import of the same notes, as notes per second ([`super::bench_export`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use brain_core::{CancelToken, Config, NoProgress, VaultLayout};
use brain_store::{Backend, SearchQuery};
use brain_sync::{SyncEngine, SyncOptions};
use serde_json::{Value, json};

use crate::cli::{BenchCommand, BenchImportArgs};
use crate::output;

/// Runs a benchmark.
pub fn run(cmd: &BenchCommand, json_out: bool) -> Result<u8> {
    match cmd {
        BenchCommand::Import(args) => import(args, json_out),
        BenchCommand::Queue(args) => super::bench_queue::run(args, json_out),
        BenchCommand::Live(args) => super::bench_live::run(args, json_out),
        BenchCommand::Git(args) => super::bench_git::run(args, json_out),
        BenchCommand::Mcp(args) => super::bench_mcp::run(args, json_out),
    }
}

/// `rel` in the first folder that has it, going up from here and then from this binary (a
/// bench run from anywhere in a checkout finds the repo's files and `../shared`).
pub(super) fn find_above(rel: &str) -> Option<PathBuf> {
    let mut starts: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
    starts.extend(std::env::current_exe());
    starts
        .iter()
        .flat_map(|start| start.ancestors())
        .map(|dir| dir.join(rel))
        .find(|candidate| candidate.is_file())
}

pub(super) fn find_generator(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    find_above("shared/bench/gen_vault.py")
        .context("cannot find shared/bench/gen_vault.py above this folder: pass --generator PATH")
}

/// The folder a benchmark works in: `--workdir` when given (kept afterwards, so a run can be
/// looked at or its generated vaults reused), else a temporary folder that lives as long as the
/// returned guard.
pub(super) fn work_dir(
    workdir: Option<&Path>,
    prefix: &str,
) -> Result<(tempfile::TempDir, PathBuf)> {
    let temp = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .context("cannot create a temporary folder")?;
    let work = workdir.map_or_else(|| temp.path().to_path_buf(), Path::to_path_buf);
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    Ok((temp, work))
}

/// `name` under `work`, emptied of what an earlier run left there.
pub(super) fn fresh_dir(work: &Path, name: &str) -> Result<PathBuf> {
    let dir = work.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    Ok(dir)
}

pub(super) fn generate(generator: &Path, out: &Path, notes: usize) -> Result<Value> {
    let output = Command::new("python3")
        .arg(generator)
        .arg(out)
        .args(["--notes", &notes.to_string(), "--seed", "42"])
        .output()
        .context("running python3 for the vault generator")?;
    if !output.status.success() {
        bail!(
            "vault generator failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

pub(super) fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

pub(super) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Every `.md` path under `root`, skipping dot-folders: the same set brain syncs here.
fn walk_md(root: &Path, out: &mut Vec<PathBuf>, stat: bool) -> Result<u64> {
    let mut bytes = 0;
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = entry.file_type()?;
        if ft.is_dir() {
            bytes += walk_md(&entry.path(), out, stat)?;
        } else if ft.is_file() && entry.path().extension().is_some_and(|e| e == "md") {
            if stat {
                bytes += entry.metadata()?.len();
            }
            out.push(entry.path());
        }
    }
    Ok(bytes)
}

fn baseline_import(vault: &Path, db: &Path) -> Result<Duration> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let t = Instant::now();
    let mut files = Vec::new();
    walk_md(vault, &mut files, false)?;
    let mut conn = rusqlite::Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch("CREATE VIRTUAL TABLE notes USING fts5(path UNINDEXED, body)")?;
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare("INSERT INTO notes(path, body) VALUES (?1, ?2)")?;
        for f in &files {
            let raw = std::fs::read(f)?;
            let text = String::from_utf8_lossy(&raw);
            stmt.execute((f.strip_prefix(vault)?.to_string_lossy(), text.as_ref()))?;
        }
    }
    tx.commit()?;
    Ok(t.elapsed())
}

fn fresh_brain(vault: &Path) -> Result<Arc<dyn Backend>> {
    let layout = VaultLayout::new(vault);
    let state = layout.state_dir();
    if state.exists() {
        std::fs::remove_dir_all(state)?;
    }
    std::fs::create_dir_all(state)?;
    Ok(crate::backend::open_scratch(&layout.database())?)
}

fn brain_sync(vault: &Path, store: &dyn Backend, config: &Config) -> Result<Duration> {
    let t = Instant::now();
    let engine = SyncEngine::new(vault, config, store)?;
    engine.run(&SyncOptions::default(), &NoProgress, &CancelToken::new())?;
    Ok(t.elapsed())
}

/// Runs `brain` as a child and returns its wall time and peak resident memory in bytes.
fn brain_process(vault: &Path, args: &[&str]) -> Result<(Duration, u64)> {
    let exe = std::env::current_exe()?;
    let t = Instant::now();
    let child = Command::new(exe)
        .arg("--vault")
        .arg(vault)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let (status, peak) = wait_with_peak_rss(child)?;
    let elapsed = t.elapsed();
    // Exit code 3 means "done, some files skipped": still a complete run.
    if !matches!(status, 0 | 3) {
        bail!("brain {args:?} exited with {status}");
    }
    Ok((elapsed, peak))
}

#[allow(unsafe_code)]
fn wait_with_peak_rss(child: std::process::Child) -> Result<(i32, u64)> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data that wait4 fills in; `pid` is our own un-reaped child,
    // and `child` is not waited on elsewhere (it is forgotten below, so nothing reaps it twice).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    std::mem::forget(child);
    if rc != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok((code, usage.ru_maxrss as u64 * 1024))
}

fn import(args: &BenchImportArgs, json_out: bool) -> Result<u8> {
    let generator = find_generator(args.generator.as_deref())?;
    let (_temp, work) = work_dir(args.workdir.as_deref(), "brain-bench-")?;
    let runs = args.runs.max(1);
    let config = Config::default();
    let mut results = Vec::new();
    for &n in &args.notes {
        let vault = work.join(format!("vault-{n}"));
        let manifest_file = work.join(format!("vault-{n}.json"));
        let manifest: Value = if vault.is_dir() && manifest_file.is_file() {
            serde_json::from_slice(&std::fs::read(&manifest_file)?)?
        } else {
            let m = generate(&generator, &vault, n)?;
            std::fs::write(&manifest_file, serde_json::to_vec(&m)?)?;
            m
        };
        let mut files = Vec::new();
        let bytes = walk_md(&vault, &mut files, true)?;
        let db = work.join(format!("baseline-{n}.db"));
        let mut base_times = Vec::new();
        let mut brain_times = Vec::new();
        for _ in 0..runs {
            base_times.push(baseline_import(&vault, &db)?);
            let store = fresh_brain(&vault)?;
            brain_times.push(brain_sync(&vault, store.as_ref(), &config)?);
        }
        let (import_base, import_brain) = (median(base_times), median(brain_times));

        // No-change sync on the imported vault, in-process and as a process.
        let store = crate::backend::open_scratch(&VaultLayout::new(&vault).database())?;
        // Each run is ~10 ms, so many are cheap, and the median steadies against a noisy machine.
        let reps = (runs * 5).max(15);
        let mut walk_times = Vec::new();
        let mut nochange_times = Vec::new();
        for _ in 0..reps {
            let t = Instant::now();
            let mut v = Vec::new();
            walk_md(&vault, &mut v, true)?;
            walk_times.push(t.elapsed());
            nochange_times.push(brain_sync(&vault, store.as_ref(), &config)?);
        }
        let (walk, nochange) = (median(walk_times), median(nochange_times));
        std::fs::write(
            VaultLayout::new(&vault).config_file(),
            brain_core::config::DEFAULT_CONFIG_TOML,
        )?;
        let mut proc_times = Vec::new();
        for _ in 0..reps {
            proc_times.push(brain_process(&vault, &["sync", "--json"])?.0);
        }
        let nochange_process = median(proc_times);

        // Search latency, in-process.
        let words = [
            manifest["queries"]["needle"]
                .as_str()
                .unwrap_or("quokkaflux")
                .to_string(),
            manifest["queries"]["common_word_rank1"]
                .as_str()
                .unwrap_or("the")
                .to_string(),
            manifest["queries"]["mid_word_rank2000"]
                .as_str()
                .unwrap_or("marker")
                .to_string(),
        ];
        let prefix: String = words[2].chars().take(3).collect::<String>() + "*";
        let queries = [
            words[0].clone(),
            words[1].clone(),
            words[2].clone(),
            prefix,
            format!("\"{} marker\"", words[0]),
            format!("{} {}", words[1], words[2]),
        ];
        let mut lat = Vec::new();
        let mut per_query = Vec::new();
        for q in &queries {
            let mut mine = Vec::new();
            for _ in 0..50 {
                let t = Instant::now();
                store.search(&SearchQuery::new(q.clone()))?;
                mine.push(t.elapsed());
            }
            lat.extend_from_slice(&mine);
            mine.sort();
            per_query.push(json!({"query": q, "p50_ms": ms(percentile(&mine, 0.5))}));
        }
        lat.sort();
        let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));

        // Export of every note changed in the store, next to the import of the same notes.
        let export = super::bench_export::measure(
            &vault,
            store.as_ref(),
            &config,
            runs,
            (files.len(), import_brain),
        )?;
        drop(store);

        // Peak memory of a fresh import in its own process.
        let mem_vault = vault.clone();
        std::fs::remove_dir_all(VaultLayout::new(&mem_vault).state_dir())?;
        brain_process(&mem_vault, &["init"])?;
        let (mem_wall, peak) = brain_process(&mem_vault, &["sync"])?;

        let r = json!({
            "notes": files.len(),
            "bytes": bytes,
            "import": {"brain_s": import_brain.as_secs_f64(), "baseline_s": import_base.as_secs_f64(),
                       "ratio": import_brain.as_secs_f64() / import_base.as_secs_f64(), "target_ratio": 1.5},
            "no_change_sync": {"brain_ms": ms(nochange), "walk_stat_ms": ms(walk),
                       "ratio": ms(nochange) / ms(walk), "target_ratio": 1.2,
                       "process_wall_ms": ms(nochange_process), "target_process_ms": 150},
            "export": export,
            "search": {"p50_ms": ms(p50), "p99_ms": ms(p99), "per_query": per_query, "target_p50_ms": 5},
            "import_process": {"wall_s": mem_wall.as_secs_f64(), "peak_rss_mb": peak as f64 / 1048576.0, "target_mb": 150},
        });
        if !json_out {
            print_result(&r)?;
        }
        results.push(r);
    }
    if json_out {
        output::json(&json!({"bench": "import", "runs": runs, "results": results}))?;
    }
    Ok(0)
}

fn print_result(r: &Value) -> Result<()> {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    output::line(format!(
        "vault: {} notes, {:.1} MB",
        r["notes"],
        f(&r["bytes"]) / 1e6
    ))?;
    let i = &r["import"];
    output::line(format!(
        "  initial import    brain {:>8.3} s   baseline read+FTS5 insert {:>8.3} s   ratio {:.2}x (target <= 1.5x)",
        f(&i["brain_s"]),
        f(&i["baseline_s"]),
        f(&i["ratio"])
    ))?;
    let e = &r["export"];
    output::line(format!(
        "  export            {:>8.0} notes/s  import {:>8.0} notes/s  ratio export/import {:.2}x (target >= 1x; {} notes changed in the store, written in {:.3} s)",
        f(&e["export_notes_per_s"]),
        f(&e["import_notes_per_s"]),
        f(&e["ratio"]),
        e["notes"],
        f(&e["export_s"])
    ))?;
    let n = &r["no_change_sync"];
    output::line(format!(
        "  no-change sync    brain {:>8.1} ms  baseline walk+stat        {:>8.1} ms  ratio {:.2}x (target <= 1.2x)",
        f(&n["brain_ms"]),
        f(&n["walk_stat_ms"]),
        f(&n["ratio"])
    ))?;
    output::line(format!(
        "  no-change `brain sync` process wall {:.1} ms (target < 150 ms)",
        f(&n["process_wall_ms"])
    ))?;
    let s = &r["search"];
    output::line(format!(
        "  search            p50 {:.2} ms  p99 {:.2} ms (target p50 < 5 ms)",
        f(&s["p50_ms"]),
        f(&s["p99_ms"])
    ))?;
    for q in s["per_query"].as_array().into_iter().flatten() {
        output::line(format!(
            "      {:>8.2} ms  {}",
            f(&q["p50_ms"]),
            q["query"].as_str().unwrap_or_default()
        ))?;
    }
    let m = &r["import_process"];
    output::line(format!(
        "  import process    {:.2} s wall, peak RSS {:.1} MB (target < 150 MB)",
        f(&m["wall_s"]),
        f(&m["peak_rss_mb"])
    ))?;
    Ok(())
}
