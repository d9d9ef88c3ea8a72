//! `brain`: the command-line interface of brains.
//!
//! Parses flags, loads the layered config, opens the store and calls the libraries; all real
//! work lives in the library crates. Errors are `anyhow` here only, mapped to the documented exit
//! codes, and a closed pipe (`brain list | head`) exits quietly.

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
            let message = brain_api::in_cli_words(&error_text(&err));
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

/// The error and its causes, joined by ": ", each cause left out when the text already says
/// it: many errors quote their source in their own message (a store error with the server's
/// words), and `{:#}` would print those words twice.
pub(crate) fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            // `--json` output fails inside serde_json, which wraps the io error.
            || e.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
    })
}
