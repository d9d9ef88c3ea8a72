//! A real `brain serve` for a test vault, and ways to wait on what it does.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use brain_store::Backend;
use brain_store::jobs::{Job, JobFilter, JobState};
use brain_store_sqlite::testing;
use serde_json::Value;

use super::TestVault;

/// The debounce tests run with: short, so tests are quick. No test counts on a burst of its
/// writes fitting in it (a stalled test thread splits any window): a burst that must be one job
/// is one by construction (see `serve.rs`: a window no stall outlasts, closed by stopping the
/// daemon; or the job types paused while it happens).
pub const DEBOUNCE_MS: u64 = 400;

/// The number of the next fence any test of this binary creates: one counter for all vaults,
/// so each vault's fences only grow, whichever daemon (a restarted one starts from 0) sees them.
static NEXT_FENCE: AtomicU64 = AtomicU64::new(1);

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
        self.serve_with_stderr(env, Stdio::inherit())
    }

    /// [`TestVault::serve`] with the daemon's log (its stderr) written to `log`, for a test
    /// that checks what the daemon said.
    pub fn serve_logged(&self, env: &[(&str, &str)], log: &Path) -> Daemon {
        let file = std::fs::File::create(log).expect("the daemon's log file is created");
        self.serve_with_stderr(env, Stdio::from(file))
    }

    fn serve_with_stderr(&self, env: &[(&str, &str)], stderr: Stdio) -> Daemon {
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
            .stderr(stderr)
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

    /// The vault's store, opened beside whatever process runs: its SQLite file, or the
    /// PostgreSQL database its config names.
    pub fn store(&self) -> Arc<dyn Backend> {
        let config: toml::Table = std::fs::read_to_string(self.path(".brain/config.toml"))
            .ok()
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_default();
        let url = config
            .get("store")
            .and_then(|s| s.get("url"))
            .and_then(|u| u.as_str());
        match url {
            Some(url)
                if config["store"].get("backend").and_then(|b| b.as_str()) == Some("postgres") =>
            {
                let options =
                    brain_store_postgres::ConnectOptions::parse(url).expect("the url parses");
                // As this folder's replica: its own runtime state and file bases.
                let replica = std::fs::read_to_string(self.path(".brain/replica"))
                    .map(|r| r.trim().to_string())
                    .unwrap_or_else(|_| brain_store_postgres::DEFAULT_REPLICA.to_string());
                Arc::new(
                    brain_store_postgres::PgStore::open(&options)
                        .expect("store opens")
                        .with_replica(replica),
                )
            }
            _ => testing::at(&self.path(".brain/brain.db")).expect("store opens"),
        }
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

    /// The daemon's published state if the daemon that published it is alive and serving (a
    /// killed daemon's last state is stale).
    fn live_daemon_state(&self) -> Option<Value> {
        let state = self.daemon_state()?;
        let alive = state["pid"]
            .as_u64()
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        (alive && state["state"] == "ready").then_some(state)
    }

    /// Creates a new `.brain/fence-N` and waits until the daemon published that its watcher
    /// took it in and `also` holds of that published state; then removes the fence and returns
    /// the state. Every file change made before the call was taken in by then: the published
    /// `watcher.pending_paths` counts it, or it was flushed into a job (or found an echo).
    /// With native events one fence is enough: its event comes after every earlier change's.
    /// A poll may meet the fence before an earlier change in the same walk; but a fence made
    /// after the previous one was taken in is met in a later walk, so in poll mode the third
    /// fence is met only after a whole walk that began after the changes was taken in.
    pub fn fence_where(&self, what: &str, also: impl Fn(&Value) -> bool) -> Value {
        let poll = wait_for(Duration::from_secs(120), "a live daemon's state", || {
            self.live_daemon_state()
        })["watcher"]["mode"]
            == "poll";
        let rounds = if poll { 3 } else { 1 };
        let mut last = Value::Null;
        for round in 1..=rounds {
            let n = NEXT_FENCE.fetch_add(1, Ordering::SeqCst);
            let fence = self.path(&format!(".brain/fence-{n}"));
            std::fs::write(&fence, b"").unwrap();
            last = wait_for(
                Duration::from_secs(120),
                &format!("the daemon to take in fence {n} and {what}"),
                || {
                    let state = self.live_daemon_state()?;
                    let seen = state["watcher"]["fence"].as_u64().is_some_and(|f| f >= n);
                    (seen && (round < rounds || also(&state))).then_some(state)
                },
            );
            std::fs::remove_file(&fence).unwrap();
        }
        last
    }

    /// [`TestVault::fence_where`] the daemon is idle: no change held by its watcher, no job
    /// running, none queued that it would run (a paused type's jobs wait for a resume, not for
    /// the daemon). Every file change made before the call is then a job that ended, one of a
    /// paused type still queued, or was found to need none.
    pub fn fence_idle(&self) -> Value {
        self.fence_where("be idle", |s| s["idle"] == true)
    }

    /// Waits until the daemon has handled every change made before the call and what followed
    /// from it: a fence taken in while idle, twice in a row with no job created in between (so
    /// a job's own writes, which come back as events, were taken in too). No quiet spell is
    /// waited out. Without a live daemon, waits for other workers to end the directory jobs.
    /// Returns the jobs of each directory type seen in all, as (sync, import, export) counts.
    pub fn settle(&self) -> (usize, usize, usize) {
        if self.live_daemon_state().is_some() {
            let mut last_job = self.fence_idle()["last_job"].clone();
            loop {
                let next = self.fence_idle()["last_job"].clone();
                if next == last_job {
                    break;
                }
                last_job = next;
            }
        } else {
            let store = self.store();
            wait_for(
                Duration::from_secs(120),
                "the directory jobs to end",
                || {
                    let active = store
                        .list_jobs(&JobFilter {
                            states: vec![JobState::Queued, JobState::Running],
                            ..JobFilter::default()
                        })
                        .unwrap()
                        .into_iter()
                        .any(|j| j.job_type.starts_with("directory-"));
                    (!active).then_some(())
                },
            );
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

    /// Holds the vault's `.brain/sync.lock` until the file is dropped, as another `brain`
    /// process would: a directory job started meanwhile is claimed and runs, but waits for the
    /// lock (its progress says "Waiting") before it does any work. So a test can act on a
    /// running job that cannot finish first (join it, cancel it, signal its process).
    pub fn hold_sync_lock(&self) -> std::fs::File {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.path(".brain/sync.lock"))
            .expect("the sync lock opens");
        file.lock().expect("the sync lock is taken");
        file
    }

    /// Waits until a running directory job of `job_type` says it waits for the sync lock.
    pub fn waiting_for_sync_lock(&self, job_type: &str) -> Job {
        wait_for(
            Duration::from_secs(120),
            &format!("a {job_type} job to wait for the sync lock"),
            || {
                self.jobs_of(job_type).into_iter().find(|j| {
                    j.state == JobState::Running
                        && j.progress
                            .as_ref()
                            .is_some_and(|p| p.message.starts_with("Waiting"))
                })
            },
        )
    }

    /// The daemon's published state.
    pub fn daemon_state(&self) -> Option<Value> {
        Some(self.store().runtime_state("serve").ok()??.value)
    }
}

/// The store's write lock, held by a test connection until dropped (then rolled back). While
/// it is held no job can commit anything or end (ending is a write): an import under way stops
/// at its next progress write or batch commit, while readers (`brain status`) go on. Hold it
/// briefly: writers wait 15 s for it before they fail.
pub struct StoreWriteLock(rusqlite::Connection);

impl StoreWriteLock {
    /// Job `id`'s state and progress (message, current, total), read inside the held lock, so
    /// it is what the job had committed when the lock was taken and still is.
    pub fn job_progress(&self, id: i64) -> (String, String, i64, Option<i64>) {
        self.0
            .query_row(
                "SELECT state, progress_message, progress_current, progress_total
                 FROM jobs WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("the job's row reads")
    }
}

impl Drop for StoreWriteLock {
    fn drop(&mut self) {
        let _ = self.0.execute_batch("ROLLBACK");
    }
}

impl TestVault {
    /// Takes the store's write lock (`BEGIN IMMEDIATE` on a connection of the test's own),
    /// waiting for a transaction under way to end first.
    pub fn hold_store_write_lock(&self) -> StoreWriteLock {
        let conn = rusqlite::Connection::open(self.path(".brain/brain.db")).expect("store opens");
        conn.busy_timeout(Duration::from_secs(120))
            .expect("busy timeout set");
        conn.execute_batch("BEGIN IMMEDIATE")
            .expect("the store's write lock is taken");
        StoreWriteLock(conn)
    }
}

/// Whether `p` holds exactly `content`.
pub fn holds(p: &Path, content: &str) -> bool {
    std::fs::read(p).is_ok_and(|b| b == content.as_bytes())
}
