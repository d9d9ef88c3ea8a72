//! Store errors.

use brain_core::EntityRef;

/// What went wrong in a store call. Not-found is its own variant so callers can map it to a
/// clear message and exit code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No live entity by that reference.
    #[error("there is no note {0}: check `brain list` for the exact type and id")]
    NotFound(EntityRef),
    /// No job by that id.
    #[error("no job #{0}: see `brain jobs list`")]
    JobNotFound(i64),
    /// A job cannot make the requested transition (e.g. retrying a running job).
    #[error("job #{id}'s state is {state}: {what}")]
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
    /// A version number the entity's history does not hold (never made, or dropped by the
    /// retention rules).
    #[error(
        "{entity} has no version {number}: its versions are listed by `brain history {entity}` \
         (1 to {latest}, less those the retention rules dropped)"
    )]
    VersionNotFound {
        /// The entity, as `type/id`.
        entity: String,
        /// The number asked for.
        number: u64,
        /// Its current version's number.
        latest: u64,
    },
    /// A kept version cannot be read back: its stored bytes are damaged.
    #[error(
        "version {number} of {entity} cannot be read back ({reason}); the versions after it \
         and the note itself are unaffected: `brain doctor` checks the store"
    )]
    DamagedVersion {
        /// The entity, as `type/id`.
        entity: String,
        /// The version.
        number: u64,
        /// What is wrong with it.
        reason: String,
    },
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
        /// The backend's error.
        source: Box<dyn std::error::Error + Send + Sync>,
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
    /// The vault's store file is not there: only `brain init` and `brain doctor --rebuild`
    /// create one, so a store deleted by mistake is never silently replaced by an empty one
    /// (which the files would then fill again, while the writes not yet in files were lost).
    #[error(
        "the store {path} is missing (deleted or moved away), so this command did nothing. If another \
         process still has it open, stop it first (`brain serve`, `brain mcp`); then run \
         `brain doctor --rebuild` to build a new store from the note files"
    )]
    Missing {
        /// The database path.
        path: String,
    },
    /// Where a new store is to be created, a store file, or the `-wal`/`-shm` left by a
    /// deleted one, is already there: a new database beside an old log would be read with the
    /// old log's pages.
    #[error(
        "cannot create a store at {path}: {found} is already there; run `brain doctor` to check \
         it, or `brain doctor --rebuild`, which moves it aside first"
    )]
    Exists {
        /// The database path.
        path: String,
        /// The file in the way.
        found: String,
    },
    /// The store file this process opened was deleted or replaced since (its device and inode
    /// changed): whatever it wrote now would go to a file nobody opens again, so nothing is.
    #[error(
        "the store {path} was {what} while this process had it open: nothing more is read from \
         or written to it (a write now would be lost with it); stop every brain process of this \
         vault, then run `brain doctor` where the vault is now (and `brain doctor --rebuild` if \
         its store is missing)"
    )]
    Replaced {
        /// The database path.
        path: String,
        /// How it went: "deleted", "replaced by another file", or moved away or removed with
        /// its vault folder (`SqliteStore` says which from what is left at the path).
        what: &'static str,
    },
    /// The store was opened read-only (its file or its folder cannot be written): reads work,
    /// writes are refused before they start.
    #[error(
        "the store {path} is read-only (its file or folder cannot be written by this user): \
         reads work, writes are refused; make {folder} and its files writable to write"
    )]
    ReadOnly {
        /// The database path.
        path: String,
        /// Its folder.
        folder: String,
    },
    /// A read-only store with an older schema: it cannot be upgraded without writing.
    #[error(
        "the store {path} has schema version {found}, older than this brain's ({supported}), \
         and is read-only, so it cannot be upgraded: make {folder} writable and run the command \
         again"
    )]
    ReadOnlyOutdated {
        /// The database path.
        path: String,
        /// Its folder.
        folder: String,
        /// Version in the file.
        found: i64,
        /// Latest version this build knows.
        supported: i64,
    },
    /// The backend found its database damaged (not a database, or malformed pages).
    #[error(
        "the store {path} is damaged ({source}): run `brain doctor` to check it, then `brain \
         doctor --rebuild` to build a new store from the note files (the damaged one is kept \
         beside it)"
    )]
    Damaged {
        /// The database path.
        path: String,
        /// The backend's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The disk holding the store is full; the write was rolled back.
    #[error(
        "the disk holding {path} is full ({source}): nothing was written; free some space and \
         run the command again"
    )]
    DiskFull {
        /// The database path.
        path: String,
        /// The error the database or the system gave.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A read or write of the store's files failed at the operating system.
    #[error(
        "reading or writing the store {path} failed ({source}): check that the disk is not full \
         (`df`), is still mounted and healthy, and that the files in its folder belong to this \
         user; then run the command again (`brain doctor` checks the store)"
    )]
    Io {
        /// The database path.
        path: String,
        /// The error the database or the system gave.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database server could not be reached, or the connection was lost or the
    /// transaction rolled back by the server (a restart, a network cut, a serialization
    /// failure): nothing of the call was committed, and the same call can be made again.
    #[error(
        "the store's database {database} did not answer ({source}): check that the server runs \
         and can be reached, then run the command again (a change this command was making was \
         not committed; what committed before it is kept)"
    )]
    Unavailable {
        /// The database, without its password.
        database: String,
        /// The client's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A copy into a store that already holds a brain, which it would overwrite.
    #[error(
        "the target store {store} is not empty ({what}): copying into it would overwrite that \
         brain; copy into an empty one, or pass --force to replace what it holds"
    )]
    NotEmpty {
        /// The store, as shown to people.
        store: String,
        /// What it holds.
        what: String,
    },
    /// The backend refused the call for a reason its message says in full, with what to do
    /// (this folder is not the store's, the store is set up wrong): shown as it is.
    #[error("{0}")]
    Refused(Box<dyn std::error::Error + Send + Sync>),
    /// Any other failure of the backend's database, as the backend reported it.
    #[error("database error: {0}")]
    Database(Box<dyn std::error::Error + Send + Sync>),
    /// Stored JSON could not be read back.
    #[error("stored metadata is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl StoreError {
    /// Whether the same call may succeed if made again (the server was unreachable or the
    /// connection was lost; nothing was committed): job workers retry such an attempt.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
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

/// `?` on a SQLite call inside the SQLite backend. It lives here, behind the `rusqlite`
/// feature only that backend turns on, because neither the error nor the trait is that
/// backend's own (the orphan rule); the variant it makes names no SQLite type, so nothing
/// else that handles a [`StoreError`] learns which backend is underneath.
#[cfg(feature = "rusqlite")]
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(Box::new(e))
    }
}
