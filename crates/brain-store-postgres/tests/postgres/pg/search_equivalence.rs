//! The same query finds the same notes on SQLite (FTS5) and PostgreSQL (tsvector): every
//! match, not the top ten, over a generated vault with broken files (`--adversarial`) and
//! non-ASCII titles, for words, prefixes, phrases, exclusions, alternatives, diacritics, CJK
//! and Hangul words, type and tag filters. The remaining differences are ranking (BM25 against
//! `ts_rank`) and the `tsvector` limits `tokens.rs` lists.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use brain_store::conformance::{T0, entity};
use brain_store::{Backend, SearchQuery, Store};

fn gen_vault_script() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|d| d.join("shared/bench/gen_vault.py"))
        .find(|p| p.is_file())
        .expect("shared/bench/gen_vault.py not found above the repo")
}

/// The notes of a generated adversarial vault as entities: every readable UTF-8 note whose
/// text parses, under `note/<path without .md>`.
fn vault_entities(notes: usize) -> Vec<brain_core::Entity> {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("vault");
    let status = std::process::Command::new("python3")
        .arg(gen_vault_script())
        .args([
            "--notes",
            &notes.to_string(),
            "--seed",
            "17",
            "--adversarial",
        ])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run gen_vault.py");
    assert!(status.success(), "gen_vault.py failed");
    let mut found = Vec::new();
    let mut todo = vec![out.clone()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                todo.push(p);
            } else if ft.is_file() && p.extension().is_some_and(|x| x == "md") {
                found.push(p);
            }
        }
    }
    found.sort();
    let mut entities = Vec::new();
    for p in found {
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        let rel = p
            .strip_prefix(&out)
            .expect("inside")
            .to_string_lossy()
            .to_string();
        let id = rel.trim_end_matches(".md");
        if id.starts_with('.') || id.contains("/.") {
            continue;
        }
        let r = format!("note/{id}");
        if r.parse::<brain_core::EntityRef>().is_err()
            || brain_core::Document::parse(&text).is_err()
        {
            continue;
        }
        entities.push(entity(&r, &text, T0));
    }
    entities
}

fn hits(store: &dyn Backend, q: &SearchQuery) -> Result<BTreeSet<String>, String> {
    store
        .search(q)
        .map(|hits| hits.into_iter().map(|h| h.entity.to_string()).collect())
        .map_err(|e| e.to_string())
}

#[test]
fn the_same_queries_find_the_same_notes_on_both_backends() {
    let entities = vault_entities(400);
    assert!(entities.len() > 300, "only {} notes read", entities.len());
    let sqlite = brain_store_sqlite::testing::in_memory().expect("sqlite");
    let pg = brain_store_postgres::testing::fresh();
    let mut stored = 0;
    for e in &entities {
        // A path colliding by case is refused by both alike; the rest is stored in both.
        let a = sqlite.put(e).is_ok();
        let b = pg.put(e).is_ok();
        assert_eq!(a, b, "{} stored on one backend only", e.entity_ref);
        stored += usize::from(a);
    }
    // The words of the vault, most frequent first: queries are made of real words.
    let mut counts: HashMap<String, usize> = HashMap::new();
    for e in &entities {
        for w in e.body.split_whitespace() {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric());
            if w.chars().count() >= 3 {
                *counts.entry(w.to_string()).or_default() += 1;
            }
        }
    }
    let mut words: Vec<(String, usize)> = counts.into_iter().collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let common: Vec<&str> = words.iter().take(12).map(|(w, _)| w.as_str()).collect();
    let rare: Vec<&str> = words
        .iter()
        .rev()
        .take(8)
        .map(|(w, _)| w.as_str())
        .collect();
    let non_ascii: Vec<&str> = words
        .iter()
        .filter(|(w, _)| !w.is_ascii())
        .take(10)
        .map(|(w, _)| w.as_str())
        .collect();
    let mut queries: Vec<String> = Vec::new();
    queries.extend(common.iter().map(|w| w.to_string()));
    queries.extend(rare.iter().map(|w| w.to_string()));
    queries.extend(non_ascii.iter().map(|w| w.to_string()));
    for w in common.iter().take(6) {
        let prefix: String = w.chars().take(3).collect();
        queries.push(format!("{prefix}*"));
        queries.push(format!("\"{w}\""));
    }
    for pair in common.windows(2).take(5) {
        queries.push(format!("{} {}", pair[0], pair[1]));
        queries.push(format!("{} OR {}", pair[0], pair[1]));
        queries.push(format!("{} -{}", pair[0], pair[1]));
        queries.push(format!("-{}", pair[1]));
    }
    // Phrases as they stand in notes: two and three adjacent words of a few bodies.
    for e in entities.iter().step_by(37).take(8) {
        let ws: Vec<&str> = e
            .body
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
            .filter(|w| !w.is_empty())
            .collect();
        if ws.len() >= 3 {
            queries.push(format!("\"{} {}\"", ws[0], ws[1]));
            queries.push(format!("\"{} {} {}\"", ws[0], ws[1], ws[2]));
            queries.push(format!(
                "\"{} {}*\"",
                ws[0],
                ws[1].chars().take(2).collect::<String>()
            ));
        }
    }
    // Diacritics and case fold alike; scripts without spaces; punctuation inside words.
    queries.extend(
        [
            "Straße",
            "strasse",
            "señor",
            "senor",
            "résumé",
            "RESUME",
            "crème",
            "creme",
            "año",
            "数据库",
            "노트",
            "東京の会議メモ",
            "über",
            "UBER",
            "niño",
            "café",
            "x-ray",
            "e-mail",
            "foo.bar",
            "2023",
            "c++",
            "don't",
        ]
        .map(str::to_string),
    );
    let mut compared = 0;
    let mut differences = Vec::new();
    for text in &queries {
        for (types, tags) in [
            (vec![], vec![]),
            (vec!["note".to_string()], vec![]),
            (vec![], vec!["project".to_string()]),
        ] {
            let mut q = SearchQuery::new(text.clone());
            q.limit = 0;
            q.snippets = false;
            q.types = types;
            q.tags = tags;
            let (a, b) = match (hits(sqlite.as_ref(), &q), hits(&pg, &q)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(_), Err(_)) => continue,
                (a, b) => panic!("{text:?}: one backend failed: {a:?} / {b:?}"),
            };
            compared += 1;
            if a != b {
                differences.push(format!(
                    "{text:?} (types {:?}, tags {:?}): only SQLite {:?}, only PostgreSQL {:?}",
                    q.types,
                    q.tags,
                    a.difference(&b).take(3).collect::<Vec<_>>(),
                    b.difference(&a).take(3).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(
        compared > 150,
        "only {compared} queries compared over {stored} notes"
    );
    assert!(
        differences.is_empty(),
        "{} of {compared} queries differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
