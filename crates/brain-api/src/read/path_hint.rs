//! "Did you mean" for a `path:` filter: `path:Projects` counts letter case, so in a vault
//! whose folder is `projects/` it selects nothing, and a person (or a batch) told only
//! "No matches" takes the folder for empty. The hint names the folder as the vault spells it.
//!
//! Only when a query selected nothing: it reads every live note's path (no text), which is
//! one indexed scan of a column, not a search.

use std::collections::BTreeSet;

use crate::Brain;

/// The most spellings named for one filter.
const SHOWN: usize = 3;

impl Brain {
    /// For a query that selected no note: the folders its `path:` filters name in another
    /// letter case, as "`path:Projects` selects no note, but `path:projects` would (path:
    /// counts letter case)". `None` when the query has no such filter, when a filter's folder
    /// exists as typed (the words or other filters are what selected nothing), or when no
    /// folder matches in any case. Errors count as nothing: this only words an answer.
    pub fn path_case_hint(&self, query: &str) -> Option<String> {
        let (_, filters) = brain_store::search_query::split_filters(query).ok()?;
        if filters.paths.is_empty() {
            return None;
        }
        let files = self.store.live_files().ok()?;
        let mut said = Vec::new();
        for folder in &filters.paths {
            if files.iter().any(|f| under(&f.path, folder)) {
                continue;
            }
            let wanted = folder.to_lowercase();
            let chars = folder.chars().count();
            let mut spellings = BTreeSet::new();
            for f in &files {
                let head: String = f.path.chars().take(chars).collect();
                let rest = &f.path[head.len()..];
                if head.to_lowercase() == wanted && (rest.is_empty() || rest.starts_with('/')) {
                    spellings.insert(head);
                }
            }
            if spellings.is_empty() {
                continue;
            }
            let shown: Vec<String> = spellings
                .iter()
                .take(SHOWN)
                .map(|s| format!("`path:{s}`"))
                .collect();
            said.push(format!(
                "`path:{folder}` selects no note, but {} would (path: counts letter case)",
                shown.join(" or ")
            ));
        }
        (!said.is_empty()).then(|| said.join("; "))
    }

    /// For a move into `to`: the folder the vault already has that `to` (or a folder above
    /// it) differs from only in letter case, as "`Archive` is not `archive`: ...". A person who
    /// typed `Archive/2026` next to `archive/` gets a second folder, which macOS and Windows
    /// then show as one. `None` when every folder of `to` is new or exists as typed.
    pub fn move_case_hint(&self, to: &str) -> Option<String> {
        let to = to.trim_matches('/');
        let files = self.store.live_files().ok()?;
        let mut typed = String::new();
        for segment in to.split('/') {
            if !typed.is_empty() {
                typed.push('/');
            }
            typed.push_str(segment);
            if files.iter().any(|f| in_folder(&f.path, &typed)) {
                continue;
            }
            let wanted = typed.to_lowercase();
            let chars = typed.chars().count();
            let twin = files.iter().find_map(|f| {
                let head: String = f.path.chars().take(chars).collect();
                (head.to_lowercase() == wanted && f.path[head.len()..].starts_with('/'))
                    .then_some(head)
            })?;
            return Some(format!(
                "the vault has a folder `{twin}`, and `{typed}` differs from it only in letter \
                 case: the notes go to a new folder `{to}` beside it (macOS and Windows show the \
                 two as one); to move them into it, give the folder as `{twin}{}`",
                &to[typed.len()..]
            ));
        }
        None
    }
}

/// Whether `path` is a note inside `folder`.
fn in_folder(path: &str, folder: &str) -> bool {
    path.strip_prefix(folder)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether `path` is in `folder` or is that note's own path, as the stores' `path:` filter
/// takes it.
fn under(path: &str, folder: &str) -> bool {
    path == folder || in_folder(path, folder)
}

#[cfg(test)]
mod tests {
    use super::under;

    #[test]
    fn a_folder_holds_its_notes_and_a_path_is_its_own() {
        assert!(under("projects/a.md", "projects"));
        assert!(under("projects/a.md", "projects/a.md"));
        assert!(!under("projects-old/a.md", "projects"));
        assert!(!under("Projects/a.md", "projects"));
    }
}
