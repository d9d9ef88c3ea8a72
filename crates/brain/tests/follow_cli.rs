//! Issue 15: what a person sees of a job whose worker died, and of a job taken over: `brain
//! status` says the lease lapsed (and gives no ETA), and the next `brain sync` says in words
//! that it takes the job over, with progress that never goes back.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod util;

use std::process::Stdio;
use std::time::Duration;

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

#[test]
fn a_killed_sync_shows_as_lapsed_and_the_next_sync_says_it_takes_it_over() {
    let v = TestVault::generated(6_000, false);
    let mut first = v
        .cmd()
        .env(SHORT_LEASE.0, SHORT_LEASE.1)
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let store = v.store();
    let sync_job = || {
        store
            .list_jobs(&JobFilter {
                job_type: Some("directory-sync".into()),
                ..JobFilter::default()
            })
            .unwrap()
            .into_iter()
            .next()
    };
    let job = wait_for(GENEROUS, "the first sync to import", || {
        sync_job().filter(|j| {
            assert!(!j.state.is_finished(), "ended before it was killed: {j:?}");
            j.state == JobState::Running
                && j.progress
                    .as_ref()
                    .is_some_and(|p| p.phase == Some(brain_core::Phase::Importing) && p.current > 0)
        })
    });
    first.kill().unwrap(); // SIGKILL, mid-import
    first.wait().unwrap();

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
        )) && text.contains("the next brain that runs jobs takes it over"),
        "{text}"
    );
    assert!(!text.contains(" ETA "), "{text}");

    // The next sync joins the job, says in words that it takes it over, and its progress goes
    // on from where the killed one was.
    let out = v
        .cmd()
        .env(SHORT_LEASE.0, SHORT_LEASE.1)
        .arg("sync")
        .output()
        .unwrap();
    let r = util::Run::from(out);
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
    let done = store.job(job.id).unwrap();
    assert_eq!((done.state, done.attempts), (JobState::Succeeded, 2));
}
