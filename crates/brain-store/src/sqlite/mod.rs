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
//! publishes for others), `jobs` (the job queue, the [`crate::JobStore`] impl) and `migrate`
//! (schema versions).

mod conflicts;
mod entities;
mod fts;
mod jobs;
mod listing;
mod migrate;
mod runtime;
mod search;
mod sync;

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use brain_core::EntityRef;
use rusqlite::{Connection, TransactionBehavior};

use crate::{
    Conflict, Entity, EntitySummary, FileBase, ListFilter, PutOutcome, Result, RuntimeState,
    SearchHit, SearchQuery, Store, StoreError, SyncOp, SyncState,
};

/// Settings applied to every connection before migrating.
///
/// WAL so readers in other processes never block the writer; `synchronous=NORMAL` is durable
/// across application crashes in WAL mode and only risks the last commits on power loss, which
/// the next sync repairs from the files; a 32 MB page cache keeps the index of a large vault in
/// memory; `busy_timeout` turns a concurrent writer into a short wait instead of an error.
const PRAGMAS: &str = "PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 15000;
PRAGMA cache_size = -32000;
PRAGMA temp_store = MEMORY;";

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
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// Fails with [`StoreError::TooNew`] when the file was written by a newer brain, rather than
    /// guessing at a schema it does not know.
    pub fn open(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: shown.clone(),
            source,
        })?;
        Self::init(conn, &shown)
    }

    /// A private database in memory, gone when the store is dropped: for tests and dry runs.
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: ":memory:".into(),
            source,
        })?;
        Self::init(conn, ":memory:")
    }

    fn init(mut conn: Connection, shown: &str) -> Result<Self> {
        let open_err = |source| StoreError::Open {
            path: shown.to_string(),
            source,
        };
        conn.execute_batch(PRAGMAS).map_err(open_err)?;
        register_functions(&conn).map_err(open_err)?;
        // `apply` alone prepares about a dozen statements; keep all of them cached.
        conn.set_prepared_statement_cache_capacity(64);
        migrate::run(&mut conn, shown)?;
        Ok(Self {
            conn: Mutex::new(conn),
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
        self.write(fts::check)
    }

    /// Runs `f` in one write transaction, taken up front (`BEGIN IMMEDIATE`) so a concurrent
    /// writer makes us wait at the start instead of failing with SQLITE_BUSY half-way.
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in one read transaction, so several statements see one snapshot.
    fn read<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

impl Store for SqliteStore {
    fn sync_state(&self) -> Result<SyncState> {
        self.read(sync::state)
    }

    fn bases(&self, paths: &[&str]) -> Result<Vec<FileBase>> {
        self.read(|tx| sync::bases(tx, paths))
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

    fn put(&self, entity: &Entity) -> Result<PutOutcome> {
        self.write(|tx| entities::put(tx, entity))
    }

    fn soft_delete(&self, r: &EntityRef, now_ms: i64) -> Result<()> {
        self.write(|tx| entities::soft_delete(tx, r, now_ms))
    }

    fn restore(&self, r: &EntityRef, now_ms: i64) -> Result<Entity> {
        self.write(|tx| entities::restore(tx, r, now_ms))
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<EntitySummary>> {
        self.read(|tx| listing::list(tx, filter))
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
}
