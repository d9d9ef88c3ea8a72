//! Following a job (`brain_jobs::follow`) against a real SQLite store, with real worker threads:
//! in this process (the bus) and in "another process" (a second store connection and queue,
//! which shares no bus with the worker, as a CLI following a daemon's job does).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::time::{Duration, Instant};

use brain_core::time::now_ms;
use brain_core::{Phase, ProgressSink};
use brain_jobs::follow::Progress;
use brain_jobs::handler::TypeConfig;
use brain_jobs::{
    EnqueueRequest, EventBus, Follow, FollowEvent, Handler, JobContext, JobError, PoolConfig,
    Queue, Registry, WorkerPool,
};
use brain_store::jobs::{JobProgress, JobState};
use serde_json::{Value, json};

/// A sync-shaped job: scans `scan` files at once, then imports `import` of them (the ones that
/// changed), the first
/// `fast` at once and the others one every `step_ms`, reporting through the job's progress as
/// the sync engine does.
struct Steps;

impl Handler for Steps {
    fn validate(&self, _: &Value) -> Result<(), String> {
        Ok(())
    }

    fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let n = |k: &str| ctx.job.input[k].as_u64().unwrap_or(0);
        let p = &ctx.progress;
        p.start_phase(Phase::Scanning, None);
        p.advance(n("scan"), "");
        p.finish_phase();
        p.start_phase(Phase::Importing, Some(n("import")));
        for i in 0..n("import") {
            if i >= n("fast") {
                std::thread::sleep(Duration::from_millis(n("step_ms")));
            }
            p.advance(1, &format!("n{i}.md"));
        }
        p.finish_phase();
        Ok(json!("done"))
    }
}

fn queue_at(db: &Path) -> Queue {
    let mut registry = Registry::new();
    registry.register(
        "steps",
        Steps,
        TypeConfig {
            max_attempts: 3,
            ..TypeConfig::default()
        },
    );
    let store = brain_store_sqlite::testing::at(db).unwrap();
    Queue::new(store, registry, EventBus::default())
}

fn pool(queue: &Queue) -> WorkerPool {
    WorkerPool::start(
        queue.clone(),
        PoolConfig {
            workers: 1,
            heartbeat_ms: 100,
            idle_poll_ms: 20,
            reap_every_ms: 50,
            lease_ms: 2_000,
            ..PoolConfig::default()
        },
    )
}

/// Every event until the job finishes; fails after a minute (a hang, not a slow machine).
fn events_to_the_end(follow: &mut Follow) -> Vec<FollowEvent> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while Instant::now() < deadline {
        if let Some(e) = follow.next_within(Duration::from_millis(200)).unwrap() {
            let last = matches!(e, FollowEvent::Finished(_));
            out.push(e);
            if last {
                return out;
            }
        }
    }
    panic!("the job did not finish within a minute: {out:?}");
}

fn progress(events: &[FollowEvent]) -> Vec<&Progress> {
    events
        .iter()
        .filter_map(|e| match e {
            FollowEvent::Progress(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// The promise every follower relies on: the counter never goes back, the total is there from
/// the first event, never shrinks and never falls below the counter.
fn assert_monotonic(shown: &[&Progress]) {
    assert!(!shown.is_empty());
    for w in shown.windows(2) {
        assert!(
            w[1].current >= w[0].current && w[1].total >= w[0].total,
            "went back: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
    for p in shown {
        assert!(p.total >= p.current, "total below progress: {p:?}");
    }
}

#[test]
fn a_job_run_in_this_process_is_followed_from_the_bus_with_one_counter() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_at(&dir.path().join("brain.db"));
    let id = queue
        .enqueue(EnqueueRequest::new(
            "steps",
            json!({"scan": 50, "import": 20, "step_ms": 1}),
        ))
        .unwrap()
        .id();
    // Subscribed before the worker starts, so every report reaches it.
    let mut follow = Follow::new(&queue, id);
    let first = follow.next_within(Duration::from_secs(10)).unwrap();
    let pool = pool(&queue);
    let mut events: Vec<FollowEvent> = first.into_iter().collect();
    events.extend(events_to_the_end(&mut follow));
    pool.shutdown();
    let shown = progress(&events);
    assert_monotonic(&shown);
    assert_eq!((shown[0].current, shown[0].total), (0, 0), "{shown:?}");
    assert!(
        shown.iter().any(|p| p.phase == Some(Phase::Importing)
            && p.phase_current == 0
            && p.phase_total == Some(20)
            && p.current == 30
            && p.total == 50),
        "the import's start is seen: the 30 files it does not read are done: {shown:?}"
    );
    let last = shown.last().unwrap();
    assert_eq!((last.current, last.total), (50, 50), "the 50 files found");
    match events.last() {
        Some(FollowEvent::Finished(job)) => assert_eq!(job.state, JobState::Succeeded),
        other => panic!("the stream ends with the job: {other:?}"),
    }
    assert!(
        !events.iter().any(|e| matches!(
            e,
            FollowEvent::TakenOver { .. } | FollowEvent::LeaseLapsed { .. }
        )),
        "{events:?}"
    );
}

#[test]
fn a_job_joined_late_in_another_process_shows_no_rate_until_it_has_seen_the_pace() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("brain.db");
    let worker_side = queue_at(&db);
    let id = worker_side
        .enqueue(EnqueueRequest::new(
            "steps",
            json!({"scan": 1000, "import": 1100, "fast": 1000, "step_ms": 20}),
        ))
        .unwrap()
        .id();
    let pool = pool(&worker_side);
    // Another process: its own connection and bus; it sees the job in the store only.
    let follower_side = queue_at(&db);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !follower_side
        .job(id)
        .unwrap()
        .progress
        .is_some_and(|p| p.phase == Some(Phase::Importing) && p.current >= 1000)
    {
        assert!(Instant::now() < deadline, "the import never got under way");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut follow = Follow::new(&follower_side, id);
    let events = events_to_the_end(&mut follow);
    pool.shutdown();
    let shown = progress(&events);
    assert_monotonic(&shown);
    let first = shown[0];
    // What it counts is what it saw: the import it joined (the scan before it is over and
    // not in the job's row any more).
    assert!(
        first.current >= 1000 && first.total == 1100,
        "joined mid-import, with its total: {first:?}"
    );
    assert_eq!(
        (first.rate_per_s, first.eta_s),
        (None, None),
        "no rate from one look at a job started before this follower: {first:?}"
    );
    // A slow step takes at least 20 ms, so no honest rate is above 50 a second: counting the
    // 1,000 fast steps done before this follower looked as done while it watched would give
    // hundreds or thousands.
    for p in &shown {
        if let Some(r) = p.rate_per_s {
            assert!(r <= 60.0, "absurd rate {r}/s: {p:?}");
        }
        assert!(
            p.eta_s.is_none() || p.rate_per_s.is_some(),
            "an ETA only with a rate: {p:?}"
        );
    }
    assert!(
        shown
            .iter()
            .any(|p| p.rate_per_s.is_some() && p.eta_s.is_some()),
        "a rate and ETA once enough of the import was seen: {shown:?}"
    );
}

#[test]
fn a_dead_workers_lease_lapse_then_the_takeover_are_said_and_the_counter_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("brain.db");
    let queue = queue_at(&db);
    let id = queue
        .enqueue(EnqueueRequest::new(
            "steps",
            json!({"scan": 100, "import": 30, "step_ms": 1}),
        ))
        .unwrap()
        .id();
    // A worker that claims the job, reports part of its import, and dies (no heartbeat).
    let store = queue.store();
    assert_eq!(
        store
            .claim("dead-worker", &[("steps".into(), 1)], 1, now_ms(), 300)
            .unwrap()
            .len(),
        1
    );
    store
        .set_progress(
            id,
            "dead-worker",
            &JobProgress {
                current: 40,
                total: Some(100),
                message: "Importing n39.md".into(),
                updated_ms: now_ms(),
                phase: Some(Phase::Importing),
            },
        )
        .unwrap();
    // Followed from the queue the taking-over workers will run on (as `brain sync` does), so
    // every report of the new attempt reaches it.
    let mut follow = Follow::new(&queue, id);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut before = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "the lapse was never seen: {before:?}"
        );
        if let Some(e) = follow.next_within(Duration::from_millis(200)).unwrap() {
            let lapsed = matches!(e, FollowEvent::LeaseLapsed { attempt: 1, .. });
            before.push(e);
            if lapsed {
                break;
            }
        }
    }
    let seen = progress(&before).last().map(|p| p.current).unwrap();
    assert_eq!(
        seen, 40,
        "the dead attempt's progress was shown: {before:?}"
    );
    // A worker comes (its reaper reclaims the job, it claims it: attempt 2).
    let pool = pool(&queue);
    let after = events_to_the_end(&mut follow);
    pool.shutdown();
    assert!(
        after.iter().any(|e| matches!(
            e,
            FollowEvent::TakenOver {
                attempt: 2,
                kept: 40,
                ..
            }
        )),
        "the takeover is an event, with the count kept: {after:?}"
    );
    let mut all: Vec<&Progress> = progress(&before);
    all.extend(progress(&after));
    assert_monotonic(&all);
    let last = all.last().unwrap();
    assert_eq!(
        (last.current, last.total),
        (100, 100),
        "the new attempt scans the same 100 files: it ends at them, never past them"
    );
    match after.last() {
        Some(FollowEvent::Finished(job)) => {
            assert_eq!((job.state, job.attempts), (JobState::Succeeded, 2));
        }
        other => panic!("the stream ends with the job: {other:?}"),
    }
}

/// Issue 15 (a reviewer's finding): the bus's report that an attempt started can reach the
/// follower after a read of the row already showed that attempt running. That is the same
/// attempt, not a takeover: nothing died, so nothing may be said about one.
#[test]
fn an_attempt_seen_in_the_row_before_its_start_on_the_bus_is_no_takeover() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_at(&dir.path().join("brain.db"));
    let id = queue
        .enqueue(EnqueueRequest::new("steps", json!({"scan": 1})))
        .unwrap()
        .id();
    let mut follow = Follow::new(&queue, id);
    assert!(!follow.poll().unwrap().is_empty(), "the first look");
    // A worker claims it; the follower's next read of the row shows attempt 1 running...
    let claimed = queue
        .store()
        .claim("w-1", &[("steps".into(), 1)], 1, now_ms(), 60_000)
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while follow.job().is_none_or(|j| j.attempts < 1) {
        assert!(Instant::now() < deadline, "the row never showed the claim");
        follow.poll().unwrap();
    }
    // ...and only then does the bus say that attempt 1 started, and report its progress.
    queue.bus().publish(brain_jobs::bus::Event::Started {
        id,
        attempt: 1,
        job_type: "steps".into(),
    });
    queue.bus().publish(brain_jobs::bus::Event::Progress {
        id,
        attempt: 1,
        progress: JobProgress {
            current: 1,
            total: None,
            message: "Scanning".into(),
            updated_ms: now_ms(),
            phase: Some(Phase::Scanning),
        },
    });
    let events = follow.poll().unwrap();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, FollowEvent::TakenOver { .. })),
        "a takeover said where nothing died: {events:?}"
    );
}
