//! The directory job types by name, and the requests that queue them: what the facade, the
//! watcher, schedules and git enqueue. The sync plugin registers the handlers; the names and
//! inputs are this contract, so none of those callers imports the plugin.

use brain_core::EntityRef;
use brain_jobs::EnqueueRequest;
use brain_store::jobs::DedupePolicy;
use serde_json::json;

/// Whole-vault sync.
pub const DIRECTORY_SYNC: &str = "directory-sync";
/// Import of given paths.
pub const DIRECTORY_IMPORT: &str = "directory-import";
/// Export of given entities or types.
pub const DIRECTORY_EXPORT: &str = "directory-export";

/// The dedupe key of a `directory-sync` asking for `mode` (`full`, `import-only`,
/// `export-only`) and `allow_mass_delete`. One key per distinct request, so a second request
/// for the same thing joins the queued or running one (policy `Skip`), while a one-way mode or
/// `--allow-mass-delete` is never dropped by joining a plain sync. `brain sync`, the watcher's
/// rescans and the daemon's timers all use it, so they join each other.
pub fn sync_dedupe_key(mode: &str, allow_mass_delete: bool) -> String {
    format!("{DIRECTORY_SYNC}:{mode}:{allow_mass_delete}")
}

/// A `directory-sync` request for `mode` that joins an identical one already queued or running.
pub fn sync_request(mode: &str, allow_mass_delete: bool) -> EnqueueRequest {
    EnqueueRequest::new(
        DIRECTORY_SYNC,
        json!({"mode": mode, "allow_mass_delete": allow_mass_delete}),
    )
    .dedupe(sync_dedupe_key(mode, allow_mass_delete), DedupePolicy::Skip)
}

/// A `directory-import` of `paths` (vault-relative, `/`-separated) that merges into an import
/// still queued, so the files of several bursts become one job.
pub fn import_request(paths: &[String]) -> EnqueueRequest {
    EnqueueRequest::new(DIRECTORY_IMPORT, json!({ "paths": paths }))
        .dedupe(DIRECTORY_IMPORT, DedupePolicy::Coalesce)
}

/// A `directory-export` of `entity` that merges into an export still queued, due at `run_at_ms`
/// (now if `None`): a daemon delays it by its debounce, so a burst of writes to one note writes
/// its file once. Every interface that writes an entity queues this one, in the same
/// transaction (`JobStore::put_and_enqueue` and its siblings).
pub fn export_request(entity: &EntityRef, run_at_ms: Option<i64>) -> EnqueueRequest {
    let mut request =
        EnqueueRequest::new(DIRECTORY_EXPORT, json!({"entities": [entity.to_string()]}))
            .dedupe(DIRECTORY_EXPORT, DedupePolicy::Coalesce);
    request.run_at_ms = run_at_ms;
    request
}

/// A `directory-export` of every note this folder is behind on, due now, merged into an export
/// still queued: what a daemon queues when another folder of its store changed notes (the
/// change already waited out that folder's debounce).
pub fn export_behind_request() -> EnqueueRequest {
    EnqueueRequest::new(DIRECTORY_EXPORT, json!({"all": true}))
        .dedupe(DIRECTORY_EXPORT, DedupePolicy::Coalesce)
}

/// Brings a queued `directory-export` forward to now: its own input merged into it again (which
/// adds nothing) with an earlier due time, since a merge keeps the earlier of the two. A
/// session that is ending has no more writes to gather into the debounce window, so the
/// exports waiting in it need not wait it out. If the job was claimed meanwhile, this is a new
/// export of the same entities, which writes nothing that is already on disk.
pub fn export_now_request(queued_input: &serde_json::Value) -> EnqueueRequest {
    let mut request = EnqueueRequest::new(DIRECTORY_EXPORT, queued_input.clone())
        .dedupe(DIRECTORY_EXPORT, DedupePolicy::Coalesce);
    request.run_at_ms = Some(brain_core::time::now_ms());
    request
}
