//! Directory sync as jobs, registered together as one plugin:
//! - `directory-sync` `{"mode": "full" | "import-only" | "export-only", "allow_mass_delete": bool}`:
//!   the whole vault;
//! - `directory-import` `{"paths": ["a.md", ...]}`: just these files (what a watcher saw), both
//!   directions for them, so a note changed on both sides is settled as a conflict;
//! - `directory-export` `{"entities": ["note/a", ...]}` or `{"types": ["topic"]}` or
//!   `{"all": true}`: write these changed entities to their files ([`SyncMode::Outbox`]): a
//!   file is read only where its entity changed too, and that path is settled there and then
//!   (a conflict keeps both), since no event may ever bring it to an import.
//!
//! Every run holds `.brain/sync.lock`, so two of them never work on one vault at once, whichever
//! process runs them. Refusals (mass delete, unreadable vault, bad config) fail at once: retrying
//! cannot fix them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use brain_core::{Config, EntityRef, PathMapper};
use brain_jobs::handler::TypeConfig;
use brain_jobs::{Handler, JobContext, JobError, Registry};
use brain_store::Store;
use serde_json::Value;

use crate::{SyncEngine, SyncError, SyncMode, SyncOptions};

pub use brain_api::directory::{
    DIRECTORY_EXPORT, DIRECTORY_IMPORT, DIRECTORY_SYNC, export_now_request, export_request,
    import_request, sync_dedupe_key, sync_request,
};

/// Which directory job a handler does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectoryJob {
    /// `directory-sync`.
    Sync,
    /// `directory-import`.
    Import,
    /// `directory-export`.
    Export,
}

/// Runs one kind of directory job for one vault.
pub struct DirectoryHandler {
    /// Which job.
    pub kind: DirectoryJob,
    /// The vault root.
    pub root: PathBuf,
    /// Its configuration.
    pub config: Config,
    /// Its store.
    pub store: Arc<dyn Store>,
}

/// The three directory job types of a vault, each with its handler and how the queue runs it,
/// in the order a worker prefers them: what the sync plugin registers.
pub fn job_types(
    root: &Path,
    config: &Config,
    store: Arc<dyn Store>,
) -> Vec<(&'static str, DirectoryHandler, TypeConfig)> {
    // A whole-vault sync covers every pending import and export, so it goes first: what it
    // leaves for them is nothing.
    [
        (DIRECTORY_SYNC, DirectoryJob::Sync, 6),
        (DIRECTORY_IMPORT, DirectoryJob::Import, 5),
        (DIRECTORY_EXPORT, DirectoryJob::Export, 5),
    ]
    .into_iter()
    .map(|(name, kind, priority)| {
        let handler = DirectoryHandler {
            kind,
            root: root.to_path_buf(),
            config: config.clone(),
            store: store.clone(),
        };
        let queue = TypeConfig {
            concurrency: 1,
            max_attempts: 3,
            priority,
            backoff_base_ms: 500,
            backoff_max_ms: 30_000,
            // They read and write this folder: only its own workers may run them.
            bound_to_replica: true,
        };
        (name, handler, queue)
    })
    .collect()
}

/// Registers the three directory job types for a vault straight into a registry, without a
/// runtime (tests and benchmarks of directory jobs alone); a runtime registers them through
/// the sync plugin.
pub fn register(registry: &mut Registry, root: &Path, config: &Config, store: Arc<dyn Store>) {
    for (name, handler, queue) in job_types(root, config, store) {
        registry.register(name, handler, queue);
    }
}

fn mode_of(input: &Value) -> Result<SyncMode, String> {
    match input.get("mode").and_then(Value::as_str) {
        None | Some("full") => Ok(SyncMode::Full),
        Some("import-only") => Ok(SyncMode::ImportOnly),
        Some("export-only") => Ok(SyncMode::ExportOnly),
        Some(other) => Err(format!(
            "mode '{other}' is not one of full, import-only, export-only"
        )),
    }
}

fn strings<'a>(input: &'a Value, key: &str) -> Result<Option<Vec<&'a str>>, String> {
    match input.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| format!("'{key}' must hold strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("'{key}' must be an array of strings")),
    }
}

impl DirectoryHandler {
    fn mapper(&self) -> Result<PathMapper, String> {
        PathMapper::new(self.config.vault.entity_types.iter().cloned()).map_err(|e| e.to_string())
    }

    /// The options a job's input asks for.
    fn options(&self, input: &Value) -> Result<SyncOptions, String> {
        let allow_mass_delete = match input.get("allow_mass_delete") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("allow_mass_delete must be true or false".into()),
        };
        match self.kind {
            DirectoryJob::Sync => Ok(SyncOptions {
                mode: mode_of(input)?,
                allow_mass_delete,
                only_paths: None,
            }),
            DirectoryJob::Import => {
                let paths = strings(input, "paths")?.ok_or("'paths' is required")?;
                if paths.is_empty() {
                    return Err("'paths' is empty".into());
                }
                let mapper = self.mapper()?;
                for p in &paths {
                    mapper.to_ref(p).map_err(|e| e.to_string())?;
                }
                Ok(SyncOptions {
                    mode: SyncMode::Full,
                    allow_mass_delete,
                    only_paths: Some(paths.iter().map(|p| p.to_string()).collect()),
                })
            }
            DirectoryJob::Export => {
                let mapper = self.mapper()?;
                let mut paths = Vec::new();
                if let Some(refs) = strings(input, "entities")? {
                    for r in refs {
                        let r: EntityRef = r
                            .parse()
                            .map_err(|e: brain_core::RefParseError| e.to_string())?;
                        paths.push(mapper.to_path(&r).map_err(|e| e.to_string())?);
                    }
                }
                let types = strings(input, "types")?;
                let all = input.get("all").and_then(Value::as_bool) == Some(true);
                if paths.is_empty() && types.is_none() && !all {
                    return Err("give 'entities', 'types' or \"all\": true".into());
                }
                if types.is_some() || all {
                    // Resolved at run time from the changed entities; validated here only.
                    paths.push(String::new());
                }
                Ok(SyncOptions {
                    mode: SyncMode::Outbox,
                    allow_mass_delete,
                    only_paths: Some(paths),
                })
            }
        }
    }

    /// For an export by type or of everything: the paths of the changed entities it covers.
    fn resolve_export(&self, input: &Value, opts: &mut SyncOptions) -> Result<(), JobError> {
        let Some(paths) = opts.only_paths.as_mut() else {
            return Ok(());
        };
        if !paths.iter().any(String::is_empty) {
            return Ok(());
        }
        paths.retain(|p| !p.is_empty());
        let all = input.get("all").and_then(Value::as_bool) == Some(true);
        let types = strings(input, "types")
            .map_err(JobError::Permanent)?
            .unwrap_or_default();
        let dirty = self
            .store
            .dirty_entities()
            .map_err(|e| JobError::Failed(e.to_string()))?;
        paths.extend(
            dirty
                .into_iter()
                .filter(|d| all || types.contains(&d.entity.entity_type.as_str()))
                .map(|d| d.path),
        );
        // A named entity that is also a changed one is one path.
        let mut seen = std::collections::HashSet::with_capacity(paths.len());
        paths.retain(|p| seen.insert(p.clone()));
        Ok(())
    }
}

/// Holds `.brain/sync.lock` while the file it returns lives: one directory job per vault at a
/// time, across processes. Git sync takes it too while it merges and imports, so no export
/// writes a file under a merge. (Now the queue's, so the plugin runtime takes the same lock for
/// the job types registered as holding it.)
pub use brain_jobs::vault_lock::lock_vault;

impl Handler for DirectoryHandler {
    fn validate(&self, input: &Value) -> Result<(), String> {
        let known: &[&str] = match self.kind {
            DirectoryJob::Sync => &["mode", "allow_mass_delete"],
            DirectoryJob::Import => &["paths", "allow_mass_delete"],
            DirectoryJob::Export => &["entities", "types", "all", "allow_mass_delete"],
        };
        brain_api::refuse_unknown_keys(input, known)?;
        self.options(input).map(|_| ())
    }

    fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let mut opts = self.options(&ctx.job.input).map_err(JobError::Permanent)?;
        let _lock = lock_vault(&self.root, ctx)?;
        self.resolve_export(&ctx.job.input, &mut opts)?;
        if opts.only_paths.as_ref().is_some_and(Vec::is_empty) {
            return Ok(serde_json::to_value(crate::SyncReport::default()).unwrap_or_default());
        }
        let engine = SyncEngine::new(&self.root, &self.config, self.store.as_ref())
            .map_err(|e| JobError::Permanent(e.to_string()))?;
        match engine.run(&opts, &ctx.progress, &ctx.cancel) {
            Ok(report) => {
                // An acknowledged edit that is not on disk must reach the log, not only this
                // job's result.
                for u in &report.unwritten {
                    // `in_result`: a command that prints this job's report (its skipped files)
                    // drops this line, so the user reads it once.
                    tracing::warn!(job = ctx.job.id, in_result = true, path = %u.path, entity = %u.entity, "edit not written to its file: {}", u.reason);
                }
                serde_json::to_value(&report).map_err(|e| JobError::Failed(e.to_string()))
            }
            Err(SyncError::Cancelled { .. }) => Err(JobError::Cancelled),
            // Retrying cannot fix these; the message says what the user must do.
            Err(
                e @ (SyncError::MassDelete { .. }
                | SyncError::VaultUnreadable { .. }
                | SyncError::Config(_)),
            ) => Err(JobError::Permanent(e.to_string())),
            Err(e) => Err(JobError::Failed(e.to_string())),
        }
    }
}
