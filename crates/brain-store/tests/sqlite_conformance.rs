//! The backend conformance suite on SQLite, in memory and in a file (WAL, real pages).
//!
//! Every store the suite makes is wrapped so that, when a case drops it, FTS5's integrity
//! check confirms the full-text index still holds exactly the live entities: the index is
//! written by the store's code rather than by triggers, so this is what proves it never drifts.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Arc;

use brain_core::EntityRef;
use brain_store::{
    Conflict, Entity, EntitySummary, ListFilter, PutOutcome, Result, SearchHit, SearchQuery,
    SqliteStore, Store, SyncOp, SyncState, conformance,
};

struct Checked(Arc<SqliteStore>);

impl Drop for Checked {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.0
                .check_index()
                .expect("the full-text index matches the live entities");
        }
    }
}

impl Store for Checked {
    fn sync_state(&self) -> Result<SyncState> {
        self.0.sync_state()
    }
    fn bases(&self, paths: &[&str]) -> Result<Vec<brain_store::FileBase>> {
        self.0.bases(paths)
    }
    fn apply(&self, ops: &[SyncOp]) -> Result<()> {
        self.0.apply(ops)
    }
    fn get(&self, r: &EntityRef) -> Result<Entity> {
        self.0.get(r)
    }
    fn get_any(&self, r: &EntityRef) -> Result<Entity> {
        self.0.get_any(r)
    }
    fn put(&self, entity: &Entity) -> Result<PutOutcome> {
        self.0.put(entity)
    }
    fn soft_delete(&self, r: &EntityRef, now_ms: i64) -> Result<()> {
        self.0.soft_delete(r, now_ms)
    }
    fn restore(&self, r: &EntityRef, now_ms: i64) -> Result<Entity> {
        self.0.restore(r, now_ms)
    }
    fn list(&self, filter: &ListFilter) -> Result<Vec<EntitySummary>> {
        self.0.list(filter)
    }
    fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        self.0.search(query)
    }
    fn count_live(&self) -> Result<u64> {
        self.0.count_live()
    }
    fn conflicts(&self, include_resolved: bool) -> Result<Vec<Conflict>> {
        self.0.conflicts(include_resolved)
    }
    fn conflict(&self, id: i64) -> Result<Conflict> {
        self.0.conflict(id)
    }
    fn resolve_conflict(&self, id: i64, now_ms: i64) -> Result<()> {
        self.0.resolve_conflict(id, now_ms)
    }
}

fn checked(store: SqliteStore) -> Box<dyn Store> {
    Box::new(Checked(Arc::new(store)))
}

#[test]
fn in_memory() {
    conformance::run_all(&|| checked(SqliteStore::open_in_memory().expect("open in memory")));
}

#[test]
fn file_backed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = std::cell::Cell::new(0);
    conformance::run_all(&|| {
        n.set(n.get() + 1);
        let path = dir.path().join(format!("case-{}.db", n.get()));
        checked(SqliteStore::open(&path).expect("open file"))
    });
}

#[test]
fn the_index_check_sees_drift() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let store = SqliteStore::open(&path).expect("open");
    let e = conformance::entity("note/a", "indexed words\n", conformance::T0);
    store.put(&e).expect("put");
    store.check_index().expect("consistent after a put");
    let raw = rusqlite::Connection::open(&path).expect("raw open");
    raw.execute("UPDATE entities SET body = 'changed behind its back'", [])
        .expect("raw update");
    assert!(
        store.check_index().is_err(),
        "a body changed without the index is drift"
    );
}
