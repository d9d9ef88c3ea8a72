//! The contract every [`Store`] backend must keep, as executable checks.
//!
//! Like River's driver test suite: each backend's own tests call [`run_all`] with a factory for
//! fresh, empty stores, so SQLite and PostgreSQL are held to exactly the same behaviour. Each
//! area has its own function (and file) so a failing backend can be worked on area by area.
//! Every case takes a new store from the factory; nothing depends on the order of cases.
//!
//! The checks panic with a message on failure (this is test code that ships in the library so
//! other crates' tests can run it); they need nothing but the trait and `brain-core`.

mod conflicts;
mod entities;
mod jobs;
mod runtime;
mod search;
mod sync;

use brain_core::{Document, Entity, EntityRef, content_hash};

use crate::{JobStore, Store};

/// Everything a backend implements: entities, sync state and search ([`Store`]) and the job
/// queue ([`JobStore`]). One object, because the outbox (`put_and_enqueue`) writes both in
/// one transaction, and the suite checks both sides of it.
pub trait Backend: Store + JobStore {}

impl<T: Store + JobStore + ?Sized> Backend for T {}

/// Makes a fresh, empty store for one case.
pub type Factory<'a> = &'a dyn Fn() -> Box<dyn Backend>;

/// Runs every area of the contract.
pub fn run_all(make: Factory<'_>) {
    entities(make);
    sync(make);
    search(make);
    conflicts(make);
    runtime(make);
    jobs(make);
}

/// `put`, `get`, `get_any`, `get_many`, `soft_delete`, `restore`, path collisions, `list`,
/// `count_live`.
pub fn entities(make: Factory<'_>) {
    entities::run(make);
}

/// `apply` of every [`crate::SyncOp`] kind and what `sync_state` shows afterwards.
pub fn sync(make: Factory<'_>) {
    sync::run(make);
}

/// Ranking, the query language, filters, snippets, and an index that follows every write.
pub fn search(make: Factory<'_>) {
    search::run(make);
}

/// Recording (with de-duplication), listing and resolving conflicts.
pub fn conflicts(make: Factory<'_>) {
    conflicts::run(make);
}

/// Runtime state one process publishes for others: set, read back, replaced per key.
pub fn runtime(make: Factory<'_>) {
    runtime::run(make);
}

/// The job queue: every transition of the state diagram, claim order, per-type concurrency,
/// leases and the reaper, retries and backoff, cancellation (with batches), deduplication,
/// validation, progress, pruning, the outbox (with its compare-and-set), paused types, the next
/// due time and the queue depth.
pub fn jobs(make: Factory<'_>) {
    jobs::run(make);
}

/// A fixed "now" for cases, in milliseconds since the epoch.
pub const T0: i64 = 1_800_000_000_000;

/// Builds an entity the way an import does: `r` is `type/id`, `text` the whole file.
///
/// The path follows the vault mapping (`note/a/b` is `a/b.md`, `topic/x` is `topic/x.md`);
/// title, tags, metadata and hash come from `brain-core`'s codec, and both times are `now_ms`.
pub fn entity(r: &str, text: &str, now_ms: i64) -> Entity {
    let entity_ref: EntityRef = r.parse().expect("conformance refs are TYPE/ID");
    let path = if entity_ref.entity_type == brain_core::path::NOTE_TYPE {
        format!("{}.md", entity_ref.id)
    } else {
        format!("{}/{}.md", entity_ref.entity_type, entity_ref.id)
    };
    let doc = Document::parse(text).expect("conformance notes parse");
    let stem = entity_ref
        .id
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    Entity {
        title: doc.title(&stem),
        tags: doc.tags(),
        content_hash: content_hash(text.as_bytes()),
        path,
        metadata: doc.metadata,
        frontmatter: doc.frontmatter,
        body: doc.body,
        entity_ref,
        created_ms: now_ms,
        updated_ms: now_ms,
        deleted_ms: None,
    }
}

/// Parses `type/id`.
pub fn eref(r: &str) -> EntityRef {
    r.parse().expect("conformance refs are TYPE/ID")
}
