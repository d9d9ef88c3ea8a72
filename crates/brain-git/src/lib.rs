//! Git sync for brains. For now only the runner of the system `git` command ([`Git`]) that the
//! git-sync jobs (pull, commit, push) will use.
//!
//! We drive the `git` CLI rather than a library so that the user's SSH keys, credential helpers
//! and config are honoured. Every command runs with a predictable environment (`LC_ALL=C`, no
//! password prompts), a timeout that kills the whole process tree, and an optional auth header
//! that is passed through the environment only and redacted from every error and log line.

mod error;
mod git;

pub use error::GitError;
pub use git::{Git, GitVersion, Output, RunOptions, Secret};

/// Result alias for git calls.
pub type Result<T, E = GitError> = std::result::Result<T, E>;
