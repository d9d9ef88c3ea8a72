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
const EDIT_TRIES: u32 = 5;

impl Brain {
    /// Whether the vault is a Logseq graph (said in its config, or found by its
    /// `logseq/config.edn`): metadata is written as `key:: value` page properties then.
    pub(crate) fn is_logseq(&self) -> bool {
        match self.config.vault.format {
            VaultFormat::Logseq => true,
            VaultFormat::Auto => self.root.join("logseq").join("config.edn").is_file(),
            VaultFormat::Obsidian | VaultFormat::Plain => false,
        }
    }

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
        let logseq = self.is_logseq();
        let mut tries = 1;
        loop {
            let current = self.get(r)?;
            match self.require_synced_file(
                r,
                &current.path,
                &current.content_hash,
                crate::error::ChangeKind::Edit,
                false,
            ) {
                // Another writer's change reached the file meanwhile: read it again.
                Err(BrainError::Stale { .. }) if expected_hash.is_none() && tries < EDIT_TRIES => {
                    tries += 1;
                    continue;
                }
                checked => checked?,
            }
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

/// A note moved (`brain mv`, MCP `move`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct MoveOutcome {
    /// Where it was.
    pub from: String,
    /// Where it is now.
    pub to: String,
    /// Its old file, vault-relative.
    pub from_path: String,
    /// Its new file.
    pub path: String,
    /// Its content hash (unchanged by the move).
    pub content_hash: String,
    /// The `directory-export` job that writes the new file and trashes the old one.
    pub export_job: Option<i64>,
    /// What the move did not do: links that point at the note are left as they are.
    pub links: &'static str,
    /// A deleted note had the target id: it is kept under another id (listed with the
    /// deleted notes), said here so the user knows where it went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_note_set_aside: Option<String>,
}

impl Brain {
    /// Moves note `from` to `to` (another id, or another type: a draft promoted to a note):
    /// the same entity, so its history and creation time go with it; its file moves at the
    /// next export (the old one to the trash, the new one written). Refused when `to` exists
    /// (a note, or a file not yet synced there) or differs from another note's path only by
    /// case or Unicode form.
    pub fn move_note(
        &self,
        from: &EntityRef,
        to: &EntityRef,
        message: Option<&str>,
    ) -> Result<MoveOutcome, BrainError> {
        let current = self.get(from)?;
        self.require_synced_file(
            from,
            &current.path,
            &current.content_hash,
            crate::error::ChangeKind::Move,
            false,
        )?;
        let moved = self.entity_from(to, current.content().as_bytes())?;
        if self.store.get(to).is_ok() {
            return Err(BrainError::MoveTargetTaken {
                to: to.to_string(),
                why: String::new(),
            });
        }
        if std::fs::symlink_metadata(self.root.join(&moved.path)).is_ok() {
            return Err(BrainError::MoveTargetTaken {
                to: to.to_string(),
                why: format!(
                    ": the file {} is on disk there and not a synced note (run `brain sync` to \
                     import it, or `brain sync` says why it is skipped)",
                    moved.path
                ),
            });
        }
        let set_aside = self
            .store
            .get_any(to)
            .ok()
            .filter(|e| e.deleted_ms.is_some())
            .map(|_| {
                format!(
                    "a deleted note had the id {to}: it is kept under another id (`list` with \
                     deleted notes shows it)"
                )
            });
        let mut why = ChangeWhy::by(&self.source);
        why.message = message.map(str::to_owned);
        let mut request = self.export_request(to);
        if !self.export_all {
            // Both paths: the old file goes to the trash, the new one is written. (Everything
            // the folder is behind on covers both: the old path is in its dirty set as moved
            // away.)
            request.input = serde_json::json!({"entities": [from.to_string(), to.to_string()]});
        }
        let job = self.queue.prepare(request)?;
        let mut enqueued = None;
        self.store.transaction(&mut |tx| {
            tx.set_why(&why);
            tx.move_to(from, &moved)?;
            enqueued = Some(tx.enqueue(&job, brain_core::time::now_ms())?);
            Ok(())
        })?;
        self.queue.notify();
        self.ensure_workers();
        tracing::info!(from = %from, to = %to, "note moved through the facade");
        Ok(MoveOutcome {
            from: from.to_string(),
            to: to.to_string(),
            from_path: current.path,
            path: moved.path,
            content_hash: moved.content_hash,
            export_job: enqueued.map(|e| e.id()),
            links: "links that point at the note were left as they are (link support comes later)",
            deleted_note_set_aside: set_aside,
        })
    }
}
