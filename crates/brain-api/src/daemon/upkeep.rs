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

/// Index upkeep as a plugin: one service (`index-upkeep`). Register it after the sync plugin,
/// whose watcher it asks whether changes are pending.
pub struct UpkeepPlugin;

impl Plugin for UpkeepPlugin {
    fn name(&self) -> &str {
        "upkeep"
    }

    fn register(&self, ctx: &mut PluginContext) -> Result<(), PluginError> {
        ctx.register_service("index-upkeep", Upkeep(None))
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
