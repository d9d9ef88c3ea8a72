//! The `brain` binary's end-to-end tests, as one test binary: each module is one area (what its
//! own doc says), run against the real binary on temp vaults. One binary, not one per area:
//! every test binary links the whole stack, and twenty of them cost CI minutes of linking and
//! gigabytes of disk (a CI run once ran out of disk on them).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod util;

#[path = "util/git.rs"]
mod git_util;

#[path = "../../../brain-git/tests/git/common/http_remote.rs"]
mod http_remote;

mod adversarial;
mod cancel_and_bench;
mod cli_output;
mod facade_errors;
mod follow_cli;
mod freshness;
mod git_guards;
mod git_http;
mod git_sync;
mod jobs_cli;
mod postgres;
mod read_commands;
mod regressions;
mod serve;
mod serve_git;
mod soak;
mod store_integrity;
mod sync_lifecycle;
mod vault_layout;
