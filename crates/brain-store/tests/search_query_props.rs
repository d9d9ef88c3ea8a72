//! Whatever a person types, the translated query is valid FTS5: it may find nothing, but it
//! never makes SQLite report a syntax error.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use brain_store::search_query::{FtsQuery, parse, to_fts5};
use proptest::prelude::*;
use rusqlite::Connection;

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
