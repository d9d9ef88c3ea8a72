//! Issue 2: bad input is reported per file with a reason, skipped, and never modified.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod util;

use std::collections::BTreeMap;

use util::{TestVault, listed};

fn skipped_of(report: &serde_json::Value) -> BTreeMap<String, String> {
    report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn adversarial_vault_is_reported_skipped_and_untouched() {
    let v = TestVault::generated(40, true);
    v.set_config("[sync]\nmax_file_bytes = 1048576\n");
    std::os::unix::fs::symlink(v.root(), v.path("zz-adversarial/loop")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", v.path("outside.md")).unwrap();
    let before = v.snapshot();

    let r = v.run(&["--json", "sync"]);
    assert_eq!(r.code, 3, "complete-with-skipped exit code\n{}", r.stderr);
    let report = r.json();
    let skipped = skipped_of(&report);
    let expect = [
        ("zz-adversarial/invalid-yaml.md", "invalid YAML"),
        ("zz-adversarial/unterminated-frontmatter.md", "never closed"),
        ("zz-adversarial/empty.md", "empty file"),
        ("zz-adversarial/binary-image.md", "binary data"),
        ("zz-adversarial/invalid-utf8.md", "invalid UTF-8"),
        ("zz-adversarial/huge-5mb.md", "over the limit"),
        ("zz-adversarial/loop", "symbolic link"),
        ("outside.md", "symbolic link"),
    ];
    for (path, reason) in expect {
        let got = skipped
            .get(path)
            .unwrap_or_else(|| panic!("{path} not reported: {skipped:#?}"));
        assert!(got.contains(reason), "{path}: {got}");
    }
    let collisions: Vec<_> = skipped
        .iter()
        .filter(|(_, r)| r.contains("Unicode normalization"))
        .collect();
    assert_eq!(
        collisions.len(),
        1,
        "one of the NFC/NFD pair is a conflict: {skipped:#?}"
    );
    assert_eq!(skipped.len(), expect.len() + 1, "{skipped:#?}");
    assert_eq!(report["conflicts"].as_array().unwrap().len(), 1);

    let notes = listed(&v, &[]);
    assert!(
        notes.len() >= 40 + 12,
        "regular and odd-but-valid notes imported: {}",
        notes.len()
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("note/zz-adversarial/long-xxx"))
    );
    assert!(notes.iter().any(|n| n.contains("日本語のノート")));
    assert!(notes.iter().any(|n| n.contains("🚀 rocket launch 🎉")));
    let numeric = v
        .ok(&["--json", "get", "note/zz-adversarial/numeric-title"])
        .json();
    assert_eq!(numeric["title"], "12345");
    let bom = v.ok(&["get", "note/zz-adversarial/bom-crlf"]).stdout;
    assert!(bom.starts_with('\u{feff}') && bom.contains("\r\n"));

    assert_eq!(v.snapshot(), before, "sync modified files on disk");
    let again = v.run(&["--json", "sync"]);
    assert_eq!(again.code, 3);
    let again = again.json();
    assert_eq!(again["imported"], 0);
    assert_eq!(
        skipped_of(&again).len(),
        expect.len() + 1,
        "bad files are retried each sync"
    );
    assert_eq!(v.snapshot(), before);

    std::fs::write(
        v.path("zz-adversarial/invalid-yaml.md"),
        "---\ntitle: Fixed\n---\nnow valid\n",
    )
    .unwrap();
    let fixed = v.run(&["--json", "sync"]).json();
    assert_eq!(
        fixed["imported"], 1,
        "a fixed file is imported on the next sync: {fixed}"
    );
}

#[test]
fn unreadable_file_is_skipped_and_retried() {
    use std::os::unix::fs::PermissionsExt;
    let v = TestVault::new();
    v.write("ok.md", "fine\n");
    v.write("locked.md", "secret\n");
    std::fs::set_permissions(v.path("locked.md"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut cmd = util::without_root_override(v.cmd());
    let out: util::Run = cmd.args(["--json", "sync"]).output().unwrap().into();
    assert_eq!(out.code, 3, "{}", out.stderr);
    let report = out.json();
    let skipped = skipped_of(&report);
    assert!(
        skipped["locked.md"].contains("permission denied"),
        "{skipped:?}"
    );
    assert_eq!(listed(&v, &[]), ["note/ok"]);
    std::fs::set_permissions(v.path("locked.md"), std::fs::Permissions::from_mode(0o644)).unwrap();
    // Restoring permissions does not change size or mtime; the file has no base, so it is read.
    let r = v.sync();
    assert_eq!(r["imported"], 1, "{r}");
}

#[test]
fn unreadable_folder_is_not_a_deletion() {
    use std::os::unix::fs::PermissionsExt;
    let v = TestVault::new();
    v.write("sub/a.md", "a\n");
    v.write("top.md", "t\n");
    v.sync();
    std::fs::set_permissions(v.path("sub"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut cmd = util::without_root_override(v.cmd());
    let out: util::Run = cmd.args(["--json", "sync"]).output().unwrap().into();
    std::fs::set_permissions(v.path("sub"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(out.json()["deleted"], 0);
    assert_eq!(listed(&v, &[]), ["note/sub/a", "note/top"]);
}
