//! `brain bench replicas`: folders of one PostgreSQL store kept in step by their daemons, each
//! a real `brain serve` of this build on a folder of this machine with a replica id of its own.
//!
//! - the baseline, in the same run: one folder served alone, a note saved (an editor-style
//!   temp file renamed over it) until it is imported (the folder's base holds its new text);
//! - with 2 and 4 folders: a note saved in the first until it is written in the second (and
//!   until every other folder has it);
//! - catch-up: the second folder's daemon stopped, 1,000 notes changed in the first, the
//!   daemon started again, until every change is in its folder.
//!
//! Every latency is less the debounce, a setting rather than a cost. The store is a new
//! database per folder count on the server `--store` names (a role that may create databases).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use brain_store::{SearchQuery, Store};
use brain_store_postgres::{ConnectOptions, PgStore};
use serde_json::{Value, json};

use crate::args::BenchReplicasArgs;
use crate::child::{Daemon, brain_cmd};
use crate::common::{brain, find_generator, fresh_dir, generate, ms, poll, stats, work_dir};
use crate::error::{Context, Result, fail};
use crate::out;

/// A new database on the server of `url`; its URL.
fn new_database(url: &str, name: &str) -> Result<String> {
    let options = ConnectOptions::parse(url).ctx(|| "--store is not a PostgreSQL URL".into())?;
    let mut admin = options
        .config
        .connect(postgres::NoTls)
        .ctx(|| format!("cannot connect to {}", options.shown()))?;
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin
            .batch_execute(&sql)
            .ctx(|| format!("cannot create the database {name} (the role needs CREATEDB)"))?;
    }
    let Some((base, _)) = url.split('?').next().unwrap_or(url).rsplit_once('/') else {
        fail!("--store {} names no database", options.shown());
    };
    Ok(format!("{base}/{name}"))
}

/// The store as the folder at `root` sees it (its replica).
fn store_of(url: &str, root: &Path) -> Result<PgStore> {
    let replica = std::fs::read_to_string(root.join(".brain/replica"))
        .ctx(|| format!("{} has no replica id", root.display()))?;
    let options = ConnectOptions::parse(url).ctx(|| "the database URL".into())?;
    Ok(PgStore::open(&options)
        .ctx(|| format!("cannot open {}", options.shown()))?
        .with_replica(replica.trim()))
}

/// A served folder.
struct Served {
    daemon: Daemon,
}

fn serve(root: &Path, url: &str, debounce_ms: u64) -> Result<Served> {
    let daemon = Daemon::new(
        brain_cmd(root, &["serve"])?
            .env("BRAIN_SERVE_HTTP", "127.0.0.1:0")
            .env("BRAIN_SERVE_SYNC_DEBOUNCE_MS", debounce_ms.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ctx(|| format!("starting brain serve in {}", root.display()))?,
    );
    let store = store_of(url, root)?;
    let pid = daemon.pid();
    poll(Duration::from_secs(60), "brain serve to be ready", || {
        Ok(store
            .runtime_state("serve")
            .ctx(|| "reading brain serve's state".into())?
            .is_some_and(|s| {
                s.value["pid"] == pid && s.value["state"] == "ready" && s.value["idle"] == true
            }))
    })?;
    Ok(Served { daemon })
}

/// Saves `rel` in `root` as an editor does, with `word` appended.
fn save(root: &Path, rel: &str, word: &str) -> Result<String> {
    let path = root.join(rel);
    let mut text =
        std::fs::read_to_string(&path).ctx(|| format!("cannot read {}", path.display()))?;
    text.push_str(&format!("\n{word}\n"));
    let tmp = path.with_file_name(".bench-save.tmp");
    std::fs::write(&tmp, &text).ctx(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).ctx(|| format!("cannot rename over {}", path.display()))?;
    Ok(text)
}

fn holds(root: &Path, rel: &str, word: &str) -> bool {
    std::fs::read_to_string(root.join(rel)).is_ok_and(|t| t.contains(word))
}

/// The notes of a generated folder, by path.
fn notes_of(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).ctx(|| format!("cannot read {}", dir.display()))? {
            let entry = entry.ctx(|| format!("cannot read {}", dir.display()))?;
            let path = entry.path();
            if entry.file_name() == ".brain" {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md")
                && let Ok(rel) = path.strip_prefix(root)
            {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}

pub(crate) fn run(args: &BenchReplicasArgs, json_out: bool) -> Result<u8> {
    let generator = find_generator(args.generator.as_deref())?;
    let (_temp, work) = work_dir(args.workdir.as_deref(), "brain-bench-replicas-")?;
    let debounce = Duration::from_millis(args.debounce_ms);
    let limit = Duration::from_secs(120);
    let run = brain_core::time::now_ms();
    let mut figures = serde_json::Map::new();
    let mut baseline = None;
    for &count in &args.replicas {
        let url = new_database(&args.store, &format!("brain_bench_replicas_{count}"))?;
        let first = fresh_dir(&work, &format!("r{count}-0"))?;
        generate(&generator, &first, args.notes)?;
        brain(&first, &["init", "--store", &url])?;
        brain(&first, &["sync"])?;
        let mut roots = vec![first.clone()];
        for n in 1..count.max(1) {
            let root = fresh_dir(&work, &format!("r{count}-{n}"))?;
            brain(&root, &["init", "--store", &url])?;
            brain(&root, &["sync"])?;
            roots.push(root);
        }
        let notes = notes_of(&first)?;
        if notes.is_empty() {
            fail!("the generated vault has no notes");
        }
        let step = (notes.len() / args.edits.max(1)).max(1);
        let picked: Vec<&String> = notes.iter().step_by(step).take(args.edits).collect();

        // The baseline once: the first folder alone, save until imported (the folder's base
        // of the file holds the new text: one indexed read per poll, where a search would
        // cost more than what it measures).
        if baseline.is_none() {
            let mut alone = serve(&first, &url, args.debounce_ms)?;
            let store = store_of(&url, &first)?;
            let mut took = Vec::new();
            for (i, rel) in picked.iter().enumerate() {
                let word = format!("replbench{run}alone{i}x");
                let text = save(&first, rel, &word)?;
                let hash = brain_core::hash::content_hash(text.as_bytes());
                let t = poll(limit, "the save to be imported", || {
                    let bases = store
                        .bases(&[rel.as_str()])
                        .ctx(|| format!("reading the base of {rel}"))?;
                    Ok(bases.first().is_some_and(|b| b.hash == hash))
                })?;
                took.push(t.saturating_sub(debounce));
            }
            alone.daemon.stop()?;
            baseline = Some(stats(took));
        }

        let mut served = Vec::new();
        for root in &roots {
            served.push(serve(root, &url, args.debounce_ms)?);
        }
        let (mut to_second, mut to_all) = (Vec::new(), Vec::new());
        for (i, rel) in picked.iter().enumerate() {
            let word = format!("replbench{run}n{count}e{i}x");
            let t = Instant::now();
            save(&first, rel, &word)?;
            poll(limit, "the save to reach the second folder", || {
                Ok(holds(&roots[1 % roots.len()], rel, &word))
            })?;
            to_second.push(t.elapsed().saturating_sub(debounce));
            poll(limit, "the save to reach every folder", || {
                Ok(roots.iter().all(|r| holds(r, rel, &word)))
            })?;
            to_all.push(t.elapsed().saturating_sub(debounce));
        }

        // Catch-up: the second folder's daemon away while the first changes `missed` notes.
        let mut catch_up = Value::Null;
        if count >= 2 {
            served[1].daemon.stop()?;
            let missed: Vec<&String> = notes.iter().take(args.missed).collect();
            let word = format!("replbench{run}n{count}missed");
            let first_store = store_of(&url, &first)?;
            for rel in &missed {
                save(&first, rel, &word)?;
            }
            let query = SearchQuery {
                limit: missed.len() + 10,
                ..SearchQuery::new(word.clone())
            };
            poll(limit * 5, "the first folder to import every change", || {
                Ok(first_store.search(&query).ctx(|| "searching".into())?.len() >= missed.len())
            })?;
            let second = roots[1].clone();
            let t = Instant::now();
            served[1] = serve(&second, &url, args.debounce_ms)?;
            let mut left: Vec<&String> = missed.clone();
            poll(limit * 5, "the second folder to catch up", || {
                left.retain(|rel| !holds(&second, rel, &word));
                Ok(left.is_empty())
            })?;
            catch_up = json!({"changes": missed.len(), "ms": ms(t.elapsed())});
        }
        for s in &mut served {
            s.daemon.stop()?;
        }
        figures.insert(
            count.to_string(),
            json!({
                "save_to_second_folder": stats(to_second),
                "save_to_every_folder": stats(to_all),
                "catch_up": catch_up,
            }),
        );
    }
    let baseline = baseline.unwrap_or(Value::Null);
    let result = json!({
        "notes": args.notes,
        "edits": args.edits,
        "debounce_ms": args.debounce_ms,
        "single_folder_save_to_imported": baseline,
        "replicas": figures,
    });
    if json_out {
        return out::json(&result).map(|()| 0);
    }
    let line = |name: &str, s: &Value| {
        format!(
            "{name:<44} p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms",
            s["p50_ms"].as_f64().unwrap_or(0.0),
            s["p99_ms"].as_f64().unwrap_or(0.0),
            s["max_ms"].as_f64().unwrap_or(0.0)
        )
    };
    out::line(format!(
        "replicas on one PostgreSQL store, {} notes, {} saves, debounce {} ms (subtracted):",
        args.notes, args.edits, args.debounce_ms
    ))?;
    out::line(line(
        "baseline: one folder, save -> imported",
        &result["single_folder_save_to_imported"],
    ))?;
    let base_p50 = result["single_folder_save_to_imported"]["p50_ms"]
        .as_f64()
        .unwrap_or(0.0);
    for (count, f) in &result["replicas"].as_object().cloned().unwrap_or_default() {
        let second = &f["save_to_second_folder"];
        out::line(line(
            &format!("{count} folders: save in A -> written in B"),
            second,
        ))?;
        out::line(line(
            &format!("{count} folders: save in A -> in every folder"),
            &f["save_to_every_folder"],
        ))?;
        out::line(format!(
            "{count} folders: p50 {:.2}x the baseline's",
            second["p50_ms"].as_f64().unwrap_or(0.0) / base_p50.max(1e-9)
        ))?;
        if !f["catch_up"].is_null() {
            out::line(format!(
                "{count} folders: catch-up of {} missed changes: {:.0} ms",
                f["catch_up"]["changes"],
                f["catch_up"]["ms"].as_f64().unwrap_or(0.0)
            ))?;
        }
    }
    Ok(0)
}
