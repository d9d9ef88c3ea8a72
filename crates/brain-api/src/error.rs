//! What can go wrong behind the facade, worded for whoever asked: an agent over MCP, a person in
//! a chat or on the web page. Every message says what failed, on which note or job, and what to
//! do next, because the interface shows it as is.

use brain_jobs::QueueError;
use brain_store::StoreError;
use brain_sync::SyncError;

/// An error from a [`crate::Brain`] call.
#[derive(Debug, thiserror::Error)]
pub enum BrainError {
    /// No live entity by that reference.
    #[error(
        "there is no note {entity} (it may have been deleted): check the type and id with the `list` or `search` tool"
    )]
    NotFound {
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
    /// An update whose expected hash is not the note's hash now: someone changed it since it was
    /// read. Nothing was stored.
    #[error(
        "{entity} changed since you read it (expected hash {expected}, it is now {actual}): nothing was stored; `get` it again, merge your change into what is there, and update with the new hash"
    )]
    Stale {
        /// `type/id`.
        entity: String,
        /// The hash the caller gave.
        expected: String,
        /// The hash now, or "deleted".
        actual: String,
    },
    /// No job by that id (or it was pruned after the retention period).
    #[error(
        "there is no job #{0} (finished jobs are pruned after `jobs.retention_days`): see the `status` tool for current jobs"
    )]
    UnknownJob(i64),
    /// A request the facade refuses as given (bad mode, bad type in a filter).
    #[error("{0}")]
    BadRequest(String),
    /// Git sync is not set up for this vault.
    #[error("git sync is not set up for this vault: run `brain git init --remote URL` in it first")]
    GitNotEnabled,
    /// The store failed.
    #[error("the store failed: {0}")]
    Store(#[source] StoreError),
    /// The queue refused or failed.
    #[error("the job queue failed: {0}")]
    Queue(#[source] QueueError),
    /// The vault's sync engine could not be set up (an unreadable vault, a bad `.brainignore`).
    #[error("cannot work on the vault: {0}")]
    Sync(#[from] SyncError),
}

impl From<StoreError> for BrainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(entity) => BrainError::NotFound {
                entity: entity.to_string(),
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
                actual: actual.unwrap_or_else(|| "deleted".into()),
            },
            // The caller's input, not a failing store: say so, without "the store failed".
            StoreError::EmptyQuery => BrainError::BadRequest(
                "the search query has no words to search for (an operator such as AND or a \
                 lone - does not count): give at least one word"
                    .into(),
            ),
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
    /// Whether the caller's input was at fault (an agent should change its request), as opposed
    /// to the vault or store failing.
    pub fn is_bad_input(&self) -> bool {
        !matches!(
            self,
            BrainError::Store(_) | BrainError::Queue(_) | BrainError::Sync(_)
        )
    }
}
