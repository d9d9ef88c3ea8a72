//! The options of `brain bench` and its benchmarks, parsed by clap in the binary (which embeds
//! [`BenchCommand`] as its `bench` subcommand), so the flags and their help stay beside the code
//! that reads them.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `brain bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Initial import, no-change sync, search latency and import memory on generated vaults.
    Import(BenchImportArgs),
    /// Queue throughput, enqueue rate, claim-to-start latency and the overhead of running an
    /// import as a job.
    Queue(BenchQueueArgs),
    /// The second process of `brain bench queue --store` (not for direct use).
    #[command(hide = true)]
    QueueWorker(BenchQueueWorkerArgs),
    /// Live sync against a running `brain serve`: file write to searchable, `brain put` to file
    /// on disk (p50/p99, debounce subtracted), next to a direct import, and the daemon's idle CPU.
    Live(BenchLiveArgs),
    /// Git sync: `brain git sync` with no change and with changed notes on a generated vault
    /// pushed to a bare remote, next to plain `git add -A && git commit && git push` of the same
    /// change.
    Git(BenchGitArgs),
    /// MCP tool-call latency (p50/p99) of `search` and `get` from the official Python MCP
    /// client, over stdio (`brain mcp`) and HTTP (`brain serve`), next to the same calls made
    /// in process through the facade.
    Mcp(BenchMcpArgs),
    /// Folders of one PostgreSQL store kept in step by their daemons: save in one folder to
    /// written in another (2 and 4 folders), and a folder's catch-up after 1,000 missed
    /// changes, beside one folder's save-to-searchable from the same run
    Replicas(BenchReplicasArgs),
    /// What keeping history costs: a fresh import next to a build from before history
    /// (`--before`) and to an FTS5 insert, a re-import of every note changed with history on
    /// and off, `brain edit --append` p50/p99 next to `brain get`, and bytes per kept version
    /// after ten edits of every note next to the raw text.
    History(BenchHistoryArgs),
    /// What a batch over the whole vault costs: `brain batch set` over every note (store and
    /// files, notes/s) next to the import rate of the same run, `brain put` p50/p99 while it
    /// runs, and the batch's rollback.
    Batch(BenchBatchArgs),
}

/// `brain bench batch` options.
#[derive(Debug, Args)]
pub struct BenchBatchArgs {
    /// Notes in the generated vault.
    #[arg(long, default_value_t = 10_000)]
    pub notes: usize,
    /// `brain put` runs timed with nothing else running, the baseline of those during the
    /// batch.
    #[arg(long, default_value_t = 50)]
    pub puts: usize,
    /// The vault generator (default: ../shared/bench/gen_vault.py, searched upwards from here).
    #[arg(long, value_name = "PATH", env = "BRAIN_GEN_VAULT")]
    pub generator: Option<PathBuf>,
    /// Where to put the vault (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
}

/// `brain bench history` options.
#[derive(Debug, Args)]
pub struct BenchHistoryArgs {
    /// Notes in the generated vault.
    #[arg(long, default_value_t = 10_000)]
    pub notes: usize,
    /// Repetitions of the import and re-import figures; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Notes edited (and read) as a process for the `brain edit --append` figure.
    #[arg(long, default_value_t = 200)]
    pub edits: usize,
    /// Edits of every note for the storage figure.
    #[arg(long, default_value_t = 10)]
    pub versions: usize,
    /// A `brain` executable built before history, whose fresh `brain sync` the import figure
    /// is held against (without it, only the FTS5 baseline is measured).
    #[arg(long, value_name = "BIN")]
    pub before: Option<PathBuf>,
    /// The vault generator (default: ../shared/bench/gen_vault.py, searched upwards from here).
    #[arg(long, value_name = "PATH", env = "BRAIN_GEN_VAULT")]
    pub generator: Option<PathBuf>,
    /// Where to put the vault (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
}

/// `brain bench mcp` options.
#[derive(Debug, Args)]
pub struct BenchMcpArgs {
    /// Notes in the generated vault.
    #[arg(long, default_value_t = 10_000)]
    pub notes: usize,
    /// Timed calls of each tool on each transport.
    #[arg(long, default_value_t = 500)]
    pub calls: usize,
    /// `update` calls over HTTP timed until the note's file holds the new text (the daemon's
    /// export, `serve.sync_debounce_ms` included).
    #[arg(long, default_value_t = 50)]
    pub writes: usize,
    /// The Python with the `mcp` SDK (default: $BRAIN_MCP_PYTHON, else target/mcp-venv made by
    /// scripts/mcp-venv, searched upwards from here).
    #[arg(long, value_name = "PATH", env = "BRAIN_MCP_PYTHON")]
    pub python: Option<PathBuf>,
    /// The vault generator (default: ../shared/bench/gen_vault.py, searched upwards from here).
    #[arg(long, value_name = "PATH", env = "BRAIN_GEN_VAULT")]
    pub generator: Option<PathBuf>,
    /// Where to put the vault (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
}

/// `brain bench git` options.
#[derive(Debug, Args)]
pub struct BenchGitArgs {
    /// Notes in the generated vault.
    #[arg(long, default_value_t = 10_000)]
    pub notes: usize,
    /// Notes changed for the "with changes" figure.
    #[arg(long, default_value_t = 100)]
    pub changed: usize,
    /// Repetitions of each timed step; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// The vault generator (default: ../shared/bench/gen_vault.py, searched upwards from here).
    #[arg(long, value_name = "PATH", env = "BRAIN_GEN_VAULT")]
    pub generator: Option<PathBuf>,
    /// Where to put the vaults and the remote (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
}

/// `brain bench replicas` options.
#[derive(Debug, Args)]
pub struct BenchReplicasArgs {
    /// A PostgreSQL server (a role that may create databases): each folder count gets a new
    /// database on it, `brain_bench_replicas_N`.
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// Notes in the generated vault.
    #[arg(long, default_value_t = 2_000)]
    pub notes: usize,
    /// Saves measured per folder count.
    #[arg(long, default_value_t = 50)]
    pub edits: usize,
    /// Folder counts to measure.
    #[arg(long, value_delimiter = ',', default_values_t = [2, 4])]
    pub replicas: Vec<usize>,
    /// Changes a folder misses while its daemon is away (the catch-up figure).
    #[arg(long, default_value_t = 1_000)]
    pub missed: usize,
    /// serve.sync_debounce_ms of every daemon; subtracted from every latency.
    #[arg(long, default_value_t = 200)]
    pub debounce_ms: u64,
    /// The vault generator (default: ../shared/bench/gen_vault.py, searched upwards from here).
    #[arg(long, value_name = "PATH", env = "BRAIN_GEN_VAULT")]
    pub generator: Option<PathBuf>,
    /// Where to put the folders (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
}

/// `brain bench live` options.
#[derive(Debug, Args)]
pub struct BenchLiveArgs {
    /// Notes in the generated vault.
    #[arg(long, default_value_t = 10_000)]
    pub notes: usize,
    /// Edits measured in each direction.
    #[arg(long, default_value_t = 200)]
    pub edits: usize,
    /// serve.sync_debounce_ms for the run; subtracted from every latency.
    #[arg(long, default_value_t = 500)]
    pub debounce_ms: u64,
    /// Seconds of quiet over which the daemon's idle CPU is measured.
    #[arg(long, default_value_t = 10)]
    pub idle_secs: u64,
    /// The vault generator (default: ../shared/bench/gen_vault.py, searched upwards from here).
    #[arg(long, value_name = "PATH", env = "BRAIN_GEN_VAULT")]
    pub generator: Option<PathBuf>,
    /// Where to put the vault (default: a temporary folder). A vault generated and imported
    /// there by an earlier run is used again.
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
}

/// `brain bench queue` options.
#[derive(Debug, Args)]
pub struct BenchQueueArgs {
    /// No-op jobs for the throughput figure.
    #[arg(long, default_value_t = 100_000)]
    pub jobs: usize,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Notes in the vault for the import-overhead figure (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    pub notes: usize,
    /// The vault generator (default: ../shared/bench/gen_vault.py, searched upwards from here).
    #[arg(long, value_name = "PATH", env = "BRAIN_GEN_VAULT")]
    pub generator: Option<PathBuf>,
    /// Where to put the database and vault (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Repetitions of the import-overhead measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Measure the PostgreSQL queue in this database instead (postgres://USER@HOST/DB; the
    /// bench works in scratch schemas it drops): enqueue-to-done with 1, 4 and 16 workers over
    /// two processes next to pgbench's simple-update rate, and claim-to-start through NOTIFY.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

/// `brain bench queue-worker`: the second process of `brain bench queue --store` (hidden).
#[derive(Debug, Args)]
pub struct BenchQueueWorkerArgs {
    /// The database.
    #[arg(long)]
    pub store: String,
    /// The scratch schema the parent made.
    #[arg(long)]
    pub schema: String,
    /// Worker threads.
    #[arg(long)]
    pub workers: usize,
    /// Jobs each worker claims at once.
    #[arg(long, default_value_t = 1)]
    pub claim_batch: usize,
}

/// `brain bench import` options.
#[derive(Debug, Args)]
pub struct BenchImportArgs {
    /// Vault sizes to generate and measure (repeatable).
    #[arg(long = "notes", default_values_t = [1000usize, 10000])]
    pub notes: Vec<usize>,
    /// The vault generator (default: ../shared/bench/gen_vault.py, searched upwards from here).
    #[arg(long, value_name = "PATH", env = "BRAIN_GEN_VAULT")]
    pub generator: Option<PathBuf>,
    /// Where to put generated vaults (default: a temporary folder, removed afterwards).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Repetitions of each timed step; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Measure the PostgreSQL store in this database instead (postgres://USER@HOST/DB; the
    /// bench works in scratch schemas it drops): the import next to `COPY` of the same rows
    /// plus the same index, and search next to SQLite's on the same vault.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}
