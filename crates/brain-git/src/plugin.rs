//! The git plugin: registers the `git` job type and, with `git.enabled`, the daemon's git
//! timer (a service) fed by the change feed (a subscription). Its exports before a commit and
//! its import after a pull run through the directory-sync plugin's engine, reached as the
//! capability [`brain_api::directory::CAPABILITY`], so this crate does not import
//! `brain-sync`: register the sync plugin first.

use std::sync::{Arc, Mutex};

use brain_api::directory::{CAPABILITY, DirectorySync};
use brain_api::plugin::{
    BoxError, FeedStart, JobSettings, Plugin, PluginContext, PluginError, Service,
};
use brain_api::runtime::RuntimeContext;
use brain_store::Store;

use crate::jobs::{GIT_JOB, handler, type_config};
use crate::schedule::GitScheduler;

/// Git sync: the `git` job type.
pub struct GitPlugin;

impl Plugin for GitPlugin {
    fn name(&self) -> &str {
        "git"
    }

    fn register(&self, ctx: &mut PluginContext) -> Result<(), PluginError> {
        let sync: Arc<dyn DirectorySync> = ctx.capability(CAPABILITY)?;
        let store: Arc<dyn Store> = ctx.store().clone();
        let settings = JobSettings {
            queue: type_config(),
            // Only its merge and import need the folder to themselves; it takes the lock then.
            holds_vault_lock: false,
        };
        ctx.register_job_type(
            GIT_JOB,
            handler(ctx.root(), ctx.config(), store, sync),
            settings,
        )?;
        if !ctx.config().git.enabled || !ctx.has_folder() {
            return Ok(());
        }
        let timer = Timer::default();
        let heard = timer.clone();
        // From the runtime's start: what changed before is the timer's start decision
        // (`pull_on_start`, or a commit of what changed while no daemon ran).
        ctx.subscribe_changes("notes-changed", FeedStart::Now, move |_, page| {
            if !page.changes.is_empty() {
                heard.changed();
            }
            Ok(())
        })?;
        ctx.register_service("timer", timer)
    }
}

/// The daemon's git timer as a service, shared with the change-feed subscription that wakes
/// it. A change heard before the service started (the subscriptions start first) is not lost:
/// the start decides from what changed before it anyway.
#[derive(Clone, Default)]
struct Timer {
    running: Arc<Mutex<Option<GitScheduler>>>,
}

impl Timer {
    fn changed(&self) {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(scheduler) = running.as_ref() {
            scheduler.changed();
        }
    }
}

impl Service for Timer {
    fn start(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        let scheduler = GitScheduler::start(
            ctx.queue().clone(),
            ctx.store().as_ref(),
            ctx.config().git.clone(),
            ctx.root(),
        );
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some(scheduler);
        Ok(())
    }

    fn stop(&mut self) {
        let scheduler = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(scheduler) = scheduler {
            scheduler.stop();
        }
    }
}
