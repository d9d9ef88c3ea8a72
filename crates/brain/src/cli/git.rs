//! `brain git`: its operations and their options.

use clap::{Args, Subcommand};

/// `brain git ...`. Every operation but `status` and `log` runs as a `git` job (one at a time
/// per vault); with `brain serve` running, its workers run it and this command follows.
#[derive(Debug, Subcommand)]
pub enum GitCommand {
    /// Make the vault a git repository connected to REMOTE: clone into an empty vault, connect
    /// an existing one (its notes are committed and merged with the remote's, keeping both
    /// versions of a file both have), or start an empty remote's history. Turns on git sync in
    /// `brain serve` (git.enabled).
    Init(GitInitArgs),
    /// Branch, commits ahead of and behind the remote, changed files, last sync, conflicts.
    Status,
    /// Commit, pull (fetch and merge, keeping both sides of a conflict), import what changed,
    /// push.
    Sync {
        /// Commit even if it deletes most notes (refused by default: an emptied or unmounted
        /// vault folder must not delete every device's notes).
        #[arg(long)]
        allow_mass_delete: bool,
    },
    /// Fetch and merge the remote's commits, then import the notes they changed.
    Pull,
    /// Push the commits the remote lacks (merging first if it moved).
    Push,
    /// The history of the vault, or of one note.
    Log(GitLogArgs),
}

/// `brain git init` options.
#[derive(Debug, Args)]
pub struct GitInitArgs {
    /// The remote's URL (https://, ssh, or a path). Without it the history stays local. Put a
    /// token in BRAIN_GIT_TOKEN (or git.token), never in the URL.
    #[arg(long, value_name = "URL")]
    pub remote: Option<String>,
    /// The branch to sync.
    #[arg(long, default_value = "main")]
    pub branch: String,
}

/// `brain git log` options.
#[derive(Debug, Args)]
pub struct GitLogArgs {
    /// Only the commits that changed this note (following its renames).
    #[arg(value_name = "TYPE/ID")]
    pub entity: Option<String>,
    /// At most this many commits.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub limit: usize,
}
