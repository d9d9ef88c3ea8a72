//! Schedules (issue 16.4) fired by real schedulers on a real store: each due time once, even
//! with two schedulers on one store; a firing missed while nothing ran fires once, not once per
//! period missed; a schedule that cannot work is refused when it is registered, by name.

use std::time::{Duration, Instant};

use brain_core::time::now_ms;
use brain_jobs::recurring::{LOCAL_REPLICA, Scheduler, register};
use brain_jobs::{EventBus, Queue, Registry};
use brain_store::jobs::{JobFilter, JobState};
use brain_store::schedules::{SCOPE_STORE, ScheduleDef};
use serde_json::{Value, json};

use super::{FnHandler, fast, pool_config};

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register("tick", FnHandler(|_: &_| Ok(Value::Null)), fast());
    r
}

fn def(name: &str, timing: &str, scope: &str) -> ScheduleDef {
    ScheduleDef {
        name: name.into(),
        job_type: "tick".into(),
        input: json!({}),
        timing: timing.into(),
        scope: scope.into(),
        source: "config".into(),
    }
}

fn ticks(queue: &Queue) -> Vec<brain_store::jobs::Job> {
    queue
        .store()
        .list_jobs(&JobFilter {
            job_type: Some("tick".into()),
            ..JobFilter::default()
        })
        .unwrap()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_schedulers_on_one_store_fire_each_due_time_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("brain.db");
    let open = || {
        let store = brain_store_sqlite::testing::at(&db).unwrap();
        Queue::new(store, registry(), EventBus::default())
    };
    let (a, b) = (open(), open());
    register(
        &a,
        &[def("every-second", "every 1s", SCOPE_STORE)],
        "config",
    )
    .unwrap();
    let pool = brain_jobs::WorkerPool::start(a.clone(), pool_config(2));
    let started = now_ms();
    let sa = Scheduler::start(a.clone(), vec![SCOPE_STORE.into()]);
    let sb = Scheduler::start(b.clone(), vec![SCOPE_STORE.into()]);
    wait_until("three firings to run", || {
        ticks(&a)
            .iter()
            .filter(|j| j.state == JobState::Succeeded)
            .count()
            >= 3
    });
    sa.stop();
    sb.stop();
    let elapsed_s = (now_ms() - started) / 1000;
    pool.shutdown();
    let fired = ticks(&a).len() as i64;
    // One due time a second since the first (a second after registering): a slow machine fires
    // fewer, a double firing more than this.
    assert!(
        fired <= elapsed_s + 1,
        "{fired} jobs in {elapsed_s} s from two schedulers"
    );
    let s = &a.store().schedules().unwrap()[0];
    assert_eq!(s.last_job, ticks(&a).first().map(|j| j.id), "{s:?}");
}

#[test]
fn a_firing_missed_while_nothing_ran_fires_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = brain_store_sqlite::testing::at(&dir.path().join("brain.db")).unwrap();
    let queue = Queue::new(store, registry(), EventBus::default());
    // Due ten hours ago, hourly: ten firings were missed while no daemon ran.
    let hourly = def("hourly", "every 3600s", LOCAL_REPLICA);
    let ten_hours_ago = now_ms() - 10 * 3_600_000;
    queue.store().put_schedule(&hourly, ten_hours_ago).unwrap();
    let before = now_ms();
    let s = Scheduler::start(queue.clone(), vec![LOCAL_REPLICA.into()]);
    wait_until("the missed firing", || !ticks(&queue).is_empty());
    // Give a burst every chance to show itself: several looks of the scheduler.
    let stored = || queue.store().schedules().unwrap().remove(0);
    wait_until("the next due time to be stored", || {
        stored().next_run_ms > before
    });
    s.stop();
    assert_eq!(ticks(&queue).len(), 1, "once, not once per hour missed");
    let after = stored();
    assert!(
        after.next_run_ms > before && after.next_run_ms <= now_ms() + 3_600_000,
        "the next is the first hour after now: {after:?}"
    );
    // A scheduler leaves another replica's schedule alone: both are due; once it has fired
    // its own (so it has looked at both), the other has not fired.
    let elsewhere = def("elsewhere", "every 3600s", "replica:elsewhere");
    queue.store().put_schedule(&elsewhere, 0).unwrap();
    queue
        .store()
        .put_schedule(&def("mine", "every 3600s", LOCAL_REPLICA), 0)
        .unwrap();
    let s = Scheduler::start(queue.clone(), vec![LOCAL_REPLICA.into()]);
    wait_until("its own schedule to fire", || ticks(&queue).len() == 2);
    s.stop();
    let all = queue.store().schedules().unwrap();
    let other = all.iter().find(|s| s.def.name == "elsewhere").unwrap();
    assert_eq!(
        (other.last_run_ms, other.next_run_ms),
        (None, 0),
        "another replica's schedule is not fired here"
    );
}

#[test]
fn registering_refuses_a_schedule_that_cannot_work_and_keeps_timing_when_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = brain_store_sqlite::testing::at(&dir.path().join("brain.db")).unwrap();
    let queue = Queue::new(store, registry(), EventBus::default());
    let mut unknown = def("typo", "every 60s", SCOPE_STORE);
    unknown.job_type = "tock".into();
    for (defs, says) in [
        (vec![unknown], "schedule 'typo': "),
        (
            vec![
                def("a", "every 60s", SCOPE_STORE),
                def("a", "every 5s", SCOPE_STORE),
            ],
            "two schedules are named 'a'",
        ),
        (
            vec![def("c", "every soon", SCOPE_STORE)],
            "schedule 'c': every",
        ),
    ] {
        let e = register(&queue, &defs, "config")
            .expect_err("refused")
            .to_string();
        assert!(e.contains(says), "{e}");
        assert!(
            queue.store().schedules().unwrap().is_empty(),
            "nothing stored: {e}"
        );
    }
    register(&queue, &[def("a", "every 60s", SCOPE_STORE)], "config").unwrap();
    let first = queue.store().schedules().unwrap()[0].next_run_ms;
    std::thread::sleep(Duration::from_millis(5)); // so a new due time would differ
    register(&queue, &[def("a", "every 60s", SCOPE_STORE)], "config").unwrap();
    assert_eq!(
        queue.store().schedules().unwrap()[0].next_run_ms,
        first,
        "a restart with the same schedule keeps its due time"
    );
    register(&queue, &[], "config").unwrap();
    assert!(
        queue.store().schedules().unwrap().is_empty(),
        "removed from config, removed"
    );
}
