//! `brain`: the command-line interface of brains.
//!
//! Parses flags, loads the layered config, opens the store and calls the libraries; all real
//! work lives in the library crates. Errors are `anyhow` here only, mapped to the documented exit
//! codes, and a closed pipe (`brain list | head`) exits quietly.

// `backend::open_scratch` lost its last caller when the benches moved to brain-bench (which
// opens its SQLite stores itself); it and this allow go when backend.rs is next edited.
#[allow(dead_code)]
mod backend;
mod cli;
mod commands;
mod config;
mod logging;
mod output;
mod progress;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    let json = cli.json;
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let code = commands::exit_code_for(&err);
            // The library words its errors for agents (MCP tools); a person here runs commands.
            let message = brain_api::in_cli_words(&format!("{err:#}"));
            if json {
                let kind = commands::error_kind(&err, code);
                let doc = serde_json::json!({ "error": message, "kind": kind, "exit_code": code });
                let _ = writeln!(std::io::stdout(), "{doc}");
            }
            let _ = writeln!(std::io::stderr(), "error: {message}");
            ExitCode::from(code)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
