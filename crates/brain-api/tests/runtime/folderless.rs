//! Issue 17: `brain work --store URL` is a runtime without a vault folder on a PostgreSQL
//! store. A test plugin's job type that needs no folder runs there; its type that holds the
//! vault lock is left to a worker with the folder, and its job stays queued.

use std::sync::Arc;

use brain_api::Runtime;
use brain_core::{Config, EntityRef};
use brain_jobs::EnqueueRequest;
use brain_store::Backend;
use brain_store::jobs::{JobState, NewJob};
use serde_json::json;

use super::probe::{LOCKED_JOB, WRITE_JOB};
use super::{GENEROUS, plugins, pool};

#[test]
fn a_runtime_without_a_folder_runs_what_needs_none_and_leaves_the_rest() {
    let store: Arc<dyn Backend> = Arc::new(brain_store_postgres::testing::fresh());
    let (plugins, _heard) = plugins(false);
    let mut runtime = Runtime::without_folder(Config::default(), store.clone(), plugins).unwrap();
    assert_eq!(runtime.left_to_folder(), [LOCKED_JOB]);
    let registered: Vec<_> = runtime
        .job_types()
        .iter()
        .map(|t| t.job_type.as_str())
        .collect();
    assert_eq!(registered, [WRITE_JOB]);
    runtime.start(pool()).unwrap();
    // A folder's job, enqueued by the folder's machine: never claimed here.
    let locked = store
        .enqueue(
            &[NewJob {
                job_type: LOCKED_JOB.into(),
                input: json!({}),
                priority: 9,
                run_at_ms: 0,
                max_attempts: 1,
                dedupe: None,
                parent_id: None,
                bound_to_replica: false,
            }],
            0,
        )
        .unwrap()[0]
        .id();
    let id = runtime
        .queue()
        .enqueue(EnqueueRequest::new(WRITE_JOB, json!({"id": "no-folder"})))
        .unwrap()
        .id();
    let job = runtime.queue().wait_finished(id, GENEROUS).unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert!(store.get(&EntityRef::new("note", "no-folder")).is_ok());
    runtime.stop();
    assert_eq!(store.job(locked).unwrap().state, JobState::Queued);
}
