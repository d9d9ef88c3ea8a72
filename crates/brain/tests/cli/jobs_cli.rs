//! Issue 3: every sync is a job in the persistent queue; it survives SIGKILL, joins a running
//! sync, detaches, and is visible in `brain status` and `brain jobs`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

// `brain batch` (issue 20): batches are jobs, so their tests share this binary.
#[path = "jobs_cli/batch.rs"]
mod batch;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use brain_core::time::now_ms;
use brain_store::jobs::{Job, JobFilter, JobState};
use util::daemon::wait_for;
use util::{TestVault, listed};

/// The lease of every process in the SIGKILL test: the shortest a worker takes (1 s), so the
/// next `brain sync` takes a killed one's job over within a second or two.
const SHORT_LEASE: (&str, &str) = ("BRAIN_JOBS_LEASE_MS", "1000");

/// How long a test waits for something that happens in seconds on an idle machine: long enough
/// that only a hang, never a loaded machine, runs it out.
const GENEROUS: Duration = Duration::from_secs(120);

/// How long `brain sync` runs other due jobs after its own before it leaves.
const DRAIN_MS: i64 = 60_000;

/// Starts `brain sync` and returns once it printed its first progress line (the import runs).
fn sync_in_progress(v: &TestVault, extra: &[&str]) -> Child {
    let (child, lines) = util::sync_until_importing(v, extra);
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    child
}

fn jobs(v: &TestVault, state: &str) -> Vec<serde_json::Value> {
    v.ok(&["--json", "jobs", "list", "--state", state])
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// Waits for `child` to exit; kills it and fails after `limit`, which catches a hang.
fn exit_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A child process killed when the test leaves, passing or failing, so no `brain sync` is left
/// behind following a job.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` to its end, reading its output as it comes; kills it and fails after `limit`.
/// Returns the process id with what it did.
fn run_within(mut cmd: std::process::Command, limit: Duration, what: &str) -> (u32, util::Run) {
    let mut child = Reaped(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).unwrap();
            text
        })
    };
    let stdout = drain(Box::new(child.0.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.0.stderr.take().unwrap()));
    let status = exit_within(&mut child.0, limit, what);
    let run = util::Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    (child.0.id(), run)
}

/// Starts `brain sync` with the short lease, its output discarded.
fn spawn_sync(v: &TestVault) -> Child {
    v.cmd()
        .env(SHORT_LEASE.0, SHORT_LEASE.1)
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until the process `child` runs the sync job itself, on attempt `attempt`, and reported
/// importing at least `at_least` notes in that attempt (a claim clears the progress, so what it
/// shows is this attempt's). Fails if the job or the process ends first.
fn wait_running_in(v: &TestVault, child: &mut Child, attempt: u32, at_least: u64) -> Job {
    let store = v.store();
    let ours = format!("pid{}-", child.id());
    wait_for(
        GENEROUS,
        &format!(
            "process {} to import {at_least}+ notes on attempt {attempt}",
            child.id()
        ),
        || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the sync exited ({status}) before it was caught running attempt {attempt}");
            }
            let syncs = store
                .list_jobs(&JobFilter {
                    job_type: Some("directory-sync".into()),
                    ..JobFilter::default()
                })
                .unwrap();
            let job = syncs.first()?;
            assert!(
                !job.state.is_finished(),
                "the sync job ended ({:?}) before attempt {attempt} was caught: {job:?}",
                job.state
            );
            let importing = job
                .progress
                .as_ref()
                .is_some_and(|p| p.message.starts_with("Importing") && p.current >= at_least);
            let runs_it = job.state == JobState::Running
                && job.attempts == attempt
                && job.worker.as_deref().is_some_and(|w| w.starts_with(&ours));
            (runs_it && importing).then(|| job.clone())
        },
    )
}

#[test]
fn sigkill_mid_sync_is_taken_over_and_the_job_imports_every_note_exactly_once() {
    const NOTES: usize = 10_000;
    let v = TestVault::generated(NOTES, false);
    let mut present = 0;
    let mut killed: Option<Job> = None;
    let mut attempt = 1;
    // Every attempt but the last is killed, each while it runs the job: the first as its
    // import begins, the next ones after their own import moved on a little.
    loop {
        let mut child = Reaped(spawn_sync(&v));
        let at_least = if attempt == 1 { 1 } else { 300 };
        let job = wait_running_in(&v, &mut child.0, attempt, at_least);
        if let Some(first) = &killed {
            assert_eq!(
                job.id, first.id,
                "the killed job is taken over, not a new one"
            );
        }
        drop(child); // SIGKILL, while it runs the job
        let now = listed(&v, &[]).len();
        assert!(now >= present, "notes were lost: {now} < {present}");
        present = now;
        killed = Some(job);
        if attempt + 1 >= killed.as_ref().unwrap().max_attempts {
            break;
        }
        attempt += 1;
    }
    let killed = killed.unwrap();
    assert!(
        killed.max_attempts >= 2,
        "a killed sync is retried: {killed:?}"
    );
    assert!(present < NOTES, "the killed attempts left notes to import");

    // The last attempt: a plain `brain sync` joins the dead job and takes it over once its
    // lease runs out.
    let mut last = v.cmd();
    last.env(SHORT_LEASE.0, SHORT_LEASE.1)
        .args(["--json", "sync"]);
    let (last_pid, r) = run_within(last, GENEROUS, "the last sync");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(
        report["job"], killed.id,
        "the last sync followed the killed job"
    );
    let job = v.store().job(killed.id).unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert_eq!(
        job.attempts,
        attempt + 1,
        "one attempt per process: {job:?}"
    );
    assert!(
        job.worker
            .as_deref()
            .is_some_and(|w| w.starts_with(&format!("pid{last_pid}-"))),
        "the last sync ran the job itself: {job:?}"
    );
    assert_eq!(job.result.as_ref(), Some(&report_without_job(&report)));
    assert_eq!(
        present as u64 + report["imported"].as_u64().unwrap(),
        NOTES as u64,
        "the last attempt imported exactly the notes the killed ones had not: {report}"
    );
    assert_eq!(
        (report["updated"].as_u64(), report["unchanged"].as_u64()),
        (Some(0), Some(present as u64)),
        "what the killed attempts imported is not imported again: {report}"
    );
    assert_eq!(listed(&v, &[]).len(), NOTES);
    assert_eq!(
        v.jobs_of("directory-sync").len(),
        1,
        "every sync joined the one job"
    );
    assert!(jobs(&v, "running").is_empty(), "no job stays running");
    assert!(jobs(&v, "queued").is_empty());
    let again = v.ok(&["--json", "sync"]).json();
    assert_eq!(
        (again["imported"].as_u64(), again["updated"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
}

/// A sync report as the job stored it: the CLI adds the job's id.
/// The job's stored result: `brain sync --json` prints it with what the command adds (the
/// job's id, and whether it joined, took over or restarted the job).
fn report_without_job(report: &serde_json::Value) -> serde_json::Value {
    let mut stored = report.clone();
    for added in ["job", "joined", "taken_over", "restarted"] {
        stored.as_object_mut().unwrap().remove(added);
    }
    stored
}

#[test]
fn a_second_sync_joins_the_running_one() {
    let v = TestVault::generated(1000, false);
    // The test holds the vault lock: the first sync's job runs but waits for it, so it cannot
    // end before the second sync joins it, however the processes are scheduled.
    let lock = v.hold_sync_lock();
    let first = Reaped(
        v.cmd()
            .args(["--json", "sync"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let running = v.waiting_for_sync_lock("directory-sync");
    let mut second = Reaped(
        v.cmd()
            .args(["--json", "sync"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = second.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let drain = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    wait_for(GENEROUS, "the second sync to join the first's job", || {
        seen.extend(rx.try_iter());
        seen.iter()
            .any(|l| {
                l == &format!(
                    "Joining sync job #{}, already queued or running.",
                    running.id
                )
            })
            .then_some(())
    });
    assert_eq!(
        v.store().job(running.id).unwrap().state,
        JobState::Running,
        "joined while the first sync's job still ran"
    );
    drop(lock);
    let out = |child: &mut Reaped| {
        let status = exit_within(&mut child.0, GENEROUS, "a sync");
        let mut stdout = String::new();
        child
            .0
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        (status, stdout)
    };
    let mut first = first;
    let (first_status, first_out) = out(&mut first);
    let (second_status, second_out) = out(&mut second);
    drain.join().unwrap();
    seen.extend(rx.try_iter());
    assert!(first_status.success());
    assert!(second_status.success(), "{}", seen.join("\n"));
    let first: serde_json::Value = serde_json::from_str(&first_out).unwrap();
    let second: serde_json::Value = serde_json::from_str(&second_out).unwrap();
    assert_eq!(first["job"], running.id, "{first}");
    assert_eq!(first["job"], second["job"], "both followed the same job");
    assert_eq!(first["imported"], 1000);
    let all = v.ok(&["--json", "jobs", "list"]).json();
    assert_eq!(all.as_array().unwrap().len(), 1, "one job, not two: {all}");
}

#[test]
fn detach_queues_and_a_background_worker_runs_it() {
    let v = TestVault::new();
    v.write("a.md", "a\n");
    let r = v.ok(&["--json", "sync", "--detach"]).json();
    let id = r["job"].as_i64().unwrap().to_string();
    let job = wait_for(GENEROUS, "the detached sync to finish", || {
        let job = v.ok(&["--json", "jobs", "show", &id]).json();
        (job["state"] == "succeeded").then_some(job)
    });
    assert_eq!(job["result"]["imported"], 1);
    assert_eq!(listed(&v, &[]), ["note/a"]);
    let status = v.ok(&["--json", "status"]).json();
    assert_eq!(status["recent"][0]["state"], "succeeded");
    assert_eq!(v.run(&["jobs", "show", "999"]).code, 4);
    let cancel = v.ok(&["--json", "jobs", "cancel", &id]).json();
    assert_eq!(
        cancel["state"], "succeeded",
        "a finished job is left as it is"
    );
    assert_eq!(
        v.run(&["jobs", "retry", &id]).code,
        1,
        "only failed or cancelled jobs are retried"
    );
}

#[test]
fn a_refused_sync_is_not_retried_and_says_why() {
    let v = util::vault_after_deleting(25);
    let r = v.run(&["sync"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    let failed = jobs(&v, "failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["attempts"], 1, "a refusal is not retried");
}

#[test]
fn puts_queue_one_coalesced_export_that_any_worker_runs() {
    let v = TestVault::new();
    let a = v.run_stdin(&["--json", "put", "note/a"], b"# A\n").json();
    let b = v.run_stdin(&["--json", "put", "note/b"], b"# B\n").json();
    assert_eq!(
        a["export_job"], b["export_job"],
        "the second export joins the queued one"
    );
    let queued = jobs(&v, "queued");
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["type"], "directory-export");
    assert_eq!(
        queued[0]["input"]["entities"],
        serde_json::json!(["note/a", "note/b"])
    );
    assert!(
        !v.path("a.md").exists(),
        "nothing runs the export until a worker does"
    );
    v.ok(&["work", "--until-idle"]);
    assert_eq!(v.read("a.md"), b"# A\n");
    assert_eq!(v.read("b.md"), b"# B\n");
    let done = v
        .ok(&["--json", "jobs", "show", &a["export_job"].to_string()])
        .json();
    assert_eq!(done["state"], "succeeded");
    assert_eq!(done["result"]["exported"], 2);
    let again = v.sync();
    assert_eq!(
        (again["imported"].as_u64(), again["exported"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    v.ok(&["rm", "note/a"]);
    v.sync();
    assert!(!v.path("a.md").exists());
    assert!(
        jobs(&v, "queued").is_empty(),
        "sync ran the queued export too"
    );
}

#[test]
fn status_shows_a_running_sync_and_jobs_cancel_stops_it_from_another_process() {
    let v = TestVault::generated(10_000, false);
    let mut child = Reaped(sync_in_progress(&v, &[]));
    // The import is frozen while the test looks and asks: with the store's write lock held by
    // the test, the job can neither commit more nor end, however slowly the status processes
    // run; readers go on.
    let lock = v.hold_store_write_lock();
    let running = v.jobs_of("directory-sync").pop().unwrap();
    let (state, message, current, total) = lock.job_progress(running.id);
    assert_eq!(state, "running");
    assert!(
        message.starts_with("Importing") && total == Some(10_000) && current < 10_000,
        "caught mid-import: {message} {current}/{total:?}"
    );
    let status = v.ok(&["--json", "status"]).json();
    let active = status["active"].as_array().unwrap();
    assert_eq!(active.len(), 1, "{status}");
    assert_eq!(active[0]["type"], "directory-sync");
    assert_eq!(active[0]["state"], "running");
    assert_eq!(active[0]["progress"]["total"], 10_000, "{status}");
    let text = v.ok(&["status"]).stdout;
    assert!(
        text.contains("directory-sync") && text.contains("Importing"),
        "{text}"
    );

    let id = active[0]["id"].as_i64().unwrap();
    assert_eq!(id, running.id);
    // The cancel waits for the lock; once the test lets go, it and the importer go on
    // together, the importer thousands of notes from its end.
    let mut cancel = v.cmd();
    cancel.args(["--json", "jobs", "cancel", &id.to_string()]);
    let cancel = std::thread::spawn(move || run_within(cancel, GENEROUS, "brain jobs cancel"));
    drop(lock);
    let (_, cancel) = cancel.join().unwrap();
    assert_eq!(cancel.code, 0, "{}", cancel.stderr);
    let cancel = cancel.json();
    // The request is in the store by now; the job's own clock says when it stopped.
    let asked = now_ms();
    assert_eq!(cancel["state"], "running", "a running job is asked to stop");
    let job = finished(&v, id);
    assert_eq!(job.state, JobState::Cancelled, "{job:?}");
    stopped_soon_after(&job, asked);
    let status = exit_within(&mut child.0, GENEROUS, "the cancelled sync");
    assert_eq!(status.code(), Some(130));
    let mut stdout = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(
        stdout.is_empty(),
        "a cancelled sync reports no result: {stdout}"
    );
    assert!(listed(&v, &[]).len() < 10_000, "cancelled before the end");
}

/// Waits until job `id` is finished, as its row in the store says.
fn finished(v: &TestVault, id: i64) -> Job {
    let store = v.store();
    wait_for(GENEROUS, &format!("job #{id} to finish"), || {
        let job = store.job(id).unwrap();
        job.state.is_finished().then_some(job)
    })
}

/// Asserts the job ended within 5 s of `asked_ms` (a moment its cancel was already asked for),
/// measured on the job's own clock (its `finished_ms`), so a stalled test thread or a slow exit
/// of the process cannot fail it: the worker relays a cancel on its 400 ms heartbeat.
fn stopped_soon_after(job: &Job, asked_ms: i64) {
    let took = job.finished_ms.unwrap() - asked_ms;
    assert!(
        took < 5_000,
        "job #{} stopped {took} ms after its cancel was asked for",
        job.id
    );
}

#[test]
fn a_sync_with_other_flags_does_not_join_a_refused_one() {
    let v = util::vault_after_deleting(25);
    assert_eq!(v.run(&["sync"]).code, 5);
    let failed = jobs(&v, "failed")[0]["id"].as_i64().unwrap();
    v.ok(&["jobs", "retry", &failed.to_string()]);
    // The retried plain sync is queued again; --allow-mass-delete must not join it.
    let r = v.run(&["--json", "sync", "--allow-mass-delete"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(report["deleted"], 25);
    assert_ne!(report["job"], failed, "a job of its own");
    // The retried plain sync ran first (the older job, one directory job at a time) and was
    // refused again, on its own fresh attempt: nothing it did let the deletes through.
    let retried = v.store().job(failed).unwrap();
    assert_eq!(
        (retried.state, retried.attempts),
        (JobState::Failed, 1),
        "{retried:?}"
    );
    assert!(
        retried
            .error
            .as_deref()
            .is_some_and(|e| e.contains("would delete 25 of 30 notes")),
        "{retried:?}"
    );
    let allowed = v.store().job(report["job"].as_i64().unwrap()).unwrap();
    assert!(
        retried.finished_ms.unwrap() <= allowed.started_ms.unwrap(),
        "the retried sync ended before the allowed one began: {retried:?} {allowed:?}"
    );
}

#[test]
fn jobs_of_unknown_types_do_not_keep_workers_busy() {
    let v = TestVault::new();
    let db = v.path(".brain/brain.db");
    let script = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
        c.execute(\"INSERT INTO jobs (job_type, input, priority, state, attempts, max_attempts, run_at_ms, created_ms) \
        VALUES ('embed-note', '{}', 5, 'queued', 0, 3, 0, 0)\"); c.commit()";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A worker that waited for the job would never be idle: it must end at all.
    let mut work = v.cmd();
    work.args(["work", "--until-idle"]);
    let (_, r) = run_within(work, GENEROUS, "brain work --until-idle");
    assert_eq!(r.code, 0, "{}", r.stderr);
    v.write("a.md", "a\n");
    // A sync that waited for it would hold on for its whole 60 s drain after its own job
    // ended: the job's clock says when that was, the test's when the process had left.
    let mut sync = v.cmd();
    sync.args(["--json", "sync"]);
    let (_, r) = run_within(sync, GENEROUS, "a sync of one note");
    let exited = now_ms();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(report["imported"], 1);
    let job = v.store().job(report["job"].as_i64().unwrap()).unwrap();
    let lingered = exited - job.finished_ms.unwrap();
    assert!(
        lingered < DRAIN_MS,
        "the sync stayed {lingered} ms after its job ended: it waited on the other job"
    );
    assert_eq!(listed(&v, &[]), ["note/a"]);
    let queued = v.jobs_of("embed-note");
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (
            queued[0].state,
            queued[0].attempts,
            queued[0].worker.as_deref()
        ),
        (JobState::Queued, 0, None),
        "the other program's job is left alone"
    );
}

#[test]
fn waiting_for_the_vault_lock_can_be_cancelled() {
    use std::os::unix::process::CommandExt;
    let v = TestVault::new();
    v.write("a.md", "a\n");
    // flock holds the vault lock and says so once it does.
    let mut holder = std::process::Command::new("flock")
        .arg(v.path(".brain/sync.lock"))
        .args(["-c", "echo locked; sleep 60"])
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    let mut child = Reaped(
        v.cmd()
            .arg("sync")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let waiting = wait_for(GENEROUS, "the sync to report waiting for the lock", || {
        jobs(&v, "running").into_iter().find(|j| {
            j["progress"]["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("Waiting")
        })
    });
    util::daemon::signal(child.0.id(), "INT");
    // The signal is delivered by now; the job's own clock says when it stopped.
    let asked = now_ms();
    let job = finished(&v, waiting["id"].as_i64().unwrap());
    let status = exit_within(&mut child.0, GENEROUS, "the interrupted sync");
    let group = format!("-{}", holder.id());
    std::process::Command::new("kill")
        .args(["-TERM", "--", &group])
        .status()
        .unwrap();
    holder.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(job.state, JobState::Cancelled, "{job:?}");
    stopped_soon_after(&job, asked);
}
