//! The built-in plugins (directory sync, git, batch) through the runtime: they register the job types
//! every process's queue runs (`brain_api::plug`), and a runtime of them is a daemon in small: it
//! syncs the vault and writes the notes the facade stores.

use brain_api::{Brain, Expect, Runtime, Workers};
use brain_core::Config;
use brain_store::jobs::JobState;

use super::{GENEROUS, pool, store};
use crate::common::plugins;

#[test]
fn the_built_in_plugins_register_the_job_types_every_queue_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let runtime = Runtime::new(dir.path(), Config::default(), store.clone(), plugins()).unwrap();
    let types: Vec<_> = runtime
        .job_types()
        .iter()
        .map(|t| {
            (
                t.plugin.as_str(),
                t.job_type.as_str(),
                t.settings.queue.bound_to_replica,
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("sync", "directory-sync", true),
            ("sync", "directory-import", true),
            ("sync", "directory-export", true),
            ("git", "git", true),
            ("batch", "batch", false),
            ("batch", "batch-notes", true),
        ]
    );
    let queue = brain_api::plug(dir.path(), &Config::default(), store, &plugins())
        .unwrap()
        .queue;
    let mut runs: Vec<_> = queue.registry().names().collect();
    let mut registered: Vec<_> = types.iter().map(|t| t.1).collect();
    runs.sort_unstable();
    registered.sort_unstable();
    assert_eq!(
        runs, registered,
        "plug's queue runs what the plugins register"
    );
}

#[test]
fn a_runtime_of_the_built_in_plugins_syncs_the_vault_and_writes_the_facade_s_notes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = store(root);
    std::fs::write(root.join("a.md"), "# A\n").unwrap();
    let config = Config::default();
    let mut runtime = Runtime::new(root, config.clone(), store.clone(), plugins()).unwrap();
    // The facade on the runtime's queue, as the daemon builds it.
    let brain = Brain::new(root, config, store, runtime.plugged(), Workers::Daemon);
    runtime.start(pool()).unwrap();

    let sync = brain.start_sync("full", false).unwrap();
    let job = runtime.queue().wait_finished(sync.job, GENEROUS).unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert_eq!(
        brain.get(&"note/a".parse().unwrap()).unwrap().content(),
        "# A\n"
    );

    let written = brain
        .write(&"note/b".parse().unwrap(), b"# B\n", Expect::Absent)
        .unwrap();
    let export = written.export_job.expect("a write queues its export");
    let job = runtime.queue().wait_finished(export, GENEROUS).unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert_eq!(std::fs::read_to_string(root.join("b.md")).unwrap(), "# B\n");
    runtime.stop();
}
