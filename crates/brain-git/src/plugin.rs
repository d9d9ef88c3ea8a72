//! The git plugin: registers the `git` job type. Its exports before a commit and its import
//! after a pull run through the directory-sync plugin's engine, reached as the capability
//! [`brain_api::directory::CAPABILITY`], so this crate does not import `brain-sync`: register
//! the sync plugin first.

use std::sync::Arc;

use brain_api::directory::{CAPABILITY, DirectorySync};
use brain_api::plugin::{JobSettings, Plugin, PluginContext, PluginError};
use brain_store::Store;

use crate::jobs::{GIT_JOB, handler, type_config};

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
            bound_to_replica: true,
        };
        ctx.register_job_type(
            GIT_JOB,
            handler(ctx.root(), ctx.config(), store, sync),
            settings,
        )
    }
}
