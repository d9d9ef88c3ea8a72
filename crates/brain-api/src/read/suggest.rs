//! "Did you mean": the live note a caller most likely meant by an id that is not there, and
//! the refusal of a new id that carries the file's `.md`.
//!
//! Only on the error path, and bounded there: one lookup by id, one page of the same folder
//! from the path index, and one full-text query of the id's words. A miss never scans a vault
//! of 100,000 notes.

use brain_core::EntityRef;
use brain_core::path::{NOTE_TYPE, path_key, strip_md_extension};
use brain_store::{ListFilter, SearchQuery};

use crate::{Brain, BrainError, InvalidKind};

/// The most notes of the missing id's folder compared with it.
const FOLDER_PAGE: usize = 2_000;
/// The most full-text hits compared with it (the ones in other folders, or in another case).
const SEARCH_HITS: usize = 50;

impl Brain {
    /// The live note the caller most likely meant by `r`, which does not exist: the same id
    /// without `.md`; else one whose id differs only in case or Unicode form (two such paths
    /// are one file on macOS and Windows); else the closest id a few typos away, among the
    /// notes of the same type in its folder or found by the id's words. `None` when nothing
    /// stands out; store errors count as nothing (this only words an error).
    pub fn suggest(&self, r: &EntityRef) -> Option<EntityRef> {
        let store = self.store.as_ref();
        let wanted = match strip_md_extension(&r.id) {
            Some(stem) => {
                let bare = EntityRef::new(r.entity_type.clone(), stem);
                if store.get(&bare).is_ok() {
                    return Some(bare);
                }
                stem
            }
            None => r.id.as_str(),
        };
        let key = path_key(wanted);
        let mut candidates = self.same_folder(r, wanted);
        candidates.extend(self.same_words(r, wanted));
        let mut best: Option<(usize, EntityRef)> = None;
        for c in candidates {
            if c.entity_type != r.entity_type || c.id == r.id {
                continue;
            }
            let other = path_key(&c.id);
            if other == key {
                return Some(c);
            }
            let Some(d) = distance_within(&key, &other, typo_budget(&key)) else {
                continue;
            };
            if best.as_ref().is_none_or(|(b, e)| (d, &c.id) < (*b, &e.id)) {
                best = Some((d, c));
            }
        }
        best.map(|(_, c)| c)
    }

    /// Refuses to create a note whose id ends in `.md` (its file would be `NAME.md.md`),
    /// naming the id meant. A note that already has such an id (from a file really named
    /// `x.md.md`) may still be written.
    pub(crate) fn refuse_md_extension(&self, r: &EntityRef) -> Result<(), BrainError> {
        let Some(stem) = strip_md_extension(&r.id) else {
            return Ok(());
        };
        if self.store.get_any(r).is_ok() {
            return Ok(());
        }
        let file = if r.entity_type == NOTE_TYPE {
            format!("{}.md", r.id)
        } else {
            format!("{}/{}.md", r.entity_type, r.id)
        };
        Err(BrainError::Invalid {
            entity: r.to_string(),
            reason: format!(
                "the id ends in '{}', so its file would be '{file}': an id is the note's path \
                 without the extension; use {}/{stem}",
                r.id.get(stem.len()..).unwrap_or(".md"),
                r.entity_type
            ),
            kind: InvalidKind::UnsafeId,
        })
    }

    /// Live notes of `r`'s type in the folder `wanted` would be in (a page of the path index).
    fn same_folder(&self, r: &EntityRef, wanted: &str) -> Vec<EntityRef> {
        let parent = wanted.rsplit_once('/').map(|(p, _)| p);
        let folder = match (r.entity_type.as_str(), parent) {
            (NOTE_TYPE, p) => p.map(str::to_string),
            (t, Some(p)) => Some(format!("{t}/{p}")),
            (t, None) => Some(t.to_string()),
        };
        self.store
            .list(&ListFilter {
                entity_type: Some(r.entity_type.clone()),
                folder,
                limit: FOLDER_PAGE,
                ..ListFilter::default()
            })
            .map(|page| page.into_iter().map(|s| s.entity).collect())
            .unwrap_or_default()
    }

    /// Live notes of `r`'s type whose title or text has a word starting like one of the words
    /// of `wanted`'s last segment (the first three letters, so a typo later in the word still
    /// finds it).
    fn same_words(&self, r: &EntityRef, wanted: &str) -> Vec<EntityRef> {
        let name = wanted.rsplit('/').next().unwrap_or(wanted);
        let words: Vec<String> = name
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 2)
            .map(|w| {
                let prefix: String = w.chars().take(3).flat_map(char::to_lowercase).collect();
                format!("{prefix}*")
            })
            .collect();
        if words.is_empty() {
            return Vec::new();
        }
        let mut q = SearchQuery::new(words.join(" OR "));
        q.types = vec![r.entity_type.clone()];
        q.limit = SEARCH_HITS;
        self.store
            .search(&q)
            .map(|hits| hits.into_iter().map(|h| h.entity).collect())
            .unwrap_or_default()
    }
}

/// How many edits still make an id "the one meant": a third of its length, at least one and
/// at most four, so a short id is not matched to every other short id.
fn typo_budget(key: &str) -> usize {
    (key.chars().count() / 3).clamp(1, 4)
}

/// The edit distance (Levenshtein, in characters) between `a` and `b` if it is at most
/// `limit`; `None` beyond it, found without the full table when the lengths alone differ by
/// more.
fn distance_within(a: &str, b: &str, limit: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        let mut row_min = row[0];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let next = (prev + cost).min(row[j] + 1).min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
            row_min = row_min.min(next);
        }
        if row_min > limit {
            return None;
        }
    }
    let d = row[b.len()];
    (d <= limit).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_exact_within_the_limit_and_none_beyond() {
        assert_eq!(distance_within("welcome", "welcome", 2), Some(0));
        assert_eq!(distance_within("welcom", "welcome", 2), Some(1));
        assert_eq!(distance_within("wlecome", "welcome", 2), Some(2));
        assert_eq!(distance_within("kitten", "sitting", 3), Some(3));
        assert_eq!(distance_within("kitten", "sitting", 2), None);
        assert_eq!(distance_within("a", "abcdef", 2), None);
        assert_eq!(distance_within("日本", "日本語", 1), Some(1));
    }

    #[test]
    fn short_ids_allow_fewer_typos() {
        assert_eq!(typo_budget("ab"), 1);
        assert_eq!(typo_budget("welcome"), 2);
        assert_eq!(typo_budget(&"x".repeat(60)), 4);
    }
}
