//! Writing results: one JSON document with `--json`, readable text otherwise.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

/// Prints `value` as the single JSON document of this command.
pub fn json<T: Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints a line of text on stdout (errors, like a closed pipe, propagate).
pub fn line(text: impl std::fmt::Display) -> Result<()> {
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}

/// Shortens `s` to at most `max` characters for a table column.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
