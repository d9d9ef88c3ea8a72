//! Why a git job failed, and whether a retry can help.

use crate::GitError;

/// Why a git job failed. The handler decides from it whether a retry can help.
#[derive(Debug, thiserror::Error)]
pub enum GitSyncError {
    /// The vault has no repository yet.
    #[error("{} is not a git repository yet: run `brain git init --remote URL` (or `brain git init` for local history only)", .0.display())]
    NotARepo(std::path::PathBuf),
    /// A local git command failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// Fetching or pushing failed. The commits made here are kept either way. The message
    /// never promises a retry: whether one is scheduled is known only to whoever runs the job
    /// (a job with attempts left under `brain serve`), which says so itself; a missing
    /// repository, a bad URL or refused credentials say what to fix.
    #[error("{}", remote_failure_text(.source))]
    Network {
        /// What git said.
        source: GitError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] brain_store::StoreError),
    /// Writing the notes changed in the store to their files, before a commit, failed: nothing
    /// was committed, so no note is left out of a commit that claims to have it.
    #[error(
        "writing the notes changed in the store to their files before the commit failed, so \
         nothing was committed: {0}"
    )]
    Export(brain_api::directory::SyncError),
    /// Importing the vault files a commit was about to commit (edited on disk since the store
    /// read them) failed: nothing was committed, so no commit holds an edit the store lacks.
    #[error("{}", local_import_text(.0))]
    LocalImport(brain_api::directory::SyncError),
    /// The import of the pulled files failed.
    #[error("importing the pulled files failed: {0}")]
    Import(brain_api::directory::SyncError),
    /// The sync lock could not be taken.
    #[error("{0}")]
    Lock(String),
    /// The remote kept moving while we pushed.
    #[error(
        "the remote branch moved {0} times while pushing: another device is pushing too; the \
         commits made here are kept and the next git sync merges and pushes them"
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
    /// `brain git init` did not finish. It is never retried (a retry would set up a remote the
    /// user was told is not set up), and it says what it left: the remote setting it made
    /// undone, git sync left as it was, the commits made here kept.
    #[error("{}", init_failure_text(.0))]
    InitFailed(Box<InitFailure>),
    /// The commit would delete most notes: refused, nothing committed. Its message starts
    /// with [`MASS_DELETE_REFUSAL`], which is how a caller that has only the job's recorded error
    /// (the CLI following a job a daemon ran) tells this refusal apart.
    #[error(
        "{MASS_DELETE_REFUSAL} {deleted} of the {tracked} notes in git: refused, nothing was \
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

/// How the message of [`GitSyncError::MassDelete`] starts. A job's error travels as text (the
/// job row), so the CLI reads the refusal from it to exit with the documented code 5 rather than
/// 1: a script must be able to tell "refused, bring the files back" from "failed, try again".
pub const MASS_DELETE_REFUSAL: &str = "this commit would delete";

/// Whether a git job's recorded error is the mass-delete refusal ([`GitSyncError::MassDelete`]),
/// on its own or as the cause of a failed `brain git init` (which puts it on a line of its own).
pub fn is_mass_delete_refusal(error: &str) -> bool {
    error
        .lines()
        .any(|line| line.starts_with(MASS_DELETE_REFUSAL))
}

/// What a failed `brain git init` left, for its message ([`GitSyncError::InitFailed`]).
#[derive(Debug)]
pub struct InitFailure {
    /// Why it failed.
    pub cause: GitSyncError,
    /// The remote URL it was given (empty: local history only).
    pub remote: String,
    /// What became of the `origin` remote.
    pub origin: OriginLeft,
    /// Commits it made here, oldest first: kept in the vault's repository.
    pub commits: Vec<String>,
    /// Whether it pushed before a later step failed.
    pub pushed: bool,
    /// Whether git sync (`git.enabled`) was already on: init only turns it on when it succeeds.
    pub enabled: bool,
}

/// What a failed `brain git init` did with the `origin` remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginLeft {
    /// It failed before setting any.
    NotSet,
    /// The `origin` it added is removed.
    Removed,
    /// `origin` points at the URL it had before, again.
    PointedBack(String),
    /// `origin` already had this URL, so it is kept as it was.
    Kept,
    /// Undoing the setting failed: the user must remove it.
    UndoFailed(String),
}

impl InitFailure {
    /// Whether the remote could not be reached at all: a network error or a timeout, as opposed
    /// to a remote that answered no (no repository, refused credentials) or a local failure.
    pub fn unreachable(&self) -> bool {
        match &self.cause {
            GitSyncError::Network { source } => source.is_transient(),
            _ => false,
        }
    }
}

/// A failed `brain git init`'s message: what failed, that nothing was pushed, what it left as
/// it was, and what to do. The cause is on a line of its own (see [`is_mass_delete_refusal`]).
fn init_failure_text(f: &InitFailure) -> String {
    let pushed = if f.pushed {
        "its commits were pushed, but a later step failed"
    } else {
        "nothing was pushed"
    };
    let head = if f.remote.is_empty() {
        format!("git init did not finish: {pushed}")
    } else if f.unreachable() {
        format!("git init could not reach the remote {}: {pushed}", f.remote)
    } else {
        format!(
            "git init with the remote {} did not finish: {pushed}",
            f.remote
        )
    };
    // git's own message; a remote failure's retry advice is for syncs, not for init.
    let cause = match &f.cause {
        GitSyncError::Network { source } => source.to_string(),
        other => other.to_string(),
    };
    let origin = match &f.origin {
        OriginLeft::NotSet => "no remote was set".to_owned(),
        OriginLeft::Removed => "the `origin` remote it added was removed".to_owned(),
        OriginLeft::PointedBack(url) => format!("`origin` points at {url} again, as before"),
        OriginLeft::Kept => format!("`origin` was already {} and is kept", f.remote),
        OriginLeft::UndoFailed(e) => format!(
            "the `origin` remote it set could not be undone ({e}): remove it with `git remote \
             remove origin`"
        ),
    };
    let enabled = if f.enabled {
        "git sync stays on with the remote in config.toml, as before"
    } else {
        "git sync is not enabled (git.enabled stays false)"
    };
    let commits = match f.commits.as_slice() {
        [] => "it made no commit".to_owned(),
        ids => format!(
            "the commit(s) it made here ({}) are kept in the vault's repository",
            ids.iter()
                .map(|id| &id[..id.len().min(10)])
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let rerun = if f.remote.is_empty() {
        "`brain git init`".to_owned()
    } else {
        format!("`brain git init --remote {}`", f.remote)
    };
    let todo = if f.unreachable() {
        format!("check the URL and the network, then run {rerun} again")
    } else {
        format!("fix the cause above, then run {rerun} again")
    };
    format!(
        "{head}.\n{cause}\nLeft as it was: {origin}; {enabled}; {commits}; this is not \
         retried: {todo}."
    )
}

/// A failed import of the edited files before a commit: what failed, that nothing was
/// committed, and what to do. The directory sync's mass-delete refusal is reworded for git sync
/// (its flag is `brain git sync --allow-mass-delete`) and starts with [`MASS_DELETE_REFUSAL`],
/// so the CLI exits with the refusal's code.
fn local_import_text(e: &brain_api::directory::SyncError) -> String {
    match e {
        brain_api::directory::SyncError::MassDelete {
            would_delete, live, ..
        } => format!(
            "{MASS_DELETE_REFUSAL} {would_delete} of the {live} notes in the store: refused, \
             nothing was imported or committed. If the vault folder was emptied by mistake or is \
             not mounted, bring the files back; if you meant to delete them, run `brain git \
             sync --allow-mass-delete`"
        ),
        other => format!(
            "importing the note files edited in the vault, before committing them, failed, so \
             nothing was committed: {other}"
        ),
    }
}

/// What a failed fetch or push says after git's own message. It promises no retry (whoever
/// runs the job says whether one is scheduled): a temporary failure's commits are pushed by
/// the next sync that reaches the remote; any other failure needs the user to act first.
fn remote_failure_text(source: &GitError) -> String {
    if source.is_transient() {
        format!(
            "{source}\nyour commits are kept in the vault's repository and pushed by the next \
             git sync that reaches the remote"
        )
    } else {
        format!(
            "{source}\nthis is not retried: fix the cause above first; any commits made are kept \
             in the vault's repository and pushed by the next `brain git sync` that reaches the \
             remote"
        )
    }
}

impl From<brain_api::directory::SyncError> for GitSyncError {
    fn from(e: brain_api::directory::SyncError) -> GitSyncError {
        match e {
            brain_api::directory::SyncError::Cancelled { .. } => GitSyncError::Cancelled,
            other => GitSyncError::Import(other),
        }
    }
}

impl GitSyncError {
    /// Whether retrying later can fix it: the network, a timeout, a remote that keeps moving,
    /// a busy store or lock. Not: credentials, a remote that does not exist or a URL git cannot
    /// use, an unresolved merge, a missing repository, anything git said that we do not know.
    pub fn is_retryable(&self) -> bool {
        match self {
            GitSyncError::Network { source } => source.is_transient(),
            GitSyncError::Git(e) => e.is_transient(),
            GitSyncError::Store(_) | GitSyncError::Lock(_) | GitSyncError::KeepsMoving(_) => true,
            GitSyncError::Import(_) => true,
            // As a `directory-export` job decides: refusals the user must act on are final.
            GitSyncError::Export(e) | GitSyncError::LocalImport(e) => !matches!(
                e,
                brain_api::directory::SyncError::MassDelete { .. }
                    | brain_api::directory::SyncError::VaultUnreadable { .. }
                    | brain_api::directory::SyncError::Config(_)
            ),
            GitSyncError::NotARepo(_)
            | GitSyncError::InitFailed(_)
            | GitSyncError::Cancelled
            | GitSyncError::MassDelete { .. }
            | GitSyncError::NoSuchBranch { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mass_delete_refusal_is_told_from_its_message_and_nothing_else_is() {
        let refused = GitSyncError::MassDelete {
            deleted: 12,
            tracked: 12,
        };
        assert!(is_mass_delete_refusal(&refused.to_string()), "{refused}");
        for other in [
            GitSyncError::Lock("this commit would not".into()),
            GitSyncError::KeepsMoving(3),
            GitSyncError::Cancelled,
            GitSyncError::NotARepo("/v".into()),
        ] {
            assert!(!is_mass_delete_refusal(&other.to_string()), "{other}");
        }
    }

    #[test]
    fn a_failed_init_keeps_the_refusal_its_cause_was_and_never_promises_a_retry() {
        let failed = |cause| {
            GitSyncError::InitFailed(Box::new(InitFailure {
                cause,
                remote: "/r.git".into(),
                origin: OriginLeft::Removed,
                commits: vec!["0123456789abcdef".into()],
                pushed: false,
                enabled: false,
            }))
        };
        let refused = failed(GitSyncError::MassDelete {
            deleted: 12,
            tracked: 12,
        });
        assert!(is_mass_delete_refusal(&refused.to_string()), "{refused}");
        assert!(!refused.is_retryable());
        let moving = failed(GitSyncError::KeepsMoving(3)).to_string();
        assert!(!is_mass_delete_refusal(&moving), "{moving}");
        for said in [
            "git init with the remote /r.git did not finish: nothing was pushed",
            "the commit(s) it made here (0123456789) are kept",
            "this is not retried: fix the cause above",
        ] {
            assert!(moving.contains(said), "{said:?} not in {moving}");
        }
    }
}
