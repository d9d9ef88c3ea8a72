//! "Did you mean" for a folder typed in another letter case. `path:Projects` counts letter
//! case, so in a vault whose folder is `projects/` it selects nothing, and a person (or a
//! batch) told only "No matches" takes the folder for empty; `mv --to Archive` beside
//! `archive/` makes a second folder that macOS and Windows show as one. The hints name the
//! folder as the vault spells it.
//!
//! Only on those answers, and only when a folder does not exist as typed (one ranged lookup of
//! the path index per filter or `--to`): then every live note's path is read once (no text),
//! and compared segment by segment in a caseless, Unicode-normalized form.

use brain_core::path_key;
use brain_store::{LiveFile, SearchQuery};

use crate::Brain;

/// The most spellings named for one filter.
const SHOWN: usize = 3;

impl Brain {
    /// For a query that selected no note: the folders its `path:` filters name in another
    /// letter case (or Unicode form), as "`path:Projects` names nothing in the vault, which
    /// spells it `path:projects` (path: counts letter case)". `None` when the query has no
    /// such filter, when each filter's folder exists as typed (the words or other filters are
    /// what selected nothing), or when no folder matches in any case. Errors count as nothing:
    /// this only words an answer.
    pub fn path_case_hint(&self, query: &str) -> Option<String> {
        let (_, filters) = brain_store::search_query::split_filters(query).ok()?;
        let mut missing: Vec<&String> = Vec::new();
        for folder in &filters.paths {
            if !missing.contains(&folder) && !self.holds_path(folder) {
                missing.push(folder);
            }
        }
        if missing.is_empty() {
            return None;
        }
        let files = self.store.live_files().ok()?;
        let said: Vec<String> = missing
            .into_iter()
            .filter_map(|folder| {
                let spellings: Vec<String> = spellings(files.iter(), folder).into_iter().collect();
                (!spellings.is_empty()).then(|| {
                    let shown: Vec<String> =
                        spellings.iter().take(SHOWN).map(|s| filter(s)).collect();
                    format!(
                        "{} names nothing in the vault, which spells it {} ({})",
                        filter(folder),
                        shown.join(" or "),
                        how_they_differ(folder, &spellings[0])
                    )
                })
            })
            .collect();
        (!said.is_empty()).then(|| said.join("; "))
    }

    /// For a move of the notes at `moving` into `to`: the folder the vault already has that
    /// `to` (or a folder above it) differs from only in letter case, with `to` as the vault
    /// spells it. `None` when every folder of `to` is new or exists as typed, or when the
    /// folder spelt otherwise holds only notes of the move (a case rename).
    pub fn move_case_hint(&self, to: &str, moving: &[String]) -> Option<String> {
        let to = to.trim_matches('/');
        // The folder exists as typed, so every folder above it does: nothing to say, and no
        // need to read every path (a batch move asks this before it is queued).
        if self.holds_path(to) {
            return None;
        }
        let files = self.store.live_files().ok()?;
        let moving: std::collections::HashSet<&str> = moving.iter().map(String::as_str).collect();
        let others: Vec<&LiveFile> = files
            .iter()
            .filter(|f| !moving.contains(f.path.as_str()))
            .collect();
        let segments: Vec<&str> = to.split('/').collect();
        let mut spelt: Vec<String> = Vec::new();
        let mut first_twin = None;
        for (i, segment) in segments.iter().enumerate() {
            let mut candidate = spelt.clone();
            candidate.push((*segment).to_string());
            let typed = candidate.join("/");
            if others.iter().any(|f| in_folder(&f.path, &typed)) {
                spelt = candidate;
                continue;
            }
            let twin = spellings(others.iter().copied(), &typed)
                .into_iter()
                .find(|s| s != &typed && others.iter().any(|f| in_folder(&f.path, s)));
            match twin {
                Some(twin) => {
                    first_twin.get_or_insert((segments[..=i].join("/"), twin.clone()));
                    spelt = twin.split('/').map(str::to_string).collect();
                }
                None => {
                    spelt.extend(segments[i..].iter().map(|s| (*s).to_string()));
                    break;
                }
            }
        }
        let (typed, twin) = first_twin?;
        // Names that differ only in letter case are one folder on macOS and Windows; other
        // pairs (another Unicode form, ß for ss) only look alike.
        let alike = if typed.to_lowercase() == twin.to_lowercase() {
            "macOS and Windows show the two as one"
        } else {
            "the two look alike"
        };
        Some(format!(
            "the vault spells `{typed}` as `{twin}`: these notes would go to a new folder `{to}` \
             beside it ({alike}); to move them into the vault's folder, give it as `{}`",
            spelt.join("/")
        ))
    }

    /// Whether any live note is in `folder` or has that path, by the store's own `path:`
    /// filter: one ranged lookup.
    fn holds_path(&self, folder: &str) -> bool {
        let mut q = SearchQuery::new(String::new());
        q.paths = vec![folder.to_string()];
        q.limit = 1;
        // A store error reads as "there": no hint rather than a wrong one.
        self.store.search(&q).map_or(true, |hits| !hits.is_empty())
    }
}

/// The spellings in `files` of `typed` (a folder or a note's path) in another letter case or
/// Unicode form: the first segments of each path, compared by [`caseless`] segment by segment.
fn spellings<'a>(
    files: impl Iterator<Item = &'a LiveFile>,
    typed: &str,
) -> std::collections::BTreeSet<String> {
    let wanted: Vec<String> = typed.split('/').map(caseless).collect();
    let mut out = std::collections::BTreeSet::new();
    for f in files {
        let segments: Vec<&str> = f.path.split('/').collect();
        if segments.len() >= wanted.len()
            && segments.iter().zip(&wanted).all(|(s, w)| caseless(s) == *w)
        {
            let spelt = segments[..wanted.len()].join("/");
            if spelt != typed {
                out.insert(spelt);
            }
        }
    }
    out
}

/// A path segment as a person may type it: NFC, lower case ([`path_key`]), with the case
/// mappings `to_lowercase` leaves apart made one (final `ς` is `σ`, `ß` is `ss`, the dot
/// `İ` lowers to is dropped).
fn caseless(segment: &str) -> String {
    let key = path_key(segment);
    if key.is_ascii() {
        return key;
    }
    key.replace('ς', "σ")
        .replace('ß', "ss")
        .replace('\u{307}', "")
}

/// Why `typed` misses `spelt`, said in the hint: letter case, or the same letters stored in
/// another Unicode form (macOS writes accents as separate marks), or both.
fn how_they_differ(typed: &str, spelt: &str) -> &'static str {
    if brain_core::path::differs_only_in_unicode_form(typed, spelt) {
        "the same letters stored in another Unicode form, as macOS writes accents: copy the \
         spelling from here"
    } else if typed.to_lowercase() == spelt.to_lowercase() {
        "path: counts letter case"
    } else {
        "path: compares letters exactly: letter case, ß and ss, accents"
    }
}

/// `path:FOLDER` as it can be typed back: quoted when it holds a space.
fn filter(folder: &str) -> String {
    if folder.chars().any(char::is_whitespace) {
        format!("`path:\"{folder}\"`")
    } else {
        format!("`path:{folder}`")
    }
}

/// Whether `path` is a note inside `folder`.
fn in_folder(path: &str, folder: &str) -> bool {
    path.strip_prefix(folder)
        .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::{caseless, filter, how_they_differ, in_folder};

    #[test]
    fn the_hint_says_whether_case_or_unicode_form_differs() {
        assert_eq!(
            how_they_differ("Projects", "projects"),
            "path: counts letter case"
        );
        let nfd = "Re\u{301}sume\u{301}";
        assert!(how_they_differ("Résumé", nfd).contains("another Unicode form, as macOS"));
        assert!(how_they_differ("STRASSE", "Straße").contains("compares letters exactly"));
    }

    #[test]
    fn a_folder_holds_its_notes_only() {
        assert!(in_folder("projects/a.md", "projects"));
        assert!(!in_folder("projects-old/a.md", "projects"));
        assert!(!in_folder("Projects/a.md", "projects"));
    }

    #[test]
    fn spellings_people_type_compare_equal() {
        assert_eq!(caseless("Projects"), caseless("PROJECTS"));
        assert_eq!(caseless("ΟΔΟΣ"), caseless("οδος"));
        assert_eq!(caseless("İstanbul"), caseless("istanbul"));
        assert_eq!(caseless("Straße"), caseless("STRASSE"));
        assert_eq!(caseless("Re\u{301}sume\u{301}"), caseless("Résumé"));
        assert_ne!(caseless("proj"), caseless("projects"));
    }

    #[test]
    fn a_filter_with_a_space_is_quoted() {
        assert_eq!(filter("My Notes"), "`path:\"My Notes\"`");
        assert_eq!(filter("projects"), "`path:projects`");
    }
}
