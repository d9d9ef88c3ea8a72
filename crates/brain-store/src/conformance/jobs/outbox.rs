//! The outbox: `transaction` writes entities and enqueues their jobs in one commit, so neither
//! happens without the other; `put_and_enqueue` and its siblings are built on it.

use serde_json::json;

use super::{child_of, ids, keyed, new_job, with_priority};
use crate::conformance::{Factory, T0, entity};
use crate::jobs::{DedupePolicy, Enqueued, JobFilter};
use crate::{PutOutcome, StoreError};

pub fn put_and_enqueue_is_one_transaction(make: Factory<'_>) {
    let store = make();
    let note = entity("note/a", "# A\nfirst\n", T0);
    let export = |path: &str| {
        keyed(
            new_job("export", json!({"paths": [path]})),
            "export",
            DedupePolicy::Coalesce,
        )
    };
    let (outcome, enqueued) = store
        .put_and_enqueue(
            &note,
            None,
            &export("a.md"),
            T0,
            &crate::ChangeWhy::by("cli"),
        )
        .expect("put and enqueue");
    assert_eq!(outcome, PutOutcome::Created);
    let Some(Enqueued::Created(id)) = enqueued else {
        panic!("a new entity enqueues its job: {enqueued:?}")
    };
    assert_eq!(store.get(&note.entity_ref).expect("get"), note);
    assert_eq!(
        store.job(id).expect("job").input,
        json!({"paths": ["a.md"]})
    );

    let (outcome, enqueued) = store
        .put_and_enqueue(
            &note,
            None,
            &export("a.md"),
            T0 + 1,
            &crate::ChangeWhy::by("cli"),
        )
        .expect("put and enqueue");
    assert_eq!(
        (outcome, enqueued),
        (PutOutcome::Unchanged, None),
        "nothing changed, nothing to do"
    );
    let b = entity("note/b", "# B\n", T0);
    let (outcome, enqueued) = store
        .put_and_enqueue(
            &b,
            None,
            &export("b.md"),
            T0 + 2,
            &crate::ChangeWhy::by("cli"),
        )
        .expect("put and enqueue");
    assert_eq!(
        (outcome, enqueued),
        (PutOutcome::Created, Some(Enqueued::Existing(id))),
        "the job's dedupe policy applies"
    );
    assert_eq!(
        store.job(id).expect("job").input,
        json!({"paths": ["a.md", "b.md"]})
    );

    // Refused before anything is written...
    let c = entity("note/c", "# C\n", T0);
    let bad = with_priority(export("c.md"), 0);
    assert!(matches!(
        store.put_and_enqueue(&c, None, &bad, T0, &crate::ChangeWhy::by("cli")),
        Err(StoreError::InvalidJob(_))
    ));
    // ... and refused inside the transaction, after the put: the put is rolled back too.
    let orphan = child_of(export("c.md"), 4242);
    assert!(matches!(
        store.put_and_enqueue(&c, None, &orphan, T0, &crate::ChangeWhy::by("cli")),
        Err(StoreError::InvalidJob(_))
    ));
    assert!(
        matches!(store.get_any(&c.entity_ref), Err(StoreError::NotFound(_))),
        "no entity without its job"
    );
    // A put that fails leaves no job behind either.
    let mut clash = entity("note/A", "# shouting\n", T0);
    clash.path = "A.md".into();
    assert!(matches!(
        store.put_and_enqueue(
            &clash,
            None,
            &new_job("export", json!({})),
            T0,
            &crate::ChangeWhy::by("cli")
        ),
        Err(StoreError::PathCollision(_))
    ));
    assert_eq!(
        ids(&store.list_jobs(&JobFilter::default()).expect("list")),
        [id],
        "still the one job"
    );
    let changed = entity("note/a", "# A\nsecond\n", T0 + 3);
    let (outcome, enqueued) = store
        .put_and_enqueue(
            &changed,
            None,
            &new_job("index", json!({})),
            T0 + 3,
            &crate::ChangeWhy::by("cli"),
        )
        .expect("put and enqueue");
    assert_eq!(outcome, PutOutcome::Updated);
    assert!(matches!(enqueued, Some(Enqueued::Created(_))));
}

/// Deletes and restores take their job in the same transaction too: a missing entity or a bad
/// job changes nothing.
pub fn delete_and_restore_are_one_transaction_with_their_job(make: Factory<'_>) {
    let store = make();
    let note = entity("note/a", "# A\n", T0);
    store.put(&note).expect("put");
    let export = new_job("export", json!({"entities": ["note/a"]}));
    let jobs_now = |store: &dyn crate::conformance::Backend| {
        store.list_jobs(&JobFilter::default()).expect("list").len()
    };

    let orphan = child_of(export.clone(), 4242);
    assert!(matches!(
        store.soft_delete_and_enqueue(
            &note.entity_ref,
            &orphan,
            T0 + 1,
            &crate::ChangeWhy::by("cli")
        ),
        Err(StoreError::InvalidJob(_))
    ));
    assert_eq!(
        store
            .get(&note.entity_ref)
            .expect("the delete was rolled back"),
        note
    );
    assert_eq!(jobs_now(&*store), 0);

    let missing = entity("note/missing", "x\n", T0).entity_ref;
    assert!(matches!(
        store.soft_delete_and_enqueue(&missing, &export, T0 + 1, &crate::ChangeWhy::by("cli")),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        jobs_now(&*store),
        0,
        "no job for a delete that did not happen"
    );

    let deleted = store
        .soft_delete_and_enqueue(
            &note.entity_ref,
            &export,
            T0 + 2,
            &crate::ChangeWhy::by("cli"),
        )
        .expect("delete and enqueue");
    assert!(
        matches!(store.get(&note.entity_ref), Err(StoreError::NotFound(r)) if r == note.entity_ref),
        "deleted"
    );
    assert_eq!(
        store
            .get_any(&note.entity_ref)
            .expect("tombstone")
            .deleted_ms,
        Some(T0 + 2),
        "a tombstone, not a removed row"
    );
    assert_eq!(
        store.job(deleted.id()).expect("its job").input,
        export.input
    );

    let (restored, job) = store
        .restore_and_enqueue(
            &note.entity_ref,
            &export,
            T0 + 3,
            &crate::ChangeWhy::by("cli"),
        )
        .expect("restore and enqueue");
    assert_eq!(restored.body, "# A\n");
    assert_eq!(
        store.get(&note.entity_ref).expect("live again").body,
        "# A\n"
    );
    assert_eq!(store.job(job.id()).expect("its job").input, export.input);
    assert!(matches!(
        store.restore_and_enqueue(&missing, &export, T0 + 4, &crate::ChangeWhy::by("cli")),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(jobs_now(&*store), 2);
}

pub fn a_transaction_commits_everything_or_nothing(make: Factory<'_>) {
    let store = make();
    let a = entity("note/a", "# A\n", T0);
    let b = entity("note/b", "# B\n", T0);
    let job = new_job("export", json!({"paths": ["a.md", "b.md"]}));
    let jobs_now = |store: &dyn crate::conformance::Backend| {
        store.list_jobs(&JobFilter::default()).expect("list").len()
    };

    // A body that fails after writing leaves nothing: no entity, no job.
    let failed = store.transaction(&mut |tx| {
        tx.put(&a, None)?;
        tx.enqueue(&job, T0)?;
        tx.put(&b, Some("not-the-hash"))?;
        Ok(())
    });
    assert!(
        matches!(failed, Err(StoreError::Stale { .. })),
        "{failed:?}"
    );
    assert!(store.get(&a.entity_ref).is_err(), "rolled back: no note/a");
    assert_eq!(jobs_now(&*store), 0, "rolled back: no job");

    // A body's own error rolls back too, and comes back as it was.
    let refused = store.transaction(&mut |tx| {
        tx.put(&a, None)?;
        Err(StoreError::InvalidJob("the caller changed its mind".into()))
    });
    assert!(
        matches!(refused, Err(StoreError::InvalidJob(_))),
        "{refused:?}"
    );
    assert!(store.get(&a.entity_ref).is_err(), "rolled back: no note/a");

    // A body that succeeds commits every write at once.
    let mut enqueued = None;
    store
        .transaction(&mut |tx| {
            assert_eq!(tx.put(&a, Some(""))?, PutOutcome::Created);
            assert_eq!(tx.put(&b, None)?, PutOutcome::Created);
            enqueued = Some(tx.enqueue(&job, T0)?);
            Ok(())
        })
        .expect("commit");
    assert_eq!(store.get(&a.entity_ref).expect("a"), a);
    assert_eq!(store.get(&b.entity_ref).expect("b"), b);
    let Some(Enqueued::Created(id)) = enqueued else {
        panic!("the job was created: {enqueued:?}")
    };
    assert_eq!(store.job(id).expect("job").input, job.input);
    let dirty = store.sync_state().expect("state").dirty.len();
    assert_eq!(
        dirty, 2,
        "both writes are interface writes: their files are due"
    );

    // Delete and restore in one transaction with a job: the note ends live, one more job.
    store
        .transaction(&mut |tx| {
            tx.soft_delete(&a.entity_ref, T0 + 1)?;
            let back = tx.restore(&a.entity_ref, T0 + 2)?;
            assert_eq!(back.content_hash, a.content_hash);
            tx.enqueue(&new_job("export", json!({"paths": ["a.md"]})), T0 + 2)?;
            Ok(())
        })
        .expect("commit");
    assert!(store.get(&a.entity_ref).is_ok(), "restored");
    assert_eq!(jobs_now(&*store), 2);
}
