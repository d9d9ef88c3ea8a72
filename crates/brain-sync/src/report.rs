//! What a sync did: the types live with the directory-sync contract in brain-api, so the
//! facade, git and every interface read the same report.

pub use brain_api::directory::{ConflictNote, SkippedFile, SyncReport};
