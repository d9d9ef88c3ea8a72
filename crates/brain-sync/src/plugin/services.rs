//! What the sync plugin runs in a daemon: the file watcher (changes become debounced
//! `directory-import` jobs) and the initial whole-vault sync, queued once the watcher is in
//! place so nothing saved after start-up falls between the two.

use std::sync::{Arc, Mutex};

use brain_api::directory::{DIRECTORY_EXPORT, Watching, export_behind_request, sync_request};
use brain_api::plugin::{BoxError, Service};
use brain_api::runtime::RuntimeContext;
use brain_core::time::now_ms;
use brain_store::ChangePage;
use brain_store::jobs::{JobFilter, JobState};

use crate::watch::{VaultWatcher, WatchSettings};

/// The watcher service, shared with the [`Watching`] capability that reads its status.
#[derive(Clone, Default)]
pub(super) struct Watcher {
    running: Arc<Mutex<Option<VaultWatcher>>>,
}

impl Service for Watcher {
    fn start(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        let settings = WatchSettings::from_config(ctx.root(), ctx.config());
        match VaultWatcher::start(settings, ctx.store().clone(), ctx.queue().clone()) {
            Ok(w) => *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some(w),
            // Exports and queued work still run; the periodic scan is the watcher's stand-in,
            // and `brain status` shows the watcher as failed.
            Err(e) => {
                tracing::error!(error = %e, "the file watcher could not start; files are picked up by `brain sync` only");
            }
        }
        Ok(())
    }

    fn stop(&mut self) {
        let watcher = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(w) = watcher {
            w.stop();
        }
    }
}

impl Watching for Watcher {
    fn watcher_status(&self) -> Option<(serde_json::Value, bool)> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let status = running.as_ref()?.status();
        let settled = status.pending_paths == 0 && !status.rescan_pending;
        Some((serde_json::to_value(&status).ok()?, settled))
    }
}

/// After changes in the store's feed: queues an export of every note this folder is behind on
/// (changed by another folder of a shared store, or an interface), if there is any. The
/// folder's own imports leave it behind on nothing, so they queue nothing.
///
/// A note this folder's own interfaces wrote is left to the export they queued, due after the
/// debounce, so a burst of writes to one note still writes its file once.
pub(super) fn export_behind(ctx: &RuntimeContext, _page: &ChangePage) -> Result<(), BoxError> {
    let behind = ctx.store().dirty_entities()?;
    if behind.is_empty() {
        return Ok(());
    }
    let mine = ctx.store().replica_id();
    let queued = ctx.store().list_jobs(&JobFilter {
        states: vec![JobState::Queued],
        job_type: Some(DIRECTORY_EXPORT.to_string()),
        limit: 100,
        ..JobFilter::default()
    })?;
    let covered: std::collections::HashSet<&str> = queued
        .iter()
        .filter(|j| j.replica == mine)
        .flat_map(|j| j.input["entities"].as_array().into_iter().flatten())
        .filter_map(serde_json::Value::as_str)
        .collect();
    if behind
        .iter()
        .all(|d| covered.contains(d.entity.to_string().as_str()))
    {
        return Ok(());
    }
    let id = ctx.queue().enqueue(export_behind_request())?.id();
    tracing::debug!(
        job = id,
        notes = behind.len(),
        "export of what other folders changed queued"
    );
    Ok(())
}

/// Queues the whole-vault sync a daemon starts with (`serve.initial_sync`), due after
/// `serve.initial_sync_delay_ms`: the daemon is ready at once and the sync runs behind it.
pub(super) struct InitialSync;

impl Service for InitialSync {
    fn start(&mut self, ctx: &RuntimeContext) -> Result<(), BoxError> {
        let serve = &ctx.config().serve;
        if !serve.initial_sync {
            return Ok(());
        }
        let mut request = sync_request("full", false);
        let delay = i64::try_from(serve.initial_sync_delay_ms).unwrap_or(i64::MAX);
        request.run_at_ms = Some(now_ms().saturating_add(delay));
        let id = ctx.queue().enqueue(request)?.id();
        tracing::info!(job = id, "initial sync queued");
        Ok(())
    }

    fn stop(&mut self) {}
}
