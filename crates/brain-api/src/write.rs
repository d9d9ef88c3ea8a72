//! Writing: create, update and delete, through the same outbox as `brain put` and `brain rm`.
//! A note is checked exactly as an import would check its file (type, id, size, UTF-8,
//! frontmatter, a path the vault can hold) before anything is stored, and the entity and its
//! `directory-export` job commit together.

use brain_core::time::now_ms;
use brain_core::{Entity, EntityRef, TrashMode, VaultLayout, keep_in_trash};
use brain_jobs::EnqueueRequest;
use brain_store::PutOutcome;
use serde::Serialize;

use crate::{Brain, BrainError, InvalidKind};

/// What a write expects to find, so a writer never overwrites a change it has not seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Whatever is there (a person typing `brain put`).
    Any,
    /// No live note: a create, refused if one exists.
    Absent,
    /// The live note with this `content_hash` (from a `get`): refused if it changed since.
    Hash(String),
    /// A live note, whatever it holds: replaces it, refusing (not found) if there is none, so
    /// an update never creates a note by mistake.
    Present,
}

/// How often a [`Expect::Present`] write reads the note again when another write slips in
/// between its read and its write.
const PRESENT_TRIES: usize = 3;

/// A note stored, and the job that writes its file.
#[derive(Clone, Debug, Serialize)]
pub struct WriteOutcome {
    /// Type and id.
    #[serde(flatten)]
    pub entity: EntityRef,
    /// Its file, vault-relative.
    pub path: String,
    /// Created, updated, or unchanged (same content: nothing written, no job).
    pub outcome: PutOutcome,
    /// The stored content's hash: pass it to the next update.
    pub content_hash: String,
    /// The `directory-export` job that writes the file (`None` if unchanged).
    pub export_job: Option<i64>,
}

/// A note deleted (softly), and the job that moves its file to `.brain/trash/`.
#[derive(Clone, Debug, Serialize)]
pub struct DeleteOutcome {
    /// Type and id.
    #[serde(flatten)]
    pub entity: EntityRef,
    /// Its file, vault-relative, until the job moves it.
    pub path: String,
    /// The `directory-export` job that moves the file to the trash.
    pub export_job: Option<i64>,
}

/// What `restore` did: brought a deleted note back, or found it live and changed nothing.
#[derive(Clone, Debug)]
pub struct RestoreOutcome {
    /// The note, live now.
    pub entity: Entity,
    /// Whether it was deleted (false: it was live already; nothing was queued).
    pub was_deleted: bool,
}

impl Brain {
    /// The export of `r`, due after the debounce when something runs jobs now (merged into an
    /// export still queued), so a burst of writes to one note writes its file once.
    pub(crate) fn export_request(&self, r: &EntityRef) -> EnqueueRequest {
        let debounce = i64::try_from(self.config.serve.sync_debounce_ms).unwrap_or(0);
        let due = self
            .jobs_run_here_or_by_daemon()
            .then(|| now_ms() + debounce);
        if self.export_all {
            let mut request = crate::directory::export_behind_request();
            request.run_at_ms = due;
            return request;
        }
        crate::directory::export_request(r, due)
    }

    /// Checks `content` as an import would check the file, then stores it as note `r` with its
    /// export job, if what is there is what `expect` says.
    pub fn write(
        &self,
        r: &EntityRef,
        content: &[u8],
        expect: Expect,
    ) -> Result<WriteOutcome, BrainError> {
        self.write_saying(r, content, expect, None)
    }

    /// [`Brain::write`], with why (kept with the version it makes) when the caller says.
    pub fn write_saying(
        &self,
        r: &EntityRef,
        content: &[u8],
        expect: Expect,
        message: Option<&str>,
    ) -> Result<WriteOutcome, BrainError> {
        let why = self.why_saying(message);
        if expect != Expect::Present {
            return self.write_expecting(r, content, expect, &why);
        }
        // The store's compare-and-set knows "this hash" and "nothing": write against the hash
        // read now, and read again if another write lands in between.
        let mut tries = 1;
        loop {
            let current = self.get(r)?.content_hash;
            match self.write_expecting(r, content, Expect::Hash(current), &why) {
                Err(BrainError::Stale { .. }) if tries < PRESENT_TRIES => tries += 1,
                written => return written,
            }
        }
    }

    pub(crate) fn write_expecting(
        &self,
        r: &EntityRef,
        content: &[u8],
        expect: Expect,
        why: &brain_store::ChangeWhy,
    ) -> Result<WriteOutcome, BrainError> {
        let max = self.config.sync.max_file_bytes;
        if content.len() as u64 > max {
            return Err(BrainError::TooLarge {
                entity: r.to_string(),
                size: content.len(),
                limit: max,
                setting: "sync.max_file_bytes",
            });
        }
        if expect == Expect::Hash(String::new()) {
            return Err(BrainError::BadRequest(format!(
                "{r} was not stored: the expected hash is empty; pass the content_hash `get` \
                 returned, or leave it out"
            )));
        }
        let entity = self.entity_from(r, content)?;
        // A careful write compares against the file too, not only the store's copy of it.
        self.check_disk(r, &entity.path, &expect)?;
        let job = self.queue.prepare(self.export_request(r))?;
        let expected = match &expect {
            Expect::Any => None,
            Expect::Absent => Some(""),
            Expect::Hash(h) => Some(h.as_str()),
            // Resolved to a hash by `write`.
            Expect::Present => None,
        };
        // Only these can bring back a deleted note: a hash never matches one.
        if matches!(expect, Expect::Any | Expect::Absent) {
            self.keep_deleted_file(r);
        }
        let (outcome, export) =
            self.store
                .put_and_enqueue(&entity, expected, &job, now_ms(), why)?;
        if export.is_some() {
            // The job went in through the store on this process's connection, which the
            // daemon's store watch does not see: wake the workers here.
            self.queue.notify();
            self.ensure_workers();
        }
        tracing::info!(entity = %r, path = %entity.path, ?outcome, "note written through the facade");
        Ok(WriteOutcome {
            entity: r.clone(),
            path: entity.path.clone(),
            outcome,
            content_hash: entity.content_hash.clone(),
            export_job: export.map(|e| e.id()),
        })
    }

    /// The entity `content` makes as note `r`, or why it cannot be one, with the
    /// [`InvalidKind`] of the check that refused it.
    pub(crate) fn entity_from(&self, r: &EntityRef, content: &[u8]) -> Result<Entity, BrainError> {
        let invalid = |kind: InvalidKind, reason: String| BrainError::Invalid {
            entity: r.to_string(),
            reason,
            kind,
        };
        self.check_type(&r.entity_type)
            .map_err(|e| invalid(InvalidKind::UnknownType, e.to_string()))?;
        self.refuse_md_extension(r)?;
        // The id is checked before the content (by the sync plugin, as an import checks a
        // file), so an unsafe id is refused for what it is whatever was sent with it.
        self.sync()?.note_from(r, content)
    }

    /// Before a write brings back a soft-deleted note, copies the deleted note's file (still at
    /// its path while the delete's export has not run) to `.brain/trash/STAMP/`: the export
    /// that follows writes the new content over that file, and "deleted" promised a copy
    /// `brain restore` or a person can find. Best effort: a failed copy is logged, since the
    /// write itself must not depend on it.
    fn keep_deleted_file(&self, r: &EntityRef) {
        let Ok(old) = self.store.get_any(r) else {
            return;
        };
        if old.deleted_ms.is_none() {
            return;
        }
        let src = self.root.join(&old.path);
        if !src.is_file() {
            return;
        }
        let stamp_dir = VaultLayout::new(&self.root)
            .trash_stamp_dir(&brain_core::time::format_compact(now_ms()));
        match keep_in_trash(&self.root, &old.path, &stamp_dir, TrashMode::Copy) {
            Ok(dest) => {
                tracing::info!(entity = %r, path = %old.path, copy = %dest.display(), "kept the deleted note's file before writing the note again")
            }
            Err(e) => {
                tracing::warn!(entity = %r, path = %old.path, error = %e, "cannot copy the deleted note's file to the trash")
            }
        }
    }

    /// Brings back soft-deleted note `r` with its export, which writes its file again.
    pub fn restore(&self, r: &EntityRef) -> Result<RestoreOutcome, BrainError> {
        self.check_type(&r.entity_type)?;
        // A live note has nothing to bring back: say so rather than "restored".
        if let Ok(live) = self.store.get(r) {
            return Ok(RestoreOutcome {
                entity: live,
                was_deleted: false,
            });
        }
        let job = self.queue.prepare(self.export_request(r))?;
        let (entity, _) = self
            .store
            .restore_and_enqueue(r, &job, now_ms(), &self.why())?;
        self.queue.notify();
        self.ensure_workers();
        tracing::info!(entity = %r, path = %entity.path, "note restored through the facade");
        Ok(RestoreOutcome {
            entity,
            was_deleted: true,
        })
    }

    /// Deletes note `r` softly: its file moves to `.brain/trash/` and `brain restore` brings
    /// it back.
    pub fn delete(&self, r: &EntityRef) -> Result<DeleteOutcome, BrainError> {
        self.delete_saying(r, None)
    }

    /// [`Brain::delete`], with why (kept with the version it makes) when the caller says.
    pub fn delete_saying(
        &self,
        r: &EntityRef,
        message: Option<&str>,
    ) -> Result<DeleteOutcome, BrainError> {
        let path = self.get(r)?.path;
        let job = self.queue.prepare(self.export_request(r))?;
        let enqueued =
            self.store
                .soft_delete_and_enqueue(r, &job, now_ms(), &self.why_saying(message))?;
        self.queue.notify();
        self.ensure_workers();
        tracing::info!(entity = %r, %path, "note deleted through the facade");
        Ok(DeleteOutcome {
            entity: r.clone(),
            path,
            export_job: Some(enqueued.id()),
        })
    }
}
