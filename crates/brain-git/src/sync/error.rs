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
    /// Fetching or pushing failed. The commits made here are kept either way; only a failure
    /// a retry can fix (the network, a timeout, another git's lock) is said to be pushed on a
    /// later try: a missing repository, a bad URL or refused credentials say what to fix.
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
    Export(brain_sync::SyncError),
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

/// Whether a git job's recorded error is the mass-delete refusal ([`GitSyncError::MassDelete`]).
pub fn is_mass_delete_refusal(error: &str) -> bool {
    error.starts_with(MASS_DELETE_REFUSAL)
}

/// What a failed fetch or push says after git's own message: a temporary failure is retried
/// and its commits pushed later; any other is not, and the user must act first.
fn remote_failure_text(source: &GitError) -> String {
    if source.is_transient() {
        format!(
            "{source}\nyour commits are kept in the vault's repository and pushed on a later try"
        )
    } else {
        format!(
            "{source}\nthis is not retried: fix the cause above first; any commits made are kept \
             in the vault's repository and pushed by the next `brain git sync` that reaches the \
             remote"
        )
    }
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
    /// a busy store or lock. Not: credentials, a remote that does not exist or a URL git cannot
    /// use, an unresolved merge, a missing repository, anything git said that we do not know.
    pub fn is_retryable(&self) -> bool {
        match self {
            GitSyncError::Network { source } => source.is_transient(),
            GitSyncError::Git(e) => e.is_transient(),
            GitSyncError::Store(_) | GitSyncError::Lock(_) | GitSyncError::KeepsMoving(_) => true,
            GitSyncError::Import(_) => true,
            // As a `directory-export` job decides: refusals the user must act on are final.
            GitSyncError::Export(e) => !matches!(
                e,
                brain_sync::SyncError::MassDelete { .. }
                    | brain_sync::SyncError::VaultUnreadable { .. }
                    | brain_sync::SyncError::Config(_)
            ),
            GitSyncError::NotARepo(_)
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
}
