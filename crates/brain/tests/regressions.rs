//! Issue 2 regressions found in review: each would have lost a version or broken sync.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod util;

use std::os::unix::fs::PermissionsExt;

use util::{TestVault, listed};

#[test]
fn issue2_repeated_conflicts_keep_every_losing_version() {
    let v = TestVault::new();
    v.set_config("[sync]\nconflict_policy = \"file-wins\"\n");
    v.write("a.md", "base\n");
    v.sync();
    for round in ["store v1", "store v2 precious"] {
        v.run_stdin(&["put", "note/a"], format!("{round}\n").as_bytes());
        v.write("a.md", format!("file side of {round}, longer\n"));
        assert_eq!(v.sync()["conflicts"].as_array().unwrap().len(), 1);
    }
    let list = v.ok(&["--json", "conflicts", "list"]).json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let kept: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let id = c["id"].as_i64().unwrap().to_string();
            v.ok(&["--json", "conflicts", "show", &id]).json()["store_content"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        kept.contains(&"store v2 precious\n".to_string()),
        "{kept:?}"
    );
    assert!(kept.contains(&"store v1\n".to_string()), "{kept:?}");
}

#[test]
fn issue2_adding_an_entity_type_moves_existing_notes() {
    let v = TestVault::new();
    v.write("topic/rust.md", "# Rust\n");
    v.sync();
    assert_eq!(listed(&v, &[]), ["note/topic/rust"]);
    v.set_config("[vault]\nentity_types = [\"topic\"]\n");
    v.write("topic/rust.md", "# Rust\n\nedited\n");
    let r = v.sync();
    assert_eq!(r["renamed"], 1, "{r}");
    assert_eq!(listed(&v, &[]), ["topic/rust"]);
    assert_eq!(v.sync()["unchanged"], 1);
    v.ok(&["rm", "topic/rust"]);
    assert_eq!(v.sync()["trashed"], 1);
    assert!(listed(&v, &[]).is_empty());
}

#[test]
fn issue2_a_new_file_never_erases_a_deleted_note() {
    let v = TestVault::new();
    v.write("b.md", "old B important\n");
    v.write("a.md", "note a\n");
    v.sync();
    std::fs::remove_file(v.path("b.md")).unwrap();
    v.sync();
    std::fs::rename(v.path("a.md"), v.path("b.md")).unwrap();
    v.sync();
    v.write("a.md", "a new a\n");
    v.sync();
    std::fs::remove_file(v.path("a.md")).unwrap();
    v.sync();
    v.write("a.md", "yet another a\n");
    v.sync();
    let deleted = listed(&v, &["--deleted"]);
    let mut found_b = false;
    let mut found_a = false;
    for name in deleted.iter().filter(|n| n.contains(".deleted-")) {
        let restored = v.ok(&["--json", "restore", name]).json();
        found_b |= restored["content"] == "old B important\n";
        found_a |= restored["content"] == "a new a\n";
    }
    assert!(found_b && found_a, "deleted versions lost: {deleted:?}");
}

#[test]
fn issue2_a_folder_that_cannot_be_entered_is_not_a_deletion() {
    let v = TestVault::new();
    v.write("locked/a.md", "a\n");
    v.sync();
    std::fs::set_permissions(v.path("locked"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = util::without_root_override(v.cmd());
    let out: util::Run = cmd.args(["--json", "sync"]).output().unwrap().into();
    std::fs::set_permissions(v.path("locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(out.json()["deleted"], 0);
    assert_eq!(listed(&v, &[]), ["note/locked/a"]);
}

#[test]
fn issue2_puts_never_write_through_links_or_into_ignored_folders() {
    let v = TestVault::new();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), v.path("ext")).unwrap();
    v.write(".brainignore", "drafts/\n");
    v.write("drafts/keep.md", "ignored\n");
    for id in ["note/ext/evil", "note/drafts/plan"] {
        let r = v.run_stdin(&["put", id], b"x\n");
        assert_eq!(r.code, 1, "{id}: {}", r.stdout);
        assert!(r.stderr.contains("was not stored"), "{}", r.stderr);
    }
    assert_eq!(v.run(&["sync"]).code, 3, "the link is reported as skipped");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    assert!(listed(&v, &[]).is_empty());
}

#[test]
fn issue2_export_keeps_a_private_note_private() {
    let v = TestVault::new();
    v.write("secret.md", "one\n");
    std::fs::set_permissions(v.path("secret.md"), std::fs::Permissions::from_mode(0o600)).unwrap();
    v.sync();
    v.run_stdin(&["put", "note/secret"], b"two\n");
    assert_eq!(v.sync()["exported"], 1);
    let mode = std::fs::metadata(v.path("secret.md"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn issue2_an_edit_that_restores_the_mtime_is_still_seen() {
    let v = TestVault::new();
    v.write("a.md", "aaaa\n");
    v.sync();
    let mtime = std::fs::metadata(v.path("a.md"))
        .unwrap()
        .modified()
        .unwrap();
    v.write("a.md", "bbbb\n");
    let f = std::fs::File::options()
        .write(true)
        .open(v.path("a.md"))
        .unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    let r = v.sync();
    assert_eq!(r["updated"], 1, "{r}");
    assert_eq!(v.ok(&["get", "note/a"]).stdout, "bbbb\n");
}

/// Found in the issue 6 review: `brain rm` then `brain put` (or MCP `delete` then `create`) of
/// one id before the delete's export ran brought the row back with the new content, and the
/// export wrote it over the only copy of the deleted note.
#[test]
fn issue6_writing_a_deleted_note_again_keeps_the_deleted_file() {
    let v = TestVault::new();
    v.write("orig.md", "# keep\nIMPORTANT ORIGINAL\n");
    v.sync();
    v.ok(&["rm", "note/orig"]);
    v.run_stdin(&["put", "note/orig"], b"# new\nreplacement\n");
    v.sync();
    assert_eq!(v.read("orig.md"), b"# new\nreplacement\n");
    let trash = v.path(".brain/trash");
    let kept: Vec<Vec<u8>> = std::fs::read_dir(&trash)
        .unwrap()
        .map(|stamp| std::fs::read(stamp.unwrap().path().join("orig.md")).unwrap())
        .collect();
    assert_eq!(kept, vec![b"# keep\nIMPORTANT ORIGINAL\n".to_vec()]);
}
