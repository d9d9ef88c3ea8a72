//! Where entities, the per-file sync base, conflicts, the full-text index and the job queue
//! ([`jobs`], [`JobStore`]) live.
//!
//! [`Store`] plays the part of River's driver interface: one trait, several backends (each in
//! its own crate: `brain-store-sqlite` now, PostgreSQL later), and one conformance suite (the
//! `conformance` feature) that every backend runs from its own tests, one test per case. The full-text index is written in the same transaction as the entity it indexes, so
//! search can never disagree with `get`.
//!
//! The trait is synchronous: the sync engine runs on plain threads, and async callers (the job
//! workers, MCP, web) wrap calls in `spawn_blocking`. That keeps SQLite calls free of runtime
//! overhead on the hot import path.

#[cfg(feature = "conformance")]
pub mod conformance;
mod dump;
mod error;
pub mod history;
pub mod jobs;
pub mod schedules;
pub mod search_query;
pub mod snippet;
mod types;

pub use dump::{DumpFingerprint, DumpedEntity, KeptVersion, StoreDump};
pub use error::{PathCollision, StoreError};
pub use jobs::JobStore;
pub use types::*;

use brain_core::EntityRef;

/// Everything a backend implements: entities, sync state and search ([`Store`]) and the job
/// queue ([`JobStore`]). One object, because the outbox writes both in one transaction. What
/// every interface and plugin holds (`Arc<dyn Backend>`): the binary picks the backend once,
/// from config, and nothing past that point knows which one it is.
pub trait Backend: Store + JobStore {}

impl<T: Store + JobStore + ?Sized> Backend for T {}

/// Result alias for store calls.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A backend for entities, sync state, conflicts and search.
///
/// Every method is one transaction. Implementations must be safe to share between threads.
pub trait Store: Send + Sync {
    /// Everything a sync needs to compare disk with the store: every file base, and every entity
    /// changed through an interface since it was last synced (the dirty set).
    fn sync_state(&self) -> Result<SyncState>;

    /// The full bases (hash and entity too) of these paths; paths without a base are left out.
    fn bases(&self, paths: &[&str]) -> Result<Vec<FileBase>>;

    /// The sync state of `paths` only, for a sync of a few files (the import after a save, the
    /// export of one note): their bases (in path order), the dirty entities at those paths, the
    /// live count, and the paths of other live entities or synced files that differ from one
    /// of `paths` only by letter case or Unicode normalization (so a new file is checked for a
    /// collision). It reads what those paths touch, never the whole vault's bases: a save costs
    /// the same in a vault of 100 notes or 100,000.
    fn sync_state_of(&self, paths: &[&str]) -> Result<PartialSyncState>;

    /// Every entity changed through an interface and not yet written to its file (the small,
    /// indexed set an export of everything or of some types works from).
    fn dirty_entities(&self) -> Result<Vec<DirtyEntity>>;

    /// Applies a group of sync operations atomically, in order.
    fn apply(&self, ops: &[SyncOp]) -> Result<()>;

    /// A live (not deleted) entity.
    fn get(&self, r: &EntityRef) -> Result<Entity>;

    /// An entity whether live or soft-deleted.
    fn get_any(&self, r: &EntityRef) -> Result<Entity>;

    /// The live entities `refs` name, in the same order (`None` for one that does not exist
    /// or is deleted), read in one transaction: a sync writes notes in batches of hundreds and
    /// would otherwise pay a transaction per note.
    fn get_many(&self, refs: &[EntityRef]) -> Result<Vec<Option<Entity>>>;

    /// Creates or replaces an entity from an interface (CLI, MCP, ...); marks it dirty so the
    /// next sync writes its file. Refuses a path that collides (case or Unicode normalization)
    /// with another live entity's path.
    fn put(&self, entity: &Entity) -> Result<PutOutcome>;

    /// Soft-deletes a live entity (a tombstone `restore` can undo); marks it dirty so the next
    /// sync moves its file to the trash.
    fn soft_delete(&self, r: &EntityRef, now_ms: i64) -> Result<()>;

    /// Brings back a soft-deleted entity; marks it dirty so the next sync writes its file.
    fn restore(&self, r: &EntityRef, now_ms: i64) -> Result<Entity>;

    /// Entities in path order, filtered.
    fn list(&self, filter: &ListFilter) -> Result<Vec<EntitySummary>>;

    /// Every version of an entity, live or deleted, oldest first and the current one last:
    /// the ones its changes replaced (history) and the entity as it is.
    fn history(&self, r: &EntityRef) -> Result<Vec<Version>>;

    /// The text (frontmatter and body, as its file held it) of version `number` of an entity.
    /// A number its history does not hold is [`StoreError::VersionNotFound`].
    fn version_text(&self, r: &EntityRef, number: u64) -> Result<String>;

    /// The entity one of whose earlier versions was at `path` (with this content hash, when
    /// given) and which is elsewhere now (a note moved or renamed since), if any, the latest
    /// such version deciding: a folder joining with an old copy of it must not bring it back
    /// under its old name, and a reader asking for the old id is told where it went.
    fn moved_from(&self, path: &str, content_hash: Option<&str>) -> Result<Option<EntityRef>>;

    /// Whether one of `r`'s earlier versions had this content hash: a file holding it is an
    /// old copy of the note, not an edit made beside the store's.
    fn held_before(&self, r: &EntityRef, content_hash: &str) -> Result<bool>;

    /// Thins every entity's kept versions by `rules` at `now_ms` (see
    /// [`history::prune`]), one short transaction per entity so other writes keep flowing;
    /// returns how many versions were dropped. A note's current version is never touched.
    fn prune_history(&self, now_ms: i64, rules: history::Retention) -> Result<u64>;

    /// Whether this handle's changes keep the versions they replace (`[history] keep`, on
    /// unless a vault's config turns it off). Off, a change still numbers its version, but the
    /// text it replaced is gone: only for a vault whose past lives elsewhere (git).
    fn keep_history(&self, on: bool);

    /// Full-text search ranked by BM25 (best first) with highlighted snippets.
    fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>>;

    /// Number of live entities.
    fn count_live(&self) -> Result<u64>;

    /// Conflicts, newest first; resolved ones only when asked.
    fn conflicts(&self, include_resolved: bool) -> Result<Vec<Conflict>>;

    /// One conflict by id.
    fn conflict(&self, id: i64) -> Result<Conflict>;

    /// Marks a conflict as settled by the user.
    fn resolve_conflict(&self, id: i64, now_ms: i64) -> Result<()>;

    /// Publishes `value` under `key` (replacing what was there), stamped `now_ms`: how a
    /// daemon tells other processes (`brain status`) what its watcher is doing, through the
    /// one place they all open.
    fn set_runtime_state(&self, key: &str, value: &serde_json::Value, now_ms: i64) -> Result<()>;

    /// What was last published under `key`, or `None` if nothing ever was.
    fn runtime_state(&self, key: &str) -> Result<Option<RuntimeState>>;

    /// Whether this store refuses writes (its files or its role are read-only): reads work,
    /// and interfaces say why a write is refused before trying it.
    fn is_read_only(&self) -> bool;

    /// Checks that the store this handle opened is still the one at its location (a file's
    /// device and inode; a database's identity): a long-running process calls this on a
    /// timer, so a store deleted or replaced under it stops it within one tick. Fails with
    /// [`StoreError::Replaced`] when it is not.
    fn verify_identity(&self) -> Result<()>;

    /// The backend's own page- or table-level check (`brain doctor`): every problem it finds,
    /// empty when the store is sound.
    fn integrity_problems(&self) -> Result<Vec<String>>;

    /// Verifies that the full-text index holds exactly the live entities' text; a mismatch is
    /// an error saying what drifted.
    fn check_index(&self) -> Result<()>;

    /// Every live entity's path and hash, by path, reading no entity's text (`brain doctor`).
    fn live_files(&self) -> Result<Vec<LiveFile>>;

    /// Whether the store answers now, within about a second ([`StoreError::Unavailable`] if
    /// not): how a daemon learns that a server went away without waiting out a connect
    /// timeout. A store in a local file always answers.
    fn ping(&self) -> Result<()> {
        Ok(())
    }

    /// The vault folders this store serves (`brain status`), none for a store that lives in
    /// its one folder.
    fn replicas(&self) -> Result<Vec<ReplicaInfo>> {
        Ok(Vec::new())
    }

    /// The replica this handle reads and writes as, on a store several folders share.
    fn replica_id(&self) -> Option<String> {
        None
    }

    /// One short step of the upkeep a backend's search index defers (FTS5 merges its index
    /// segments in slices charged to whichever write crosses its work counter: at 100,000
    /// notes a save could pay a merge of a megabyte or more). The daemon runs steps while it
    /// is idle, so saves seldom pay them. Returns whether more is left; a backend with nothing
    /// to defer returns `false`.
    fn tidy_index(&self) -> Result<bool> {
        Ok(false)
    }

    /// Gives entity `r`, live here with no kept versions yet (just imported by `brain doctor
    /// --rebuild`), the earlier versions `earlier` read from the store it replaces: oldest
    /// first, each with its text, numbered below the entity's new number. `same_as_current` is
    /// the old store's current version when the entity holds its exact text: the entity takes
    /// its number and maker. Each version is stored against the one after it, as every kept
    /// version is. A backend that is not rebuilt from the note files (PostgreSQL) refuses.
    fn graft_history(
        &self,
        r: &EntityRef,
        earlier: &[(Version, String)],
        same_as_current: Option<&Version>,
    ) -> Result<()> {
        let _ = (r, earlier, same_as_current);
        Err(StoreError::Refused(
            "this store keeps its history in place; it is not rebuilt from the note files".into(),
        ))
    }

    /// Recomputes every note's search text in place from the note as stored, and makes
    /// deleted notes unsearchable: what `brain doctor --rebuild` does on a backend whose store
    /// is not rebuilt from the note files (PostgreSQL: the server keeps its own data safe).
    /// Returns how many notes it changed. A backend rebuilt from the files (SQLite) refuses.
    fn reindex(&self) -> Result<u64> {
        Err(StoreError::Refused(
            "this store is rebuilt from the note files (`brain doctor --rebuild`), not \
             reindexed in place"
                .into(),
        ))
    }

    /// The change feed: entities changed after `cursor` (0 reads from the start), oldest change
    /// first, at most `limit`, each listed once, as its latest change left it (a feed of states:
    /// a note changed twice since `cursor` appears once, at its later number). Read on from the
    /// page's `next`. Every change (a put, an import, a rename, a soft delete, a restore, in any
    /// transaction) gets a store-wide number in the transaction that makes it; marking a note
    /// exported is not a change.
    ///
    /// The guarantee a consumer relies on: reading on from `next` never misses a change. A
    /// change committed after a page was read is numbered above that page's `next`; a backend
    /// whose writers can commit out of number order (PostgreSQL) returns only changes no open
    /// transaction can still precede, so one that commits late with a lower number is read on
    /// the next call, not skipped.
    fn changes_since(&self, cursor: u64, limit: usize) -> Result<ChangePage>;

    /// The feed's end now: a consumer that wants only changes from now on starts here.
    fn change_cursor(&self) -> Result<u64>;

    /// Everything this store holds of its vault, read in one snapshot (`brain store copy`).
    fn dump(&self) -> Result<StoreDump>;

    /// Fills this store with `dump` in one transaction: every entity with its feed number,
    /// dirty flag and times, every base and conflict (ids kept), the feed going on after
    /// `dump.change_cursor`. A store holding any entity or conflict is refused with
    /// [`StoreError::NotEmpty`], unless `replace`, which removes what it holds first.
    fn load_dump(&self, dump: &StoreDump, replace: bool) -> Result<()>;
}
