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

use crate::repo::{LOCAL_TIMEOUT, unparsable};
use crate::{GitError, Repo, Result, RunOptions};

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

/// One side of an unmerged path in the index: its blob id (stage 2 is ours, 3 theirs).
#[derive(Default)]
struct Stages {
    ours: Option<String>,
    theirs: Option<String>,
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
            let (_mode, blob, stage) = match (fields.next(), fields.next(), fields.next()) {
                (Some(m), Some(b), Some(s)) => (m, b, s),
                _ => return Err(bad()),
            };
            let stages = paths.entry(path.to_owned()).or_default();
            match stage {
                "2" => stages.ours = Some(blob.to_owned()),
                "3" => stages.theirs = Some(blob.to_owned()),
                _ => {}
            }
        }

        let mut kept = Vec::new();
        for (path, stages) in paths {
            let mut stage_paths = vec![path.clone()];
            let settled = match (&stages.ours, &stages.theirs) {
                (Some(ours), Some(theirs)) => {
                    self.checkout_stage(2, &path)?;
                    let copy_path = if ours == theirs {
                        None
                    } else {
                        let copy = conflict_copy_name(self.root(), &path, stamp);
                        self.checkout_stage_to(3, &path, &copy)?;
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
                (Some(_), None) => {
                    self.checkout_stage(2, &path)?;
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
                (None, Some(_)) => {
                    self.checkout_stage(3, &path)?;
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
            tracing::warn!(path = %settled.path, copy = ?settled.copy_path, "git merge conflict: kept both versions");
            kept.push(settled);
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
        let identity = author
            .map(|(name, email)| (format!("user.name={name}"), format!("user.email={email}")));
        let mut args: Vec<&str> = Vec::new();
        if let Some((name, email)) = &identity {
            args.extend(["-c", name, "-c", email]);
        }
        args.extend([
            "commit",
            "-q",
            "--no-verify",
            "--cleanup=whitespace",
            "-F",
            "-",
        ]);
        let mut opts = RunOptions::with_timeout(LOCAL_TIMEOUT);
        opts.input = Some(message.as_bytes().to_vec());
        self.git().run(self.root(), &args, &opts)?;
        self.head()
    }

    /// Abandons the merge in progress, putting `HEAD`, index and files back as they were.
    pub fn abort_merge(&self) -> Result<()> {
        self.run(&["merge", "--abort"]).map(drop)
    }

    /// Writes the index's `stage` version of `path` over the file at `path`.
    fn checkout_stage(&self, stage: u8, path: &str) -> Result<()> {
        let stage = format!("--stage={stage}");
        self.run(&["checkout-index", "-f", &stage, "--", path])
            .map(drop)
    }

    /// Writes the index's `stage` version of `path` to the new file `dest`.
    fn checkout_stage_to(&self, stage: u8, path: &str, dest: &str) -> Result<()> {
        let stage_arg = format!("--stage={stage}");
        let args = ["checkout-index", "--temp", &stage_arg, "--", path];
        let out = self.run(&args)?;
        // `<temporary file>\t<path>`, the temporary file relative to the top level.
        let temp = out
            .stdout
            .split_once('\t')
            .map(|(t, _)| t)
            .ok_or_else(|| unparsable(&args, "no temporary file named"))?;
        let io = |source| GitError::Path {
            path: self.root().join(dest),
            source,
        };
        std::fs::rename(self.root().join(temp), self.root().join(dest)).map_err(io)
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
fn conflict_copy_name(root: &Path, path: &str, stamp: &str) -> String {
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
