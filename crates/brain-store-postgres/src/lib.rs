//! The PostgreSQL backend: the same [`Store`] and [`brain_store::JobStore`] as SQLite's, held to
//! the same conformance suite, for a brain that outgrows one machine.
//!
//! The client is the synchronous `postgres` crate (tokio-postgres underneath) with an r2d2
//! pool: the store traits are synchronous, and this pair built in 49 s from scratch beside
//! 104 s for sqlx (measured in a clean project, release, 2 cores). TLS is rustls, so building
//! needs no system OpenSSL (`postgres-openssl` built in 31 s but needs libssl-dev).
//!
//! Each area lives in its own file, as in the SQLite backend: `entities` (row writes, the
//! search text written with them), `changes` (the change feed, numbered at commit), `sync`,
//! `listing`, `conflicts`, `runtime`, `search`, `jobs`, `migrate`, `connect` (the URL,
//! credentials and TLS) and `db` (the pool, transactions and their retry).

mod changes;
mod conflicts;
pub mod connect;
mod copy;
mod db;
mod dirty;
mod entities;
mod history;
mod jobs;
mod listing;
mod migrate;
pub mod replica;
mod runtime;
mod search;
mod sync;
pub mod testing;
pub mod tokens;

use std::sync::atomic::{AtomicU64, Ordering};

use brain_core::EntityRef;
use brain_store::{
    ChangePage, ChangeWhy, Conflict, DirtyEntity, Entity, EntitySummary, FileBase, ListFilter,
    LiveFile, PartialSyncState, PutOutcome, Result, RuntimeState, SearchHit, SearchQuery, Store,
    StoreError, SyncOp, SyncState, Version,
};

pub use connect::ConnectOptions;
use db::Pool;
pub use db::ServerError;

/// The replica id of a store opened without one: the only vault folder of a store until
/// replicas attach more (issue 18). Per-replica state (file bases, runtime state) is keyed by it.
pub const DEFAULT_REPLICA: &str = "local";

/// The source of a change an interface made without naming itself (`Store::put` outside a
/// transaction that said, with [`brain_store::jobs::WriteTx::set_why`]).
pub(crate) const BRAIN: &str = "brain";

/// A [`Store`] in a PostgreSQL database (the schema first on the connection's search path).
pub struct PgStore {
    pool: Pool,
    /// Whose file bases and runtime state this handle reads and writes.
    replica: String,
    /// File bases read so far (see `brain_store_sqlite::SqliteStore::base_reads`).
    base_reads: AtomicU64,
    /// What wakes idle workers (LISTEN on the store's channel), started on first use.
    notifier: jobs::notify::Notifier,
    /// The folder `check_folder` found this store to be, and when it last looked.
    checked_folder: std::sync::Mutex<Option<(replica::Folder, std::time::Instant)>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("database", &self.pool.shown())
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database `options` name and brings its schema up to date (creating it
    /// on first use). Fails with [`StoreError::TooNew`] when a newer brain wrote the schema.
    pub fn open(options: &ConnectOptions) -> Result<Self> {
        let pool = Pool::connect(options)?;
        if !pool.read(migrate::is_current)? {
            pool.write(migrate::run)?;
        }
        let notifier = jobs::notify::Notifier::new(options.clone());
        Ok(Self {
            pool: pool.with_notify_token(notifier.token()),
            notifier,
            replica: DEFAULT_REPLICA.to_string(),
            base_reads: AtomicU64::new(0),
            checked_folder: std::sync::Mutex::new(None),
        })
    }

    /// Opens the store of a vault that has one: a database holding no brain (its tables
    /// dropped, or an empty database made under the same name) is refused rather than set up
    /// afresh, so an empty store is never taken for the vault's (which its files would then
    /// fill again, while its edits not yet in files were lost), as SQLite refuses a missing
    /// file.
    pub fn open_existing(options: &ConnectOptions) -> Result<Self> {
        let pool = Pool::connect(options)?;
        if !pool.read(migrate::has_schema)? {
            return Err(StoreError::Refused(
                format!(
                    "the database {} holds no brain (its tables are gone: dropped, or an empty \
                     database made under that name), so nothing was done rather than take an \
                     empty store for this vault's; restore the database from a backup, or \
                     start over from the note files: move .brain/ aside and run `brain init \
                     --store URL` (edits not yet written to files are lost with the old \
                     database)",
                    pool.shown()
                )
                .into(),
            ));
        }
        drop(pool);
        Self::open(options)
    }

    /// The same store seen as replica `replica` (its own file bases and runtime state).
    pub fn with_replica(mut self, replica: impl Into<String>) -> Self {
        self.replica = replica.into();
        self
    }

    /// File bases read since the store was opened.
    pub fn base_reads(&self) -> u64 {
        self.base_reads.load(Ordering::Relaxed)
    }

    fn count_base_reads(&self, n: usize) {
        self.base_reads.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The database as shown to people: the URL without its password.
    pub fn shown(&self) -> &str {
        self.pool.shown()
    }
}

impl Store for PgStore {
    fn sync_state(&self) -> Result<SyncState> {
        let state = self.pool.read(|db| sync::state(db, &self.replica))?;
        self.count_base_reads(state.bases.len());
        Ok(state)
    }

    fn bases(&self, paths: &[&str]) -> Result<Vec<FileBase>> {
        let bases = self.pool.read(|db| sync::bases(db, &self.replica, paths))?;
        self.count_base_reads(bases.len());
        Ok(bases)
    }

    fn sync_state_of(&self, paths: &[&str]) -> Result<PartialSyncState> {
        let partial = self
            .pool
            .read(|db| sync::state_of(db, &self.replica, paths))?;
        self.count_base_reads(partial.state.bases.len());
        Ok(partial)
    }

    fn dirty_entities(&self) -> Result<Vec<DirtyEntity>> {
        self.pool.read(|db| sync::dirty(db, &self.replica))
    }

    fn apply(&self, ops: &[SyncOp]) -> Result<()> {
        self.pool.write(|db| sync::apply(db, &self.replica, ops))
    }

    fn get(&self, r: &EntityRef) -> Result<Entity> {
        match self.pool.read(|db| entities::load(db, r))? {
            Some(e) if e.deleted_ms.is_none() => Ok(e),
            _ => Err(StoreError::NotFound(r.clone())),
        }
    }

    fn get_any(&self, r: &EntityRef) -> Result<Entity> {
        self.pool
            .read(|db| entities::load(db, r))?
            .ok_or_else(|| StoreError::NotFound(r.clone()))
    }

    fn get_many(&self, refs: &[EntityRef]) -> Result<Vec<Option<Entity>>> {
        self.pool.read(|db| {
            refs.iter()
                .map(|r| Ok(entities::load(db, r)?.filter(|e| e.deleted_ms.is_none())))
                .collect()
        })
    }

    fn put(&self, entity: &Entity) -> Result<PutOutcome> {
        self.pool
            .write(|db| entities::put(db, entity, &self.replica, &ChangeWhy::by(BRAIN)))
    }

    fn soft_delete(&self, r: &EntityRef, now_ms: i64) -> Result<()> {
        self.pool
            .write(|db| entities::soft_delete(db, r, now_ms, &self.replica, &ChangeWhy::by(BRAIN)))
    }

    fn restore(&self, r: &EntityRef, now_ms: i64) -> Result<Entity> {
        self.pool
            .write(|db| entities::restore(db, r, now_ms, &self.replica, &ChangeWhy::by(BRAIN)))
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<EntitySummary>> {
        self.pool.read(|db| listing::list(db, filter))
    }

    fn history(&self, r: &EntityRef) -> Result<Vec<Version>> {
        self.pool.read(|db| history::list(db, r))
    }

    fn version_text(&self, r: &EntityRef, number: u64) -> Result<String> {
        self.pool.read(|db| history::text(db, r, number))
    }

    fn moved_from(&self, path: &str, content_hash: Option<&str>) -> Result<Option<EntityRef>> {
        self.pool
            .read(|db| history::moved_from(db, path, content_hash))
    }

    fn held_before(&self, r: &EntityRef, content_hash: &str) -> Result<bool> {
        self.pool
            .read(|db| history::held_before(db, r, content_hash))
    }

    fn keep_history(&self, on: bool) {
        self.pool.keep_history(on);
    }

    fn prune_history(&self, now_ms: i64, rules: brain_store::history::Retention) -> Result<u64> {
        let before = now_ms - i64::from(rules.keep_all_days) * 86_400_000;
        let mut dropped = 0;
        for row_id in self.pool.read(|db| history::prune_candidates(db, before))? {
            match self
                .pool
                .write(|db| history::prune_one(db, row_id, now_ms, rules))
            {
                Ok(n) => dropped += n,
                // One note's damaged history is left as it is; the others are thinned.
                Err(e @ StoreError::DamagedVersion { .. }) => {
                    tracing::warn!(error = %e, "history not thinned for this note: `brain doctor` names it");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(dropped)
    }

    fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        self.pool.read(|db| search::search(db, query))
    }

    fn count_live(&self) -> Result<u64> {
        self.pool.read(listing::count_live)
    }

    fn conflicts(&self, include_resolved: bool) -> Result<Vec<Conflict>> {
        self.pool.read(|db| conflicts::list(db, include_resolved))
    }

    fn conflict(&self, id: i64) -> Result<Conflict> {
        self.pool.read(|db| conflicts::get_one(db, id))
    }

    fn resolve_conflict(&self, id: i64, now_ms: i64) -> Result<()> {
        self.pool.write(|db| conflicts::resolve(db, id, now_ms))
    }

    fn set_runtime_state(&self, key: &str, value: &serde_json::Value, now_ms: i64) -> Result<()> {
        self.pool
            .write(|db| runtime::set(db, &self.replica, key, value, now_ms))
    }

    fn runtime_state(&self, key: &str) -> Result<Option<RuntimeState>> {
        self.pool
            .read(|db| runtime::get_state(db, &self.replica, key))
    }

    fn is_read_only(&self) -> bool {
        false
    }

    fn verify_identity(&self) -> Result<()> {
        // A database has no file to be deleted under us; one dropped or unreachable fails the
        // next statement with an error that says so. What can change is whose store it is:
        // another folder reattached (see `replica::PgStore::folder_still_ours`).
        self.folder_still_ours()
    }

    fn integrity_problems(&self) -> Result<Vec<String>> {
        self.pool.read(listing::integrity_problems)
    }

    fn check_index(&self) -> Result<()> {
        self.pool.read(search::check_index)
    }

    fn reindex(&self) -> Result<u64> {
        self.pool.write(search::reindex)
    }

    fn ping(&self) -> Result<()> {
        self.pool.answers_within(std::time::Duration::from_secs(1))
    }

    fn replicas(&self) -> Result<Vec<brain_store::ReplicaInfo>> {
        self.list()
    }

    fn replica_id(&self) -> Option<String> {
        Some(self.replica.clone())
    }

    fn live_files(&self) -> Result<Vec<LiveFile>> {
        self.pool.read(|db| listing::live_files(db, &self.replica))
    }

    fn changes_since(&self, cursor: u64, limit: usize) -> Result<ChangePage> {
        self.pool.read(|db| changes::since(db, cursor, limit))
    }

    fn change_cursor(&self) -> Result<u64> {
        self.pool.read(changes::cursor)
    }

    fn dump(&self) -> Result<brain_store::StoreDump> {
        self.pool.read(|db| copy::dump(db, &self.replica))
    }

    fn load_dump(&self, dump: &brain_store::StoreDump, replace: bool) -> Result<()> {
        let shown = self.shown().to_string();
        self.pool
            .write(|db| copy::load(db, &self.replica, dump, replace, &shown))
    }
}
