//! [`Repo::set_aside_brainignored`] against the real `git`: before a merge, every file a
//! `.brainignore` excludes that the merge would overwrite and that differs here is moved out
//! of the way, byte for byte, so the merge goes through and no local version is lost.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{init, open, run, write};

use std::path::Path;

fn commit_all(dir: &Path, message: &str) {
    run(dir, &["add", "-A"]);
    run(dir, &["commit", "-q", "-m", message]);
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

/// Issue 13: a merge touching files a `.brainignore` excludes never stops on them ("would be
/// overwritten by merge"), and every version of this device that differs from both sides is
/// kept in a copy git never stages; files the merge does not touch, or that match what it
/// writes, are left alone or take no copy.
#[test]
fn issue13_a_merge_never_stops_on_brainignored_files_and_every_local_version_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(root);
    write(root, "drafts/edited.md", "base\n");
    write(root, "drafts/deleted-there.md", "base\n");
    write(root, "drafts/quiet-there.md", "base\n");
    write(root, "drafts/quiet-here.md", "base\n");
    write(root, "only.md", "base\n");
    commit_all(root, "base");
    run(root, &["checkout", "-q", "-b", "other"]);
    write(root, "drafts/edited.md", "theirs\n");
    std::fs::remove_file(root.join("drafts/deleted-there.md")).unwrap();
    write(root, "drafts/quiet-here.md", "theirs\n");
    write(root, "drafts/added-there.md", "theirs\n");
    write(root, "drafts/same-there.md", "same\n");
    write(root, "only.md", "theirs\n");
    commit_all(root, "theirs");
    run(root, &["checkout", "-q", "main"]);
    // Excluded from now on (the pattern excludes the copies beside them too), then edited.
    write(root, ".brainignore", "drafts/\nonly.md\n");
    commit_all(root, "ignore drafts");
    write(root, "drafts/edited.md", "mine\n");
    write(root, "drafts/deleted-there.md", "mine\n");
    write(root, "drafts/quiet-there.md", "mine\n");
    write(root, "drafts/added-there.md", "mine\n");
    write(root, "drafts/same-there.md", "same\n");
    write(root, "only.md", "mine\n");

    let repo = open(root);
    let kept = repo.set_aside_brainignored("other", "S").unwrap();
    let copies: Vec<(&str, &str)> = kept
        .iter()
        .map(|k| (k.path.as_str(), k.copy_path.as_deref().unwrap()))
        .collect();
    assert_eq!(
        copies,
        [
            ("drafts/added-there.md", "drafts/added-there.conflict-S.md"),
            (
                "drafts/deleted-there.md",
                "drafts/deleted-there.conflict-S.md"
            ),
            ("drafts/edited.md", "drafts/edited.conflict-S.md"),
            // `only.md` alone is excluded: a copy beside it would be committed.
            ("only.md", ".brain/kept/only.conflict-S.md"),
        ]
    );
    for (_, copy) in &copies {
        assert_eq!(read(root, copy), "mine\n", "{copy}");
    }
    assert_eq!(kept[2].ours.as_deref(), Some("mine\n"));
    assert_eq!(kept[2].theirs.as_deref(), Some("theirs\n"));
    assert!(
        kept[1].detail.contains("the remote deleted"),
        "{}",
        kept[1].detail
    );
    // Untouched by the merge: left as edited here.
    assert_eq!(read(root, "drafts/quiet-there.md"), "mine\n");

    run(root, &["merge", "-q", "--no-edit", "other"]);
    assert_eq!(read(root, "drafts/edited.md"), "theirs\n");
    assert_eq!(read(root, "drafts/added-there.md"), "theirs\n");
    assert_eq!(read(root, "drafts/same-there.md"), "same\n");
    assert_eq!(read(root, "drafts/quiet-here.md"), "theirs\n");
    assert_eq!(read(root, "only.md"), "theirs\n");
    assert!(!root.join("drafts/deleted-there.md").exists());
    assert_eq!(read(root, "drafts/quiet-there.md"), "mine\n");
    // Nothing of this device's versions was committed.
    let committed = run(root, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(!committed.contains("conflict"), "{committed}");
    assert!(!committed.contains(".brain/"), "{committed}");
}
