//! Logseq specifics: page properties and file-name escaping.
//!
//! A Logseq page keeps its properties as `key:: value` lines at the very top, before the first
//! block. Namespaced pages (`Project/Alpha`) are saved as `Project___Alpha.md` (the current
//! `:triple-lowbar` format) or `Project%2FAlpha.md` (the legacy format); the title must show the
//! slash again.

use serde_json::{Map, Value};

/// Property keys whose values Logseq treats as lists of page references.
const LIST_KEYS: &[&str] = &["tags", "alias"];

/// Whether Logseq reads `key` as a page property name: ASCII letters, digits, `-` and `_`.
pub fn is_property_name(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn property_line(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once("::")?;
    if !is_property_name(key) || !(value.is_empty() || value.starts_with(' ')) {
        return None;
    }
    Some((key, value.trim()))
}

/// Reads the page-property block starting at byte `start`; returns where it ends (after the last
/// property line's newline) and the properties. `None` if the page does not start with one.
pub fn page_properties(text: &str, start: usize) -> Option<(usize, Map<String, Value>)> {
    let mut pos = start;
    let mut props = Map::new();
    while pos < text.len() {
        let rest = &text[pos..];
        let (raw, next) = match rest.find('\n') {
            Some(i) => (&rest[..i], pos + i + 1),
            None => (rest, text.len()),
        };
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let Some((key, value)) = property_line(line) else {
            break;
        };
        let value = if LIST_KEYS.contains(&key.to_ascii_lowercase().as_str()) {
            Value::Array(
                value
                    .split(',')
                    .map(|v| v.trim().trim_start_matches('#'))
                    .map(|v| v.trim_start_matches("[[").trim_end_matches("]]"))
                    .filter(|v| !v.is_empty())
                    .map(|v| Value::String(v.to_string()))
                    .collect(),
            )
        } else {
            Value::String(value.to_string())
        };
        props.insert(key.to_ascii_lowercase(), value);
        pos = next;
    }
    (!props.is_empty()).then_some((pos, props))
}

/// Turns a Logseq file stem back into its page name: `a___b` and `a%2Fb` become `a/b`, and other
/// percent escapes are decoded when they form valid UTF-8.
pub fn unescape_file_stem(stem: &str) -> String {
    let s = stem.replace("___", "/");
    if !s.contains('%') {
        return s;
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Document, FrontmatterKind};

    #[test]
    fn page_properties_become_metadata() {
        let text = "title:: My Page\ntags:: rust, [[Async IO]], #db\nalias:: mp\n\n- first block\n  - child:: not a page property\n";
        let d = Document::parse(text).unwrap();
        assert_eq!(d.kind, FrontmatterKind::LogseqProperties);
        assert_eq!(d.text(), text);
        assert_eq!(d.title("x"), "My Page");
        assert_eq!(d.tags(), ["async io", "db", "rust"]);
        assert_eq!(d.metadata["alias"], serde_json::json!(["mp"]));
        assert!(d.body.starts_with("\n- first block"));
    }

    #[test]
    fn not_properties_when_first_line_is_a_block() {
        let d = Document::parse("- a:: b\n").unwrap();
        assert_eq!(d.kind, FrontmatterKind::None);
        let d = Document::parse("http://x.y\n").unwrap();
        assert_eq!(d.kind, FrontmatterKind::None);
    }

    #[test]
    fn namespace_file_names_unescape() {
        assert_eq!(unescape_file_stem("Project___Alpha"), "Project/Alpha");
        assert_eq!(unescape_file_stem("Project%2FAlpha"), "Project/Alpha");
        assert_eq!(unescape_file_stem("a%3Ab"), "a:b");
        assert_eq!(unescape_file_stem("100%"), "100%");
        assert_eq!(unescape_file_stem("plain"), "plain");
    }
}
