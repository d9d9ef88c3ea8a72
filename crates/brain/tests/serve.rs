//! Issue 4: `brain serve` keeps files and store in step while both change. A real daemon, real
//! file events (inotify, or polling), real editor save patterns; job counts are asserted, not
//! only the end state, so a loop (an export coming back as an import) fails a test.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod util;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use brain_store::jobs::JobState;
use brain_store::{JobStore, Store};
use util::TestVault;
use util::daemon::{DEBOUNCE_MS, holds, wait_for};

const LIMIT: Duration = Duration::from_secs(30);

/// A vault with `a.md`, served, its initial sync done.
fn served_vault(env: &[(&str, &str)]) -> (TestVault, util::daemon::Daemon) {
    let v = TestVault::new();
    v.write("a.md", "# A\n\nfirst\n");
    let d = v.serve(env);
    wait_for(LIMIT, "the initial sync to import a.md", || {
        v.entity_content("note/a")
    });
    v.settle();
    (v, d)
}

/// Waits for the entity to hold `content`, then for the daemon to settle; returns the (sync,
/// import, export) job counts.
fn lands(v: &TestVault, r: &str, content: &str) -> (usize, usize, usize) {
    wait_for(LIMIT, &format!("{r} to hold the new content"), || {
        (v.entity_content(r).as_deref() == Some(content)).then_some(())
    });
    v.settle()
}

fn created_ms(v: &TestVault, r: &str) -> i64 {
    v.store().get(&r.parse().unwrap()).unwrap().created_ms
}

#[test]
fn ready_at_once_with_the_initial_sync_queued_then_run() {
    let v = TestVault::generated(300, false);
    let d = v.serve(&[("BRAIN_SERVE_INITIAL_SYNC_DELAY_MS", "1500")]);
    // Ready, and the initial sync is waiting in the queue rather than running.
    let syncs = v.jobs_of("directory-sync");
    assert_eq!(syncs.len(), 1);
    assert_eq!(syncs[0].state, JobState::Queued);
    assert!(syncs[0].run_at_ms > brain_core::time::now_ms());
    let status = v.ok(&["--json", "status"]).json();
    assert_eq!(status["daemon"]["state"], "ready");
    assert_eq!(status["daemon"]["watcher"]["mode"], "native");
    let text = v.ok(&["status"]).stdout;
    assert!(text.contains("watcher native"), "{text}");
    assert!(text.contains("Queue: directory-sync 1 queued"), "{text}");
    wait_for(LIMIT, "the initial sync to finish", || {
        (v.jobs_of("directory-sync")[0].state == JobState::Succeeded).then_some(())
    });
    assert!(v.store().count_live().unwrap() >= 290);
    assert_eq!(d.stop(), 0, "SIGTERM stops the daemon cleanly");
    assert_eq!(v.daemon_state().unwrap()["state"], "stopped");
    let status = v.ok(&["--json", "status"]).json();
    assert!(
        status["daemon"].is_null(),
        "a stopped daemon is not shown as running"
    );
}

#[test]
fn editor_save_patterns_each_land_as_one_update_of_the_same_entity() {
    let (v, _d) = served_vault(&[]);
    let born = created_ms(&v, "note/a");
    let (_, mut imports, exports) = v.settle();

    // Write in place.
    v.write("a.md", "# A\n\nin place\n");
    let (_, i, e) = lands(&v, "note/a", "# A\n\nin place\n");
    assert_eq!((i, e), (imports + 1, exports), "one import, no export");
    imports = i;

    // Temp file then rename over (vim, VS Code, Obsidian).
    v.write(".a.md.tmp", "# A\n\nrenamed over\n");
    std::fs::rename(v.path(".a.md.tmp"), v.path("a.md")).unwrap();
    let (_, i, e) = lands(&v, "note/a", "# A\n\nrenamed over\n");
    assert_eq!((i, e), (imports + 1, exports));
    imports = i;

    // Delete then create.
    std::fs::remove_file(v.path("a.md")).unwrap();
    std::thread::sleep(Duration::from_millis(20)); // the editor's gap between the two calls
    v.write("a.md", "# A\n\nrecreated\n");
    let (_, i, e) = lands(&v, "note/a", "# A\n\nrecreated\n");
    assert_eq!((i, e), (imports + 1, exports));
    imports = i;

    // A file still growing: five chunks, each well inside the debounce window.
    {
        use std::io::Write;
        let mut f = std::fs::File::create(v.path("a.md")).unwrap();
        for n in 0..5 {
            writeln!(f, "chunk {n}").unwrap();
            f.flush().unwrap();
            std::thread::sleep(Duration::from_millis(DEBOUNCE_MS / 4));
        }
    }
    let grown = "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n";
    let (_, i, e) = lands(&v, "note/a", grown);
    assert_eq!((i, e), (imports + 1, exports), "imported once, when stable");

    assert_eq!(created_ms(&v, "note/a"), born, "still the same entity");
    assert!(v.store().list(&Default::default()).unwrap().len() == 1);
}

#[test]
fn a_burst_of_a_thousand_files_is_one_job() {
    let (v, _d) = served_vault(&[]);
    std::fs::create_dir(v.path("checkout")).unwrap();
    let (_, imports, _) = v.settle();
    // Like `git checkout`: many files appear in a folder that exists.
    for n in 0..1000 {
        v.write(&format!("checkout/n{n:04}.md"), format!("# N{n}\n"));
    }
    wait_for(LIMIT, "1,000 notes imported", || {
        (v.store().count_live().unwrap() == 1001).then_some(())
    });
    let (_, i, _) = v.settle();
    assert_eq!(i, imports + 1, "one import job for the whole burst");
    let job = v.jobs_of("directory-import").pop().unwrap();
    assert_eq!(job.result.unwrap()["imported"], 1000);

    // Like `cp -r`: a whole folder appears at once; its files were never seen one by one.
    let (syncs, _, _) = v.settle();
    let src = v.path("checkout");
    let copy = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(copy.path().join("copied"))
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::rename(copy.path().join("copied"), v.path("copied")).unwrap();
    wait_for(LIMIT, "the copied folder imported", || {
        (v.store().count_live().unwrap() == 2001).then_some(())
    });
    let (s, _, _) = v.settle();
    assert_eq!(s, syncs + 1, "one rescan for a folder that appeared");
}

#[test]
fn renames_and_moves_keep_the_entity_and_deletes_tombstone() {
    let (v, _d) = served_vault(&[]);
    let born = created_ms(&v, "note/a");
    std::fs::rename(v.path("a.md"), v.path("b.md")).unwrap();
    wait_for(LIMIT, "the rename", || v.entity_content("note/b"));
    v.settle();
    assert_eq!(created_ms(&v, "note/b"), born);
    assert!(v.entity_content("note/a").is_none());

    std::fs::create_dir(v.path("sub")).unwrap();
    std::fs::rename(v.path("b.md"), v.path("sub/b.md")).unwrap();
    wait_for(LIMIT, "the move", || v.entity_content("note/sub/b"));
    v.settle();
    assert_eq!(created_ms(&v, "note/sub/b"), born);
    let deleted = util::listed(&v, &["--deleted"]);
    assert!(
        deleted.is_empty() || deleted == ["note/sub/b"],
        "{deleted:?}"
    );

    std::fs::remove_file(v.path("sub/b.md")).unwrap();
    wait_for(LIMIT, "the tombstone", || {
        v.entity_content("note/sub/b").is_none().then_some(())
    });
    let e = v.store().get_any(&"note/sub/b".parse().unwrap()).unwrap();
    assert!(e.deleted_ms.is_some(), "soft-deleted, restorable");
}

#[test]
fn entity_writes_are_exported_once_and_never_come_back_as_imports() {
    // A long debounce so ten `brain put` processes fall inside one window.
    let env = [("BRAIN_SERVE_SYNC_DEBOUNCE_MS", "1500")];
    let (v, _d) = served_vault(&env);
    let (_, imports, exports) = v.settle();
    for n in 0..10 {
        let mut cmd = v.cmd();
        cmd.env(env[0].0, env[0].1).args(["put", "note/a"]);
        let out = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(format!("# A\n\nput {n}\n").as_bytes())?;
                c.wait()
            })
            .unwrap();
        assert!(out.success());
    }
    wait_for(LIMIT, "the file to hold the last put", || {
        holds(&v.path("a.md"), "# A\n\nput 9\n").then_some(())
    });
    let (_, i, e) = v.settle();
    assert_eq!(e, exports + 1, "ten puts, one export");
    assert_eq!(i, imports, "our own write did not come back as an import");
    let job = v.jobs_of("directory-export").pop().unwrap();
    assert_eq!(job.result.unwrap()["exported"], 1);

    // And a saved file is imported without an export following it.
    v.write("a.md", "# A\n\nsaved\n");
    let (_, i2, e2) = lands(&v, "note/a", "# A\n\nsaved\n");
    assert_eq!((i2, e2), (i + 1, e));
}

#[test]
fn pause_queues_changes_and_a_change_on_both_sides_becomes_a_live_conflict() {
    let (v, _d) = served_vault(&[]);
    v.ok(&["sync", "pause"]);
    let (_, imports, _) = v.settle();
    // The store side changes...
    v.run_stdin(&["put", "note/a"], b"# A\n\nfrom an agent\n");
    // ...and so does the file, before anything was applied.
    v.write("a.md", "# A\n\nfrom the editor\n");
    wait_for(LIMIT, "the import to be queued", || {
        (v.jobs_of("directory-import").len() > imports).then_some(())
    });
    std::thread::sleep(Duration::from_millis(DEBOUNCE_MS * 3));
    assert_eq!(
        v.entity_content("note/a").unwrap(),
        "# A\n\nfrom an agent\n"
    );
    assert!(holds(&v.path("a.md"), "# A\n\nfrom the editor\n"));
    let status = v.ok(&["--json", "status"]).json();
    assert_eq!(
        status["paused"],
        serde_json::json!(["directory-export", "directory-import", "directory-sync"])
    );
    assert!(
        status["queue"]["directory-import"]["queued"]
            .as_u64()
            .unwrap()
            >= 1
    );

    v.ok(&["sync", "resume"]);
    v.settle();
    // Keep-both: the file stays and becomes the entity; the agent's version is beside it.
    assert!(holds(&v.path("a.md"), "# A\n\nfrom the editor\n"));
    assert_eq!(
        v.entity_content("note/a").unwrap(),
        "# A\n\nfrom the editor\n"
    );
    let copies: Vec<_> = std::fs::read_dir(v.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("a.conflict-"))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(holds(&v.path(&copies[0]), "# A\n\nfrom an agent\n"));
    let status = v.ok(&["status"]);
    assert!(
        status.stdout.contains("1 open conflict"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("brain conflicts list"));
}

#[test]
fn unreadable_files_are_reported_and_retried_without_stopping_the_daemon() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    let mut cmd = v.cmd();
    cmd.env("BRAIN_SERVE_SYNC_DEBOUNCE_MS", DEBOUNCE_MS.to_string())
        .env("BRAIN_SERVE_INITIAL_SYNC_DELAY_MS", "0")
        .arg("serve")
        .stdout(std::process::Stdio::null());
    let child = util::without_root_override(cmd).spawn().unwrap();
    let d = util::daemon::Daemon { child };
    wait_for(LIMIT, "a.md imported", || v.entity_content("note/a"));
    v.settle();

    v.write("secret.md", "# Secret\n");
    std::fs::set_permissions(v.path("secret.md"), std::fs::Permissions::from_mode(0o000)).unwrap();
    wait_for(LIMIT, "the skip to be reported", || {
        let job = v.jobs_of("directory-import").pop()?;
        let skipped = job.result?["skipped"].clone();
        skipped
            .as_array()?
            .iter()
            .any(|s| s["path"] == "secret.md")
            .then_some(())
    });
    // Still serving: another edit lands.
    v.write("a.md", "# A\n\nstill here\n");
    lands(&v, "note/a", "# A\n\nstill here\n");
    // The permission change is an event too: the note is imported once readable.
    std::fs::set_permissions(v.path("secret.md"), std::fs::Permissions::from_mode(0o644)).unwrap();
    lands(&v, "note/secret", "# Secret\n");
    assert_eq!(d.stop(), 0);
}

#[test]
fn sigterm_lets_the_running_job_finish() {
    let v = TestVault::generated(3000, false);
    let d = v.serve(&[]);
    wait_for(LIMIT, "the initial sync to be running", || {
        let job = v.jobs_of("directory-sync").pop()?;
        (job.state == JobState::Running && job.progress.is_some()).then_some(())
    });
    assert_eq!(d.stop(), 0);
    let job = v.jobs_of("directory-sync").pop().unwrap();
    assert_eq!(job.state, JobState::Succeeded, "drained, not abandoned");
    assert!(v.store().count_live().unwrap() >= 2900);
}

#[test]
fn polling_mode_picks_up_edits() {
    let env = [
        ("BRAIN_SERVE_WATCH_MODE", "poll"),
        ("BRAIN_SERVE_WATCH_INTERVAL_MS", "100"),
    ];
    // notify's PollWatcher compares mtimes in whole seconds: the note was synced with an
    // mtime in the past, so the edit is in another second however fast the test runs.
    let v = TestVault::new();
    v.write("a.md", "# A\n\nfirst\n");
    let touched = std::process::Command::new("touch")
        .args(["-d", "-10 seconds"])
        .arg(v.path("a.md"))
        .status()
        .unwrap();
    assert!(touched.success());
    let _d = v.serve(&env);
    wait_for(LIMIT, "the initial sync to import a.md", || {
        v.entity_content("note/a")
    });
    v.settle();
    assert_eq!(v.daemon_state().unwrap()["watcher"]["mode"], "poll");
    v.write("a.md", "# A\n\npolled\n");
    lands(&v, "note/a", "# A\n\npolled\n");
}

#[test]
fn a_sync_command_with_a_daemon_running_is_run_by_the_daemon() {
    let (v, d) = served_vault(&[]);
    v.write("b.md", "# B\n");
    let report = v.ok(&["--json", "sync"]).json();
    let job = v.store().job(report["job"].as_i64().unwrap()).unwrap();
    assert!(
        job.worker
            .as_deref()
            .is_some_and(|w| w.starts_with(&format!("pid{}-", d.pid()))),
        "run by the daemon's worker: {:?}",
        job.worker
    );
    assert!(v.entity_content("note/b").is_some());
    // A second daemon is refused, saying which process serves the vault.
    let second = v.run(&["serve"]);
    assert_eq!(second.code, 1);
    assert!(
        second.stderr.contains(&d.pid().to_string()),
        "{}",
        second.stderr
    );
}

#[test]
fn a_sync_following_a_daemon_that_dies_runs_the_job_itself() {
    let v = TestVault::generated(3000, false);
    let d = v.serve(&[]);
    wait_for(LIMIT, "the initial sync to be running", || {
        let job = v.jobs_of("directory-sync").pop()?;
        (job.state == JobState::Running).then_some(())
    });
    let mut follower = v
        .cmd()
        .args(["--json", "sync"])
        .env("BRAIN_JOBS_LEASE_MS", "2000")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the daemon only once the follower has joined its job (it saw the daemon).
    let stderr = follower.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    wait_for(LIMIT, "the follower to join the daemon's sync", || {
        seen.extend(rx.try_iter());
        seen.iter()
            .any(|l| l.starts_with("Joining sync job"))
            .then_some(())
    });
    d.kill(); // SIGKILL: the job is left running under a lease nobody renews
    let status = follower.wait().unwrap();
    seen.extend(rx.iter());
    let stderr = seen.join("\n");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("running sync job"), "{stderr}");
    assert!(v.store().count_live().unwrap() >= 2900);
}

#[test]
fn paused_jobs_do_not_keep_a_worker_busy() {
    let v = TestVault::new();
    v.ok(&["sync", "pause"]);
    let put = v.run_stdin(&["put", "note/a"], b"# A\n");
    assert!(put.stdout.contains("sync is paused"), "{}", put.stdout);
    // Returns although an export is queued: it waits for resume, not for this worker.
    v.ok(&["work", "--until-idle"]);
    assert!(!v.path("a.md").exists());
    v.ok(&["sync", "resume"]);
    v.ok(&["work", "--until-idle"]);
    assert_eq!(v.read("a.md"), b"# A\n");
}

#[test]
fn files_removed_while_their_import_runs_are_reported_then_settled() {
    let (v, _d) = served_vault(&[]);
    std::fs::create_dir(v.path("batch")).unwrap();
    v.settle();
    for n in 0..2000 {
        v.write(&format!("batch/n{n:04}.md"), format!("# N{n}\n"));
    }
    wait_for(LIMIT, "the import of the batch to be running", || {
        let job = v.jobs_of("directory-import").pop()?;
        (job.state == JobState::Running).then_some(())
    });
    // Remove half while it reads them: each is reported as removed, then its own event settles
    // it; nothing fails and the daemon goes on.
    for n in (0..2000).step_by(2) {
        std::fs::remove_file(v.path(&format!("batch/n{n:04}.md"))).unwrap();
    }
    v.settle();
    for job in v.jobs_of("directory-import") {
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    }
    let live: Vec<String> = v
        .store()
        .list(&Default::default())
        .unwrap()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p.starts_with("batch/"))
        .collect();
    assert_eq!(live.len(), 1000, "only the files still on disk are notes");
    assert!(live.iter().all(|p| v.path(p).exists()));
}
