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

/// Shortens `s` to at most `max` terminal columns for a table column (a wide character such as
/// an emoji or a CJK letter takes two).
pub fn clip(s: &str, max: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    if width(s) <= max {
        return s.to_string();
    }
    let mut t = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max.saturating_sub(1) {
            break;
        }
        used += w;
        t.push(c);
    }
    t.push('…');
    t
}

/// How many terminal columns `s` takes.
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` followed by spaces up to `columns` terminal columns (as `{:<N}` would, by display width
/// rather than by characters, so rows with emoji stay aligned).
pub fn pad(s: &str, columns: usize) -> String {
    let mut t = s.to_string();
    t.extend(std::iter::repeat_n(' ', columns.saturating_sub(width(s))));
    t
}
