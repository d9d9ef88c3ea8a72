//! `brain bench batch`: what a batch over a whole vault costs, next to the import of the same
//! vault in the same run.
//!
//! - import: a fresh `brain sync` of the vault as a process: its notes per second are the
//!   baseline;
//! - `brain batch set bench=1 --where type:note` over every note: notes per second until the
//!   store holds every change (the batch's report ends) and until every file is written (no
//!   export queued and no note left unwritten), run by the background worker the command
//!   starts, as a user's batch is;
//! - `brain put` as a process while that batch runs, one started every 100 ms: p50/p99 (target
//!   under 100 ms), next to the same `brain put` with nothing else running (after the batches);
//! - `brain batch rollback` of that batch: notes per second, store and files.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use brain_api::Brain;
use brain_store::Backend;
use serde_json::{Value, json};

use crate::args::BenchBatchArgs;
use crate::child::{OpenVault, brain_cmd, brain_exe};
use crate::common::{find_generator, stats, work_dir};
use crate::error::{Context, Result, fail};
use crate::history::fresh_process_import;
use crate::import::cached_vault;
use crate::out;

/// Where the timed `brain put`s write, in the vault.
const PUT_FOLDER: &str = "bench-put";

/// How often a `brain put` starts while a batch runs: a person or an agent writing now and
/// then, not a second batch of back-to-back writes.
const PUT_EVERY: Duration = Duration::from_millis(100);

/// The longest a batch of the bench may take before the bench gives up on it.
const LIMIT: Duration = Duration::from_secs(3_600);

/// Runs the batch benchmark.
pub(crate) fn run(args: &BenchBatchArgs, json_out: bool) -> Result<u8> {
    let generator = find_generator(args.generator.as_deref())?;
    let (_temp, work) = work_dir(args.workdir.as_deref(), "brain-bench-batch-")?;
    let (vault, _manifest) = cached_vault(&generator, &work, args.notes)?;
    // The notes an earlier run put are not the generated vault's.
    let put_folder = vault.join(PUT_FOLDER);
    if put_folder.exists() {
        std::fs::remove_dir_all(&put_folder)
            .ctx(|| format!("cannot remove {}", put_folder.display()))?;
    }
    let import_s = fresh_process_import(&brain_exe()?, &vault)?.as_secs_f64();
    let open = OpenVault::open(&vault)?;
    let notes = open
        .store
        .count_live()
        .ctx(|| "counting the notes".into())? as f64;
    let brain = open.facade()?;

    let set = timed_batch(
        &vault,
        (&brain, open.store.as_ref()),
        &["batch", "set", "bench=1", "--where", "type:note"],
        true,
    )?;
    let id = set.id.to_string();
    let rollback = timed_batch(
        &vault,
        (&brain, open.store.as_ref()),
        &["batch", "rollback", &id],
        false,
    )?;
    // With nothing else running, after the batches: the baseline of the puts during one.
    let idle_puts = (0..args.puts)
        .map(|i| timed_put(&vault, &format!("idle-{i}")))
        .collect::<Result<Vec<_>>>()?;
    let rate = |s: f64| notes / s;
    let result = json!({
        "bench": "batch", "notes": notes as u64,
        "import": {"brain_sync_s": import_s, "notes_per_s": rate(import_s)},
        "set": {
            "batch_id": set.id, "queued_s": set.queued_s,
            "store_s": set.store_s, "store_notes_per_s": rate(set.store_s),
            "files_s": set.files_s, "files_notes_per_s": rate(set.files_s),
            "store_ratio_to_import": import_s / set.store_s,
            "changed": set.changed,
        },
        "put_during_batch": stats(set.puts), "put_idle": stats(idle_puts),
        "put_target_p99_ms": 100,
        "rollback": {
            "batch_id": rollback.id, "store_s": rollback.store_s,
            "store_notes_per_s": rate(rollback.store_s),
            "files_s": rollback.files_s, "files_notes_per_s": rate(rollback.files_s),
            "changed": rollback.changed,
        },
    });
    if json_out {
        out::json(&result)?;
    } else {
        print(&result)?;
    }
    Ok(0)
}

/// One batch as the bench timed it.
struct Timed {
    id: i64,
    queued_s: f64,
    store_s: f64,
    files_s: f64,
    changed: u64,
    puts: Vec<Duration>,
}

/// Runs `brain --json ARGS` (a command that queues a batch and starts a worker for it), then
/// waits for the batch to end in the store and for its files; with `puts`, times `brain put`
/// processes one after another meanwhile.
fn timed_batch(
    vault: &Path,
    (brain, store): (&Brain, &dyn Backend),
    args: &[&str],
    puts: bool,
) -> Result<Timed> {
    let start = Instant::now();
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let out = brain_cmd(vault, &full)?
        .output()
        .ctx(|| format!("cannot run brain {args:?}"))?;
    if !out.status.success() {
        fail!(
            "brain {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let queued_s = start.elapsed().as_secs_f64();
    let said: Value =
        serde_json::from_slice(&out.stdout).ctx(|| format!("brain {args:?} printed no JSON"))?;
    let Some(id) = said["batch_id"].as_i64() else {
        fail!("brain {args:?} queued no batch: {said}");
    };
    let mut put_times = Vec::new();
    let report = loop {
        let report = brain
            .batch_report(id)
            .ctx(|| format!("reading batch {id}"))?;
        if report.is_finished() {
            break report;
        }
        if start.elapsed() > LIMIT {
            fail!("batch {id} did not end within {} s", LIMIT.as_secs());
        }
        if puts {
            let began = Instant::now();
            put_times.push(timed_put(
                vault,
                &format!("during-{id}-{}", put_times.len()),
            )?);
            std::thread::sleep(PUT_EVERY.saturating_sub(began.elapsed()));
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let store_s = start.elapsed().as_secs_f64();
    if report.state != "succeeded" {
        fail!("batch {id} ended {}: {:?}", report.state, report.failures);
    }
    wait_for_files(store, start)?;
    Ok(Timed {
        id,
        queued_s,
        store_s,
        files_s: start.elapsed().as_secs_f64(),
        changed: report.changed,
        puts: put_times,
    })
}

/// Waits until no export is queued or running and no note waits to be written.
fn wait_for_files(store: &dyn Backend, start: Instant) -> Result<()> {
    loop {
        let exporting = store
            .job_counts()
            .ctx(|| "reading the queue".into())?
            .iter()
            .any(|c| c.job_type == "directory-export");
        let dirty = store
            .dirty_entities()
            .ctx(|| "reading the notes to write".into())?;
        if !exporting && dirty.is_empty() {
            return Ok(());
        }
        if start.elapsed() > LIMIT {
            fail!(
                "the batch's files were not written within {} s",
                LIMIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `brain put note/bench-put/NAME` with a small text on stdin, as a process; its wall time.
fn timed_put(vault: &Path, name: &str) -> Result<Duration> {
    let r = format!("note/{PUT_FOLDER}/{name}");
    let t = Instant::now();
    let mut child = brain_cmd(vault, &["put", &r])?
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ctx(|| format!("cannot run brain put {r}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(format!("# {name}\n\nWritten while a batch runs.\n").as_bytes())
            .ctx(|| format!("cannot write to brain put {r}"))?;
    }
    let out = child
        .wait_with_output()
        .ctx(|| format!("brain put {r} did not end"))?;
    let took = t.elapsed();
    if !out.status.success() {
        fail!(
            "brain put {r} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(took)
}

fn print(r: &Value) -> Result<()> {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let (set, rb) = (&r["set"], &r["rollback"]);
    out::line(format!("batch bench, {} notes", r["notes"]))?;
    out::line(format!(
        "  import (fresh brain sync): {:.2} s, {:.0} notes/s",
        f(&r["import"]["brain_sync_s"]),
        f(&r["import"]["notes_per_s"])
    ))?;
    out::line(format!(
        "  batch set bench=1 over every note: queued in {:.2} s; store {:.2} s ({:.0} notes/s, {:.2}x the import rate), files {:.2} s ({:.0} notes/s)",
        f(&set["queued_s"]),
        f(&set["store_s"]),
        f(&set["store_notes_per_s"]),
        f(&set["store_ratio_to_import"]),
        f(&set["files_s"]),
        f(&set["files_notes_per_s"])
    ))?;
    let (during, idle) = (&r["put_during_batch"], &r["put_idle"]);
    out::line(format!(
        "  brain put during the batch: p50 {:.1} ms, p99 {:.1} ms over {} puts (target p99 < 100 ms); with nothing running: p50 {:.1} ms, p99 {:.1} ms",
        f(&during["p50_ms"]),
        f(&during["p99_ms"]),
        during["n"],
        f(&idle["p50_ms"]),
        f(&idle["p99_ms"])
    ))?;
    out::line(format!(
        "  rollback of that batch: store {:.2} s ({:.0} notes/s), files {:.2} s ({:.0} notes/s)",
        f(&rb["store_s"]),
        f(&rb["store_notes_per_s"]),
        f(&rb["files_s"]),
        f(&rb["files_notes_per_s"])
    ))
}
