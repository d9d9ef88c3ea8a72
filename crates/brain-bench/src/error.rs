//! Why a benchmark stopped. A bench that cannot measure what it names fails rather than print
//! a figure, so every error says which step failed and, where there is one, what to do; the
//! library error that caused it stays its source, so the binary's exit codes (and its quiet exit
//! on a closed pipe) still see it.

use brain_api::BrainError;
use brain_jobs::QueueError;
use brain_store::StoreError;
use brain_sync::SyncError;

/// A benchmark that could not run to its figures.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file, folder, child process or stdout failed.
    #[error("{what}")]
    Io {
        /// The step, with its path or command.
        what: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The store refused a read or write.
    #[error("{what}")]
    Store {
        /// The step, with the note or store it was on.
        what: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The sync engine failed an import or export.
    #[error("{what}")]
    Sync {
        /// The step, with the vault.
        what: String,
        /// The engine's error.
        #[source]
        source: SyncError,
    },
    /// The job queue failed to enqueue or wait for a job.
    #[error("{what}")]
    Queue {
        /// The step.
        what: String,
        /// The queue's error.
        #[source]
        source: QueueError,
    },
    /// The `Brain` facade refused a call.
    #[error("{what}")]
    Api {
        /// The step, with the note.
        what: String,
        /// The facade's error.
        #[source]
        source: BrainError,
    },
    /// The baseline's own SQLite database failed.
    #[error("{what}")]
    Sqlite {
        /// The step, with the database file.
        what: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A JSON document (a manifest, a child's output) could not be read or written.
    #[error("{what}")]
    Json {
        /// The document and where it came from.
        what: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A note id the bench took from the store did not parse.
    #[error("{what}")]
    Ref {
        /// The id.
        what: String,
        /// The parser's error.
        #[source]
        source: brain_core::RefParseError,
    },
    /// A PostgreSQL call of a `--store` bench failed.
    #[error("{what}")]
    Postgres {
        /// The step.
        what: String,
        /// The client's error.
        #[source]
        source: postgres::Error,
    },
    /// The `--store` URL cannot be used.
    #[error("{what}")]
    Connect {
        /// The step.
        what: String,
        /// Why.
        #[source]
        source: brain_store_postgres::connect::ConnectError,
    },
    /// A check of the run failed (a child exited non-zero, a push did not land, a wait timed
    /// out); the message says which and what was seen.
    #[error("{0}")]
    Failed(String),
}

/// `Result` with a [`BenchError`].
pub type Result<T, E = BenchError> = std::result::Result<T, E>;

/// Library errors a bench step can fail with, each kept as the source of its [`BenchError`].
pub(crate) trait Cause {
    /// The error of `what` failing because of `self`.
    fn because(self, what: String) -> BenchError;
}

macro_rules! cause {
    ($($ty:ty => $variant:ident),* $(,)?) => {$(
        impl Cause for $ty {
            fn because(self, what: String) -> BenchError {
                BenchError::$variant { what, source: self }
            }
        }
    )*};
}

cause! {
    std::io::Error => Io,
    StoreError => Store,
    SyncError => Sync,
    QueueError => Queue,
    BrainError => Api,
    rusqlite::Error => Sqlite,
    serde_json::Error => Json,
    brain_core::RefParseError => Ref,
    postgres::Error => Postgres,
    brain_store_postgres::connect::ConnectError => Connect,
}

/// Names the step a library call was, as `anyhow::Context` does in the binary.
pub(crate) trait Context<T> {
    /// On error, `what()` says which step failed (and on what).
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Cause> Context<T> for std::result::Result<T, E> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| e.because(what()))
    }
}

impl<T> Context<T> for Option<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.ok_or_else(|| BenchError::Failed(what()))
    }
}

/// Fails the bench with `format!(...)`, as `anyhow::bail!` does.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::error::BenchError::Failed(format!($($arg)*)))
    };
}
pub(crate) use fail;
