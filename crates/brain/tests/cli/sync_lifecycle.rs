//! Issue 2: a vault synced into the embedded store, driven through the real binary.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use crate::util;

use util::{TestVault, listed};

#[test]
fn init_creates_state_and_is_idempotent() {
    let v = TestVault::uninitialized();
    let r = v.run(&["list"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("brain init"), "{}", r.stderr);
    v.ok(&["init"]);
    let config = std::fs::read_to_string(v.path(".brain/config.toml")).unwrap();
    assert_eq!(config, brain_default_config(&v));
    assert!(v.path(".brain/brain.db").is_file());
    assert_eq!(
        std::fs::read_to_string(v.path(".brain/.gitignore"))
            .unwrap()
            .lines()
            .last(),
        Some("*")
    );
    std::fs::write(
        v.path(".brain/config.toml"),
        "[sync]\nmax_file_bytes = 10\n",
    )
    .unwrap();
    let again = v.ok(&["--json", "init"]).json();
    assert_eq!(again["created"], false);
    assert_eq!(
        std::fs::read_to_string(v.path(".brain/config.toml")).unwrap(),
        "[sync]\nmax_file_bytes = 10\n"
    );
}

fn brain_default_config(v: &TestVault) -> String {
    v.ok(&["config", "default"]).stdout
}

#[test]
fn sync_applies_exactly_the_changes_made() {
    let v = TestVault::new();
    v.write("a.md", "# Alpha\n\nfirst\n");
    v.write("dir/b.md", "---\ntitle: Bravo\n---\nbody b\n");
    v.write("c.md", "charlie\n");
    let r = v.sync();
    assert_eq!(
        (
            r["imported"].as_u64(),
            r["skipped"].as_array().unwrap().len()
        ),
        (Some(3), 0)
    );

    let before = v.snapshot();
    let r = v.sync();
    assert_eq!(r["imported"], 0);
    assert_eq!(r["updated"], 0);
    assert_eq!(r["exported"], 0);
    assert_eq!(r["unchanged"], 3);
    assert_eq!(v.snapshot(), before, "a no-change sync wrote to the vault");

    v.write("a.md", "# Alpha\n\nsecond version\n");
    v.write("d.md", "delta\n");
    let created_b = v.ok(&["--json", "get", "note/dir/b"]).json()["created"].clone();
    std::fs::rename(v.path("dir/b.md"), v.path("dir/b2.md")).unwrap();
    std::fs::remove_file(v.path("c.md")).unwrap();
    let r = v.sync();
    assert_eq!(r["updated"], 1, "{r}");
    assert_eq!(r["imported"], 1, "{r}");
    assert_eq!(r["renamed"], 1, "{r}");
    assert_eq!(r["deleted"], 1, "{r}");

    assert_eq!(listed(&v, &[]), ["note/a", "note/d", "note/dir/b2"]);
    assert_eq!(
        v.ok(&["get", "note/a"]).stdout,
        "# Alpha\n\nsecond version\n"
    );
    let moved = v.ok(&["--json", "get", "note/dir/b2"]).json();
    assert_eq!(
        moved["created"], created_b,
        "a rename keeps the entity's history"
    );
    assert_eq!(moved["title"], "Bravo");
    assert_eq!(v.run(&["get", "note/c"]).code, 4);
    assert!(listed(&v, &["--deleted"]).contains(&"note/c".to_string()));
}

#[test]
fn put_and_rm_reach_the_files_on_next_sync() {
    let v = TestVault::new();
    v.write("keep.md", "keep\n");
    v.sync();
    let text = "---\ntitle: New one\ntags: [x]\n---\n\r\nCRLF body\r\n";
    let r = v.run_stdin(&["--json", "put", "note/inbox/new"], text.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["outcome"], "created");
    assert!(
        !v.path("inbox/new.md").exists(),
        "put writes the file only through sync"
    );
    let r = v.sync();
    assert_eq!(r["exported"], 1);
    assert_eq!(v.read("inbox/new.md"), text.as_bytes());
    assert_eq!(
        v.sync()["exported"],
        0,
        "an export does not come back as an import or export"
    );

    let f = v.path("update.md");
    std::fs::write(&f, "# Updated keep\n").unwrap();
    v.ok(&["put", "note/keep", "--file", f.to_str().unwrap()]);
    v.sync();
    assert_eq!(v.read("keep.md"), b"# Updated keep\n");

    v.ok(&["rm", "note/keep"]);
    assert!(v.path("keep.md").exists());
    let r = v.sync();
    assert_eq!(r["trashed"], 1);
    assert!(!v.path("keep.md").exists());
    let trashed: Vec<_> = std::fs::read_dir(v.path(".brain/trash")).unwrap().collect();
    assert_eq!(trashed.len(), 1);
    let trash_dir = trashed[0].as_ref().unwrap().path();
    assert_eq!(
        std::fs::read(trash_dir.join("keep.md")).unwrap(),
        b"# Updated keep\n"
    );

    v.ok(&["restore", "note/keep"]);
    assert_eq!(v.sync()["exported"], 1);
    assert_eq!(v.read("keep.md"), b"# Updated keep\n");
}

#[test]
fn rm_then_restore_before_sync_rewrites_nothing() {
    let v = TestVault::new();
    v.write("x.md", "x\n");
    v.sync();
    let mtime = std::fs::metadata(v.path("x.md"))
        .unwrap()
        .modified()
        .unwrap();
    v.ok(&["rm", "note/x"]);
    v.ok(&["restore", "note/x"]);
    let r = v.sync();
    assert_eq!(
        (r["exported"].as_u64(), r["trashed"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    assert_eq!(
        std::fs::metadata(v.path("x.md"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
}

#[test]
fn change_on_both_sides_keeps_both_versions() {
    let v = TestVault::new();
    v.write("a.md", "base\n");
    v.sync();
    v.run_stdin(&["put", "note/a"], b"store side\n");
    v.write("a.md", "file side, longer\n");
    let r = v.sync();
    let conflicts = r["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{r}");
    let copy = conflicts[0]["copy_path"].as_str().unwrap().to_string();
    assert!(
        copy.starts_with("a.conflict-") && copy.ends_with(".md"),
        "{copy}"
    );
    assert_eq!(v.read("a.md"), b"file side, longer\n");
    assert_eq!(v.read(&copy), b"store side\n");
    assert_eq!(v.ok(&["get", "note/a"]).stdout, "file side, longer\n");

    let list = v.ok(&["--json", "conflicts", "list"]).json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let id = list[0]["id"].as_i64().unwrap().to_string();
    let shown = v.ok(&["--json", "conflicts", "show", &id]).json();
    assert_eq!(shown["store_content"], "store side\n");
    assert_eq!(shown["file_content"], "file side, longer\n");
    v.ok(&["conflicts", "resolve", &id]);
    assert_eq!(
        v.ok(&["--json", "conflicts", "list"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(v.run(&["conflicts", "show", "999"]).code, 4);
    let again = v.sync();
    assert_eq!(again["conflicts"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(
        again["imported"], 0,
        "the conflict copy was already imported: {again}"
    );
}

#[test]
fn db_wins_policy_overwrites_file_but_keeps_it_in_the_record() {
    let v = TestVault::new();
    v.set_config("[sync]\nconflict_policy = \"db-wins\"\n");
    v.write("a.md", "base\n");
    v.sync();
    v.run_stdin(&["put", "note/a"], b"store side\n");
    v.write("a.md", "file side, longer\n");
    let r = v.sync();
    assert_eq!(r["conflicts"].as_array().unwrap().len(), 1);
    assert_eq!(v.read("a.md"), b"store side\n");
    let list = v.ok(&["--json", "conflicts", "list"]).json();
    let id = list[0]["id"].as_i64().unwrap().to_string();
    assert_eq!(
        v.ok(&["--json", "conflicts", "show", &id]).json()["file_content"],
        "file side, longer\n"
    );
}

#[test]
fn deleted_file_with_changed_entity_is_restored() {
    let v = TestVault::new();
    v.write("a.md", "base\n");
    v.sync();
    v.run_stdin(&["put", "note/a"], b"newer in store\n");
    std::fs::remove_file(v.path("a.md")).unwrap();
    let r = v.sync();
    assert_eq!(r["conflicts"][0]["kind"], "deleted_on_disk", "{r}");
    assert_eq!(v.read("a.md"), b"newer in store\n");
}

#[test]
fn mass_delete_is_refused_and_deletes_nothing() {
    let v = util::vault_after_deleting(20);
    let r = v.run(&["sync"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("--allow-mass-delete"), "{}", r.stderr);
    assert_eq!(listed(&v, &[]).len(), 30);
    let r = v.ok(&["--json", "sync", "--allow-mass-delete"]).json();
    assert_eq!(r["deleted"], 20);
    assert_eq!(listed(&v, &[]).len(), 10);
}

#[test]
fn unreadable_vault_root_fails_and_changes_nothing() {
    let v = TestVault::new();
    v.write("a.md", "a\n");
    v.sync();
    let mut perms = std::fs::metadata(v.root()).unwrap().permissions();
    use std::os::unix::fs::PermissionsExt;
    perms.set_mode(0o311);
    std::fs::set_permissions(v.root(), perms.clone()).unwrap();
    let mut cmd = util::without_root_override(v.cmd());
    let out: util::Run = cmd.arg("sync").output().unwrap().into();
    perms.set_mode(0o755);
    std::fs::set_permissions(v.root(), perms).unwrap();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot read the vault folder"),
        "{}",
        out.stderr
    );
    assert_eq!(listed(&v, &[]), ["note/a"]);
}

#[test]
fn type_folders_map_and_bad_ids_are_refused() {
    let v = TestVault::new();
    v.set_config("[vault]\nentity_types = [\"topic\"]\n");
    v.write("topic/rust.md", "# Rust\n");
    v.write("Topic/other.md", "# Other\n");
    v.sync();
    assert_eq!(listed(&v, &[]), ["note/Topic/other", "topic/rust"]);
    assert_eq!(listed(&v, &["--type", "topic"]), ["topic/rust"]);
    // An id refused as unsafe is a refusal (1) that says why; a type the vault does not have
    // is a usage mistake (2), as `brain --help` documents (issue 14: was 1 for all of them).
    for (bad, code, why) in [
        ("note/../escape", 1, "would leave its folder"),
        ("note//abs", 1, "absolute path"),
        ("note/topic/x", 1, "topic/"),
        ("note/.hidden/x", 1, ".hidden"),
        ("nosuchtype/x", 2, "unknown type 'nosuchtype'"),
    ] {
        let r = v.run_stdin(&["put", bad], b"x\n");
        assert_eq!(r.code, code, "{bad}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(&format!("{bad} was not stored")) && r.stderr.contains(why),
            "{bad}: the reason ({why}) is said: {}",
            r.stderr
        );
        // The id is judged before the content: an empty stdin does not hide the reason.
        let r = v.run_stdin(&["put", bad], b"");
        assert_eq!(r.code, code, "{bad}, empty stdin: {}", r.stderr);
        assert!(r.stderr.contains(why), "{bad}, empty stdin: {}", r.stderr);
    }
    let r = v.run_stdin(&["put", "note/bad-yaml"], b"---\ntitle: [x\n---\n");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("invalid YAML"), "{}", r.stderr);
    assert_eq!(listed(&v, &[]).len(), 2, "a refused put stores nothing");
    v.sync();
    assert!(
        !v.path("escape.md").exists() && !v.root().parent().unwrap().join("escape.md").exists()
    );
}

#[test]
fn search_ranks_filters_and_highlights() {
    let v = TestVault::new();
    v.set_config("[vault]\nentity_types = [\"topic\"]\n");
    v.write(
        "topic/ferris.md",
        "---\ntitle: Ferris the crab\ntags: [rust]\n---\nFerris is the Rust mascot.\n",
    );
    v.write(
        "notes/crab-cakes.md",
        "# Crab cakes\n\nA recipe with crab and old bay. #cooking\n",
    );
    v.write(
        "notes/other.md",
        "# Other\n\nNothing about crustaceans here, only a café.\n",
    );
    v.sync();
    let hits = v.ok(&["--json", "search", "crab"]).json();
    let ids: Vec<_> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(hits[0]["snippet"].as_str().unwrap().contains("⟦"), "{hits}");
    assert!(hits[0]["score"].as_f64().unwrap() >= hits[1]["score"].as_f64().unwrap());
    let only_topic = v
        .ok(&["--json", "search", "crab", "--type", "topic"])
        .json();
    assert_eq!(only_topic.as_array().unwrap().len(), 1);
    assert_eq!(only_topic[0]["type"], "topic");
    let tagged = v
        .ok(&["--json", "search", "crab", "--tag", "cooking"])
        .json();
    assert_eq!(tagged[0]["id"], "notes/crab-cakes");
    assert_eq!(tagged.as_array().unwrap().len(), 1);
    assert_eq!(
        v.ok(&["--json", "search", "\"rust mascot\""])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        v.ok(&["--json", "search", "crust*"]).json()[0]["id"],
        "notes/other"
    );
    assert_eq!(
        v.ok(&["--json", "search", "cafe"]).json()[0]["id"],
        "notes/other"
    );
    assert_eq!(
        v.ok(&["--json", "search", "crab", "--limit", "1"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        v.ok(&["--json", "search", "crab -recipe"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let text = v.ok(&["search", "mascot"]).stdout;
    assert!(text.contains("Ferris the crab"), "{text}");
}

#[test]
fn logseq_graph_properties_and_namespaces() {
    let v = TestVault::new();
    v.write("logseq/config.edn", "{}\n");
    v.write("logseq/bak/pages/old.md", "backup, not a note\n");
    v.write(
        "pages/Project___Alpha.md",
        "type:: project\ntags:: work, [[deep dive]]\n\n- first block\n",
    );
    v.write("pages/Titled.md", "title:: Real Title\n\n- x\n");
    v.write("journals/2024_01_02.md", "- did things\n");
    v.sync();
    assert_eq!(
        listed(&v, &[]),
        [
            "note/journals/2024_01_02",
            "note/pages/Project___Alpha",
            "note/pages/Titled"
        ]
    );
    let alpha = v
        .ok(&["--json", "get", "note/pages/Project___Alpha"])
        .json();
    assert_eq!(alpha["title"], "Project/Alpha");
    assert_eq!(alpha["metadata"]["type"], "project");
    assert_eq!(alpha["tags"], serde_json::json!(["deep dive", "work"]));
    assert_eq!(
        v.ok(&["--json", "get", "note/pages/Titled"]).json()["title"],
        "Real Title"
    );
    assert_eq!(
        v.ok(&["get", "note/pages/Project___Alpha"]).stdout,
        "type:: project\ntags:: work, [[deep dive]]\n\n- first block\n"
    );
}

#[test]
fn every_read_command_prints_one_json_document() {
    let v = TestVault::new();
    v.write("a.md", "# A\n\nhello world\n");
    for args in [
        vec!["--json", "sync"],
        vec!["--json", "list"],
        vec!["--json", "search", "hello"],
        vec!["--json", "get", "note/a"],
        vec!["--json", "conflicts", "list"],
        vec!["--json", "config", "show"],
    ] {
        let r = v.ok(&args);
        let doc = r.json();
        let arrays = ["list", "search", "conflicts"];
        assert_eq!(doc.is_array(), arrays.contains(&args[1]), "{args:?}: {doc}");
        assert_eq!(
            r.stdout.trim_end().lines().count(),
            1,
            "{args:?} printed more than one line"
        );
    }
    let err = v.run(&["--json", "get", "note/missing"]);
    assert_eq!(err.code, 4);
    assert!(
        err.json()["error"]
            .as_str()
            .unwrap()
            .contains("note/missing")
    );
}

#[test]
fn config_show_never_prints_the_git_token() {
    let v = TestVault::new();
    let shown = v
        .cmd()
        .env("BRAIN_GIT_TOKEN", "s3cr3t-token")
        .args(["--json", "config", "show"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(doc["git"]["token"], "***", "the token is set, and hidden");
    assert!(!String::from_utf8_lossy(&shown.stdout).contains("s3cr3t"));
}
