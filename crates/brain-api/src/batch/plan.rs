//! What one batch operation does to one note, worked out from the note alone and written
//! nowhere: the dry run shows it, and each child job computes it again on the note as it is
//! when it runs (so a note changed between the two gets the operation, not a stale text).

use brain_core::edit::{Edit, apply};
use brain_core::{Entity, EntityRef, PathMapper};
use serde_json::Value;

use super::BatchOp;

/// What an operation makes of one note.
#[derive(Clone, Debug, PartialEq)]
pub enum Planned {
    /// The note's new text.
    Text(String),
    /// The note moves to this reference (its text unchanged).
    Move(EntityRef),
    /// The note is deleted (softly: its file goes to the trash, `brain restore` brings it back).
    Delete,
    /// Nothing to do, and why (`status is already done`).
    Unchanged(String),
}

/// The metadata key a note keeps its tags under: `tags`, or `tag` when only that is there.
fn tag_key(note: &Entity) -> &'static str {
    if !note.metadata.contains_key("tags") && note.metadata.contains_key("tag") {
        "tag"
    } else {
        "tags"
    }
}

/// A tag as the index keeps it: no `#` or `[[...]]`, lower case.
fn tag_form(t: &str) -> String {
    let t = t.trim().trim_start_matches('#');
    t.trim_start_matches("[[")
        .trim_end_matches("]]")
        .trim()
        .to_lowercase()
}

/// The tags written in the note's metadata, as written (a string of several is split as the
/// codec splits it).
fn written_tags(note: &Entity, key: &str) -> Vec<Value> {
    match note.metadata.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) => s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.trim().is_empty())
            .map(|t| Value::String(t.trim().to_string()))
            .collect(),
        Some(other) => vec![other.clone()],
    }
}

fn same_tag(v: &Value, tag: &str) -> bool {
    match v {
        Value::String(s) => tag_form(s) == tag_form(tag),
        Value::Number(n) => n.to_string() == tag_form(tag),
        _ => false,
    }
}

/// What `op` makes of `note`, or why it cannot be done to it (the note is then reported as
/// not changed, with that reason). `logseq`: the vault is a Logseq graph (properties are
/// `key:: value` lines).
pub fn plan(
    op: &BatchOp,
    note: &Entity,
    logseq: bool,
    mapper: &PathMapper,
) -> Result<Planned, String> {
    let text = note.content();
    let edited = |edit: Edit| apply(&text, &edit, logseq).map_err(|e| e.to_string());
    let changed_or = |new: String, same: String| {
        if new == text {
            Planned::Unchanged(same)
        } else {
            Planned::Text(new)
        }
    };
    Ok(match op {
        BatchOp::Set { key, value } => {
            if note.metadata.get(key) == Some(value) {
                return Ok(Planned::Unchanged(format!(
                    "{key} is already {}",
                    shown(value)
                )));
            }
            let new = edited(Edit::SetMeta {
                key: key.clone(),
                value: value.clone(),
            })?;
            changed_or(new, format!("{key} is already {}", shown(value)))
        }
        BatchOp::Unset { key } => {
            if !note.metadata.contains_key(key) {
                return Ok(Planned::Unchanged(format!("it has no {key}")));
            }
            changed_or(
                edited(Edit::RemoveMeta { key: key.clone() })?,
                format!("it has no {key}"),
            )
        }
        BatchOp::TagAdd { tag } => {
            let key = tag_key(note);
            let mut tags = written_tags(note, key);
            if tags.iter().any(|t| same_tag(t, tag)) {
                return Ok(Planned::Unchanged(format!("it is already tagged {tag}")));
            }
            tags.push(Value::String(tag.clone()));
            let new = match list_item_added(&text, key, tag, &tags) {
                Some(t) => t,
                None => edited(Edit::SetMeta {
                    key: key.into(),
                    value: Value::Array(tags),
                })?,
            };
            changed_or(new, format!("it is already tagged {tag}"))
        }
        BatchOp::TagRemove { tag } => {
            let key = tag_key(note);
            let tags = written_tags(note, key);
            let kept: Vec<Value> = tags.iter().filter(|t| !same_tag(t, tag)).cloned().collect();
            if kept.len() == tags.len() {
                let inline = note.tags.iter().any(|t| *t == tag_form(tag));
                return Ok(Planned::Unchanged(if inline {
                    format!(
                        "#{} is in its text, which a batch leaves as it is",
                        tag_form(tag)
                    )
                } else {
                    format!("it is not tagged {tag}")
                }));
            }
            let edit = if kept.is_empty() {
                Edit::RemoveMeta { key: key.into() }
            } else {
                Edit::SetMeta {
                    key: key.into(),
                    value: Value::Array(kept.clone()),
                }
            };
            let new = match list_items_removed(&text, key, tag, &kept) {
                Some(t) if !kept.is_empty() => t,
                _ => edited(edit)?,
            };
            changed_or(new, format!("it is not tagged {tag}"))
        }
        BatchOp::Replace { old, new } => {
            let found = text.matches(old.as_str()).count();
            if found == 0 {
                return Ok(Planned::Unchanged(format!("it does not contain '{old}'")));
            }
            let replaced = edited(Edit::FindReplace {
                find: old.clone(),
                replace: new.clone(),
                expected: found,
            })?;
            changed_or(replaced, format!("'{old}' and '{new}' are the same"))
        }
        BatchOp::Move { to } => {
            let name = note.path.rsplit('/').next().unwrap_or(&note.path);
            let folder = to.trim_matches('/');
            let path = if folder.is_empty() {
                name.to_string()
            } else {
                format!("{folder}/{name}")
            };
            if path == note.path {
                return Ok(Planned::Unchanged(format!("it is in {to} already")));
            }
            let target = mapper
                .to_ref(&path)
                .map_err(|e| format!("it cannot move to {path}: {e}"))?;
            Planned::Move(target)
        }
        BatchOp::Delete => Planned::Delete,
        BatchOp::Rollback { .. } => {
            return Err("a rollback is planned from the note's history, not its text".into());
        }
    })
}

/// The lines of a YAML block list under top-level `key:` in `text`'s frontmatter: the byte
/// range of its item lines, and their indentation (`"  "` for `  - a`). `None` when the key's
/// value is not a block list of one-line items.
fn block_list(text: &str, key: &str) -> Option<(usize, usize, String)> {
    let mut lines = text.split_inclusive('\n');
    let first = lines.next()?;
    if first.trim_end() != "---" {
        return None;
    }
    let mut pos = first.len();
    let mut start = None;
    let mut indent = None;
    for line in lines {
        let bare = line.trim_end_matches(['\n', '\r']);
        if start.is_none() {
            if bare == "---" {
                return None;
            }
            if bare.trim_end() == format!("{key}:") {
                start = Some(pos + line.len());
            }
        } else {
            let trimmed = bare.trim_start();
            let this = &bare[..bare.len() - trimmed.len()];
            let item = trimmed.starts_with("- ") && !trimmed[2..].trim().is_empty();
            if !item || indent.as_deref().is_some_and(|i: &str| i != this) {
                let from = start?;
                return (pos > from).then(|| (from, pos, indent.unwrap_or_default()));
            }
            indent = Some(this.to_string());
        }
        pos += line.len();
    }
    None
}

/// Whether `text`'s metadata reads back with `key` holding exactly `expected`.
fn reads_back(text: &str, key: &str, expected: &[Value]) -> bool {
    brain_core::codec::Document::parse(text)
        .is_ok_and(|d| d.metadata.get(key) == Some(&Value::Array(expected.to_vec())))
}

/// `text` with `- tag` added as the last item of its block list `key`, in the list's own
/// indentation and line ending, everything else byte for byte; `None` when the list is not a
/// plain block list or the result would not read back as `expected`.
fn list_item_added(text: &str, key: &str, tag: &str, expected: &[Value]) -> Option<String> {
    let (_, end, indent) = block_list(text, key)?;
    let eol = if text[..end].ends_with("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let new = format!("{}{indent}- {tag}{eol}{}", &text[..end], &text[end..]);
    reads_back(&new, key, expected).then_some(new)
}

/// `text` with the item lines of block list `key` naming `tag` taken out, everything else byte
/// for byte; `None` as for [`list_item_added`].
fn list_items_removed(text: &str, key: &str, tag: &str, expected: &[Value]) -> Option<String> {
    let (from, end, _) = block_list(text, key)?;
    let kept: String = text[from..end]
        .split_inclusive('\n')
        .filter(|line| {
            let item = line.trim().trim_start_matches('-').trim();
            !same_tag(&Value::String(item.to_string()), tag)
        })
        .collect();
    let new = format!("{}{kept}{}", &text[..from], &text[end..]);
    reads_back(&new, key, expected).then_some(new)
}

/// A value as a person typed it: text bare, anything else as JSON.
pub(crate) fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(items: &[&str]) -> Vec<Value> {
        items.iter().map(|t| Value::String(t.to_string())).collect()
    }

    #[test]
    fn a_tag_is_added_and_removed_in_the_list_s_own_indentation() {
        let text = "---\ntitle: T\ntags:\n  - a\n  - b\nstatus: x\n---\nbody\n";
        let added = list_item_added(text, "tags", "c", &tags(&["a", "b", "c"])).unwrap();
        assert_eq!(
            added,
            "---\ntitle: T\ntags:\n  - a\n  - b\n  - c\nstatus: x\n---\nbody\n"
        );
        let removed = list_items_removed(text, "tags", "#A", &tags(&["b"])).unwrap();
        assert_eq!(
            removed,
            "---\ntitle: T\ntags:\n  - b\nstatus: x\n---\nbody\n"
        );
        let crlf = text.replace('\n', "\r\n");
        let added = list_item_added(&crlf, "tags", "c", &tags(&["a", "b", "c"])).unwrap();
        assert_eq!(added, crlf.replace("  - b\r\n", "  - b\r\n  - c\r\n"));
    }

    #[test]
    fn anything_but_a_plain_block_list_is_left_to_the_metadata_edit() {
        let expected = tags(&["a", "c"]);
        for text in [
            "---\ntags: [a]\n---\n",
            "---\ntags:\n---\n",
            "---\ntitle: x\n---\n",
            "no frontmatter\n",
            "---\ntags:\n  - a\n    - nested\n---\n",
        ] {
            assert_eq!(
                list_item_added(text, "tags", "c", &expected),
                None,
                "{text:?}"
            );
        }
    }
}
