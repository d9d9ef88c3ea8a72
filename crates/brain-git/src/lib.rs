//! Git sync for brains. For now the runner of the system `git` command ([`Git`]) and the view
//! of the vault's repository ([`Repo`]) that the git-sync jobs (pull, commit, push) will use:
//! its status, and [`Repo::commit_all`], the auto-commit that refuses unresolved merges and
//! conflict markers.
//!
//! We drive the `git` CLI rather than a library so that the user's SSH keys, credential helpers
//! and config are honoured. Every command runs with a predictable environment (`LC_ALL=C`, no
//! password prompts), a timeout that kills the whole process tree, and an optional auth header
//! that is passed through the environment only and redacted from every error and log line.
//!
//! Two pure helpers sit beside it: [`render_commit_message`] fills the user's commit message
//! template, and [`ensure_gitignore`] adds the lines that keep brains' own files out of the
//! vault's history.

mod commit;
mod error;
mod git;
mod ignore;
mod message;
mod repo;

pub use error::GitError;
pub use git::{Git, GitVersion, Output, RunOptions, Secret};
pub use ignore::{DEFAULT_IGNORES, ensure_gitignore};
pub use message::{MessageContext, hostname, render_commit_message};
pub use repo::{ChangeKind, ChangedPath, Repo, RepoStatus};

/// Result alias for git calls.
pub type Result<T, E = GitError> = std::result::Result<T, E>;
