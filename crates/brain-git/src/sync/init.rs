//! `brain git init`: joining a vault and a remote, whichever of them has history.

use super::*;
use crate::sync::error::{InitFailure, OriginLeft};

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
    /// When it fails, whatever the cause (no repository at the URL, refused credentials, or a
    /// remote it cannot reach at all), it fails for good ([`GitSyncError::InitFailed`], never
    /// retried) and undoes the remote setting it made (`origin` removed if it added it, or
    /// pointed back at the URL it had): git sync is only turned on by an init that succeeded, so
    /// a remote left configured would be one the user was told is not set up, and a later
    /// `brain git sync` would push there unasked. The commits it made are kept, and running the
    /// same `brain git init` again once the remote is fixed or reachable picks up from them.
    pub fn init(
        &self,
        remote: &str,
        branch: &str,
        steps: &Steps,
    ) -> Result<GitReport, GitSyncError> {
        let mut had = None;
        let mut report = GitReport::default();
        let cause = match self.join(remote, branch, steps, &mut had, &mut report) {
            Ok(()) => return Ok(report),
            Err(cause) => cause,
        };
        let origin = match had {
            Some((repo, before)) if !remote.is_empty() => {
                if before.as_deref() == Some(remote) {
                    OriginLeft::Kept
                } else {
                    match repo.restore_remote_url(before.as_deref()) {
                        Ok(()) => {
                            tracing::info!(
                                remote,
                                "git init failed: the remote setting it made is undone"
                            );
                            before.map_or(OriginLeft::Removed, OriginLeft::PointedBack)
                        }
                        Err(undo) => {
                            tracing::error!(
                                error = %undo,
                                "git init failed and cannot undo the remote setting it made"
                            );
                            OriginLeft::UndoFailed(undo.to_string())
                        }
                    }
                }
            }
            _ => OriginLeft::NotSet,
        };
        if matches!(cause, GitSyncError::Cancelled) {
            return Err(cause);
        }
        Err(GitSyncError::InitFailed(Box::new(InitFailure {
            cause,
            remote: remote.to_owned(),
            origin,
            commits: report.commits,
            pushed: report.pushed,
            enabled: self.config.git.enabled,
        })))
    }

    /// [`GitSync::init`]'s work; `had` gets the repository and the URL `origin` had before, once
    /// they are known.
    fn join(
        &self,
        remote: &str,
        branch: &str,
        steps: &Steps,
        had: &mut Option<(Repo, Option<String>)>,
        report: &mut GitReport,
    ) -> Result<(), GitSyncError> {
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
        report.remote = spec.is_some();
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
                self.commit(&repo, report, steps)?;
                if theirs.is_some()
                    && let Some(before) = repo.head()?
                {
                    self.merge_and_import(
                        &repo,
                        &before,
                        &spec.tracking_ref(),
                        true,
                        report,
                        steps,
                    )?;
                    self.commit(&repo, report, steps)?;
                }
            } else {
                if had_history {
                    let _lock = steps.lock()?;
                    self.commit(&repo, report, steps)?;
                }
                // Adopts the remote's history when there is none here, else a plain pull.
                self.pull(&repo, spec, true, report, steps)?;
                let _lock = steps.lock()?;
                self.commit(&repo, report, steps)?;
            }
            self.push(&repo, spec, true, report, steps)?;
        } else {
            let _lock = steps.lock()?;
            self.commit(&repo, report, steps)?;
        }
        self.finish(&repo, spec.as_ref(), report)?;
        Ok(())
    }
}
