//! Issue 17: a vault whose brain lives in PostgreSQL, through the real binary, against the
//! throwaway cluster `scripts/test` starts (`BRAIN_TEST_PG`; its CA in `BRAIN_TEST_PG_CA`).
//! Each test gets a database of its own.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

use crate::git_util;

#[path = "postgres/credentials.rs"]
mod credentials;
#[path = "postgres/hostile.rs"]
mod hostile;
#[path = "postgres/moving.rs"]
mod moving;
#[path = "postgres/outage.rs"]
mod outage;
#[path = "postgres/replicas.rs"]
mod replicas;

use std::time::Duration;

use util::TestVault;

/// How long a daemon may take to bring a change across: generous, for a loaded machine.
const LIMIT: Duration = Duration::from_secs(30);

/// A new, empty database of the test cluster; its URL (as the superuser, no password).
pub fn fresh_database() -> String {
    let admin_url = brain_store_postgres::testing::cluster_url();
    let name = brain_store_postgres::testing::unique_name("db");
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// A vault initialized on a new database: `brain init --store URL`.
pub fn pg_vault() -> (TestVault, String) {
    let url = fresh_database();
    let v = TestVault::uninitialized();
    v.ok(&["init", "--store", &url]);
    (v, url)
}

#[test]
fn every_command_works_on_a_postgres_vault() {
    let (v, url) = pg_vault();
    let config = std::fs::read_to_string(v.path(".brain/config.toml")).unwrap();
    assert!(
        config.contains("backend = \"postgres\"") && config.contains(&url),
        "{config}"
    );
    assert!(
        !v.path(".brain/brain.db").exists(),
        "no SQLite file for a PostgreSQL vault"
    );
    v.write("a.md", "# Alpha\n\nwords about crabs #sea\n");
    v.write("dir/b.md", "# Beta\n\ncafé crème\n");
    let synced = v.sync();
    assert_eq!(synced["imported"], 2, "{synced}");
    let hits = v.ok(&["--json", "search", "creme"]).json();
    assert_eq!(hits[0]["id"], "dir/b", "{hits}");
    v.ok(&["list", "--tag", "sea"]);
    v.run_stdin(&["put", "note/inbox/new"], b"# New\n\nfrom put\n");
    v.ok(&["sync"]);
    assert_eq!(v.read("inbox/new.md"), b"# New\n\nfrom put\n");
    assert_eq!(
        v.ok(&["get", "note/a"]).stdout,
        "# Alpha\n\nwords about crabs #sea\n"
    );
    v.ok(&["rm", "note/a"]);
    v.ok(&["sync"]);
    assert!(
        !v.path("a.md").exists(),
        "the deleted note's file went to the trash"
    );
    v.ok(&["restore", "note/a"]);
    v.ok(&["sync"]);
    assert!(v.path("a.md").exists());
    let jobs = v.ok(&["--json", "jobs", "list"]).json();
    assert!(jobs.as_array().unwrap().len() >= 4, "{jobs}");
    let status = v.ok(&["status"]);
    assert!(status.stdout.contains("3 notes"), "{}", status.stdout);
    assert!(
        status
            .stdout
            .contains(&format!("store: {url} (PostgreSQL)")),
        "status says where the brain is: {}",
        status.stdout
    );
    // A conflict: changed on both sides before a sync.
    v.write("dir/b.md", "# Beta\n\nfile side\n");
    v.run_stdin(&["put", "note/dir/b"], b"# Beta\n\nstore side\n");
    v.run(&["sync"]);
    let conflicts = v.ok(&["--json", "conflicts", "list"]).json();
    assert_eq!(conflicts.as_array().unwrap().len(), 1, "{conflicts}");
    v.ok(&["doctor"]);
}

#[test]
fn a_served_postgres_vault_writes_a_put_to_its_file_and_imports_a_save() {
    let (v, _url) = pg_vault();
    let daemon = v.serve(&[]);
    v.run_stdin(&["put", "note/live"], b"# Live\n\nvia the daemon\n");
    util::daemon::wait_for(LIMIT, "the put to reach its file", || {
        (v.path("live.md").exists() && v.read("live.md") == b"# Live\n\nvia the daemon\n")
            .then_some(())
    });
    v.write("saved.md", "# Saved\n\nby an editor\n");
    util::daemon::wait_for(LIMIT, "the save to be searchable", || {
        let r = v.run(&["--json", "search", "editor"]);
        (r.code == 0 && r.json().as_array().is_some_and(|h| !h.is_empty())).then_some(())
    });
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn git_sync_works_on_a_postgres_vault() {
    let (v, _url) = pg_vault();
    let remote = tempfile::tempdir().unwrap();
    let bare = git_util::bare(remote.path(), "notes");
    v.write("n.md", "# N\n\nversioned\n");
    v.ok(&["sync"]);
    git_util::git_init(&v, bare.to_str().unwrap());
    v.write("m.md", "# M\n\nsecond\n");
    let r = git_util::brain_ok(&v, &["--json", "git", "sync"]);
    assert!(
        git_util::tree(&bare, "HEAD").iter().any(|f| f == "m.md"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_worker_without_a_folder_leaves_folder_jobs_to_the_folder_s_machine() {
    let (v, url) = pg_vault();
    // Paused, so this folder's own background worker leaves the put's export queued too.
    v.ok(&["sync", "pause"]);
    v.run_stdin(&["put", "note/a"], b"# A\n");
    let jobs = v
        .ok(&["--json", "jobs", "list", "--state", "queued"])
        .json();
    let id = jobs[0]["id"].as_i64().unwrap();
    assert_eq!(jobs[0]["type"], "directory-export", "{jobs}");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(util::brain_bin())
        .current_dir(elsewhere.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", elsewhere.path())
        .args(["work", "--store", &url, "--until-idle"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("left to the machines with the vault folder: ")
            && stdout.contains("directory-export"),
        "{stdout}"
    );
    let job = v.ok(&["--json", "jobs", "show", &id.to_string()]).json();
    assert_eq!(job["state"], "queued", "left alone: {job}");
    v.ok(&["sync", "resume"]);
    v.ok(&["work", "--until-idle"]);
    let job = v.ok(&["--json", "jobs", "show", &id.to_string()]).json();
    assert_eq!(
        job["state"], "succeeded",
        "run by the folder's worker: {job}"
    );
}

/// Issue 20: a batch and its rollback on a PostgreSQL store, through the binary: the batch's
/// jobs, its record in history and the conflict a rollback keeps live in the store.
#[test]
fn a_batch_runs_and_rolls_back_on_a_postgres_store() {
    let (v, _url) = pg_vault();
    for i in 0..3 {
        v.write(
            &format!("work/w{i}.md"),
            format!("---\nowner: Ann Lee\n---\n# W{i}\n"),
        );
    }
    v.write("home.md", "# Home\n");
    v.ok(&["sync"]);
    let queued = v
        .ok(&[
            "--json",
            "batch",
            "set",
            "status=done",
            "--where",
            "meta.owner:\"Ann Lee\"",
        ])
        .json();
    let id = queued["batch_id"].as_i64().expect("a batch id").to_string();
    let done = v.ok(&["--json", "batch", "status", &id, "--wait"]).json();
    assert_eq!(
        (&done["state"], &done["changed"]),
        (&"succeeded".into(), &3.into()),
        "{done}"
    );
    let history = v.ok(&["--json", "history", "note/work/w0"]).json();
    assert!(
        history.to_string().contains(&format!("batch {id}")),
        "{history}"
    );
    // A later edit of one note: the rollback keeps it, with a conflict.
    v.run_stdin(
        &["put", "note/work/w1"],
        b"---\nowner: Ann Lee\nstatus: done\n---\n# W1\n\nlater\n",
    );
    let rb = v.ok(&["--json", "batch", "rollback", &id]).json();
    let rb = rb["batch_id"].as_i64().expect("a rollback id").to_string();
    let undone = v.ok(&["--json", "batch", "status", &rb, "--wait"]).json();
    assert_eq!(
        (&undone["changed"], &undone["conflicts"]),
        (&2.into(), &1.into()),
        "{undone}"
    );
    assert_eq!(
        v.ok(&["get", "note/work/w0"]).stdout,
        "---\nowner: Ann Lee\n---\n# W0\n"
    );
    assert!(v.ok(&["get", "note/work/w1"]).stdout.contains("later"));
    let conflicts = v.ok(&["--json", "conflicts", "list"]).json();
    assert!(conflicts.to_string().contains("rollback"), "{conflicts}");
    // A move: the files follow (the old one to the trash), and back again.
    let mv = v
        .ok(&[
            "--json",
            "batch",
            "mv",
            "--to",
            "Archive",
            "--where",
            "path:work",
        ])
        .json();
    let mv = mv["batch_id"].as_i64().expect("a batch id").to_string();
    v.ok(&["batch", "status", &mv, "--wait"]);
    v.ok(&["sync"]);
    assert!(v.path("Archive/w2.md").is_file() && !v.path("work/w2.md").exists());
    let back = v.ok(&["--json", "batch", "rollback", &mv]).json();
    let back = back["batch_id"]
        .as_i64()
        .expect("a rollback id")
        .to_string();
    v.ok(&["batch", "status", &back, "--wait"]);
    v.ok(&["sync"]);
    assert!(v.path("work/w2.md").is_file() && !v.path("Archive/w2.md").exists());
}
