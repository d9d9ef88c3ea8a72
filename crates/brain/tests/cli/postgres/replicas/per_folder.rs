//! What stays each folder's own on a shared store (issue 18): its sync pause, the notes it
//! excludes, whether its daemon is alive, and its history rules when the store is pruned.

use super::*;

/// `brain sync pause` in one folder holds back that folder's sync, not the others'.
#[test]
fn a_sync_pause_holds_back_only_its_own_folder() {
    let (a, url) = pg_vault();
    let b = join_empty(&url, 1);
    let paused = a.ok(&["sync", "pause"]);
    assert!(
        paused.stdout.contains("in this folder") && paused.stdout.contains("1 other folder"),
        "{}",
        paused.stdout
    );
    b.write("from_b.md", "# From b\n");
    b.ok(&["sync"]);
    let refused = a.run(&["sync"]);
    assert_ne!(refused.code, 0, "a's sync is paused: {}", refused.stdout);

    let status = b.ok(&["status"]).stdout;
    let line_of = |id: &str| {
        status
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line_of(&replica_id(&a)).contains("sync paused there"),
        "{status}"
    );
    assert!(!line_of(&replica_id(&b)).contains("paused"), "{status}");
    assert!(
        !status.contains("Paused:"),
        "b itself is not paused: {status}"
    );

    a.ok(&["sync", "resume"]);
    a.ok(&["sync"]);
    assert_eq!(notes(&a), notes(&b));
}

/// A note another folder made under a path this folder's `.brainignore` excludes is left out
/// here by choice: the sync succeeds and says so (no skip, no "make it writable"), and
/// removing the line writes it.
#[test]
fn a_note_this_folder_excludes_is_left_out_without_failing_its_syncs() {
    let (a, url) = pg_vault();
    a.write("drafts/y.md", "# Older draft\n\nsynced everywhere\n");
    a.ok(&["sync"]);
    let b = join_empty(&url, 1);
    b.ok(&["sync"]);
    assert!(b.path("drafts/y.md").exists());
    // Excluding a folder that held synced notes is not deleting them: they stay in the store
    // and in the other folders, and the file here is left as it is.
    b.write(".brainignore", "drafts/\n");
    let report = b.ok(&["--json", "sync"]).json();
    assert_eq!(report["deleted"], 0, "{report}");
    assert_eq!(
        report["excluded_here"],
        serde_json::json!(["drafts/y.md"]),
        "{report}"
    );
    assert!(b.path("drafts/y.md").exists());
    a.ok(&["sync"]);
    assert!(
        a.path("drafts/y.md").exists(),
        "the other folder keeps the note"
    );
    a.ok(&["get", "note/drafts/y"]);
    // Edited in a while b excludes it: b's untouched copy is an old version, not an edit.
    a.write("drafts/y.md", "# Older draft\n\nedited in a meanwhile\n");
    a.write("drafts/x.md", "# Draft\n\nfrom a\n");
    a.ok(&["sync"]);

    let report = b.run(&["--json", "sync"]);
    assert_eq!(report.code, 0, "{}{}", report.stdout, report.stderr);
    let report = report.json();
    assert_eq!(
        report["excluded_here"],
        serde_json::json!(["drafts/x.md", "drafts/y.md"]),
        "{report}"
    );
    assert_eq!(report["skipped"], serde_json::json!([]), "{report}");
    assert!(!b.path("drafts/x.md").exists());
    let human = b.ok(&["sync"]).stdout;
    assert!(
        human.contains("not written here") && human.contains("drafts/x.md"),
        "{human}"
    );
    let status = b.ok(&["status"]).stdout;
    assert!(!status.contains("not written to its file"), "{status}");

    b.write(".brainignore", "");
    let back = b.ok(&["--json", "sync"]).json();
    assert_eq!(back["conflicts"], serde_json::json!([]), "{back}");
    assert_eq!(
        std::fs::read_to_string(b.path("drafts/x.md")).unwrap(),
        "# Draft\n\nfrom a\n"
    );
    assert_eq!(
        std::fs::read_to_string(b.path("drafts/y.md")).unwrap(),
        "# Older draft\n\nedited in a meanwhile\n",
        "b's stale copy takes the newer text; the old one is in the history"
    );
    a.ok(&["sync"]);
    assert_eq!(
        std::fs::read_to_string(a.path("drafts/y.md")).unwrap(),
        "# Older draft\n\nedited in a meanwhile\n"
    );
}

/// The folder list tells a running daemon from one killed without a word on this machine at
/// once (from /proc), not after a minute of silence.
#[test]
fn a_daemon_killed_on_this_machine_is_shown_gone_at_once() {
    let (a, url) = pg_vault();
    a.ok(&["sync"]);
    let b = join_empty(&url, 1);
    b.ok(&["sync"]);
    let id = replica_id(&b);
    let line_of = |v: &TestVault| {
        v.ok(&["status"])
            .stdout
            .lines()
            .find(|l| l.contains(&id))
            .unwrap_or_default()
            .to_string()
    };
    let db = b.serve(&[]);
    wait_for(LIMIT, "b's daemon to be listed as running", || {
        line_of(&a).contains("its daemon runs").then_some(())
    });
    db.kill();
    let line = line_of(&a);
    assert!(line.contains("is gone without stopping"), "{line}");
    // Nor does it hold back `brain store forget` for a minute.
    a.ok(&["store", "forget", &id]);
}

/// Queues a store-wide `history-prune` job on the store at `url`; its id.
fn queue_prune(url: &str) -> i64 {
    use brain_store::JobStore;
    let options = brain_store_postgres::ConnectOptions::parse(url).unwrap();
    let store = brain_store_postgres::PgStore::open(&options).unwrap();
    let job = brain_store::jobs::NewJob {
        job_type: "history-prune".into(),
        input: serde_json::json!({}),
        priority: 5,
        run_at_ms: 0,
        max_attempts: 1,
        dedupe: None,
        parent_id: None,
        bound_to_replica: false,
    };
    store.enqueue(&[job], 0).unwrap()[0].id()
}

/// Sets a folder's `[history]` retention in its config.toml.
fn keep_history_for(v: &TestVault, keep_all_days: u32, daily_days: u32) {
    let file = v.path(".brain/config.toml");
    let config = std::fs::read_to_string(&file).unwrap();
    let config = config
        .replace(
            "keep_all_days = 30",
            &format!("keep_all_days = {keep_all_days}"),
        )
        .replace("daily_days = 365", &format!("daily_days = {daily_days}"));
    std::fs::write(&file, config).unwrap();
}

/// On a shared store, a prune keeps every version some folder's `[history]` keeps, whichever
/// folder's process runs it (hostile review F17): a folder that keeps nothing does not thin
/// the history another folder keeps for 30 days.
#[test]
fn a_prune_of_a_shared_store_keeps_what_any_folder_s_rules_keep() {
    let (a, url) = pg_vault();
    keep_history_for(&a, 0, 0);
    a.write("log.md", "# Log\n\n1\n");
    a.ok(&["sync"]);
    for i in 2..=5 {
        a.ok(&["edit", "note/log", "--append", &i.to_string()]);
    }
    let b = TestVault::uninitialized();
    b.ok(&["init", "--store", &url]);
    b.ok(&["sync"]);
    let versions = |v: &TestVault| {
        v.ok(&["--json", "history", "note/log"])
            .json()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(versions(&a), 5);

    let job = queue_prune(&url);
    a.ok(&["work", "--until-idle"]);
    let shown = a.ok(&["--json", "jobs", "show", &job.to_string()]).json();
    assert_eq!(shown["state"], "succeeded", "{shown}");
    assert_eq!(shown["result"]["dropped_versions"], 0, "{shown}");
    assert_eq!(versions(&b), 5, "b's rules keep today's versions");

    keep_history_for(&b, 0, 0);
    b.ok(&["status"]);
    let job = queue_prune(&url);
    a.ok(&["work", "--until-idle"]);
    let shown = a.ok(&["--json", "jobs", "show", &job.to_string()]).json();
    assert_eq!(shown["state"], "succeeded", "{shown}");
    assert!(
        versions(&b) < 5,
        "once no folder keeps them, they are thinned: {shown}"
    );
}

/// One folder's `[history] keep = false` does not drop the versions of a store other folders
/// share: an edit through it keeps the version it replaced like any other (re-check N2).
#[test]
fn history_off_in_one_folder_is_ignored_on_a_shared_store() {
    let (a, url) = pg_vault();
    let b = join_empty(&url, 1);
    let file = a.path(".brain/config.toml");
    let config = std::fs::read_to_string(&file).unwrap();
    assert!(config.contains("keep = true"), "{config}");
    std::fs::write(&file, config.replace("keep = true", "keep = false")).unwrap();
    b.write("shared.md", "# Shared\n\nwritten in b\n");
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    let r = a.run(&["edit", "note/shared", "--append", "edited in a"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("keep = false is ignored"), "{}", r.stderr);
    assert_eq!(
        b.ok(&["get", "note/shared", "--version", "1"]).stdout,
        "# Shared\n\nwritten in b\n"
    );
}
