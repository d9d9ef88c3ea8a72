//! Git sync for brains: the vault versioned and shared through any git remote.
//!
//! Layers, bottom up: the runner of the system `git` command ([`Git`]); the vault's repository
//! ([`Repo`]: status, [`Repo::commit_all`] that refuses unresolved merges but commits text that
//! merely looks like conflict markers, fetch/merge/push in [`remote`], and [`Repo::resolve_conflicts`] that keeps both sides of a
//! conflicting merge); one git job ([`sync::GitSync`]: commit, pull, import what the pull
//! changed, push); the `git` job type ([`jobs`]); and the daemon's timer ([`schedule`]).
//!
//! We drive the `git` CLI rather than a library so that the user's SSH keys, credential helpers
//! and config are honoured. Every command runs with a predictable environment (`LC_ALL=C`, no
//! password prompts), a timeout that kills the whole process tree, and an optional auth header
//! that is passed through the environment only and redacted from every error and log line.
//!
//! Two pure helpers sit beside it: [`render_commit_message`] fills the user's commit message
//! template, and [`ensure_gitignore`] adds the lines that keep brains' own files out of the
//! vault's history.

mod brainignore;
mod commit;
mod error;
mod git;
mod ignore;
pub mod jobs;
mod merge;
mod message;
pub mod plugin;
pub mod remote;
mod repo;
pub mod schedule;
pub mod sync;

pub use brainignore::BRAINIGNORE;
pub use error::GitError;
pub use git::{Git, GitVersion, Output, RunOptions, Secret};
pub use ignore::{DEFAULT_IGNORES, ensure_gitignore};
pub use merge::KeptBoth;
pub use message::{MessageContext, hostname, render_commit_message};
pub use plugin::GitPlugin;
pub use remote::{MergeOutcome, PushOutcome, RemoteSpec, token_header};
pub use repo::{ChangeKind, ChangedPath, Repo, RepoStatus};
pub use sync::{GitOp, GitReport, GitSync, GitSyncError};

/// Result alias for git calls.
pub type Result<T, E = GitError> = std::result::Result<T, E>;
