//! What goes into the SQLite store comes back out exactly, whatever it holds.
//!
//! Arbitrary entities (types and ids valid by `brain-core`'s path rules, bodies with any
//! NUL-free text and either line ending, metadata maps of any JSON, tags) are put into a store
//! in a database file, then read back: before and after an update, after reopening the file,
//! and across a soft delete and a restore. Every field must come back as it was put, metadata
//! keys in their order, except what the contract says a put or a restore sets itself
//! (`deleted_ms`, and `created_ms` once a row exists).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::HashSet;

use brain_core::path::{NOTE_TYPE, PathMapper};
use brain_core::{Entity, EntityRef, content_hash, path_key};
use brain_store::{ListFilter, PutOutcome, Store, StoreError};
use brain_store_sqlite::SqliteStore;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Types configured next to `note`.
const TYPES: [&str; 2] = ["topic", "person"];

fn mapper() -> PathMapper {
    PathMapper::new(TYPES).expect("valid type names")
}

/// Any JSON value, nested a few levels: all number kinds (negative, beyond `i64`, fractional),
/// strings in any script, arrays, and maps whose key order must survive.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Any finite f64: serde_json's `float_roundtrip` feature (on in the workspace) parses
        // JSON text back exactly (without it 1.4074125424201993e-218 came back as
        // 1.407412542420199e-218 and 7730872702380540.0 as 7730872702380541.0).
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        // And decimals as people write them.
        (-999_999_999_999_999i64..=999_999_999_999_999, 0..=12u32).prop_map(|(m, e)| {
            Value::from(format!("{m}e-{e}").parse::<f64>().expect("a decimal"))
        }),
        "\\PC{0,12}".prop_map(Value::String),
        "[\t\r\n\"\\\\\u{1}\u{7f}é日🚀]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            metadata_of(inner).prop_map(Value::Object),
        ]
    })
}

/// A map with keys in generated (not sorted) order.
fn metadata_of(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::vec(("\\PC{0,8}", values), 0..5)
        .prop_map(|pairs| pairs.into_iter().collect())
}

/// Text without NUL: any characters (controls and tabs included) on lines joined by `\n` or
/// `\r\n`, with or without a final line break.
fn text() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec("[^\u{0}\r\n]{0,40}", 0..6),
        prop_oneof![Just("\n"), Just("\r\n")],
        any::<bool>(),
    )
        .prop_map(|(lines, eol, trailing)| {
            let mut s = lines.join(eol);
            if trailing && !lines.is_empty() {
                s.push_str(eol);
            }
            s
        })
}

/// An id segment as people name files: several scripts, spaces, punctuation; never a leading
/// dot.
fn segment() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9éÉ日本🚀 _()&#,'-][a-zA-Z0-9éÉ日本🚀 ._()&#,'-]{0,20}"
}

/// A reference the vault mapping accepts, with its file path.
fn located_ref() -> impl Strategy<Value = (EntityRef, String)> {
    (
        prop_oneof![Just(NOTE_TYPE), Just(TYPES[0]), Just(TYPES[1])],
        proptest::collection::vec(segment(), 1..4),
    )
        .prop_filter_map("a note id inside a type folder", |(t, segs)| {
            let r = EntityRef::new(t, segs.join("/"));
            let path = mapper().to_path(&r).ok()?;
            Some((r, path))
        })
}

/// What a put carries besides the reference: everything the interface writes.
#[derive(Clone, Debug)]
struct Content {
    title: String,
    metadata: Map<String, Value>,
    tags: Vec<String>,
    frontmatter: String,
    body: String,
    created_ms: i64,
    updated_ms: i64,
    deleted_ms: Option<i64>,
}

fn content() -> impl Strategy<Value = Content> {
    (
        "[^\u{0}]{0,30}",
        metadata_of(json()),
        proptest::collection::btree_set("[a-z0-9é日/_-]{1,8}", 0..4),
        prop_oneof![Just(String::new()), text()],
        text(),
        any::<i64>(),
        any::<i64>(),
        any::<Option<i64>>(),
    )
        .prop_map(
            |(title, metadata, tags, frontmatter, body, created_ms, updated_ms, deleted_ms)| {
                Content {
                    title,
                    metadata,
                    tags: tags.into_iter().collect(),
                    frontmatter,
                    body,
                    created_ms,
                    updated_ms,
                    deleted_ms,
                }
            },
        )
}

fn entity((r, path): &(EntityRef, String), c: &Content) -> Entity {
    Entity {
        entity_ref: r.clone(),
        path: path.clone(),
        title: c.title.clone(),
        metadata: c.metadata.clone(),
        tags: c.tags.clone(),
        content_hash: content_hash(format!("{}{}", c.frontmatter, c.body).as_bytes()),
        frontmatter: c.frontmatter.clone(),
        body: c.body.clone(),
        created_ms: c.created_ms,
        updated_ms: c.updated_ms,
        deleted_ms: c.deleted_ms,
    }
}

/// Entities with distinct references and paths that do not collide (so every put is taken),
/// each with a first content and the content an update gives it.
fn entities() -> impl Strategy<Value = Vec<((EntityRef, String), Content, Content)>> {
    proptest::collection::vec((located_ref(), content(), content()), 1..6).prop_map(|mut es| {
        let mut keys = HashSet::new();
        es.retain(|((_, path), _, _)| keys.insert(path_key(path)));
        es
    })
}

/// Checks that `got` is `want` field by field, metadata key order included (`Map`'s `==`
/// ignores order, so the JSON texts are compared too).
fn same(got: &Entity, want: &Entity, when: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(got, want, "{} {}", when, want.entity_ref);
    let text = |m: &Map<String, Value>| serde_json::to_string(m).expect("JSON");
    prop_assert_eq!(
        text(&got.metadata),
        text(&want.metadata),
        "{} {}: metadata order",
        when,
        want.entity_ref
    );
    Ok(())
}

/// Checks every entity against `want` with `get` (and `get_any`), and the tag index with
/// `list`: each tag lists exactly the live entities that carry it.
fn all_as(store: &SqliteStore, want: &[Entity], when: &str) -> Result<(), TestCaseError> {
    for e in want {
        same(&store.get(&e.entity_ref).expect("get"), e, when)?;
        same(&store.get_any(&e.entity_ref).expect("get_any"), e, when)?;
    }
    let tags: HashSet<&String> = want.iter().flat_map(|e| &e.tags).collect();
    for tag in tags {
        let filter = ListFilter {
            tag: Some(tag.clone()),
            ..ListFilter::default()
        };
        let mut listed: Vec<EntityRef> = store
            .list(&filter)
            .expect("list")
            .into_iter()
            .map(|s| s.entity)
            .collect();
        let mut carriers: Vec<EntityRef> = want
            .iter()
            .filter(|e| e.tags.contains(tag))
            .map(|e| e.entity_ref.clone())
            .collect();
        listed.sort();
        carriers.sort();
        prop_assert_eq!(listed, carriers, "{}: entities tagged {}", when, tag);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Put, get, update, reopen, soft delete and restore give back exactly what was put.
    #[test]
    fn entities_round_trip_through_the_store(es in entities(), t_delete in any::<i64>(),
                                             t_restore in any::<i64>()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("brain.db");
        let store = SqliteStore::open(&file).expect("open");

        // A put stores everything it is given except `deleted_ms`: a put is always live.
        let mut want: Vec<Entity> = Vec::new();
        for (located, first, _) in &es {
            let e = entity(located, first);
            prop_assert_eq!(store.put(&e).expect("put"), PutOutcome::Created);
            want.push(Entity { deleted_ms: None, ..e });
        }
        all_as(&store, &want, "after put")?;

        // An update replaces everything but `created_ms`, which keeps the first put's; the same
        // content again changes nothing.
        for ((located, _, second), w) in es.iter().zip(&mut want) {
            let e = entity(located, second);
            let outcome = store.put(&e).expect("update");
            let changed = e.content_hash != w.content_hash;
            let expected = if changed { PutOutcome::Updated } else { PutOutcome::Unchanged };
            prop_assert_eq!(outcome, expected, "{}", w.entity_ref);
            if changed {
                *w = Entity { deleted_ms: None, created_ms: w.created_ms, ..e.clone() };
            }
            prop_assert_eq!(store.put(&e).expect("put again"), PutOutcome::Unchanged);
        }
        all_as(&store, &want, "after update")?;

        // The file holds it all.
        drop(store);
        let store = SqliteStore::open(&file).expect("reopen");
        all_as(&store, &want, "after reopening")?;
        prop_assert_eq!(store.count_live().expect("count"), want.len() as u64);

        // A soft delete hides the entity from `get` and keeps it whole for `get_any`; a restore
        // brings it back as it was, stamped with the restore time.
        for w in &mut want {
            store.soft_delete(&w.entity_ref, t_delete).expect("soft delete");
            prop_assert!(
                matches!(store.get(&w.entity_ref), Err(StoreError::NotFound(_))),
                "{} still live after a soft delete",
                w.entity_ref
            );
            let tombstone = Entity { deleted_ms: Some(t_delete), ..w.clone() };
            same(&store.get_any(&w.entity_ref).expect("get_any"), &tombstone, "deleted")?;
            let restored = store.restore(&w.entity_ref, t_restore).expect("restore");
            *w = Entity { deleted_ms: None, updated_ms: t_restore, ..w.clone() };
            same(&restored, w, "restore returned")?;
        }
        all_as(&store, &want, "after restore")?;
        prop_assert_eq!(store.count_live().expect("count"), want.len() as u64);
    }
}
