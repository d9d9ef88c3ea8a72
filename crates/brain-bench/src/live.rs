//! `brain bench live`: the figures of live sync, measured against a real `brain serve` process
//! on a generated vault.
//!
//! - file write → note searchable: an editor-style save (temp file, rename over), then search
//!   polled every millisecond through another connection until the new word is found;
//! - entity write → file on disk: the same transaction `brain put` commits (entity and its
//!   debounced export), then the file polled until it holds the new text;
//! - both minus the configured debounce, which is a setting, not a cost;
//! - the baseline, run in the same process on the same vault once the daemon is gone: importing
//!   that one changed file directly with the sync engine (the work without watcher and queue);
//! - idle CPU of the daemon: its user + system time over a quiet interval, from /proc.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use brain_core::{CancelToken, NoProgress};
use brain_store::jobs::{JobFilter, JobState};
use brain_store::{ListFilter, SearchQuery};
use brain_sync::{SyncEngine, SyncOptions};
use serde_json::{Value, json};

use crate::args::BenchLiveArgs;
use crate::child::{Daemon, OpenVault, brain_cmd};
use crate::common::{brain, find_generator, fresh_dir, generate, poll, stats, work_dir};
use crate::error::{Context, Result, fail};
use crate::out;

/// Waits until no job is queued or running, then a little longer (the watcher may hold a
/// change in its debounce window).
fn settle(vault: &OpenVault, quiet: Duration) -> Result<()> {
    let mut idle_since = Instant::now();
    let limit = Instant::now() + Duration::from_secs(600);
    loop {
        let active = vault
            .store
            .list_jobs(&JobFilter {
                states: vec![JobState::Queued, JobState::Running],
                limit: 1,
                ..JobFilter::default()
            })
            .ctx(|| "listing the jobs brain serve has to run".into())?;
        if !active.is_empty() {
            idle_since = Instant::now();
        } else if idle_since.elapsed() >= quiet {
            return Ok(());
        }
        if Instant::now() > limit {
            fail!("the daemon did not settle within 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// User + system CPU seconds of a process so far, from /proc/<pid>/stat.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let file = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&file).ctx(|| format!("cannot read {file}"))?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ctx(|| format!("unexpected format of {file}: no CPU ticks in field {i}"))
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the ')'.
    Ok((ticks(11)? + ticks(12)?) / clock_ticks())
}

#[allow(unsafe_code)]
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a constant of the running system.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Appends a line holding `word` to the note at `path`; returns the new text.
fn append(path: &Path, word: &str) -> Result<String> {
    let mut text =
        std::fs::read_to_string(path).ctx(|| format!("cannot read {}", path.display()))?;
    text.push_str(&format!("\n{word}\n"));
    Ok(text)
}

/// The baseline: the same kind of edit imported directly, no watcher, no queue.
fn direct_imports(
    vault: &OpenVault,
    picked: &[&brain_store::EntitySummary],
    run: i64,
) -> Result<Vec<Duration>> {
    let what = || format!("importing an edit of {} directly", vault.root.display());
    let engine = SyncEngine::new(&vault.root, &vault.config, vault.store.as_ref()).ctx(what)?;
    let mut direct = Vec::new();
    for (i, row) in picked.iter().enumerate() {
        let word = format!("livebench{run}direct{i}x");
        let path = vault.root.join(&row.path);
        let text = append(&path, &word)?;
        std::fs::write(&path, &text).ctx(|| format!("cannot write {}", path.display()))?;
        let t = Instant::now();
        let opts = SyncOptions {
            only_paths: Some(vec![row.path.clone()]),
            ..SyncOptions::default()
        };
        engine
            .run(&opts, &NoProgress, &CancelToken::new())
            .ctx(|| format!("importing {} directly", row.path))?;
        let found = vault
            .store
            .search(&SearchQuery::new(word.clone()))
            .ctx(|| format!("searching for {word}, imported from {}", row.path))?;
        if found.is_empty() {
            fail!("the direct import of {} is not searchable", row.path);
        }
        direct.push(t.elapsed());
    }
    Ok(direct)
}

/// Runs the live benchmark.
pub(crate) fn run(args: &BenchLiveArgs, json_out: bool) -> Result<u8> {
    let generator = find_generator(args.generator.as_deref())?;
    let (_temp, work) = work_dir(args.workdir.as_deref(), "brain-bench-live-")?;
    let name = format!("vault-live-{}", args.notes);
    // A vault an earlier run with this --workdir generated, imported and marked ready is used
    // again (generating and importing 100,000 notes takes minutes); its notes hold the lines
    // earlier runs appended, which changes no figure.
    let ready = work.join(format!("{name}.ready"));
    let root = work.join(&name);
    if !(args.workdir.is_some() && ready.is_file() && root.is_dir()) {
        let _ = std::fs::remove_file(&ready);
        let root = fresh_dir(&work, &name)?;
        generate(&generator, &root, args.notes)?;
        brain(&root, &["init"])?;
        brain(&root, &["sync"])?;
        std::fs::write(&ready, b"").ctx(|| format!("cannot write {}", ready.display()))?;
    }
    // The debounce of this run, whatever the last run used.
    let config_file = brain_core::VaultLayout::new(&root).config_file();
    let config = std::fs::read_to_string(&config_file)
        .ctx(|| format!("cannot read {}", config_file.display()))?;
    let config = config
        .lines()
        .map(|line| {
            if line.starts_with("sync_debounce_ms = ") {
                format!("sync_debounce_ms = {}", args.debounce_ms)
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(&config_file, config)
        .ctx(|| format!("cannot write {}", config_file.display()))?;
    let vault = OpenVault::open(&root)?;
    let debounce = Duration::from_millis(args.debounce_ms);

    let mut serve = Daemon::new(
        brain_cmd(&root, &["serve"])?
            // A port of its own: a daemon the user runs may hold the default one.
            .env("BRAIN_SERVE_HTTP", "127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ctx(|| "starting brain serve".into())?,
    );
    let pid = serve.pid();
    poll(Duration::from_secs(30), "brain serve to be ready", || {
        Ok(vault
            .store
            .runtime_state(brain_api::SERVE_STATE_KEY)
            .ctx(|| "reading brain serve's state from the store".into())?
            .is_some_and(|s| s.value["pid"] == pid && s.value["state"] == "ready"))
    })?;
    settle(&vault, Duration::from_secs(1))?;

    let notes = vault
        .store
        .list(&ListFilter::default())
        .ctx(|| format!("listing the notes of {}", root.display()))?;
    if notes.is_empty() {
        fail!("the generated vault has no notes");
    }
    // Words no earlier run on a reused vault appended (that note would be found at once).
    let run = brain_core::time::now_ms();
    let step = (notes.len() / args.edits.max(1)).max(1);
    let picked: Vec<_> = notes.iter().step_by(step).take(args.edits).collect();

    // File write → searchable.
    let mut to_search = Vec::new();
    for (i, row) in picked.iter().enumerate() {
        let word = format!("livebench{run}file{i}x");
        let path = root.join(&row.path);
        let text = append(&path, &word)?;
        let tmp = path.with_file_name(format!(".{i}.bench-save"));
        std::fs::write(&tmp, &text).ctx(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .ctx(|| format!("cannot rename {} over {}", tmp.display(), path.display()))?;
        let query = SearchQuery::new(word.clone());
        let took = poll(Duration::from_secs(30), "the edit to be searchable", || {
            Ok(!vault
                .store
                .search(&query)
                .ctx(|| format!("searching for {word}, written to {}", row.path))?
                .is_empty())
        })?;
        to_search.push(took.saturating_sub(debounce));
    }
    settle(&vault, debounce * 2)?;

    // Entity write → file on disk, through the facade as `brain put` and MCP write (the
    // daemon runs the export after its debounce).
    let facade = vault.facade()?;
    let mut to_file = Vec::new();
    for (i, row) in picked.iter().enumerate() {
        let word = format!("livebench{run}put{i}x");
        let current = vault
            .store
            .get(&row.entity)
            .ctx(|| format!("reading {} from the store", row.entity))?;
        let text = format!("{}\n{word}\n", current.content());
        let t = Instant::now();
        facade
            .write(&row.entity, text.as_bytes(), brain_api::Expect::Any)
            .ctx(|| format!("writing {} through the facade", row.entity))?;
        let path = root.join(&row.path);
        poll(
            Duration::from_secs(30),
            "the export to reach the file",
            || Ok(std::fs::read_to_string(&path).is_ok_and(|s| s.contains(&word))),
        )?;
        to_file.push(t.elapsed().saturating_sub(debounce));
    }
    settle(&vault, debounce * 2)?;

    // Idle CPU.
    let idle = Duration::from_secs(args.idle_secs);
    let (c0, t0) = (cpu_seconds(pid)?, Instant::now());
    std::thread::sleep(idle);
    let idle_cpu_pct = (cpu_seconds(pid)? - c0) / t0.elapsed().as_secs_f64() * 100.0;
    let jobs = vault
        .store
        .list_jobs(&JobFilter::default())
        .ctx(|| "listing the jobs brain serve ran".into())?;
    let count = |t: &str| jobs.iter().filter(|j| j.job_type == t).count();
    let job_counts = json!({
        "directory-import": count(brain_sync::jobs::DIRECTORY_IMPORT),
        "directory-export": count(brain_sync::jobs::DIRECTORY_EXPORT),
        "directory-sync": count(brain_sync::jobs::DIRECTORY_SYNC),
    });
    serve.stop()?;

    let direct = direct_imports(&vault, &picked, run)?;

    let file = stats(to_search);
    let put = stats(to_file);
    let base = stats(direct);
    let ratio = |s: &Value| {
        s["p50_ms"].as_f64().unwrap_or(0.0) / base["p50_ms"].as_f64().unwrap_or(1.0).max(1e-9)
    };
    let result = json!({
        "notes": notes.len(),
        "edits": picked.len(),
        "debounce_ms": args.debounce_ms,
        "file_to_searchable": file,
        "put_to_file": put,
        "direct_import_baseline": base,
        "file_to_searchable_p50_vs_direct": ratio(&file),
        "put_to_file_p50_vs_direct": ratio(&put),
        "idle_cpu_pct": idle_cpu_pct,
        "idle_seconds": idle.as_secs_f64(),
        "jobs": job_counts,
    });
    if json_out {
        out::json(&result)?;
    } else {
        let line = |name: &str, s: &Value| {
            format!(
                "{name:<34} p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms",
                s["p50_ms"].as_f64().unwrap_or(0.0),
                s["p99_ms"].as_f64().unwrap_or(0.0),
                s["max_ms"].as_f64().unwrap_or(0.0)
            )
        };
        out::line(format!(
            "live sync, {} notes, {} edits each way, debounce {} ms (subtracted):",
            notes.len(),
            picked.len(),
            args.debounce_ms
        ))?;
        out::line(line("file write -> searchable", &file))?;
        out::line(line("brain put -> file on disk", &put))?;
        out::line(line("baseline: direct import of the file", &base))?;
        out::line(format!(
            "ratios of p50 to the baseline: file {:.2}x, put {:.2}x",
            ratio(&file),
            ratio(&put)
        ))?;
        out::line(format!(
            "idle CPU of brain serve over {:.0} s: {idle_cpu_pct:.2}%",
            idle.as_secs_f64()
        ))?;
        out::line(format!("jobs run: {job_counts}"))?;
    }
    Ok(0)
}
