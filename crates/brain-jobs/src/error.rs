//! Queue errors.

use brain_store::StoreError;

/// Why a queue call failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// No handler is registered for this type.
    #[error("unknown job type '{job_type}': known types are {known}")]
    UnknownType {
        /// The type asked for.
        job_type: String,
        /// The registered ones.
        known: String,
    },
    /// The handler refused the input.
    #[error("invalid input for a {job_type} job: {reason}")]
    InvalidInput {
        /// The job type.
        job_type: String,
        /// What is wrong.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
