//! Store errors.

use brain_core::EntityRef;

/// What went wrong in a store call. Not-found is its own variant so callers can map it to a
/// clear message and exit code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No live entity by that reference.
    #[error("no entity {0}: check `brain list` for the exact type and id")]
    NotFound(EntityRef),
    /// No job by that id.
    #[error("no job #{0}: see `brain jobs list`")]
    JobNotFound(i64),
    /// A job cannot make the requested transition (e.g. retrying a running job).
    #[error("job #{id} is {state}: {what}")]
    JobState {
        /// The job.
        id: i64,
        /// Its state.
        state: &'static str,
        /// What cannot be done.
        what: &'static str,
    },
    /// A job handed to `enqueue` cannot be stored as given; the message says what to fix.
    /// Checked before anything is written, so a refused job leaves the whole call undone.
    #[error("invalid job: {0}")]
    InvalidJob(String),
    /// A compare-and-set put found the entity changed since the caller read it (see
    /// [`crate::JobStore::put_and_enqueue`]); nothing was written. The caller must read it again
    /// and reapply its change, never retry blindly.
    #[error(
        "{entity} changed since you read it (expected {}, now {}): read it again and reapply your change",
        expected_text(.expected),
        actual_text(.actual.as_deref())
    )]
    Stale {
        /// The entity, as `type/id`.
        entity: String,
        /// The hash the caller expected (empty: it expected no live entity).
        expected: String,
        /// The live entity's hash now (`None`: absent or soft-deleted).
        actual: Option<String>,
    },
    /// No conflict by that id.
    #[error("no conflict #{0}: see `brain conflicts list`")]
    ConflictNotFound(i64),
    /// Another live entity's file path differs from this one only by case or Unicode form.
    #[error("{0}")]
    PathCollision(Box<PathCollision>),
    /// The search text has nothing to search for.
    #[error("empty search query: give at least one word")]
    EmptyQuery,
    /// The database file could not be opened or migrated.
    #[error("cannot open the store at {path}: {source}")]
    Open {
        /// The database path.
        path: String,
        /// The underlying error.
        source: rusqlite::Error,
    },
    /// The database was written by a newer brains.
    #[error(
        "the store at {path} has schema version {found}, newer than this brain understands ({supported}): upgrade brain"
    )]
    TooNew {
        /// The database path.
        path: String,
        /// Version in the file.
        found: i64,
        /// Latest version this build knows.
        supported: i64,
    },
    /// Any other SQLite failure.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Stored JSON could not be read back.
    #[error("stored metadata is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The expected side of a [`StoreError::Stale`], for people.
fn expected_text(expected: &str) -> String {
    if expected.is_empty() {
        "no note there".to_string()
    } else {
        format!("hash {expected}")
    }
}

/// The current side of a [`StoreError::Stale`], for people.
fn actual_text(actual: Option<&str>) -> String {
    match actual {
        Some(hash) => format!("hash {hash}"),
        None => "absent or deleted".to_string(),
    }
}

/// Two entities whose files would be one file on a case-insensitive or normalizing file system.
///
/// Boxed inside [`StoreError`]: unboxed, its four strings made every `Result` of the store
/// (and of every crate wrapping its error) 150 bytes, which clippy's `result_large_err` flags.
#[derive(Debug, thiserror::Error)]
#[error(
    "{wanted} would be written to '{path}', which differs only by case or Unicode normalization from '{existing_path}' ({existing}): pick another id"
)]
pub struct PathCollision {
    /// The entity being written.
    pub wanted: EntityRef,
    /// Its path.
    pub path: String,
    /// The entity already there.
    pub existing: EntityRef,
    /// That entity's path.
    pub existing_path: String,
}
