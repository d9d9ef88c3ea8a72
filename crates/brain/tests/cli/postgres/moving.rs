//! `brain store copy`: a vault's brain moved from SQLite to PostgreSQL and back, nothing lost,
//! a non-empty target refused without --force.

use super::{TestVault, fresh_database};

#[test]
fn a_brain_moves_to_postgres_and_back_with_nothing_lost() {
    let v = TestVault::new();
    v.write("a.md", "# A\n\nalpha words\n");
    v.write("b.md", "# B\n\nbeta words\n");
    v.write("c.md", "# C\n\ngamma words\n");
    v.ok(&["sync"]);
    v.ok(&["rm", "note/c"]);
    v.write("b.md", "# B\n\nfile side\n");
    v.run_stdin(&["put", "note/b"], b"# B\n\nstore side\n");
    v.run(&["sync"]);
    let before = v.ok(&["--json", "list", "--deleted"]).json();
    let conflicts_before = v.ok(&["--json", "conflicts", "list"]).json();
    let url = fresh_database();
    let copied = v.ok(&["--json", "store", "copy", "--to", &url]).json();
    assert_eq!(copied["verified"], true, "{copied}");
    assert_eq!(copied["copied"]["deleted"], 1, "{copied}");
    // The vault now reads from PostgreSQL, the same brain.
    assert_eq!(v.ok(&["--json", "list", "--deleted"]).json(), before);
    assert_eq!(
        v.ok(&["--json", "conflicts", "list"]).json(),
        conflicts_before
    );
    assert_eq!(v.ok(&["get", "note/a"]).stdout, "# A\n\nalpha words\n");
    v.ok(&["restore", "note/c"]);
    v.ok(&["sync"]);
    assert!(v.path("c.md").exists());
    // Back to SQLite: the old file is there, so without --force it is refused, and kept.
    let r = v.run(&["store", "copy", "--to", "sqlite"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("not empty") && r.stderr.contains("--force"),
        "{}",
        r.stderr
    );
    let back = v
        .ok(&["--json", "store", "copy", "--to", "sqlite", "--force"])
        .json();
    assert_eq!(back["verified"], true, "{back}");
    let old: Vec<_> = std::fs::read_dir(v.path(".brain"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("brain.db.old-"))
        .collect();
    assert!(
        !old.is_empty(),
        "the replaced SQLite file is kept beside the new one"
    );
    assert_eq!(v.ok(&["get", "note/c"]).stdout, "# C\n\ngamma words\n");
    // Into a database that holds another brain: refused.
    let other = TestVault::new();
    other.write("x.md", "# X\n");
    other.ok(&["sync"]);
    let r = other.run(&["store", "copy", "--to", &url]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("belongs to the vault folder"),
        "{}",
        r.stderr
    );
}
