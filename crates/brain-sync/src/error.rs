//! Sync errors: the type lives with the directory-sync contract in brain-api (git and the
//! facade match on it).

pub use brain_api::directory::SyncError;
