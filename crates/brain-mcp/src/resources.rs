//! Resources: every note as `entity://{type}/{id}` (a template, since a vault can hold tens of
//! thousands of notes and listing them all would be useless to an agent), and `brain://types`,
//! the types with their note counts.
//!
//! In `entity://TYPE/ID`, the type is everything before the first `/` after `entity://` and the
//! id everything after it, so an id may keep its slashes (`entity://note/Projects/plan`) or
//! percent-encode them (`entity://note/Projects%2Fplan`); both are percent-decoded, so clients
//! that encode spaces and other characters (`My%20Note`) work too.

use brain_api::BrainError;
use brain_core::EntityRef;
use rmcp::ErrorData;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use serde_json::json;

use crate::{BrainMcp, Failure, blocking, fresh_blocking};

const ENTITY_SCHEME: &str = "entity://";
const TYPES_URI: &str = "brain://types";
const MARKDOWN: &str = "text/markdown";
const JSON: &str = "application/json";

/// What a resource URI names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ResourceUri {
    /// One note.
    Entity(EntityRef),
    /// The list of types with their counts.
    Types,
}

/// Reads a resource URI, or says why it names nothing this server has.
pub(crate) fn parse_uri(uri: &str) -> Result<ResourceUri, String> {
    if uri.trim_end_matches('/') == TYPES_URI {
        return Ok(ResourceUri::Types);
    }
    let Some(rest) = uri.strip_prefix(ENTITY_SCHEME) else {
        return Err(format!(
            "unknown resource '{uri}': this server has {TYPES_URI} and entity://{{type}}/{{id}}"
        ));
    };
    let (t, id) = rest.split_once('/').unwrap_or((rest, ""));
    let (t, id) = (percent_decode(t)?, percent_decode(id)?);
    if t.is_empty() || id.is_empty() {
        return Err(format!(
            "'{uri}' names no note: write entity://TYPE/ID, e.g. entity://note/Projects/plan"
        ));
    }
    if t.contains('\0') || id.contains('\0') {
        return Err(format!(
            "'{uri}' names no note: a type or id cannot contain NUL"
        ));
    }
    Ok(ResourceUri::Entity(EntityRef::new(t, id)))
}

/// `%XX` escapes to their bytes, which must make UTF-8. `+` stays a `+` (this is a URI path,
/// not a form).
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(byte) = hex else {
                return Err(format!(
                    "'{s}' has a bad percent escape: write %XX with two hex digits (%25 for '%')"
                ));
            };
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("'{s}' does not decode to UTF-8 text"))
}

/// `resources/list`: only `brain://types`; notes are reached through the template.
pub(crate) fn list() -> ListResourcesResult {
    ListResourcesResult::with_all_items(vec![
        Resource::new(TYPES_URI, "types")
            .with_title("Note types")
            .with_description(
                "The entity types of this vault with how many live notes each holds: \
                 [{\"type\": \"note\", \"count\": 120}, ...]. Use a type in entity:// URIs and \
                 in the tools' `type` arguments.",
            )
            .with_mime_type(JSON),
    ])
}

/// `resources/templates/list`: one note by type and id.
pub(crate) fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new("entity://{type}/{id}", "entity")
            .with_title("A note")
            .with_description(
                "The whole Markdown file of one note (frontmatter included), e.g. \
                 entity://note/Projects/plan. The type comes first (see brain://types); the id is \
                 everything after the next '/', so it may contain '/' as is or percent-encoded \
                 (%2F); other special characters are percent-encoded (a space is %20).",
            )
            .with_mime_type(MARKDOWN),
    ])
}

/// `resources/read`. A URI naming nothing, or a note that does not exist, is "resource not
/// found" (-32002; rmcp sends -32602 to clients of protocol 2026-07-28 and later, as that
/// revision asks); a bad type is invalid params.
/// A note is read after the files saved before the call are imported, as `get` is; a resource
/// has no place for a warning, so one that could not be is only logged.
pub(crate) async fn read(server: &BrainMcp, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let brain = server.brain();
    let target = parse_uri(uri).map_err(|m| ErrorData::resource_not_found(m, None))?;
    let contents = match target {
        ResourceUri::Types => {
            let counts = blocking(brain, |b| b.type_counts())
                .await
                .map_err(to_error)?;
            let doc: Vec<_> = counts
                .into_iter()
                .map(|(t, count)| json!({ "type": t, "count": count }))
                .collect();
            ResourceContents::text(json!(doc).to_string(), uri).with_mime_type(JSON)
        }
        ResourceUri::Entity(r) => {
            let (entity, _warning) = fresh_blocking(server, move |b| b.get(&r))
                .await
                .map_err(to_error)?;
            ResourceContents::text(entity.content(), uri).with_mime_type(MARKDOWN)
        }
    };
    Ok(ReadResourceResult::new(vec![contents]))
}

/// The JSON-RPC error for a failed read, its `data` `{"kind"}` named as a tool error's kind.
fn to_error(f: Failure) -> ErrorData {
    let message = f.to_string();
    let data = Some(json!({ "kind": f.kind() }));
    match f {
        Failure::Brain(
            BrainError::NotFound { .. } | BrainError::Moved { .. } | BrainError::NotImported { .. },
        ) => ErrorData::resource_not_found(message, data),
        Failure::Brain(e) if e.is_bad_input() => ErrorData::invalid_params(message, data),
        _ => ErrorData::internal_error(message, data),
    }
}

#[cfg(test)]
mod tests {
    use super::{ResourceUri, parse_uri, percent_decode};
    use brain_core::EntityRef;

    fn entity(t: &str, id: &str) -> Result<ResourceUri, String> {
        Ok(ResourceUri::Entity(EntityRef::new(t, id)))
    }

    #[test]
    fn the_id_is_everything_after_the_type() {
        assert_eq!(parse_uri("entity://topic/rust"), entity("topic", "rust"));
        assert_eq!(
            parse_uri("entity://note/Projects/Work/plan"),
            entity("note", "Projects/Work/plan")
        );
    }

    #[test]
    fn escapes_are_decoded_in_type_and_id() {
        assert_eq!(
            parse_uri("entity://note/Projects%2Fplan"),
            entity("note", "Projects/plan")
        );
        assert_eq!(
            parse_uri("entity://note/My%20Note"),
            entity("note", "My Note")
        );
        assert_eq!(parse_uri("entity://no%74e/a+b"), entity("note", "a+b"));
        assert_eq!(parse_uri("entity://note/caf%C3%A9"), entity("note", "café"));
        assert_eq!(parse_uri("entity://note/%2e%2e/x"), entity("note", "../x"));
    }

    #[test]
    fn types_with_or_without_a_trailing_slash() {
        assert_eq!(parse_uri("brain://types"), Ok(ResourceUri::Types));
        assert_eq!(parse_uri("brain://types/"), Ok(ResourceUri::Types));
    }

    #[test]
    fn uris_naming_nothing_are_refused() {
        for uri in [
            "entity://note",
            "entity://note/",
            "entity:///plan",
            "entity://",
            "entity://note/%zz",
            "entity://note/%4",
            "entity://note/%FF",
            "entity://note/a%00b",
            "file:///etc/passwd",
            "brain://typesx",
            "brain://other",
            "",
        ] {
            assert!(parse_uri(uri).is_err(), "{uri} was accepted");
        }
    }

    #[test]
    fn percent_decoding_leaves_plain_text_alone() {
        assert_eq!(
            percent_decode("plain/text+more").as_deref(),
            Ok("plain/text+more")
        );
        assert_eq!(percent_decode("100%25").as_deref(), Ok("100%"));
        assert_eq!(percent_decode("").as_deref(), Ok(""));
    }
}
