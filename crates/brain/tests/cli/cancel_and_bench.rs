//! Ctrl-C during a long sync, and the bench command staying runnable.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

use util::{TestVault, listed};

/// SIGINT mid-import: the sync stops cleanly (exit 130, says so), keeps what it imported, and the
/// next sync imports the rest, each note exactly once.
#[test]
fn ctrl_c_cancels_the_sync_cleanly() {
    let v = TestVault::generated(6000, false);
    let (mut child, lines) = util::sync_until_importing(&v, &[]);
    // The import is frozen while the test signals: with the store's write lock held by the
    // test, the job can neither commit more nor end, however slowly the test thread runs.
    let lock = v.hold_store_write_lock();
    let job = v.jobs_of("directory-sync").pop().unwrap();
    let (state, message, current, total) = lock.job_progress(job.id);
    assert_eq!(state, "running");
    assert!(
        message.starts_with("Importing") && total == Some(6000) && current < 6000,
        "caught mid-import: {message} {current}/{total:?}"
    );
    util::daemon::signal(child.id(), "INT");
    // Let go: the sync process's cancel (a store write, then its job's token at once) and its
    // importer go on from here together; the importer is thousands of notes from its end.
    drop(lock);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "stderr after signal: {rest:?}");
    assert!(rest.iter().any(|l| l.contains("cancelled")), "{rest:?}");

    let imported_before = listed(&v, &[]).len();
    assert!(
        imported_before < 6000,
        "the sync finished before it was cancelled"
    );
    let job = v.store().job(job.id).unwrap();
    assert_eq!(job.state, brain_store::jobs::JobState::Cancelled, "{job:?}");
    let r = v.sync();
    assert_eq!(
        r["imported"].as_u64().unwrap() as usize + imported_before,
        6000,
        "{r}"
    );
    assert_eq!(listed(&v, &[]).len(), 6000);
}

#[test]
fn bench_import_prints_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(util::brain_bin())
        .args([
            "--json",
            "bench",
            "import",
            "--notes",
            "150",
            "--runs",
            "1",
            "--generator",
        ])
        .arg(util::generator())
        .arg("--workdir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &doc["results"][0];
    assert_eq!(r["notes"], 150);
    assert_eq!(r["export"]["notes"], 150, "every note changed and exported");
    for path in [
        ["import", "ratio"],
        ["no_change_sync", "ratio"],
        ["no_change_sync", "process_wall_ms"],
        ["search", "p50_ms"],
        ["import_process", "peak_rss_mb"],
        ["export", "export_notes_per_s"],
        ["export", "import_notes_per_s"],
        ["export", "ratio"],
    ] {
        let v = &r[path[0]][path[1]];
        assert!(v.as_f64().is_some_and(|x| x > 0.0), "{path:?} = {v}");
    }
}
