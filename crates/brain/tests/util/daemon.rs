//! A real `brain serve` for a test vault, and ways to wait on what it does.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use brain_store::jobs::{Job, JobFilter, JobState};
use brain_store::{JobStore, SqliteStore, Store};
use serde_json::Value;

use super::TestVault;

/// The debounce tests run with: short, so tests are quick, yet long enough that a burst of
/// writes from a test falls into one window even when the test thread stalls on a loaded
/// machine (tests count the jobs a burst makes).
pub const DEBOUNCE_MS: u64 = 400;

/// How long [`TestVault::settle`] wants the daemon quiet: longer than the 250 ms between its
/// published states plus an event's trip from the kernel to the watcher.
const QUIET: Duration = Duration::from_millis(450);

/// Polls `check` every 10 ms until it returns `Some`, or panics after `limit` saying `what`.
pub fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A running `brain serve`; killed when dropped.
pub struct Daemon {
    pub child: Child,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits for the exit; returns the exit code.
    pub fn stop(mut self) -> i32 {
        signal(self.child.id(), "TERM");
        let status = self.child.wait().expect("brain serve exits");
        status.code().unwrap_or(-1)
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -{sig} {pid} failed");
}

impl TestVault {
    /// Starts `brain serve` with the test debounce, no delay before the initial sync and a short
    /// lease, plus `env`; returns once it published that it is ready.
    pub fn serve(&self, env: &[(&str, &str)]) -> Daemon {
        let debounce = DEBOUNCE_MS.to_string();
        let mut cmd = self.cmd();
        cmd.env("BRAIN_SERVE_SYNC_DEBOUNCE_MS", &debounce)
            .env("BRAIN_SERVE_INITIAL_SYNC_DELAY_MS", "0")
            .env("BRAIN_JOBS_LEASE_MS", "2000");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("brain serve starts");
        let daemon = Daemon { child };
        let pid = daemon.pid();
        let store = self.store();
        wait_for(Duration::from_secs(30), "brain serve to be ready", || {
            let state = store.runtime_state("serve").ok()??.value;
            (state["pid"] == pid && state["state"] == "ready").then_some(())
        });
        daemon
    }

    /// The vault's store, opened beside whatever process runs.
    pub fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.path(".brain/brain.db")).expect("store opens")
    }

    /// Every job of `job_type`, oldest first.
    pub fn jobs_of(&self, job_type: &str) -> Vec<Job> {
        let mut jobs = self
            .store()
            .list_jobs(&JobFilter {
                job_type: Some(job_type.into()),
                ..JobFilter::default()
            })
            .unwrap();
        jobs.reverse();
        jobs
    }

    /// Waits until no directory job is queued or running and the daemon's watcher holds no
    /// change in its debounce window (whatever its length), for [`QUIET`] in a row; returns the
    /// jobs of each directory type seen in all, as (sync, import, export) counts.
    pub fn settle(&self) -> (usize, usize, usize) {
        let store = self.store();
        let active = |s: &SqliteStore| {
            s.list_jobs(&JobFilter {
                states: vec![JobState::Queued, JobState::Running],
                ..JobFilter::default()
            })
            .unwrap()
            .into_iter()
            .filter(|j| j.job_type.starts_with("directory-"))
            .count()
        };
        // The watcher's changes not yet turned into jobs, as the daemon last published them.
        let watcher_holds = |s: &SqliteStore| {
            let Ok(Some(state)) = s.runtime_state("serve") else {
                return false;
            };
            // A killed daemon's last state is stale: only a live one holds changes.
            let alive = state.value["pid"]
                .as_u64()
                .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
            if !alive || state.value["state"] == "stopped" {
                return false;
            }
            let w = &state.value["watcher"];
            w["pending_paths"].as_u64().unwrap_or(0) > 0 || w["rescan_pending"] == true
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut idle_since: Option<Instant> = None;
        loop {
            assert!(Instant::now() < deadline, "the daemon never settled");
            if active(&store) == 0 && !watcher_holds(&store) {
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= QUIET {
                    break;
                }
            } else {
                idle_since = None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        (
            self.jobs_of("directory-sync").len(),
            self.jobs_of("directory-import").len(),
            self.jobs_of("directory-export").len(),
        )
    }

    /// The live entity at `r`'s content, if any.
    pub fn entity_content(&self, r: &str) -> Option<String> {
        let e = self.store().get(&r.parse().unwrap()).ok()?;
        Some(e.content())
    }

    /// The daemon's published state.
    pub fn daemon_state(&self) -> Option<Value> {
        Some(self.store().runtime_state("serve").ok()??.value)
    }
}

/// Whether `p` holds exactly `content`.
pub fn holds(p: &Path, content: &str) -> bool {
    std::fs::read(p).is_ok_and(|b| b == content.as_bytes())
}
