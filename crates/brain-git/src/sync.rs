//! One git-sync job: commit what changed here, fetch and merge what changed there, import
//! exactly the files the merge changed, commit what that import wrote (conflict copies), push.
//!
//! Order and locks: the local commit and the merge-and-import hold `.brain/sync.lock` (as every
//! directory job does), so no export writes a file under git's feet; fetch and push, which wait
//! on the network, hold nothing. The import after a pull reads only the paths the merge changed
//! (`git diff old new`), queues no export and makes no commit of its own: what it imported is
//! already committed.

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use brain_core::time::{format_compact, format_iso, now_ms};
use brain_core::{CancelToken, Config, PathMapper};
use brain_jobs::progress::JobProgressReporter;
use brain_store::{ConflictKind, NewConflict, Store, SyncOp};
use brain_sync::{SyncEngine, SyncMode, SyncOptions, SyncReport};
use serde::{Deserialize, Serialize};

use crate::remote::{EMPTY_TREE, MergeOutcome, PushOutcome, RemoteSpec, token_header};
use crate::{
    ChangeKind, Git, GitError, MessageContext, Repo, ensure_gitignore, hostname,
    render_commit_message,
};

/// What a git job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GitOp {
    /// Commit, pull, import, commit, push.
    Sync,
    /// Fetch and merge, then import (commits local changes first when `auto_commit` is on).
    Pull,
    /// Push local commits (merging first if the remote moved).
    Push,
    /// Commit local changes (and push them when `auto_push` is on).
    Commit,
    /// Make the vault a repository connected to the remote (see [`GitSync::init`]).
    Init,
}

/// Why a git job failed. The handler decides from it whether a retry can help.
#[derive(Debug, thiserror::Error)]
pub enum GitSyncError {
    /// The vault has no repository yet.
    #[error("{} is not a git repository yet: run `brain git init --remote URL` (or `brain git init` for local history only)", .0.display())]
    NotARepo(std::path::PathBuf),
    /// A local git command failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// Fetching or pushing failed: the commits made here are kept and pushed by a later try.
    #[error("{source}\nyour commits are kept in the vault's repository and pushed on a later try")]
    Network {
        /// What git said.
        source: GitError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] brain_store::StoreError),
    /// The import of the pulled files failed.
    #[error("importing the pulled files failed: {0}")]
    Import(brain_sync::SyncError),
    /// The sync lock could not be taken.
    #[error("{0}")]
    Lock(String),
    /// The remote kept moving while we pushed.
    #[error(
        "the remote branch moved {0} times while pushing: another device is pushing too; it is retried"
    )]
    KeepsMoving(u32),
    /// Cancelled between steps.
    #[error("cancelled")]
    Cancelled,
    /// `init` against a remote whose branches do not include the one asked for.
    #[error(
        "the remote has no branch '{branch}' but has {}: run `brain git init --remote URL --branch NAME` with one of them",
        .found.join(", ")
    )]
    NoSuchBranch {
        /// The branch asked for.
        branch: String,
        /// The remote's branches.
        found: Vec<String>,
    },
    /// The commit would delete most notes: refused, nothing committed.
    #[error(
        "this commit would delete {deleted} of the {tracked} notes in git: refused, nothing was \
         committed. If the vault folder was emptied by mistake or is not mounted, bring the \
         files back; if you meant to delete them, run `brain git sync --allow-mass-delete`"
    )]
    MassDelete {
        /// Notes the commit would delete.
        deleted: u64,
        /// Notes tracked now.
        tracked: u64,
    },
}

impl From<brain_sync::SyncError> for GitSyncError {
    fn from(e: brain_sync::SyncError) -> GitSyncError {
        match e {
            brain_sync::SyncError::Cancelled { .. } => GitSyncError::Cancelled,
            other => GitSyncError::Import(other),
        }
    }
}

impl GitSyncError {
    /// Whether retrying later can fix it: the network, a timeout, a remote that keeps moving,
    /// a busy store or lock. Not: credentials, an unresolved merge, a missing repository.
    pub fn is_retryable(&self) -> bool {
        match self {
            GitSyncError::Network { source } => !source.is_auth_failure(),
            GitSyncError::Git(e) => e.is_transient(),
            GitSyncError::Store(_) | GitSyncError::Lock(_) | GitSyncError::KeepsMoving(_) => true,
            GitSyncError::Import(_) => true,
            GitSyncError::NotARepo(_)
            | GitSyncError::Cancelled
            | GitSyncError::MassDelete { .. }
            | GitSyncError::NoSuchBranch { .. } => false,
        }
    }
}

/// One file of a merge kept in two versions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptFile {
    /// The file.
    pub path: String,
    /// Where the remote's version went, if it was written apart.
    pub copy_path: Option<String>,
    /// What was done.
    pub detail: String,
}

/// What one git job did, the job's result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitReport {
    /// Commits made here (local changes, merges), oldest first.
    pub commits: Vec<String>,
    /// Whether the remote had commits that were merged in.
    pub pulled: bool,
    /// Files the merge changed (and so imported).
    pub changed_paths: u64,
    /// Notes imported, updated, renamed or deleted by the import of the pulled files.
    pub imported: u64,
    /// Conflicting files kept in both versions.
    pub kept_both: Vec<KeptFile>,
    /// Whether commits were pushed.
    pub pushed: bool,
    /// `HEAD` after the job.
    pub head: Option<String>,
    /// Commits the remote lacks after the job.
    pub ahead: u32,
    /// Commits we lack after the job.
    pub behind: u32,
    /// Whether a remote is configured.
    pub remote: bool,
}

/// Runs git jobs for one vault.
pub struct GitSync<'a> {
    /// The vault root.
    pub root: &'a Path,
    /// Its configuration (`[git]`, and `[vault]`/`[sync]` for the import).
    pub config: &'a Config,
    /// Its store.
    pub store: &'a dyn Store,
    /// The git program.
    pub git: Git,
    /// Commit even if most notes are deleted (`brain git sync --allow-mass-delete`).
    pub allow_mass_delete: bool,
}

/// What a job needs between its steps: progress, cancel, and the vault lock.
pub struct Steps<'a> {
    /// Progress messages.
    pub progress: &'a JobProgressReporter,
    /// Checked between steps.
    pub cancel: &'a CancelToken,
    /// Takes `.brain/sync.lock`.
    pub lock: &'a dyn Fn() -> Result<File, String>,
}

impl Steps<'_> {
    fn check(&self) -> Result<(), GitSyncError> {
        if self.cancel.is_cancelled() {
            Err(GitSyncError::Cancelled)
        } else {
            Ok(())
        }
    }

    fn lock(&self) -> Result<File, GitSyncError> {
        (self.lock)().map_err(|e| {
            if self.cancel.is_cancelled() {
                GitSyncError::Cancelled
            } else {
                GitSyncError::Lock(e)
            }
        })
    }

    fn say(&self, message: &str) {
        self.progress.set(0, None, message);
    }
}

/// Runtime-state key of the last commit whose changes were imported into the store.
pub const IMPORTED_KEY: &str = "git-imported";

/// How a git job's merge messages start, so a later job knows an unfinished merge is its own.
const MERGE_MESSAGE_PREFIX: &str = "brain: merge ";

/// How many times a rejected push is retried (fetch, merge, push) within one job.
const PUSH_ROUNDS: u32 = 3;

impl GitSync<'_> {
    fn author(&self) -> Option<(&str, &str)> {
        let git = &self.config.git;
        (!git.author_name.is_empty() && !git.author_email.is_empty())
            .then_some((git.author_name.as_str(), git.author_email.as_str()))
    }

    /// The repository, or [`GitSyncError::NotARepo`].
    pub fn repo(&self) -> Result<Repo, GitSyncError> {
        Repo::open(self.git.clone(), self.root)?
            .ok_or_else(|| GitSyncError::NotARepo(self.root.to_path_buf()))
    }

    /// How to reach the remote: the configured URL (written to `origin` when it differs), or
    /// `origin` as the user set it up; `None` when there is neither (local history only).
    fn remote(
        &self,
        repo: &Repo,
        url: &str,
        branch: &str,
    ) -> Result<Option<RemoteSpec>, GitSyncError> {
        if !url.is_empty() {
            repo.set_remote_url(url)?;
        } else if repo.remote_url()?.is_none() {
            return Ok(None);
        }
        let token = &self.config.git.token;
        Ok(Some(RemoteSpec {
            branch: branch.to_owned(),
            auth_header: (!token.is_empty()).then(|| token_header(token)),
            timeout: Duration::from_secs(self.config.git.timeout_s.max(1)),
        }))
    }

    /// Runs `op` and reports what it did.
    pub fn run(&self, op: GitOp, steps: &Steps) -> Result<GitReport, GitSyncError> {
        let git = &self.config.git;
        if op == GitOp::Init {
            return self.init(&git.remote, &git.branch, steps);
        }
        let repo = self.repo()?;
        // Every job, not only `init`: a repository the user made by hand must not commit the
        // database either.
        ensure_gitignore(self.root).map_err(|source| GitError::Path {
            path: self.root.join(".gitignore"),
            source,
        })?;
        crate::ignore::ensure_union_merge_of_gitignore(&repo)?;
        let spec = self.remote(&repo, &git.remote, &git.branch)?;
        let mut report = GitReport {
            remote: spec.is_some(),
            ..GitReport::default()
        };
        let mut status = repo.status()?;
        if status.merging && self.merge_is_ours(&repo) {
            // A merge of ours cut short (a crash, a failed step): back to before it, nothing
            // lost; this job merges again.
            tracing::warn!("aborting an unfinished merge left by an earlier git job");
            let _lock = steps.lock()?;
            repo.abort_merge()?;
            status = repo.status()?;
        }
        if status.merging || !status.unmerged.is_empty() {
            return Err(GitError::MergeUnresolved {
                paths: status.unmerged,
            }
            .into());
        }
        let commits = match op {
            GitOp::Sync | GitOp::Commit => true,
            GitOp::Pull => git.auto_commit,
            GitOp::Push | GitOp::Init => false,
        };
        let pulls = matches!(op, GitOp::Sync | GitOp::Pull);
        let pushes = match op {
            GitOp::Sync | GitOp::Push => true,
            GitOp::Commit => git.auto_push,
            GitOp::Pull | GitOp::Init => false,
        };
        if commits && !status.changed.is_empty() {
            let _lock = steps.lock()?;
            self.commit(&repo, &mut report, steps)?;
        }
        if let Some(spec) = &spec {
            if pulls {
                self.pull(&repo, spec, commits, &mut report, steps)?;
            }
            if pushes {
                self.push(&repo, spec, commits, &mut report, steps)?;
            }
        }
        self.finish(&repo, spec.as_ref(), &mut report)?;
        Ok(report)
    }

    /// Whether the merge in progress is one a git job started (its message is ours), not the
    /// user's, which is theirs to finish.
    fn merge_is_ours(&self, repo: &Repo) -> bool {
        repo.git()
            .run(
                repo.root(),
                &["rev-parse", "--git-path", "MERGE_MSG"],
                &crate::RunOptions::default(),
            )
            .ok()
            .map(|out| repo.root().join(out.stdout.trim_end_matches('\n')))
            .and_then(|path| std::fs::read_to_string(path).ok())
            .is_some_and(|msg| msg.starts_with(MERGE_MESSAGE_PREFIX))
    }

    /// Commits every change in the work tree with the configured message.
    fn commit(
        &self,
        repo: &Repo,
        report: &mut GitReport,
        steps: &Steps,
    ) -> Result<(), GitSyncError> {
        steps.check()?;
        steps.say("Committing changed files");
        let template = &self.config.git.commit_message;
        let mut files = 0;
        let mut refused = None;
        let message = |status: &crate::RepoStatus| {
            if let Err(e) = self.check_mass_delete(repo, status) {
                refused = Some(e);
                return None;
            }
            let ctx = MessageContext {
                date: format_iso(now_ms()),
                hostname: hostname(),
                files: status.changed.iter().map(|c| c.path.clone()).collect(),
            };
            files = ctx.files.len();
            Some(render_commit_message(template, &ctx))
        };
        let committed = repo.commit_all_with(message, self.author())?;
        if let Some(e) = refused {
            return Err(e);
        }
        if let Some(id) = committed {
            tracing::info!(commit = %id, files, "committed");
            report.commits.push(id);
        }
        Ok(())
    }

    /// Refuses a commit that would delete more than `sync.mass_delete_share` of the tracked
    /// notes (and at least `sync.mass_delete_min`): a vault folder emptied by mistake or not
    /// mounted must not delete the notes of every device. `--allow-mass-delete` lets it go.
    fn check_mass_delete(
        &self,
        repo: &Repo,
        status: &crate::RepoStatus,
    ) -> Result<(), GitSyncError> {
        if self.allow_mass_delete {
            return Ok(());
        }
        let deleted = status
            .changed
            .iter()
            .filter(|c| c.kind == ChangeKind::Deleted && c.path.ends_with(".md"))
            .count() as u64;
        let sync = &self.config.sync;
        if deleted < sync.mass_delete_min.max(1) {
            return Ok(());
        }
        let tracked = repo
            .git()
            .run(
                repo.root(),
                &["ls-files", "-z", "--", "*.md"],
                &crate::RunOptions::default(),
            )?
            .stdout
            .split('\0')
            .filter(|p| !p.is_empty())
            .count() as u64;
        if deleted as f64 > sync.mass_delete_share * tracked as f64 {
            return Err(GitSyncError::MassDelete { deleted, tracked });
        }
        Ok(())
    }

    /// Fetch, then (holding the vault lock) merge, settle conflicts, import what changed, and
    /// commit what the import wrote.
    fn pull(
        &self,
        repo: &Repo,
        spec: &RemoteSpec,
        commits: bool,
        report: &mut GitReport,
        steps: &Steps,
    ) -> Result<(), GitSyncError> {
        steps.check()?;
        steps.say("Fetching from the remote");
        let fetched = repo
            .fetch(spec)
            .map_err(|source| GitSyncError::Network { source })?;
        let Some(theirs) = fetched else {
            return Ok(()); // an empty remote: nothing to pull
        };
        steps.check()?;
        let _lock = steps.lock()?;
        let before = repo.head()?;
        let before = match before {
            Some(before) => before,
            // No history here and no files but brains' .gitignore: take the remote's history.
            None if only_gitignore(repo)? => return self.adopt(repo, spec, report, steps),
            // No history but notes (a pull with auto-commit off): they are committed first, so
            // the merge below keeps both versions of a file both sides have.
            None => {
                self.commit(repo, report, steps)?;
                match repo.head()? {
                    Some(head) => head,
                    None => return self.adopt(repo, spec, report, steps),
                }
            }
        };
        if before == theirs {
            // Nothing to merge; an earlier pull's import may still be owed.
            return self.import_between(repo, &before, &before, report, steps);
        }
        // Files written while we fetched (an export) would make git refuse the merge.
        let before = if commits {
            self.commit(repo, report, steps)?;
            repo.head()?.unwrap_or(before)
        } else {
            before
        };
        steps.say("Merging the remote's changes");
        // Unrelated histories too: a remote the user pointed us at, whose first commit is not
        // ours, is merged like any other (both versions of a file both have are kept).
        self.merge_and_import(repo, &before, &spec.tracking_ref(), true, report, steps)?;
        if commits {
            self.commit(repo, report, steps)?;
        }
        Ok(())
    }

    /// Merges `rev`, keeping both sides of every conflict, then imports what the merge changed.
    fn merge_and_import(
        &self,
        repo: &Repo,
        before: &str,
        rev: &str,
        unrelated: bool,
        report: &mut GitReport,
        steps: &Steps,
    ) -> Result<(), GitSyncError> {
        let host = hostname();
        let message = format!("{MERGE_MESSAGE_PREFIX}{rev} on {host}");
        let kept = match repo.merge(rev, &message, self.author(), unrelated)? {
            MergeOutcome::UpToDate => return Ok(()),
            MergeOutcome::Merged => Vec::new(),
            MergeOutcome::Conflicted(paths) => {
                tracing::warn!(
                    files = paths.len(),
                    "git merge conflicts: keeping both versions"
                );
                let stamp = format_compact(now_ms());
                let kept = match repo.resolve_conflicts(&stamp) {
                    Ok(kept) => kept,
                    Err(e) => {
                        // Back to the state before the merge: nothing is lost, the next try
                        // merges again (or aborts it first, if this abort fails too).
                        if let Err(abort) = repo.abort_merge() {
                            tracing::error!(error = %abort, "cannot abort the merge; the next git job does");
                        }
                        return Err(e.into());
                    }
                };
                let mut message = format!("{message}\n\nKept both versions of:");
                for k in &kept {
                    message.push_str(&format!("\n- {}", k.detail));
                }
                match repo.conclude_merge(&message, self.author()) {
                    Ok(Some(id)) => report.commits.push(id),
                    Ok(None) => {}
                    Err(e) => {
                        if let Err(abort) = repo.abort_merge() {
                            tracing::error!(error = %abort, "cannot abort the merge; the next git job does");
                        }
                        return Err(e.into());
                    }
                }
                kept
            }
        };
        report.pulled = true;
        let after = repo.head()?.ok_or_else(|| GitError::Unparsable {
            command: "git merge".into(),
            detail: "no HEAD after a merge".into(),
        })?;
        // A merge commit git made itself (no conflict, not a fast-forward) is ours too.
        // A fast-forward lands exactly on their commit, which may itself be a merge.
        let fast_forward = repo.resolve(rev)?.as_deref() == Some(after.as_str());
        if kept.is_empty() && !fast_forward && !report.commits.contains(&after) {
            report.commits.push(after.clone());
        }
        self.import_between(repo, before, &after, report, steps)?;
        let now = now_ms();
        let ops: Vec<SyncOp> = kept
            .iter()
            .map(|k| {
                SyncOp::RecordConflict(NewConflict {
                    kind: ConflictKind::GitMerge,
                    path: k.path.clone(),
                    entity: self.mapper().ok().and_then(|m| m.to_ref(&k.path).ok()),
                    store_content: k.ours.clone(),
                    file_content: k.theirs.clone(),
                    copy_path: k.copy_path.clone(),
                    detail: k.detail.clone(),
                    now_ms: now,
                })
            })
            .collect();
        if !ops.is_empty() {
            self.store.apply(&ops)?;
        }
        report.kept_both.extend(kept.into_iter().map(|k| KeptFile {
            path: k.path,
            copy_path: k.copy_path,
            detail: k.detail,
        }));
        Ok(())
    }

    fn mapper(&self) -> Result<PathMapper, brain_core::PathError> {
        PathMapper::new(self.config.vault.entity_types.iter().cloned())
    }

    /// Imports the notes that differ between two commits (both names of a move), and nothing
    /// else: no export is queued, and the caller's lock keeps exports out meanwhile.
    fn import_between(
        &self,
        repo: &Repo,
        old: &str,
        new: &str,
        report: &mut GitReport,
        steps: &Steps,
    ) -> Result<(), GitSyncError> {
        // From the last commit whose changes reached the store, if known: a pull whose import
        // failed or was cancelled after its merge is imported by the next job, which finds
        // nothing left to merge.
        let from = self
            .imported_upto()
            .filter(|x| repo.resolve(x).ok().flatten().is_some())
            .unwrap_or_else(|| old.to_owned());
        if from == new {
            return Ok(());
        }
        let changed = repo.changed_between(&from, new)?;
        report.changed_paths += changed.len() as u64;
        let mapper = self.mapper().map_err(brain_sync::SyncError::from)?;
        let mut paths = Vec::new();
        for c in changed {
            if let ChangeKind::Renamed { from } = c.kind {
                paths.push(from);
            }
            paths.push(c.path);
        }
        paths.retain(|p| p.ends_with(".md") && mapper.to_ref(p).is_ok());
        if paths.is_empty() {
            return self.mark_imported(new);
        }
        steps.say(&format!("Importing {} pulled file(s)", paths.len()));
        let engine = SyncEngine::new(self.root, self.config, self.store)?;
        // A pull that deletes many notes is someone's commit, not a vanished disk: the mass
        // delete guard would leave the store disagreeing with the files for good. Deletes are
        // tombstones either way, restorable with `brain restore`.
        let opts = SyncOptions {
            mode: SyncMode::Full,
            allow_mass_delete: true,
            only_paths: Some(paths),
        };
        let sync = engine.run(&opts, steps.progress, steps.cancel)?;
        report.imported += imported_count(&sync);
        self.mark_imported(new)
    }

    /// The last commit whose changes the store has (runtime state [`IMPORTED_KEY`]).
    fn imported_upto(&self) -> Option<String> {
        let state = self.store.runtime_state(IMPORTED_KEY).ok()??;
        state.value.get("commit")?.as_str().map(str::to_owned)
    }

    fn mark_imported(&self, commit: &str) -> Result<(), GitSyncError> {
        let value = serde_json::json!({ "commit": commit });
        self.store
            .set_runtime_state(IMPORTED_KEY, &value, now_ms())
            .map_err(GitSyncError::from)
    }

    /// Takes the remote's history as this vault's when the vault has none yet (its only file
    /// is the `.gitignore` brains wrote), then imports every file.
    fn adopt(
        &self,
        repo: &Repo,
        spec: &RemoteSpec,
        report: &mut GitReport,
        steps: &Steps,
    ) -> Result<(), GitSyncError> {
        steps.say("Checking out the remote's notes");
        let ours = std::fs::read(self.root.join(".gitignore")).unwrap_or_default();
        let tracking = spec.tracking_ref();
        // Files first, `HEAD` last: a crash in between leaves no history pointing at files that
        // are not there (which the next commit would take for deletions). `read-tree -u` refuses
        // to overwrite a file that is in the way, so nothing local is lost. Our `.gitignore`
        // steps aside for the remote's; its lines are put back below.
        let gitignore = self.root.join(".gitignore");
        let io = |source| GitError::Path {
            path: gitignore.clone(),
            source,
        };
        match std::fs::remove_file(&gitignore) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e).into()),
        }
        if let Err(e) = repo.git().run(
            repo.root(),
            &["read-tree", "-m", "-u", &tracking],
            &crate::RunOptions::default(),
        ) {
            if !gitignore.exists() {
                std::fs::write(&gitignore, &ours).map_err(io)?;
            }
            return Err(e.into());
        }
        repo.git().run(
            repo.root(),
            &["update-ref", "HEAD", &tracking],
            &crate::RunOptions::default(),
        )?;
        let upstream = format!("{}/{}", crate::remote::REMOTE_NAME, spec.branch);
        let _ = repo.git().run(
            repo.root(),
            &["branch", "-q", "--set-upstream-to", &upstream],
            &crate::RunOptions::default(),
        );
        report.pulled = true;
        let head = repo.head()?.unwrap_or_default();
        self.import_between(repo, EMPTY_TREE, &head, report, steps)?;
        // The remote's .gitignore replaced ours: put back the lines only ours had (brains' own,
        // and any the user added before connecting).
        keep_lines(&self.root.join(".gitignore"), &ours)?;
        ensure_gitignore(self.root).map_err(|source| GitError::Path {
            path: self.root.join(".gitignore"),
            source,
        })?;
        self.commit(repo, report, steps)
    }

    /// Pushes, fetching and merging again when the remote moved meanwhile.
    fn push(
        &self,
        repo: &Repo,
        spec: &RemoteSpec,
        commits: bool,
        report: &mut GitReport,
        steps: &Steps,
    ) -> Result<(), GitSyncError> {
        if repo.head()?.is_none() {
            return Ok(()); // nothing committed yet
        }
        if let Some(theirs) = repo.resolve(&spec.tracking_ref())?
            && repo.head()?.as_deref() == Some(theirs.as_str())
        {
            return Ok(()); // the remote has exactly this already
        }
        for _ in 0..PUSH_ROUNDS {
            steps.check()?;
            steps.say("Pushing to the remote");
            match repo
                .push(spec)
                .map_err(|source| GitSyncError::Network { source })?
            {
                PushOutcome::Pushed => {
                    report.pushed = true;
                    return Ok(());
                }
                PushOutcome::Rejected => self.pull(repo, spec, commits, report, steps)?,
            }
        }
        Err(GitSyncError::KeepsMoving(PUSH_ROUNDS))
    }

    fn finish(
        &self,
        repo: &Repo,
        spec: Option<&RemoteSpec>,
        report: &mut GitReport,
    ) -> Result<(), GitSyncError> {
        report.head = repo.head()?;
        if let Some(spec) = spec
            && report.head.is_some()
            && repo.resolve(&spec.tracking_ref())?.is_some()
        {
            (report.ahead, report.behind) = repo.ahead_behind(&spec.tracking_ref())?;
        }
        Ok(())
    }

    /// `brain git init`: makes the vault a repository (`git init -b BRANCH` if it is not one),
    /// adds brains' ignore lines, points `origin` at `remote`, and joins histories:
    /// - the remote is empty (or there is none): the vault's files become the first commit,
    ///   pushed to the remote;
    /// - the vault has no history and no notes yet: the remote's notes are checked out and
    ///   imported (a clone into the vault);
    /// - both have notes: the vault's are committed, then the remote's merged in, keeping both
    ///   versions of any file both have;
    /// - the vault already has history: a plain sync.
    pub fn init(
        &self,
        remote: &str,
        branch: &str,
        steps: &Steps,
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
        ensure_gitignore(self.root).map_err(|source| GitError::Path {
            path: self.root.join(".gitignore"),
            source,
        })?;
        crate::ignore::ensure_union_merge_of_gitignore(&repo)?;
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
        let only_gitignore = only_gitignore(&repo)?;
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

/// Whether the work tree's only change is the `.gitignore` (a vault with no notes yet).
fn only_gitignore(repo: &Repo) -> Result<bool, GitError> {
    Ok(repo
        .status()?
        .changed
        .iter()
        .all(|c| c.path == ".gitignore"))
}

/// Appends to the file at `path` the lines of `old` it lacks, in their order.
fn keep_lines(path: &Path, old: &[u8]) -> Result<(), GitError> {
    let io = |source| GitError::Path {
        path: path.to_path_buf(),
        source,
    };
    let mut now = std::fs::read(path).or_else(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Ok(Vec::new())
        } else {
            Err(io(e))
        }
    })?;
    let have: Vec<Vec<u8>> = now
        .split(|&b| b == b'\n')
        .map(|l| l.trim_ascii().to_vec())
        .collect();
    let missing: Vec<&[u8]> = old
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|l| !l.is_empty() && !have.iter().any(|h| h == l))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !now.is_empty() && !now.ends_with(b"\n") {
        now.push(b'\n');
    }
    for line in missing {
        now.extend_from_slice(line);
        now.push(b'\n');
    }
    std::fs::write(path, now).map_err(io)
}

fn imported_count(r: &SyncReport) -> u64 {
    r.imported + r.updated + r.renamed + r.deleted
}
