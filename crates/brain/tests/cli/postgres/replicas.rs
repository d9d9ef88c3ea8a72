//! Issue 18: several vault folders ("machines": folders and processes of this machine with
//! replica ids of their own) on one PostgreSQL store, kept in step.

use std::collections::BTreeMap;

use crate::postgres::{LIMIT, pg_vault};
use crate::util::TestVault;
use crate::util::daemon::wait_for;

/// The notes of a folder: every `.md` file outside `.brain/`, with its text.
fn notes(v: &TestVault) -> BTreeMap<String, String> {
    v.snapshot()
        .into_iter()
        .filter(|(p, _)| p.ends_with(".md") && !p.starts_with(".brain/"))
        .map(|(p, b)| (p, String::from_utf8_lossy(&b).into_owned()))
        .collect()
}

fn replica_id(v: &TestVault) -> String {
    std::fs::read_to_string(v.path(".brain/replica"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_second_folder_joins_the_store_and_its_notes_are_merged_with_nothing_lost() {
    let (a, url) = pg_vault();
    a.write("alpha.md", "# Alpha\n\nonly in a\n");
    a.write("same.md", "# Same\n\nin both\n");
    a.write("clash.md", "# Clash\n\nthe a version\n");
    a.ok(&["sync"]);
    let b = TestVault::uninitialized();
    b.write("same.md", "# Same\n\nin both\n");
    b.write("clash.md", "# Clash\n\nthe b version\n");
    b.write("beta.md", "# Beta\n\nonly in b\n");
    let init = b.ok(&["--json", "init", "--store", &url]).json();
    assert_eq!(init["other_replicas"], 1, "{init}");
    assert_ne!(
        replica_id(&a),
        replica_id(&b),
        "each folder is a replica of its own"
    );
    assert_eq!(init["replica"], replica_id(&b));

    let report = b.run(&["--json", "sync"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    // Same content is one note; different content under one name is kept both ways.
    let in_b = notes(&b);
    assert_eq!(in_b["alpha.md"], "# Alpha\n\nonly in a\n");
    assert_eq!(in_b["same.md"], "# Same\n\nin both\n");
    // The store's text (the one folder a holds) keeps the name; the joining folder's goes to
    // the conflict copy, so a join never replaces an established note in every folder.
    assert_eq!(in_b["clash.md"], "# Clash\n\nthe a version\n", "{in_b:?}");
    let copies: Vec<&String> = in_b
        .iter()
        .filter(|(p, _)| p.starts_with("clash.conflict-"))
        .map(|(_, t)| t)
        .collect();
    assert_eq!(copies, ["# Clash\n\nthe b version\n"], "{in_b:?}");
    let conflicts = b.ok(&["--json", "conflicts", "list"]).json();
    assert_eq!(conflicts.as_array().map(Vec::len), Some(1), "{conflicts}");

    // The first folder gets the second's notes, and both end with the same files: its own
    // clash.md untouched.
    a.ok(&["sync"]);
    assert_eq!(notes(&a), notes(&b));
    assert_eq!(notes(&a)["clash.md"], "# Clash\n\nthe a version\n");
    let search = a.ok(&["--json", "search", "only"]).json();
    assert_eq!(search.as_array().map(Vec::len), Some(2), "{search}");

    // A third, empty folder is written every note.
    let c = join_empty(&url, 2);
    // A read before its first sync answers the store's text and says the files lag.
    let read = c.ok(&["get", "note/alpha"]);
    assert!(read.stdout.contains("only in a"), "{}", read.stdout);
    assert!(
        read.stderr.contains("behind the store on"),
        "{}",
        read.stderr
    );
    c.ok(&["sync"]);
    let read = c.ok(&["get", "note/alpha"]);
    assert!(!read.stderr.contains("behind the store"), "{}", read.stderr);
    assert_eq!(notes(&c), notes(&a));
    let status = c.ok(&["--json", "status"]).json();
    let replicas = status["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 3, "{status}");
    assert!(
        replicas
            .iter()
            .all(|r| r["behind"] == 0 || r["this"] == false),
        "{status}"
    );
}

/// An empty folder attached to the store of `url`, which serves `others` folders already.
fn join_empty(url: &str, others: u64) -> TestVault {
    let v = TestVault::uninitialized();
    let r = v.ok(&["--json", "init", "--store", url]).json();
    assert_eq!(r["other_replicas"], others, "{r}");
    v
}

#[test]
fn an_edit_of_one_note_in_two_folders_before_either_syncs_keeps_both() {
    let (a, url) = pg_vault();
    a.write("n.md", "# N\n\nfirst\n");
    a.ok(&["sync"]);
    let b = join_empty(&url, 1);
    b.ok(&["sync"]);
    a.write("n.md", "# N\n\nedited in a\n");
    b.write("n.md", "# N\n\nedited in b\n");
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    for v in [&a, &b] {
        let all: Vec<String> = notes(v).into_values().collect();
        assert!(all.iter().any(|t| t.contains("edited in a")), "{all:?}");
        assert!(all.iter().any(|t| t.contains("edited in b")), "{all:?}");
    }
    assert_eq!(notes(&a), notes(&b));
}

#[test]
fn two_daemons_keep_their_folders_in_step_both_ways() {
    let (a, url) = pg_vault();
    a.write("start.md", "# Start\n");
    a.write("Projects/Work/plan.md", "# Plan\n");
    a.ok(&["sync"]);
    let b = join_empty(&url, 1);
    b.ok(&["sync"]);
    let (da, db) = (a.serve(&[]), b.serve(&[]));

    // Saved in a: written in b.
    a.write("saved.md", "# Saved\n\nin a\n");
    wait_for(LIMIT, "a's save to reach b", || {
        (b.path("saved.md").exists() && b.read("saved.md") == b"# Saved\n\nin a\n").then_some(())
    });
    // Edited in b: written in a.
    b.write("saved.md", "# Saved\n\nin a, then b\n");
    wait_for(LIMIT, "b's edit to reach a", || {
        (a.read("saved.md") == b"# Saved\n\nin a, then b\n").then_some(())
    });
    // Written through an interface of a: both folders.
    a.run_stdin(&["put", "note/put"], b"# Put\n\nthrough a\n");
    wait_for(LIMIT, "a's put to reach both folders", || {
        (a.path("put.md").exists() && b.path("put.md").exists()).then_some(())
    });
    // Renamed in a: moved in b, the old name's file in b's trash.
    std::fs::rename(a.path("start.md"), a.path("started.md")).unwrap();
    wait_for(LIMIT, "a's rename to reach b", || {
        (b.path("started.md").exists() && !b.path("start.md").exists()).then_some(())
    });
    // A folder renamed in a: its note moves in b, and no empty old folder stays behind.
    std::fs::rename(a.path("Projects"), a.path("Proj")).unwrap();
    wait_for(LIMIT, "a's folder rename to reach b", || {
        (b.path("Proj/Work/plan.md").exists() && !b.path("Projects").exists()).then_some(())
    });
    // Deleted in a: b's file goes to b's trash, never away.
    std::fs::remove_file(a.path("saved.md")).unwrap();
    wait_for(LIMIT, "a's delete to reach b", || {
        (!b.path("saved.md").exists()).then_some(())
    });
    let trashed = files_under(&b.path(".brain/trash"));
    assert!(
        trashed.iter().any(|t| t == "# Saved\n\nin a, then b\n"),
        "{trashed:?}"
    );
    assert!(trashed.iter().any(|t| t == "# Start\n"), "{trashed:?}");
    assert_eq!(da.stop(), 0);
    assert_eq!(db.stop(), 0);
    assert_eq!(notes(&a), notes(&b));
}

#[test]
fn a_folder_s_jobs_run_only_in_that_folder() {
    let (a, url) = pg_vault();
    let b = join_empty(&url, 1);
    // No daemon: the put queues a's export, which only a worker of a may run.
    a.run_stdin(&["put", "note/mine"], b"# Mine\n");
    let queued = a
        .ok(&["--json", "jobs", "list", "--state", "queued"])
        .json();
    let export = queued
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["type"] == "directory-export")
        .cloned()
        .unwrap_or_else(|| panic!("{queued}"));
    assert_eq!(export["replica"], replica_id(&a), "{export}");
    // b's worker and a worker with no folder each find nothing of theirs to do, and leave.
    b.ok(&["work", "--until-idle"]);
    let r = b.ok(&["--json", "work", "--until-idle", "--store", &url]);
    assert_eq!(r.code, 0);
    assert!(!b.path("mine.md").exists() && !a.path("mine.md").exists());
    let still = a
        .ok(&["--json", "jobs", "show", &export["id"].to_string()])
        .json();
    assert_eq!(still["state"], "queued", "{still}");
    // a's worker runs it, in a's folder only.
    a.ok(&["work", "--until-idle"]);
    assert_eq!(a.read("mine.md"), b"# Mine\n");
    assert!(!b.path("mine.md").exists());
    let done = a
        .ok(&["--json", "jobs", "show", &export["id"].to_string()])
        .json();
    assert_eq!(done["state"], "succeeded", "{done}");
    assert!(done["worker_pid"].is_u64(), "{done}");
    assert!(done["worker_host"].is_string(), "{done}");
    // b gets the note from its own sync.
    b.ok(&["sync"]);
    assert_eq!(b.read("mine.md"), b"# Mine\n");
}

#[test]
fn a_copied_folder_does_not_pass_for_the_replica_it_was_copied_from() {
    let (a, url) = pg_vault();
    a.write("n.md", "# N\n");
    a.ok(&["sync"]);
    let b = join_empty(&url, 1);
    // b's .brain/ copied into a third folder: the same replica id, another folder.
    let c = TestVault::uninitialized();
    copy_dir(&b.path(".brain"), &c.path(".brain"));
    let r = c.run(&["sync"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("is not that folder"), "{}", r.stderr);
    // A damaged replica file is refused, not taken for another replica.
    std::fs::write(b.path(".brain/replica"), "not a replica id!\n").unwrap();
    let r = b.run(&["sync"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains(".brain/replica"), "{}", r.stderr);
}

/// The text of every file under `dir`, at any depth.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(files_under(&entry.path()));
        } else {
            out.push(String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap()).into_owned());
        }
    }
    out
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_folder_gone_for_good_is_forgotten_and_its_notes_stay() {
    let (a, url) = pg_vault();
    a.write("n.md", "# N\n");
    a.ok(&["sync"]);
    let b = join_empty(&url, 1);
    b.ok(&["sync"]);
    let gone = replica_id(&b);
    a.write("later.md", "# Later\n");
    a.ok(&["sync"]);
    let status = a.ok(&["--json", "status"]).json();
    let behind: Vec<_> = status["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"] == gone)
        .map(|r| r["behind"].clone())
        .collect();
    assert_eq!(behind, [1], "{status}");
    // Its own folder cannot forget itself; an unknown id is refused, naming the known ones.
    let r = b.run(&["store", "forget", &gone]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("own replica"), "{}", r.stderr);
    let r = a.run(&["store", "forget", "no-such-folder"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains(&gone),
        "the known ones are named: {}",
        r.stderr
    );
    // b put a note, then its folder went away for good.
    b.run_stdin(&["put", "note/queued-in-b"], b"# Queued in b\n");
    drop(b);
    let r = a.ok(&["--json", "store", "forget", &gone]).json();
    assert_eq!(r["cancelled_jobs"], 1, "b's export is cancelled: {r}");
    let status = a.ok(&["--json", "status"]).json();
    assert_eq!(
        status["replicas"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
    a.ok(&["sync"]);
    assert_eq!(
        a.read("queued-in-b.md"),
        b"# Queued in b\n",
        "the notes stay"
    );
}

#[test]
fn one_name_created_or_edited_in_two_served_folders_at_once_keeps_both_versions() {
    let (a, url) = pg_vault();
    let b = join_empty(&url, 1);
    let (da, db) = (a.serve(&[]), b.serve(&[]));
    let both = |name: &str, in_a: &str, in_b: &str| {
        // Both folders end holding both versions (one of them in a conflict copy).
        wait_for(
            LIMIT,
            &format!("both versions of {name} in both folders"),
            || {
                [&a, &b]
                    .iter()
                    .all(|v| {
                        let texts: Vec<String> = notes(v).into_values().collect();
                        texts.iter().any(|t| t.contains(in_a))
                            && texts.iter().any(|t| t.contains(in_b))
                    })
                    .then_some(())
            },
        );
    };
    for round in 0..4 {
        let name = format!("new{round}.md");
        let (in_a, in_b) = (
            format!("created in a {round}"),
            format!("created in b {round}"),
        );
        std::thread::scope(|s| {
            s.spawn(|| a.write(&name, format!("# New\n\n{in_a}\n")));
            s.spawn(|| b.write(&name, format!("# New\n\n{in_b}\n")));
        });
        both(&name, &in_a, &in_b);
        let (ea, eb) = (
            format!("edited in a {round}"),
            format!("edited in b {round}"),
        );
        std::thread::scope(|s| {
            s.spawn(|| a.write(&name, format!("# New\n\n{ea}\n")));
            s.spawn(|| b.write(&name, format!("# New\n\n{eb}\n")));
        });
        both(&name, &ea, &eb);
    }
    assert_eq!(da.stop(), 0);
    assert_eq!(db.stop(), 0);
}

#[test]
fn a_store_copy_is_refused_while_other_folders_share_the_store() {
    let (a, url) = pg_vault();
    let b = join_empty(&url, 1);
    let r = a.run(&["store", "copy", "--to", "sqlite"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("shared with other folders") && r.stderr.contains(&replica_id(&b)),
        "{}",
        r.stderr
    );
    let config = std::fs::read_to_string(a.path(".brain/config.toml")).unwrap();
    assert!(config.contains("postgres"), "the vault stays on its store");
}

/// A folder that joins with old copies of notes the others deleted (an old laptop, a backup)
/// does not bring them back unseen: a copy of the deleted text itself goes to its trash, and a
/// different text is brought back as a conflict that says so.
#[test]
fn a_joining_folder_does_not_silently_revive_deleted_notes() {
    let (a, url) = pg_vault();
    a.write("gone.md", "# Gone\n\ndeleted later\n");
    a.write("edited.md", "# Edited\n\nas it was\n");
    a.write("Old/moved.md", "# Moved\n\nmoved later\n");
    a.ok(&["sync"]);
    a.ok(&["rm", "note/gone"]);
    a.ok(&["rm", "note/edited"]);
    std::fs::create_dir_all(a.path("New")).unwrap();
    std::fs::rename(a.path("Old/moved.md"), a.path("New/moved.md")).unwrap();
    a.ok(&["sync"]);
    assert!(!a.path("gone.md").exists());

    let c = TestVault::uninitialized();
    c.write("gone.md", "# Gone\n\ndeleted later\n");
    c.write("edited.md", "# Edited\n\nchanged on the old laptop\n");
    c.write("Old/moved.md", "# Moved\n\nmoved later\n");
    c.ok(&["init", "--store", &url]);
    let report = c.ok(&["--json", "sync"]).json();
    // The deleted note's copy and the moved note's copy at its old name go to the trash.
    assert_eq!(report["trashed"], 2, "{report}");
    assert!(!c.path("Old/moved.md").exists());
    assert!(c.path("New/moved.md").exists());
    assert_eq!(c.run(&["get", "note/Old/moved"]).code, 4);
    assert!(
        !c.path("gone.md").exists(),
        "the copy of the deleted text is trashed"
    );
    let trashed = files_under(&c.path(".brain/trash"));
    assert!(
        trashed.iter().any(|t| t.contains("deleted later")),
        "{trashed:?}"
    );
    let missing = c.run(&["get", "note/gone"]);
    assert_eq!(
        missing.code, 4,
        "the note stays deleted: {}",
        missing.stdout
    );

    let conflicts = report["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{report}");
    assert_eq!(conflicts[0]["kind"], "deleted_in_store", "{report}");
    assert!(c.ok(&["get", "note/edited"]).stdout.contains("old laptop"));
    a.ok(&["sync"]);
    assert!(
        a.path("edited.md").exists(),
        "the revived note reaches the other folder"
    );
    assert!(!a.path("gone.md").exists());
    assert!(
        !a.path("Old/moved.md").exists(),
        "nor does a moved note come back"
    );
}

/// A join cut short (or with files it had to skip) is still a join at the next sync: a name
/// held differently here and in the store keeps the store's text, however many bases the first
/// attempt recorded, until a whole sync settles every file.
#[test]
fn a_join_that_did_not_finish_is_still_a_join_at_the_next_sync() {
    let (a, url) = pg_vault();
    a.write("first.md", "# First\n\nfrom a\n");
    a.ok(&["sync"]);
    let c = TestVault::uninitialized();
    c.write("first.md", "# First\n\nfrom c\n");
    c.write("broken.md", [0xff, 0xfe, b'x']);
    c.ok(&["init", "--store", &url]);
    assert_eq!(c.run(&["sync"]).code, 3, "broken.md is skipped");
    assert_eq!(c.read("first.md"), b"# First\n\nfrom a\n");

    // The join is not complete: a name both hold differently still keeps the store's text.
    a.write("second.md", "# Second\n\nfrom a\n");
    a.ok(&["sync"]);
    c.write("second.md", "# Second\n\nfrom c\n");
    assert_eq!(c.run(&["sync"]).code, 3);
    assert_eq!(c.read("second.md"), b"# Second\n\nfrom a\n");

    // Once every file is settled the join is over: a file saved here keeps its name.
    std::fs::remove_file(c.path("broken.md")).unwrap();
    c.ok(&["sync"]);
    a.write("third.md", "# Third\n\nfrom a\n");
    a.ok(&["sync"]);
    c.write("third.md", "# Third\n\nfrom c\n");
    c.ok(&["sync"]);
    assert_eq!(c.read("third.md"), b"# Third\n\nfrom c\n");
    let copies: Vec<String> = notes(&c)
        .into_iter()
        .filter(|(p, _)| p.starts_with("third.conflict-"))
        .map(|(_, t)| t)
        .collect();
    assert_eq!(copies, ["# Third\n\nfrom a\n"]);
}

/// A note edited and then moved at once through one folder's CLI, with both folders' daemons
/// running: each folder ends with the note at its new path only, its old file in that folder's
/// trash, one history, and no conflict (issue 19; hostile review F13, where the other folder's
/// export raced the move and brought the old note back).
#[test]
fn an_edit_then_a_move_reaches_every_served_folder_as_one_note() {
    let (a, url) = pg_vault();
    for i in 0..5 {
        a.write(
            &format!("u{i}.md"),
            format!("---\nstatus: a\n---\n# U{i}\n"),
        );
    }
    a.ok(&["sync"]);
    let b = join_empty(&url, 1);
    b.ok(&["sync"]);
    let (da, db) = (a.serve(&[]), b.serve(&[]));
    for i in 0..5 {
        a.ok(&["edit", &format!("note/u{i}"), "--set", "status=b"]);
        a.ok(&[
            "mv",
            &format!("note/u{i}"),
            &format!("note/moved/u{i}"),
            "-m",
            "filed",
        ]);
    }
    for v in [&a, &b] {
        wait_for(LIMIT, "the moves to reach the folder", || {
            (0..5)
                .all(|i| {
                    v.path(&format!("moved/u{i}.md")).exists()
                        && !v.path(&format!("u{i}.md")).exists()
                })
                .then_some(())
        });
    }
    assert_eq!(da.stop(), 0);
    assert_eq!(db.stop(), 0);
    for v in [&a, &b] {
        let all = notes(v);
        assert_eq!(all.len(), 5, "{all:?}");
        for i in 0..5 {
            assert_eq!(
                all[&format!("moved/u{i}.md")],
                format!("---\nstatus: b\n---\n# U{i}\n")
            );
        }
        let conflicts = v.ok(&["--json", "conflicts", "list"]).json();
        assert_eq!(conflicts, serde_json::json!([]), "{conflicts}");
    }
    let h = b.ok(&["--json", "history", "note/moved/u0"]).json();
    assert_eq!(h.as_array().unwrap().len(), 3, "{h}");
}

#[path = "replicas/per_folder.rs"]
mod per_folder;
