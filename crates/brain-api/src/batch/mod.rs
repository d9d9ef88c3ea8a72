//! Batch operations (`brain batch`, MCP `batch`): one operation applied to every note a query
//! selects, run as a persisted batch of jobs, watched as it runs, and undone as a whole.
//!
//! - The query is the search language with its filters (`type:`, `tag:`, `path:`,
//!   `meta.KEY:`); filters alone select every match, with no limit. The selection is taken
//!   once, when the batch is queued, and split into children of [`NOTES_PER_CHILD`] notes.
//! - The root job (`batch`) holds what was asked; its children (`batch-notes`) do the work,
//!   one note per short transaction through the facade (the same compare-and-set and checks
//!   as `brain edit`, `mv`, `rm`), so other writers keep going between them. Every version a
//!   batch makes says `batch N` in the note's history: that is the record of which notes it
//!   changed, committed with each change, whatever happens to the process after.
//! - A child killed mid-way is taken over when its lease lapses and skips the notes whose
//!   history already holds a version by the batch; a cancelled child stops between notes and
//!   lists those it did not reach.
//! - A rollback is a batch of its own over the same notes: each gets back the version from
//!   before the batch, unless it changed since (then a conflict keeps both). Rolling back a
//!   rollback re-applies the batch.
//!
//! Both job types are registered by [`BatchPlugin`], like any plugin's.

mod plan;
mod preview;
mod report;
mod rollback;
mod run;
mod tend;

use brain_core::EntityRef;
use brain_jobs::EnqueueRequest;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use plan::Planned;
pub use report::{BatchOutcome, BatchReport, ChildSummary, NoteFailure};
pub use run::BatchPlugin;

use crate::{Brain, BrainError, SearchRequest};

/// The root job of a batch: holds what was asked (its op, query and note count); its children
/// do the work.
pub const BATCH: &str = "batch";
/// A child of a batch: one operation over a list of notes.
pub const BATCH_NOTES: &str = "batch-notes";
/// Notes per child job: small enough that a cancel or a takeover is never far off and a
/// child's record stays small, large enough that 10,000 notes are 100 jobs.
pub const NOTES_PER_CHILD: usize = 100;
/// Batches run below interactive work (exports, syncs: 5), so a person's write is not queued
/// behind 10,000 notes.
const BATCH_PRIORITY: u8 = 3;

/// One operation a batch applies to every note it selects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum BatchOp {
    /// Set a frontmatter key (or Logseq page property).
    Set {
        /// The key.
        key: String,
        /// Its value (`brain_core::edit::value_of` reads a typed one).
        value: Value,
    },
    /// Remove a frontmatter key.
    Unset {
        /// The key.
        key: String,
    },
    /// Add a tag to the frontmatter's (or page properties') tags.
    TagAdd {
        /// The tag, without `#`.
        tag: String,
    },
    /// Remove a tag from the frontmatter's tags; an inline `#tag` in the text is left.
    TagRemove {
        /// The tag, without `#`.
        tag: String,
    },
    /// Move each note into a folder, keeping its file name.
    Move {
        /// The folder, vault-relative (`Archive/2026`).
        to: String,
    },
    /// Replace every occurrence of a text.
    Replace {
        /// The text to find (not empty).
        old: String,
        /// What replaces it.
        new: String,
    },
    /// Delete each note (softly: `brain restore` brings it back).
    Delete,
    /// Give every note batch `of` changed its version from before that batch.
    Rollback {
        /// The batch undone.
        of: i64,
    },
}

/// The most characters of one note's diff a dry run shows.
pub const DIFF_CHARS: usize = 8_000;

/// `diff` cut at [`DIFF_CHARS`] characters, saying so: a long value makes a diff of megabytes
/// that no person or agent reads whole (the run writes it whole).
fn cut_diff(diff: String) -> String {
    match diff.char_indices().nth(DIFF_CHARS) {
        Some((end, _)) => format!(
            "{}\n… (diff cut at {DIFF_CHARS} characters; the run writes the whole change)",
            &diff[..end]
        ),
        None => diff,
    }
}

/// How many characters of a value an operation's description shows.
pub const SHOWN_CHARS: usize = 60;

/// `text` on one line (a line break shown as `⏎`), cut to [`SHOWN_CHARS`] characters with `…`.
fn clip(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push('⏎'),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

impl BatchOp {
    /// What a person should know before this op runs that its description does not say: that
    /// tags are the frontmatter's only, that `set tags=` replaces the whole list (and that
    /// `set Tags=` in Markdown is another key), that an empty value writes a null rather than
    /// removing the key. `logseq`: the vault is a Logseq graph, whose property names ignore
    /// letter case. Said by the dry run and when it is queued, since a real run is queued
    /// without a dry run first.
    pub fn note(&self, logseq: bool) -> Option<String> {
        const ONE_TAG: &str = "to add or remove one tag, use `tag add` or `tag remove` (over \
                               MCP, op `tag_add` or `tag_remove`)";
        match self {
            BatchOp::TagAdd { .. } | BatchOp::TagRemove { .. } => Some(
                "tags are changed in the frontmatter (or page properties) only: inline #tags in \
                 the text are left as they are"
                    .to_string(),
            ),
            BatchOp::Set { key, .. }
                if key == "tags" || logseq && key.eq_ignore_ascii_case("tags") =>
            {
                Some(format!(
                    "`set {}=...` replaces each note's whole tag list; {ONE_TAG}",
                    clip(key)
                ))
            }
            BatchOp::Set { key, .. } if key.eq_ignore_ascii_case("tags") => Some(format!(
                "`{}` is a key of its own beside `tags`: the notes' tags stay as they are; `set \
                 tags=...` replaces them, and {ONE_TAG}",
                clip(key)
            )),
            BatchOp::Set {
                key,
                value: Value::Null,
            } => Some(format!(
                "an empty value sets `{k}` to nothing (writing {}) rather than removing it; \
                 `unset {k}` (over MCP, op `unset`) removes the key",
                if logseq {
                    format!("an empty `{}::`", clip(key))
                } else {
                    format!("`{}: null`", clip(key))
                },
                k = clip(key)
            )),
            _ => None,
        }
    }

    /// The operation as a person typed it, on one line: `set status=done`. Each value is cut
    /// to [`SHOWN_CHARS`] characters, so a 100 kB value does not fill every status line.
    pub fn describe(&self) -> String {
        match self {
            BatchOp::Set { key, value } => match value {
                // Text that would read back as another value (`""` as a null, `"true"` as a
                // boolean, `"3"` as a number) is shown quoted, as it must be typed.
                Value::String(s) if reads_as_another_value(s) => {
                    format!("set {}=\"{}\"", clip(key), clip(s))
                }
                _ => format!("set {}={}", clip(key), clip(&plan::shown(value))),
            },
            BatchOp::Unset { key } => format!("unset {}", clip(key)),
            BatchOp::TagAdd { tag } => format!("tag add {}", clip(tag)),
            BatchOp::TagRemove { tag } => format!("tag remove {}", clip(tag)),
            BatchOp::Move { to } => format!("mv --to {}", clip(to)),
            BatchOp::Replace { old, new } => {
                format!("replace '{}' with '{}'", clip(old), clip(new))
            }
            BatchOp::Delete => "rm".into(),
            BatchOp::Rollback { of } => format!("rollback of batch {of}"),
        }
    }

    /// Refuses an operation that could change no note as asked, saying what to write.
    fn check(&self) -> Result<(), BrainError> {
        let bad = |m: String| Err(BrainError::BadRequest(m));
        match self {
            BatchOp::Set { key, .. } | BatchOp::Unset { key } if key.trim().is_empty() => {
                bad("the key is empty: name the frontmatter key (`set status=done`)".into())
            }
            BatchOp::Set { key, .. } | BatchOp::Unset { key }
                if key.contains([':', '\n', '\r', '#']) || key.trim() != key =>
            {
                bad(format!(
                    "'{}' is not a frontmatter key: a key has no ':', '#', line break or \
                     surrounding space",
                    clip(key)
                ))
            }
            BatchOp::TagAdd { tag } | BatchOp::TagRemove { tag }
                if tag.trim_start_matches('#').trim().is_empty()
                    || tag.contains([',', '\n', '\r']) =>
            {
                bad(format!(
                    "'{}' is not a tag: give one tag, without commas (`tag add project-x`)",
                    clip(tag)
                ))
            }
            BatchOp::Replace { old, .. } if old.is_empty() => {
                bad("the text to replace is empty: give the text to find".into())
            }
            BatchOp::Move { to } if to.trim().is_empty() => bad(
                "the folder to move to is empty: give a vault-relative folder (`Archive/2026`), \
                 or `/` for the vault's top folder"
                    .into(),
            ),
            BatchOp::Move { to } if to.contains(['\n', '\r', '\\']) || to.contains("..") => {
                bad(format!(
                    "'{}' is not a folder of the vault: give a vault-relative folder with `/` \
                     between its parts",
                    clip(to)
                ))
            }
            BatchOp::Rollback { .. } => bad(
                "a rollback is not an operation over a query: use `brain batch rollback ID`".into(),
            ),
            _ => Ok(()),
        }
    }

    /// The same op with a tag as written (no `#`).
    fn normalized(&self) -> BatchOp {
        match self {
            BatchOp::TagAdd { tag } => BatchOp::TagAdd {
                tag: tag.trim().trim_start_matches('#').to_string(),
            },
            BatchOp::TagRemove { tag } => BatchOp::TagRemove {
                tag: tag.trim().trim_start_matches('#').to_string(),
            },
            other => other.clone(),
        }
    }
}

/// What a batch would do to one note (a dry run).
#[derive(Clone, Debug, Serialize)]
pub struct NotePreview {
    /// The note.
    pub entity: String,
    /// Its file.
    pub path: String,
    /// `edit`, `move`, `delete`, `unchanged` or `refused`.
    pub change: &'static str,
    /// For an edit: the unified diff of its text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// For a move: where it goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Why it stays as it is, or why it cannot be changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// A dry run: what the batch would do, with nothing written.
#[derive(Clone, Debug, Serialize)]
pub struct BatchPreview {
    /// The operation, as typed.
    pub op: String,
    /// The query.
    pub query: String,
    /// Notes the query selects.
    pub count: usize,
    /// How many of them it would change.
    pub would_change: usize,
    /// Each note, in the selection's order.
    pub notes: Vec<NotePreview>,
    /// What the op does that its description does not say ([`BatchOp::note`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Said when history is off: the batch could not be rolled back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A batch queued (or, selecting no note, not).
#[derive(Clone, Debug, Serialize)]
pub struct BatchQueued {
    /// The batch's id (its root job's), for `brain batch status`; `None` when no note matched.
    pub batch_id: Option<i64>,
    /// Notes selected.
    pub count: usize,
    /// The operation, as typed.
    pub op: String,
    /// What a person is told: "Queued: set status=done on 312 notes. Batch 17".
    pub message: String,
    /// What the op does that its description does not say ([`BatchOp::note`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Said when history is off: the batch cannot be rolled back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A child's input: the op and its notes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ChildInput {
    pub op: BatchOp,
    pub notes: Vec<String>,
}

/// Whether text typed bare as a `set` value would be read as something else than that text
/// (`brain_core::edit::value_of` reads YAML where YAML reads back what was typed).
fn reads_as_another_value(s: &str) -> bool {
    brain_core::edit::value_of(s, false) != Value::String(s.to_string())
}

/// "1 note", "312 notes".
pub(crate) fn notes(n: usize) -> String {
    if n == 1 {
        "1 note".into()
    } else {
        format!("{n} notes")
    }
}

impl Brain {
    /// `op`'s own checks, and in a Logseq graph a key that is no page property name: refused
    /// before anything is queued, rather than note by note as the batch runs.
    fn check_batch_op(&self, op: &BatchOp) -> Result<(), BrainError> {
        op.check()?;
        if let BatchOp::Set { key, .. } | BatchOp::Unset { key } = op
            && self.is_logseq()
            && !brain_core::logseq::is_property_name(key)
        {
            return Err(BrainError::BadRequest(
                brain_core::edit::EditError::BadPropertyName(clip(key)).to_string(),
            ));
        }
        Ok(())
    }
    /// Every live note `query` selects (its words and filters), best first for words and newest
    /// first for filters alone, with no limit.
    pub fn select_notes(&self, query: &str) -> Result<Vec<brain_store::SearchHit>, BrainError> {
        let mut q = self.search_query(&SearchRequest {
            query: query.to_string(),
            ..SearchRequest::default()
        })?;
        q.limit = 0;
        q.snippets = false;
        Ok(self.store.search(&q)?)
    }

    fn history_off_warning(&self) -> Option<String> {
        // A shared store keeps its history whatever one folder's config says.
        let kept = self.config.history.keep || self.store.replica_id().is_some();
        (!kept).then(|| {
            "history is off (`[history] keep = false`): this batch cannot be rolled back".into()
        })
    }

    /// Queues `op` over every note `query` selects, as a batch whose children each change
    /// up to [`NOTES_PER_CHILD`] notes, and returns at once. A query selecting no note
    /// queues nothing and says so.
    pub fn start_batch(&self, op: &BatchOp, query: &str) -> Result<BatchQueued, BrainError> {
        self.start_batch_allowing(op, query, false)
    }

    /// [`Brain::start_batch`], with `allow_mass_delete` lifting the guard a `rm` over most
    /// of the vault meets ([`BrainError::BatchMassDelete`]), as `brain sync
    /// --allow-mass-delete` does for a sync.
    pub fn start_batch_allowing(
        &self,
        op: &BatchOp,
        query: &str,
        allow_mass_delete: bool,
    ) -> Result<BatchQueued, BrainError> {
        self.check_batch_op(op)?;
        let op = op.normalized();
        // Checked now, so a folder no note could move to is refused before anything is queued.
        self.check_move_target(&op)?;
        let hits = self.select_notes(query)?;
        // The notes a move takes along (only a move's note reads them).
        let moving: Vec<String> = match op {
            BatchOp::Move { .. } => hits.iter().map(|h| h.path.clone()).collect(),
            _ => Vec::new(),
        };
        let refs: Vec<EntityRef> = hits.into_iter().map(|h| h.entity).collect();
        if op == BatchOp::Delete
            && !allow_mass_delete
            && let Some(refused) = self.mass_delete_refusal(refs.len() as u64)?
        {
            return Err(refused);
        }
        let note = (!refs.is_empty())
            .then(|| self.batch_note(&op, &moving))
            .flatten();
        self.queue_batch(op, query, refs, None, note)
    }

    /// Queues a batch of `op` over `refs` (in that order). Shared by [`Brain::start_batch`]
    /// and a rollback, whose notes are the batch's it undoes.
    pub(crate) fn queue_batch(
        &self,
        op: BatchOp,
        query: &str,
        refs: Vec<EntityRef>,
        rollback_of: Option<i64>,
        note: Option<String>,
    ) -> Result<BatchQueued, BrainError> {
        let described = op.describe();
        if refs.is_empty() {
            return Ok(BatchQueued {
                batch_id: None,
                count: 0,
                op: described.clone(),
                message: match rollback_of {
                    Some(of) => format!(
                        "Batch {of} changed no note, so there is nothing to roll back: nothing \
                         was queued."
                    ),
                    None => {
                        let hint = self
                            .empty_selection_hint(query)
                            .map(|h| format!("; {h}"))
                            .unwrap_or_default();
                        format!(
                            "No note matches `{query}`: nothing was queued ({described}){hint}."
                        )
                    }
                },
                note: None,
                warning: None,
            });
        }
        let count = refs.len();
        let mut root = EnqueueRequest::new(
            BATCH,
            json!({"op": op, "query": query, "count": count, "rollback_of": rollback_of}),
        );
        root.priority = Some(BATCH_PRIORITY);
        let children = refs
            .chunks(NOTES_PER_CHILD)
            .map(|chunk| {
                let input = ChildInput {
                    op: op.clone(),
                    notes: chunk.iter().map(|r| r.to_string()).collect(),
                };
                let mut child = EnqueueRequest::new(
                    BATCH_NOTES,
                    serde_json::to_value(input).unwrap_or_default(),
                );
                child.priority = Some(BATCH_PRIORITY);
                child
            })
            .collect();
        let (id, _) = self.queue.enqueue_batch(root, children)?;
        self.ensure_workers();
        tracing::info!(batch = id, op = %described, notes = count, "batch queued");
        Ok(BatchQueued {
            batch_id: Some(id),
            count,
            op: described.clone(),
            message: format!("Queued: {described} on {}. Batch {id}", notes(count)),
            note,
            warning: self.history_off_warning(),
        })
    }

    /// The vault's path mapping, from its configured types.
    pub(crate) fn path_mapper(&self) -> Result<brain_core::PathMapper, BrainError> {
        brain_core::PathMapper::new(self.config.vault.entity_types.iter().cloned())
            .map_err(|e| BrainError::BadRequest(format!("the vault's entity types: {e}")))
    }
}
