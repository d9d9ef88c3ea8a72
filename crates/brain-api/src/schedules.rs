//! Schedules (recurring jobs) as every interface reads them (`brain schedules list`, `brain
//! status`, and later the web page), and the plugin whose service fires them in a daemon.

use brain_jobs::recurring::{LOCAL_REPLICA, Scheduler};
use brain_store::schedules::{SCOPE_STORE, Schedule};

use crate::plugin::{BoxError, Plugin, PluginContext, PluginError, Service};
use crate::runtime::RuntimeContext;
use crate::{Brain, BrainError};

impl Brain {
    /// Every schedule of the store, by name, with its next and last run (the daemon's built-in
    /// ones and the `[[schedule]]` blocks of `config.toml`, once a `brain serve` registered
    /// them).
    pub fn schedules(&self) -> Result<Vec<Schedule>, BrainError> {
        self.store.schedules().map_err(BrainError::record)
    }
}

/// The scheduler as a plugin: one service that fires the store's schedules of this replica
/// (store-wide ones and this folder's) on the runtime's queue. What is scheduled is put in
/// the store before the runtime starts (the daemon's built-in schedules and `[[schedule]]`s of
/// config.toml), so a start refused for a bad schedule changes none; register this plugin last,
/// so the firings start once every other service runs.
pub struct SchedulesPlugin;

impl Plugin for SchedulesPlugin {
    fn name(&self) -> &str {
        "schedules"
    }

    fn register(&self, ctx: &mut PluginContext) -> Result<(), PluginError> {
        ctx.register_service("scheduler", Firing(None))
    }
}

/// The running scheduler, once started.
struct Firing(Option<Scheduler>);

impl Service for Firing {
    fn start(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        self.0 = Some(Scheduler::start(
            ctx.queue().clone(),
            vec![SCOPE_STORE.into(), LOCAL_REPLICA.into()],
        ));
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(scheduler) = self.0.take() {
            scheduler.stop();
        }
    }
}
