//! The one place these tests build a store: a real SQLite store in a temporary vault (the
//! facade is tested against a real backend, never a stand-in). When the backend moves to its
//! own crate, only this file changes.
#![allow(clippy::unwrap_used, dead_code)] // tests fail loudly by design

use std::path::Path;

use brain_api::PoolConfig;
use brain_api::{Brain, Workers};
use brain_core::Config;

/// A vault at `root` (its `.brain/` made here) with a new store, opened through the facade.
pub fn brain(root: &Path, config: Config, workers: Workers) -> Brain {
    std::fs::create_dir_all(root.join(".brain")).unwrap();
    let store = brain_store_sqlite::testing::at(&root.join(".brain/brain.db")).unwrap();
    let plugged = brain_api::plug(root, &config, store.clone(), &plugins()).unwrap();
    Brain::new(root, config, store, plugged, workers)
}

/// The plugins of this build, as the binary registers them (sync first: git uses its engine).
pub fn plugins() -> Vec<Box<dyn brain_api::Plugin>> {
    vec![
        Box::new(brain_sync::SyncPlugin),
        Box::new(brain_git::GitPlugin),
        Box::new(brain_api::batch::BatchPlugin),
    ]
}

/// Workers this process starts when a job needs running: one, as `brain mcp` runs them.
pub fn on_demand() -> Workers {
    Workers::OnDemand(PoolConfig {
        workers: 1,
        ..PoolConfig::default()
    })
}
