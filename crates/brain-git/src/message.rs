//! Commit messages for the git-sync jobs, rendered from a user-editable template.
//!
//! The template comes from the user's config, so rendering must never fail or panic: a typo
//! such as `{hostnme}` is left in the message as written, where the user sees it in `git log`
//! and can fix it, instead of silently vanishing or aborting a sync. Everything the message
//! needs (the date in particular) is passed in by the caller, which keeps this module pure and
//! its output reproducible in tests.

use std::path::Path;

/// How many paths `{files}` lists before summarising the rest, so that a commit touching a
/// whole vault still gets a readable one-line subject.
const MAX_LISTED_FILES: usize = 10;

/// Used when the template renders to nothing: git refuses empty messages, and a commit with no
/// description is useless in the log.
const FALLBACK_TEMPLATE: &str = "brain: {count} note(s), {other} other file(s) changed";

/// The values a commit message template can refer to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageContext {
    /// The commit time, ISO-8601 in UTC (e.g. `2024-05-01T12:00:00Z`). Given by the caller so
    /// that rendering stays pure and testable.
    pub date: String,
    /// The name of the machine committing, so commits from several devices can be told apart.
    pub hostname: String,
    /// The changed paths, relative to the vault, in the order they should be listed.
    pub files: Vec<String>,
    /// How many of `files` are notes (paths the vault maps to entities), for `{count}`: a
    /// `.brainignore` or `.obsidian/app.json` is a file that changed, not a note.
    pub notes: usize,
}

/// Renders a commit message from `template`.
///
/// Placeholders: `{date}`, `{hostname}`, `{count}` (number of notes changed), `{other}` (number
/// of other files changed: settings, attachments, `.brainignore`) and `{files}` (every changed
/// path joined by `", "`; past ten, the first ten then `and N more`). `{{` and `}}` stand for literal
/// braces. Anything else in braces, and a lone or unclosed brace, is kept as written. Values are
/// inserted verbatim and not scanned again, so a path containing `{date}` stays as it is. The
/// result is trimmed of trailing whitespace; if nothing is left, the message falls back to
/// `brain: {count} note(s), {other} other file(s) changed`.
pub fn render_commit_message(template: &str, ctx: &MessageContext) -> String {
    let rendered = render(template, ctx);
    let trimmed = rendered.trim_end();
    if trimmed.is_empty() {
        render(FALLBACK_TEMPLATE, ctx)
    } else {
        trimmed.to_owned()
    }
}

/// One pass over `template`, substituting known placeholders.
fn render(template: &str, ctx: &MessageContext) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find(['{', '}']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if let Some(inner) = tail.strip_prefix('{') {
            // A placeholder name never contains braces, so stop at the first one of either kind:
            // in `{a{date}` only `{date}` is a placeholder.
            let end = inner.find(['{', '}']);
            match end.and_then(|end| Some((&inner[..end], inner[end..].strip_prefix('}')?))) {
                Some((name, after)) => {
                    match value(name, ctx) {
                        Some(v) => out.push_str(&v),
                        None => {
                            out.push('{');
                            out.push_str(name);
                            out.push('}');
                        }
                    }
                    rest = after;
                }
                None => {
                    out.push('{');
                    rest = inner;
                }
            }
        } else {
            // A lone `}`.
            out.push('}');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The value of a known placeholder, `None` for an unknown one.
fn value(name: &str, ctx: &MessageContext) -> Option<String> {
    match name {
        "date" => Some(ctx.date.clone()),
        "hostname" => Some(ctx.hostname.clone()),
        "count" => Some(ctx.notes.to_string()),
        "other" => Some(ctx.files.len().saturating_sub(ctx.notes).to_string()),
        "files" => Some(files_list(&ctx.files)),
        _ => None,
    }
}

fn files_list(files: &[String]) -> String {
    let listed = files[..files.len().min(MAX_LISTED_FILES)].join(", ");
    match files.len().checked_sub(MAX_LISTED_FILES) {
        Some(more) if more > 0 => format!("{listed} and {more} more"),
        _ => listed,
    }
}

/// The name of this machine, for `{hostname}`.
///
/// Read from files rather than `gethostname(2)` so no unsafe FFI is needed: Linux exposes it in
/// `/proc/sys/kernel/hostname`, many systems keep it in `/etc/hostname`, and shells export
/// `HOSTNAME`. Never fails: a commit message is no reason to abort a sync, so the last resort is
/// `unknown`.
pub fn hostname() -> String {
    hostname_from(
        &[
            Path::new("/proc/sys/kernel/hostname"),
            Path::new("/etc/hostname"),
        ],
        std::env::var("HOSTNAME").ok(),
    )
}

/// The first non-blank name among `files` (in order) and `env`, else `unknown`.
fn hostname_from(files: &[&Path], env: Option<String>) -> String {
    files
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .chain(env)
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ctx(files: &[&str]) -> MessageContext {
        MessageContext {
            date: "2024-05-01T12:00:00Z".into(),
            hostname: "laptop".into(),
            files: files.iter().map(|f| (*f).to_owned()).collect(),
            notes: files.iter().filter(|f| f.ends_with(".md")).count(),
        }
    }

    /// Issue 13 item 5: `{count}` counts notes only; other files are `{other}`.
    #[test]
    fn issue13_count_is_notes_and_other_is_the_rest() {
        let c = ctx(&["a.md", ".brainignore", ".obsidian/app.json"]);
        assert_eq!(
            render_commit_message("{count} note(s), {other} other file(s): {files}", &c),
            "1 note(s), 2 other file(s): a.md, .brainignore, .obsidian/app.json"
        );
    }

    #[test]
    fn each_placeholder() {
        let c = ctx(&["a.md", "b/c.md"]);
        assert_eq!(render_commit_message("{date}", &c), "2024-05-01T12:00:00Z");
        assert_eq!(render_commit_message("{hostname}", &c), "laptop");
        assert_eq!(render_commit_message("{count}", &c), "2");
        assert_eq!(render_commit_message("{files}", &c), "a.md, b/c.md");
        assert_eq!(
            render_commit_message("sync {hostname} {date}: {count} ({files})", &c),
            "sync laptop 2024-05-01T12:00:00Z: 2 (a.md, b/c.md)"
        );
    }

    #[test]
    fn doubled_braces_are_literal() {
        let c = ctx(&["a.md"]);
        assert_eq!(render_commit_message("{{date}}", &c), "{date}");
        assert_eq!(render_commit_message("{{{count}}}", &c), "{1}");
        assert_eq!(render_commit_message("a }} b {{", &c), "a } b {");
    }

    #[test]
    fn unknown_and_broken_placeholders_are_kept() {
        let c = ctx(&["a.md"]);
        assert_eq!(render_commit_message("x {nope} y", &c), "x {nope} y");
        assert_eq!(render_commit_message("{} {DATE}", &c), "{} {DATE}");
        assert_eq!(render_commit_message("{count", &c), "{count");
        assert_eq!(render_commit_message("a } b", &c), "a } b");
        assert_eq!(render_commit_message("{a{count}", &c), "{a1");
    }

    #[test]
    fn values_are_not_expanded_again() {
        let c = ctx(&["{date}.md"]);
        assert_eq!(render_commit_message("{files}", &c), "{date}.md");
    }

    #[test]
    fn twelve_files_are_truncated() {
        let names: Vec<String> = (1..=12).map(|i| format!("n{i}.md")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let c = ctx(&refs);
        assert_eq!(
            render_commit_message("{count}: {files}", &c),
            "12: n1.md, n2.md, n3.md, n4.md, n5.md, n6.md, n7.md, n8.md, n9.md, n10.md and 2 more"
        );
        let ten = ctx(&refs[..10]);
        assert!(render_commit_message("{files}", &ten).ends_with("n10.md"));
    }

    #[test]
    fn empty_result_falls_back() {
        let c = ctx(&["a.md", "b.md"]);
        assert_eq!(
            render_commit_message("", &c),
            "brain: 2 note(s), 0 other file(s) changed"
        );
        assert_eq!(
            render_commit_message("  \n\t", &c),
            "brain: 2 note(s), 0 other file(s) changed"
        );
        assert_eq!(
            render_commit_message("{files}", &ctx(&[])),
            "brain: 0 note(s), 0 other file(s) changed"
        );
    }

    #[test]
    fn trailing_whitespace_is_trimmed_leading_kept() {
        let c = ctx(&[]);
        assert_eq!(render_commit_message(" x\n\n", &c), " x");
    }

    #[test]
    fn unicode_paths() {
        let c = ctx(&["café.md", "日本/メモ.md", "emoji 🧠.md"]);
        assert_eq!(
            render_commit_message("é {files} ✓", &c),
            "é café.md, 日本/メモ.md, emoji 🧠.md ✓"
        );
    }

    #[test]
    fn hostname_sources_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let blank = dir.path().join("blank");
        let named = dir.path().join("named");
        let missing = dir.path().join("missing");
        std::fs::write(&blank, "\n").unwrap();
        std::fs::write(&named, "box\n").unwrap();
        assert_eq!(
            hostname_from(&[&missing, &blank, &named], Some("env".into())),
            "box"
        );
        assert_eq!(
            hostname_from(&[&missing, &blank], Some(" env ".into())),
            "env"
        );
        assert_eq!(hostname_from(&[&missing], None), "unknown");
        assert!(!hostname().is_empty());
    }
}
