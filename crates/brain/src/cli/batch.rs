//! `brain batch`: its operations, and the query that selects their notes.

use clap::{Args, Subcommand};

/// Which notes a batch changes, and whether only to show it.
#[derive(Debug, Args)]
pub struct BatchWhere {
    /// The notes: search words and filters (`type:T` the entity type, `tag:T`, `path:FOLDER`,
    /// `meta.KEY:VALUE` a frontmatter key; quote a value with spaces: `meta.owner:"Ann Lee"`).
    /// Filters alone select every match. Repeated, `type:` and `path:` mean any of them,
    /// `tag:` and `meta.` all of them; words and `tag:` ignore letter case, `path:` and
    /// `meta.` values do not.
    #[arg(long = "where", value_name = "QUERY", allow_hyphen_values = true)]
    pub query: String,
    /// Print how many notes it selects and the diff of each, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `brain batch` subcommands.
#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Set a frontmatter key (or Logseq page property) on every selected note.
    Set {
        /// KEY=VALUE; the value is read as YAML where YAML reads back what was typed (`3`,
        /// `true`, `[a, b]`), else kept as text.
        #[arg(value_name = "KEY=VALUE")]
        assignment: String,
        /// Keep the value as text, whatever it looks like.
        #[arg(long)]
        string: bool,
        #[command(flatten)]
        select: BatchWhere,
    },
    /// Remove a frontmatter key from every selected note.
    Unset {
        /// The key.
        key: String,
        #[command(flatten)]
        select: BatchWhere,
    },
    /// Add or remove a tag in the frontmatter (or page properties) of every selected note.
    /// Inline #tags in the text are left as they are.
    Tag {
        /// `add` or `remove`.
        #[arg(value_parser = ["add", "remove"])]
        action: String,
        /// The tag (`#` optional).
        tag: String,
        #[command(flatten)]
        select: BatchWhere,
    },
    /// Move every selected note into a folder, keeping its file name (history kept).
    Mv {
        /// The folder, vault-relative (`Archive/2026`).
        #[arg(long, value_name = "FOLDER")]
        to: String,
        #[command(flatten)]
        select: BatchWhere,
    },
    /// Replace every occurrence of OLD with NEW in every selected note, frontmatter included.
    /// The match is exact: letter case counts (a note the search found as `Alice` is left as
    /// it is if it holds only `alice`).
    Replace {
        /// The text to find.
        old: String,
        /// What replaces it.
        new: String,
        #[command(flatten)]
        select: BatchWhere,
    },
    /// Delete every selected note (each restorable with `brain restore`).
    Rm {
        #[command(flatten)]
        select: BatchWhere,
        /// Delete even when that is most of the vault's notes (more than
        /// `sync.mass_delete_share`), which is refused otherwise (exit 5), as a sync is.
        #[arg(long)]
        allow_mass_delete: bool,
    },
    /// A batch's progress and outcome: notes changed, left, failed (with why).
    Status {
        /// The batch's id.
        id: i64,
        /// Follow it until it ends; then exit 1 if it ended failed (some notes could not be
        /// changed: listed with why) or cancelled.
        #[arg(long)]
        wait: bool,
    },
    /// Undo a batch: every note it changed gets its version from before the batch, as a batch
    /// of its own. A note changed since is kept as it is, with a conflict holding both.
    Rollback {
        /// The batch's id.
        id: i64,
    },
    /// Cancel a batch: notes not yet reached are left as they are; those changed stay so.
    Cancel {
        /// The batch's id.
        id: i64,
    },
    /// The newest batches.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}
