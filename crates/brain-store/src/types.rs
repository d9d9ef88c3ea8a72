//! Values passed to and from a [`crate::Store`].

use brain_core::EntityRef;
use serde::{Deserialize, Serialize};

pub use brain_core::Entity;

/// The last state at which a file and its entity agreed: what a scan compares against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileBase {
    /// Vault-relative path.
    pub path: String,
    /// The file's stat when last synced.
    pub stat: FileStat,
    /// Content hash when last synced.
    pub hash: String,
    /// The entity the file holds.
    pub entity: EntityRef,
}

/// A base without its hash and entity: all a no-change scan needs, so that is all
/// [`crate::Store::sync_state`] loads; [`crate::Store::bases`] fetches the rest for the few paths
/// that moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseStat {
    /// Vault-relative path.
    pub path: String,
    /// The file's stat when last synced.
    pub stat: FileStat,
}

/// An entity changed through an interface since it was last synced.
#[derive(Clone, Debug, PartialEq)]
pub struct DirtyEntity {
    /// Its reference.
    pub entity: EntityRef,
    /// Its file path.
    pub path: String,
    /// Hash of its current content.
    pub content_hash: String,
    /// Set if the change was a soft delete.
    pub deleted: bool,
}

/// What [`crate::Store::sync_state`] returns.
#[derive(Clone, Debug, Default)]
pub struct SyncState {
    /// Every file base's path and stat, sorted by path (byte order).
    pub bases: Vec<BaseStat>,
    /// Every dirty entity.
    pub dirty: Vec<DirtyEntity>,
    /// Number of live entities (for the mass-delete guard).
    pub live_entities: u64,
}

/// The sync state of a few paths ([`crate::Store::sync_state_of`]).
#[derive(Clone, Debug, Default)]
pub struct PartialSyncState {
    /// The bases of the paths asked for (sorted by path), the dirty entities at them, and the
    /// vault's live count.
    pub state: SyncState,
    /// Paths outside those asked for, of live entities or synced files, that differ from one
    /// of them only by letter case or Unicode normalization.
    pub colliding: Vec<String>,
}

/// File state recorded as the new base after an import or export. A file whose stat still
/// equals its base's is taken as unchanged without reading it, so the stat holds everything an
/// edit changes: size and mtime, and ctime and inode too, which catch an edit that restored
/// the old mtime (`touch -d`, `rsync -t`) and a save by rename that kept it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Status-change time in nanoseconds since the epoch (0 where the platform has none).
    pub ctime_ns: i64,
    /// Inode number (0 where the platform has none).
    pub inode: u64,
}

/// One step of a sync, applied by [`crate::Store::apply`].
#[derive(Clone, Debug)]
pub enum SyncOp {
    /// The file's content becomes the entity (created, updated or restored from a tombstone,
    /// keeping `created_ms` of an existing row) and the file's state becomes the base. Clears dirty.
    Import {
        /// The entity as read from the file.
        entity: Entity,
        /// The file's stat at read time.
        stat: FileStat,
        /// The content hash of the entity's unsynced change that the planner saw, or `None` if
        /// it saw the entity unchanged. If the entity changed since (a `put` from another
        /// process), the op is skipped and the entity stays as it is: the next sync decides again.
        seen_dirty_hash: Option<String>,
    },
    /// A file moved: the entity at `from` takes the new reference, path and content, keeping its
    /// row (and so its history and `created_ms`); the base moves with it. Clears dirty.
    ///
    /// A tombstone holding the new reference is replaced. So that a planner mistake loses no
    /// note: with no row at `from` this is an [`SyncOp::Import`], and onto a live entity it
    /// imports into that entity and tombstones `from`.
    ///
    /// If one of the two notes changed since the planner looked (a `put` from another process),
    /// that note is left as it is and only the other half is applied: a changed target leaves
    /// the new file without a base and `from` is tombstoned (its file is gone); a changed `from`
    /// keeps its base and the new file is imported as a note of its own. The export queued with
    /// the change settles the rest.
    Rename {
        /// The entity before the move.
        from: EntityRef,
        /// Its old path (the base to drop).
        from_path: String,
        /// The entity after the move.
        entity: Entity,
        /// The new file's stat.
        stat: FileStat,
        /// The content hash of `from`'s unsynced change that the planner saw, or `None` if it
        /// saw it unchanged (the target it always saw absent or unchanged).
        seen_dirty_hash: Option<String>,
    },
    /// The file is gone: soft-delete the entity and drop its base.
    Tombstone {
        /// The entity.
        entity: EntityRef,
        /// Its path.
        path: String,
        /// When.
        now_ms: i64,
        /// The content hash of the entity's unsynced change that the planner saw, or `None` if
        /// it saw the entity unchanged. If the entity changed since (a `put` from another
        /// process), the op is skipped and the entity stays as it is: the next sync decides again.
        seen_dirty_hash: Option<String>,
    },
    /// File and entity agree again (after an export, a touch, or both sides writing the same
    /// bytes): record the base, and clear the entity's dirty flag if its content hash is the
    /// base's (an entity changed meanwhile stays dirty, so the next sync exports it). Fails with
    /// [`crate::StoreError::NotFound`] (and so rolls the batch back) if the entity has no row.
    SetBase {
        /// The base to record.
        base: FileBase,
    },
    /// The entity's file was moved to the trash after a soft delete: drop the base and clear
    /// the dirty flag if the entity is still deleted.
    DropBase {
        /// The entity.
        entity: EntityRef,
        /// Its path.
        path: String,
    },
    /// Remember a conflict and both sides of it.
    RecordConflict(NewConflict),
}

/// A conflict to record.
#[derive(Clone, Debug)]
pub struct NewConflict {
    /// What kind of conflict.
    pub kind: ConflictKind,
    /// The path it is about.
    pub path: String,
    /// The entity, if one is involved.
    pub entity: Option<EntityRef>,
    /// The store's side (content), if any.
    pub store_content: Option<String>,
    /// The file's side (content), if any.
    pub file_content: Option<String>,
    /// Where the losing side was written, if it was.
    pub copy_path: Option<String>,
    /// What was done, for a person.
    pub detail: String,
    /// When.
    pub now_ms: i64,
}

/// Kinds of conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Both the file and the entity changed since the last sync.
    BothChanged,
    /// The file was deleted while the entity was changed (the entity was written back).
    DeletedOnDisk,
    /// The entity was deleted while the file was changed (the file was imported again).
    DeletedInStore,
    /// Two files differ only by case or Unicode normalization (only the first was imported).
    PathCollision,
    /// A git pull merged a file both devices changed (or one deleted): one version stays at
    /// the path, the other in a conflict copy; the record holds both.
    GitMerge,
    /// A batch rollback found the note changed after the batch: the note was kept as it is,
    /// and the version from before the batch is the record's other side.
    Rollback,
}

impl ConflictKind {
    /// Stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::BothChanged => "both_changed",
            ConflictKind::DeletedOnDisk => "deleted_on_disk",
            ConflictKind::DeletedInStore => "deleted_in_store",
            ConflictKind::PathCollision => "path_collision",
            ConflictKind::GitMerge => "git_merge",
            ConflictKind::Rollback => "rollback",
        }
    }

    /// Inverse of [`ConflictKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            ConflictKind::BothChanged,
            ConflictKind::DeletedOnDisk,
            ConflictKind::DeletedInStore,
            ConflictKind::PathCollision,
            ConflictKind::GitMerge,
            ConflictKind::Rollback,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A recorded conflict.
#[derive(Clone, Debug, Serialize)]
pub struct Conflict {
    /// Its id, for `brain conflicts show|resolve`.
    pub id: i64,
    /// What kind.
    pub kind: ConflictKind,
    /// The path it is about.
    pub path: String,
    /// The entity involved, if any.
    pub entity: Option<EntityRef>,
    /// The store's side.
    pub store_content: Option<String>,
    /// The file's side.
    pub file_content: Option<String>,
    /// Where the losing side was written.
    pub copy_path: Option<String>,
    /// What was done.
    pub detail: String,
    /// When it was recorded.
    pub created_ms: i64,
    /// When the user resolved it.
    pub resolved_ms: Option<i64>,
}

/// Whether a put created or changed anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PutOutcome {
    /// A new entity (or one restored from a tombstone).
    Created,
    /// An existing entity got new content.
    Updated,
    /// The content was already exactly this.
    Unchanged,
}

/// Filters for [`crate::Store::list`].
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Only this type.
    pub entity_type: Option<String>,
    /// Only entities with this tag (lower-case, no `#`).
    pub tag: Option<String>,
    /// Only entities whose path starts with this folder (`Projects/Work`).
    pub folder: Option<String>,
    /// Include soft-deleted entities.
    pub include_deleted: bool,
    /// At most this many (0 = no limit).
    pub limit: usize,
    /// Skip this many first.
    pub offset: usize,
}

/// One row of a listing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntitySummary {
    /// Type and id.
    #[serde(flatten)]
    pub entity: EntityRef,
    /// Title.
    pub title: String,
    /// Vault-relative path.
    pub path: String,
    /// Last change, ms since the epoch.
    pub updated_ms: i64,
    /// Soft-delete time, if deleted.
    pub deleted_ms: Option<i64>,
}

/// A search request. `text` uses the query language of [`crate::search_query`].
#[derive(Clone, Debug)]
pub struct SearchQuery {
    /// What the user typed.
    pub text: String,
    /// Only these types (any of them); empty means all.
    pub types: Vec<String>,
    /// Only entities with all of these tags.
    pub tags: Vec<String>,
    /// Only entities in one of these folders (and below), or at exactly one of these paths
    /// (`path:` filters, slashes trimmed).
    pub paths: Vec<String>,
    /// Only entities whose metadata key holds the value, compared as text, or is a list
    /// holding it (`meta.KEY:VALUE` filters); all must hold.
    pub meta: Vec<(String, String)>,
    /// At most this many hits (0 = no limit, as in [`ListFilter`]).
    pub limit: usize,
    /// Skip this many of the ranked hits first: the next page starts where the last ended.
    pub offset: usize,
    /// Marks placed around matched terms in snippets. An occurrence of either mark in the
    /// note's own text is written twice in the snippet (see [`crate::snippet`]), so a reader
    /// can always tell a mark from the text.
    pub highlight: (String, String),
    /// Whether hits carry snippets. A caller that only wants which notes match (a batch
    /// selecting every match, a comparison of backends) turns them off: a snippet reads the
    /// whole text of each hit.
    pub snippets: bool,
}

/// The marks [`SearchQuery::new`] puts around matched words: `⟦` and `⟧` (U+27E6, U+27E7).
/// Not `**`, which a reader cannot tell from Markdown bold in the note itself; these are rare
/// in notes, and doubled when a note has them.
pub const HIGHLIGHT: (&str, &str) = ("\u{27E6}", "\u{27E7}");

impl SearchQuery {
    /// Whether any filter beside the words is set: a query of filters alone (no words) lists
    /// every live entity they select, newest first.
    pub fn has_filters(&self) -> bool {
        !(self.types.is_empty()
            && self.tags.is_empty()
            && self.paths.is_empty()
            && self.meta.is_empty())
    }

    /// A query with no filters, the first 20 hits, with snippets marked by [`HIGHLIGHT`].
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            types: Vec::new(),
            tags: Vec::new(),
            paths: Vec::new(),
            meta: Vec::new(),
            limit: 20,
            offset: 0,
            highlight: (HIGHLIGHT.0.into(), HIGHLIGHT.1.into()),
            snippets: true,
        }
    }
}

/// One search result.
#[derive(Clone, Debug, Serialize)]
pub struct SearchHit {
    /// Type and id.
    #[serde(flatten)]
    pub entity: EntityRef,
    /// Title.
    pub title: String,
    /// Vault-relative path.
    pub path: String,
    /// BM25 score (higher is better).
    pub score: f64,
    /// A short excerpt with the matched terms highlighted.
    pub snippet: String,
}

/// A small document one process publishes for others (the daemon's watcher state, queue depth,
/// last event and error, read by `brain status` in another process), as
/// [`crate::Store::runtime_state`] returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuntimeState {
    /// The document as it was last set.
    pub value: serde_json::Value,
    /// When it was set (ms since the epoch): a reader tells a live publisher from one that
    /// stopped (crashed) by its age.
    pub updated_ms: i64,
}

/// A live entity as its file should be: where, and with which content hash (what `brain
/// doctor` compares with the files on disk).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveFile {
    /// Type and id.
    pub entity: EntityRef,
    /// Vault-relative path of its file.
    pub path: String,
    /// BLAKE3 of its content (what its file holds once written).
    pub content_hash: String,
    /// Changed through an interface and not yet written to its file.
    pub dirty: bool,
}

/// A vault folder a store serves ([`crate::Store::replicas`]): a store several folders share
/// (PostgreSQL) lists each; SQLite, whose store lives in its one folder, lists none.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReplicaInfo {
    /// Its id (the folder's `.brain/replica`).
    pub id: String,
    /// Its folder, as its machine names it.
    pub root: String,
    /// Its machine.
    pub host: String,
    /// When it was attached (ms since the epoch).
    pub attached_ms: i64,
    /// Notes changed in the store that its folder does not hold yet.
    pub behind: u64,
    /// Whether it is the replica of the store handle that answered.
    pub this: bool,
    /// Whether its directory sync is paused (`brain sync pause` in that folder): its file
    /// changes and note writes wait until it is resumed there.
    pub sync_paused: bool,
    /// When its daemon (`brain serve`) last published that it runs (ms since the epoch), or
    /// `None` if none has, or the last one stopped. A running daemon publishes at least every
    /// 20 s, so an older time means it is gone (killed, or its machine is off).
    pub daemon_seen_ms: Option<i64>,
    /// That daemon's pid and start time (ms), as it published them: on its own machine a
    /// reader can tell a daemon killed without a word from one that runs.
    pub daemon_process: Option<(u32, i64)>,
    /// The `[history]` retention it published ([`crate::history::RETENTION_KEY`]), if it has:
    /// a prune of the shared store keeps what every folder's rules keep.
    pub history_rules: Option<crate::history::Retention>,
}

/// One entry of the change feed ([`Store::changes_since`]): an entity as its latest change left
/// it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Its number in the feed: store-wide, increasing with every change.
    pub seq: u64,
    /// The entity.
    pub entity: EntityRef,
    /// Its vault-relative path now.
    pub path: String,
    /// Its content hash now.
    pub content_hash: String,
    /// Whether it is (soft) deleted now.
    pub deleted: bool,
    /// When its content last changed (ms since the epoch).
    pub updated_ms: i64,
}

/// A page of the change feed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChangePage {
    /// The changes, oldest first.
    pub changes: Vec<Change>,
    /// Where to read on from: the last change's number, or the cursor given when there was
    /// none.
    pub next: u64,
}

/// The runtime-state key (per replica) saying a folder attached to a store that other folders
/// fill has not finished its first whole sync: until one completes with nothing skipped, its
/// syncs settle a name held differently here and in the store as a join does (the store's
/// text keeps the name). Set `true` by the attach, `false` by the sync that completes it.
pub const JOINING_KEY: &str = "joining";

/// What made a change and why, kept with the version it makes (see [`crate::history`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeWhy {
    /// What wrote it: `file` (a sync import), `cli`, `mcp`, `web`, `matrix`, `git`, `batch N`.
    pub source: String,
    /// Why, when the writer said (`brain put --message`, an agent's reason, a batch's op).
    pub message: Option<String>,
}

impl ChangeWhy {
    /// A change made by `source`, with no message.
    pub fn by(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            message: None,
        }
    }

    /// A note file's change, imported by a sync.
    pub fn file() -> Self {
        Self::by("file")
    }

    /// The same, with a message.
    pub fn saying(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// One version of an entity, as `brain history` lists it: the kept ones and the current one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Version {
    /// Its number: 1 for the first the store kept, increasing by one with each change.
    pub number: u64,
    /// Its file path then.
    pub path: String,
    /// Its content hash then.
    pub content_hash: String,
    /// Whether it was the note deleted.
    pub deleted: bool,
    /// When it was written (or deleted), ms since the epoch.
    pub made_ms: i64,
    /// What made it, and why.
    pub why: ChangeWhy,
    /// Whether it is the entity as it is now.
    pub current: bool,
}
