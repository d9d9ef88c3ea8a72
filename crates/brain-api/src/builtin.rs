//! The plugins of this build: directory sync and git, registered through the same
//! [`PluginContext`] any plugin uses. [`queue_for`](crate::queue_for) builds every process's
//! queue from what they register, and a [`Runtime`](crate::Runtime) runs them.
//!
//! They live here, not in `brain-sync` and `brain-git`, only for now: brain-api still depends on
//! those two crates (the facade validates a write with the sync engine and reads git's state),
//! so they cannot depend on brain-api for the [`Plugin`] trait without a dependency cycle. Once
//! that dependency is turned around (issue 16.3), each struct moves to its crate as it is
//! (`brain_sync::plugin::SyncPlugin`, `brain_git::plugin::GitPlugin`) and the binary passes the
//! list in.

use std::sync::Arc;

use brain_store::Store;

use crate::plugin::{JobSettings, Plugin, PluginContext, PluginError};

/// Directory sync: the `directory-sync`, `directory-import` and `directory-export` job types.
pub struct SyncPlugin;

impl Plugin for SyncPlugin {
    fn name(&self) -> &str {
        "sync"
    }

    fn register(&self, ctx: &mut PluginContext) -> Result<(), PluginError> {
        let store: Arc<dyn Store> = ctx.store().clone();
        for (job_type, handler, queue) in
            brain_sync::jobs::job_types(ctx.root(), ctx.config(), store)
        {
            let settings = JobSettings {
                queue,
                // The handler takes `.brain/sync.lock` itself: `brain_sync::jobs::register`
                // runs it without a runtime too (the crate's tests, the benchmarks).
                holds_vault_lock: false,
                bound_to_replica: true,
            };
            ctx.register_job_type(job_type, handler, settings)?;
        }
        Ok(())
    }
}

/// Git sync: the `git` job type.
pub struct GitPlugin;

impl Plugin for GitPlugin {
    fn name(&self) -> &str {
        "git"
    }

    fn register(&self, ctx: &mut PluginContext) -> Result<(), PluginError> {
        let store: Arc<dyn Store> = ctx.store().clone();
        let handler = brain_git::jobs::handler(ctx.root(), ctx.config(), store);
        let settings = JobSettings {
            queue: brain_git::jobs::type_config(),
            // Only its merge and import need the folder to themselves; it takes the lock then.
            holds_vault_lock: false,
            bound_to_replica: true,
        };
        ctx.register_job_type(brain_git::jobs::GIT_JOB, handler, settings)
    }
}

/// Every plugin of this build, in registration order.
pub fn plugins() -> Vec<Box<dyn Plugin>> {
    vec![Box::new(SyncPlugin), Box::new(GitPlugin)]
}
