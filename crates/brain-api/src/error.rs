//! What can go wrong behind the facade, worded for whoever asked: an agent over MCP, a person in
//! a chat or on the web page. Every message says what failed, on which note or job, and what to
//! do next, because the interface shows it as is.

use crate::directory::SyncError;
use crate::plugin::PluginError;
use brain_jobs::QueueError;
use brain_store::StoreError;

/// An error from a [`crate::Brain`] call.
#[derive(Debug, thiserror::Error)]
pub enum BrainError {
    /// No live entity by that reference.
    #[error(
        "there is no note {entity} (it may have been deleted): {}check the type and id with the `list` or `search` tool",
        did_you_mean(.entity, .suggestion)
    )]
    NotFound {
        /// `type/id`.
        entity: String,
        /// The live note the caller most likely meant (`type/id`), when one stands out: the id
        /// without `.md`, another case, a typo away (see `Brain::get`).
        suggestion: Option<String>,
    },
    /// The note that was at this id was moved (`brain mv`, or its file renamed): it is `now`.
    /// Kind `not_found`.
    #[error(
        "there is no note {entity} any more: it was moved to {now}; use that id (`brain history {now}` lists its versions, the move included)"
    )]
    Moved {
        /// `type/id` asked for.
        entity: String,
        /// `type/id` it has now.
        now: String,
    },
    /// No such note, but a file is at its path: one the sync skips (unreadable, too large,
    /// broken frontmatter) or one not synced yet. Kind `not_found`.
    #[error(
        "there is no note {entity}: its file {path} is on disk but not imported (the sync skips it, or has not run since it appeared); `brain sync` imports it or says why it is skipped"
    )]
    NotImported {
        /// `type/id` asked for.
        entity: String,
        /// The file, vault-relative.
        path: String,
    },
    /// The store's copy of a note does not match the hash it was stored with: the store is
    /// damaged. Nothing was read or written. Kind `store_failed`.
    #[error(
        "the store's copy of {entity} does not match the hash it was stored with (the store is damaged): nothing was read or written; run `brain doctor`, and `brain doctor --rebuild` to rebuild the store from the note files"
    )]
    DamagedNote {
        /// `type/id`.
        entity: String,
    },
    /// Nothing is imported yet (the store has never held a note): the note is likely on disk,
    /// waiting for the first sync. Kind `not_found`.
    #[error(
        "there is no note {entity}: no note is imported into the store yet; run `brain sync` to import the vault's notes (or `brain serve`, which keeps them imported)"
    )]
    NothingImported {
        /// `type/id`.
        entity: String,
    },
    /// The note was deleted (softly: its last text is kept and can be brought back). Its own
    /// variant so a reader is told it is restorable rather than that it never existed; its
    /// kind stays `not_found`, as it is not there to read.
    #[error(
        "{entity} was deleted (its last text is kept): a person can bring it back with `brain restore {entity}`, or create it anew with `create`"
    )]
    Deleted {
        /// `type/id`.
        entity: String,
    },
    /// The input cannot become a note (bad type or id, bad frontmatter, not UTF-8...). Nothing
    /// was stored.
    #[error("{entity} was not stored: {reason}")]
    Invalid {
        /// `type/id` (or what was given).
        entity: String,
        /// Why, and what to do.
        reason: String,
        /// Which check refused it, for a caller that acts on the reason without parsing
        /// `reason` (whose wording may change).
        kind: InvalidKind,
    },
    /// The note is over a size limit. Nothing was stored.
    #[error(
        "{entity} was not stored: it is {size} bytes, over the limit of {limit} bytes ({setting})"
    )]
    TooLarge {
        /// `type/id`.
        entity: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: u64,
        /// The setting that sets the limit.
        setting: &'static str,
    },
    /// A create found a live note already there. Nothing was stored.
    #[error("{entity} already exists: read it with `get` and change it with `update` instead")]
    Exists {
        /// `type/id`.
        entity: String,
    },
    /// A move onto a note that exists, or onto a file not yet synced. Nothing was moved. Kind
    /// `exists`.
    #[error(
        "{to} is taken{why}, so nothing was moved: pick another id, or move that note away (or delete it) first"
    )]
    MoveTargetTaken {
        /// `type/id` asked for.
        to: String,
        /// What holds it, when not a note (`: the file X is on disk, not yet synced`).
        why: String,
    },
    /// An update whose expected hash is not the note's hash now: someone changed it since it was
    /// read. Nothing was stored.
    #[error(
        "{entity} changed since you read it (expected hash {expected}, it is now {actual}): nothing was stored; `get` it again and make your change on what is there now, passing its new hash"
    )]
    Stale {
        /// `type/id`.
        entity: String,
        /// The hash the caller gave.
        expected: String,
        /// The hash now, or "absent (never created, or deleted)".
        actual: String,
    },
    /// A change made on a note whose file was edited (or deleted) on disk since the last sync:
    /// stored, it would meet the person's edit at its export and end up as a conflict copy
    /// while the note kept the person's text. Nothing was stored.
    #[error(
        "{entity} was not {}: its file {path} was {} on disk since the last sync, and the store does not hold that yet; run `brain sync` (over MCP, the `sync` tool) to import it, then run the same {} again",
        .action.done(),
        if *.deleted { "deleted" } else { "edited" },
        .action.noun()
    )]
    FileEdited {
        /// `type/id`.
        entity: String,
        /// Its file, vault-relative.
        path: String,
        /// The file is gone rather than changed.
        deleted: bool,
        /// What was not done.
        action: ChangeKind,
    },
    /// No job by that id (or it was pruned after the retention period).
    #[error(
        "there is no job #{0} (finished jobs are pruned after `jobs.retention_days`): see the `status` tool for current jobs"
    )]
    UnknownJob(i64),
    /// A request the facade refuses as given (bad mode, bad limit, empty query...).
    #[error("{0}")]
    BadRequest(String),
    /// No batch by that id (no job, or a job that is not a batch's root). Kind `not_found`.
    #[error("{0}")]
    NoSuchBatch(String),
    /// A batch request refused for what the batch is now (rolled back already, still running).
    /// Kind `refused`.
    #[error("{0}")]
    BatchRefused(String),
    /// A batch `rm` that would delete more of the vault's notes than `sync.mass_delete_share`
    /// (and more than `sync.mass_delete_min`), asked without `allow_mass_delete`: the same
    /// guard a sync has. Kind `mass_delete`; CLI exit 5.
    #[error(
        "this batch would delete {would_delete} of the vault's {live} notes (more than the \
         configured share {share}, `sync.mass_delete_share`); nothing was queued. Check the \
         selection with a dry run; if you mean it, run it again allowing a mass delete \
         (`--allow-mass-delete`; `brain batch rollback` undoes it)"
    )]
    BatchMassDelete {
        /// Notes the batch selects.
        would_delete: u64,
        /// Live notes in the vault.
        live: u64,
        /// The configured share.
        share: f64,
    },
    /// A version of a note its history does not hold. Kind `not_found`.
    #[error("{0}")]
    NoSuchVersion(String),
    /// A type that is neither `note` nor one of the vault's `vault.entity_types`, in a read or
    /// a filter (a write names it in [`BrainError::Invalid`], as "not stored").
    #[error("unknown type '{name}': this vault has {known} (set `vault.entity_types` to add one)")]
    UnknownType {
        /// The type asked for.
        name: String,
        /// The vault's types, comma-separated.
        known: String,
    },
    /// Git sync is not set up for this vault.
    #[error("git sync is not set up for this vault: run `brain git init --remote URL` in it first")]
    GitNotEnabled,
    /// The store failed.
    #[error("the store failed: {0}")]
    Store(#[source] StoreError),
    /// A call on the vault's jobs or conflicts records ([`crate::Brain::jobs`],
    /// [`crate::Brain::conflict`], [`crate::Brain::pause_sync`]...) that the store refused or
    /// failed, in the store's own words: they name the `brain` command that lists the records
    /// (`no job #7: see brain jobs list`), which is what a person managing them reads. Kept
    /// as the store said it (not reworded like [`BrainError::UnknownJob`] for an agent), so
    /// `brain jobs` and `brain conflicts` say what they said before they went through the
    /// facade; its [`kind`](BrainError::kind) is that of what the store said.
    #[error(transparent)]
    Record(StoreError),
    /// The queue refused or failed.
    #[error("the job queue failed: {0}")]
    Queue(#[source] QueueError),
    /// The vault's sync engine could not be set up (an unreadable vault, a bad `.brainignore`).
    #[error("cannot work on the vault: {0}")]
    Sync(#[from] SyncError),
    /// A plugin this call needs is not part of this build or process (a facade built without
    /// the directory-sync plugin cannot check a note's text as an import would).
    #[error("this brain cannot do that: {0}")]
    Plugin(#[from] PluginError),
}

/// The "did you mean" part of [`BrainError::NotFound`], empty without a suggestion.
fn did_you_mean(entity: &str, suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) if brain_core::path::differs_only_in_unicode_form(entity, s) => format!(
            "did you mean {s}? It looks the same, but its name is in another Unicode form \
             (decomposed accents, as macOS names files): copy its id from `list` or `search`. \
             Otherwise "
        ),
        Some(s) => format!("did you mean {s}? Otherwise "),
        None => String::new(),
    }
}

/// Which check refused a note's content or name ([`BrainError::Invalid`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidKind {
    /// The type is neither `note` nor configured.
    UnknownType,
    /// The id cannot be a file of this vault safely: it would leave the vault, land where sync
    /// never reads (a dot folder, `.brainignore`), or be read back as another note.
    UnsafeId,
    /// The content is not a text note: empty, binary (a NUL byte) or not UTF-8.
    NotText,
    /// The frontmatter does not parse: never closed, invalid YAML, or not a map.
    InvalidFrontmatter,
}

impl InvalidKind {
    /// The stable name of this refusal, as [`BrainError::kind`] gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidKind::UnknownType => "unknown_type",
            InvalidKind::UnsafeId => "unsafe_id",
            InvalidKind::NotText => "not_text",
            InvalidKind::InvalidFrontmatter => "invalid_frontmatter",
        }
    }
}

impl From<StoreError> for BrainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(entity) => BrainError::NotFound {
                entity: entity.to_string(),
                suggestion: None,
            },
            StoreError::JobNotFound(id) => BrainError::UnknownJob(id),
            StoreError::Stale {
                entity,
                expected,
                actual,
            } if expected.is_empty() => {
                let _ = actual;
                BrainError::Exists { entity }
            }
            StoreError::Stale {
                entity,
                expected,
                actual,
            } => BrainError::Stale {
                entity,
                expected,
                actual: actual.unwrap_or_else(|| "absent (never created, or deleted)".into()),
            },
            // The caller's input, not a failing store: say so, without "the store failed".
            StoreError::EmptyQuery => BrainError::BadRequest(
                "the search query has no words to search for (an operator such as AND or a \
                 lone - does not count): give at least one word"
                    .into(),
            ),
            e @ StoreError::VersionNotFound { .. } => BrainError::NoSuchVersion(e.to_string()),
            e @ (StoreError::PathCollision(_) | StoreError::JobState { .. }) => {
                BrainError::BadRequest(e.to_string())
            }
            other => BrainError::Store(other),
        }
    }
}

impl From<QueueError> for BrainError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::Store(e) => e.into(),
            other => BrainError::Queue(other),
        }
    }
}

impl BrainError {
    /// A stable, machine-readable name for what went wrong, so an interface can let a caller
    /// branch on the reason (and a test assert it) without matching the message, whose wording
    /// is for people and changes. Once published a kind keeps its meaning; new failures get new
    /// kinds. The kinds: `not_found`, `unknown_type`, `unsafe_id`, `not_text`,
    /// `invalid_frontmatter`, `too_large`, `exists`, `stale`, `unknown_job`, `bad_argument`,
    /// `git_not_configured`, `refused`, `mass_delete`, and for failures that are not the
    /// caller's input: `store_failed`,
    /// `queue_failed`, `vault_failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            BrainError::NotFound { .. }
            | BrainError::Moved { .. }
            | BrainError::NotImported { .. }
            | BrainError::Deleted { .. }
            | BrainError::NothingImported { .. }
            | BrainError::NoSuchVersion(_)
            | BrainError::NoSuchBatch(_) => "not_found",
            BrainError::BatchRefused(_) => "refused",
            BrainError::BatchMassDelete { .. } => "mass_delete",
            BrainError::Invalid { kind, .. } => kind.as_str(),
            BrainError::TooLarge { .. } => "too_large",
            BrainError::Exists { .. } | BrainError::MoveTargetTaken { .. } => "exists",
            BrainError::Stale { .. } | BrainError::FileEdited { .. } => "stale",
            BrainError::UnknownJob(_) => "unknown_job",
            BrainError::BadRequest(_) => "bad_argument",
            BrainError::UnknownType { .. } => InvalidKind::UnknownType.as_str(),
            BrainError::GitNotEnabled => "git_not_configured",
            BrainError::Store(_) | BrainError::DamagedNote { .. } => "store_failed",
            BrainError::Record(e) => record_kind(e),
            BrainError::Queue(_) => "queue_failed",
            BrainError::Sync(_) => "vault_failed",
            BrainError::Plugin(_) => "plugin_missing",
        }
    }

    /// Whether the store did not answer (a PostgreSQL server away, a lost connection), with
    /// nothing committed: the same call may succeed later, unlike every other failure here.
    pub fn is_retryable(&self) -> bool {
        match self {
            BrainError::Store(e) | BrainError::Record(e) => e.is_retryable(),
            BrainError::Queue(QueueError::Store(e)) => e.is_retryable(),
            _ => false,
        }
    }

    /// Whether the caller's input was at fault (an agent should change its request), as opposed
    /// to the vault or store failing.
    pub fn is_bad_input(&self) -> bool {
        match self {
            BrainError::Record(e) => record_kind(e) != "store_failed",
            other => !matches!(
                other,
                BrainError::Store(_)
                    | BrainError::DamagedNote { .. }
                    | BrainError::Queue(_)
                    | BrainError::Sync(_)
                    | BrainError::Plugin(_)
            ),
        }
    }

    /// `e` from a call on the jobs or conflicts records, in the store's own words
    /// ([`BrainError::Record`]).
    pub(crate) fn record(e: impl Into<RecordSource>) -> Self {
        match e.into() {
            RecordSource::Store(e) => BrainError::Record(e),
            RecordSource::Queue(e) => BrainError::Queue(e),
        }
    }
}

/// What a records call fails with underneath: the store, or the queue in front of it (whose
/// store errors are the store's).
pub(crate) enum RecordSource {
    Store(StoreError),
    Queue(QueueError),
}

impl From<StoreError> for RecordSource {
    fn from(e: StoreError) -> Self {
        RecordSource::Store(e)
    }
}

impl From<QueueError> for RecordSource {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::Store(e) => RecordSource::Store(e),
            other => RecordSource::Queue(other),
        }
    }
}

/// The kind of a store error passed on as is ([`BrainError::Record`]): the same kind the
/// facade gives that failure elsewhere (a missing job is `unknown_job`, a job in a state that
/// cannot do what was asked is `bad_argument`), `not_found` for a missing conflict or note, and
/// `store_failed` for the store itself failing.
fn record_kind(e: &StoreError) -> &'static str {
    match e {
        StoreError::JobNotFound(_) => "unknown_job",
        StoreError::ConflictNotFound(_) | StoreError::NotFound(_) => "not_found",
        StoreError::JobState { .. } | StoreError::EmptyQuery | StoreError::PathCollision(_) => {
            "bad_argument"
        }
        StoreError::Stale { .. } => "stale",
        _ => "store_failed",
    }
}

/// The MCP tools a message names, and what a person at the command line runs instead. Messages
/// are written once, in the words an agent reads (MCP is where most of them are seen); the CLI
/// passes what it prints through [`in_cli_words`], so each interface names its own commands.
const CLI_WORDS: &[(&str, &str)] = &[
    (
        "the `list` or `search` tool",
        "`brain list` or `brain search`",
    ),
    ("see the `status` tool", "see `brain status`"),
    (
        "read it with `get` and change it with `update` instead",
        "read it with `brain get --json` and change it with `brain put --expected-hash HASH` instead",
    ),
    (
        "`get` it again and make your change on what is there now, passing its new hash",
        "run `brain sync` (without `brain serve` running, the file's newer text reaches the store only then), read it again with `brain get --json`, and make your change on what is there now, passing its new hash (`brain put --expected-hash`, or `--expected-hash` of the `brain edit` you ran)",
    ),
    (
        "a person can bring it back with `brain restore",
        "bring it back with `brain restore",
    ),
    (
        "or create it anew with `create`",
        "or create it anew with `brain put`",
    ),
];

/// `message` (a [`BrainError`]'s, possibly inside a longer chain) with each MCP tool it names
/// replaced by the `brain` command that does the same.
pub fn in_cli_words(message: &str) -> String {
    CLI_WORDS
        .iter()
        .fold(message.to_string(), |text, (mcp, cli)| {
            text.replace(mcp, cli)
        })
}

/// A change built on the store's copy of a note, as [`BrainError::FileEdited`] names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// `brain edit`, MCP `edit`.
    Edit,
    /// `brain revert`, MCP `revert`.
    Revert,
    /// `brain mv`, MCP `move`.
    Move,
}

impl ChangeKind {
    /// "edited", "reverted", "moved".
    pub fn done(self) -> &'static str {
        match self {
            ChangeKind::Edit => "edited",
            ChangeKind::Revert => "reverted",
            ChangeKind::Move => "moved",
        }
    }

    /// "edit", "revert", "move".
    pub fn noun(self) -> &'static str {
        match self {
            ChangeKind::Edit => "edit",
            ChangeKind::Revert => "revert",
            ChangeKind::Move => "move",
        }
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
