//! Directory sync as a job: the `directory-sync` handler runs the engine with the job's
//! progress reporter and cancel token.

use std::path::PathBuf;
use std::sync::Arc;

use brain_core::Config;
use brain_jobs::{Handler, JobContext, JobError};
use brain_store::Store;
use serde_json::Value;

use crate::{SyncEngine, SyncError, SyncMode, SyncOptions};

/// The job type name.
pub const DIRECTORY_SYNC: &str = "directory-sync";

/// Runs a full or one-way sync of one vault. Input: `{"mode": "full" | "import-only" |
/// "export-only", "allow_mass_delete": bool}` (both optional).
pub struct DirectorySyncHandler {
    /// The vault root.
    pub root: PathBuf,
    /// Its configuration.
    pub config: Config,
    /// Its store.
    pub store: Arc<dyn Store>,
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

impl Handler for DirectorySyncHandler {
    fn validate(&self, input: &Value) -> Result<(), String> {
        mode_of(input)?;
        match input.get("allow_mass_delete") {
            None | Some(Value::Bool(_)) => Ok(()),
            Some(_) => Err("allow_mass_delete must be true or false".into()),
        }
    }

    fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let opts = SyncOptions {
            mode: mode_of(&ctx.job.input).map_err(JobError::Failed)?,
            allow_mass_delete: ctx
                .job
                .input
                .get("allow_mass_delete")
                .and_then(Value::as_bool)
                == Some(true),
        };
        let engine = SyncEngine::new(&self.root, &self.config, self.store.as_ref())
            .map_err(|e| JobError::Permanent(e.to_string()))?;
        match engine.run(&opts, &ctx.progress, &ctx.cancel) {
            Ok(report) => {
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
