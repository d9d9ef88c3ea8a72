//! How `brain serve` starts, stops and shares work: signals, a `brain sync` run by the daemon
//! or taken over when it dies, and jobs that must not keep it busy.

use super::*;

#[test]
fn sigterm_lets_the_running_job_finish() {
    let v = TestVault::generated(1000, false);
    // The test holds the vault lock: the initial sync runs but cannot end until the test lets
    // it, so the SIGTERM lands while it runs.
    let lock = v.hold_sync_lock();
    let mut d = v.serve(&[]);
    let running = v.waiting_for_sync_lock("directory-sync");
    let sent = brain_core::time::now_ms();
    util::daemon::signal(d.pid(), "TERM");
    wait_for(LIMIT, "the daemon to say it is stopping", || {
        (v.daemon_state()?["state"] == "stopping").then_some(())
    });
    assert_eq!(
        v.store().job(running.id).unwrap().state,
        JobState::Running,
        "still running when the daemon began to stop"
    );
    drop(lock);
    let status = d.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let jobs = v.jobs_of("directory-sync");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JobState::Succeeded, "drained, not abandoned");
    assert_eq!(jobs[0].attempts, 1, "in its first attempt");
    let (started, finished) = (jobs[0].started_ms.unwrap(), jobs[0].finished_ms.unwrap());
    assert!(
        started < sent && sent < finished,
        "SIGTERM at {sent} while the job ran ({started}..{finished})"
    );
    assert_eq!(jobs[0].result.as_ref().unwrap()["imported"], 1000);
    assert_eq!(v.store().count_live().unwrap(), 1000);
}

#[test]
fn ctrl_c_says_what_it_waits_for_and_a_second_leaves_at_once() {
    let v = TestVault::generated(300, false);
    // The initial sync waits for the lock the test holds, so it is running when Ctrl-C lands.
    let lock = v.hold_sync_lock();
    let log = v.root().join("serve.log");
    let mut d = v.serve_logged(&[], &log);
    let running = v.waiting_for_sync_lock("directory-sync");
    util::daemon::signal(d.pid(), "INT");
    let said = wait_for(LIMIT, "the daemon to say what it waits for", || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.contains("Stopping:").then_some(text)
    });
    for part in [
        format!(
            "Stopping: waiting for 1 running job(s) to finish: #{} directory-sync",
            running.id
        ),
        "Press Ctrl-C to leave at once".to_string(),
    ] {
        assert!(said.contains(&part), "no {part:?} in:\n{said}");
    }
    util::daemon::signal(d.pid(), "INT");
    let status = d.child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("Stopped at once"),
        "the second Ctrl-C says how it left"
    );
    drop(lock);
    // Left unfinished, the job is taken over once its lease ends, and finishes.
    assert_eq!(v.store().job(running.id).unwrap().state, JobState::Running);
    let r = v.ok(&["--json", "sync"]).json();
    assert_eq!(r["job"], running.id, "the next sync follows the same job");
    assert_eq!(v.store().count_live().unwrap(), 300);
}

#[test]
fn a_sync_command_with_a_daemon_running_is_run_by_the_daemon() {
    let (v, d) = served_vault(&[]);
    v.write("b.md", "# B\n");
    let report = v.ok(&["--json", "sync"]).json();
    let job = v.store().job(report["job"].as_i64().unwrap()).unwrap();
    assert!(
        job.worker
            .as_deref()
            .is_some_and(|w| w.starts_with(&format!("pid{}-", d.pid()))),
        "run by the daemon's worker: {:?}",
        job.worker
    );
    assert!(v.entity_content("note/b").is_some());
    // A second daemon is refused, saying which process serves the vault.
    let second = v.run(&["serve"]);
    assert_eq!(second.code, 1);
    assert!(
        second.stderr.contains(&d.pid().to_string()),
        "{}",
        second.stderr
    );
}

#[test]
fn a_sync_following_a_daemon_that_dies_runs_the_job_itself() {
    let v = TestVault::generated(1000, false);
    // The test holds the vault lock: the daemon's initial sync runs but cannot end, so it still
    // runs when the follower joins it and when the daemon is killed.
    let lock = v.hold_sync_lock();
    let d = v.serve(&[]);
    let started = v.waiting_for_sync_lock("directory-sync").id;
    let mut follower = v
        .cmd()
        .args(["--json", "sync"])
        .env("BRAIN_JOBS_LEASE_MS", "2000")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the daemon only once the follower has joined its job (it saw the daemon).
    let stderr = follower.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    wait_for(LIMIT, "the follower to join the daemon's sync", || {
        seen.extend(rx.try_iter());
        seen.iter()
            .any(|l| l.starts_with("Joining sync job"))
            .then_some(())
    });
    assert_eq!(v.store().job(started).unwrap().state, JobState::Running);
    d.kill(); // SIGKILL: the job is left running under a lease nobody renews
    assert_eq!(v.store().job(started).unwrap().state, JobState::Running);
    drop(lock);
    let mut stdout = String::new();
    follower
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = follower.wait().unwrap();
    seen.extend(rx.iter());
    let stderr = seen.join("\n");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("running sync job"), "{stderr}");
    // The job it joined is the one it finished: taken over after its lease, not a new one.
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["job"], started, "{stdout}");
    let jobs = v.jobs_of("directory-sync");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].state, JobState::Succeeded, "{:?}", jobs[0]);
    assert_eq!(
        jobs[0].attempts, 2,
        "the daemon's attempt, then the follower's"
    );
    assert!(
        jobs[0]
            .worker
            .as_deref()
            .is_some_and(|w| w.starts_with(&format!("pid{}-", follower.id()))),
        "finished by the follower: {:?}",
        jobs[0].worker
    );
    assert_eq!(v.store().count_live().unwrap(), 1000);
}

/// A queued job of a type no plugin of this build registers (written by another build, or by
/// a plugin no longer loaded) is never run here: `brain status` and `brain jobs show` say so
/// and how to remove it, and it does not keep the daemon from being idle (its index upkeep
/// waits for idle).
#[test]
fn a_job_no_plugin_runs_is_said_and_does_not_keep_the_daemon_busy() {
    let v = TestVault::new();
    let row = brain_store::jobs::NewJob {
        job_type: "from-the-future".into(),
        input: serde_json::json!({}),
        priority: 5,
        run_at_ms: 0,
        max_attempts: 1,
        dedupe: None,
        parent_id: None,
        bound_to_replica: false,
    };
    let id = v.store().enqueue(&[row], 0).unwrap()[0].id();
    let status = v.ok(&["status"]);
    assert!(
        status
            .stdout
            .contains("Waiting for a plugin this build does not have: from-the-future"),
        "{}",
        status.stdout
    );
    assert_eq!(
        v.ok(&["--json", "status"]).json()["unhandled_types"],
        serde_json::json!(["from-the-future"])
    );
    let show = v.ok(&["jobs", "show", &id.to_string()]);
    assert!(
        show.stdout
            .contains("No plugin of this build runs from-the-future jobs"),
        "{}",
        show.stdout
    );
    let daemon = v.serve(&[]);
    v.fence_idle();
    assert_eq!(daemon.stop(), 0);
    v.ok(&["jobs", "cancel", &id.to_string()]);
    let status = v.ok(&["status"]);
    assert!(
        !status.stdout.contains("Waiting for a plugin"),
        "{}",
        status.stdout
    );
}

#[test]
fn paused_jobs_do_not_keep_a_worker_busy() {
    let v = TestVault::new();
    v.ok(&["sync", "pause"]);
    let put = v.run_stdin(&["put", "note/a"], b"# A\n");
    assert!(put.stdout.contains("sync is paused"), "{}", put.stdout);
    // Returns although an export is queued: it waits for resume, not for this worker.
    v.ok(&["work", "--until-idle"]);
    assert!(!v.path("a.md").exists());
    v.ok(&["sync", "resume"]);
    v.ok(&["work", "--until-idle"]);
    assert_eq!(v.read("a.md"), b"# A\n");
}
