//! Index upkeep while the daemon is idle: the merges a store's search index defers
//! ([`Store::tidy_index`](brain_store::Store::tidy_index)) are done a short step at a time
//! when no job runs or waits and the watcher holds nothing, so a save seldom pays for one.
//! Measured at 100,000 notes, FTS5's own merge slices were most of a save's p99.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::status::queue_idle;
use crate::directory::{WATCHER, Watching};
use crate::plugin::{BoxError, Plugin, PluginContext, PluginError, Service};
use crate::runtime::RuntimeContext;

/// How often the service looks whether the daemon is idle.
const LOOK_EVERY: Duration = Duration::from_millis(250);

/// The most time one look spends on steps, so a save arriving meanwhile waits little.
const STEPS_FOR: Duration = Duration::from_millis(50);

/// The job type that thins earlier versions of notes by `[history]` (a built-in schedule
/// queues it daily, once for the store).
pub const HISTORY_PRUNE: &str = "history-prune";

/// Store upkeep as a plugin: one service (`index-upkeep`) and one job type
/// ([`HISTORY_PRUNE`]). Register it after the sync plugin, whose watcher it asks whether
/// changes are pending.
pub struct UpkeepPlugin;

impl Plugin for UpkeepPlugin {
    fn name(&self) -> &str {
        "upkeep"
    }

    fn register(&self, ctx: &mut PluginContext) -> Result<(), PluginError> {
        let rules = brain_store::history::Retention {
            keep_all_days: ctx.config().history.keep_all_days,
            daily_days: ctx.config().history.daily_days,
        };
        if ctx.has_folder() {
            publish_rules(ctx.store().as_ref(), rules);
        }
        let prune = HistoryPrune {
            store: ctx.store().clone(),
            // A worker with no folder (`brain work --store`) has no `[history]` of its own.
            rules: ctx.has_folder().then_some(rules),
        };
        let settings = crate::plugin::JobSettings {
            queue: brain_jobs::handler::TypeConfig {
                concurrency: 1,
                max_attempts: 3,
                priority: 1,
                backoff_base_ms: 60_000,
                backoff_max_ms: 3_600_000,
                // The store's versions, not a folder's files: any worker of the store runs it.
                bound_to_replica: false,
            },
            holds_vault_lock: false,
        };
        ctx.register_job_type(HISTORY_PRUNE, prune, settings)?;
        ctx.register_service("index-upkeep", Upkeep(None))
    }
}

/// Runs [`brain_store::Store::prune_history`]: short transactions, one per note.
struct HistoryPrune {
    store: std::sync::Arc<dyn brain_store::Backend>,
    /// This folder's `[history]` rules (`None`: a worker with no folder).
    rules: Option<brain_store::history::Retention>,
}

/// On a store several folders share, publishes this folder's retention for the prune, which
/// may run in any folder's process (written only when it changed: one read per command). A
/// store of one folder, or one this process cannot write, publishes nothing.
fn publish_rules(store: &dyn brain_store::Backend, rules: brain_store::history::Retention) {
    use brain_store::history::RETENTION_KEY;
    if store.replica_id().is_none() || store.is_read_only() {
        return;
    }
    let Ok(value) = serde_json::to_value(rules) else {
        return;
    };
    let published = store
        .runtime_state(RETENTION_KEY)
        .map(|s| s.map(|s| s.value));
    if matches!(&published, Ok(Some(v)) if *v == value) {
        return;
    }
    if let Err(e) = published
        .and_then(|_| store.set_runtime_state(RETENTION_KEY, &value, brain_core::time::now_ms()))
    {
        tracing::warn!(error = %e, "could not publish this folder's [history] retention to the shared store: a prune run elsewhere keeps by the other folders' rules until it is");
    }
}

impl HistoryPrune {
    /// The rules this run keeps by: this process's, and on a shared store every folder's
    /// published ones, the most keeping of each.
    fn rules(&self) -> Result<brain_store::history::Retention, brain_jobs::JobError> {
        let folders = self.store.replicas().map_err(|e| {
            brain_jobs::JobError::Failed(format!(
                "reading the folders' [history] rules before thinning history (nothing was \
                 dropped; the job runs again): {e}"
            ))
        })?;
        let published = folders.iter().filter_map(|f| f.history_rules);
        let most = published
            .chain(self.rules)
            .reduce(brain_store::history::Retention::keeping_most);
        // Nobody said: the defaults of `[history]`.
        Ok(most.unwrap_or_else(|| {
            let d = brain_core::config::HistoryConfig::default();
            brain_store::history::Retention {
                keep_all_days: d.keep_all_days,
                daily_days: d.daily_days,
            }
        }))
    }
}

impl brain_jobs::Handler for HistoryPrune {
    fn validate(&self, input: &serde_json::Value) -> Result<(), String> {
        crate::refuse_unknown_keys(input, &[])
    }

    fn run(
        &self,
        _ctx: &brain_jobs::JobContext,
    ) -> Result<serde_json::Value, brain_jobs::JobError> {
        let dropped = self
            .store
            .prune_history(brain_core::time::now_ms(), self.rules()?)
            .map_err(|e| brain_jobs::JobError::Failed(format!("thinning note history: {e}")))?;
        tracing::info!(dropped, "history thinned by the [history] retention rules");
        Ok(serde_json::json!({ "dropped_versions": dropped }))
    }
}

/// The running upkeep thread and the way to stop it.
struct Upkeep(Option<(Sender<()>, JoinHandle<()>)>);

impl Service for Upkeep {
    fn start(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let ctx = ctx.clone();
        let thread = std::thread::Builder::new()
            .name("index-upkeep".into())
            .spawn(move || {
                let watching: Option<std::sync::Arc<dyn Watching>> =
                    ctx.capability(WATCHER).ok();
                // Only while there may be work: a step that found none waits for a write.
                let mut left = true;
                let mut seen_cursor = ctx.store().change_cursor().unwrap_or(0);
                loop {
                    match stopped.recv_timeout(LOOK_EVERY) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                    let cursor = ctx.store().change_cursor().unwrap_or(seen_cursor);
                    if cursor != seen_cursor {
                        seen_cursor = cursor;
                        left = true;
                    }
                    if !left || !idle(&ctx, watching.as_deref()) {
                        continue;
                    }
                    let until = Instant::now() + STEPS_FOR;
                    while left && Instant::now() < until {
                        left = match ctx.store().tidy_index() {
                            Ok(more) => more,
                            Err(e) => {
                                tracing::warn!(error = %e, "index upkeep failed; trying again after the next write");
                                false
                            }
                        };
                    }
                }
            })?;
        self.0 = Some((stop, thread));
        Ok(())
    }

    fn stop(&mut self) {
        if let Some((stop, thread)) = self.0.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

/// No job runs or waits to run, and the watcher holds no change it has not queued.
fn idle(ctx: &RuntimeContext, watching: Option<&dyn Watching>) -> bool {
    let settled = watching
        .and_then(|w| w.watcher_status())
        .is_none_or(|(_, settled)| settled);
    let store = ctx.store().as_ref();
    let known: Vec<String> = ctx.queue().registry().names().map(str::to_owned).collect();
    settled && queue_idle(store, &store.paused_types().unwrap_or_default(), &known)
}
