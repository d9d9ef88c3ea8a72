//! The batch job types and the plugin that registers them: `batch` (the root, a record of what
//! was asked) and `batch-notes` (a child: one op over its notes, one short write each).

use std::path::PathBuf;
use std::sync::Arc;

use brain_core::{Config, EntityRef};
use brain_jobs::handler::TypeConfig;
use brain_jobs::{Handler, JobContext, JobError};
use brain_store::Backend;
use serde::Serialize;
use serde_json::{Value, json};

use super::plan::{Planned, plan};
use super::{BATCH, BATCH_NOTES, BatchOp, ChildInput};
use crate::plugin::{Capabilities, JobSettings, Plugin, PluginContext, PluginError};
use crate::{Brain, BrainError, Expect, Plugged, Workers};

/// How often a note's write is tried again when another writer changed it between the read and
/// the write (the op is worked out again on the new text each time).
const NOTE_TRIES: u32 = 5;

/// What became of one note.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(crate) enum NoteDone {
    /// Changed: a new version by this batch. `to`: where a moved note is now.
    Changed {
        entity: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// Left as it was, and why.
    Unchanged { entity: String, why: String },
    /// Kept as it is, with the other side recorded as a conflict (a rollback over a note
    /// changed since the batch).
    Conflict { entity: String, why: String },
    /// Could not be changed, and why.
    Failed { entity: String, reason: String },
    /// The store did not answer while this note was worked on: the child stops and is tried
    /// again, the notes it changed skipped by their history. Never part of a child's result.
    #[serde(skip)]
    StoreAway { entity: String, reason: String },
}

impl NoteDone {
    /// A note `e` kept from changing: [`NoteDone::StoreAway`] when the store did not answer
    /// (worth another attempt), [`NoteDone::Failed`] with `e`'s words otherwise.
    pub(crate) fn failed_by(entity: &str, e: &BrainError) -> NoteDone {
        let entity = entity.to_string();
        let reason = e.to_string();
        if e.is_retryable() {
            NoteDone::StoreAway { entity, reason }
        } else {
            NoteDone::Failed { entity, reason }
        }
    }
}

/// The batch plugin: registers the two job types. Register it after the sync plugin, whose
/// capability its children's facade writes through.
pub struct BatchPlugin;

impl Plugin for BatchPlugin {
    fn name(&self) -> &str {
        "batch"
    }

    fn register(&self, ctx: &mut PluginContext) -> Result<(), PluginError> {
        ctx.register_job_type(
            BATCH,
            Root,
            JobSettings {
                queue: TypeConfig {
                    concurrency: TypeConfig::UNLIMITED,
                    max_attempts: 1,
                    ..TypeConfig::default()
                },
                holds_vault_lock: false,
            },
        )?;
        let children = Children {
            root: ctx.root().to_path_buf(),
            config: ctx.config().clone(),
            store: ctx.store().clone(),
            capabilities: ctx.registrations.capabilities.clone(),
        };
        ctx.register_job_type(
            BATCH_NOTES,
            children,
            JobSettings {
                queue: TypeConfig {
                    // One child at a time: each note is its own write, and two children would
                    // only wait on each other's transactions.
                    concurrency: 1,
                    // Each attempt after the first skips the notes done (by their history),
                    // so a store away for a while (retried after 1, 2, 4 ... 64 s) costs
                    // nothing but the wait.
                    max_attempts: 8,
                    // Works on this folder's files (the checks against them, the exports).
                    bound_to_replica: true,
                    ..TypeConfig::default()
                },
                holds_vault_lock: false,
            },
        )
    }
}

/// The root: a record of what was asked. It has nothing to do itself.
struct Root;

impl Handler for Root {
    fn validate(&self, input: &Value) -> Result<(), String> {
        serde_json::from_value::<BatchOp>(input.get("op").cloned().unwrap_or(Value::Null))
            .map(|_| ())
            .map_err(|e| format!("'op' is not a batch operation: {e}"))
    }

    fn run(&self, _ctx: &JobContext) -> Result<Value, JobError> {
        Ok(json!({}))
    }
}

/// A child: its op over its notes, through a facade of its own.
struct Children {
    root: PathBuf,
    config: Config,
    store: Arc<dyn Backend>,
    capabilities: Capabilities,
}

impl Handler for Children {
    fn validate(&self, input: &Value) -> Result<(), String> {
        let child: ChildInput = serde_json::from_value(input.clone())
            .map_err(|e| format!("not a batch child's input ({{op, notes}}): {e}"))?;
        for n in &child.notes {
            n.parse::<EntityRef>()
                .map_err(|e| format!("'{n}' is not a note reference: {e}"))?;
        }
        Ok(())
    }

    fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let child: ChildInput = serde_json::from_value(ctx.job.input.clone())
            .map_err(|e| JobError::Permanent(format!("not a batch child's input: {e}")))?;
        let Some(batch) = ctx.job.parent_id else {
            return Err(JobError::Permanent(
                "a batch-notes job runs under a batch root; this one has none".into(),
            ));
        };
        let brain = Brain::new(
            &self.root,
            self.config.clone(),
            self.store.clone(),
            Plugged {
                queue: ctx.queue.clone(),
                capabilities: self.capabilities.clone(),
            },
            Workers::Daemon,
        )
        .with_source(format!("batch {batch}"))
        .with_message(Some(child.op.describe()))
        .exporting_all();
        let mapper = brain
            .path_mapper()
            .map_err(|e| JobError::Permanent(e.to_string()))?;
        let logseq = brain.is_logseq();
        // A later attempt follows one that stopped mid-way (its worker died): notes whose
        // history holds a version by this batch were done then.
        let resumed = ctx.job.attempts > 1;
        let total = child.notes.len() as u64;
        let mut done = Vec::with_capacity(child.notes.len());
        let mut not_done = Vec::new();
        let mut open_conflicts = super::rollback::OpenRollbackConflicts::default();
        for (i, name) in child.notes.iter().enumerate() {
            if ctx.cancel.is_cancelled() {
                not_done.extend(child.notes[i..].iter().cloned());
                break;
            }
            ctx.progress.set(i as u64, Some(total), name);
            let Ok(r) = name.parse::<EntityRef>() else {
                done.push(NoteDone::Failed {
                    entity: name.clone(),
                    reason: "not a note reference".into(),
                });
                continue;
            };
            if resumed && let Some(now) = brain.changed_by(&r, batch) {
                done.push(NoteDone::Changed {
                    entity: name.clone(),
                    to: (now != r).then(|| now.to_string()),
                });
                continue;
            }
            let outcome = match &child.op {
                BatchOp::Rollback { of } => {
                    brain.roll_back_note(&r, *of, batch, &mapper, &mut open_conflicts)
                }
                op => brain.apply_to_note(op, &r, logseq, &mapper),
            };
            if let NoteDone::StoreAway { entity, reason } = &outcome {
                return Err(JobError::Failed(format!(
                    "the store did not answer while {entity} was changed ({reason}); the {} \
                     notes this job dealt with are kept, and it goes on from {entity} when \
                     it runs again",
                    done.len()
                )));
            }
            if let NoteDone::Failed { entity, reason } = &outcome {
                tracing::warn!(job = ctx.job.id, batch, entity = %entity, reason = %reason, "batch left a note unchanged");
            }
            done.push(outcome);
        }
        ctx.progress
            .set(total - not_done.len() as u64, Some(total), "done");
        ctx.progress.flush();
        Ok(json!({"notes": done, "not_done": not_done, "cancelled": !not_done.is_empty()}))
    }
}

impl Brain {
    /// Where note `r` is now, if a version of it was made by batch `batch` (it may have moved
    /// since, by that batch or later).
    pub(crate) fn changed_by(&self, r: &EntityRef, batch: i64) -> Option<EntityRef> {
        let now = match self.store.get_any(r) {
            Ok(_) => r.clone(),
            Err(_) => self.moved_to(r)?,
        };
        let source = format!("batch {batch}");
        let versions = self.store.history(&now).ok()?;
        versions
            .iter()
            .any(|v| v.why.source == source)
            .then_some(now)
    }

    /// Applies `op` to note `r` as it is now: worked out on its current text and written
    /// against that text's hash, worked out again if another write lands in between.
    fn apply_to_note(
        &self,
        op: &BatchOp,
        r: &EntityRef,
        logseq: bool,
        mapper: &brain_core::PathMapper,
    ) -> NoteDone {
        let entity = r.to_string();
        let failed = |e: String| NoteDone::Failed {
            entity: entity.clone(),
            reason: e,
        };
        let mut tries = 1;
        loop {
            let note = match self.get(r) {
                Ok(note) => note,
                Err(e) => return NoteDone::failed_by(&entity, &e),
            };
            let planned = match plan(op, &note, logseq, mapper) {
                Ok(p) => p,
                Err(e) => return failed(e),
            };
            let written = match planned {
                Planned::Unchanged(why) => {
                    return NoteDone::Unchanged {
                        entity: entity.clone(),
                        why,
                    };
                }
                Planned::Text(text) => self
                    .require_synced_file(
                        r,
                        &note.path,
                        &note.content_hash,
                        crate::error::ChangeKind::Edit,
                        false,
                    )
                    .and_then(|()| {
                        self.write_expecting(
                            r,
                            text.as_bytes(),
                            Expect::Hash(note.content_hash.clone()),
                            &self.why(),
                        )
                    })
                    .map(|_| None),
                Planned::Move(to) => self
                    .move_note(r, &to, self.message.as_deref())
                    .map(|_| Some(to.to_string())),
                Planned::Delete => self.delete_saying(r, None).map(|_| None),
            };
            match written {
                Ok(to) => return NoteDone::Changed { entity, to },
                Err(BrainError::Stale { .. }) if tries < NOTE_TRIES => tries += 1,
                Err(BrainError::MoveTargetTaken { to, why }) => {
                    return failed(format!(
                        "{to} is taken{why}, so it was not moved: rename one of them, or choose \
                         another --to folder"
                    ));
                }
                Err(e) => return NoteDone::failed_by(&entity, &e),
            }
        }
    }
}
