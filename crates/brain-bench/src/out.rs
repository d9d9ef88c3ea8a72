//! The benches' output: lines of text, or one JSON document with `--json`, on stdout. A write
//! that fails (a closed pipe, `brain bench ... | head`) is an error with the `io::Error` as its
//! source, so the binary still exits quietly on a closed pipe.

use std::io::Write;

use serde::Serialize;

use crate::error::{Context, Result};

/// Prints `value` as the single JSON document of this bench.
pub(crate) fn json<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string(value).ctx(|| "writing the figures as JSON".into())?;
    line(text)
}

/// Prints a line of text on stdout.
pub(crate) fn line(text: impl std::fmt::Display) -> Result<()> {
    writeln!(std::io::stdout().lock(), "{text}").ctx(|| "writing the figures to stdout".into())
}
