//! Issue 3: every sync is a job in the persistent queue; it survives SIGKILL, joins a running
//! sync, detaches, and is visible in `brain status` and `brain jobs`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod util;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use util::{TestVault, listed};

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

#[test]
fn sigkill_mid_sync_then_restart_imports_every_note_exactly_once() {
    let v = TestVault::generated(10_000, false);
    let mut total_before = 0;
    for round in 0..3 {
        let mut child = sync_in_progress(&v, &[]);
        // Kill at a different point each round: right away, and after some work.
        std::thread::sleep(Duration::from_millis(150 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let now = listed(&v, &[]).len();
        assert!(
            now >= total_before,
            "notes were lost: {now} < {total_before}"
        );
        total_before = now;
        if now == 10_000 {
            break;
        }
    }
    // The restart takes over the dead sync's job once its lease runs out.
    let r = v.run(&["--json", "sync"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let names = listed(&v, &[]);
    assert_eq!(names.len(), 10_000);
    let unique: std::collections::HashSet<_> = names.iter().collect();
    assert_eq!(unique.len(), 10_000, "a note was imported twice");
    assert!(jobs(&v, "running").is_empty(), "no job stays running");
    assert!(jobs(&v, "queued").is_empty());
    let again = v.ok(&["--json", "sync"]).json();
    assert_eq!(
        (again["imported"].as_u64(), again["updated"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
}

#[test]
fn a_second_sync_joins_the_running_one() {
    let v = TestVault::generated(6000, false);
    let first = sync_in_progress(&v, &["--json"]);
    let second = v.run(&["--json", "sync"]);
    let first = first.wait_with_output().unwrap();
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(first.status.success());
    let first: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let second = second.json();
    assert_eq!(first["job"], second["job"], "both followed the same job");
    assert_eq!(first["imported"], 6000);
    let all = v.ok(&["--json", "jobs", "list"]).json();
    assert_eq!(all.as_array().unwrap().len(), 1, "one job, not two: {all}");
}

#[test]
fn detach_queues_and_a_background_worker_runs_it() {
    let v = TestVault::new();
    v.write("a.md", "a\n");
    let r = v.ok(&["--json", "sync", "--detach"]).json();
    let id = r["job"].as_i64().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = v.ok(&["--json", "jobs", "show", &id]).json();
        if job["state"] == "succeeded" {
            assert_eq!(job["result"]["imported"], 1);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the detached sync never finished: {job}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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
    let child = sync_in_progress(&v, &[]);
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

    let id = active[0]["id"].to_string();
    let asked = std::time::Instant::now();
    let cancel = v.ok(&["--json", "jobs", "cancel", &id]).json();
    assert_eq!(cancel["state"], "running", "a running job is asked to stop");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "stopped in {:?}",
        asked.elapsed()
    );
    let job = v.ok(&["--json", "jobs", "show", &id]).json();
    assert_eq!(job["state"], "cancelled");
    assert!(listed(&v, &[]).len() < 10_000, "cancelled before the end");
}

#[test]
fn a_sync_with_other_flags_does_not_join_a_refused_one() {
    let v = util::vault_after_deleting(25);
    assert_eq!(v.run(&["sync"]).code, 5);
    let failed = jobs(&v, "failed")[0]["id"].to_string();
    v.ok(&["jobs", "retry", &failed]);
    // The retried plain sync is queued again; --allow-mass-delete must not join it.
    let r = v.run(&["--json", "sync", "--allow-mass-delete"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["deleted"], 25);
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
    let t = Instant::now();
    v.ok(&["work", "--until-idle"]);
    v.write("a.md", "a\n");
    v.sync();
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "waited for a job nobody here can run"
    );
    assert_eq!(
        jobs(&v, "queued").len(),
        1,
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
    let mut child = v
        .cmd()
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let running = jobs(&v, "running");
        let waiting = running.first().is_some_and(|j| {
            j["progress"]["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("Waiting")
        });
        if waiting {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sync never reported waiting for the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let asked = Instant::now();
    let status = child.wait().unwrap();
    let group = format!("-{}", holder.id());
    std::process::Command::new("kill")
        .args(["-TERM", "--", &group])
        .status()
        .unwrap();
    holder.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "took {:?}",
        asked.elapsed()
    );
}
