//! Markdown note codec: split a file into its frontmatter block and body without losing a byte.
//!
//! The invariant everything else relies on: for any text that parses,
//! `doc.frontmatter + doc.body == text`. The frontmatter is kept raw (BOM, CRLF, comments, quoting
//! style) so an untouched note exports byte-identical; `metadata` is the parsed view of it for
//! search, listing and agents.

use serde_json::{Map, Value};

use crate::logseq;

/// Which kind of metadata block opens the note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrontmatterKind {
    /// No metadata block.
    None,
    /// A `---` YAML block (Obsidian, Jekyll, Hugo).
    Yaml,
    /// Logseq page properties: `key:: value` lines at the top of the page.
    LogseqProperties,
}

/// Why a note's text cannot be imported. Each says what is wrong and where.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// The file has no bytes.
    #[error("empty file: write something in it (even a title) and it will be imported")]
    Empty,
    /// A NUL byte: this is binary data with a `.md` name.
    #[error("binary data (NUL byte at offset {0}): not a text note")]
    Binary(usize),
    /// Not valid UTF-8.
    #[error("invalid UTF-8 at byte {0}: save the file as UTF-8")]
    InvalidUtf8(usize),
    /// `---` on the first line that is never closed.
    #[error(
        "frontmatter opened with '---' on line 1 is never closed: add a '---' line after the properties"
    )]
    UnterminatedFrontmatter,
    /// The YAML inside the frontmatter does not parse.
    #[error("invalid YAML frontmatter: {0}")]
    InvalidYaml(String),
    /// The frontmatter parses but is a list or a scalar, not key/value pairs.
    #[error("frontmatter must be a map of keys to values, found {0}")]
    NotAMap(&'static str),
    /// A frontmatter value (or key) holds a NUL character, written as an escape (`"\0"`,
    /// `"\u0000"`): no text column of PostgreSQL can hold it, so no backend takes it, and a
    /// brain stays movable between them.
    #[error(
        "the frontmatter property '{0}' holds a NUL character (an escape such as \\0 or \\u0000): remove it"
    )]
    NulInFrontmatter(String),
}

/// The longest tag kept, in bytes (after lower-casing). A longer "tag" is a blob that starts
/// with `#` or an accident, not a label anyone filters by; it is left out of the note's tags
/// (its words stay searchable) rather than refusing the note, and an index row stays within
/// what both backends can index.
pub const MAX_TAG_BYTES: usize = 255;

/// A parsed note.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The raw metadata block, delimiters and BOM included; empty if there is none.
    pub frontmatter: String,
    /// Everything after the metadata block.
    pub body: String,
    /// The metadata as an ordered map.
    pub metadata: Map<String, Value>,
    /// Which kind of block the metadata came from.
    pub kind: FrontmatterKind,
}

/// Checks raw file bytes and returns them as text: empty, binary and non-UTF-8 files are refused
/// with the offset of the first bad byte.
pub fn decode(bytes: &[u8]) -> Result<&str, CodecError> {
    if bytes.is_empty() {
        return Err(CodecError::Empty);
    }
    if let Some(i) = bytes.iter().position(|&b| b == 0) {
        return Err(CodecError::Binary(i));
    }
    std::str::from_utf8(bytes).map_err(|e| CodecError::InvalidUtf8(e.valid_up_to()))
}

/// The line starting at `start`: (line without its terminator, offset after the terminator).
fn line_at(text: &str, start: usize) -> (&str, usize) {
    match text[start..].find('\n') {
        Some(i) => {
            let line = &text[start..start + i];
            (line.strip_suffix('\r').unwrap_or(line), start + i + 1)
        }
        None => (&text[start..], text.len()),
    }
}

impl Document {
    /// Splits and parses a note. `text` may start with a BOM and use CRLF line endings.
    pub fn parse(text: &str) -> Result<Self, CodecError> {
        let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
        let (first, mut pos) = line_at(text, bom);
        if first.trim_end() == "---" && pos > bom + first.len() {
            let yaml_start = pos;
            loop {
                if pos >= text.len() {
                    return Err(CodecError::UnterminatedFrontmatter);
                }
                let (line, next) = line_at(text, pos);
                if line.trim_end() == "---" {
                    let metadata = parse_yaml(&text[yaml_start..pos])?;
                    refuse_nul(&metadata)?;
                    return Ok(Document {
                        frontmatter: text[..next].to_string(),
                        body: text[next..].to_string(),
                        metadata,
                        kind: FrontmatterKind::Yaml,
                    });
                }
                pos = next;
            }
        }
        if let Some((end, metadata)) = logseq::page_properties(text, bom) {
            return Ok(Document {
                frontmatter: text[..end].to_string(),
                body: text[end..].to_string(),
                metadata,
                kind: FrontmatterKind::LogseqProperties,
            });
        }
        Ok(Document {
            frontmatter: text[..bom].to_string(),
            body: text[bom..].to_string(),
            metadata: Map::new(),
            kind: FrontmatterKind::None,
        })
    }

    /// The exact text this document came from.
    pub fn text(&self) -> String {
        format!("{}{}", self.frontmatter, self.body)
    }

    /// The title: frontmatter `title` (strings and numbers), else the first level-1 heading
    /// outside code, else `file_stem` (already unescaped by the caller for Logseq).
    pub fn title(&self, file_stem: &str) -> String {
        if let Some(t) = self.metadata.get("title").and_then(scalar_text) {
            let t = t.trim();
            if !t.is_empty() {
                return t.to_string();
            }
        }
        first_heading(&self.body).unwrap_or_else(|| file_stem.to_string())
    }

    /// Tags from the `tags`/`tag` property (a list, or a comma/space separated string) and inline
    /// `#tags` in the body outside code; lower-cased, without `#`, sorted, unique.
    pub fn tags(&self) -> Vec<String> {
        let mut out = Vec::new();
        for key in ["tags", "tag"] {
            match self.metadata.get(key) {
                Some(Value::Array(items)) => {
                    for item in items {
                        if let Some(s) = scalar_text(item) {
                            push_tag(&s, &mut out);
                        }
                    }
                }
                Some(v) => {
                    if let Some(s) = scalar_text(v) {
                        push_tags(&s, &mut out);
                    }
                }
                None => {}
            }
        }
        inline_tags(&self.body, &mut out);
        out.sort();
        out.dedup();
        out
    }
}

/// Refuses a NUL character anywhere in the metadata, naming the top-level property.
fn refuse_nul(metadata: &Map<String, Value>) -> Result<(), CodecError> {
    fn has_nul(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().any(has_nul),
            Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    match metadata
        .iter()
        .find(|(k, v)| k.contains('\0') || has_nul(v))
    {
        Some((key, _)) => Err(CodecError::NulInFrontmatter(key.replace('\0', "\\0"))),
        None => Ok(()),
    }
}

/// Adds a tag unless it is longer than [`MAX_TAG_BYTES`].
fn keep_tag(tag: String, out: &mut Vec<String>) {
    if tag.len() <= MAX_TAG_BYTES {
        out.push(tag);
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One tag as written in a list item: `#` and `[[...]]` are dropped, inner spaces kept (Logseq).
fn push_tag(t: &str, out: &mut Vec<String>) {
    let t = t.trim().trim_start_matches('#');
    let t = t.trim_start_matches("[[").trim_end_matches("]]").trim();
    if !t.is_empty() {
        keep_tag(t.to_lowercase(), out);
    }
}

/// Tags written as one string: separated by commas or white space.
fn push_tags(s: &str, out: &mut Vec<String>) {
    for t in s.split(|c: char| c == ',' || c.is_whitespace()) {
        push_tag(t, out);
    }
}

/// Whether a line opens or closes a fenced code block.
fn is_fence(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("```") || l.starts_with("~~~")
}

fn first_heading(body: &str) -> Option<String> {
    let mut in_code = false;
    for line in body.lines() {
        if is_fence(line) {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let t = rest.trim().trim_end_matches('#').trim();
            if !t.is_empty() {
                return Some(t.to_string());
            }
        }
    }
    None
}

/// Obsidian-style inline tags: `#` at a word start, then letters, digits, `_`, `-`, `/`, with at
/// least one non-digit (`#123` is an issue number, not a tag). Fenced and inline code is skipped.
fn inline_tags(body: &str, out: &mut Vec<String>) {
    let mut in_code = false;
    for line in body.lines() {
        if is_fence(line) {
            in_code = !in_code;
            continue;
        }
        if in_code || !line.contains('#') {
            continue;
        }
        let mut in_inline = false;
        let mut prev = ' ';
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '`' {
                in_inline = !in_inline;
            } else if c == '#' && !in_inline && (prev.is_whitespace() || prev == '(') {
                let rest = &line[i + 1..];
                let end = rest
                    .find(|ch: char| !(ch.is_alphanumeric() || matches!(ch, '_' | '-' | '/')))
                    .unwrap_or(rest.len());
                let tag = &rest[..end];
                if !tag.is_empty() && !tag.chars().all(|ch| ch.is_ascii_digit()) {
                    keep_tag(tag.to_lowercase(), out);
                }
                while chars.peek().is_some_and(|(j, _)| *j <= i + end) {
                    chars.next();
                }
                prev = 'x';
                continue;
            }
            prev = c;
        }
    }
}

fn parse_yaml(yaml: &str) -> Result<Map<String, Value>, CodecError> {
    if yaml.trim().is_empty() {
        return Ok(Map::new());
    }
    let value: serde_norway::Value =
        serde_norway::from_str(yaml).map_err(|e| CodecError::InvalidYaml(yaml_error(&e)))?;
    match value {
        serde_norway::Value::Null => Ok(Map::new()),
        serde_norway::Value::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(key_text(&k), yaml_to_json(v));
            }
            Ok(out)
        }
        serde_norway::Value::Sequence(_) => Err(CodecError::NotAMap("a list")),
        _ => Err(CodecError::NotAMap("a single value")),
    }
}

/// YAML errors report positions within the frontmatter; shift the line by one for the `---`.
fn yaml_error(e: &serde_norway::Error) -> String {
    match e.location() {
        Some(loc) => format!(
            "{} (line {} of the file)",
            e.to_string().split(" at line ").next().unwrap_or_default(),
            loc.line() + 1
        ),
        None => e.to_string(),
    }
}

fn key_text(k: &serde_norway::Value) -> String {
    match k {
        serde_norway::Value::String(s) => s.clone(),
        other => match yaml_to_json(other.clone()) {
            Value::String(s) => s,
            v => v.to_string(),
        },
    }
}

fn yaml_to_json(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(n.to_string()))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(key_text(&k), yaml_to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
