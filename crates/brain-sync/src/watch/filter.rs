//! Which file events matter, and what each one asks for: the import of a note, a whole-vault
//! rescan (a folder appeared, `.brainignore` changed), a check whether a vanished path was a
//! folder holding notes, or nothing.
//!
//! The rules are the scanner's ([`crate::scan::IgnoreRules`]): dot segments (`.brain/` where
//! the database changes on every commit, `.git/`, `.obsidian/`, our own `.<name>.brain-tmp-<pid>-<n>`
//! files), Logseq's `logseq/` folder and `.brainignore` patterns are skipped, and only `.md`
//! files are notes. What the walk would not sync, the watcher does not report.

use std::io;
use std::path::{Component, Path};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind, RenameMode};
use notify::{Event, EventKind};

use brain_core::VaultLayout;

use crate::scan::IgnoreRules;

/// The name of a fence file in `.brain/` before its number (see [`EventFilter::fence`]).
pub use brain_core::layout::FENCE_PREFIX;

/// What one event path asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// A note (vault-relative, `/`-separated) to import, or to tombstone if it is gone.
    Note(String),
    /// A path that no longer exists and may have been a folder (deleted, moved away): if the
    /// store knows notes under it, the vault is rescanned; decided at flush.
    MaybeFolder(String),
    /// The whole vault must be rescanned, for this reason.
    Rescan(String),
}

/// What a path went through, from the event kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Its content or metadata changed.
    Changed,
    /// It was created or moved here.
    Appeared(Hint),
    /// It was deleted or moved away.
    Vanished(Hint),
}

/// What the event said the path was, if it said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hint {
    File,
    Folder,
    Unknown,
}

/// The paths of an event with what happened to each. Opens and reads are not changes (our own
/// sync reading a note must not come back as an event); a close after writing is, since it is
/// the moment a save ends.
fn roles(event: &Event) -> Vec<(&Path, Role)> {
    let one = |role| event.paths.first().map(|p| vec![(p.as_path(), role)]);
    let out = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => one(Role::Changed),
        EventKind::Access(_) | EventKind::Other => None,
        EventKind::Create(kind) => one(Role::Appeared(match kind {
            CreateKind::File => Hint::File,
            CreateKind::Folder => Hint::Folder,
            _ => Hint::Unknown,
        })),
        EventKind::Remove(kind) => one(Role::Vanished(match kind {
            RemoveKind::File => Hint::File,
            RemoveKind::Folder => Hint::Folder,
            _ => Hint::Unknown,
        })),
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => Some(
            event
                .paths
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let role = if i == 0 {
                        Role::Vanished(Hint::Unknown)
                    } else {
                        Role::Appeared(Hint::Unknown)
                    };
                    (p.as_path(), role)
                })
                .collect(),
        ),
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) => one(Role::Vanished(Hint::Unknown)),
        EventKind::Modify(ModifyKind::Name(_)) => one(Role::Appeared(Hint::Unknown)),
        EventKind::Modify(_) | EventKind::Any => one(Role::Changed),
    };
    out.unwrap_or_default()
}

/// Turns events into what they ask for, with the scanner's rules.
pub(crate) struct EventFilter {
    root: std::path::PathBuf,
    /// The vault's layout, for its fences.
    layout: VaultLayout,
    rules: IgnoreRules,
}

impl EventFilter {
    /// A filter for the vault at `root` (canonical, as the events carry it).
    pub(crate) fn new(root: &Path, skip_logseq_dir: bool) -> Self {
        Self {
            root: root.to_path_buf(),
            layout: VaultLayout::new(root),
            rules: IgnoreRules::new(root, skip_logseq_dir),
        }
    }

    /// Whether `event` says the vault folder itself was deleted or moved away: the watch on it
    /// is gone and must be set up again once it is back.
    pub(crate) fn root_lost(&self, event: &Event) -> bool {
        roles(event)
            .iter()
            .any(|(p, role)| *p == self.root && matches!(role, Role::Vanished(_)))
    }

    /// The highest fence number among `event`'s paths: `.brain/fence-N` is a file a caller
    /// (a test, a script) creates to learn when the watcher has taken in every change made
    /// before it. Events reach the collector in the order they happened, so once the fence's
    /// event is in, so are theirs. Fences are under `.brain/`, so they are never notes.
    pub(crate) fn fence(&self, event: &Event) -> Option<u64> {
        event
            .paths
            .iter()
            .filter_map(|p| self.layout.fence_number(p))
            .max()
    }

    /// What `event` asks for; ignored paths ask for nothing.
    pub(crate) fn classify(&mut self, event: &Event) -> Vec<Seen> {
        roles(event)
            .into_iter()
            .filter_map(|(path, role)| self.classify_path(path, role))
            .collect()
    }

    fn classify_path(&mut self, abs: &Path, role: Role) -> Option<Seen> {
        let rel = self.relative(abs)?;
        let name = rel.rsplit('/').next().unwrap_or(&rel);
        if name == ".brainignore" {
            let folder = rel.strip_suffix(".brainignore").unwrap_or("");
            let folder = folder.trim_end_matches('/');
            if !folder.is_empty() && self.rules.is_ignored(folder, true) {
                return None;
            }
            // What the walk covers changed: files it skipped may now be notes, and the other
            // way round. Only a whole scan can tell which.
            self.rules.forget();
            return Some(Seen::Rescan(format!("{rel} changed")));
        }
        if rel.split('/').any(|s| s.starts_with('.')) {
            return None;
        }
        let is_md = rel.ends_with(".md");
        match std::fs::symlink_metadata(abs) {
            Ok(meta) if meta.is_dir() => match role {
                // A folder's own times and permissions: its entries report themselves.
                Role::Changed => None,
                Role::Appeared(_) | Role::Vanished(_) => (!self.rules.is_ignored(&rel, true))
                    .then(|| Seen::Rescan(format!("folder {rel} appeared"))),
            },
            // A file, or a link (which the import reports as not followed).
            Ok(_) => (is_md && !self.rules.is_ignored(&rel, false)).then_some(Seen::Note(rel)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let hint = match role {
                    Role::Changed => Hint::File,
                    Role::Appeared(h) | Role::Vanished(h) => h,
                };
                match hint {
                    Hint::File | Hint::Unknown if is_md => {
                        (!self.rules.is_ignored(&rel, false)).then_some(Seen::Note(rel))
                    }
                    Hint::File => None,
                    Hint::Folder | Hint::Unknown => {
                        (!self.rules.is_ignored(&rel, true)).then_some(Seen::MaybeFolder(rel))
                    }
                }
            }
            // Present but not readable: the import says why, per file.
            Err(_) => (is_md && !self.rules.is_ignored(&rel, false)).then_some(Seen::Note(rel)),
        }
    }

    /// `abs` relative to the root with `/` separators; `None` for the root itself, paths
    /// outside it and names that are not UTF-8 (the walk reports those).
    fn relative(&self, abs: &Path) -> Option<String> {
        let rest = abs.strip_prefix(&self.root).ok()?;
        let mut rel = String::new();
        for c in rest.components() {
            let Component::Normal(part) = c else {
                return None;
            };
            let Some(part) = part.to_str() else {
                tracing::debug!(path = %abs.display(), "file name is not UTF-8; left to the scan");
                return None;
            };
            if !rel.is_empty() {
                rel.push('/');
            }
            rel.push_str(part);
        }
        (!rel.is_empty()).then_some(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;

    fn event(kind: EventKind, paths: &[PathBuf]) -> Event {
        let mut e = Event::new(kind);
        for p in paths {
            e = e.add_path(p.clone());
        }
        e
    }

    #[test]
    fn notes_folders_and_ignored_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for p in ["a.md", "b.txt", "drafts/d.md", "sub/c.md", ".obsidian/x.md"] {
            let p = root.join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "x").unwrap();
        }
        fs::write(root.join(".brainignore"), "drafts/\n").unwrap();
        let mut f = EventFilter::new(&root, true);
        let changed = EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Any));
        let seen =
            |f: &mut EventFilter, kind, rel: &str| f.classify(&event(kind, &[root.join(rel)]));

        assert_eq!(seen(&mut f, changed, "a.md"), [Seen::Note("a.md".into())]);
        assert_eq!(
            seen(&mut f, changed, "sub/c.md"),
            [Seen::Note("sub/c.md".into())]
        );
        assert!(seen(&mut f, changed, "b.txt").is_empty());
        assert!(seen(&mut f, changed, "drafts/d.md").is_empty());
        assert!(seen(&mut f, changed, ".obsidian/x.md").is_empty());
        assert!(seen(&mut f, changed, ".brain/brain.db").is_empty());
        assert!(seen(&mut f, changed, ".a.md.brain-tmp-42").is_empty());
        assert!(seen(&mut f, changed, "logseq/bak/x.md").is_empty());
        // Opening a note (our own import reading it) is not a change.
        let open = EventKind::Access(AccessKind::Open(AccessMode::Any));
        assert!(seen(&mut f, open, "a.md").is_empty());
        // A folder appearing is a rescan; one changing its own times is nothing.
        let created = EventKind::Create(CreateKind::Folder);
        assert!(matches!(
            seen(&mut f, created, "sub")[..],
            [Seen::Rescan(_)]
        ));
        assert!(seen(&mut f, changed, "sub").is_empty());
        assert!(seen(&mut f, created, "drafts").is_empty());
        // Gone: a note is a note, a file that was not one is nothing, anything else may have
        // been a folder.
        let removed = EventKind::Remove(RemoveKind::Any);
        assert_eq!(
            seen(&mut f, removed, "gone.md"),
            [Seen::Note("gone.md".into())]
        );
        let removed_file = EventKind::Remove(RemoveKind::File);
        assert!(seen(&mut f, removed_file, "gone.png").is_empty());
        assert_eq!(
            seen(&mut f, removed, "Old Folder"),
            [Seen::MaybeFolder("Old Folder".into())]
        );
        // .brainignore changes what the walk covers.
        assert!(matches!(
            seen(&mut f, changed, ".brainignore")[..],
            [Seen::Rescan(_)]
        ));
        assert!(seen(&mut f, changed, ".obsidian/.brainignore").is_empty());
    }

    #[test]
    fn fences_are_numbered_files_in_dot_brain_and_never_notes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let mut f = EventFilter::new(&root, false);
        let created = EventKind::Create(CreateKind::File);
        let ev = |rel: &str| event(created, &[root.join(rel)]);
        assert_eq!(f.fence(&ev(".brain/fence-7")), Some(7));
        assert!(f.classify(&ev(".brain/fence-7")).is_empty(), "not a note");
        assert_eq!(f.fence(&ev(".brain/fence-x")), None);
        assert_eq!(f.fence(&ev("fence-7")), None, "only under .brain/");
        assert_eq!(f.fence(&ev(".brain/sub/fence-7")), None);
        let both = event(
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            &[root.join(".brain/fence-3"), root.join(".brain/fence-9")],
        );
        assert_eq!(f.fence(&both), Some(9));
    }

    #[test]
    fn renames_give_both_paths_and_the_root_going_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        fs::write(root.join("new.md"), "x").unwrap();
        let mut f = EventFilter::new(&root, false);
        let rename = event(
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            &[root.join("old.md"), root.join("new.md")],
        );
        assert_eq!(
            f.classify(&rename),
            [Seen::Note("old.md".into()), Seen::Note("new.md".into())]
        );
        assert!(!f.root_lost(&rename));
        let gone = event(
            EventKind::Remove(RemoveKind::Folder),
            std::slice::from_ref(&root),
        );
        assert!(f.root_lost(&gone));
        assert!(f.classify(&gone).is_empty());
    }
}
