//! Config types, their defaults, and the commented default `config.toml`.
//!
//! Defaults live in one place (the `Default` impls); the commented file that `brain init` writes
//! and `brain config default` prints is checked against them by a test, so the two cannot drift.
//! Loading and layering (file, then `BRAIN_*` environment, then flags) is the binary's job.

use serde::{Deserialize, Serialize};

/// The whole per-vault configuration (`.brain/config.toml`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// What the vault holds and how paths map to entities.
    pub vault: VaultConfig,
    /// How directory sync behaves.
    pub sync: SyncConfig,
    /// Search defaults.
    pub search: SearchConfig,
    /// The job queue.
    pub jobs: JobsConfig,
    /// The daemon, `brain serve`: watcher, debounce, initial and periodic scans.
    pub serve: ServeConfig,
    /// Git sync: versioning and sharing the vault through a remote.
    pub git: GitConfig,
    /// The MCP server (`brain mcp`, and `/mcp` on `brain serve`'s HTTP address).
    pub mcp: McpConfig,
    /// The store file (`.brain/brain.db`): how hard each write is flushed to disk.
    pub store: StoreConfig,
    /// How long earlier versions of notes are kept.
    pub history: HistoryConfig,
    /// Jobs `brain serve` runs on a timer (`[[schedule]]`, any number).
    pub schedule: Vec<ScheduleConfig>,
}

/// `[[schedule]]`: a job `brain serve` queues on a timer. Checked when the daemon starts (and by
/// `brain schedules list`): the timing must parse, the job type must exist and take the input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// A unique name (`brain schedules list` shows it).
    pub name: String,
    /// The job type to queue (`directory-sync`, `git`, ...; `brain jobs list` shows types).
    pub job: String,
    /// The job's input (a table); `{}` when left out.
    #[serde(default = "empty_input")]
    pub input: serde_json::Value,
    /// A cron expression (minute hour day-of-month month day-of-week, UTC), or...
    pub cron: Option<String>,
    /// ...an interval (`90s`, `30m`, `1h 30m`, `1d`).
    pub every: Option<String>,
    /// `replica` (the default: in this vault's folder) or `store` (once for the whole store,
    /// when several machines share it).
    pub scope: Option<String>,
}

fn empty_input() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// `[history]`: which earlier versions of a note are kept. Every version for `keep_all_days`,
/// then the last of each day until `daily_days`, then the last of each month; a note's current
/// version (a deleted note's last text included) is never dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryConfig {
    /// Whether a change keeps the version it replaces. Off, nothing earlier than a note's
    /// current text can be read back (`brain history` lists only what was kept while it was
    /// on): only for a vault whose past lives elsewhere, such as git. Ignored on a store
    /// several folders share, whose history is every folder's.
    pub keep: bool,
    /// Days during which every version is kept.
    pub keep_all_days: u32,
    /// Days (from the version's making) during which one version per day is kept; older ones
    /// keep one per month.
    pub daily_days: u32,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            keep: true,
            keep_all_days: 30,
            daily_days: 365,
        }
    }
}

/// `[store]`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Which backend holds the store. Picked once, where the binary opens the vault; nothing
    /// past that point knows which one it is.
    pub backend: StoreBackend,
    /// The database of the `postgres` backend (`postgres://USER@HOST:PORT/DB?sslmode=...`),
    /// never with a password in it: that comes from `PGPASSWORD`, `~/.pgpass` or a service file.
    pub url: Option<String>,
    /// How far a commit is flushed before a write is acknowledged.
    pub synchronous: Synchronous,
}

/// The store backends this build has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreBackend {
    /// One SQLite file in the vault (`.brain/brain.db`): the embedded default.
    #[default]
    Sqlite,
    /// A PostgreSQL database (`store.url`), for a brain shared by several machines.
    Postgres,
}

/// How far SQLite flushes a commit before it returns (its `synchronous` setting, in WAL mode).
///
/// Both survive the process being killed; they differ on power loss or an operating-system
/// crash, where `Normal` may drop the last commits (the next sync repairs notes from their
/// files, but a write not yet exported is gone) and `Full` keeps every acknowledged write at
/// the cost of one more flush per commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Synchronous {
    /// Flush at checkpoints only: safe against crashes of the process, not against power loss.
    #[default]
    Normal,
    /// Flush the log at every commit: every acknowledged write survives a power loss too.
    Full,
}

/// `[mcp]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    /// The largest note an agent may write in one `create` or `update`, in bytes: an agent in
    /// a loop must not fill the vault with one giant file.
    pub max_body_bytes: u64,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1_048_576,
        }
    }
}

/// `[git]`
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GitConfig {
    /// `brain serve` commits, pulls and pushes on its own.
    pub enabled: bool,
    /// The remote's URL; empty: commit locally only.
    pub remote: String,
    /// The branch to sync.
    pub branch: String,
    /// Commit changed notes once they settle.
    pub auto_commit: bool,
    /// ...this long after the last change.
    pub commit_debounce_ms: u64,
    /// Pull and push every this many seconds; 0: only on demand.
    pub sync_interval_s: u64,
    /// Push after each commit.
    pub auto_push: bool,
    /// Pull when `brain serve` starts.
    pub pull_on_start: bool,
    /// The commit message: `{date}`, `{hostname}`, `{count}` (notes), `{other}` (other files), `{files}`.
    pub commit_message: String,
    /// Commit author; empty: git's own configuration.
    pub author_name: String,
    /// Commit author's email; empty: git's own configuration.
    pub author_email: String,
    /// A token for an HTTP remote, sent per command as a header, never stored by git. Better
    /// set as `BRAIN_GIT_TOKEN` in the environment than written here.
    pub token: String,
    /// A git command still running after this many seconds is killed (a job with attempts left
    /// tries again).
    pub timeout_s: u64,
}

impl Default for GitConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            remote: String::new(),
            branch: "main".into(),
            auto_commit: true,
            commit_debounce_ms: 10_000,
            sync_interval_s: 300,
            auto_push: true,
            pull_on_start: true,
            commit_message: "brain: {count} note(s) changed on {hostname}\n\n{files}".into(),
            author_name: String::new(),
            author_email: String::new(),
            token: String::new(),
            timeout_s: 120,
        }
    }
}

/// Never prints the token, so a config in a log or an error message does not leak it.
impl std::fmt::Debug for GitConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitConfig")
            .field("enabled", &self.enabled)
            .field("remote", &self.remote)
            .field("branch", &self.branch)
            .field("auto_commit", &self.auto_commit)
            .field("commit_debounce_ms", &self.commit_debounce_ms)
            .field("sync_interval_s", &self.sync_interval_s)
            .field("auto_push", &self.auto_push)
            .field("pull_on_start", &self.pull_on_start)
            .field("commit_message", &self.commit_message)
            .field("author_name", &self.author_name)
            .field("author_email", &self.author_email)
            .field("token", &if self.token.is_empty() { "" } else { "***" })
            .field("timeout_s", &self.timeout_s)
            .finish()
    }
}

/// How `brain serve` notices changes to files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WatchMode {
    /// The operating system's file events (inotify, FSEvents, ReadDirectoryChangesW); falls back
    /// to polling when they cannot be set up (watch limit reached, unsupported file system).
    Native,
    /// Stat the vault every `watch_interval_ms`: network drives, some FUSE and container mounts
    /// deliver no events.
    Poll,
}

/// `[serve]`
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Queue a whole-vault sync when the daemon starts, to catch what changed while it was down.
    pub initial_sync: bool,
    /// ...this long after start-up, so the daemon answers at once.
    pub initial_sync_delay_ms: u64,
    /// Native file events, or polling.
    pub watch_mode: WatchMode,
    /// How often polling looks at the vault (and how often native mode retries after an error).
    pub watch_interval_ms: u64,
    /// Changes are applied after this long without further changes: on files (an import) and on
    /// entities (an export), so a burst becomes one job and a half-saved file is not read.
    pub sync_debounce_ms: u64,
    /// A whole-vault scan every this many seconds catches anything the watcher missed; 0 turns
    /// it off.
    pub verify_interval_s: u64,
    /// Worker threads running jobs.
    pub workers: usize,
    /// Where the daemon's HTTP server (MCP at `/mcp`) listens; empty: no HTTP. Any address
    /// other than loopback needs `http_token`.
    pub http: String,
    /// The bearer token HTTP requests must carry; empty: none (loopback only). Better set as
    /// `BRAIN_SERVE_HTTP_TOKEN` in the environment than written here.
    pub http_token: String,
    /// Web origins (`https://notes.example.org`, `http://localhost:3000`, `:*` for any port)
    /// allowed besides the server's own. A request whose `Origin` header is neither is refused,
    /// so a web page cannot drive the server from a visitor's browser (DNS rebinding); requests
    /// without `Origin` (the SDKs, curl) are not affected.
    pub allowed_origins: Vec<String>,
}

/// Never prints the token, so a config in a log or an error message does not leak it.
impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("initial_sync", &self.initial_sync)
            .field("initial_sync_delay_ms", &self.initial_sync_delay_ms)
            .field("watch_mode", &self.watch_mode)
            .field("watch_interval_ms", &self.watch_interval_ms)
            .field("sync_debounce_ms", &self.sync_debounce_ms)
            .field("verify_interval_s", &self.verify_interval_s)
            .field("workers", &self.workers)
            .field("http", &self.http)
            .field(
                "http_token",
                &if self.http_token.is_empty() {
                    ""
                } else {
                    "***"
                },
            )
            .field("allowed_origins", &self.allowed_origins)
            .finish()
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            initial_sync: true,
            initial_sync_delay_ms: 1_000,
            watch_mode: WatchMode::Native,
            watch_interval_ms: 2_000,
            sync_debounce_ms: 500,
            verify_interval_s: 600,
            workers: 2,
            http: "127.0.0.1:7433".into(),
            http_token: String::new(),
            allowed_origins: Vec::new(),
        }
    }
}

/// `[jobs]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Finished jobs are deleted after this many days.
    pub retention_days: u32,
    /// A job whose worker stops heartbeating for this long is taken over by another.
    pub lease_ms: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            retention_days: 7,
            lease_ms: 5_000,
        }
    }
}

/// `[vault]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultConfig {
    /// Top-level folders that hold entities of that type.
    pub entity_types: Vec<String>,
    /// The vault's flavour; decides Logseq handling.
    pub format: VaultFormat,
}

impl Default for VaultConfig {
    fn default() -> Self {
        Self {
            entity_types: Vec::new(),
            format: VaultFormat::Auto,
        }
    }
}

/// Which tool writes the vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VaultFormat {
    /// Logseq if `logseq/config.edn` exists, otherwise Obsidian/plain.
    Auto,
    /// An Obsidian vault (YAML frontmatter).
    Obsidian,
    /// A Logseq graph: page properties, escaped namespace file names, `logseq/` skipped.
    Logseq,
    /// Any folder of Markdown.
    Plain,
}

/// What to do when a note changed both on disk and in the store since the last sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    /// The file on disk stays and becomes the entity; the store's version is written next to it
    /// as `<name>.conflict-<timestamp>.md`. Both are listed in `brain conflicts`.
    KeepBoth,
    /// The file's version wins; the store's version is kept in the conflict record.
    FileWins,
    /// The store's version is written over the file; the file's version is kept in the record.
    DbWins,
    /// The more recently changed side wins; the other is kept in the record.
    NewestWins,
}

/// `[sync]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Files larger than this many bytes are skipped and reported.
    pub max_file_bytes: u64,
    /// How a change on both sides is settled.
    pub conflict_policy: ConflictPolicy,
    /// A sync that would soft-delete more than this share of all entities stops instead...
    pub mass_delete_share: f64,
    /// ...unless it deletes at most this many.
    pub mass_delete_min: u64,
    /// Threads that read and parse files during import; 0 means one per core.
    pub read_threads: usize,
    /// Store writes are committed every this many files, so a cancelled or killed import keeps
    /// what it did.
    pub commit_every: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            max_file_bytes: 5 * 1024 * 1024,
            conflict_policy: ConflictPolicy::KeepBoth,
            mass_delete_share: 0.5,
            mass_delete_min: 10,
            read_threads: 0,
            commit_every: 1000,
        }
    }
}

/// `[search]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Hits returned when `--limit` is not given.
    pub default_limit: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self { default_limit: 20 }
    }
}

/// The file `brain init` writes: every option, commented, at its default.
pub const DEFAULT_CONFIG_TOML: &str = r#"# brains configuration for this vault. Every option is listed with its default value.
# Any option can also be set from the environment as BRAIN_<SECTION>_<OPTION>,
# e.g. BRAIN_SYNC_MAX_FILE_BYTES=1048576.

[vault]
# Top-level folders whose name is a note type: with ["topic"], topic/rust.md is the note
# topic/rust. Every other .md file is a `note` whose id is its path without .md.
# Names use lower-case letters, digits, '-' and '_'; `note` is built in.
entity_types = []
# "auto" (Logseq if logseq/config.edn exists), "obsidian", "logseq" or "plain".
# Logseq: `key:: value` page properties, Project___Alpha.md titled Project/Alpha, logseq/ skipped.
format = "auto"

[sync]
# Files larger than this (bytes) are skipped and reported, never read. Default 5 MiB.
max_file_bytes = 5242880
# A note changed both on disk and in the store since the last sync:
#   "keep-both"   the file stays and becomes the note; the store's version is written beside it
#                 as <name>.conflict-<timestamp>.md (default)
#   "file-wins"   the file's version wins
#   "db-wins"     the store's version is written over the file
#   "newest-wins" the side changed last wins
# Whatever the policy, the losing version is kept in the conflict record (`brain conflicts`).
conflict_policy = "keep-both"
# A sync that would soft-delete more than this share of all notes stops and deletes nothing
# (a vault on an unmounted drive looks empty)...
mass_delete_share = 0.5
# ...unless it deletes at most this many. `brain sync --allow-mass-delete` overrides both.
mass_delete_min = 10
# Threads that read and parse files during import; 0 means one per core.
read_threads = 0
# Store writes are committed every this many files.
commit_every = 1000

[search]
# Hits returned when --limit is not given.
default_limit = 20

[jobs]
# Finished jobs (their results and errors) are kept this many days, then deleted.
retention_days = 7
# A running job's worker renews its lease every 400 ms; a job whose worker stopped (killed,
# crashed) is taken over by another worker this long after its last renewal.
lease_ms = 5000

[serve]
# `brain serve` queues a whole-vault sync when it starts (catching what changed while it was
# down), this many milliseconds after start-up.
initial_sync = true
initial_sync_delay_ms = 1000
# "native": the operating system's file events, falling back to polling when they cannot be set
# up; "poll": look at the vault every watch_interval_ms (network drives, some FUSE mounts).
watch_mode = "native"
watch_interval_ms = 2000
# Changes are applied after this long without further changes, on both sides: saved files are
# imported, notes written through the CLI or MCP are written to their files. A burst becomes
# one job.
sync_debounce_ms = 500
# A whole-vault scan every this many seconds catches anything the watcher missed; 0 = never.
verify_interval_s = 600
# Worker threads running jobs.
workers = 2
# Where the HTTP server listens (the MCP endpoint is http://ADDRESS/mcp); "" = no HTTP. An
# address other than loopback (127.0.0.1, ::1, localhost) is refused without http_token.
http = "127.0.0.1:7433"
# Requests must carry `Authorization: Bearer TOKEN` when set. Prefer the environment:
# BRAIN_SERVE_HTTP_TOKEN=...
http_token = ""
# Web pages (origins, e.g. "https://notes.example.org" or "http://localhost:*") that may call
# the HTTP server from a browser besides its own address. A request carrying any other Origin
# is refused; requests with no Origin (MCP SDKs, curl) are not affected.
allowed_origins = []

[git]
# `brain serve` commits, pulls and pushes on its own when enabled.
enabled = false
# The remote's URL; empty: commit locally only.
remote = ""
branch = "main"
# Commit changed notes commit_debounce_ms after the last change.
auto_commit = true
commit_debounce_ms = 10000
# Pull and push every this many seconds; 0: only on demand.
sync_interval_s = 300
auto_push = true
pull_on_start = true
# Placeholders: {date}, {hostname}, {count} (notes), {other} (other files), {files}.
commit_message = "brain: {count} note(s) changed on {hostname}\n\n{files}"
# Empty: git's own user.name / user.email.
author_name = ""
author_email = ""
# A token for an HTTP remote, sent per command as a header and never stored by git.
# Prefer the environment: BRAIN_GIT_TOKEN=...
token = ""
# A git command still running after this many seconds is killed (a git sync with attempts
# left tries again).
timeout_s = 120

[mcp]
# The largest note an agent may write in one create or update, in bytes.
max_body_bytes = 1048576

[store]
# Where the brain lives: "sqlite" (one file, .brain/brain.db, in the vault) or "postgres"
# (the database `url` names; `brain init --store postgres://USER@HOST/DB` sets both).
backend = "sqlite"
# The PostgreSQL database, without a password (give it in PGPASSWORD or ~/.pgpass):
# url = "postgres://me@db.example/brain?sslmode=verify-full"
# "normal": every acknowledged write survives the process being killed; a power loss or an
# operating-system crash may drop the last few (the next sync restores notes from their files,
# but a write not yet written to its file is lost). "full": every acknowledged write is flushed
# to disk first, so it survives a power loss too, at the cost of a slower write.
synchronous = "normal"

[history]
# Every change of a note keeps the version it replaced (`brain history`). `false` keeps none
# from then on (versions kept before stay): only for a vault whose past lives elsewhere (git).
# A PostgreSQL store keeps history whatever this says: it belongs to every folder sharing it,
# and its daily thinning keeps what the most keeping folder's rules below keep.
keep = true
# Every version is kept for this many days...
keep_all_days = 30
# ...then the last of each day until this many days, then the last of each month. A note's
# current version, a deleted note's last text included, is always kept.
daily_days = 365

# Jobs `brain serve` queues on a timer, as many [[schedule]] blocks as you like (none by
# default; the git timer and the verification scan above are built-in schedules). Give a
# unique name, the job type, its input, and either `cron` (five fields, UTC) or `every`.
# A time missed while no daemon ran fires once at the next start, not once per time missed.
# `brain schedules list` shows each schedule's next and last run.
#
# [[schedule]]
# name = "nightly-full-sync"
# job = "directory-sync"
# input = { mode = "full" }
# cron = "0 3 * * *"      # or: every = "6h"
# scope = "replica"       # "replica": in this vault's folder; "store": once for the store
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commented_default_matches_default_impl() {
        let parsed: Config = toml::from_str(DEFAULT_CONFIG_TOML).expect("default config parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn the_git_token_never_shows_in_debug() {
        let mut c = Config::default();
        c.git.token = "s3cr3t-token".into();
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn schedules_parse_with_their_input() {
        let c: Config = toml::from_str(
            "[[schedule]]\nname = \"n\"\njob = \"directory-sync\"\ninput = { mode = \"full\" }\ncron = \"0 3 * * *\"\n",
        )
        .expect("a schedule parses");
        assert_eq!(c.schedule[0].input, serde_json::json!({"mode": "full"}));
        assert_eq!(c.schedule[0].cron.as_deref(), Some("0 3 * * *"));
        let no_input: Config =
            toml::from_str("[[schedule]]\nname = \"n\"\njob = \"x\"\nevery = \"1h\"\n")
                .expect("input is optional");
        assert_eq!(no_input.schedule[0].input, serde_json::json!({}));
        assert!(
            toml::from_str::<Config>("[[schedule]]\nname = \"n\"\njob = \"x\"\nevry = \"1h\"\n")
                .is_err(),
            "a misspelt key is refused"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("[sync]\nmax_file_bytez = 1\n").is_err());
    }
}
