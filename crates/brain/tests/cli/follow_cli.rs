//! Issue 15: what a person sees of a job whose worker died, and of a job taken over: `brain
//! status` says the lease lapsed (and gives no ETA), and the next `brain sync` says in words
//! that it takes the job over, with progress that never goes back.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use brain_store::Backend;
use brain_store::jobs::{JobFilter, JobState};
use util::TestVault;
use util::daemon::wait_for;

/// The shortest lease a worker takes (1 s): a killed sync's lease lapses within a second.
const SHORT_LEASE: (&str, &str) = ("BRAIN_JOBS_LEASE_MS", "1000");

/// Long enough that only a hang, never a loaded machine, runs it out.
const GENEROUS: Duration = Duration::from_secs(120);

/// The "Importing X/Y notes" lines of a piped stderr, as `(X, Y)`.
fn import_counts(stderr: &str) -> Vec<(u64, u64)> {
    stderr
        .lines()
        .filter_map(|l| {
            let counts = l.strip_prefix("Importing ")?.strip_suffix(" notes")?;
            let (x, y) = counts.split_once('/')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        })
        .collect()
}

/// Starts `brain sync` on `v` and kills it (SIGKILL) once its import is under way; returns the
/// job it left running under a dead worker.
fn kill_a_sync_mid_import(v: &TestVault) -> brain_store::jobs::Job {
    kill_a_sync_with_lease(v, SHORT_LEASE.1)
}

/// [`kill_a_sync_mid_import`] with a lease of `lease_ms`.
fn kill_a_sync_with_lease(v: &TestVault, lease_ms: &str) -> brain_store::jobs::Job {
    let mut first = v
        .cmd()
        .env(SHORT_LEASE.0, lease_ms)
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let store = v.store();
    let job = wait_for(GENEROUS, "the first sync to import", || {
        sync_job(&store).filter(|j| {
            assert!(!j.state.is_finished(), "ended before it was killed: {j:?}");
            j.state == JobState::Running
                && j.progress
                    .as_ref()
                    .is_some_and(|p| p.phase == Some(brain_core::Phase::Importing) && p.current > 0)
        })
    });
    first.kill().unwrap(); // SIGKILL, mid-import
    first.wait().unwrap();
    job
}

/// The vault's newest `directory-sync` job.
fn sync_job(store: &Arc<dyn Backend>) -> Option<brain_store::jobs::Job> {
    store
        .list_jobs(&JobFilter {
            job_type: Some("directory-sync".into()),
            ..JobFilter::default()
        })
        .unwrap()
        .into_iter()
        .next()
}

#[test]
fn a_killed_sync_shows_as_lapsed_and_the_next_sync_says_it_takes_it_over() {
    let v = TestVault::generated(6_000, false);
    let store = v.store();
    let job = kill_a_sync_mid_import(&v);

    // `brain status` runs no jobs: the job stays as the dead worker left it, and says so.
    let status = wait_for(GENEROUS, "status to show the lapsed lease", || {
        let doc = v.ok(&["--json", "status"]).json();
        let active = doc["active"].as_array().unwrap().clone();
        active
            .into_iter()
            .find(|j| j["id"] == job.id && !j["lease_lapsed_s"].is_null())
    });
    assert_eq!(status["state"], "running", "{status}");
    assert!(
        status["eta_s"].is_null(),
        "no ETA for a job nobody works on: {status}"
    );
    let text = v.ok(&["status"]).stdout;
    assert!(
        text.contains(&format!(
            "#{} is running, but its worker stopped responding (lease lapsed",
            job.id
        )) && text.contains("`brain sync` or `brain serve` takes it over"),
        "{text}"
    );
    assert!(!text.contains(" ETA "), "{text}");

    // The next sync joins the job, says in words that it takes it over, and its progress goes
    // on from where the killed one was.
    let r = sync_with_lease(&v, SHORT_LEASE.1);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "Sync job #{} taken over by this command (attempt 2 of",
            job.id
        )),
        "the takeover is said in words: {}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("WARN") && !r.stderr.contains("reclaimed"),
        "no log line about the reclaim: {}",
        r.stderr
    );
    let counts = import_counts(&r.stderr);
    assert!(counts.len() >= 2, "{}", r.stderr);
    assert!(
        counts[0].0 > 0,
        "the first line says where the killed sync was, not 0: {}",
        r.stderr
    );
    for w in counts.windows(2) {
        assert!(
            w[1].0 >= w[0].0 && w[1].1 >= w[0].1,
            "progress went back ({:?} then {:?}): {}",
            w[0],
            w[1],
            r.stderr
        );
    }
    let last = counts.last().unwrap();
    assert_eq!(last.0, last.1, "it ends at its total: {}", r.stderr);
    assert_eq!(
        *last,
        (6_000, 6_000),
        "the total is the vault's notes: the dead attempt's count is not added again: {}",
        r.stderr
    );
    let done = store.job(job.id).unwrap();
    assert_eq!((done.state, done.attempts), (JobState::Succeeded, 2));
    // The first attempt's end is history, not the outcome, in `jobs show`.
    let shown = v.ok(&["jobs", "show", &job.id.to_string()]).stdout;
    assert!(
        shown.contains("earlier    an earlier attempt ended: worker stopped responding")
            && !shown.contains("  error "),
        "{shown}"
    );
}

/// Issue 15 (a reviewer's finding): right after `kill -9`, while the dead worker's lease still
/// holds, every view says the worker is gone (its pid no longer runs here) and gives no ETA:
/// `brain status`, `brain jobs list`, `brain jobs show`, text and JSON alike; and a `brain sync`
/// started then says why its bar waits, before it takes the job over.
#[test]
fn a_worker_killed_within_its_lease_is_shown_gone_everywhere_at_once() {
    let v = TestVault::generated(6_000, false);
    let store = v.store();
    let job = kill_a_sync_with_lease(&v, "4000");
    let id = job.id.to_string();
    let pid = job
        .worker
        .as_deref()
        .and_then(|w| w.strip_prefix("pid"))
        .and_then(|w| w.split('-').next())
        .unwrap()
        .to_string();
    let gone = format!("running, but its worker (pid {pid}) is gone");
    let row = store.job(job.id).unwrap();
    assert!(
        row.lease_until_ms.unwrap() > brain_core::time::now_ms(),
        "looked while the lease holds: {row:?}"
    );
    let status = v.ok(&["--json", "status"]).json();
    let active = status["active"].as_array().unwrap();
    let s = active.iter().find(|j| j["id"] == job.id).unwrap();
    assert_eq!(
        (&s["worker_gone"], &s["eta_s"]),
        (&serde_json::json!(true), &serde_json::Value::Null),
        "{s}"
    );
    for args in [
        vec!["status"],
        vec!["jobs", "list"],
        vec!["jobs", "show", &id],
    ] {
        let out = v.ok(&args).stdout;
        assert!(out.contains(&gone), "{args:?}: {out}");
        assert!(!out.contains(" ETA "), "{args:?}: {out}");
    }
    let listed = v.ok(&["--json", "jobs", "list"]).json();
    let l = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == job.id)
        .unwrap()
        .clone();
    assert_eq!(l["worker_gone"], true, "{l}");
    let shown = v.ok(&["--json", "jobs", "show", &id]).json();
    assert_eq!(shown["worker_gone"], true, "{shown}");

    let r = sync_with_lease(&v, "4000");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "Sync job #{id}: its worker (pid {pid}) is gone; it is taken over when its lease lapses"
        )) && r
            .stderr
            .contains(&format!("Sync job #{id} taken over by this command")),
        "{}",
        r.stderr
    );
}

/// A hostile tester's finding: cancelling a sync whose worker was killed said "it stops within
/// a second", though nobody works on it. The answer says what happens and when; the job ends
/// cancelled once a worker looks after its lease lapsed.
#[test]
fn cancelling_a_sync_whose_worker_is_gone_says_when_it_ends() {
    let v = TestVault::generated(6_000, false);
    let job = kill_a_sync_with_lease(&v, "4000");
    let id = job.id.to_string();
    let said = v.ok(&["jobs", "cancel", &id]).stdout;
    assert!(
        said.contains(&format!(
            "Job #{id}: cancel requested. Nobody works on it now"
        )) && said.contains("it is marked cancelled when its lease lapses")
            && !said.contains("within a second"),
        "{said}"
    );
    let shown = v.ok(&["jobs", "show", &id]).stdout;
    assert!(
        !shown.contains("within a second") && shown.contains("it is marked cancelled"),
        "{shown}"
    );
    let _ = sync_with_lease(&v, "4000");
    let row = v.store().job(job.id).unwrap();
    assert_eq!(row.state, JobState::Cancelled, "{row:?}");
}

/// Issue 15 (a reviewer's finding): a `brain sync` that joined a dead sync and took it over
/// runs it now, so its Ctrl-C cancels the job cleanly, as for a sync it started; it does not
/// leave the job running under a worker that is about to die (and spend one more attempt).
#[test]
fn ctrl_c_cancels_a_sync_this_command_took_over() {
    let v = TestVault::generated(20_000, false);
    let store = v.store();
    let job = kill_a_sync_mid_import(&v);
    let second = v
        .cmd()
        .env(SHORT_LEASE.0, SHORT_LEASE.1)
        .arg("sync")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ours = format!("pid{}-", second.id());
    wait_for(GENEROUS, "the second sync to run the job", || {
        let j = store.job(job.id).unwrap();
        assert!(!j.state.is_finished(), "ended before the Ctrl-C: {j:?}");
        (j.state == JobState::Running && j.worker.as_deref().is_some_and(|w| w.contains(&ours)))
            .then_some(())
    });
    let pid = nix_free_kill(second.id(), "INT");
    let out = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "pid {pid}: {stderr}");
    assert!(
        stderr.contains(&format!("Sync job #{} cancelled", job.id)),
        "{stderr}"
    );
    assert!(!stderr.contains("kept in the queue"), "{stderr}");
    let j = store.job(job.id).unwrap();
    assert_eq!(j.state, JobState::Cancelled, "{j:?}");
    assert_eq!(
        j.attempts, 2,
        "no attempt spent on a worker left to die: {j:?}"
    );
}

/// Sends `signal` to `pid` with kill(1).
fn nix_free_kill(pid: u32, signal: &str) -> u32 {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    pid
}

/// Issue 15 (a reviewer's finding): a sync whose worker died on its last attempt has failed
/// through no fault of the sync; the next `brain sync` joins it, says so, and starts a fresh
/// sync that finishes the work (exit 0), instead of failing with exit 1 and no advice.
#[test]
fn a_sync_out_of_attempts_is_started_afresh_by_the_next_sync() {
    let v = TestVault::generated(3_000, false);
    let store = v.store();
    let job = kill_a_sync_mid_import(&v);
    // As if it had been taken over and killed twice more: its last attempt is the one that
    // died. (Setup only: the store has no operation that spends attempts.)
    let db = rusqlite::Connection::open(v.root().join(".brain").join("brain.db")).unwrap();
    db.execute(
        "UPDATE jobs SET attempts = max_attempts WHERE id = ?1",
        [job.id],
    )
    .unwrap();
    drop(db);
    let out = v
        .cmd()
        .env(SHORT_LEASE.0, SHORT_LEASE.1)
        .args(["--json", "sync"])
        .output()
        .unwrap();
    let r = util::Run::from(out);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("Sync job #{} ran out of attempts", job.id))
            && r.stderr.contains("what it imported is kept"),
        "{}",
        r.stderr
    );
    let doc = r.json();
    assert_ne!(doc["job"], job.id, "a fresh job: {doc}");
    assert_eq!(doc["restarted"], true, "{doc}");
    assert_eq!(doc["joined"], true, "{doc}");
    let old = store.job(job.id).unwrap();
    assert_eq!(old.state, JobState::Failed, "{old:?}");
    let notes = v.ok(&["--json", "status"]).json()["notes"].clone();
    assert_eq!(notes, 3_000, "every note is in: {notes}");
}

/// `brain sync` run with a lease of `lease_ms` (a killed attempt's is taken over that soon).
fn sync_with_lease(v: &TestVault, lease_ms: &str) -> util::Run {
    let out = v
        .cmd()
        .env(SHORT_LEASE.0, lease_ms)
        .arg("sync")
        .output()
        .unwrap();
    util::Run::from(out)
}
