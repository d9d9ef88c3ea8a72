//! The `Brain` facade: the one narrow door through which every interface (the MCP server, and
//! later the web page and the Matrix bot) reads notes, writes them and runs jobs.
//!
//! Interfaces never reach into a store backend or a job handler. They call [`Brain`], which
//! writes through the same outbox as the CLI (`brain put`): the entity and its
//! `directory-export` job commit in one transaction, so a note written by an agent reaches its
//! file exactly as one written by a person does. Long work (a sync, a git sync) is a queued job
//! the caller follows by id; who runs it is decided here ([`Workers`]): the daemon's own pool,
//! or, when no daemon holds the vault, workers this process starts on demand.
//!
//! Every call is blocking (SQLite underneath) and short; async callers run them on a blocking
//! thread.
//!
//! Beside the facade: [`plugin`], the context through which a capability (sync, git, ...)
//! registers its job types, services, subscriptions and capabilities, and [`runtime`], which
//! starts and stops what the plugins registered (the daemon).

pub mod batch;
mod conflicts;
pub mod daemon;
pub mod directory;
mod edit;
mod error;
mod fresh;
pub mod git;
mod history;
mod jobs;
pub mod plugin;
mod read;
pub mod runner;
pub mod runtime;
mod schedules;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use brain_core::Config;
use brain_core::time::{format_iso, now_ms};
use brain_jobs::{EventBus, Queue, WorkerPool};
use brain_store::Backend;
use brain_store::jobs::Enqueued;
use serde::Serialize;
use serde_json::{Value, json};

pub use brain_core::{Entity, EntityRef};
pub use brain_jobs::PoolConfig;
/// Job records and the follow stream as interfaces show them, re-exported so an interface
/// depends on brain-api (and brain-core) only.
pub use brain_jobs::follow;
pub use brain_store::jobs::{Job, JobProgress, JobState};
pub use daemon::{SERVE_STATE_KEY, daemon_pid, serve_lock_path};
pub use directory::{DiskVersion, ImportNow};
pub use edit::MoveOutcome;
pub use error::{BrainError, ChangeKind, InvalidKind, in_cli_words};
pub use jobs::{JobDetail, JobsRequest, SyncPause};
pub use plugin::{Capabilities, Plugin, PluginContext, PluginError};
pub use read::{ListPage, ListRequest, MAX_SEARCH_LIMIT, SearchPage, SearchRequest, StatusReport};
pub use runner::Following;
pub use runtime::{Runtime, RuntimeContext};
pub use schedules::SchedulesPlugin;
pub use write::{DeleteOutcome, Expect, RestoreOutcome, WriteOutcome};

/// Who runs the jobs that calls on a [`Brain`] queue.
#[derive(Clone, Debug)]
pub enum Workers {
    /// This process is the daemon: its own pool runs every job, so nothing is started here.
    Daemon,
    /// Start a pool with this config in this process when a job needs running and no daemon
    /// holds the vault (`brain mcp`: an agent's writes reach their files with no daemon).
    OnDemand(PoolConfig),
    /// Never run jobs here: the daemon, or the next `brain sync`, runs them (one-shot CLI
    /// commands).
    Never,
}

/// A job queued (or joined) for the caller to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Started {
    /// The job's id.
    pub job: i64,
    /// `true` if an equal job was already queued or running and this call joined it.
    pub joined: bool,
}

impl From<Enqueued> for Started {
    fn from(e: Enqueued) -> Self {
        Started {
            job: e.id(),
            joined: matches!(e, Enqueued::Existing(_)),
        }
    }
}

/// One vault, opened for an interface.
pub struct Brain {
    root: PathBuf,
    config: Config,
    store: Arc<dyn Backend>,
    queue: Queue,
    capabilities: Capabilities,
    workers: Workers,
    pool: Mutex<Option<WorkerPool>>,
    /// The interface this facade serves (`cli`, `mcp`, `web`, ...): each version its writes
    /// make says it (history).
    source: String,
    /// Why, for every write of this facade (`with_message`).
    message: Option<String>,
    /// Each write queues the export of every note this folder is behind on, not of its own
    /// note: a batch's thousands of writes then merge into one export of constant size, where
    /// a list of their notes would grow with each (`exporting_all`).
    export_all: bool,
}

/// A vault's queue and the capabilities its plugins provide, as the plugins registered them:
/// what a [`Brain`] is built on. Every process builds it from the same plugins (the binary
/// lists them), so any of them can run any queued job; only a [`Runtime`] starts what else the
/// plugins register (services, subscriptions), and [`Runtime::plugged`] gives its own.
#[derive(Clone)]
pub struct Plugged {
    /// The queue, with every job type the plugins registered.
    pub queue: Queue,
    /// What the plugins provide each other and the facade by name.
    pub capabilities: Capabilities,
}

/// Registers `plugins` (in order) for the vault at `root` and builds its queue: a [`Plugged`]
/// for a one-shot command or an interface that runs no services. Fails only when the plugins
/// clash (a job type or name registered twice, a capability missing), which is a fault of the
/// build, named in the error.
pub fn plug(
    root: &Path,
    config: &Config,
    store: Arc<dyn Backend>,
    plugins: &[Box<dyn Plugin>],
) -> Result<Plugged, PluginError> {
    let regs = runtime::register_all(root, config, store.clone(), plugins)?;
    let jobs: Arc<dyn brain_store::JobStore> = store;
    Ok(Plugged {
        queue: Queue::new(jobs, regs.registry, EventBus::default()),
        capabilities: regs.capabilities,
    })
}

impl Brain {
    /// A facade over an opened vault. `plugged.queue` is shared with the daemon's pool when
    /// `workers` is [`Workers::Daemon`], so its in-process events reach both.
    pub fn new(
        root: &Path,
        config: Config,
        store: Arc<dyn Backend>,
        plugged: Plugged,
        workers: Workers,
    ) -> Self {
        Brain {
            root: root.to_path_buf(),
            config,
            store,
            queue: plugged.queue,
            capabilities: plugged.capabilities,
            workers,
            pool: Mutex::new(None),
            source: "brain".into(),
            message: None,
            export_all: false,
        }
    }

    /// The same facade, its writes queuing the export of everything this folder is behind on
    /// (a batch's child: see the `export_all` field).
    pub(crate) fn exporting_all(mut self) -> Self {
        self.export_all = true;
        self
    }

    /// The same facade, naming the interface it serves (`cli`, `mcp`, `web`, `matrix`): the
    /// versions its writes make say so in `brain history`.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// The same facade, saying why for each write it makes (`brain put -m`, `brain rm -m`):
    /// kept with the versions they make.
    pub fn with_message(mut self, message: Option<String>) -> Self {
        self.message = message;
        self
    }

    /// [`Brain::why`], with `message` in place of the facade's own when given.
    pub(crate) fn why_saying(&self, message: Option<&str>) -> brain_store::ChangeWhy {
        let mut why = self.why();
        if let Some(m) = message {
            why.message = Some(m.to_string());
        }
        why
    }

    /// What this facade's writes are made by, and why, for the versions they make.
    pub(crate) fn why(&self) -> brain_store::ChangeWhy {
        let mut why = brain_store::ChangeWhy::by(&self.source);
        why.message = self.message.clone();
        why
    }

    /// The vault's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The vault's layered configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The vault's queue, for an interface that follows events in process.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Whether something will run queued jobs soon: the daemon, or this process's workers.
    /// A write's export is then due after `serve.sync_debounce_ms`, so a burst of writes to
    /// one note writes its file once; with nobody to run it, it waits for the next sync.
    fn jobs_run_here_or_by_daemon(&self) -> bool {
        match self.workers {
            Workers::Daemon | Workers::OnDemand(_) => true,
            Workers::Never => daemon_pid(&self.root).is_some(),
        }
    }

    /// Starts this process's workers if it is to run jobs and no daemon holds the vault. Called
    /// after every call that queues a job, and by followers about once a second, so a daemon
    /// that stops mid-job is taken over (its lease expires and these workers claim the job).
    pub fn ensure_workers(&self) {
        let Workers::OnDemand(config) = &self.workers else {
            return;
        };
        let mut pool = match self.pool.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        if pool.is_none() && daemon_pid(&self.root).is_none() {
            tracing::info!(vault = %self.root.display(), "no daemon serves this vault; running jobs here");
            *pool = Some(WorkerPool::start(self.queue.clone(), config.clone()));
        }
    }

    /// Stops this process's workers, letting running jobs finish. Jobs still queued stay in
    /// the store for the daemon or the next command.
    pub fn shutdown(&self) {
        let pool = match self.pool.lock() {
            Ok(mut p) => p.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(pool) = pool {
            pool.shutdown();
        }
    }

    /// Waits (up to `timeout`) until the exports queued for this vault are written, so a
    /// session that ends right after a write leaves its file on disk. If no daemon serves the
    /// vault (it may have stopped since the write), this process's workers are started to
    /// write them. Returns at once when a daemon runs them, or when exports are paused.
    pub fn finish_writes(&self, timeout: std::time::Duration) {
        let deadline = std::time::Instant::now() + timeout;
        let paused = self.store_paused().unwrap_or_default();
        if paused.iter().any(|t| t == directory::DIRECTORY_EXPORT) {
            return;
        }
        let mut started = false;
        loop {
            let pending = match self.pending_exports() {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the queue; leaving exports to the next sync");
                    return;
                }
            };
            if pending == 0 {
                return;
            }
            if !started {
                started = true;
                self.ensure_workers();
                if !self.runs_workers() {
                    // A daemon holds the vault and writes them; or this process may not run
                    // jobs (`Workers::Never`) and the next sync does.
                    return;
                }
                self.bring_exports_forward();
            }
            if std::time::Instant::now() >= deadline {
                tracing::warn!(
                    pending,
                    "exports still queued; the next `brain sync` or `brain serve` writes them"
                );
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Makes the exports waiting out their debounce due now (see
    /// [`directory::export_now_request`]): this process is ending, so the time it has
    /// left goes to writing files, not to a window no further write will join.
    fn bring_exports_forward(&self) {
        use brain_store::jobs::JobFilter;
        let waiting = self.store.list_jobs(&JobFilter {
            job_type: Some(directory::DIRECTORY_EXPORT.into()),
            states: vec![JobState::Queued],
            ..JobFilter::default()
        });
        let waiting = match waiting {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the queued exports; they run when due");
                return;
            }
        };
        let now = now_ms();
        for job in waiting.iter().filter(|j| j.run_at_ms > now) {
            let request = directory::export_now_request(&job.input);
            if let Err(e) = self.queue.enqueue(request) {
                tracing::warn!(job = job.id, error = %e, "cannot bring an export forward; it runs when due");
            }
        }
        self.queue.notify();
    }

    /// Queued or running `directory-export` jobs, in any process.
    fn pending_exports(&self) -> Result<u64, BrainError> {
        Ok(self
            .store
            .job_counts()?
            .iter()
            .filter(|c| c.job_type == directory::DIRECTORY_EXPORT)
            .map(|c| c.count)
            .sum())
    }

    /// Whether this process has started workers.
    fn runs_workers(&self) -> bool {
        match self.pool.lock() {
            Ok(p) => p.is_some(),
            Err(poisoned) => poisoned.into_inner().is_some(),
        }
    }

    /// Stops this process's workers, giving running jobs until `limit`; a job still running then
    /// is left to its lease (the next worker of any process takes it over). Returns `false` in
    /// that case.
    pub fn shutdown_within(&self, limit: std::time::Duration) -> bool {
        let pool = match self.pool.lock() {
            Ok(mut p) => p.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        pool.is_none_or(|p| p.shutdown_within(limit))
    }

    /// Queues a directory sync (`full`, `import-only` or `export-only`), or joins the equal one
    /// already queued or running.
    pub fn start_sync(&self, mode: &str, allow_mass_delete: bool) -> Result<Started, BrainError> {
        if !matches!(mode, "full" | "import-only" | "export-only") {
            return Err(BrainError::BadRequest(format!(
                "unknown sync mode '{mode}': use full, import-only or export-only"
            )));
        }
        let paused = self.store_paused()?;
        if paused.iter().any(|t| t == directory::DIRECTORY_SYNC) {
            return Err(BrainError::BadRequest(
                "directory sync is paused (`brain sync pause`), so a sync would wait: run \
                 `brain sync resume` first"
                    .into(),
            ));
        }
        let enqueued = self
            .queue
            .enqueue(directory::sync_request(mode, allow_mass_delete))?;
        self.ensure_workers();
        Ok(enqueued.into())
    }

    /// Queues a git operation (`sync`, `pull` or `push`), or joins the equal one queued.
    pub fn start_git(&self, op: &str) -> Result<Started, BrainError> {
        use git::GitOp;
        // The argument first: a caller with a wrong op learns that whatever the vault's setup.
        let op = match op {
            "sync" => GitOp::Sync,
            "pull" => GitOp::Pull,
            "push" => GitOp::Push,
            other => {
                return Err(BrainError::BadRequest(format!(
                    "unknown git operation '{other}': use sync, pull or push"
                )));
            }
        };
        if !self.config.git.enabled {
            return Err(BrainError::GitNotEnabled);
        }
        let enqueued = self.queue.enqueue(git::git_request(op))?;
        self.ensure_workers();
        Ok(enqueued.into())
    }

    /// One job as stored.
    pub fn job(&self, id: i64) -> Result<Job, BrainError> {
        Ok(self.queue.job(id)?)
    }

    /// Cancels a job: a queued one at once, a running one within a second. Work it finished is
    /// kept.
    pub fn cancel_job(&self, id: i64) -> Result<JobState, BrainError> {
        Ok(self.queue.cancel(id)?)
    }

    fn store_paused(&self) -> Result<Vec<String>, BrainError> {
        Ok(self.store.paused_types()?)
    }
}

impl Drop for Brain {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A note as every interface shows it: the whole file as `content` (byte for byte what the
/// vault holds), what was read from it (title, frontmatter, tags), and the hash a careful writer
/// passes back. Each thing once: no separate body, which would send the text twice (a reader
/// who wants the body takes `content` after its frontmatter).
pub fn entity_json(e: &Entity) -> Value {
    json!({
        "type": e.entity_ref.entity_type,
        "id": e.entity_ref.id,
        "path": e.path,
        "title": e.title,
        "metadata": e.metadata,
        "tags": e.tags,
        "content": e.content(),
        "content_hash": e.content_hash,
        "created": format_iso(e.created_ms),
        "updated": format_iso(e.updated_ms),
        "deleted": e.deleted_ms.map(format_iso),
    })
}

/// A job as every interface shows it.
pub fn job_json(j: &Job) -> Value {
    json!({
        "id": j.id,
        "type": j.job_type,
        "state": j.state,
        "priority": j.priority,
        "attempts": j.attempts,
        "max_attempts": j.max_attempts,
        "created": format_iso(j.created_ms),
        "started": j.started_ms.map(format_iso),
        "finished": j.finished_ms.map(format_iso),
        "run_at": format_iso(j.run_at_ms),
        "progress": j.progress,
        "eta_s": eta_s(j),
        "lease_lapsed_s": runner::lease_lapsed_ms(j, now_ms()).map(|ms| (ms + 999) / 1000),
        "worker_gone": runner::worker_gone(j, now_ms()).is_some(),
        "input": j.input,
        "result": j.result,
        // The error that is the job's outcome; one an earlier attempt left on a job that then
        // succeeded or was cancelled is history, without its "; retrying".
        "error": j.outcome_error(),
        "earlier_error": j
            .outcome_error()
            .is_none()
            .then(|| j.error.as_deref().map(|e| e.strip_suffix("; retrying").unwrap_or(e)))
            .flatten(),
        "parent_id": j.parent_id,
        "cancel_requested": j.cancel_requested,
        // Which folder's workers may run it (null: any worker of the store), and who does.
        "replica": j.replica,
        "worker": j.worker,
        "worker_host": j.worker.as_deref().and_then(brain_jobs::liveness::worker_host),
        "worker_pid": j.worker.as_deref().and_then(brain_jobs::liveness::parse_worker).map(|(pid, _)| pid),
    })
}

/// Where a job runs, for a person: the folder it is bound to (`notes-3fa91c`, on a store
/// several folders share) and its worker (`pid 123@host`, while it runs or from its last
/// attempt); empty when neither is known.
pub fn worker_text(j: &Job) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &j.replica {
        parts.push(r.clone());
    }
    if let Some(w) = j.worker.as_deref()
        && let Some((pid, _)) = brain_jobs::liveness::parse_worker(w)
    {
        match brain_jobs::liveness::worker_host(w) {
            Some(host) => parts.push(format!("pid {pid}@{host}")),
            None => parts.push(format!("pid {pid}")),
        }
    }
    parts.join(" ")
}

/// Seconds left at the current rate, for a running job with a known total. None for a job
/// nobody works on (its lease lapsed, or its worker's process is gone), and none until its attempt has run for a second:
/// a rate read from less is noise. (A follower measures its own pace: `brain_jobs::follow`.)
pub fn eta_s(j: &Job) -> Option<u64> {
    let p = j.progress.as_ref()?;
    let total = p.total?;
    let started = j.started_ms?;
    if runner::stalled_text(j, now_ms()).is_some() || p.updated_ms - started < 1_000 {
        return None;
    }
    let elapsed = (p.updated_ms - started).max(1) as f64 / 1000.0;
    if j.state != JobState::Running || p.current == 0 || total <= p.current {
        return None;
    }
    Some(((total - p.current) as f64 * elapsed / p.current as f64).round() as u64)
}

/// Refuses a job input (an object) with a key none of `known` names, naming it and the known
/// ones: a typo in a `[[schedule]]`'s input (`mod = "import-only"`) would otherwise be ignored,
/// and the job run with its defaults. Job handlers call it from `validate`, which runs when a
/// job is queued (not on a job already in the queue).
pub fn refuse_unknown_keys(input: &Value, known: &[&str]) -> Result<(), String> {
    let Some(object) = input.as_object() else {
        return Err("the input must be an object (`{...}`)".into());
    };
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(format!(
            "unknown input key '{unknown}': this job type takes {}",
            known.join(", ")
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: JobState, error: Option<&str>) -> Job {
        Job {
            id: 7,
            job_type: "directory-sync".into(),
            input: json!({}),
            priority: 5,
            state,
            attempts: 2,
            max_attempts: 3,
            run_at_ms: 0,
            created_ms: 0,
            started_ms: Some(0),
            finished_ms: Some(1),
            worker: None,
            lease_until_ms: None,
            dedupe_key: None,
            parent_id: None,
            replica: None,
            cancel_requested: false,
            progress: None,
            result: None,
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn an_earlier_attempt_s_error_is_history_in_job_json() {
        let expired = brain_store::jobs::LEASE_EXPIRED;
        for state in [JobState::Cancelled, JobState::Succeeded] {
            let doc = job_json(&job(state, Some(expired)));
            assert_eq!(doc["error"], Value::Null, "{doc}");
            assert_eq!(
                doc["earlier_error"], "worker stopped responding (lease expired)",
                "{doc}"
            );
        }
        // A job that failed, or waits for its retry, has that error as its outcome.
        let doc = job_json(&job(JobState::Failed, Some("boom")));
        assert_eq!(
            (&doc["error"], &doc["earlier_error"]),
            (&json!("boom"), &Value::Null)
        );
        let doc = job_json(&job(JobState::Queued, Some(expired)));
        assert_eq!(doc["error"], expired, "{doc}");
    }
}
