//! The directory-sync plugin: registers the three directory job types and provides the
//! facade and git with [`DirectorySync`] (capability [`brain_api::directory::CAPABILITY`]), so
//! neither imports this crate.

mod fresh;
mod services;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use brain_api::directory::{
    CAPABILITY, DirectorySync, DiskVersion, ImportNow, SyncReport, UnwrittenNote, WATCHER, Watching,
};
use brain_api::plugin::{FeedStart, JobSettings, Plugin, PluginContext, PluginError};
use brain_api::{BrainError, InvalidKind};
use brain_core::codec::decode;
use brain_core::path::PathError;
use brain_core::time::now_ms;
use brain_core::{CancelToken, Config, Entity, EntityRef, ProgressSink};
use brain_store::{Backend, Store};

use crate::{SyncEngine, SyncError, SyncOptions};

/// Directory sync: the `directory-sync`, `directory-import` and `directory-export` job types,
/// the [`DirectorySync`] capability, and in a daemon the file watcher (capability [`WATCHER`]
/// for its status) and the initial sync. Register it before any plugin that uses its
/// capabilities (git).
pub struct SyncPlugin;

impl Plugin for SyncPlugin {
    fn name(&self) -> &str {
        "sync"
    }

    fn register(&self, ctx: &mut PluginContext) -> Result<(), PluginError> {
        let store: Arc<dyn Store> = ctx.store().clone();
        for (job_type, handler, queue) in crate::jobs::job_types(ctx.root(), ctx.config(), store) {
            let settings = JobSettings {
                queue,
                // The handler takes `.brain/sync.lock` itself: `crate::jobs::register` runs it
                // without a runtime too (this crate's tests, the benchmarks).
                holds_vault_lock: false,
            };
            ctx.register_job_type(job_type, handler, settings)?;
        }
        let sync: Arc<dyn DirectorySync> = Arc::new(VaultSync::new(
            ctx.root(),
            ctx.config(),
            ctx.store().clone(),
        ));
        ctx.provide(CAPABILITY, sync)?;
        if !ctx.has_folder() {
            // A worker of the store on a machine without this folder: nothing to watch.
            return Ok(());
        }
        // In a daemon: the watcher, then the initial sync (queued once the watch is in place).
        let watcher = services::Watcher::default();
        let watching: Arc<dyn Watching> = Arc::new(watcher.clone());
        ctx.provide(WATCHER, watching)?;
        ctx.register_service("watcher", watcher)?;
        ctx.register_service("initial-sync", services::InitialSync)?;
        if ctx.store().replica_id().is_some() {
            // A store other folders share: what they change reaches this folder at once.
            ctx.subscribe_changes("other-folders", FeedStart::Now, services::export_behind)?;
        }
        Ok(())
    }
}

/// [`DirectorySync`] for one vault: the engine, the freshness checks and the unwritten-notes
/// record, over the vault's folder and store.
pub struct VaultSync {
    root: PathBuf,
    config: Config,
    store: Arc<dyn Backend>,
}

impl VaultSync {
    /// The capability for the vault at `root`.
    pub fn new(root: &Path, config: &Config, store: Arc<dyn Backend>) -> Self {
        VaultSync {
            root: root.to_path_buf(),
            config: config.clone(),
            store,
        }
    }
}

impl DirectorySync for VaultSync {
    fn run(
        &self,
        opts: &SyncOptions,
        progress: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<SyncReport, SyncError> {
        SyncEngine::new(&self.root, &self.config, self.store.as_ref())?.run(opts, progress, cancel)
    }

    fn note_from(&self, r: &EntityRef, content: &[u8]) -> Result<Entity, BrainError> {
        let invalid = |kind: InvalidKind, reason: String| BrainError::Invalid {
            entity: r.to_string(),
            reason,
            kind,
        };
        let engine = SyncEngine::new(&self.root, &self.config, self.store.as_ref())?;
        let mapper = &engine.builder().mapper;
        let path = mapper.to_path(r).map_err(|e| {
            let kind = match e {
                PathError::UnknownType(_) => InvalidKind::UnknownType,
                PathError::BadId { .. }
                | PathError::NoteInTypeFolder { .. }
                | PathError::NotMarkdown(_)
                | PathError::BadTypeName(_) => InvalidKind::UnsafeId,
            };
            invalid(kind, e.to_string())
        })?;
        if let Some(reason) = engine.unwritable(&path) {
            return Err(invalid(
                InvalidKind::UnsafeId,
                format!("{reason}; pick another id"),
            ));
        }
        // The path must read back as `r` (checked here so that the builder below can only
        // refuse the text, and its refusal is the frontmatter's).
        mapper
            .to_ref(&path)
            .map_err(|e| invalid(InvalidKind::UnsafeId, e.to_string()))?;
        let text = decode(content).map_err(|e| invalid(InvalidKind::NotText, e.to_string()))?;
        let now = now_ms();
        engine
            .builder()
            .entity(&path, text, now, now)
            .map_err(|reason| invalid(InvalidKind::InvalidFrontmatter, reason))
    }

    fn import_now(
        &self,
        paths: &[String],
        whole: bool,
        wait: Duration,
    ) -> Result<ImportNow, BrainError> {
        VaultSync::import_now(self, paths, whole, wait)
    }

    fn disk_version(&self, path: &str) -> Result<Option<DiskVersion>, BrainError> {
        VaultSync::disk_version(self, path)
    }

    fn stale_hint(&self, paths: &[&str]) -> Option<String> {
        VaultSync::stale_hint(self, paths)
    }

    fn unwritten(&self) -> Result<Vec<UnwrittenNote>, BrainError> {
        Ok(crate::unwritten::unwritten_notes(
            &self.root,
            self.config.sync.max_file_bytes,
            self.store.as_ref(),
        )?)
    }
}
