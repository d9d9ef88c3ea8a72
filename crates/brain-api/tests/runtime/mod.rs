//! The plugin runtime (issue 16.2), run for real over a SQLite store: a test plugin's job type
//! runs, its subscriptions hear of it (the job's `Finished` event; the note it wrote, through
//! the change feed), its services start in order and stop in reverse, a failing service start
//! unwinds what started, and capabilities are found by name or refused with what exists. The
//! built-in plugins through the same runtime: `builtin`.

mod builtin;
mod feed;
mod folderless;
mod probe;

use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brain_api::plugin::Heard;
use brain_api::{Plugin, PluginError, Runtime};
use brain_core::{Config, EntityRef};
use brain_jobs::{EnqueueRequest, Event, PoolConfig};
use brain_store::jobs::JobState;
use brain_store::{Backend, Change};
use serde_json::json;

use probe::{Copycat, GREETER, Greeter, LOCKED_JOB, Log, Probe, User, WRITE_JOB};

/// Long enough for a job on a loaded machine; every wait ends as soon as its condition holds.
pub(crate) const GENEROUS: Duration = Duration::from_secs(60);

/// A new SQLite store in a vault at `root`.
pub(crate) fn store(root: &Path) -> Arc<dyn Backend> {
    std::fs::create_dir_all(root.join(".brain")).unwrap();
    brain_store_sqlite::testing::at(&root.join(".brain/brain.db")).unwrap()
}

pub(crate) fn pool() -> PoolConfig {
    PoolConfig {
        workers: 1,
        ..PoolConfig::default()
    }
}

/// What the probe plugin reports to a test.
struct Reports {
    log: Log,
    events: Receiver<Heard>,
    changes: Receiver<Vec<Change>>,
}

/// The probe plugin (with a failing third service if `failing`), then `user`, which uses its
/// capability.
fn plugins(failing: bool) -> (Vec<Box<dyn Plugin>>, Reports) {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let (events_tx, events) = mpsc::channel();
    let (changes_tx, changes) = mpsc::channel();
    let probe = Probe {
        log: log.clone(),
        events: events_tx,
        changes: changes_tx,
        failing_service: failing,
    };
    let user = User { log: log.clone() };
    let plugins: Vec<Box<dyn Plugin>> = vec![Box::new(probe), Box::new(user)];
    (
        plugins,
        Reports {
            log,
            events,
            changes,
        },
    )
}

fn lines(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// Receives from `rx` until `found` says yes, or fails after [`GENEROUS`] saying what came.
fn wait_for<T: std::fmt::Debug>(rx: &Receiver<T>, what: &str, found: impl Fn(&T) -> bool) {
    let deadline = Instant::now() + GENEROUS;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(item) if found(&item) => return,
            Ok(item) => seen.push(item),
            Err(e) => panic!("{what}: not received ({e}); received instead: {seen:?}"),
        }
    }
}

/// Whether `heard` is `entity.changed` for live note `id` (and never for the note written
/// before the runtime started).
fn is_entity_changed(heard: &Heard, id: &str) -> bool {
    match heard {
        Heard::Event(
            e @ Event::EntityChanged {
                entity, deleted, ..
            },
        ) => {
            assert_eq!(e.name(), "entity.changed");
            assert_ne!(
                entity,
                &EntityRef::new("note", "before"),
                "a change from before the start"
            );
            *entity == EntityRef::new("note", id) && !deleted
        }
        _ => false,
    }
}

fn has_note(changes: &[Change], id: &str) -> bool {
    changes
        .iter()
        .any(|c| c.entity == EntityRef::new("note", id))
}

#[test]
fn a_plugin_job_runs_its_subscriptions_hear_of_it_and_its_services_stop_in_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    // Before the runtime starts: a subscription from `Now` never sees it.
    store.put(&probe::note("before", "# before\n")).unwrap();
    let (plugins, heard) = plugins(false);
    let mut runtime = Runtime::new(dir.path(), Config::default(), store.clone(), plugins)
        .unwrap()
        .with_feed_poll(Duration::from_millis(50));
    let types: Vec<_> = runtime
        .job_types()
        .iter()
        .map(|t| (t.plugin.as_str(), t.job_type.as_str()))
        .collect();
    assert_eq!(types, [("probe", WRITE_JOB), ("probe", LOCKED_JOB)]);
    assert_eq!(
        runtime.services(),
        [("probe", "first"), ("probe", "second")]
    );
    assert_eq!(
        lines(&heard.log),
        ["user registered: hello, user"],
        "registering starts nothing"
    );

    runtime.start(pool()).unwrap();
    assert!(runtime.is_running());
    assert_eq!(
        lines(&heard.log)[1..],
        [
            "start first (hello, service)",
            "start second (hello, service)"
        ]
    );

    // The job type runs through the runtime's queue, and both subscriptions hear of it.
    let id = runtime
        .queue()
        .enqueue(EnqueueRequest::new(WRITE_JOB, json!({"id": "from-job"})))
        .unwrap()
        .id();
    let job = runtime.queue().wait_finished(id, GENEROUS).unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert_eq!(job.result, Some(json!({"wrote": "note/from-job"})));
    wait_for(&heard.events, "the job's Finished event", |h| {
        *h == Heard::Event(Event::Finished {
            id,
            state: JobState::Succeeded,
        })
    });
    // `entity.changed`: the runtime publishes each change it reads from the feed on the bus.
    wait_for(
        &heard.events,
        "entity.changed for the note the job wrote",
        |h| is_entity_changed(h, "from-job"),
    );
    wait_for(&heard.changes, "the note the job wrote", |c| {
        assert!(
            !has_note(c, "before"),
            "a change from before the start: {c:?}"
        );
        has_note(c, "from-job")
    });
    // A write no job of this process made reaches the feed subscriber on its poll.
    store.put(&probe::note("direct", "# direct\n")).unwrap();
    wait_for(&heard.changes, "the note written to the store", |c| {
        has_note(c, "direct")
    });
    wait_for(
        &heard.events,
        "entity.changed for the note written to the store",
        |h| is_entity_changed(h, "direct"),
    );
    // A bad input is refused to the enqueuer, in the handler's words.
    let refused = runtime
        .queue()
        .enqueue(EnqueueRequest::new(WRITE_JOB, json!({"id": 7})))
        .unwrap_err()
        .to_string();
    assert!(refused.contains("'id' must be a string"), "{refused}");

    runtime.stop();
    assert!(!runtime.is_running());
    assert_eq!(
        lines(&heard.log)[3..],
        ["stop second", "stop first"],
        "services stop in reverse order"
    );
    runtime.stop();
    assert_eq!(lines(&heard.log).len(), 5, "a second stop does nothing");
}

#[test]
fn a_service_that_cannot_start_stops_those_started_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (plugins, heard) = plugins(true);
    let mut runtime =
        Runtime::new(dir.path(), Config::default(), store(dir.path()), plugins).unwrap();
    let e = runtime.start(pool()).unwrap_err();
    assert!(
        matches!(&e, PluginError::ServiceStart { plugin, service, .. } if plugin == "probe" && service == "third"),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("'third'") && text.contains("'probe'") && text.contains("in use"),
        "{text}"
    );
    assert_eq!(
        lines(&heard.log)[1..],
        [
            "start first (hello, service)",
            "start second (hello, service)",
            "stop second",
            "stop first"
        ]
    );
    assert!(!runtime.is_running());
}

#[test]
fn capabilities_are_found_by_name_and_a_missing_or_mistyped_one_is_refused_with_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    let (plugins, _heard) = plugins(false);
    let runtime = Runtime::new(dir.path(), Config::default(), store(dir.path()), plugins).unwrap();
    let greeter = runtime.capability::<Arc<dyn Greeter>>(GREETER).unwrap();
    assert_eq!(greeter.greet("test"), "hello, test");

    let missing = runtime
        .capability::<Arc<dyn Greeter>>("embed.model")
        .err()
        .expect("nobody provides it");
    assert!(
        matches!(missing, PluginError::MissingCapability { .. }),
        "{missing:?}"
    );
    let text = missing.to_string();
    assert!(
        text.contains("'embed.model'")
            && text.contains("'probe.greeter'")
            && text.contains("'probe'"),
        "names what is missing and what is provided: {text}"
    );

    let mistyped = runtime.capability::<Arc<String>>(GREETER).unwrap_err();
    let text = mistyped.to_string();
    assert!(
        text.contains("Greeter") && text.contains("String"),
        "names both types: {text}"
    );

    // A plugin asking for a capability no plugin before it provides cannot register.
    let log: Log = Arc::default();
    let user_first: Vec<Box<dyn Plugin>> = vec![Box::new(User { log })];
    let e = Runtime::new(dir.path(), Config::default(), store(dir.path()), user_first)
        .err()
        .expect("refused");
    let text = e.to_string();
    assert!(
        text.contains("plugin 'user' could not register") && text.contains("provided: none"),
        "{text}"
    );
}

#[test]
fn a_job_type_registered_twice_is_refused_naming_both_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let (mut plugins, _heard) = plugins(false);
    plugins.push(Box::new(Copycat));
    let e = Runtime::new(dir.path(), Config::default(), store(dir.path()), plugins)
        .err()
        .expect("refused");
    let text = e.to_string();
    assert!(
        text.contains("'copycat'") && text.contains("'probe'") && text.contains(WRITE_JOB),
        "{text}"
    );
}

#[test]
fn a_job_type_that_holds_the_vault_lock_runs_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let (plugins, _heard) = plugins(false);
    let mut runtime =
        Runtime::new(dir.path(), Config::default(), store(dir.path()), plugins).unwrap();
    let info = runtime
        .job_types()
        .iter()
        .find(|t| t.job_type == LOCKED_JOB)
        .unwrap();
    assert!(info.settings.holds_vault_lock && info.settings.queue.bound_to_replica);
    runtime.start(pool()).unwrap();
    let id = runtime
        .queue()
        .enqueue(EnqueueRequest::new(LOCKED_JOB, json!({})))
        .unwrap()
        .id();
    let job = runtime.queue().wait_finished(id, GENEROUS).unwrap();
    assert_eq!(job.result, Some(json!({"held": true})), "{job:?}");
    runtime.stop();
    // Released with the run: a sync of another process may take it now.
    let lock = brain_core::VaultLayout::new(dir.path()).sync_lock();
    let file = std::fs::OpenOptions::new().write(true).open(lock).unwrap();
    file.try_lock().unwrap();
}
