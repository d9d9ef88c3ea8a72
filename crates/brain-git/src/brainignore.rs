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

use std::collections::HashSet;

use crate::repo::LOCAL_TIMEOUT;
use crate::{ChangeKind, ChangedPath, Repo, Result, RunOptions};

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
                .or_insert_with(|| root.join(folder).join(".brain").is_dir())
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
