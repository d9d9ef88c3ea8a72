//! Command-line definitions. Parsing only fills these structs; `main` turns them into work.

use std::path::PathBuf;

use brain_bench::BenchCommand;
use clap::{Args, Parser, Subcommand};

mod batch;
mod git;

pub use batch::{BatchCommand, BatchWhere};
pub use git::{GitCommand, GitInitArgs, GitLogArgs};

/// Exit codes, shown in `brain --help`.
pub const EXIT_CODES: &str = "\
Exit codes:
    0  success
    1  failed or refused (the message says what and what to do)
    2  usage mistake (unknown flag or value, missing or malformed argument such as an id
       without TYPE/ or whose type the vault does not have, an empty query)
    3  sync completed, but some files were skipped (listed with reasons)
    4  not found (no such note, conflict or job)
    5  refused for safety: a sync or git commit would delete too many notes; nothing was
       deleted or committed (--allow-mass-delete if it is meant)
  130  cancelled with Ctrl-C (work done so far is kept)";

/// brains: one consistent body of knowledge across a Markdown vault, a searchable store and
/// the tools that reach it.
#[derive(Debug, Parser)]
#[command(name = "brain", version, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    /// The vault folder (default: the nearest vault at or above the current folder, as git finds
    /// its repository).
    #[arg(long, global = true, env = "BRAIN_VAULT", value_name = "DIR")]
    pub vault: Option<PathBuf>,
    /// Print exactly one JSON document on stdout; logs go to stderr.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output on stderr (-v info, -vv debug). BRAIN_LOG=filter overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make this folder a vault: create .brain/ with config.toml, brain.db and a .gitignore.
    /// With --store URL the brain is in PostgreSQL, and a store other folders already use gains
    /// this one as a replica: its first `brain sync` writes the store's notes here and merges
    /// this folder's own (differences kept both ways as conflicts).
    Init(InitArgs),
    /// The store itself: move the brain to another backend.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Bring files and store in step (import changed files, write notes changed through brain to their files).
    Sync(SyncArgs),
    /// Full-text search, ranked by BM25, with highlighted snippets.
    Search(SearchArgs),
    /// List notes.
    List(ListArgs),
    /// Print a note's file, as the store holds it (an earlier version with --version).
    #[command(disable_version_flag = true)]
    Get(GetArgs),
    /// A note's versions, oldest first, the current one last: when, by what (file, cli, mcp,
    /// git...) and why. Every change keeps the version it replaced.
    History(RefArg),
    /// A unified diff from version FROM to version TO of a note (numbers from `brain history`).
    Diff(DiffArgs),
    /// Change part of a note without sending it whole: append or prepend text, replace the text
    /// under a heading, find and replace (with the count you expect), set or remove one
    /// frontmatter key (or Logseq page property). Everything else stays byte for byte; it goes
    /// through the same compare-and-set as `put`, and its file follows.
    Edit(EditArgs),
    /// Move a note to another id or type (a draft promoted: `brain mv draft/plan
    /// note/Projects/plan`): the same note, its history and creation time kept; its file moves
    /// at the next sync. Refused when the target exists. Links to it are left as they are.
    Mv(MvArgs),
    /// Write an earlier version of a note back as a new change (its file follows, and the
    /// version it replaces is kept too); a deleted note comes back.
    Revert(RevertArgs),
    /// Create or update a note from stdin or --file; queues the export that writes its file.
    Put(PutArgs),
    /// Delete a note (restorable with `brain restore`); queues moving its file to .brain/trash.
    Rm(RefMessageArgs),
    /// Bring back a deleted note; queues writing its file again.
    Restore(RefMessageArgs),
    /// Keep files and store in step while both change: file watcher, job workers, writing the
    /// files of notes changed by any interface, and MCP over HTTP at serve.http
    /// (127.0.0.1:7433/mcp by default). Runs until SIGINT or SIGTERM. On a PostgreSQL store
    /// that several folders share, it also writes here what the other folders change (their
    /// deletes move this folder's file to .brain/trash/), and while the server does not answer
    /// it goes on watching files and catches up when it does.
    Serve,
    /// What is running and what recently finished, and the daemon's watcher. On a PostgreSQL
    /// store that several folders share, also every folder: how many notes it is behind on,
    /// whether its sync is paused and whether its daemon runs; when the server does not
    /// answer, since when this folder's daemon has been offline.
    Status,
    /// Serve the Model Context Protocol on stdin/stdout, for an AI agent's client (Claude
    /// Desktop, an IDE, any MCP client): search, read, write and sync this vault, with progress.
    /// With no daemon serving the vault, this process runs the jobs (exports, syncs) itself.
    /// `brain serve` offers the same over HTTP at http://ADDRESS/mcp.
    Mcp,
    /// Run queued jobs in this process until stopped, or with --until-idle until none is left
    /// (`brain sync --detach` starts one); with --store, a store's jobs without a vault folder.
    Work(WorkArgs),
    /// Change every note a query selects in one go, as a batch of jobs you can watch, cancel
    /// and roll back: `brain batch set status=done --where "tag:project-x"`. The query is the
    /// search language with filters `type:T`, `tag:T`, `path:FOLDER`, `meta.KEY:VALUE`
    /// (filters alone select every match). Returns at once with the batch's id.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// Jobs in the queue.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Conflicts: notes changed on both sides, and paths that collide.
    #[command(subcommand)]
    Conflicts(ConflictsCommand),
    /// Jobs `brain serve` runs on a timer: the git timer, the verification scan, and the
    /// `[[schedule]]` blocks of config.toml.
    #[command(subcommand)]
    Schedules(SchedulesCommand),
    /// Version and share the vault through a git remote: init, status, sync, pull, push, log.
    #[command(subcommand)]
    Git(GitCommand),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Measure performance and print figures with ratios to baselines run alongside.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Check the store (SQLite and search-index integrity, files against notes); with
    /// --rebuild, build a new store from the note files, keeping the old one beside it.
    Doctor(DoctorArgs),
}

/// `brain doctor` flags.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Build a new store from the note files. On SQLite, the old store is moved to
    /// .brain/brain.db.old-STAMP (with its -wal and -shm); no note file is changed, and edits
    /// the old store had not yet written to files are written to their own path (when nothing
    /// is there) or beside it as a conflict copy (when that file holds other text). On
    /// PostgreSQL the store is kept (other folders may share it) and its search text is
    /// computed again from the notes.
    #[arg(long)]
    pub rebuild: bool,
}

/// `brain sync` flags.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SyncArgs {
    /// Pause or resume directory sync instead of running one.
    #[command(subcommand)]
    pub action: Option<SyncAction>,
    /// Only import changed files; leave notes changed through brain for later.
    #[arg(long, conflicts_with = "export_only")]
    pub import_only: bool,
    /// Only write notes changed through brain to their files; leave file changes for later.
    #[arg(long)]
    pub export_only: bool,
    /// Queue the sync, print its job id and return at once; a background worker runs it.
    #[arg(long)]
    pub detach: bool,
    /// Allow a sync that deletes more than sync.mass_delete_share of the notes.
    #[arg(long)]
    pub allow_mass_delete: bool,
}

/// `brain sync pause|resume`.
#[derive(Debug, Subcommand)]
pub enum SyncAction {
    /// Stop applying changes: file changes and note writes are still queued (as jobs), and
    /// nothing is imported or exported until `brain sync resume`. Holds across processes. On a
    /// store several folders share, only this folder pauses: the others go on.
    Pause,
    /// Apply what was queued while paused, and go on syncing.
    Resume,
}

/// `brain store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy the whole brain (notes, deleted ones, conflicts, file bases, the change feed's
    /// position) to another store, verify it, and switch this vault to it. The old store is
    /// left as it was.
    Copy {
        /// Where to: a PostgreSQL URL (postgres://USER@HOST[:PORT]/DB, no password in it) or
        /// `sqlite` (.brain/brain.db).
        #[arg(long, value_name = "URL|sqlite")]
        to: String,
        /// Replace what the target holds (a SQLite file is moved aside first, not deleted).
        #[arg(long)]
        force: bool,
    },
    /// Make this folder its replica's folder on its PostgreSQL store in place of the one the
    /// store records: after moving the folder to another machine or restoring it from a
    /// backup. Every command refuses a folder that is not the recorded one, so that a copy
    /// never shares the replica of the folder it was copied from.
    Reattach {
        /// Reattach even though the recorded folder is still there on this machine with its
        /// .brain/ (it will then be refused in turn).
        #[arg(long)]
        force: bool,
    },
    /// Remove another folder (replica) from this vault's PostgreSQL store, for a folder deleted
    /// or a machine gone for good: its file bases, schedules and record of notes to write go,
    /// and its queued jobs are cancelled, so the store stops keeping changes for it. The notes
    /// stay. `brain status` lists the replicas.
    Forget {
        /// The replica id, as `brain status` lists it.
        replica: String,
        /// Forget it even though its daemon published its state within the last minute.
        #[arg(long)]
        force: bool,
    },
}

/// `brain init` options.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Keep the brain in this PostgreSQL database (postgres://USER@HOST[:PORT]/DB, the schema
    /// made on first use) instead of .brain/brain.db. No password in the URL: give it in
    /// PGPASSWORD, ~/.pgpass or a service file. A store that other folders already use is
    /// joined: this folder becomes one more replica (its id in .brain/replica), and its first
    /// `brain sync` writes the store's notes here and merges this folder's own (different text
    /// under one name is kept both ways, the store's at the name).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

/// `brain work` options.
#[derive(Debug, Args)]
pub struct WorkArgs {
    /// Exit once no job is queued or running.
    #[arg(long)]
    pub until_idle: bool,
    /// Run the jobs of this PostgreSQL store (postgres://USER@HOST/DB) without a vault folder:
    /// jobs that need one (a sync, an import, a git sync) are left to a machine that has it.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

/// `brain search` arguments.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words (ANDed), "a phrase", prefix*, -excluded, a OR b, and filters: type:T, tag:T,
    /// path:FOLDER, meta.KEY:VALUE (quote a value with spaces: meta.owner:"Ann Lee"; filters
    /// alone list every match, newest first; repeated type: and path: mean any of them, tag:
    /// and meta. all of them; path: and meta. values count letter case). Quote a query with -terms
    /// (`brain search 'crab -recipe'`) or put `--` before it.
    #[arg(required = true, num_args = 1..)]
    pub query: Vec<String>,
    /// Only notes of this type (repeatable).
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only notes with this tag (repeatable: all must match).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// At most this many hits, 1 to 500 (default: search.default_limit).
    #[arg(long, value_name = "N", value_parser = search_limit)]
    pub limit: Option<usize>,
}

/// `brain list` filters.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this type.
    #[arg(long = "type", value_name = "TYPE")]
    pub entity_type: Option<String>,
    /// Only notes with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Only notes under this folder.
    #[arg(long)]
    pub folder: Option<String>,
    /// Include deleted notes.
    #[arg(long)]
    pub deleted: bool,
    /// At most this many, at least 1 (default: every note).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub limit: Option<usize>,
    /// Skip this many first.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
}

/// A `--limit`: a count of at least 1. A limit of 0 is a usage mistake (exit 2), not "no
/// limit": MCP and the CLI read it alike, and leaving the flag out is how to ask for all.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("a limit must be at least 1 (leave --limit out for no limit)".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}: give a whole number of at least 1")),
    }
}

/// A search `--limit`: [`at_least_one`], and no more than a search returns
/// ([`brain_api::MAX_SEARCH_LIMIT`]), so a larger one is refused instead of quietly cut.
fn search_limit(s: &str) -> Result<usize, String> {
    let max = brain_api::MAX_SEARCH_LIMIT;
    match at_least_one(s)? {
        n if n > max => Err(format!(
            "a search returns at most {max} hits: give --limit {max} or less, and narrow the \
             query (more words, --type, --tag) to see the rest"
        )),
        n => Ok(n),
    }
}

/// A single `TYPE/ID` argument.
#[derive(Debug, Args)]
pub struct RefArg {
    /// The note, as TYPE/ID (e.g. note/Projects/plan).
    #[arg(value_name = "TYPE/ID")]
    pub entity: String,
}

/// `brain get` arguments.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The note, as TYPE/ID (e.g. note/Projects/plan).
    #[arg(value_name = "TYPE/ID")]
    pub entity: String,
    /// Print this version instead of the current one (`brain history` lists them).
    #[arg(long, value_name = "N")]
    pub version: Option<u64>,
}

/// `brain edit` arguments: one operation.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("operation").required(true)
    .args(["append", "prepend", "section", "find", "set", "unset"])))]
pub struct EditArgs {
    /// The note, as TYPE/ID.
    #[arg(value_name = "TYPE/ID")]
    pub entity: String,
    /// Add TEXT at the end of the note (`-`: read it from stdin).
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub append: Option<String>,
    /// Add TEXT at the start of the body, after the frontmatter (`-`: stdin).
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub prepend: Option<String>,
    /// Replace the text under this heading, up to the next heading of its level or higher,
    /// with --text (the heading line stays).
    #[arg(long, value_name = "HEADING", requires = "text")]
    pub section: Option<String>,
    /// The new text of --section (`-`: stdin).
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub text: Option<String>,
    /// Replace this text with --replace, only if it occurs exactly --count times.
    #[arg(
        long,
        value_name = "TEXT",
        requires = "replace",
        allow_hyphen_values = true
    )]
    pub find: Option<String>,
    /// What replaces --find.
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub replace: Option<String>,
    /// How many times --find must occur.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub count: usize,
    /// Set one top-level metadata key (a dot is part of its name): KEY=VALUE. `3` is a number,
    /// `true` a boolean, `[a, b]` a list (replacing the old one whole), `{a: 1}` a map; any
    /// other value, or one YAML would read otherwise (`1.10`, `Plan #work`), is kept as typed
    /// text, as every value is with --string.
    #[arg(long, value_name = "KEY=VALUE", allow_hyphen_values = true)]
    pub set: Option<String>,
    /// Keep --set's value as text.
    #[arg(long, requires = "set")]
    pub string: bool,
    /// Remove one metadata key.
    #[arg(long, value_name = "KEY")]
    pub unset: Option<String>,
    /// Edit only if the note still has this content_hash (from `brain get --json`).
    #[arg(long, value_name = "HASH")]
    pub expected_hash: Option<String>,
    /// Why, kept with the new version.
    #[arg(long, short = 'm')]
    pub message: Option<String>,
}

/// `brain mv` arguments.
#[derive(Debug, Args)]
pub struct MvArgs {
    /// The note, as TYPE/ID.
    #[arg(value_name = "TYPE/ID")]
    pub from: String,
    /// Where it goes, as TYPE/ID.
    #[arg(value_name = "NEW_TYPE/NEW_ID")]
    pub to: String,
    /// Why, kept with the new version.
    #[arg(long, short = 'm')]
    pub message: Option<String>,
}

/// `brain diff` arguments.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The note, as TYPE/ID.
    #[arg(value_name = "TYPE/ID")]
    pub entity: String,
    /// The older version's number.
    pub from: u64,
    /// The newer version's number (default: the current version).
    pub to: Option<u64>,
}

/// `brain revert` arguments.
#[derive(Debug, Args)]
pub struct RevertArgs {
    /// The note, as TYPE/ID.
    #[arg(value_name = "TYPE/ID")]
    pub entity: String,
    /// The version to write back (`brain history` lists them).
    #[arg(long, value_name = "N")]
    pub to: u64,
    /// Why, kept with the new version.
    #[arg(long, short = 'm')]
    pub message: Option<String>,
}

/// `brain put` arguments.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The note, as TYPE/ID.
    #[arg(value_name = "TYPE/ID")]
    pub entity: String,
    /// Read the note from this file instead of stdin.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Store it only if the note still has this content_hash (from `brain get --json`), and
    /// its file on disk still holds it: a change you have not seen is never overwritten.
    #[arg(long, value_name = "HASH", conflicts_with = "if_absent")]
    pub expected_hash: Option<String>,
    /// Store it only if there is no such note yet, and no file at its path.
    #[arg(long)]
    pub if_absent: bool,
    /// Why, kept with the version this makes (`brain history`).
    #[arg(long, short = 'm')]
    pub message: Option<String>,
}

/// `brain rm` and `brain restore` arguments.
#[derive(Debug, Args)]
pub struct RefMessageArgs {
    /// The note, as TYPE/ID (e.g. note/Projects/plan).
    #[arg(value_name = "TYPE/ID")]
    pub entity: String,
    /// Why, kept with the version this makes (`brain history`).
    #[arg(long, short = 'm')]
    pub message: Option<String>,
}

/// `brain schedules ...`
#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// Every schedule with its timing, scope, next and last run. Those of config.toml that no
    /// `brain serve` has registered yet are listed as such.
    List,
}

/// `brain jobs ...`
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Jobs, newest first.
    List {
        /// Only jobs in this state (queued, running, succeeded, failed, cancelled); repeatable.
        #[arg(long = "state", value_parser = ["queued", "running", "succeeded", "failed", "cancelled"])]
        states: Vec<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One job with its input, progress, result or error.
    Show {
        /// Job id (`7` or `#7`, as listed).
        #[arg(value_parser = parse_id)]
        id: i64,
    },
    /// Cancel a job: a queued one at once, a running one within a second.
    Cancel {
        /// Job id (`7` or `#7`, as listed).
        #[arg(value_parser = parse_id)]
        id: i64,
    },
    /// Queue a failed or cancelled job again.
    Retry {
        /// Job id (`7` or `#7`, as listed).
        #[arg(value_parser = parse_id)]
        id: i64,
    },
}

/// `brain conflicts ...`
#[derive(Debug, Subcommand)]
pub enum ConflictsCommand {
    /// Unresolved conflicts (with --all, resolved ones too).
    List {
        /// Include resolved conflicts.
        #[arg(long)]
        all: bool,
    },
    /// One conflict with both versions.
    Show {
        /// Conflict id from `brain conflicts list` (`1` or `#1`).
        #[arg(value_parser = parse_id)]
        id: i64,
    },
    /// Mark a conflict as settled (after you merged what you wanted to keep).
    Resolve {
        /// Conflict id (`7` or `#7`, as listed).
        #[arg(value_parser = parse_id)]
        id: i64,
    },
}

/// `brain config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the commented default config.toml.
    Default,
    /// Print the effective configuration (file, then BRAIN_* environment).
    Show,
}

/// A job or conflict id as listings print it (`#7`) or bare (`7`).
fn parse_id(s: &str) -> Result<i64, String> {
    let digits = s.trim().strip_prefix('#').unwrap_or(s.trim());
    digits
        .parse()
        .map_err(|_| format!("'{s}' is not an id: give the number a listing shows, e.g. 7 or #7"))
}
