//! Full-text search: ranking, the query language, filters, snippets, and an index that can
//! never drift from the entities.

use super::{Factory, T0, entity};
use crate::{HIGHLIGHT, SearchHit, SearchQuery, Store, StoreError, SyncOp};

fn search(store: &dyn Store, q: SearchQuery) -> Vec<SearchHit> {
    match store.search(&q) {
        Ok(h) => h,
        Err(e) => panic!("search {:?}: {e}", q.text),
    }
}

/// The ids found for `text`, best first.
fn ids(store: &dyn Store, text: &str) -> Vec<String> {
    search(store, SearchQuery::new(text))
        .into_iter()
        .map(|h| h.entity.id)
        .collect()
}

/// `ids`, sorted, for queries whose order is not the point.
fn id_set(store: &dyn Store, text: &str) -> Vec<String> {
    let mut v = ids(store, text);
    v.sort();
    v
}

fn put_all(store: &dyn Store, notes: &[(&str, &str)]) {
    for (r, text) in notes {
        store.put(&entity(r, text, T0)).expect("put");
    }
}

pub fn ranks_by_bm25_title_first(make: Factory<'_>) {
    let store = make();
    put_all(
        &*store,
        &[
            (
                "note/once",
                "# Animals\nA long note about many things: cats, dogs, birds, fish, \
                 horses, cows, and one zebra somewhere in the middle of it all.\n",
            ),
            (
                "note/many",
                "# Zebra zebra\nThe zebra. Zebra stripes. A zebra herd.\n",
            ),
            ("note/none", "# Other\nNothing striped here.\n"),
        ],
    );
    let hits = search(&*store, SearchQuery::new("zebra"));
    let order: Vec<&str> = hits.iter().map(|h| h.entity.id.as_str()).collect();
    assert_eq!(order, ["many", "once"], "more and title matches rank first");
    assert!(
        hits[0].score > hits[1].score,
        "higher score is better: {hits:?}"
    );
    assert!(hits[1].score > 0.0);
    assert_eq!(hits[0].title, "Zebra zebra");
    assert_eq!(hits[0].path, "many.md");
}

pub fn query_language(make: Factory<'_>) {
    let store = make();
    put_all(
        &*store,
        &[
            ("note/fox", "the quick brown fox jumps over the lazy dog\n"),
            (
                "note/reversed",
                "brown and quick, the fox was not lazy at all\n",
            ),
            ("note/alpha", "alpha release notes\n"),
            ("note/beta", "beta release notes\n"),
            ("note/gamma", "gamma release notes, quickly written\n"),
        ],
    );
    assert_eq!(
        id_set(&*store, "quick fox"),
        ["fox", "reversed"],
        "words are ANDed"
    );
    assert_eq!(
        ids(&*store, "\"quick brown\""),
        ["fox"],
        "a phrase keeps its order"
    );
    assert_eq!(
        id_set(&*store, "quick*"),
        ["fox", "gamma", "reversed"],
        "prefix"
    );
    assert_eq!(ids(&*store, "release -beta -gamma"), ["alpha"], "exclusion");
    assert_eq!(
        ids(&*store, "fox -\"quick brown\""),
        ["reversed"],
        "excluded phrase"
    );
    assert_eq!(id_set(&*store, "alpha OR beta"), ["alpha", "beta"]);
    assert_eq!(id_set(&*store, "alpha OR beta notes"), ["alpha", "beta"]);
    assert_eq!(
        ids(&*store, "alpha or beta"),
        Vec::<String>::new(),
        "lower-case or is a word"
    );
    assert_eq!(
        id_set(&*store, "-release"),
        ["fox", "reversed"],
        "exclusions alone"
    );
    assert!(matches!(
        store.search(&SearchQuery::new("  ")),
        Err(StoreError::EmptyQuery)
    ));
}

pub fn filters_and_limit(make: Factory<'_>) {
    let store = make();
    put_all(
        &*store,
        &[
            ("note/n1", "---\ntags: [a, b]\n---\nshared word\n"),
            ("note/n2", "---\ntags: [a]\n---\nshared word\n"),
            ("topic/t1", "---\ntags: [a, b]\n---\nshared word\n"),
            ("person/p1", "shared word #b\n"),
        ],
    );
    let with = |types: &[&str], tags: &[&str]| -> Vec<String> {
        let mut q = SearchQuery::new("shared");
        q.types = types.iter().map(|s| s.to_string()).collect();
        q.tags = tags.iter().map(|s| s.to_string()).collect();
        let mut v: Vec<String> = search(&*store, q)
            .into_iter()
            .map(|h| h.entity.to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(with(&[], &[]).len(), 4);
    assert_eq!(with(&["topic"], &[]), ["topic/t1"]);
    assert_eq!(
        with(&["topic", "person"], &[]),
        ["person/p1", "topic/t1"],
        "any of the types"
    );
    assert_eq!(
        with(&[], &["a", "b"]),
        ["note/n1", "topic/t1"],
        "all of the tags"
    );
    assert_eq!(with(&["note"], &["b"]), ["note/n1"]);
    assert_eq!(with(&[], &["zzz"]), Vec::<String>::new());
    let mut q = SearchQuery::new("shared");
    q.limit = 2;
    assert_eq!(search(&*store, q.clone()).len(), 2);
    q.limit = 0;
    assert_eq!(search(&*store, q).len(), 4, "limit 0 means no limit");
}

/// Folder and metadata filters, with words and alone (a batch selects by filters only, every
/// match, with no limit): the same set on every backend.
pub fn path_and_meta_filters(make: Factory<'_>) {
    let store = make();
    put_all(
        &*store,
        &[
            (
                "note/Projects/a",
                "---\nstatus: open\nowner: Ann Lee\n---\nplan\n",
            ),
            (
                "note/Projects/Sub/b",
                "---\nstatus: done\ntags: [x]\n---\nplan\n",
            ),
            ("note/Projects-old/c", "---\nstatus: open\n---\nplan\n"),
            (
                "note/Projects",
                "---\nstatus: [open, later]\npriority: 3\ndone: true\n---\nplan\n",
            ),
            ("note/other", "---\nstatus: Open\n---\nsomething else\n"),
        ],
    );
    let with = |text: &str, paths: &[&str], meta: &[(&str, &str)]| -> Vec<String> {
        let mut q = SearchQuery::new(text);
        q.paths = paths.iter().map(|s| s.to_string()).collect();
        q.meta = meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        q.limit = 0;
        let mut v: Vec<String> = search(&*store, q)
            .into_iter()
            .map(|h| h.entity.id)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        with("plan", &["Projects"], &[]),
        ["Projects/Sub/b", "Projects/a"],
        "a folder and below; not Projects-old, nor the note Projects.md beside it"
    );
    assert_eq!(
        with("plan", &["Projects.md"], &[]),
        ["Projects"],
        "one note by its path"
    );
    assert_eq!(
        with("", &["Projects/Sub"], &[]),
        ["Projects/Sub/b"],
        "filters alone"
    );
    assert_eq!(
        with("", &[], &[("status", "open")]),
        ["Projects", "Projects-old/c", "Projects/a"],
        "a scalar or a list holding it, compared exactly (not `Open`)"
    );
    assert_eq!(
        with("", &[], &[("priority", "3")]),
        ["Projects"],
        "a number as text"
    );
    assert_eq!(
        with("", &[], &[("done", "true")]),
        ["Projects"],
        "a boolean as text"
    );
    assert_eq!(with("", &[], &[("owner", "Ann Lee")]), ["Projects/a"]);
    assert_eq!(
        with(
            "",
            &["Projects"],
            &[("status", "open"), ("owner", "Ann Lee")]
        ),
        ["Projects/a"],
        "every filter must hold"
    );
    assert_eq!(with("", &[], &[("missing", "open")]), Vec::<String>::new());
    assert_eq!(
        with("else", &[], &[("status", "open")]),
        Vec::<String>::new()
    );
    let mut q = SearchQuery::new("");
    q.tags = vec!["x".into()];
    assert_eq!(search(&*store, q).len(), 1, "a tag alone is a filter too");
    // A deleted note is never selected.
    store
        .soft_delete(&"note/Projects/a".parse().expect("ref"), T0 + 1)
        .expect("delete");
    assert_eq!(with("", &[], &[("owner", "Ann Lee")]), Vec::<String>::new());
    assert!(matches!(
        store.search(&SearchQuery::new("")),
        Err(StoreError::EmptyQuery)
    ));
}

pub fn snippets_are_highlighted(make: Factory<'_>) {
    let store = make();
    put_all(
        &*store,
        &[(
            "note/s",
            "# Notes\nSome text before the needle and some text after it.\n",
        )],
    );
    let mut q = SearchQuery::new("needle");
    q.highlight = ("<<".into(), ">>".into());
    let hits = search(&*store, q);
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].snippet.contains("<<needle>>"),
        "snippet: {:?}",
        hits[0].snippet
    );
    let hits = search(&*store, SearchQuery::new("need*"));
    assert!(
        hits[0].snippet.contains("⟦needle⟧"),
        "snippet: {:?}",
        hits[0].snippet
    );
    assert_eq!(HIGHLIGHT, ("⟦", "⟧"));

    // Markdown bold in the note stays as it is: it cannot be read as a highlight. A mark the
    // note holds itself is doubled, in a matched window and in a note's lead alike.
    put_all(
        &*store,
        &[
            ("note/bold", "Some **bold** words and a needle⟧ ⟦here\n"),
            ("note/lead", "⟦kept⟧ at the start -\n"),
        ],
    );
    let hits = search(&*store, SearchQuery::new("bold needle"));
    assert_eq!(
        hits[0].snippet, "Some **⟦bold⟧** words and a ⟦needle⟧⟧⟧ ⟦⟦here",
        "{hits:?}"
    );
    let hits = search(&*store, SearchQuery::new("-needle -bold"));
    let lead = hits.iter().find(|h| h.entity.id == "lead").expect("lead");
    assert_eq!(lead.snippet, "⟦⟦kept⟧⟧ at the start -", "{hits:?}");
}

/// `offset` pages through the same ranking: the pages, one after another, are the whole
/// result in order, with nothing repeated or skipped, and past the end is empty.
pub fn pages_follow_the_ranking(make: Factory<'_>) {
    let store = make();
    let notes: Vec<(String, String)> = (0..7)
        .map(|i| {
            (
                format!("note/p{i}"),
                format!("# P{i}\n{}\n", "paged ".repeat(i + 1)),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = notes
        .iter()
        .map(|(r, t)| (r.as_str(), t.as_str()))
        .collect();
    put_all(&*store, &refs);
    for text in ["paged", "-nothing"] {
        let mut q = SearchQuery::new(text);
        q.limit = 0;
        let all: Vec<String> = search(&*store, q.clone())
            .into_iter()
            .map(|h| h.entity.id)
            .collect();
        assert_eq!(all.len(), 7, "{text}: {all:?}");
        let mut paged = Vec::new();
        q.limit = 3;
        for page in 0..3 {
            q.offset = page * 3;
            let hits = search(&*store, q.clone());
            assert_eq!(hits.len(), [3, 3, 1][page], "{text}: page {page}");
            paged.extend(hits.into_iter().map(|h| h.entity.id));
        }
        assert_eq!(
            paged, all,
            "{text}: the pages in order are the whole ranking"
        );
        q.offset = 7;
        assert!(
            search(&*store, q.clone()).is_empty(),
            "{text}: past the end"
        );
        q.limit = 0;
        q.offset = 5;
        assert_eq!(
            search(&*store, q).len(),
            2,
            "{text}: no limit, from an offset"
        );
    }
}

pub fn index_follows_every_write(make: Factory<'_>) {
    let store = make();
    let e = entity("note/a", "# Title\noriginal words\n", T0);
    store.put(&e).expect("put");
    assert_eq!(ids(&*store, "original"), ["a"]);

    let replaced = entity("note/a", "# Title\nreplacement text\n", T0 + 1);
    store.put(&replaced).expect("put");
    assert!(
        ids(&*store, "original").is_empty(),
        "old words are gone after an update"
    );
    assert_eq!(ids(&*store, "replacement"), ["a"]);

    let imported = entity("note/a", "# Renamed heading\nimported body\n", T0 + 2);
    store
        .apply(&[SyncOp::Import {
            entity: imported,
            stat: crate::FileStat {
                size: 1,
                mtime_ns: 1,
                ..crate::FileStat::default()
            },
            seen_dirty_hash: Some(replaced.content_hash.clone()),
        }])
        .expect("import");
    assert!(ids(&*store, "replacement").is_empty());
    assert!(
        ids(&*store, "title").is_empty(),
        "the old title is gone too"
    );
    assert_eq!(ids(&*store, "imported heading"), ["a"]);

    // Only the frontmatter title changes: the body is the same text.
    for title in ["Firsttitle", "Secondtitle"] {
        let text = format!("---\ntitle: {title}\n---\nimported body\n");
        store.put(&entity("note/a", &text, T0 + 2)).expect("put");
    }
    assert!(
        ids(&*store, "firsttitle").is_empty(),
        "an old title alone is gone"
    );
    assert_eq!(
        ids(&*store, "secondtitle"),
        ["a"],
        "a new title alone is indexed"
    );
    assert_eq!(ids(&*store, "imported"), ["a"], "the body is still indexed");

    store.soft_delete(&e.entity_ref, T0 + 3).expect("delete");
    assert!(
        ids(&*store, "imported").is_empty(),
        "a deleted entity is not found"
    );
    store.restore(&e.entity_ref, T0 + 4).expect("restore");
    assert_eq!(
        ids(&*store, "imported"),
        ["a"],
        "a restored entity is found again"
    );
    store.soft_delete(&e.entity_ref, T0 + 5).expect("delete");
    store
        .put(&entity("note/a", "fresh start\n", T0 + 6))
        .expect("put over tombstone");
    assert!(ids(&*store, "imported").is_empty());
    assert_eq!(ids(&*store, "fresh"), ["a"]);
    assert_eq!(ids(&*store, "fresh -imported"), ["a"]);
}

pub fn folds_diacritics_and_case(make: Factory<'_>) {
    let store = make();
    put_all(
        &*store,
        &[(
            "note/c",
            "# Caf\u{e9}\nna\u{ef}ve r\u{e9}sum\u{e9} at the CAFE\u{301}\n",
        )],
    );
    for q in [
        "cafe",
        "CAF\u{c9}",
        "Cafe\u{301}",
        "naive",
        "resume",
        "r\u{e9}sum*",
    ] {
        assert_eq!(ids(&*store, q), ["c"], "{q:?}");
    }
}

pub fn hostile_queries_never_fail(make: Factory<'_>) {
    let store = make();
    put_all(
        &*store,
        &[(
            "note/h",
            "# H\nplain text with a \"quote\" and NEAR and OR\n",
        )],
    );
    let hostile = [
        "\"",
        "\"\"",
        "\"\"\"",
        "*",
        "**",
        "-",
        "--",
        "-*",
        "(",
        ")",
        "()",
        "a)",
        "(a",
        "^a",
        "a:b",
        "title:x",
        "body:",
        "{title body}: x",
        "NEAR(a b, 2)",
        "a NEAR b",
        "AND",
        "OR",
        "NOT",
        "a AND",
        "OR a",
        "a OR OR b",
        "NOT NOT a",
        "a - b",
        "+a",
        "a + b",
        "\0",
        "a\0b",
        "'",
        "a'b",
        "\\",
        "%_",
        "😀",
        "\u{301}",
        "x\u{200b}y",
        "\"a\"*\"b\"",
        "a*b*c",
        "-\"\"",
        "\"quote\"",
        "- quote",
        "rank",
        "entity_fts",
        "'; DROP TABLE entities; --",
    ];
    for q in hostile {
        match store.search(&SearchQuery::new(q)) {
            Ok(_) | Err(StoreError::EmptyQuery) => {}
            Err(e) => panic!("{q:?} gave {e}"),
        }
    }
    let long = "word ".repeat(5_000);
    assert!(
        store.search(&SearchQuery::new(long)).is_ok(),
        "a very long query"
    );
    let many_or = vec!["x"; 2_000].join(" OR ");
    assert!(store.search(&SearchQuery::new(many_or)).is_ok());
    let many_not = vec!["-x"; 2_000].join(" ");
    assert!(
        store
            .search(&SearchQuery::new(format!("plain {many_not}")))
            .is_ok()
    );
    assert_eq!(ids(&*store, "\"quote\""), ["h"]);
    assert_eq!(
        ids(&*store, "NEAR"),
        ["h"],
        "operator names are words when quoted"
    );
}
