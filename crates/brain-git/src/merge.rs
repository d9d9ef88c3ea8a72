//! Settling a merge that stopped on conflicts, without conflict markers and without losing a
//! side: every unmerged file ends with one whole version at its path and, when the other side
//! had a different version, that version whole in a conflict copy beside it.
//!
//! - changed on both sides: this device's version stays, the remote's goes to
//!   `<name>.conflict-<stamp>.<ext>`;
//! - deleted on one side, changed on the other: the changed version is kept (a delete never wins
//!   over an edit it did not see);
//! - added on both sides (two new notes at one path): as changed on both sides.
//!
//! Both sides are copied out of the index byte for byte (`git checkout-index --stage`), never
//! through a text decoding, so binary attachments survive too.

use std::collections::BTreeMap;
use std::path::Path;

use crate::repo::unparsable;
use crate::{GitError, Repo, Result};

/// One file of a merge that both sides changed, as it was settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptBoth {
    /// The file's path (relative to the vault).
    pub path: String,
    /// Where the other version was written, if the sides differed and both existed.
    pub copy_path: Option<String>,
    /// This device's version as text (`None`: deleted here, or not UTF-8).
    pub ours: Option<String>,
    /// The remote's version as text (`None`: deleted there, or not UTF-8).
    pub theirs: Option<String>,
    /// What was done, for a person.
    pub detail: String,
}

/// A file's version: its mode and blob id.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Version {
    mode: String,
    blob: String,
}

/// One side of an unmerged path in the index (stage 2 is ours, 3 theirs).
#[derive(Default)]
struct Stages {
    ours: Option<Version>,
    theirs: Option<Version>,
}

impl Repo {
    /// Settles every unmerged file of the merge in progress (see the module doc), stages the
    /// result, and returns what was done. `stamp` names the conflict copies. The merge itself is
    /// left to conclude with [`Repo::conclude_merge`].
    pub fn resolve_conflicts(&self, stamp: &str) -> Result<Vec<KeptBoth>> {
        let args = ["ls-files", "--unmerged", "-z"];
        let listing = self.run(&args)?;
        let mut paths: BTreeMap<String, Stages> = BTreeMap::new();
        for entry in listing.stdout.split('\0').filter(|e| !e.is_empty()) {
            // `<mode> <blob> <stage>\t<path>`
            let bad = || unparsable(&args, &format!("unexpected entry {entry:?}"));
            let (meta, path) = entry.split_once('\t').ok_or_else(bad)?;
            let mut fields = meta.split(' ');
            let (mode, blob, stage) = match (fields.next(), fields.next(), fields.next()) {
                (Some(m), Some(b), Some(s)) => (m, b, s),
                _ => return Err(bad()),
            };
            let version = Some(Version {
                mode: mode.to_owned(),
                blob: blob.to_owned(),
            });
            let stages = paths.entry(path.to_owned()).or_default();
            match stage {
                "2" => stages.ours = version,
                "3" => stages.theirs = version,
                _ => {}
            }
        }

        let mut kept = Vec::new();
        let mut folded = false;
        for (path, stages) in paths {
            let mut stage_paths = vec![path.clone()];
            let staged = (stages.ours.clone(), stages.theirs.clone());
            let ours = self.whole_version("HEAD", &path, stages.ours)?;
            let theirs = self.whole_version("MERGE_HEAD", &path, stages.theirs)?;
            // Git put content of its own making in a stage (a rename collision's merge).
            folded |= (staged.0.is_some() && staged.0 != ours)
                || (staged.1.is_some() && staged.1 != theirs);
            let settled = match (&ours, &theirs) {
                (Some(ours), Some(theirs)) => {
                    self.write_version(ours, &path)?;
                    let copy_path = if ours.blob == theirs.blob {
                        None
                    } else {
                        let copy = conflict_copy_name(self.root(), &path, stamp);
                        self.write_version(theirs, &copy)?;
                        stage_paths.push(copy.clone());
                        Some(copy)
                    };
                    let detail = match &copy_path {
                        Some(copy) => format!(
                            "changed on both sides (git merge): this device's version stays at \
                             '{path}', the remote's version was saved as '{copy}'"
                        ),
                        None => "changed on both sides (git merge) to the same content".to_owned(),
                    };
                    KeptBoth {
                        ours: self.text_at(&path),
                        theirs: copy_path.as_deref().and_then(|c| self.text_at(c)),
                        path: path.clone(),
                        copy_path,
                        detail,
                    }
                }
                (Some(ours), None) => {
                    self.write_version(ours, &path)?;
                    KeptBoth {
                        ours: self.text_at(&path),
                        theirs: None,
                        path: path.clone(),
                        copy_path: None,
                        detail: format!(
                            "deleted on the remote and changed on this device (git merge): \
                             the changed version is kept at '{path}'"
                        ),
                    }
                }
                (None, Some(theirs)) => {
                    self.write_version(theirs, &path)?;
                    KeptBoth {
                        ours: None,
                        theirs: self.text_at(&path),
                        path: path.clone(),
                        copy_path: None,
                        detail: format!(
                            "deleted on this device and changed on the remote (git merge): \
                             the changed version is kept at '{path}'"
                        ),
                    }
                }
                // Deleted on both sides (only a base left): nothing to keep.
                (None, None) => {
                    self.run(&["rm", "--cached", "-q", "--ignore-unmatch", "--", &path])?;
                    continue;
                }
            };
            let mut add = vec!["add", "-f", "--"];
            add.extend(stage_paths.iter().map(String::as_str));
            self.run(&add)?;
            // `in_result`: `brain git sync` lists the conflict itself and drops this line.
            tracing::warn!(
                in_result = true,
                path = %settled.path,
                copy = settled.copy_path.as_deref().unwrap_or("none"),
                "git merge conflict: kept both versions"
            );
            kept.push(settled);
        }
        if folded {
            kept.extend(self.keep_every_changed_version(stamp)?);
        }
        Ok(kept)
    }

    /// The safety net after settling a merge where git folded files together (a file edited
    /// on one side while the other renamed it onto a path that also received a rename): every
    /// version a side committed since the merge base (added or modified files) whose path is
    /// gone from the result must be found, by content, somewhere in it; one that is not is
    /// written back as a file of its own (its own path if free, else a conflict copy). Paths
    /// still in the result were merged there (both sides' edits in), so they are left alone.
    fn keep_every_changed_version(&self, stamp: &str) -> Result<Vec<KeptBoth>> {
        let base = match self.run(&["merge-base", "HEAD", "MERGE_HEAD"]) {
            Ok(out) => out.stdout.trim().to_owned(),
            Err(_) => crate::remote::EMPTY_TREE.to_owned(),
        };
        let listing = self.run(&["ls-files", "-s", "-z"])?;
        let mut in_result = std::collections::HashSet::new();
        let mut paths = std::collections::HashSet::new();
        for entry in listing.stdout.split('\0').filter(|e| !e.is_empty()) {
            // `<mode> <blob> <stage>\t<path>`
            if let Some((meta, path)) = entry.split_once('\t') {
                if let Some(blob) = meta.split(' ').nth(1) {
                    in_result.insert(blob.to_owned());
                }
                paths.insert(path.to_owned());
            }
        }
        let mut kept = Vec::new();
        for (side, name) in [("HEAD", "this device"), ("MERGE_HEAD", "the remote")] {
            let args = ["diff-tree", "-r", "-z", "--no-renames", &base, side];
            let out = self.run(&args)?;
            let mut fields = out.stdout.split('\0').filter(|f| !f.is_empty());
            // `:<old mode> <new mode> <old blob> <new blob> <status>` then the path.
            while let (Some(meta), Some(path)) = (fields.next(), fields.next()) {
                let parts: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
                let [_, mode, _, blob, status] = parts.as_slice() else {
                    return Err(unparsable(&args, &format!("unexpected entry {meta:?}")));
                };
                if !matches!(*status, "A" | "M" | "T")
                    || in_result.contains(*blob)
                    || paths.contains(path)
                {
                    continue;
                }
                let dest = if self.root().join(path).exists() {
                    conflict_copy_name(self.root(), path, stamp)
                } else {
                    path.to_owned()
                };
                let version = Version {
                    mode: (*mode).to_owned(),
                    blob: (*blob).to_owned(),
                };
                self.write_version(&version, &dest)?;
                self.run(&["add", "-f", "--", &dest])?;
                in_result.insert(version.blob.clone());
                paths.insert(dest.clone());
                tracing::warn!(path, copy = %dest, side, "git merge folded a version into another file: kept it apart");
                kept.push(KeptBoth {
                    ours: None,
                    theirs: self.text_at(&dest),
                    path: path.to_owned(),
                    copy_path: Some(dest.clone()),
                    detail: format!(
                        "the version of '{path}' from {name} was merged by git into another file \
                         with conflicts: it was saved whole as '{dest}'"
                    ),
                });
            }
        }
        Ok(kept)
    }

    /// Concludes the merge in progress with a commit of `message` as `author`, once every
    /// conflict is settled. Refuses ([`GitError::MergeUnresolved`]) while files are unmerged.
    pub fn conclude_merge(
        &self,
        message: &str,
        author: Option<(&str, &str)>,
    ) -> Result<Option<String>> {
        let status = self.status()?;
        if !status.unmerged.is_empty() {
            return Err(GitError::MergeUnresolved {
                paths: status.unmerged,
            });
        }
        self.commit_index(message, author, crate::commit::Hooks::Skip)
            .map(Some)
    }

    /// Abandons the merge in progress, putting `HEAD`, index and files back as they were.
    pub fn abort_merge(&self) -> Result<()> {
        self.run(&["merge", "--abort"]).map(drop)
    }

    /// One side's whole version of `path`: the file as that side committed it (`HEAD` or
    /// `MERGE_HEAD`), else the index stage git left. A stage is not always a side's file: in a
    /// rename collision git stores its own content merge there, markers and all, so a stage
    /// holding markers is refused rather than kept (the merge is then aborted, losing nothing).
    fn whole_version(
        &self,
        side: &str,
        path: &str,
        stage: Option<Version>,
    ) -> Result<Option<Version>> {
        let spec = format!("{side}:{path}");
        if let Ok(out) = self.run(&["ls-tree", "-z", side, "--", path]) {
            // `<mode> <type> <blob>\t<path>`
            let entry = out.stdout.split('\0').next().unwrap_or("");
            let mut fields = entry.split(['\t', ' ']);
            if let (Some(mode), Some("blob"), Some(blob)) =
                (fields.next(), fields.next(), fields.next())
            {
                return Ok(Some(Version {
                    mode: mode.to_owned(),
                    blob: blob.to_owned(),
                }));
            }
        }
        let Some(stage) = stage else {
            return Ok(None);
        };
        let content = self.run(&["cat-file", "blob", &stage.blob])?;
        if crate::commit::has_conflict_markers(content.stdout.as_bytes()) {
            return Err(GitError::ConflictMarkers {
                paths: vec![format!("{path} (git's merge of {spec} with another file)")],
            });
        }
        Ok(Some(stage))
    }

    /// Writes `version` to the file at `path` byte for byte (through the index: stage 0 set to
    /// it, then checked out), replacing whatever unmerged stages `path` had.
    fn write_version(&self, version: &Version, path: &str) -> Result<()> {
        let info = format!("{},{},{}", version.mode, version.blob, path);
        self.run(&["update-index", "--add", "--cacheinfo", &info])?;
        self.run(&["checkout-index", "-f", "--", path]).map(drop)
    }

    fn text_at(&self, path: &str) -> Option<String> {
        std::fs::read(self.root().join(path))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    }
}

/// `notes/a.md` → `notes/a.conflict-<stamp>.md` (the name directory sync gives its conflict
/// copies, so both kinds look alike), `img.png` → `img.conflict-<stamp>.png`, with `-2`, `-3`...
/// added while the name is taken.
pub(crate) fn conflict_copy_name(root: &Path, path: &str, stamp: &str) -> String {
    let (dir, name) = match path.rsplit_once('/') {
        Some((dir, name)) => (format!("{dir}/"), name),
        None => (String::new(), path),
    };
    // A leading dot is part of the name (`.gitignore`), not an extension.
    let (stem, ext) = match name[1.min(name.len())..].rfind('.') {
        Some(i) => name.split_at(i + 1),
        None => (name, ""),
    };
    let mut n = 1;
    loop {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("-{n}")
        };
        let candidate = format!("{dir}{stem}.conflict-{stamp}{suffix}{ext}");
        if !root.join(&candidate).exists() {
            return candidate;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::conflict_copy_name;

    #[test]
    fn copy_names_keep_the_extension() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path();
        assert_eq!(conflict_copy_name(root, "a.md", "S"), "a.conflict-S.md");
        assert_eq!(
            conflict_copy_name(root, "x/y/img.png", "S"),
            "x/y/img.conflict-S.png"
        );
        assert_eq!(
            conflict_copy_name(root, ".gitignore", "S"),
            ".gitignore.conflict-S"
        );
        assert_eq!(conflict_copy_name(root, "README", "S"), "README.conflict-S");
        std::fs::write(root.join("a.conflict-S.md"), "taken").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(conflict_copy_name(root, "a.md", "S"), "a.conflict-S-2.md");
    }
}
