//! `brain git init`: joining a vault and a remote, whichever of them has history.

use super::*;

impl GitSync<'_> {
    /// `brain git init`: makes the vault a repository (`git init -b BRANCH` if it is not one),
    /// adds brains' ignore lines, points `origin` at `remote`, and joins histories:
    /// - the remote is empty (or there is none): the vault's files become the first commit,
    ///   pushed to the remote;
    /// - the vault has no history and no notes yet: the remote's notes are checked out and
    ///   imported (a clone into the vault);
    /// - both have notes: the vault's are committed, then the remote's merged in, keeping both
    ///   versions of any file both have;
    /// - the vault already has history: a plain sync.
    ///
    /// When it fails in a way a retry cannot fix (no repository at the URL, a bad URL, refused
    /// credentials, ...), the remote setting it made is undone (`origin` removed if it added it,
    /// or pointed back at the URL it had), so a wrong URL is not left for later syncs to use.
    /// A temporary failure keeps it: the retry, or the next `brain git sync`, pushes there.
    pub fn init(
        &self,
        remote: &str,
        branch: &str,
        steps: &Steps,
    ) -> Result<GitReport, GitSyncError> {
        let mut had = None;
        let outcome = self.join(remote, branch, steps, &mut had);
        if let (Err(e), Some((repo, before))) = (&outcome, had)
            && !e.is_retryable()
            && !remote.is_empty()
            && before.as_deref() != Some(remote)
        {
            match repo.restore_remote_url(before.as_deref()) {
                Ok(()) => tracing::info!(
                    remote,
                    "git init failed for good: the remote setting it made is undone"
                ),
                Err(undo) => tracing::error!(
                    error = %undo,
                    "git init failed and cannot undo the remote setting it made"
                ),
            }
        }
        outcome
    }

    /// [`GitSync::init`]'s work; `had` gets the repository and the URL `origin` had before, once
    /// they are known.
    fn join(
        &self,
        remote: &str,
        branch: &str,
        steps: &Steps,
        had: &mut Option<(Repo, Option<String>)>,
    ) -> Result<GitReport, GitSyncError> {
        let repo = match Repo::open(self.git.clone(), self.root)? {
            Some(repo) => repo,
            None => {
                self.git.run(
                    self.root,
                    &["init", "-q", "-b", branch],
                    &crate::RunOptions::default(),
                )?;
                self.repo()?
            }
        };
        self.ensure_ignores(&repo)?;
        *had = Some((repo.clone(), repo.remote_url()?));
        let spec = self.remote(&repo, remote, branch)?;
        let mut report = GitReport {
            remote: spec.is_some(),
            ..GitReport::default()
        };
        if let Some(spec) = &spec {
            // A remote with notes on another branch is not an empty one: pushing ours beside
            // it would split the history.
            let branches = repo
                .remote_branches(spec)
                .map_err(|source| GitSyncError::Network { source })?;
            if !branches.is_empty() && !branches.iter().any(|b| b == branch) {
                return Err(GitSyncError::NoSuchBranch {
                    branch: branch.to_owned(),
                    found: branches,
                });
            }
        }
        let had_history = repo.head()?.is_some();
        let only_gitignore = pull::only_gitignore(&repo)?;
        if let Some(spec) = &spec {
            if !had_history && !only_gitignore {
                let theirs = repo
                    .fetch(spec)
                    .map_err(|source| GitSyncError::Network { source })?;
                let _lock = steps.lock()?;
                self.commit(&repo, &mut report, steps)?;
                if theirs.is_some()
                    && let Some(before) = repo.head()?
                {
                    self.merge_and_import(
                        &repo,
                        &before,
                        &spec.tracking_ref(),
                        true,
                        &mut report,
                        steps,
                    )?;
                    self.commit(&repo, &mut report, steps)?;
                }
            } else {
                if had_history {
                    let _lock = steps.lock()?;
                    self.commit(&repo, &mut report, steps)?;
                }
                // Adopts the remote's history when there is none here, else a plain pull.
                self.pull(&repo, spec, true, &mut report, steps)?;
                let _lock = steps.lock()?;
                self.commit(&repo, &mut report, steps)?;
            }
            self.push(&repo, spec, true, &mut report, steps)?;
        } else {
            let _lock = steps.lock()?;
            self.commit(&repo, &mut report, steps)?;
        }
        self.finish(&repo, spec.as_ref(), &mut report)?;
        Ok(report)
    }
}
