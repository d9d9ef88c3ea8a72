//! The backend conformance suite on SQLite, in memory and in a file (WAL, real pages).
//!
//! Every store the suite makes is wrapped so that, when a case drops it, FTS5's integrity
//! check confirms the full-text index still holds exactly the live entities: the index is
//! written by the store's code rather than by triggers, so this is what proves it never drifts.
//! The wrapper delegates the job queue too, so the outbox cases (`put_and_enqueue`) get the
//! same check on the entities they write, and every area runs through one factory.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Arc;

use brain_core::EntityRef;
use brain_store::jobs::{
    BatchStatus, ChangeNotifier, Enqueued, Job, JobCount, JobFilter, JobProgress, JobState, NewJob,
    Outcome, WriteTx,
};
use brain_store::schedules::{Schedule, ScheduleDef};
use brain_store::{Backend, LiveFile};
use brain_store::{
    Conflict, Entity, EntitySummary, JobStore, ListFilter, PutOutcome, Result, RuntimeState,
    SearchHit, SearchQuery, Store, SyncOp, SyncState, conformance,
};
use brain_store_sqlite::SqliteStore;

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
    fn is_read_only(&self) -> bool {
        self.0.is_read_only()
    }
    fn verify_identity(&self) -> Result<()> {
        Store::verify_identity(&*self.0)
    }
    fn integrity_problems(&self) -> Result<Vec<String>> {
        Store::integrity_problems(&*self.0)
    }
    fn check_index(&self) -> Result<()> {
        Store::check_index(&*self.0)
    }
    fn live_files(&self) -> Result<Vec<LiveFile>> {
        Store::live_files(&*self.0)
    }
    fn changes_since(&self, cursor: u64, limit: usize) -> Result<brain_store::ChangePage> {
        self.0.changes_since(cursor, limit)
    }
    fn change_cursor(&self) -> Result<u64> {
        self.0.change_cursor()
    }
    fn dump(&self) -> Result<brain_store::StoreDump> {
        self.0.dump()
    }
    fn load_dump(&self, dump: &brain_store::StoreDump, replace: bool) -> Result<()> {
        self.0.load_dump(dump, replace)
    }
    fn sync_state(&self) -> Result<SyncState> {
        self.0.sync_state()
    }
    fn bases(&self, paths: &[&str]) -> Result<Vec<brain_store::FileBase>> {
        self.0.bases(paths)
    }
    fn sync_state_of(&self, paths: &[&str]) -> Result<brain_store::PartialSyncState> {
        self.0.sync_state_of(paths)
    }
    fn dirty_entities(&self) -> Result<Vec<brain_store::DirtyEntity>> {
        self.0.dirty_entities()
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
    fn get_many(&self, refs: &[EntityRef]) -> Result<Vec<Option<Entity>>> {
        self.0.get_many(refs)
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
    fn history(&self, r: &EntityRef) -> Result<Vec<brain_store::Version>> {
        self.0.history(r)
    }
    fn version_text(&self, r: &EntityRef, number: u64) -> Result<String> {
        self.0.version_text(r, number)
    }
    fn moved_from(&self, path: &str, content_hash: Option<&str>) -> Result<Option<EntityRef>> {
        self.0.moved_from(path, content_hash)
    }
    fn held_before(&self, r: &EntityRef, content_hash: &str) -> Result<bool> {
        self.0.held_before(r, content_hash)
    }
    fn prune_history(&self, now_ms: i64, rules: brain_store::history::Retention) -> Result<u64> {
        self.0.prune_history(now_ms, rules)
    }
    fn keep_history(&self, on: bool) {
        self.0.keep_history(on)
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
    fn set_runtime_state(&self, key: &str, value: &serde_json::Value, now_ms: i64) -> Result<()> {
        self.0.set_runtime_state(key, value, now_ms)
    }
    fn runtime_state(&self, key: &str) -> Result<Option<RuntimeState>> {
        self.0.runtime_state(key)
    }
}

impl JobStore for Checked {
    fn enqueue(&self, jobs: &[NewJob], now_ms: i64) -> Result<Vec<Enqueued>> {
        self.0.enqueue(jobs, now_ms)
    }
    fn claim(
        &self,
        worker: &str,
        types: &[(String, u32)],
        limit: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<Job>> {
        self.0.claim(worker, types, limit, now_ms, lease_ms)
    }
    fn heartbeat(&self, worker: &str, ids: &[i64], until_ms: i64) -> Result<Vec<i64>> {
        self.0.heartbeat(worker, ids, until_ms)
    }
    fn set_progress(&self, id: i64, worker: &str, progress: &JobProgress) -> Result<()> {
        self.0.set_progress(id, worker, progress)
    }
    fn finish(&self, id: i64, worker: &str, outcome: &Outcome, now_ms: i64) -> Result<bool> {
        self.0.finish(id, worker, outcome, now_ms)
    }
    fn cancel(&self, id: i64, now_ms: i64) -> Result<JobState> {
        self.0.cancel(id, now_ms)
    }
    fn retry(&self, id: i64, now_ms: i64) -> Result<Job> {
        self.0.retry(id, now_ms)
    }
    fn reap(&self, now_ms: i64) -> Result<Vec<i64>> {
        self.0.reap(now_ms)
    }
    fn prune(&self, before_ms: i64) -> Result<u64> {
        self.0.prune(before_ms)
    }
    fn job(&self, id: i64) -> Result<Job> {
        self.0.job(id)
    }
    fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        self.0.list_jobs(filter)
    }
    fn batch_status(&self, parent_id: i64) -> Result<BatchStatus> {
        self.0.batch_status(parent_id)
    }
    fn transaction(&self, body: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        self.0.transaction(body)
    }
    fn pause_types(&self, types: &[&str], now_ms: i64) -> Result<()> {
        self.0.pause_types(types, now_ms)
    }
    fn resume_types(&self, types: &[&str]) -> Result<()> {
        self.0.resume_types(types)
    }
    fn paused_types(&self) -> Result<Vec<String>> {
        self.0.paused_types()
    }
    fn next_run_at(&self, types: &[String]) -> Result<Option<i64>> {
        self.0.next_run_at(types)
    }
    fn change_notifier(&self) -> Option<&dyn ChangeNotifier> {
        self.0.change_notifier()
    }
    fn job_counts(&self) -> Result<Vec<JobCount>> {
        self.0.job_counts()
    }
    fn put_schedule(&self, def: &ScheduleDef, next_run_ms: i64) -> Result<()> {
        self.0.put_schedule(def, next_run_ms)
    }
    fn remove_schedules(&self, source: &str, keep: &[&str]) -> Result<u64> {
        self.0.remove_schedules(source, keep)
    }
    fn schedules(&self) -> Result<Vec<Schedule>> {
        self.0.schedules()
    }
    fn fire_schedule(
        &self,
        name: &str,
        due_ms: i64,
        next_ms: i64,
        job: &NewJob,
        now_ms: i64,
    ) -> Result<Option<Enqueued>> {
        self.0.fire_schedule(name, due_ms, next_ms, job, now_ms)
    }
}

fn checked(store: SqliteStore) -> Box<dyn Backend> {
    Box::new(Checked(Arc::new(store)))
}

/// A private in-memory database per case.
fn in_memory_store() -> impl Fn() -> Box<dyn Backend> {
    || checked(SqliteStore::open_in_memory().expect("open in memory"))
}

/// A database file per case (WAL, real pages), in a folder that lives as long as the factory.
fn file_store() -> impl Fn() -> Box<dyn Backend> {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = std::cell::Cell::new(0);
    move || {
        n.set(n.get() + 1);
        let path = dir.path().join(format!("case-{}.db", n.get()));
        checked(SqliteStore::open(&path).expect("open file"))
    }
}

/// Every conformance case on an in-memory store, one test each.
mod in_memory {
    brain_store::conformance_tests!(crate::sqlite_conformance::in_memory_store());
}

/// Every conformance case on a file-backed store, one test each.
mod file_backed {
    brain_store::conformance_tests!(crate::sqlite_conformance::file_store());
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
    // FTS5 reports drift as SQLITE_CORRUPT_VTAB ("database disk image is malformed").
    match store.check_index() {
        Err(brain_store::StoreError::Database(source)) => match source.downcast_ref() {
            Some(rusqlite::Error::SqliteFailure(e, _)) => assert_eq!(
                e.extended_code,
                rusqlite::ffi::SQLITE_CORRUPT_VTAB,
                "a body changed without the index is drift: {e}"
            ),
            _ => panic!("a body changed without the index is drift, got {source:?}"),
        },
        other => panic!("a body changed without the index is drift, got {other:?}"),
    }
}

/// The live count is kept by the store's writes (migration 0009), so the check compares it with
/// a real count: a note made live behind the store's back is drift, named with both numbers.
#[test]
fn the_index_check_sees_a_live_count_that_drifted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("brain.db");
    let store = SqliteStore::open(&path).expect("open");
    for r in ["note/a", "note/b"] {
        let e = conformance::entity(r, "indexed words\n", conformance::T0);
        store.put(&e).expect("put");
    }
    store
        .soft_delete(&"note/b".parse().expect("ref"), conformance::T0 + 1)
        .expect("delete");
    store
        .check_index()
        .expect("consistent after puts and a delete");
    assert_eq!(store.count_live().expect("count"), 1);
    let raw = rusqlite::Connection::open(&path).expect("raw open");
    raw.execute("UPDATE live_count SET live = 5", [])
        .expect("raw update");
    match store.check_index() {
        Err(brain_store::StoreError::Database(source)) => {
            let said = source.to_string();
            assert!(said.contains("says 5 but 1 notes are live"), "{said}");
        }
        other => panic!("a live count changed behind the store's back is drift, got {other:?}"),
    }
}
