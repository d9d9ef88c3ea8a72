//! Partial edits through the facade (`brain edit`, MCP `edit`): the note is read, the edit
//! applied to its text ([`brain_core::edit`]), and the result written through the same
//! compare-and-set as a whole update, so an edit never lands on a version it did not see.

use brain_core::EntityRef;
use brain_core::config::VaultFormat;
use brain_core::edit::{Edit, apply};
use brain_store::ChangeWhy;

use crate::{Brain, BrainError, Expect, WriteOutcome};

/// How many times an edit with no `expected_hash` is applied again when another write lands
/// between its read and its write.
const EDIT_TRIES: u32 = 3;

impl Brain {
    /// Applies `edit` to note `r` and stores the result as a new version. With
    /// `expected_hash`, refused as stale if the note changed since that version; without, it
    /// is applied to the note as it is now (read again if a write lands in between). Refused,
    /// naming what exists, when a section or key is not there; nothing is written then.
    pub fn edit(
        &self,
        r: &EntityRef,
        edit: &Edit,
        expected_hash: Option<&str>,
        message: Option<&str>,
    ) -> Result<WriteOutcome, BrainError> {
        let mut why = ChangeWhy::by(&self.source);
        why.message = message.map(str::to_owned);
        let logseq = match self.config.vault.format {
            VaultFormat::Logseq => true,
            VaultFormat::Auto => self.root.join("logseq").join("config.edn").is_file(),
            VaultFormat::Obsidian | VaultFormat::Plain => false,
        };
        let mut tries = 1;
        loop {
            let current = self.get(r)?;
            if let Some(h) = expected_hash
                && h != current.content_hash
            {
                return Err(BrainError::Stale {
                    entity: r.to_string(),
                    expected: h.to_string(),
                    actual: current.content_hash,
                });
            }
            let text = apply(&current.content(), edit, logseq)
                .map_err(|e| BrainError::BadRequest(format!("{r} was not edited: {e}")))?;
            let expect = Expect::Hash(current.content_hash.clone());
            match self.write_expecting(r, text.as_bytes(), expect, &why) {
                Err(BrainError::Stale { .. }) if expected_hash.is_none() && tries < EDIT_TRIES => {
                    tries += 1;
                }
                written => return written,
            }
        }
    }
}
