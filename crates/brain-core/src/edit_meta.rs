//! Setting and removing one metadata key on the text itself (see [`crate::edit`]): in YAML
//! frontmatter the key's entry (its line and the indented or list lines under it) is replaced
//! or removed, in Logseq page properties its `key:: value` line; every other byte stays.

use serde_json::Value;

use crate::codec::{Document, FrontmatterKind};
use crate::edit::EditError;

/// `text` with `key` set to `value`.
pub(crate) fn set(
    text: &str,
    doc: &Document,
    key: &str,
    value: &Value,
    logseq: bool,
) -> Result<String, EditError> {
    match doc.kind {
        FrontmatterKind::Yaml => {
            let nl = newline_of(&doc.frontmatter);
            let entry = yaml_entry(key, value, nl)?;
            let (start, end) = yaml_block(&doc.frontmatter);
            let block = &doc.frontmatter[start..end];
            let new_block = match entry_span(block, key) {
                Some((from, to)) => format!("{}{entry}{}", &block[..from], &block[to..]),
                None => format!("{block}{entry}"),
            };
            Ok(format!(
                "{}{new_block}{}{}",
                &doc.frontmatter[..start],
                &doc.frontmatter[end..],
                doc.body
            ))
        }
        FrontmatterKind::LogseqProperties => {
            let nl = newline_of(&doc.frontmatter);
            let line = property_line(key, value, nl)?;
            let fm = &doc.frontmatter;
            let new_fm = match property_span(fm, key) {
                Some((from, to)) => format!("{}{line}{}", &fm[..from], &fm[to..]),
                None => {
                    let mut f = fm.clone();
                    if !f.ends_with('\n') {
                        f.push_str(nl);
                    }
                    f.push_str(&line);
                    f
                }
            };
            Ok(format!("{new_fm}{}", doc.body))
        }
        FrontmatterKind::None => {
            let nl = newline_of(text);
            let bom = doc.frontmatter.as_str();
            if logseq {
                Ok(format!(
                    "{bom}{}{}",
                    property_line(key, value, nl)?,
                    doc.body
                ))
            } else {
                let entry = yaml_entry(key, value, nl)?;
                Ok(format!("{bom}---{nl}{entry}---{nl}{}", doc.body))
            }
        }
    }
}

/// `text` without `key`.
pub(crate) fn remove(text: &str, doc: &Document, key: &str) -> Result<String, EditError> {
    let missing = || EditError::NoSuchKey {
        key: key.to_string(),
        existing: doc.metadata.keys().cloned().collect(),
    };
    match doc.kind {
        FrontmatterKind::Yaml => {
            let (start, end) = yaml_block(&doc.frontmatter);
            let block = &doc.frontmatter[start..end];
            let (from, to) = entry_span(block, key).ok_or_else(missing)?;
            Ok(format!(
                "{}{}{}{}{}",
                &doc.frontmatter[..start],
                &block[..from],
                &block[to..],
                &doc.frontmatter[end..],
                doc.body
            ))
        }
        FrontmatterKind::LogseqProperties => {
            let fm = &doc.frontmatter;
            let (from, to) = property_span(fm, key).ok_or_else(missing)?;
            Ok(format!("{}{}{}", &fm[..from], &fm[to..], doc.body))
        }
        FrontmatterKind::None => {
            let _ = text;
            Err(missing())
        }
    }
}

fn newline_of(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

/// The YAML between the opening and closing `---` lines of a frontmatter block.
fn yaml_block(frontmatter: &str) -> (usize, usize) {
    let start = frontmatter.find('\n').map_or(frontmatter.len(), |i| i + 1);
    let body = &frontmatter[start..];
    let mut end = start;
    let mut pos = start;
    for line in body.split_inclusive('\n') {
        if line.trim_end() == "---" {
            end = pos;
            break;
        }
        pos += line.len();
        end = pos;
    }
    (start, end)
}

/// The key a top-level YAML line names, if it is one (`key:`, `"key":`, `'key':`).
fn top_level_key(line: &str) -> Option<&str> {
    if line.starts_with([' ', '\t', '-', '#']) {
        return None;
    }
    let (raw, _) = line.split_once(':')?;
    let raw = raw.trim_end();
    Some(
        raw.strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .or_else(|| raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
            .unwrap_or(raw),
    )
}

/// Where `key`'s entry is in a YAML block: its line and the lines under it (indented, or list
/// items at column 0, or blank lines between them).
fn entry_span(block: &str, key: &str) -> Option<(usize, usize)> {
    let mut pos = 0;
    let mut found: Option<usize> = None;
    let mut end = 0;
    for line in block.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        match found {
            None => {
                if top_level_key(line) == Some(key) {
                    found = Some(start);
                    end = pos;
                }
            }
            Some(_) => {
                let content = line.trim_end_matches(['\n', '\r']);
                if content.starts_with([' ', '\t']) || content.starts_with("- ") || content == "-" {
                    end = pos;
                } else if content.trim().is_empty() {
                    // A blank line belongs to the entry only if an indented line follows.
                    continue;
                } else {
                    break;
                }
            }
        }
    }
    found.map(|from| (from, end))
}

/// `key: value` as YAML, one line for a scalar, block lines for a list or map.
fn yaml_entry(key: &str, value: &Value, nl: &str) -> Result<String, EditError> {
    let rendered = serde_norway::to_string(value).map_err(|e| EditError::NotReadBack {
        key: key.to_string(),
        reason: e.to_string(),
    })?;
    let rendered = rendered.trim_end_matches('\n');
    Ok(match value {
        Value::Array(items) if !items.is_empty() => block(key, rendered, "", nl),
        Value::Object(map) if !map.is_empty() => block(key, rendered, "  ", nl),
        _ => format!("{key}: {rendered}{nl}"),
    })
}

/// `key:` and `rendered` under it, each line after `indent` (a map's entries must be indented
/// under their key; a list's `- ` items may stand at the key's column, as YAML writers do).
fn block(key: &str, rendered: &str, indent: &str, nl: &str) -> String {
    let mut out = format!("{key}:{nl}");
    for line in rendered.lines() {
        out.push_str(indent);
        out.push_str(line);
        out.push_str(nl);
    }
    out
}

/// Where `key`'s `key:: value` line is in a property block (any case, as Logseq reads it).
fn property_span(block: &str, key: &str) -> Option<(usize, usize)> {
    let mut pos = 0;
    for line in block.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        if let Some((k, _)) = line.split_once("::")
            && k.eq_ignore_ascii_case(key)
        {
            return Some((start, pos));
        }
    }
    None
}

/// `key:: value` (a list as `a, b`, as Logseq writes tags).
fn property_line(key: &str, value: &Value, nl: &str) -> Result<String, EditError> {
    if !crate::logseq::is_property_name(key) {
        return Err(EditError::BadPropertyName(key.to_string()));
    }
    if matches!(value, Value::String(s) if s.contains(['\n', '\r'])) {
        return Err(EditError::MultiLineProperty(key.to_string()));
    }
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    Ok(format!("{key}:: {text}{nl}"))
}
