//! A note's earlier versions, through the facade: listing them, reading one, comparing two,
//! and writing one back (`brain history`, `get --version`, `diff`, `revert`; MCP `history` and
//! `revert`). The store keeps them ([`brain_store::Store::history`]); a revert is a new write,
//! exported like any other, so nothing is ever rewritten in place.

use brain_core::EntityRef;
use brain_store::{ChangeWhy, Version};

use crate::{Brain, BrainError, Expect, WriteOutcome};

impl Brain {
    /// Every version of note `r`, live or deleted, oldest first and the current one last.
    pub fn history(&self, r: &EntityRef) -> Result<Vec<Version>, BrainError> {
        self.store.history(r).map_err(|e| self.moved_or(r, e))
    }

    /// The text of version `number` of note `r`, as its file held it.
    pub fn version_text(&self, r: &EntityRef, number: u64) -> Result<String, BrainError> {
        self.store
            .version_text(r, number)
            .map_err(|e| self.moved_or(r, e))
    }

    /// `e`, unless it says there is no `r` and `r` was moved: then where it went.
    fn moved_or(&self, r: &EntityRef, e: brain_store::StoreError) -> BrainError {
        if matches!(e, brain_store::StoreError::NotFound(_))
            && let Some(now) = self.moved_to(r)
        {
            return BrainError::Moved {
                entity: r.to_string(),
                now: now.to_string(),
            };
        }
        e.into()
    }

    /// A unified diff from version `from` to version `to` of note `r` (empty when equal).
    pub fn diff_versions(&self, r: &EntityRef, from: u64, to: u64) -> Result<String, BrainError> {
        let old = self.version_text(r, from)?;
        let new = self.version_text(r, to)?;
        Ok(brain_store::history::unified_diff(
            &old,
            &new,
            &format!("{r} version {from}"),
            &format!("{r} version {to}"),
        ))
    }

    /// Writes version `number` of note `r` back as a new change (a deleted note comes back),
    /// exported to its file as any write is. `message` says why, beside the revert itself.
    pub fn revert(
        &self,
        r: &EntityRef,
        number: u64,
        message: Option<&str>,
    ) -> Result<WriteOutcome, BrainError> {
        let text = self.version_text(r, number)?;
        let said = match message {
            Some(m) => format!("revert to version {number}: {m}"),
            None => format!("revert to version {number}"),
        };
        let why = ChangeWhy::by(&self.source).saying(said);
        // A live note is reverted over the text it has now, and only if its file holds that
        // too; a deleted one is brought back.
        let expect = match self.store.get(r) {
            Ok(current) => {
                self.require_synced_file(
                    r,
                    &current.path,
                    &current.content_hash,
                    crate::error::ChangeKind::Revert,
                    false,
                )?;
                Expect::Hash(current.content_hash)
            }
            Err(_) => Expect::Any,
        };
        self.write_expecting(r, text.as_bytes(), expect, &why)
    }
}
