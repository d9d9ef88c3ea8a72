//! The search language, as SQLite runs it.
//!
//! Whatever a person types, the translated query is valid FTS5: it may find nothing, but it
//! never makes SQLite report a syntax error. And a query finds exactly the notes the language
//! promises, with words as the index's tokenizer defines them (checked against a model of that
//! tokenizer over a generated corpus in a real store).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::BTreeSet;

use brain_core::EntityRef;
use brain_store::conformance::{T0, entity};
use brain_store::{SearchQuery, Store};
use brain_store_sqlite::SqliteStore;
use brain_store_sqlite::fts_query::{FtsQuery, parse, to_fts5};
use proptest::prelude::*;
use rusqlite::Connection;
use unicode_normalization::UnicodeNormalization;

fn index() -> Connection {
    let conn = Connection::open_in_memory().expect("open");
    conn.execute_batch(
        "CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2');
         INSERT INTO t VALUES ('Hello world', 'some body text with \"quotes\" and OR and NOT');
         INSERT INTO t VALUES ('Caf\u{e9}', 'na\u{ef}ve words');",
    )
    .expect("schema");
    conn
}

fn check(conn: &Connection, text: &str) -> Result<(), TestCaseError> {
    let expr = match parse(text) {
        None => return Ok(()),
        Some(FtsQuery::Match(e) | FtsQuery::Exclude(e)) => e,
    };
    let run = conn
        .prepare_cached("SELECT count(*) FROM t WHERE t MATCH ?1")
        .and_then(|mut s| s.query_row([&expr], |r| r.get::<_, i64>(0)));
    prop_assert!(run.is_ok(), "{text:?} -> {expr:?}: {run:?}");
    Ok(())
}

/// Strings built from the characters that mean something to FTS5 or to our parser.
fn syntax_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\"".to_string()),
            Just("*".to_string()),
            Just("-".to_string()),
            Just(" ".to_string()),
            Just("OR".to_string()),
            Just("AND".to_string()),
            Just("NOT".to_string()),
            Just("NEAR".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            Just(":".to_string()),
            Just("^".to_string()),
            Just("+".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            Just(",".to_string()),
            Just("\0".to_string()),
            Just("\u{301}".to_string()),
            "[a-zA-Z0-9é]{1,4}",
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_text_is_valid_fts5(text in any::<String>()) {
        check(&index(), &text)?;
    }

    #[test]
    fn syntax_soup_is_valid_fts5(text in syntax_soup()) {
        check(&index(), &text)?;
    }

    #[test]
    fn to_fts5_is_the_ranked_part(text in syntax_soup()) {
        match parse(&text) {
            Some(FtsQuery::Match(e)) => prop_assert_eq!(to_fts5(&text), Some(e)),
            _ => prop_assert_eq!(to_fts5(&text), None),
        }
    }
}

// Search semantics. The index tokenizes with `unicode61 remove_diacritics 2`: letters and
// digits make words, everything else (spaces, punctuation, symbols, emoji, `_`) separates them;
// words are case-folded and lose their diacritics, several on one letter included (`ệ` is `e`:
// that is what `2` adds over `1`), whether typed precomposed or as combining marks. Queries are
// tokenized the same way. The model below is that rule, written independently of SQLite.

/// Folds text as the index does: diacritics off (decompose, drop combining marks), lower case.
fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .collect::<String>()
        .to_lowercase()
}

/// The index's words of `text`, folded.
fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The vocabulary, each word in the spellings that must all count as it: case, precomposed
/// and combining accents, two marks on one letter. Words share prefixes (`caf`, `na`, `res`)
/// so prefix queries reach several. None is an operator (`OR`, `AND`, `NOT`) in any case.
const VOCABULARY: &[&[&str]] = &[
    &["cafe", "caf\u{e9}", "CAF\u{c9}", "Cafe\u{301}"],
    &["cafeti\u{e8}re", "Cafetiere", "CAFETI\u{c8}RE"],
    &["na\u{ef}ve", "naive", "NA\u{cf}VE", "nai\u{308}ve"],
    &["nation", "Nation", "NATION"],
    &[
        "r\u{e9}sum\u{e9}",
        "resume",
        "R\u{c9}SUM\u{c9}",
        "re\u{301}sume\u{301}",
    ],
    &["rest", "Rest", "REST"],
    &["Vi\u{1ec7}t", "viet", "VI\u{1ec6}T", "Vie\u{323}\u{302}t"],
    &["\u{fc}ber", "\u{dc}ber", "uber"],
    &["\u{3c9}mega", "\u{3a9}MEGA", "\u{3a9}mega"],
    &["\u{65e5}\u{672c}"],
    &["v2", "V2"],
    &["2024"],
];

/// A spelling of a vocabulary word.
fn spelling() -> impl Strategy<Value = &'static str> + Clone {
    (0..VOCABULARY.len(), any::<prop::sample::Index>())
        .prop_map(|(w, i)| VOCABULARY[w][i.index(VOCABULARY[w].len())])
}

/// What separates words in the corpus: all non-words to the tokenizer.
const SEPARATORS: &[&str] = &[
    " ",
    "  ",
    "\n",
    "\r\n",
    "\t",
    ", ",
    ". ",
    "-",
    "_",
    "/",
    " (",
    ") ",
    "\u{1f680}",
    "'",
    "\"",
    ": ",
];

/// A note of the corpus: its text (a heading that becomes its title, then words) and
/// whether it is soft-deleted.
fn corpus_note() -> impl Strategy<Value = (String, bool)> {
    let word = (spelling(), 0..SEPARATORS.len());
    (
        proptest::collection::vec(word.clone(), 0..3),
        proptest::collection::vec(word, 0..16),
        proptest::bool::weighted(0.15),
    )
        .prop_map(|(heading, body, deleted)| {
            let run = |ws: Vec<(&str, usize)>| {
                ws.into_iter()
                    .map(|(w, s)| format!("{w}{}", SEPARATORS[s]))
                    .collect::<String>()
            };
            let heading = if heading.is_empty() {
                String::new()
            } else {
                format!("# {}\n", run(heading))
            };
            (format!("{heading}{}", run(body)), deleted)
        })
}

/// One search term as typed, and the words it stands for.
#[derive(Clone, Debug)]
struct Term {
    typed: String,
    words: Vec<String>,
    prefix: bool,
}

/// A word, a prefix (`caf*`), a phrase (`"a b"`, maybe `"a b"*`) or words joined by a
/// separator, which the tokenizer makes a phrase too (`naïve-nation`).
fn term() -> impl Strategy<Value = Term> {
    prop_oneof![
        3 => spelling().prop_map(|w| (w.to_string(), false)),
        2 => (spelling(), any::<prop::sample::Index>()).prop_map(|(w, i)| {
            let chars: Vec<char> = w.chars().collect();
            // Cut after a letter, never between a letter and its combining mark.
            let cuts: Vec<usize> = (1..=chars.len())
                .filter(|&n| chars.get(n).is_none_or(|c| c.is_alphanumeric()))
                .collect();
            let n = cuts[i.index(cuts.len())];
            (chars[..n].iter().collect::<String>(), true)
        }),
        1 => (spelling(), spelling(), any::<bool>())
            .prop_map(|(a, b, star)| (format!("\"{a} {b}\""), star)),
        1 => (spelling(), spelling(), prop_oneof![Just("-"), Just("."), Just("'")])
            .prop_map(|(a, b, sep)| (format!("{a}{sep}{b}"), false)),
    ]
    .prop_map(|(typed, prefix)| {
        let words = words(&typed);
        let typed = if prefix { format!("{typed}*") } else { typed };
        Term {
            typed,
            words,
            prefix,
        }
    })
}

/// A query: groups of alternatives joined by `OR` (every group required), and exclusions
/// (`-term` or `NOT term`) placed between groups.
#[derive(Clone, Debug)]
struct Query {
    groups: Vec<Vec<Term>>,
    excluded: Vec<Term>,
    text: String,
}

fn query() -> impl Strategy<Value = Query> {
    (
        proptest::collection::vec(proptest::collection::vec(term(), 1..4), 0..3),
        proptest::collection::vec((term(), any::<bool>(), any::<prop::sample::Index>()), 0..3),
    )
        .prop_filter("something to search for", |(g, x)| {
            !g.is_empty() || !x.is_empty()
        })
        .prop_map(|(groups, excluded)| {
            let mut parts: Vec<String> = groups
                .iter()
                .map(|g| {
                    g.iter()
                        .map(|t| t.typed.as_str())
                        .collect::<Vec<_>>()
                        .join(" OR ")
                })
                .collect();
            for (t, not, at) in &excluded {
                let typed = if *not {
                    format!("NOT {}", t.typed)
                } else {
                    format!("-{}", t.typed)
                };
                parts.insert(at.index(parts.len() + 1), typed);
            }
            Query {
                groups,
                excluded: excluded.into_iter().map(|(t, _, _)| t).collect(),
                text: parts.join(" "),
            }
        })
}

/// Whether `term`'s words appear in a row in one of `columns` (the last one as a prefix for a
/// prefix term): FTS5's phrase match, column by column.
fn matches(columns: &[Vec<String>], term: &Term) -> bool {
    let n = term.words.len();
    columns.iter().any(|col| {
        col.windows(n).any(|win| {
            win.iter()
                .zip(&term.words)
                .enumerate()
                .all(|(i, (got, want))| {
                    if term.prefix && i + 1 == n {
                        got.starts_with(want.as_str())
                    } else {
                        got == want
                    }
                })
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Over a small corpus, each query finds exactly the live notes it describes: an excluded
    /// term is in no hit, every required term is in every hit, each hit holds at least one
    /// alternative of every `OR`, and no note that satisfies the query is missing (the limit is
    /// above the corpus size). Soft-deleted notes are never found.
    #[test]
    fn queries_find_exactly_the_notes_their_words_describe(
        notes in proptest::collection::vec(corpus_note(), 1..10),
        queries in proptest::collection::vec(query(), 1..8),
    ) {
        let store = SqliteStore::open_in_memory().expect("open");
        // Per note: its reference, the words of its two indexed columns, whether it is live.
        let mut corpus: Vec<(EntityRef, [Vec<String>; 2], bool)> = Vec::new();
        for (i, (text, deleted)) in notes.iter().enumerate() {
            let e = entity(&format!("note/n{i}"), text, T0);
            store.put(&e).expect("put");
            if *deleted {
                store.soft_delete(&e.entity_ref, T0).expect("soft delete");
            }
            corpus.push((e.entity_ref, [words(&e.title), words(&e.body)], !deleted));
        }
        for q in &queries {
            let mut search = SearchQuery::new(q.text.clone());
            search.limit = notes.len() + 5;
            let hits: Vec<EntityRef> =
                store.search(&search).expect("search").into_iter().map(|h| h.entity).collect();
            let found: BTreeSet<&EntityRef> = hits.iter().collect();
            prop_assert_eq!(found.len(), hits.len(), "{:?}: a note found twice", q.text);
            for (r, columns, live) in &corpus {
                let satisfies = q.excluded.iter().all(|t| !matches(columns, t))
                    && q.groups.iter().all(|g| g.iter().any(|t| matches(columns, t)));
                if !found.contains(r) {
                    prop_assert!(
                        !(*live && satisfies),
                        "{:?} misses {} ({:?})", q.text, r, columns
                    );
                    continue;
                }
                prop_assert!(*live, "{:?} found the deleted {}", q.text, r);
                for t in &q.excluded {
                    prop_assert!(
                        !matches(columns, t),
                        "{:?} found {} though it holds the excluded {:?} ({:?})",
                        q.text, r, t.typed, columns
                    );
                }
                for g in &q.groups {
                    prop_assert!(
                        g.iter().any(|t| matches(columns, t)),
                        "{:?} found {} though it holds none of {:?} ({:?})",
                        q.text, r, g.iter().map(|t| &t.typed).collect::<Vec<_>>(), columns
                    );
                }
            }
        }
    }
}
