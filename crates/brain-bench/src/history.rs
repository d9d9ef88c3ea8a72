//! `brain bench history`: what keeping every note's history costs, each figure next to a
//! baseline from the same run on the same generated vault.
//!
//! - import: a fresh `brain sync` of the vault as a process, next to the same command of a
//!   `brain` built before history (`--before BIN`) and to a plain FTS5 insert of the files;
//! - re-import of every note changed on disk, in process, with history on and off;
//! - `brain edit --append` as a process (p50/p99), next to `brain get` of the same notes and to
//!   the same edit through the facade in process;
//! - storage: bytes kept per version after ten edits of every note, next to the raw text those
//!   versions hold.

use std::path::Path;
use std::time::{Duration, Instant};

use brain_core::{EntityRef, VaultLayout, content_hash};
use brain_store::{Backend, ListFilter};
use serde_json::{Value, json};

use crate::args::BenchHistoryArgs;
use crate::child::{OpenVault, brain_cmd};
use crate::common::{find_generator, median, stats, work_dir};
use crate::error::{Context, Result, fail};
use crate::import::{baseline_import, brain_sync, cached_vault, fresh_brain};
use crate::out;

/// Runs the history benchmark.
pub(crate) fn run(args: &BenchHistoryArgs, json_out: bool) -> Result<u8> {
    let generator = find_generator(args.generator.as_deref())?;
    let (_temp, work) = work_dir(args.workdir.as_deref(), "brain-bench-history-")?;
    let runs = args.runs.max(1);
    let (vault, _manifest) = cached_vault(&generator, &work, args.notes)?;

    let import = import_figure(&vault, &work, runs, args.before.as_deref())?;
    let reimport = reimport_figure(&vault, runs)?;
    let edit = edit_figure(&vault, args.edits)?;
    let storage = storage_figure(&vault, args.versions)?;
    let result = json!({
        "bench": "history", "notes": args.notes, "runs": runs,
        "import": import, "reimport_all_changed": reimport, "edit_append": edit,
        "storage": storage,
    });
    if json_out {
        out::json(&result)?;
    } else {
        print(&result)?;
    }
    Ok(0)
}

/// `bin --vault vault sync` on a vault with a new, empty store (made by `bin init`): the wall
/// time of the sync alone.
pub(crate) fn fresh_process_import(bin: &Path, vault: &Path) -> Result<Duration> {
    let state = VaultLayout::new(vault).state_dir().to_path_buf();
    if state.exists() {
        std::fs::remove_dir_all(&state).ctx(|| format!("cannot clear {}", state.display()))?;
    }
    let run = |args: &[&str]| -> Result<Duration> {
        let t = Instant::now();
        let status = std::process::Command::new(bin)
            .arg("--vault")
            .arg(vault)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .ctx(|| format!("cannot run {} {args:?}", bin.display()))?;
        if !matches!(status.code(), Some(0 | 3)) {
            fail!(
                "{} {args:?} on {} failed: {status}",
                bin.display(),
                vault.display()
            );
        }
        Ok(t.elapsed())
    };
    run(&["init"])?;
    run(&["sync"])
}

/// The import of the whole vault as a fresh `brain sync`, this build against `before` (runs
/// interleaved, so a machine that slows down slows both), and the FTS5 insert of the files.
fn import_figure(vault: &Path, work: &Path, runs: usize, before: Option<&Path>) -> Result<Value> {
    let this = crate::child::brain_exe()?;
    let mut now_times = Vec::new();
    let mut before_times = Vec::new();
    let mut base_times = Vec::new();
    for run in 0..runs {
        base_times.push(baseline_import(vault, &work.join("history-baseline.db"))?);
        // The order swapped each run, so a machine that slows down or speeds up mid-run
        // weighs on both builds alike.
        if run % 2 == 1 {
            now_times.push(fresh_process_import(&this, vault)?);
        }
        if let Some(old) = before {
            before_times.push(fresh_process_import(old, vault)?);
        }
        if run % 2 == 0 {
            now_times.push(fresh_process_import(&this, vault)?);
        }
    }
    let now = median(now_times).as_secs_f64();
    let base = median(base_times).as_secs_f64();
    let mut figure = json!({
        "brain_sync_s": now, "fts5_baseline_s": base, "ratio_to_fts5": now / base,
    });
    if let Some(old) = before {
        let old_s = median(before_times).as_secs_f64();
        figure["before_bin"] = json!(old.display().to_string());
        figure["before_sync_s"] = json!(old_s);
        figure["ratio_to_before"] = json!(now / old_s);
        figure["target_ratio_to_before"] = json!(1.05);
    }
    Ok(figure)
}

/// Appends a line to every note file (a different one each `round`); the files' old texts
/// come back with [`restore_files`].
fn change_every_file(files: &[std::path::PathBuf], round: usize) -> Result<Vec<Vec<u8>>> {
    let mut old = Vec::with_capacity(files.len());
    for f in files {
        let bytes = std::fs::read(f).ctx(|| format!("cannot read {}", f.display()))?;
        let mut changed = bytes.clone();
        changed.extend_from_slice(format!("\n- changed in round {round}\n").as_bytes());
        std::fs::write(f, changed).ctx(|| format!("cannot write {}", f.display()))?;
        old.push(bytes);
    }
    Ok(old)
}

fn restore_files(files: &[std::path::PathBuf], old: &[Vec<u8>]) -> Result<()> {
    for (f, bytes) in files.iter().zip(old) {
        std::fs::write(f, bytes).ctx(|| format!("cannot write {}", f.display()))?;
    }
    Ok(())
}

/// A fresh import, every file changed, then the timed sync that re-imports them all, with
/// history on and off in turn (the order swapped each run).
fn reimport_figure(vault: &Path, runs: usize) -> Result<Value> {
    let mut files = Vec::new();
    crate::import::walk_md(vault, &mut files, false)?;
    let config = brain_core::Config::default();
    let mut on_times = Vec::new();
    let mut off_times = Vec::new();
    for run in 0..runs {
        let order = if run % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for keep in order {
            let store = fresh_brain(vault)?;
            store.keep_history(keep);
            brain_sync(vault, store.as_ref(), &config)?;
            let old = change_every_file(&files, run)?;
            let took = brain_sync(vault, store.as_ref(), &config);
            restore_files(&files, &old)?;
            let took = took?;
            let r = first_ref(store.as_ref())?;
            let kept = store
                .history(&r)
                .ctx(|| format!("reading the history of {r}"))?
                .len();
            if keep != (kept == 2) {
                fail!("history {keep}: a changed note lists {kept} version(s)");
            }
            if keep { &mut on_times } else { &mut off_times }.push(took);
        }
    }
    let (on, off) = (median(on_times), median(off_times));
    Ok(json!({
        "notes": files.len(), "history_on_s": on.as_secs_f64(), "history_off_s": off.as_secs_f64(),
        "ratio": on.as_secs_f64() / off.as_secs_f64(), "target_ratio": 1.25,
    }))
}

fn first_ref(store: &dyn Backend) -> Result<EntityRef> {
    let filter = ListFilter {
        limit: 1,
        ..ListFilter::default()
    };
    match store
        .list(&filter)
        .ctx(|| "listing the imported notes".into())?
        .into_iter()
        .next()
    {
        Some(s) => Ok(s.entity),
        None => fail!("the bench vault imported no note"),
    }
}

/// Every `step`-th live entity: the notes the edit figures touch, spread over the vault.
fn sample_refs(store: &dyn Backend, count: usize) -> Result<Vec<EntityRef>> {
    let all = store
        .list(&ListFilter::default())
        .ctx(|| "listing the imported notes".into())?;
    if all.is_empty() {
        fail!("the bench vault imported no note");
    }
    let step = (all.len() / count.max(1)).max(1);
    Ok(all
        .into_iter()
        .step_by(step)
        .take(count)
        .map(|s| s.entity)
        .collect())
}

/// Runs `brain ARGS` in `vault` and returns its wall time; exit 0 is required.
fn timed_brain(vault: &Path, args: &[&str]) -> Result<Duration> {
    let t = Instant::now();
    let out = brain_cmd(vault, args)?
        .output()
        .ctx(|| format!("cannot run brain {args:?}"))?;
    let took = t.elapsed();
    if !out.status.success() {
        fail!(
            "brain {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(took)
}

/// `brain edit --append` on `edits` notes of the imported vault as a process, `brain get` of
/// the same notes as the baseline, and the same append through the facade in process.
fn edit_figure(vault: &Path, edits: usize) -> Result<Value> {
    let store = fresh_brain(vault)?;
    brain_sync(vault, store.as_ref(), &brain_core::Config::default())?;
    let refs = sample_refs(store.as_ref(), edits)?;
    drop(store);
    let config_file = VaultLayout::new(vault).config_file();
    std::fs::write(&config_file, brain_core::config::DEFAULT_CONFIG_TOML)
        .ctx(|| format!("cannot write {}", config_file.display()))?;
    // Every file as the store holds it, so no command's first step is an import.
    timed_brain(vault, &["sync"])?;
    let mut get_times = Vec::new();
    let mut edit_times = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        let r = r.to_string();
        get_times.push(timed_brain(vault, &["get", &r])?);
        let line = format!("- appended by the bench, {i}");
        edit_times.push(timed_brain(vault, &["edit", &r, "--append", &line])?);
    }
    let open = OpenVault::open(vault)?;
    let brain = open.facade()?;
    let mut facade_times = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        let edit = brain_core::edit::Edit::Append(format!("- appended in process, {i}"));
        let t = Instant::now();
        brain
            .edit(r, &edit, None, None)
            .ctx(|| format!("appending to {r} through the facade"))?;
        facade_times.push(t.elapsed());
    }
    Ok(json!({
        "notes_in_vault": open.store.count_live().ctx(|| "counting the notes".into())?,
        "brain_edit_process": stats(edit_times),
        "brain_get_process": stats(get_times),
        "facade_edit_in_process": stats(facade_times),
    }))
}

/// The `i`-th edit of a note's body: an appended line, a line changed in the middle, or a line
/// inserted in the middle, in turn, as people edit notes.
fn edited(text: &str, i: usize) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mid = lines.len() / 2;
    match i % 3 {
        0 => format!("{text}- follow-up {i}: check this again next week\n"),
        1 => {
            let mut out = String::with_capacity(text.len() + 16);
            for (n, l) in lines.iter().enumerate() {
                if n == mid {
                    out.push_str(&format!("{} (revised {i})\n", l.trim_end_matches('\n')));
                } else {
                    out.push_str(l);
                }
            }
            out
        }
        _ => {
            let mut out = String::with_capacity(text.len() + 48);
            for (n, l) in lines.iter().enumerate() {
                if n == mid {
                    out.push_str(&format!(
                        "A sentence added in edit {i}, between two lines.\n"
                    ));
                }
                out.push_str(l);
            }
            out
        }
    }
}

/// Ten (or `versions`) edits of every note through the store, then the bytes the kept versions
/// take next to the raw text they hold.
fn storage_figure(vault: &Path, versions: usize) -> Result<Value> {
    let store = fresh_brain(vault)?;
    brain_sync(vault, store.as_ref(), &brain_core::Config::default())?;
    let refs: Vec<EntityRef> = store
        .list(&ListFilter::default())
        .ctx(|| "listing the imported notes".into())?
        .into_iter()
        .map(|s| s.entity)
        .collect();
    let mut raw: u64 = 0;
    let t = Instant::now();
    for r in &refs {
        let mut e = store.get(r).ctx(|| format!("reading {r}"))?;
        for i in 0..versions {
            raw += (e.frontmatter.len() + e.body.len()) as u64;
            e.body = edited(&e.body, i);
            e.content_hash = content_hash(e.content().as_bytes());
            e.updated_ms += 1;
            store.put(&e).ctx(|| format!("writing edit {i} of {r}"))?;
        }
    }
    let took = t.elapsed();
    drop(store);
    let db = VaultLayout::new(vault).database();
    let conn = rusqlite::Connection::open(&db).ctx(|| format!("cannot open {}", db.display()))?;
    let (count, stored): (i64, i64) = conn
        .query_row(
            "SELECT count(*), coalesce(sum(length(stored)), 0) FROM entity_versions",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .ctx(|| format!("cannot count the versions in {}", db.display()))?;
    let expected = (refs.len() * versions) as i64;
    if count != expected {
        fail!("{expected} edits kept {count} versions");
    }
    let per = |bytes: f64| bytes / count.max(1) as f64;
    Ok(json!({
        "versions": count, "edits_per_note": versions,
        "stored_bytes_per_version": per(stored as f64),
        "raw_bytes_per_version": per(raw as f64),
        "ratio": stored as f64 / raw.max(1) as f64, "target_ratio": 0.5,
        "edits_per_s": count as f64 / took.as_secs_f64(),
    }))
}

fn print(r: &Value) -> Result<()> {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let i = &r["import"];
    out::line(format!(
        "history bench, {} notes, median of {} run(s)",
        r["notes"], r["runs"]
    ))?;
    out::line(format!(
        "  import (fresh brain sync): {:.2} s; FTS5 insert of the files {:.2} s ({:.2}x)",
        f(&i["brain_sync_s"]),
        f(&i["fts5_baseline_s"]),
        f(&i["ratio_to_fts5"])
    ))?;
    if i.get("before_sync_s").is_some() {
        out::line(format!(
            "    the same sync by {}: {:.2} s; this build {:.3}x of it (target <= 1.05x)",
            i["before_bin"].as_str().unwrap_or("?"),
            f(&i["before_sync_s"]),
            f(&i["ratio_to_before"])
        ))?;
    }
    let re = &r["reimport_all_changed"];
    out::line(format!(
        "  re-import of {} notes all changed: history on {:.2} s, off {:.2} s ({:.3}x, target <= 1.25x)",
        re["notes"],
        f(&re["history_on_s"]),
        f(&re["history_off_s"]),
        f(&re["ratio"])
    ))?;
    let e = &r["edit_append"];
    out::line(format!(
        "  brain edit --append (process): p50 {:.1} ms, p99 {:.1} ms; brain get of the same notes p50 {:.1} ms, p99 {:.1} ms; in process p50 {:.2} ms, p99 {:.2} ms ({} notes)",
        f(&e["brain_edit_process"]["p50_ms"]),
        f(&e["brain_edit_process"]["p99_ms"]),
        f(&e["brain_get_process"]["p50_ms"]),
        f(&e["brain_get_process"]["p99_ms"]),
        f(&e["facade_edit_in_process"]["p50_ms"]),
        f(&e["facade_edit_in_process"]["p99_ms"]),
        e["notes_in_vault"]
    ))?;
    let s = &r["storage"];
    out::line(format!(
        "  storage after {} edits of every note: {:.0} bytes per version stored, {:.0} raw ({:.3}x, target < 0.5x); {:.0} edits/s",
        s["edits_per_note"],
        f(&s["stored_bytes_per_version"]),
        f(&s["raw_bytes_per_version"]),
        f(&s["ratio"]),
        f(&s["edits_per_s"])
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::edited;

    #[test]
    fn each_edit_changes_the_text_by_a_line() {
        let text = "# x\none\ntwo\n";
        for i in 0..3 {
            let new = edited(text, i);
            assert_ne!(new, text);
            let added = new.lines().count() - text.lines().count();
            assert!(added <= 1, "edit {i}: {new}");
        }
    }
}
