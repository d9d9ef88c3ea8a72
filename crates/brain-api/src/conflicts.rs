//! The conflicts a sync recorded (a note changed both on disk and in the store, a file deleted
//! while its note changed...): listed, shown with both sides, and marked resolved once a person
//! has settled them. Every interface manages them here rather than in the store, so a later
//! backend or interface changes nothing else.

use brain_core::time::now_ms;
use brain_store::Conflict;

use crate::{Brain, BrainError};

impl Brain {
    /// The open conflicts, newest first; resolved ones too if `include_resolved`.
    pub fn conflicts(&self, include_resolved: bool) -> Result<Vec<Conflict>, BrainError> {
        self.store
            .conflicts(include_resolved)
            .map_err(BrainError::record)
    }

    /// One conflict with both sides' text. An id with no conflict is
    /// [`BrainError::Record`] holding the store's `ConflictNotFound` (kind `not_found`).
    pub fn conflict(&self, id: i64) -> Result<Conflict, BrainError> {
        self.store.conflict(id).map_err(BrainError::record)
    }

    /// Marks a conflict resolved now: a person settled it (nothing in the vault changes; the
    /// conflict copy, if any, stays where it is for them to delete). Resolving one already
    /// resolved keeps it resolved.
    pub fn resolve_conflict(&self, id: i64) -> Result<(), BrainError> {
        self.store
            .resolve_conflict(id, now_ms())
            .map_err(BrainError::record)
    }
}
