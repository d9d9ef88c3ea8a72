//! An idle pool costs next to nothing: each of its threads wakes only at its own interval
//! (here 100 ms, so about ten times a second), not in short naps, and shutdown still reaches
//! every thread at once. Measured from the kernel's count of each thread's voluntary context
//! switches, so this file runs alone in its process (no other test's pool threads to mix up).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::HashMap;
use std::time::{Duration, Instant};

use brain_jobs::handler::TypeConfig;
use brain_jobs::{
    EventBus, Handler, JobContext, JobError, PoolConfig, Queue, Registry, WorkerPool,
};
use serde_json::{Value, json};

struct Noop;

impl Handler for Noop {
    fn validate(&self, _: &Value) -> Result<(), String> {
        Ok(())
    }
    fn run(&self, _: &JobContext) -> Result<Value, JobError> {
        Ok(json!(null))
    }
}

/// Voluntary context switches (each sleep or wait is one) of this process's pool threads,
/// by thread id.
fn pool_thread_switches() -> HashMap<String, (String, u64)> {
    let mut out = HashMap::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let Ok(name) = std::fs::read_to_string(dir.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        let name = name.trim().to_string();
        if !name.starts_with("brain-") {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(dir.join("status")) else {
            continue;
        };
        let switches = status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let tid = dir.file_name().unwrap().to_string_lossy().to_string();
        out.insert(tid, (name, switches));
    }
    out
}

#[test]
fn an_idle_pool_wakes_rarely_and_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = brain_store_sqlite::testing::at(&dir.path().join("brain.db")).unwrap();
    let mut registry = Registry::new();
    registry.register("noop", Noop, TypeConfig::default());
    let queue = Queue::new(store, registry, EventBus::default());
    let pool = WorkerPool::start(
        queue.clone(),
        PoolConfig {
            workers: 2,
            heartbeat_ms: 100,
            idle_poll_ms: 100,
            reap_every_ms: 100,
            ..PoolConfig::default()
        },
    );
    let window = Duration::from_millis(500);
    let opened = Instant::now();
    let before = pool_thread_switches();
    std::thread::sleep(window); // the measurement window: idleness has no event to await
    let after = pool_thread_switches();
    // The window as it really was: a stalled test thread lengthens it, and the pool's threads
    // wake more in a longer one, so the bound follows the measured length.
    let measured = opened.elapsed();
    let wakes = measured.as_millis() as u64 / 100 + 1;
    let names: Vec<&str> = after.values().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "brain-worker-0",
        "brain-worker-1",
        "brain-heartbeat",
        "brain-reaper",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} not found in {names:?}"
        );
    }
    for (tid, (name, n)) in &after {
        let Some((_, was)) = before.get(tid) else {
            continue;
        };
        // One wake per 100 ms interval (five in 500 ms); naps of 10 ms would be ten times
        // as many. The bound allows four times the expected wakes plus a few.
        assert!(
            n - was <= 4 * wakes + 5,
            "{name} switched {} times in {measured:?} while idle ({wakes} wakes expected)",
            n - was
        );
    }

    pool.shutdown();

    // Shutdown wakes every thread rather than waiting out its interval: with intervals of
    // ten minutes, an idle pool still stops well within one (a bound no loaded machine
    // reaches, which only waiting out an interval would).
    let slow = WorkerPool::start(
        queue,
        PoolConfig {
            workers: 2,
            heartbeat_ms: 600_000,
            idle_poll_ms: 600_000,
            reap_every_ms: 600_000,
            ..PoolConfig::default()
        },
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while pool_thread_switches().len() < 4 {
        assert!(
            Instant::now() < deadline,
            "the pool's threads never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let start = Instant::now();
    slow.shutdown();
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(60),
        "shutdown of an idle pool waited out its interval: {took:?}"
    );
}
