//! One git-sync job: commit what changed here, fetch and merge what changed there, import
//! exactly the files the merge changed, commit what that import wrote (conflict copies), push.
//!
//! Order and locks: the local commit and the merge-and-import hold `.brain/sync.lock` (as every
//! directory job does), so no export writes a file under git's feet; fetch and push, which wait
//! on the network, hold nothing. Every commit first writes, under that lock, the notes changed
//! in the store whose export is still pending, so a note written just before a git sync is in
//! its commit; and it imports the note files it is about to commit that changed on disk since
//! the store read them (only the paths `git status` lists), so the store is never behind its
//! own commit. The import after a pull reads only the paths the merge changed
//! (`git diff old new`), queues no export and makes no commit of its own: what it imported is
//! already committed.

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use brain_api::directory::{DirectorySync, SyncError, SyncMode, SyncOptions, SyncReport};
use brain_core::time::{format_compact, format_iso, now_ms};
use brain_core::{CancelToken, Config, PathMapper, Phase};
use brain_jobs::progress::JobProgressReporter;
use brain_store::{ConflictKind, NewConflict, Store, SyncOp};
use serde::{Deserialize, Serialize};

use crate::remote::{EMPTY_TREE, MergeOutcome, PushOutcome, RemoteSpec, token_header};
use crate::{
    ChangeKind, Git, GitError, MessageContext, Repo, ensure_gitignore, hostname,
    render_commit_message,
};

mod error;
mod init;
mod pull;

pub use error::{
    GitSyncError, InitFailure, MASS_DELETE_REFUSAL, OriginLeft, is_mass_delete_refusal,
};

pub use brain_api::git::GitOp;

/// One file of a merge kept in two versions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptFile {
    /// The file.
    pub path: String,
    /// Where the other version went, if it was written apart: the remote's, for a file
    /// changed on both sides; this device's uncommitted one, for a file a `.brainignore`
    /// excludes that the remote changed (its path says which, in `detail`).
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
    /// Files git tracks that a `.brainignore` newly excludes: left as git has them (never
    /// deleted there), their changes not committed. Each is reported by one job only, so the
    /// user is warned once, not at every sync.
    #[serde(default)]
    pub brainignored_tracked: Vec<String>,
    /// Notes changed in the store (`brain put`, MCP writes) whose files are not written because
    /// directory sync is paused (`brain sync pause`): they are in no commit of this job, and
    /// the user must hear that rather than "nothing to do". Counted at the job's last commit.
    #[serde(default)]
    pub waiting_for_resume: u64,
    /// Notes imported, updated, renamed or deleted in the store from the vault files this job
    /// committed (edited on disk since the store last read them), so the store that `search`,
    /// `get` and MCP answer from holds what the commit holds. Zero while directory sync is
    /// paused: the files are committed as they are and imported on `brain sync resume`.
    #[serde(default)]
    pub imported_local: u64,
}

/// Runs git jobs for one vault.
pub struct GitSync<'a> {
    /// The vault root.
    pub root: &'a Path,
    /// Its configuration (`[git]`, and `[vault]`/`[sync]` for the import).
    pub config: &'a Config,
    /// Its store.
    pub store: &'a dyn Store,
    /// The directory-sync plugin's engine (capability `directory-sync`): the exports before a
    /// commit and the imports after a pull run through it, under this job's vault lock.
    pub sync: &'a dyn DirectorySync,
    /// The git program.
    pub git: Git,
    /// Commit even if most notes are deleted (`brain git sync --allow-mass-delete`).
    pub allow_mass_delete: bool,
    /// Directory exports are paused (`brain sync pause`): a commit then writes no pending
    /// export either, and commits the files as they are, since the user asked that nothing be
    /// written to the files until `brain sync resume`.
    pub exports_paused: bool,
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

    fn say(&self, phase: Phase, message: &str) {
        self.progress.step(phase, message);
    }
}

/// Runtime-state key of the last commit whose changes were imported into the store.
pub const IMPORTED_KEY: &str = "git-imported";

/// Runtime-state key of the tracked files a `.brainignore` excludes that the user was already
/// warned about (`{"paths": [...]}`).
pub const BRAINIGNORED_KEY: &str = "git-brainignored";

/// How a git job's merge messages start, so a later job knows an unfinished merge is its own.
const MERGE_MESSAGE_PREFIX: &str = "brain: merge ";

/// How many times a rejected push is retried (fetch, merge, push) within one job.
const PUSH_ROUNDS: u32 = 3;

impl GitSync<'_> {
    pub(super) fn author(&self) -> Option<(&str, &str)> {
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
    pub(super) fn remote(
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

    /// The vault's `.gitignore` lines and the union merge of `.gitignore`: on every job, not
    /// only `init`, since a repository made by hand must not commit the database either.
    pub(super) fn ensure_ignores(&self, repo: &Repo) -> Result<(), GitSyncError> {
        ensure_gitignore(self.root).map_err(|source| GitError::Path {
            path: self.root.join(".gitignore"),
            source,
        })?;
        Ok(crate::ignore::ensure_union_merge_of_gitignore(repo)?)
    }

    /// Runs `op` and reports what it did.
    pub fn run(&self, op: GitOp, steps: &Steps) -> Result<GitReport, GitSyncError> {
        let git = &self.config.git;
        if op == GitOp::Init {
            return self.init(&git.remote, &git.branch, steps);
        }
        let repo = self.repo()?;
        self.ensure_ignores(&repo)?;
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
        if commits {
            // Always under the lock, whatever the status said before it: a note written to the
            // store (`brain put`, MCP `create`) may have its file written only now, by the
            // commit's own export or by an export job that held the lock meanwhile.
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
    pub(super) fn merge_is_ours(&self, repo: &Repo) -> bool {
        repo.run(&["rev-parse", "--git-path", "MERGE_MSG"])
            .ok()
            .map(|out| repo.root().join(out.stdout.trim_end_matches('\n')))
            .and_then(|path| std::fs::read_to_string(path).ok())
            .is_some_and(|msg| msg.starts_with(MERGE_MESSAGE_PREFIX))
    }

    /// Writes to their files every note changed in the store and not yet written (what the
    /// queued `directory-export` jobs would write, however long their debounce still runs), so
    /// a commit right after a `brain put` or an MCP `create` holds the note. The caller holds
    /// `.brain/sync.lock`, which is what an export job would take: running the export here
    /// rather than waiting for the job cannot deadlock, and the job then finds nothing to do.
    pub(super) fn write_pending_exports(&self, steps: &Steps) -> Result<u64, GitSyncError> {
        if self.exports_paused {
            tracing::info!("directory sync is paused: committing the files as they are");
            return Ok(0);
        }
        let dirty = self.store.dirty_entities()?;
        if dirty.is_empty() {
            return Ok(0);
        }
        steps.say(
            Phase::Exporting,
            &format!(
                "Writing {} changed note(s) to their files before committing",
                dirty.len()
            ),
        );
        let export = |e: SyncError| match e {
            SyncError::Cancelled { .. } => GitSyncError::Cancelled,
            other => GitSyncError::Export(other),
        };
        let opts = SyncOptions {
            mode: SyncMode::Outbox,
            // `brain git sync --allow-mass-delete` lets the export of many deletes go too.
            allow_mass_delete: self.allow_mass_delete,
            only_paths: Some(dirty.into_iter().map(|d| d.path).collect()),
        };
        let done = self
            .sync
            .run(&opts, steps.progress, steps.cancel)
            .map_err(export)?;
        Ok(done.exported + done.trashed)
    }

    /// Imports into the store the note files this commit is about to commit that changed on
    /// disk since the store last read them, so a one-shot `brain git sync` (no `brain serve`
    /// watching) leaves no store behind its own commit: `get`, `search` and MCP answer with
    /// what was committed, and a later `brain sync` finds nothing to import. Only the paths
    /// `git status` lists are read, never the whole vault, and they are imported exactly as the
    /// watcher's `directory-import` job would (a note changed on both sides keeps both, a
    /// deleted file soft-deletes its note, the mass-delete guard applies unless
    /// `--allow-mass-delete`). A commit that would be refused for deleting most notes is
    /// refused before anything is imported. Skipped while directory sync is paused. The caller
    /// holds `.brain/sync.lock`. Returns how many notes changed in the store.
    pub(super) fn import_local_edits(
        &self,
        repo: &Repo,
        steps: &Steps,
    ) -> Result<u64, GitSyncError> {
        if self.exports_paused {
            tracing::info!(
                "directory sync is paused: the edited files are committed but not imported \
                 until `brain sync resume`"
            );
            return Ok(0);
        }
        let status = repo.status()?;
        let mapper = self.mapper().ok();
        let mut paths = Vec::new();
        for c in &status.changed {
            if let ChangeKind::Renamed { from } = &c.kind {
                paths.push(from.clone());
            }
            paths.push(c.path.clone());
        }
        paths.retain(|p| is_note(mapper.as_ref(), p));
        if paths.is_empty() {
            return Ok(0);
        }
        self.check_mass_delete(repo, &status)?;
        steps.say(
            Phase::Importing,
            &format!(
                "Importing {} changed file(s) before committing them",
                paths.len()
            ),
        );
        let import = |e: SyncError| match e {
            SyncError::Cancelled { .. } => GitSyncError::Cancelled,
            other => GitSyncError::LocalImport(other),
        };
        // What a `directory-import` job of these paths runs.
        let opts = SyncOptions {
            mode: SyncMode::Full,
            allow_mass_delete: self.allow_mass_delete,
            only_paths: Some(paths),
        };
        let done = self
            .sync
            .run(&opts, steps.progress, steps.cancel)
            .map_err(import)?;
        Ok(done.imported + done.updated + done.renamed + done.deleted)
    }

    /// Writes the pending exports, then commits every change in the work tree with the
    /// configured message. The caller holds `.brain/sync.lock`.
    pub(super) fn commit(
        &self,
        repo: &Repo,
        report: &mut GitReport,
        steps: &Steps,
    ) -> Result<(), GitSyncError> {
        steps.check()?;
        self.write_pending_exports(steps)?;
        if self.exports_paused {
            report.waiting_for_resume = self.store.dirty_entities()?.len() as u64;
        }
        report.imported_local += self.import_local_edits(repo, steps)?;
        steps.say(Phase::Committing, "Committing changed files");
        let template = &self.config.git.commit_message;
        let mut files = 0;
        let mut refused = None;
        let mut check_brainignored = false;
        let mapper = self.mapper().ok();
        let message = |status: &crate::RepoStatus| {
            // A file excluded now, or a `.brainignore` that changed (and may exclude a tracked
            // file that did not change): time to see whether the user must be told.
            check_brainignored = !status.brainignored.is_empty()
                || status.changed.iter().any(|c| {
                    c.path == crate::BRAINIGNORE
                        || c.path.ends_with(&format!("/{}", crate::BRAINIGNORE))
                });
            if let Err(e) = self.check_mass_delete(repo, status) {
                refused = Some(e);
                return None;
            }
            let changed: Vec<String> = status.changed.iter().map(|c| c.path.clone()).collect();
            let notes = changed
                .iter()
                .filter(|p| is_note(mapper.as_ref(), p))
                .count();
            let ctx = MessageContext {
                date: format_iso(now_ms()),
                hostname: hostname(),
                files: changed,
                notes,
            };
            files = ctx.files.len();
            Some(render_commit_message(template, &ctx))
        };
        let committed = repo.commit_all_with(message, self.author())?;
        if let Some(e) = refused {
            return Err(e);
        }
        if check_brainignored {
            self.warn_brainignored_tracked(repo, report)?;
        }
        if let Some(id) = committed {
            tracing::info!(commit = %id, files, "committed");
            report.commits.push(id);
        }
        Ok(())
    }

    /// Puts in the report, once per file, the tracked files a `.brainignore` excludes: a job
    /// leaves them as git has them, and the user must know their changes stay out of git.
    fn warn_brainignored_tracked(
        &self,
        repo: &Repo,
        report: &mut GitReport,
    ) -> Result<(), GitSyncError> {
        let now = repo.tracked_but_brainignored()?;
        let warned: Vec<String> = self
            .store
            .runtime_state(BRAINIGNORED_KEY)?
            .and_then(|s| serde_json::from_value(s.value.get("paths")?.clone()).ok())
            .unwrap_or_default();
        let new: Vec<String> = now
            .iter()
            .filter(|p| !warned.contains(p))
            .cloned()
            .collect();
        if new.is_empty() && warned.len() == now.len() {
            return Ok(());
        }
        if !new.is_empty() {
            tracing::warn!(
                files = ?new,
                "files git tracks are excluded by .brainignore: left as they are in git, their \
                 changes not committed"
            );
        }
        // Only the files still excluded are remembered: one included again and excluded
        // later is warned about again.
        let value = serde_json::json!({ "paths": now });
        self.store
            .set_runtime_state(BRAINIGNORED_KEY, &value, now_ms())?;
        report.brainignored_tracked.extend(new);
        Ok(())
    }

    /// Refuses a commit that would delete more than `sync.mass_delete_share` of the tracked
    /// notes (and at least `sync.mass_delete_min`): a vault folder emptied by mistake or not
    /// mounted must not delete the notes of every device. `--allow-mass-delete` lets it go.
    pub(super) fn check_mass_delete(
        &self,
        repo: &Repo,
        status: &crate::RepoStatus,
    ) -> Result<(), GitSyncError> {
        if self.allow_mass_delete {
            return Ok(());
        }
        // `changed` holds no file a `.brainignore` excludes: those are never deleted in git.
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
            .run(&["ls-files", "-z", "--", "*.md"])?
            .stdout
            .split('\0')
            .filter(|p| !p.is_empty())
            .count() as u64;
        if deleted as f64 > sync.mass_delete_share * tracked as f64 {
            return Err(GitSyncError::MassDelete { deleted, tracked });
        }
        Ok(())
    }

    /// Pushes, fetching and merging again when the remote moved meanwhile.
    pub(super) fn push(
        &self,
        repo: &Repo,
        spec: &RemoteSpec,
        commits: bool,
        report: &mut GitReport,
        steps: &Steps,
    ) -> Result<(), GitSyncError> {
        let Some(head) = repo.head()? else {
            return Ok(()); // nothing committed yet
        };
        if repo.resolve(&spec.tracking_ref())?.as_deref() == Some(head.as_str()) {
            return Ok(()); // the remote has exactly this already
        }
        for _ in 0..PUSH_ROUNDS {
            steps.check()?;
            steps.say(Phase::Pushing, "Pushing to the remote");
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

    pub(super) fn finish(
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
}

/// Whether `path` is a note: a Markdown file the vault maps to an entity, outside the folders
/// directory sync never reads (any dot segment: `.obsidian/`, `.trash/`, ...). Everything else a
/// commit holds is a file, not a note.
fn is_note(mapper: Option<&PathMapper>, path: &str) -> bool {
    path.ends_with(".md")
        && !path.split('/').any(|s| s.starts_with('.'))
        && mapper.is_some_and(|m| m.to_ref(path).is_ok())
}
