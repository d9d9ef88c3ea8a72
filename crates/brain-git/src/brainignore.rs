//! `.brainignore` in git sync: what the user keeps out of the brain stays out of its history.
//!
//! A file a `.brainignore` excludes (a `drafts/secret.md`) is not the brain's: a git job must
//! not stage it, or it would be pushed to the remote and every other clone. Git itself reads
//! the patterns (`--exclude-per-directory=.brainignore`), each folder's file for the paths
//! under it, with the same gitignore rules directory sync applies through the `ignore` crate.
//!
//! A file git already tracks that becomes excluded is left exactly as git has it: its later
//! changes, its deletion included, are not staged, and it is never `git rm`ed, which would
//! delete it on every other clone at their next pull. A user who wants it versioned anyway
//! commits it with git; a git job pushes that commit like any other.
//!
//! Such a file can still change on the remote (another clone committed it by hand). Its edits
//! here are never committed, so git would refuse every merge that touches it ("your local
//! changes would be overwritten") and git sync would stop for the whole vault. Before a merge,
//! [`Repo::set_aside_brainignored`] moves this device's version out of the way as a conflict
//! copy kept out of git, and the merge takes the remote's version: both are kept, as for any
//! conflict, and nothing the user excluded is committed.

use std::collections::HashSet;

use crate::merge::conflict_copy_name;
use crate::remote::EMPTY_TREE;
use crate::repo::LOCAL_TIMEOUT;
use crate::{ChangeKind, ChangedPath, GitError, KeptBoth, Repo, Result, RunOptions};

/// Where a set-aside version goes when a conflict copy beside the file would not be excluded
/// by `.brainignore` (the pattern names the file alone): under `.brain/`, which git never
/// stages, so the edit the user kept out of git is not committed through its copy.
pub const KEPT_APART_DIR: &str = brain_core::layout::KEPT_REL;

/// The per-folder file whose patterns keep paths out of the brain and out of git sync.
pub const BRAINIGNORE: &str = ".brainignore";

impl Repo {
    /// The paths, tracked or not, that a `.brainignore` excludes, as git matches them.
    fn brainignored_paths(&self) -> Result<HashSet<String>> {
        let exclude = format!("--exclude-per-directory={BRAINIGNORE}");
        let out = self.run(&["ls-files", "-z", "-c", "-o", "-i", &exclude])?;
        Ok(split_nul(&out.stdout).collect())
    }

    /// Files git tracks that a `.brainignore` now excludes: a git job leaves them as git has
    /// them, and the user is told so (once, by the job).
    pub fn tracked_but_brainignored(&self) -> Result<Vec<String>> {
        let exclude = format!("--exclude-per-directory={BRAINIGNORE}");
        let out = self.run(&["ls-files", "-z", "-c", "-i", &exclude])?;
        let mut paths: Vec<String> = split_nul(&out.stdout).collect();
        paths.sort_unstable();
        paths.dedup(); // an unmerged path is listed once per stage
        Ok(paths)
    }

    /// Moves the changes to paths a `.brainignore` excludes (either name of a move) out of
    /// `changed` into the list it returns. Asks git only when something changed.
    pub(crate) fn split_brainignored(
        &self,
        changed: &mut Vec<ChangedPath>,
    ) -> Result<Vec<ChangedPath>> {
        if changed.is_empty() {
            return Ok(Vec::new());
        }
        let excluded = self.brainignored_paths()?;
        let mut nested = NestedVaults::new(self.root());
        let (out, kept): (Vec<ChangedPath>, Vec<ChangedPath>) =
            std::mem::take(changed).into_iter().partition(|c| {
                let from = match &c.kind {
                    ChangeKind::Renamed { from } => Some(from.as_str()),
                    _ => None,
                };
                std::iter::once(c.path.as_str())
                    .chain(from)
                    .any(|p| excluded.contains(p) || nested.holds(p))
            });
        *changed = kept;
        Ok(out)
    }

    /// `git add -A` of the whole work tree except `excluded` (both names of a move), whose
    /// index entries stay as they are: nothing the user keeps out of the brain is staged, and
    /// a tracked file is not staged as deleted either.
    pub(crate) fn stage_all_except(&self, excluded: &[ChangedPath]) -> Result<()> {
        if excluded.is_empty() {
            return self.run(&["add", "-A", "--", "."]).map(drop);
        }
        // The pathspecs go through stdin: a vault can exclude thousands of changed files.
        let mut specs = b".\0".to_vec();
        for c in excluded {
            let from = match &c.kind {
                ChangeKind::Renamed { from } => Some(from.as_str()),
                _ => None,
            };
            for path in std::iter::once(c.path.as_str()).chain(from) {
                specs.extend_from_slice(b":(exclude,literal)");
                specs.extend_from_slice(path.as_bytes());
                specs.push(0);
            }
        }
        let mut opts = RunOptions::with_timeout(LOCAL_TIMEOUT);
        opts.input = Some(specs);
        let args = ["add", "-A", "--pathspec-from-file=-", "--pathspec-file-nul"];
        self.git().run(self.root(), &args, &opts).map(drop)
    }
}

impl Repo {
    /// Before merging `rev`: every file a `.brainignore` excludes that the merge would write
    /// (changed on `rev`'s side and different from `HEAD`) and that differs here from `HEAD`
    /// (an uncommitted edit of a tracked file, or an untracked file the remote adds) is moved
    /// out of the way, so git does not refuse the merge and stop git sync for the whole vault.
    /// This device's version is kept as a conflict copy beside the file when `.brainignore`
    /// excludes that name too, else under [`KEPT_APART_DIR`] (never committed either way); a
    /// tracked file is put back as `HEAD` has it, for the merge to take the remote's version.
    /// A version identical to the remote's needs no copy. Returns the copies kept, each with
    /// what was done, for the job to report and record as conflicts.
    pub fn set_aside_brainignored(&self, rev: &str, stamp: &str) -> Result<Vec<KeptBoth>> {
        let Some(head) = self.head()? else {
            return Ok(Vec::new());
        };
        let base = match self.run(&["merge-base", &head, rev]) {
            Ok(out) => out.stdout.trim().to_owned(),
            Err(_) => EMPTY_TREE.to_owned(), // unrelated histories
        };
        let theirs_changed = self.names_changed(&base, rev)?;
        if theirs_changed.is_empty() {
            return Ok(Vec::new());
        }
        let differs: HashSet<String> = self.names_changed(&head, rev)?.into_iter().collect();
        let excluded = self.brainignored_paths()?;
        let mut kept = Vec::new();
        for path in theirs_changed {
            if !differs.contains(&path) || !excluded.contains(&path) {
                continue;
            }
            let file = self.root().join(&path);
            match std::fs::symlink_metadata(&file) {
                Ok(meta) if !meta.is_dir() => {}
                _ => continue, // nothing here in the merge's way
            }
            let here = self
                .run(&["hash-object", "--", &path])?
                .stdout
                .trim()
                .to_owned();
            let ours = self.blob_at(&head, &path)?;
            if ours.as_deref() == Some(here.as_str()) {
                continue; // as committed: git merges it
            }
            let theirs = self.blob_at(rev, &path)?;
            if theirs.as_deref() == Some(here.as_str()) {
                // The remote has these very bytes: the merge writes them back.
                self.step_aside(&head, &path, ours.is_some())?;
                continue;
            }
            let copy = self.keep_apart(&path, stamp)?;
            self.step_aside(&head, &path, ours.is_some())?;
            let text = std::fs::read(self.root().join(&copy))
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let remote = match &theirs {
                Some(_) => format!("the remote's version is taken at '{path}'"),
                None => format!("the remote deleted '{path}'"),
            };
            let theirs_text = match &theirs {
                Some(blob) => self.run(&["cat-file", "blob", blob]).ok().map(|o| o.stdout),
                None => None,
            };
            tracing::warn!(
                in_result = true,
                path = %path,
                copy = %copy,
                "a file excluded by .brainignore was edited here and changed on the remote: \
                 this device's version was kept apart"
            );
            kept.push(KeptBoth {
                detail: format!(
                    "'{path}' is excluded by .brainignore, was edited here and changed on the \
                     remote (git merge): this device's version was saved as '{copy}', kept out \
                     of git, and {remote}; compare the two, keep what you want (to version \
                     the file, commit it yourself: `git add {path} && git commit`), delete the \
                     other, then run `brain conflicts resolve` with this conflict's id"
                ),
                ours: text,
                theirs: theirs_text,
                path,
                copy_path: Some(copy),
            });
        }
        Ok(kept)
    }

    /// The paths that differ between two commits (or the empty tree), renames as a delete and
    /// an add.
    fn names_changed(&self, from: &str, to: &str) -> Result<Vec<String>> {
        let out = self.run(&["diff", "--name-only", "-z", "--no-renames", from, to, "--"])?;
        Ok(split_nul(&out.stdout).collect())
    }

    /// The blob `path` has in commit `rev`, `None` if it has none.
    fn blob_at(&self, rev: &str, path: &str) -> Result<Option<String>> {
        let spec = format!("{rev}:{path}");
        match self.run(&["rev-parse", "--verify", "-q", &spec]) {
            Ok(out) => Ok(Some(out.stdout.trim().to_owned())),
            Err(GitError::Failed { code: Some(1), .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Moves the file at `path` to a conflict copy beside it, or under [`KEPT_APART_DIR`] when
    /// `.brainignore` does not exclude the copy's name (it would be committed and pushed).
    /// Renames only: the bytes are never rewritten. Returns where it went.
    fn keep_apart(&self, path: &str, stamp: &str) -> Result<String> {
        let copy = conflict_copy_name(self.root(), path, stamp);
        self.rename_within(path, &copy)?;
        let exclude = format!("--exclude-per-directory={BRAINIGNORE}");
        let listed = self.run(&["ls-files", "-z", "-o", "-i", &exclude, "--", &copy])?;
        if split_nul(&listed.stdout).any(|p| p == copy) {
            return Ok(copy);
        }
        let apart = conflict_copy_name(self.root(), &format!("{KEPT_APART_DIR}/{path}"), stamp);
        self.rename_within(&copy, &apart)?;
        Ok(apart)
    }

    /// Renames `from` to `to` (both relative to the vault), making `to`'s folder.
    fn rename_within(&self, from: &str, to: &str) -> Result<()> {
        let dest = self.root().join(to);
        let failed = |source| GitError::SetAside {
            path: from.to_owned(),
            dest: to.to_owned(),
            source,
        };
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        std::fs::rename(self.root().join(from), &dest).map_err(failed)
    }

    /// Clears the way for the merge at `path` once its version here is kept: a tracked file is
    /// put back as `head` has it, an untracked one removed.
    fn step_aside(&self, head: &str, path: &str, tracked: bool) -> Result<()> {
        if tracked {
            return self.run(&["checkout", "-q", head, "--", path]).map(drop);
        }
        match std::fs::remove_file(self.root().join(path)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(GitError::SetAside {
                path: path.to_owned(),
                dest: "(removed)".to_owned(),
                source,
            }),
        }
    }
}

/// Folders below the vault's root that are vaults of their own (they hold a `.brain/`):
/// directory sync leaves them to their own store, so a git job of the outer vault must not
/// stage them either, or their notes would reach the outer remote and every clone of it.
struct NestedVaults<'a> {
    root: &'a std::path::Path,
    /// Folder (relative) → whether it holds a `.brain/`, asked once per folder.
    seen: std::collections::HashMap<String, bool>,
}

impl<'a> NestedVaults<'a> {
    fn new(root: &'a std::path::Path) -> Self {
        Self {
            root,
            seen: std::collections::HashMap::new(),
        }
    }

    /// Whether `path` (relative, `/`-separated) lies inside a vault of its own.
    fn holds(&mut self, path: &str) -> bool {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            let folder = &path[..end + i];
            let root = self.root;
            if *self
                .seen
                .entry(folder.to_string())
                .or_insert_with(|| brain_core::layout::state_dir_of(&root.join(folder)).is_dir())
            {
                return true;
            }
            end += i + 1;
        }
        false
    }
}

fn split_nul(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
}
