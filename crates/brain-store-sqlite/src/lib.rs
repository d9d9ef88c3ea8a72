//! The embedded SQLite backend: one connection behind a mutex, FTS5 for search.
//!
//! One connection rather than a pool: SQLite allows one writer at a time anyway, the hot path
//! (importing a vault) is a single long write transaction, and every read here takes well under
//! a millisecond, so a pool would add threads and memory for no throughput. Other processes
//! (a CLI next to the daemon) open their own store on the same file; WAL lets their reads run
//! beside our writes, and `busy_timeout` makes writers wait for each other instead of failing.
//!
//! Each area of the [`Store`] trait lives in its own file: `entities` (row writes and
//! interface reads), `fts` (the full-text index those writes keep in step), `listing`, `sync`
//! (the sync engine's batch and state), `search`, `conflicts`, `runtime` (state a process
//! publishes for others), `jobs` (the job queue, the [`brain_store::JobStore`] impl), `migrate`
//! (schema versions), `open` (opening a vault's store: never created on the fly, read-only
//! when it cannot be written, its file's identity checked around every transaction) and
//! `check` (what `brain doctor` asks of a store).

mod changes;
mod check;
mod conflicts;
mod copy;
mod entities;
mod fts;
pub mod fts_query;
mod history;
mod jobs;
mod listing;
mod migrate;
mod open;
mod runtime;
mod search;
mod sync;
mod sync_state;
pub mod testing;
mod tx;

use std::path::Path;

use std::sync::{Mutex, MutexGuard, PoisonError};

use brain_core::EntityRef;
use rusqlite::{Connection, TransactionBehavior};

use brain_store::{
    ChangeWhy, Conflict, Entity, EntitySummary, FileBase, ListFilter, PutOutcome, Result,
    RuntimeState, SearchHit, SearchQuery, Store, StoreError, SyncOp, SyncState, Version,
};

/// The source of a change an interface made without naming itself (`Store::put` outside a
/// transaction that said, with [`brain_store::jobs::WriteTx::set_why`]).
pub(crate) const BRAIN: &str = "brain";

/// Settings applied to every writing connection before migrating: see
/// [`open::write_pragmas`]. `synchronous=NORMAL` is durable across application crashes in WAL
/// mode and only risks the last commits on power loss; a vault's store takes its level from
/// `store.synchronous` ([`SqliteStore::open_existing`]).
fn default_pragmas() -> String {
    open::write_pragmas(brain_core::config::Synchronous::Normal)
}

/// Gives SQL the one key function the schema depends on: `brain_path_key(path)` is
/// [`brain_core::path_key`], so a statement that moves a row (archiving a tombstone) or a
/// migration that re-keys rows computes exactly the key Rust would, where SQLite's `lower()`
/// folds ASCII only.
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "brain_path_key",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let path: String = ctx.get(0)?;
            Ok(brain_core::path_key(&path))
        },
    )
}

/// A [`Store`] in one SQLite database file (or in memory, for tests).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// File bases read so far (all of `sync_state`, or the few of `bases`/`sync_state_of`):
    /// what a partial sync costs, which tests and benchmarks check stays what it touches.
    base_reads: std::sync::atomic::AtomicU64,
    /// The file it was opened from (`None` in memory): its identity and whether it is
    /// read-only.
    file: Option<open::StoreFile>,
    /// Whether a change keeps the version it replaces (`[history] keep`; on by default).
    keeps_history: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// File bases read since the store was opened (see the field's docs).
    pub fn base_reads(&self) -> u64 {
        self.base_reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count_base_reads(&self, n: usize) {
        self.base_reads
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Opens (creating if needed) the database at `path` and brings its schema up to date: for
    /// tests, benchmarks and tools that own the file. A vault's store is opened with
    /// [`SqliteStore::open_existing`] and created with [`SqliteStore::create`] instead, so a
    /// deleted store is never silently replaced by an empty one.
    ///
    /// Fails with [`StoreError::TooNew`] when the file was written by a newer brain, rather than
    /// guessing at a schema it does not know.
    pub fn open(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: shown.clone(),
            source: Box::new(source),
        })?;
        let file = open::StoreFile::opened(path, false)?;
        Self::start(conn, &default_pragmas(), Some(file))
    }

    /// A private database in memory, gone when the store is dropped: for tests and dry runs.
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: ":memory:".into(),
            source: Box::new(source),
        })?;
        Self::start(conn, &default_pragmas(), None)
    }

    /// Applies `pragmas`, registers the SQL functions and brings the schema up to date (only
    /// checks it, read-only): every open ends here. Errors of a file say what to do about them.
    fn start(mut conn: Connection, pragmas: &str, file: Option<open::StoreFile>) -> Result<Self> {
        let shown = file
            .as_ref()
            .map_or_else(|| ":memory:".to_string(), |f| f.shown().to_string());
        let explain = |e: StoreError| match &file {
            Some(f) => f.explain(e),
            None => e,
        };
        let open_err = |source: rusqlite::Error| StoreError::Open {
            path: shown.clone(),
            source: Box::new(source),
        };
        conn.execute_batch(pragmas)
            .map_err(open_err)
            .map_err(explain)?;
        register_functions(&conn).map_err(open_err)?;
        // `apply` alone prepares about a dozen statements; keep all of them cached.
        conn.set_prepared_statement_cache_capacity(64);
        match &file {
            Some(f) if f.read_only() => open::check_schema(&conn, f),
            _ => migrate::run(&mut conn, &shown),
        }
        .map_err(explain)?;
        Ok(Self {
            conn: Mutex::new(conn),
            base_reads: Default::default(),
            file,
            keeps_history: std::sync::atomic::AtomicBool::new(true),
        })
    }

    /// The connection. A panic while it was held (a bug, never a database error) poisons the
    /// mutex; the transaction it was in has been rolled back by then, so the connection is
    /// still consistent and is taken back rather than turning one panic into many.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Verifies that the full-text index holds exactly the live entities' titles and bodies.
    ///
    /// The index is maintained by the store's own writes, not by triggers (see the first
    /// migration), so this is the check that it never drifted: the SQLite tests run it after
    /// every kind of write, and a future `brain doctor` can run it on a user's vault. A
    /// mismatch comes back as a [`StoreError::Sqlite`] corruption error.
    pub fn check_index(&self) -> Result<()> {
        // Drift is what this call looks for, so it comes back as SQLite said it, not with the
        // advice a damaged store gets elsewhere.
        self.write(|tx| fts::check(tx)).map_err(|e| match e {
            StoreError::Damaged { source, .. } => StoreError::Database(source),
            other => other,
        })
    }

    /// Runs `f` in one write transaction, taken up front (`BEGIN IMMEDIATE`) so a concurrent
    /// writer makes us wait at the start instead of failing with SQLITE_BUSY half-way.
    ///
    /// The store file is checked to be the one opened before the transaction starts and after
    /// it committed: a write into a store deleted or replaced under this process would be
    /// acknowledged and then lost with the last handle on it, so it is an error instead
    /// ([`StoreError::Replaced`]). A read-only store refuses before anything starts.
    fn write<T>(&self, f: impl FnOnce(&tx::StoreTx<'_>) -> Result<T>) -> Result<T> {
        if let Some(file) = &self.file {
            if file.read_only() {
                return Err(file.read_only_error());
            }
            file.verify()?;
        }
        let mut conn = self.lock();
        let out = (|| {
            let tx = tx::StoreTx::new(
                conn.transaction_with_behavior(TransactionBehavior::Immediate)?,
                self.keeps_history
                    .load(std::sync::atomic::Ordering::Relaxed),
            );
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        self.checked(out)
    }

    /// Runs `f` in one read transaction, so several statements see one snapshot. Like a write,
    /// it fails when the store file was deleted or replaced: its answers would be a vanished
    /// store's.
    fn read<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let out = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        self.checked(out)
    }

    /// `out`, unless the store file is no longer the one opened; an SQLite error with the
    /// advice that fits it.
    fn checked<T>(&self, out: Result<T>) -> Result<T> {
        let Some(file) = &self.file else {
            return out;
        };
        file.verify()?;
        out.map_err(|e| file.explain(e))
    }
}

impl Store for SqliteStore {
    fn sync_state(&self) -> Result<SyncState> {
        let state = self.read(sync_state::state)?;
        self.count_base_reads(state.bases.len());
        Ok(state)
    }

    fn bases(&self, paths: &[&str]) -> Result<Vec<FileBase>> {
        let bases = self.read(|tx| sync_state::bases(tx, paths))?;
        self.count_base_reads(bases.len());
        Ok(bases)
    }

    fn sync_state_of(&self, paths: &[&str]) -> Result<brain_store::PartialSyncState> {
        let partial = self.read(|tx| sync_state::state_of(tx, paths))?;
        self.count_base_reads(partial.state.bases.len());
        Ok(partial)
    }

    fn dirty_entities(&self) -> Result<Vec<brain_store::DirtyEntity>> {
        self.read(sync_state::dirty)
    }

    fn apply(&self, ops: &[SyncOp]) -> Result<()> {
        self.write(|tx| sync::apply(tx, ops))
    }

    fn get(&self, r: &EntityRef) -> Result<Entity> {
        match self.read(|tx| entities::load(tx, r))? {
            Some(e) if e.deleted_ms.is_none() => Ok(e),
            _ => Err(StoreError::NotFound(r.clone())),
        }
    }

    fn get_any(&self, r: &EntityRef) -> Result<Entity> {
        self.read(|tx| entities::load(tx, r))?
            .ok_or_else(|| StoreError::NotFound(r.clone()))
    }

    fn get_many(&self, refs: &[EntityRef]) -> Result<Vec<Option<Entity>>> {
        self.read(|tx| {
            refs.iter()
                .map(|r| Ok(entities::load(tx, r)?.filter(|e| e.deleted_ms.is_none())))
                .collect()
        })
    }

    fn put(&self, entity: &Entity) -> Result<PutOutcome> {
        self.write(|tx| entities::put(tx, entity, &ChangeWhy::by(BRAIN)))
    }

    fn soft_delete(&self, r: &EntityRef, now_ms: i64) -> Result<()> {
        self.write(|tx| entities::soft_delete(tx, r, now_ms, &ChangeWhy::by(BRAIN)))
    }

    fn restore(&self, r: &EntityRef, now_ms: i64) -> Result<Entity> {
        self.write(|tx| entities::restore(tx, r, now_ms, &ChangeWhy::by(BRAIN)))
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<EntitySummary>> {
        self.read(|tx| listing::list(tx, filter))
    }

    fn history(&self, r: &EntityRef) -> Result<Vec<Version>> {
        self.read(|tx| history::list(tx, r))
    }

    fn version_text(&self, r: &EntityRef, number: u64) -> Result<String> {
        self.read(|tx| history::text(tx, r, number))
    }

    fn moved_from(&self, path: &str, content_hash: Option<&str>) -> Result<Option<EntityRef>> {
        self.read(|tx| history::moved_from(tx, path, content_hash))
    }

    fn held_before(&self, r: &EntityRef, content_hash: &str) -> Result<bool> {
        self.read(|tx| history::held_before(tx, r, content_hash))
    }

    fn graft_history(
        &self,
        r: &EntityRef,
        earlier: &[(Version, String)],
        same_as_current: Option<&Version>,
    ) -> Result<()> {
        self.write(|tx| history::graft(tx, r, earlier, same_as_current))
    }

    fn keep_history(&self, on: bool) {
        self.keeps_history
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn prune_history(&self, now_ms: i64, rules: brain_store::history::Retention) -> Result<u64> {
        let before = now_ms - i64::from(rules.keep_all_days) * 86_400_000;
        let mut dropped = 0;
        for rowid in self.read(|tx| history::prune_candidates(tx, before))? {
            match self.write(|tx| history::prune_one(tx, rowid, now_ms, rules)) {
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
        self.read(|tx| search::search(tx, query))
    }

    fn count_live(&self) -> Result<u64> {
        self.read(listing::count_live)
    }

    fn conflicts(&self, include_resolved: bool) -> Result<Vec<Conflict>> {
        self.read(|tx| conflicts::list(tx, include_resolved))
    }

    fn conflict(&self, id: i64) -> Result<Conflict> {
        self.read(|tx| conflicts::get(tx, id))
    }

    fn resolve_conflict(&self, id: i64, now_ms: i64) -> Result<()> {
        self.write(|tx| conflicts::resolve(tx, id, now_ms))
    }

    fn set_runtime_state(&self, key: &str, value: &serde_json::Value, now_ms: i64) -> Result<()> {
        self.write(|tx| runtime::set(tx, key, value, now_ms))
    }

    fn runtime_state(&self, key: &str) -> Result<Option<RuntimeState>> {
        self.read(|tx| runtime::get(tx, key))
    }

    fn is_read_only(&self) -> bool {
        SqliteStore::is_read_only(self)
    }

    fn verify_identity(&self) -> Result<()> {
        self.verify_file()
    }

    fn integrity_problems(&self) -> Result<Vec<String>> {
        SqliteStore::integrity_problems(self)
    }

    fn check_index(&self) -> Result<()> {
        SqliteStore::check_index(self)
    }

    fn live_files(&self) -> Result<Vec<brain_store::LiveFile>> {
        SqliteStore::live_files(self)
    }

    fn tidy_index(&self) -> Result<bool> {
        self.write(|tx| fts::merge_step(tx))
    }

    fn changes_since(&self, cursor: u64, limit: usize) -> Result<brain_store::ChangePage> {
        self.read(|tx| changes::since(tx, cursor, limit))
    }

    fn change_cursor(&self) -> Result<u64> {
        self.read(changes::cursor)
    }

    fn dump(&self) -> Result<brain_store::StoreDump> {
        self.read(copy::dump)
    }

    fn load_dump(&self, dump: &brain_store::StoreDump, replace: bool) -> Result<()> {
        let shown = self
            .file
            .as_ref()
            .map_or_else(|| ":memory:".to_string(), |f| f.shown().to_string());
        self.write(|tx| copy::load(tx, dump, replace, &shown))
    }
}
