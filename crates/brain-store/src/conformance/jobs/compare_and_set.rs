//! The compare-and-set put: `put_and_enqueue` with an expected hash writes (and enqueues) only
//! over the version the caller read, so an agent never overwrites a change it did not see.

use serde_json::json;

use super::new_job;
use crate::conformance::{Backend, Factory, T0, entity};
use crate::jobs::{Enqueued, JobFilter};
use crate::{PutOutcome, StoreError};

fn job_count(store: &dyn Backend) -> usize {
    store.list_jobs(&JobFilter::default()).expect("list").len()
}

pub fn put_only_over_the_expected_version(make: Factory<'_>) {
    let store = make();
    let export = new_job("export", json!({}));
    let v1 = entity("note/x", "# X\none\n", T0);
    let (outcome, job) = store
        .put_and_enqueue(&v1, Some(""), &export, T0, &crate::ChangeWhy::by("cli"))
        .expect("create where nothing is");
    assert_eq!(outcome, PutOutcome::Created);
    assert!(matches!(job, Some(Enqueued::Created(_))));

    let v2 = entity("note/x", "# X\ntwo\n", T0 + 1);
    let (outcome, job) = store
        .put_and_enqueue(
            &v2,
            Some(&v1.content_hash),
            &export,
            T0 + 1,
            &crate::ChangeWhy::by("cli"),
        )
        .expect("the expected version is there");
    assert_eq!(outcome, PutOutcome::Updated);
    assert!(job.is_some(), "its job is enqueued");
    let hash_now = |store: &dyn Backend| store.get(&v1.entity_ref).expect("get").content_hash;
    assert_eq!(hash_now(&*store), v2.content_hash);
    let jobs = job_count(&*store);

    // Written over v1 again, by someone who did not see v2: refused, nothing changes.
    let v3 = entity("note/x", "# X\nthree\n", T0 + 2);
    match store.put_and_enqueue(
        &v3,
        Some(&v1.content_hash),
        &export,
        T0 + 2,
        &crate::ChangeWhy::by("cli"),
    ) {
        Err(StoreError::Stale {
            entity,
            expected,
            actual,
        }) => {
            assert_eq!(entity, "note/x");
            assert_eq!(expected, v1.content_hash);
            assert_eq!(actual.as_deref(), Some(v2.content_hash.as_str()));
        }
        other => panic!("expected Stale, got {other:?}"),
    }
    assert_eq!(hash_now(&*store), v2.content_hash, "unchanged");
    assert_eq!(job_count(&*store), jobs, "no job for a refused put");
    let e = store
        .put_and_enqueue(&v3, Some(""), &export, T0 + 2, &crate::ChangeWhy::by("cli"))
        .expect_err("a live entity is not absent");
    assert!(e.to_string().contains("read it again"), "{e}");

    // A soft-deleted entity never matches a hash, and counts as absent.
    store.soft_delete(&v2.entity_ref, T0 + 3).expect("delete");
    assert!(matches!(
        store.put_and_enqueue(
            &v3,
            Some(&v2.content_hash),
            &export,
            T0 + 4,
            &crate::ChangeWhy::by("cli")
        ),
        Err(StoreError::Stale { actual: None, .. })
    ));
    assert!(
        matches!(store.get(&v3.entity_ref), Err(StoreError::NotFound(r)) if r == v3.entity_ref),
        "a refused put leaves the entity deleted"
    );
    let (outcome, _) = store
        .put_and_enqueue(&v3, Some(""), &export, T0 + 4, &crate::ChangeWhy::by("cli"))
        .expect("recreate over a tombstone");
    assert_eq!(outcome, PutOutcome::Created);
    assert_eq!(hash_now(&*store), v3.content_hash);
    assert_eq!(job_count(&*store), jobs + 1);
}
