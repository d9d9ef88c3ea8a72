//! The benchmarks behind `brain bench`, each printing its figures next to a baseline measured
//! in the same run on the same generated vault, so a noisy machine moves both.
//!
//! They live apart from the binary so the command's code does not rebuild with them and so
//! what a benchmark needs (a scratch SQLite store, the baseline's own FTS5 table, the sync
//! engine called directly) stays out of the product's crates. A bench measures SQLite by name:
//! it opens its stores with `brain_store_sqlite` itself, while the product picks its backend in
//! one place in the binary. Where a figure is what a user's command costs (`brain sync`, `brain
//! serve`, `brain git sync`, `brain mcp`), the bench runs the `brain` executable it was called
//! from as a child process.

mod args;
mod batch;
mod child;
mod common;
mod error;
mod export;
mod git;
mod history;
mod import;
mod live;
mod mcp;
mod out;
mod pg;
mod queue;
mod replicas;

pub use args::{
    BenchBatchArgs, BenchCommand, BenchGitArgs, BenchHistoryArgs, BenchImportArgs, BenchLiveArgs,
    BenchMcpArgs, BenchQueueArgs, BenchQueueWorkerArgs, BenchReplicasArgs,
};
pub use error::{BenchError, Result};

/// Runs the benchmark `cmd` names and prints its figures on stdout: readable lines, or with
/// `json_out` one JSON document. Returns the exit code (0: every figure measured). Must run in
/// the `brain` executable: the benches that time the command start it as a child from
/// [`std::env::current_exe`].
pub fn run(cmd: &BenchCommand, json_out: bool) -> Result<u8> {
    match cmd {
        BenchCommand::Import(args) => match &args.store {
            Some(url) => pg::import(args, url, json_out),
            None => import::run(args, json_out),
        },
        BenchCommand::Queue(args) => match &args.store {
            Some(url) => pg::queue(args, url, json_out),
            None => queue::run(args, json_out),
        },
        BenchCommand::QueueWorker(args) => pg::queue_worker(args),
        BenchCommand::Live(args) => live::run(args, json_out),
        BenchCommand::Git(args) => git::run(args, json_out),
        BenchCommand::History(args) => history::run(args, json_out),
        BenchCommand::Batch(args) => batch::run(args, json_out),
        BenchCommand::Mcp(args) => mcp::run(args, json_out),
        BenchCommand::Replicas(args) => replicas::run(args, json_out),
    }
}
