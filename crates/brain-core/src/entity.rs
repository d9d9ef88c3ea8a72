//! The entity: one note as data.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The name of an entity: its `type` and its `id` within that type.
///
/// Written `type/id` on the command line (`note/Projects/plan`, `topic/rust`): the type is
/// everything before the first `/`, so ids may themselves contain slashes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityRef {
    /// The entity type: `note`, or a configured type such as `topic`.
    #[serde(rename = "type")]
    pub entity_type: String,
    /// The id within the type; for notes, the vault path without `.md`.
    pub id: String,
}

impl EntityRef {
    /// Builds a reference from its two parts.
    pub fn new(entity_type: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            entity_type: entity_type.into(),
            id: id.into(),
        }
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.entity_type, self.id)
    }
}

/// Why a `TYPE/ID` argument could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "'{0}' is not TYPE/ID: write the type, a slash and the id, e.g. note/Projects/plan or topic/rust"
)]
pub struct RefParseError(pub String);

impl FromStr for EntityRef {
    type Err = RefParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((t, id)) if !t.is_empty() && !id.is_empty() => Ok(EntityRef::new(t, id)),
            _ => Err(RefParseError(s.to_string())),
        }
    }
}

/// One note as stored: its reference, where its file lives, and its content split for search.
///
/// The exact file text is `frontmatter + body`: keeping the raw frontmatter (with its BOM, line
/// endings and formatting) next to the body is what lets an untouched note be exported
/// byte-for-byte, and avoids storing the text twice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Type and id.
    #[serde(flatten)]
    pub entity_ref: EntityRef,
    /// Vault-relative path of its file, with `/` separators.
    pub path: String,
    /// Title from frontmatter `title`, else the first `# heading`, else the file name.
    pub title: String,
    /// Frontmatter (or Logseq page properties) as an ordered map.
    pub metadata: Map<String, Value>,
    /// Tags from frontmatter and inline `#tags`, lower-cased, without `#`.
    pub tags: Vec<String>,
    /// The raw frontmatter block exactly as in the file, delimiters included ("" if none).
    pub frontmatter: String,
    /// Markdown without the frontmatter.
    pub body: String,
    /// BLAKE3 of the exact file text.
    pub content_hash: String,
    /// Milliseconds since the epoch when the entity was first seen.
    pub created_ms: i64,
    /// Milliseconds since the epoch of the last change.
    pub updated_ms: i64,
    /// Set when the entity is soft-deleted (a tombstone that can be restored).
    pub deleted_ms: Option<i64>,
}

impl Entity {
    /// The canonical file text: exactly what export writes.
    pub fn content(&self) -> String {
        let mut s = String::with_capacity(self.frontmatter.len() + self.body.len());
        s.push_str(&self.frontmatter);
        s.push_str(&self.body);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_parses_at_first_slash() {
        let r: EntityRef = "note/Projects/Work/plan".parse().unwrap();
        assert_eq!(r, EntityRef::new("note", "Projects/Work/plan"));
        assert_eq!(r.to_string(), "note/Projects/Work/plan");
        assert!("note".parse::<EntityRef>().is_err());
        assert!("/x".parse::<EntityRef>().is_err());
        assert!("note/".parse::<EntityRef>().is_err());
    }
}
