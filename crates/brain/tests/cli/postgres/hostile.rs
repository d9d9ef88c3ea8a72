//! What the hostile review of the PostgreSQL store found (docs/reviews/2026-12-05-postgres-
//! hostile.md), each as the user met it: a copied folder sharing the store, one note failing
//! every sync, a server error shown as "db error", a non-UTF-8 database, a copy racing writes,
//! a server that never answers.

use std::io::Read;
use std::process::Stdio;
use std::time::Instant;

use super::{LIMIT, TestVault, fresh_database, pg_vault};

/// Runs `brain` in `dir` (a folder the test made, not a [`TestVault`]).
fn brain_in(dir: &std::path::Path, args: &[&str]) -> super::util::Run {
    let mut cmd = std::process::Command::new(super::util::brain_bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .arg("--vault")
        .arg(dir)
        .args(args);
    cmd.output().unwrap().into()
}

/// F5: a copy of a vault folder is refused by every command (it would share the store's file
/// bases with the original and undo its changes); a moved folder goes on; `brain store
/// reattach` makes a copy the store's folder only with --force while the original is there.
#[test]
fn a_copied_folder_is_refused_and_a_moved_one_goes_on() {
    let (v, _url) = pg_vault();
    v.write("a.md", "# A\n\nalpha\n");
    v.ok(&["sync"]);
    let parent = tempfile::tempdir().unwrap();
    let copy = parent.path().join("copy");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(v.root())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cp.success());
    std::fs::write(copy.join("new.md"), "# New\n").unwrap();
    let r = brain_in(&copy, &["sync"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for part in ["is not that folder", "brain store reattach", "brain init"] {
        assert!(r.stderr.contains(part), "no {part:?} in {}", r.stderr);
    }
    // The original saw nothing of it.
    let synced = v.sync();
    assert_eq!(synced["deleted"], 0, "{synced}");
    assert_eq!(synced["imported"], 0, "{synced}");
    // Reattaching the copy while the original is there: refused without --force.
    let r = brain_in(&copy, &["store", "reattach"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("is still there"), "{}", r.stderr);
    // A move keeps the folder's identity: the moved folder goes on, nothing to reattach.
    let moved = parent.path().join("moved");
    std::fs::rename(&copy, &moved).unwrap();
    let r = brain_in(&moved, &["status"]);
    assert_eq!(r.code, 1, "a moved copy is still a copy: {}", r.stderr);
    // Meanwhile the original goes on: an edit and a new note the copy (an older folder) lacks.
    v.write("a.md", "# A\n\nalpha, edited later\n");
    v.write("b.md", "# B\n");
    v.ok(&["sync"]);
    let r = brain_in(&moved, &["store", "reattach", "--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("is now the vault folder"), "{}", r.stdout);
    // Now the copy is the store's folder and the original is refused in turn. Its older
    // files override nothing: the newer note is written out, the edit kept both ways.
    let r = brain_in(&moved, &["--json", "sync"]);
    assert!(r.code == 0 || r.code == 3, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(moved.join("b.md")).ok().as_deref(),
        Some("# B\n"),
        "{} {}",
        r.stdout,
        r.stderr
    );
    let listed = brain_in(&moved, &["--json", "list"]);
    assert!(
        !listed.stdout.contains("\"deleted_ms\":1"),
        "{}",
        listed.stdout
    );
    // The copy's a.md holds an earlier version of the note (its history has it): an old copy,
    // not an edit, so it takes the newer text, and the old one stays reachable.
    assert_eq!(
        std::fs::read_to_string(moved.join("a.md")).ok().as_deref(),
        Some("# A\n\nalpha, edited later\n"),
        "{}",
        r.stdout
    );
    let old = brain_in(&moved, &["get", "note/a", "--version", "1"]);
    assert_eq!(old.code, 0, "{}", old.stderr);
    assert!(old.stdout.contains("alpha\n"), "{}", old.stdout);
    let r = v.run(&["status"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("is not that folder"), "{}", r.stderr);
}

/// F13, F17: a note PostgreSQL could not hold (a NUL escape in its frontmatter, a path longer
/// than an index row) is skipped and named with its reason, the rest of the folder imported;
/// an overlong tag is left out of the tags, its note imported.
#[test]
fn a_note_no_backend_can_hold_is_skipped_by_name_and_the_rest_imported() {
    let (v, _url) = pg_vault();
    v.write("good.md", "# Good\n\nfine words\n");
    v.write("nul.md", "---\ntitle: \"evil\\0title\"\n---\nbody\n");
    let long_tag = "t".repeat(300);
    v.write(
        "tagged.md",
        format!("---\ntags: [{long_tag}, short]\n---\nzebra words\n"),
    );
    let deep = [&*"d".repeat(200); 6].join("/");
    v.write(&format!("{deep}/n.md"), "# Deep\n");
    // Exit 3: done, with files skipped.
    let r = v.run(&["--json", "sync"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let synced = r.json();
    assert_eq!(synced["imported"], 2, "{synced}");
    let skipped = synced["skipped"].as_array().unwrap();
    let reason = |path: &str| {
        skipped
            .iter()
            .find(|s| s["path"] == path)
            .map(|s| s["reason"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{path} not skipped: {synced}"))
    };
    assert!(
        reason("nul.md").contains("'title' holds a NUL"),
        "{}",
        reason("nul.md")
    );
    assert!(
        reason(&format!("{deep}/n.md")).contains("longer than 1024 bytes"),
        "{synced}"
    );
    let hits = v.ok(&["--json", "search", "zebra"]).json();
    assert_eq!(hits[0]["id"], "tagged", "{hits}");
    assert_eq!(
        v.ok(&["--json", "list", "--tag", "short"]).json()[0]["id"],
        "tagged"
    );
    // A second sync says the same, and fails nothing.
    let again = v.run(&["--json", "sync"]).json();
    assert_eq!(again["skipped"].as_array().unwrap().len(), 2, "{again}");
}

/// F15: a statement the server refuses is shown in the server's words (not "db error"), and
/// `brain doctor` finds a table dropped behind brain's back.
#[test]
fn a_server_error_is_shown_in_the_server_s_words() {
    let (v, url) = pg_vault();
    v.write("a.md", "# A\n");
    v.ok(&["sync"]);
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin.batch_execute("DROP TABLE conflicts").unwrap();
    let r = v.run(&["conflicts", "list"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("relation \"conflicts\" does not exist")
            && !r.stderr.contains("db error"),
        "{}",
        r.stderr
    );
    let r = v.run(&["doctor"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("conflicts") && r.stdout.contains("missing"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("PostgreSQL"), "{}", r.stdout);
}

/// F9: `brain doctor --rebuild` on PostgreSQL computes drifted search text again in place.
#[test]
fn doctor_rebuild_on_postgres_recomputes_the_search_text() {
    let (v, url) = pg_vault();
    v.write("a.md", "# Root note\n\nunusual wording\n");
    v.write("b.md", "# B\n");
    v.ok(&["sync"]);
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute("UPDATE entities SET tsv = NULL")
        .unwrap();
    assert_eq!(
        v.ok(&["--json", "search", "unusual"]).json(),
        serde_json::json!([])
    );
    let r = v.run(&["doctor"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(!r.stdout.contains("brain.db"), "{}", r.stdout);
    let done = v.ok(&["--json", "doctor", "--rebuild"]).json();
    assert_eq!(done["reindexed"], 2, "{done}");
    assert_eq!(v.ok(&["--json", "search", "unusual"]).json()[0]["id"], "a");
    v.ok(&["doctor"]);
}

/// F21: a database whose encoding is not UTF-8 is refused at init, leaving nothing behind.
#[test]
fn a_database_that_is_not_utf8_is_refused_at_init() {
    let admin_url = brain_store_postgres::testing::cluster_url();
    let name = brain_store_postgres::testing::unique_name("latin");
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {name} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' \
             TEMPLATE template0"
        ))
        .unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let v = TestVault::uninitialized();
    let r = v.run(&["init", "--store", &format!("{base}/{name}")]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("encoding is LATIN1") && r.stderr.contains("UTF8"),
        "{}",
        r.stderr
    );
    assert!(!v.path(".brain").exists());
}

/// F18: `brain store copy` runs only when no other process has the vault open, and a command
/// started while it copies waits for the switch (here the copy's lock is held by the test).
#[test]
fn a_store_copy_and_a_writer_never_overlap() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    v.ok(&["sync"]);
    let lock = std::fs::File::open(v.path(".brain/store.lock")).unwrap();
    // Another process has the vault open: the copy is refused, nothing switched.
    lock.lock_shared().unwrap();
    let r = v.run(&["store", "copy", "--to", &fresh_database()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("another brain process"), "{}", r.stderr);
    lock.unlock().unwrap();
    // A copy holds it whole: a put waits, says so, and goes on when it ends.
    lock.lock().unwrap();
    let mut put = v.cmd();
    put.args(["put", "note/late"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = put.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"# Late\n").unwrap();
    }
    let mut stderr = child.stderr.take().unwrap();
    let mut said = String::new();
    let deadline = Instant::now() + LIMIT;
    let mut byte = [0u8; 1];
    while !said.contains("Waiting for `brain store copy`") {
        assert!(Instant::now() < deadline, "the put did not wait: {said}");
        match stderr.read(&mut byte) {
            Ok(1) => said.push(char::from(byte[0])),
            _ => panic!("the put ended without waiting: {said}"),
        }
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the put finished while the copy held the store"
    );
    lock.unlock().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert_eq!(v.ok(&["get", "note/late"]).stdout, "# Late\n");
}

/// F10: a copy to the vault's own database named another way is refused as the store it
/// already uses, not "replaced" by itself.
#[test]
fn a_copy_to_its_own_database_under_another_name_is_refused() {
    let (v, url) = pg_vault();
    v.write("a.md", "# A\n");
    v.ok(&["sync"]);
    let other_spelling = url.replacen("127.0.0.1", "localhost", 1);
    let r = v.run(&["store", "copy", "--to", &other_spelling, "--force"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("already uses") && r.stderr.contains("named another way"),
        "{}",
        r.stderr
    );
}

/// F7: a server that accepts connections and never answers fails the command after the
/// connect timeout, saying so, instead of hanging it.
#[test]
fn a_server_that_never_answers_fails_after_the_connect_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts every connection and keeps it open, saying nothing (detached: it ends with the
    // test process).
    std::thread::spawn(move || {
        let open: Vec<_> = listener.incoming().collect();
        drop(open);
    });
    let v = TestVault::uninitialized();
    let r = v.run(&[
        "init",
        "--store",
        &format!("postgres://brain@127.0.0.1:{port}/none?connect_timeout=1"),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("accepted no session within 1 s"),
        "{}",
        r.stderr
    );
    assert!(!v.path(".brain").exists());
}

/// F2: BRAIN_STORE_URL (with BRAIN_STORE_BACKEND=postgres) is honoured by `brain init`, and
/// written to config.toml so the next command finds the store without the variables.
#[test]
fn the_store_url_can_come_from_the_environment() {
    let url = fresh_database();
    let v = TestVault::uninitialized();
    let mut init = v.cmd();
    init.env("BRAIN_STORE_BACKEND", "postgres")
        .env("BRAIN_STORE_URL", &url)
        .arg("init");
    let r: super::util::Run = init.output().unwrap().into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let config = std::fs::read_to_string(v.path(".brain/config.toml")).unwrap();
    assert!(config.contains(&url), "{config}");
    v.write("a.md", "# A\n");
    assert_eq!(v.sync()["imported"], 1);
}

/// F13 (cont.): a SQLite brain holding a note PostgreSQL cannot hold (a NUL in its title, kept
/// from before such notes were refused) is not copied: the copy names it and what to do, and
/// writes nothing.
#[test]
fn a_copy_to_postgres_names_the_notes_it_cannot_hold() {
    let v = TestVault::new();
    v.write("a.md", "# A\n");
    v.write("b.md", "# B\n");
    v.ok(&["sync"]);
    let poke = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
             c.execute(\"UPDATE entities SET title = 'evil' || char(0) || 'title' WHERE id = 'b'\"); \
             c.commit()",
        )
        .arg(v.path(".brain/brain.db"))
        .status()
        .unwrap();
    assert!(poke.success());
    let url = fresh_database();
    let r = v.run(&["store", "copy", "--to", &url]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("note/b (its frontmatter holds a NUL")
            && r.stderr.contains("nothing was copied"),
        "{}",
        r.stderr
    );
    let config = std::fs::read_to_string(v.path(".brain/config.toml")).unwrap();
    assert!(!config.contains(&url), "the vault switched: {config}");
}

/// A database emptied behind the vault's back (dropped and made again) is refused, not taken
/// for the vault's store; a key=value connection string is never echoed with its password; a
/// missing password is said as such, not as a server that did not answer.
#[test]
fn an_emptied_database_is_refused_and_credentials_are_said_plainly() {
    let (v, url) = pg_vault();
    v.write("a.md", "# A\n");
    v.ok(&["sync"]);
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        .unwrap();
    let r = v.run(&["status"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("holds no brain"), "{}", r.stderr);
    let r = v.run(&["search", "a"]);
    assert!(r.stderr.contains("holds no brain"), "{}", r.stderr);

    let fresh = TestVault::uninitialized();
    let r = fresh.run(&["init", "--store", "host=db password=s3cretPW dbname=a"]);
    assert_ne!(r.code, 0);
    assert!(!r.stderr.contains("s3cretPW"), "{}", r.stderr);

    let (role_url, _role) = super::credentials::role_with_password("pw-elsewhere");
    let r = fresh.run(&["init", "--store", &role_url]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("PGPASSWORD") && !r.stderr.contains("did not answer"),
        "{}",
        r.stderr
    );
}

/// A daemon of the folder a store was taken from (`brain store reattach --force` in another
/// folder) stops, saying why, rather than run the new folder's jobs on its own.
#[test]
fn a_daemon_stops_when_another_folder_takes_its_store() {
    let (v, _url) = pg_vault();
    v.write("a.md", "# A\n");
    v.ok(&["sync"]);
    let parent = tempfile::tempdir().unwrap();
    let copy = parent.path().join("copy");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(v.root())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cp.success());
    let mut serve = v
        .cmd()
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + LIMIT;
    while !v.run(&["status"]).stdout.contains("Daemon") {
        assert!(Instant::now() < deadline, "the daemon did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let r = brain_in(&copy, &["store", "reattach", "--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stopped = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the daemon went on");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(!stopped.success());
    let mut said = String::new();
    serve
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert!(
        said.contains("taken over by another vault folder"),
        "{said}"
    );
}
