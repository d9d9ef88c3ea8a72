//! Partial edits of a note's text (`brain edit`, MCP `edit`): the change a person or an agent
//! means (append a line, replace one section, set one frontmatter key) made on the text itself,
//! everything else left byte for byte. Pure: the facade reads the note, applies the edit here
//! and writes the result through the usual compare-and-set.

use serde_json::Value;

use crate::codec::{Document, FrontmatterKind};

/// One partial edit.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// Add text at the end of the note.
    Append(String),
    /// Add text at the start of the body (after the frontmatter or page properties).
    Prepend(String),
    /// Replace the text under a heading, up to the next heading of the same or a higher level
    /// (the heading line itself stays).
    ReplaceSection {
        /// The heading's text, with or without its `#` marks.
        heading: String,
        /// The new text of the section.
        text: String,
    },
    /// Replace every occurrence of `find`, only if there are exactly `expected` of them.
    FindReplace {
        /// The text to find (not empty).
        find: String,
        /// What replaces it.
        replace: String,
        /// How many occurrences the caller expects.
        expected: usize,
    },
    /// Set one metadata key (YAML frontmatter, or a Logseq `key:: value` page property).
    SetMeta {
        /// The key.
        key: String,
        /// Its value; a list replaces the old value whole.
        value: Value,
    },
    /// Remove one metadata key.
    RemoveMeta {
        /// The key.
        key: String,
    },
}

/// Why an edit was refused; nothing is written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    /// No heading with that text.
    #[error("there is no section headed '{heading}': the headings are {}", names(.existing))]
    NoSuchSection {
        /// The heading asked for.
        heading: String,
        /// The headings there are.
        existing: Vec<String>,
    },
    /// More than one section has that heading.
    #[error(
        "{} sections are headed '{heading}' (at levels {}), so nothing was replaced: give the heading with its level (`## {heading}`) if that tells them apart, else use find and replace",
        .levels.len(),
        .levels.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ")
    )]
    AmbiguousSection {
        /// The heading asked for.
        heading: String,
        /// The levels of the sections it names.
        levels: Vec<usize>,
    },
    /// The text to find occurs another number of times than expected.
    #[error(
        "'{find}' occurs {found} time(s), not the {expected} expected, so nothing was replaced: read the note again and give the count it has"
    )]
    WrongCount {
        /// The text to find.
        find: String,
        /// How often it occurs.
        found: usize,
        /// How often the caller expected it.
        expected: usize,
    },
    /// An append or prepend of nothing (or only blank space): it would make a version that
    /// changes nothing a reader sees.
    #[error("the text to add is empty: give the text to append or prepend")]
    NothingToAdd,
    /// The text to find is empty.
    #[error("the text to find is empty: give the text to replace")]
    EmptyFind,
    /// No such metadata key.
    #[error("there is no metadata key '{key}': the keys are {}", names(.existing))]
    NoSuchKey {
        /// The key asked for.
        key: String,
        /// The keys there are.
        existing: Vec<String>,
    },
    /// A Logseq property value with a line break: a property is one line.
    #[error(
        "'{0}' is a Logseq page property, which holds one line: give a value without line breaks"
    )]
    MultiLineProperty(String),
    /// A key that cannot be written as one (empty, or with a `:` or a newline).
    #[error("'{0}' cannot be a metadata key: give a name without ':', '#' or line breaks")]
    BadKey(String),
    /// A key Logseq would not read as a page property name (a space, a non-ASCII letter).
    #[error(
        "'{0}' cannot be a Logseq page property name: a name holds only ASCII letters, digits, '-' and '_'{hint}",
        hint = property_name_hint(.0)
    )]
    BadPropertyName(String),
    /// The note does not parse as a note (its frontmatter is broken): edit it whole.
    #[error("the note's frontmatter cannot be read ({0}): fix it with a whole update first")]
    Unreadable(String),
    /// The edited text would not read back as asked (a value YAML turns into something else).
    #[error(
        "setting '{key}' would not read back as the value given ({reason}); pass it as a string"
    )]
    NotReadBack {
        /// The key.
        key: String,
        /// What went wrong.
        reason: String,
    },
}

/// `key` with spaces as `-`, offered when that makes a property name.
fn property_name_hint(key: &str) -> String {
    let dashed = key.trim().replace(' ', "-");
    if crate::logseq::is_property_name(&dashed) {
        format!(" (such as '{dashed}')")
    } else {
        String::new()
    }
}

fn names(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items
            .iter()
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A value given on a command line: `3` is a number, `true` a boolean, `null` (or nothing)
/// null, `[a, b]` a list and `{a: 1}` a map, as YAML reads them; anything else, or with
/// `as_string`, is the text exactly as given. A value YAML would read as something other than
/// what was typed stays text: `1.10` (YAML's 1.1), `0x1F` (31), `Plan #work` (a comment would
/// drop `#work`), a line break (folded into a space).
pub fn value_of(raw: &str, as_string: bool) -> Value {
    let text = || Value::String(raw.to_string());
    let t = raw.trim();
    if as_string || raw.contains(['\n', '\r']) {
        return text();
    }
    if t.is_empty() || t == "null" || t == "~" {
        return Value::Null;
    }
    let flow =
        |open: char, close: char| t.starts_with(open) && t.ends_with(close) && !t.contains('#');
    match serde_norway::from_str::<Value>(t) {
        // Quoted the YAML way (`"alex: the boss"`): the text inside the quotes.
        Ok(v @ Value::String(_)) if quoted(t) => v,
        Ok(Value::Bool(b)) if t == "true" || t == "false" => Value::Bool(b),
        Ok(Value::Number(n)) if n.to_string() == t => Value::Number(n),
        Ok(v @ Value::Array(_)) if flow('[', ']') => v,
        Ok(v @ Value::Object(_)) if flow('{', '}') => v,
        _ => text(),
    }
}

/// Whether `t` is one YAML quoted scalar ("..." or '...').
fn quoted(t: &str) -> bool {
    t.len() >= 2
        && ((t.starts_with('"') && t.ends_with('"')) || (t.starts_with('\'') && t.ends_with('\'')))
}

/// `text` with `edit` applied. `logseq`: the vault is a Logseq graph, so a note without
/// metadata gains a `key:: value` property line rather than a YAML block.
///
/// A note whose every line ends in CRLF stays so: the edit is made on its LF form (the text
/// given converted alike, so a multi-line `find` matches) and every line ending is CRLF again.
pub fn apply(text: &str, edit: &Edit, logseq: bool) -> Result<String, EditError> {
    let all_crlf = text.contains("\r\n") && !text.replace("\r\n", "").contains('\n');
    if !all_crlf {
        return apply_lf(text, edit, logseq);
    }
    let lf = |t: &str| t.replace("\r\n", "\n");
    let edit = match edit {
        Edit::Append(t) => Edit::Append(lf(t)),
        Edit::Prepend(t) => Edit::Prepend(lf(t)),
        Edit::ReplaceSection { heading, text } => Edit::ReplaceSection {
            heading: heading.clone(),
            text: lf(text),
        },
        Edit::FindReplace {
            find,
            replace,
            expected,
        } => Edit::FindReplace {
            find: lf(find),
            replace: lf(replace),
            expected: *expected,
        },
        other => other.clone(),
    };
    apply_lf(&lf(text), &edit, logseq).map(|out| out.replace('\n', "\r\n"))
}

fn apply_lf(text: &str, edit: &Edit, logseq: bool) -> Result<String, EditError> {
    let doc = Document::parse(text).map_err(|e| EditError::Unreadable(e.to_string()))?;
    match edit {
        Edit::Append(add) | Edit::Prepend(add) if add.trim().is_empty() => {
            Err(EditError::NothingToAdd)
        }
        Edit::Append(add) => {
            let mut out = text.to_string();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            push_line(&mut out, add);
            Ok(out)
        }
        Edit::Prepend(add) => {
            let mut out = doc.frontmatter.clone();
            push_line(&mut out, add);
            out.push_str(&doc.body);
            Ok(out)
        }
        Edit::ReplaceSection { heading, text: new } => {
            replace_section(&doc, heading, new).map(|body| format!("{}{body}", doc.frontmatter))
        }
        Edit::FindReplace {
            find,
            replace,
            expected,
        } => {
            if find.is_empty() {
                return Err(EditError::EmptyFind);
            }
            let found = text.matches(find.as_str()).count();
            if found != *expected {
                return Err(EditError::WrongCount {
                    find: find.clone(),
                    found,
                    expected: *expected,
                });
            }
            Ok(text.replace(find.as_str(), replace))
        }
        Edit::SetMeta { key, value } => {
            check_key(key)?;
            let out = crate::edit_meta::set(text, &doc, key, value, logseq)?;
            read_back(&out, key, Some(value), &doc.kind)?;
            Ok(out)
        }
        Edit::RemoveMeta { key } => {
            let out = crate::edit_meta::remove(text, &doc, key)?;
            read_back(&out, key, None, &doc.kind)?;
            Ok(out)
        }
    }
}

fn push_line(out: &mut String, add: &str) {
    out.push_str(add);
    if !add.ends_with('\n') {
        out.push('\n');
    }
}

fn check_key(key: &str) -> Result<(), EditError> {
    let bad = key.trim().is_empty()
        || key != key.trim()
        || key.contains([':', '\n', '\r', '#'])
        || key.starts_with(['-', '[', '{', '"', '\'']);
    if bad {
        Err(EditError::BadKey(key.to_string()))
    } else {
        Ok(())
    }
}

/// Checks the edited note parses and holds `key` as asked (absent for `None`). A Logseq
/// property reads back as text (or a list for tags), so only its presence is checked there.
fn read_back(
    out: &str,
    key: &str,
    want: Option<&Value>,
    kind: &FrontmatterKind,
) -> Result<(), EditError> {
    let not = |reason: String| EditError::NotReadBack {
        key: key.to_string(),
        reason,
    };
    let doc = Document::parse(out).map_err(|e| not(e.to_string()))?;
    let lookup = if doc.kind == FrontmatterKind::LogseqProperties {
        key.to_ascii_lowercase()
    } else {
        key.to_string()
    };
    let got = doc.metadata.get(&lookup);
    match (want, got) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(not("it is still there".into())),
        (Some(_), None) => Err(not("it is missing".into())),
        (Some(w), Some(g))
            if doc.kind == FrontmatterKind::Yaml || *kind == FrontmatterKind::Yaml =>
        {
            if w == g {
                Ok(())
            } else {
                Err(not(format!("it reads back as {g}")))
            }
        }
        (Some(_), Some(_)) => Ok(()),
    }
}

/// An ATX heading line outside code: its level and text.
fn heading(line: &str) -> Option<(usize, String)> {
    let trimmed = line.trim_end_matches(['\n', '\r']);
    let indent = trimmed.len() - trimmed.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &trimmed[indent..];
    let level = rest.bytes().take_while(|b| *b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let after = &rest[level..];
    if !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None;
    }
    let text = after.trim().trim_end_matches('#').trim_end();
    Some((level, text.to_string()))
}

/// The level of a setext heading's underline (`===` 1, `---` 2), when `line` is one.
fn setext(line: &str) -> Option<usize> {
    let t = line.trim_end_matches(['\n', '\r']);
    let indent = t.len() - t.trim_start_matches(' ').len();
    let t = t.trim();
    if indent > 3 || t.is_empty() {
        return None;
    }
    if t.bytes().all(|b| b == b'=') {
        Some(1)
    } else if t.bytes().all(|b| b == b'-') {
        Some(2)
    } else {
        None
    }
}

/// `line`'s text when it can be a setext heading's text: a plain paragraph line (not blank, not
/// a heading, list item, quote, table row or fence).
fn paragraph_line(line: &str) -> Option<String> {
    let t = line.trim_end_matches(['\n', '\r']);
    let indent = t.len() - t.trim_start_matches(' ').len();
    let t = t.trim();
    let list_item = t.starts_with(['-', '*', '+']) && t[1..].starts_with([' ', '\t'])
        || t.split_once(['.', ')']).is_some_and(|(n, rest)| {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && rest.starts_with(' ')
        });
    if indent > 3
        || t.is_empty()
        || t.starts_with(['#', '>', '|', '`', '~'])
        || list_item
        || setext(line).is_some()
    {
        return None;
    }
    Some(t.to_string())
}

fn replace_section(doc: &Document, wanted: &str, new: &str) -> Result<String, EditError> {
    let hashes = wanted.trim().chars().take_while(|c| *c == '#').count();
    // `## X ##` (closing hashes, as ATX allows) names the section `X` too.
    let wanted = wanted
        .trim()
        .trim_start_matches('#')
        .trim()
        .trim_end_matches('#')
        .trim_end();
    let body = doc.body.as_str();
    // Each line with its start offset, and whether it is a heading outside a code fence.
    let mut headings: Vec<(usize, usize, usize, String)> = Vec::new(); // (start, end, level, text)
    let mut fence: Option<String> = None;
    let mut pos = 0;
    // The line before, while it may be a setext heading's text: (start, text).
    let mut paragraph: Option<(usize, String)> = None;
    for line in body.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        let last_paragraph = paragraph.take();
        if fence.is_none() {
            if let (Some((text_start, text)), Some(level)) = (&last_paragraph, setext(line)) {
                headings.push((*text_start, pos, level, text.clone()));
                continue;
            }
            paragraph = paragraph_line(line).map(|t| (start, t));
        }
        let t = line.trim_start();
        let marker: String = t.chars().take_while(|c| *c == '`' || *c == '~').collect();
        if marker.len() >= 3
            && marker
                .chars()
                .all(|c| c == marker.chars().next().unwrap_or('`'))
        {
            match &fence {
                Some(open) if marker.starts_with(open.as_str()) => fence = None,
                None => fence = Some(marker),
                Some(_) => {}
            }
            continue;
        }
        if fence.is_none()
            && let Some((level, text)) = heading(line)
        {
            headings.push((start, pos, level, text));
        }
    }
    let matching: Vec<usize> = (0..headings.len())
        .filter(|&i| headings[i].3 == wanted && (hashes == 0 || headings[i].2 == hashes))
        .collect();
    if matching.len() > 1 {
        return Err(EditError::AmbiguousSection {
            heading: wanted.to_string(),
            levels: matching.iter().map(|&i| headings[i].2).collect(),
        });
    }
    let Some(&i) = matching.first() else {
        // Asked with a level: the headings are named with theirs, so one of another level
        // does not look like the one said to be missing.
        let named = |h: &(usize, usize, usize, String)| {
            if hashes > 0 {
                format!("{} {}", "#".repeat(h.2), h.3)
            } else {
                h.3.clone()
            }
        };
        return Err(EditError::NoSuchSection {
            heading: if hashes > 0 {
                format!("{} {wanted}", "#".repeat(hashes))
            } else {
                wanted.to_string()
            },
            existing: headings.iter().map(named).collect(),
        });
    };
    let (_, from, level, _) = headings[i];
    let to = headings[i + 1..]
        .iter()
        .find(|h| h.2 <= level)
        .map_or(body.len(), |h| h.0);
    let old = &body[from..to];
    // The blank line under the heading, and the one before the next heading, stay as they
    // were.
    let mut section = String::new();
    if old.starts_with('\n') && !new.starts_with('\n') && !new.is_empty() {
        section.push('\n');
    }
    section.push_str(new);
    if !section.is_empty() && !section.ends_with('\n') {
        section.push('\n');
    }
    // A blank line before the next heading stays when there was one.
    if to < body.len() && old.ends_with("\n\n") && !section.ends_with("\n\n") {
        section.push('\n');
    }
    Ok(format!("{}{section}{}", &body[..from], &body[to..]))
}

#[cfg(test)]
#[path = "edit_tests.rs"]
mod tests;
