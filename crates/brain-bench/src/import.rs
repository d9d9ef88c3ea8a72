//! `brain bench import`: the figures of the import issue, each next to a baseline measured in
//! the same run on the same generated vault, so a noisy machine moves both.
//!
//! Baselines:
//! - import: walk, read every `.md` and insert it into a plain FTS5 table in one transaction
//!   (what `shared/bench/fts5_baseline.py` does, here in Rust so the language is not the gap);
//! - no-change sync: walk the tree and `stat` every file;
//! - export: the import of the same notes, as notes per second ([`crate::export`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brain_core::{CancelToken, Config, NoProgress, VaultLayout};
use brain_store::{Backend, SearchQuery};
use brain_sync::{SyncEngine, SyncOptions};
use serde_json::{Value, json};

use crate::args::BenchImportArgs;
use crate::child::{brain_cmd, wait_with_peak_rss};
use crate::common::{find_generator, generate, median, ms, open_scratch, percentile, work_dir};
use crate::error::{Context, Result, fail};
use crate::out;

/// Every `.md` path under `root`, skipping dot-folders: the same set brain syncs here.
pub(crate) fn walk_md(root: &Path, out: &mut Vec<PathBuf>, stat: bool) -> Result<u64> {
    let mut bytes = 0;
    let what = || format!("cannot list {}", root.display());
    for entry in std::fs::read_dir(root).ctx(what)? {
        let entry = entry.ctx(what)?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = entry.file_type().ctx(what)?;
        if ft.is_dir() {
            bytes += walk_md(&entry.path(), out, stat)?;
        } else if ft.is_file() && entry.path().extension().is_some_and(|e| e == "md") {
            if stat {
                bytes += entry
                    .metadata()
                    .ctx(|| format!("cannot stat {}", entry.path().display()))?
                    .len();
            }
            out.push(entry.path());
        }
    }
    Ok(bytes)
}

pub(crate) fn baseline_import(vault: &Path, db: &Path) -> Result<Duration> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let sql = || format!("the baseline's FTS5 database {}", db.display());
    let t = Instant::now();
    let mut files = Vec::new();
    walk_md(vault, &mut files, false)?;
    let mut conn = rusqlite::Connection::open(db).ctx(sql)?;
    conn.pragma_update(None, "journal_mode", "WAL").ctx(sql)?;
    conn.pragma_update(None, "synchronous", "NORMAL").ctx(sql)?;
    conn.execute_batch("CREATE VIRTUAL TABLE notes USING fts5(path UNINDEXED, body)")
        .ctx(sql)?;
    let tx = conn.transaction().ctx(sql)?;
    {
        let mut stmt = tx
            .prepare("INSERT INTO notes(path, body) VALUES (?1, ?2)")
            .ctx(sql)?;
        for f in &files {
            let raw = std::fs::read(f).ctx(|| format!("cannot read {}", f.display()))?;
            let text = String::from_utf8_lossy(&raw);
            let rel = f.strip_prefix(vault).unwrap_or(f).to_string_lossy();
            stmt.execute((rel, text.as_ref())).ctx(sql)?;
        }
    }
    tx.commit().ctx(sql)?;
    Ok(t.elapsed())
}

pub(crate) fn fresh_brain(vault: &Path) -> Result<Arc<dyn Backend>> {
    let layout = VaultLayout::new(vault);
    let state = layout.state_dir();
    if state.exists() {
        std::fs::remove_dir_all(state).ctx(|| format!("cannot clear {}", state.display()))?;
    }
    std::fs::create_dir_all(state).ctx(|| format!("cannot create {}", state.display()))?;
    open_scratch(&layout.database())
}

pub(crate) fn brain_sync(vault: &Path, store: &dyn Backend, config: &Config) -> Result<Duration> {
    let what = || format!("syncing {} in process", vault.display());
    let t = Instant::now();
    let engine = SyncEngine::new(vault, config, store).ctx(what)?;
    engine
        .run(&SyncOptions::default(), &NoProgress, &CancelToken::new())
        .ctx(what)?;
    Ok(t.elapsed())
}

/// Runs `brain` as a child and returns its wall time and peak resident memory in bytes.
fn brain_process(vault: &Path, args: &[&str]) -> Result<(Duration, u64)> {
    let t = Instant::now();
    let child = brain_cmd(vault, args)?
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ctx(|| format!("cannot start brain {args:?}"))?;
    let (status, peak) = wait_with_peak_rss(child)?;
    let elapsed = t.elapsed();
    // Exit code 3 means "done, some files skipped": still a complete run.
    if !matches!(status, 0 | 3) {
        fail!("brain {args:?} exited with {status}");
    }
    Ok((elapsed, peak))
}

/// Runs the import benchmark.
pub(crate) fn run(args: &BenchImportArgs, json_out: bool) -> Result<u8> {
    let generator = find_generator(args.generator.as_deref())?;
    let (_temp, work) = work_dir(args.workdir.as_deref(), "brain-bench-")?;
    let runs = args.runs.max(1);
    let config = Config::default();
    let mut results = Vec::new();
    for &n in &args.notes {
        let r = measure(&generator, &work, n, runs, &config)?;
        if !json_out {
            print_result(&r)?;
        }
        results.push(r);
    }
    if json_out {
        out::json(&json!({"bench": "import", "runs": runs, "results": results}))?;
    }
    Ok(0)
}

/// The generated vault of `n` notes in `work` (`vault-N`) and its manifest: generated once,
/// then used again by every later run in the same `--workdir`.
pub(crate) fn cached_vault(generator: &Path, work: &Path, n: usize) -> Result<(PathBuf, Value)> {
    let vault = work.join(format!("vault-{n}"));
    let manifest_file = work.join(format!("vault-{n}.json"));
    if vault.is_dir() && manifest_file.is_file() {
        let raw = std::fs::read(&manifest_file)
            .ctx(|| format!("cannot read {}", manifest_file.display()))?;
        let manifest = serde_json::from_slice(&raw).ctx(|| {
            format!(
                "{} is not the generator's manifest: delete it to generate the vault again",
                manifest_file.display()
            )
        })?;
        return Ok((vault, manifest));
    }
    let manifest = generate(generator, &vault, n)?;
    let raw = serde_json::to_vec(&manifest).ctx(|| "writing the manifest".into())?;
    std::fs::write(&manifest_file, raw)
        .ctx(|| format!("cannot write {}", manifest_file.display()))?;
    Ok((vault, manifest))
}

/// The figures of one vault size.
fn measure(generator: &Path, work: &Path, n: usize, runs: usize, config: &Config) -> Result<Value> {
    let (vault, manifest) = cached_vault(generator, work, n)?;
    let mut files = Vec::new();
    let bytes = walk_md(&vault, &mut files, true)?;
    let db = work.join(format!("baseline-{n}.db"));
    let mut base_times = Vec::new();
    let mut brain_times = Vec::new();
    for _ in 0..runs {
        base_times.push(baseline_import(&vault, &db)?);
        let store = fresh_brain(&vault)?;
        brain_times.push(brain_sync(&vault, store.as_ref(), config)?);
    }
    let (import_base, import_brain) = (median(base_times), median(brain_times));

    // No-change sync on the imported vault, in-process and as a process.
    let store = open_scratch(&VaultLayout::new(&vault).database())?;
    // Each run is ~10 ms, so many are cheap, and the median steadies against a noisy machine.
    let reps = (runs * 5).max(15);
    let mut walk_times = Vec::new();
    let mut nochange_times = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let mut v = Vec::new();
        walk_md(&vault, &mut v, true)?;
        walk_times.push(t.elapsed());
        nochange_times.push(brain_sync(&vault, store.as_ref(), config)?);
    }
    let (walk, nochange) = (median(walk_times), median(nochange_times));
    let config_file = VaultLayout::new(&vault).config_file();
    std::fs::write(&config_file, brain_core::config::DEFAULT_CONFIG_TOML)
        .ctx(|| format!("cannot write {}", config_file.display()))?;
    let mut proc_times = Vec::new();
    for _ in 0..reps {
        proc_times.push(brain_process(&vault, &["sync", "--json"])?.0);
    }
    let nochange_process = median(proc_times);

    let (p50, p99, per_query) = search_latency(store.as_ref(), &manifest)?;

    // Export of every note changed in the store, next to the import of the same notes.
    let export = crate::export::measure(
        &vault,
        store.as_ref(),
        config,
        runs,
        (files.len(), import_brain),
    )?;
    drop(store);

    // Peak memory of a fresh import in its own process.
    let state = VaultLayout::new(&vault).state_dir().to_path_buf();
    std::fs::remove_dir_all(&state).ctx(|| format!("cannot clear {}", state.display()))?;
    brain_process(&vault, &["init"])?;
    let (mem_wall, peak) = brain_process(&vault, &["sync"])?;

    Ok(json!({
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
    }))
}

/// Search latency in process over the generator's planted words: (p50, p99, per query).
pub(crate) fn search_latency(
    store: &dyn Backend,
    manifest: &Value,
) -> Result<(Duration, Duration, Vec<Value>)> {
    let word = |key: &str, default: &str| {
        manifest["queries"][key]
            .as_str()
            .unwrap_or(default)
            .to_string()
    };
    let words = [
        word("needle", "quokkaflux"),
        word("common_word_rank1", "the"),
        word("mid_word_rank2000", "marker"),
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
            store
                .search(&SearchQuery::new(q.clone()))
                .ctx(|| format!("searching the imported vault for {q:?}"))?;
            mine.push(t.elapsed());
        }
        lat.extend_from_slice(&mine);
        mine.sort();
        per_query.push(json!({"query": q, "p50_ms": ms(percentile(&mine, 0.5))}));
    }
    lat.sort();
    Ok((percentile(&lat, 0.5), percentile(&lat, 0.99), per_query))
}

fn print_result(r: &Value) -> Result<()> {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    out::line(format!(
        "vault: {} notes, {:.1} MB",
        r["notes"],
        f(&r["bytes"]) / 1e6
    ))?;
    let i = &r["import"];
    out::line(format!(
        "  initial import    brain {:>8.3} s   baseline read+FTS5 insert {:>8.3} s   ratio {:.2}x (target <= 1.5x)",
        f(&i["brain_s"]),
        f(&i["baseline_s"]),
        f(&i["ratio"])
    ))?;
    let e = &r["export"];
    out::line(format!(
        "  export            {:>8.0} notes/s  import {:>8.0} notes/s  ratio export/import {:.2}x (target >= 1x; {} notes changed in the store, written in {:.3} s)",
        f(&e["export_notes_per_s"]),
        f(&e["import_notes_per_s"]),
        f(&e["ratio"]),
        e["notes"],
        f(&e["export_s"])
    ))?;
    let n = &r["no_change_sync"];
    out::line(format!(
        "  no-change sync    brain {:>8.1} ms  baseline walk+stat        {:>8.1} ms  ratio {:.2}x (target <= 1.2x)",
        f(&n["brain_ms"]),
        f(&n["walk_stat_ms"]),
        f(&n["ratio"])
    ))?;
    out::line(format!(
        "  no-change `brain sync` process wall {:.1} ms (target < 150 ms)",
        f(&n["process_wall_ms"])
    ))?;
    let s = &r["search"];
    out::line(format!(
        "  search            p50 {:.2} ms  p99 {:.2} ms (target p50 < 5 ms)",
        f(&s["p50_ms"]),
        f(&s["p99_ms"])
    ))?;
    for q in s["per_query"].as_array().into_iter().flatten() {
        out::line(format!(
            "      {:>8.2} ms  {}",
            f(&q["p50_ms"]),
            q["query"].as_str().unwrap_or_default()
        ))?;
    }
    let m = &r["import_process"];
    out::line(format!(
        "  import process    {:.2} s wall, peak RSS {:.1} MB (target < 150 MB)",
        f(&m["wall_s"]),
        f(&m["peak_rss_mb"])
    ))?;
    Ok(())
}
