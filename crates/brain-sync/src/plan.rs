//! The three-way decision: what to do with one path given its base, its file and its entity.
//!
//! Pure and total, so the rules that make sync never lose a note are checked here, over every
//! combination of base, file and entity, rather than discovered in a vault: a file that changed
//! is never overwritten or trashed, and an entity that changed is never dropped.

/// The file on disk, as far as the scan knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskSide<'a> {
    /// No file at this path.
    Missing,
    /// Size and mtime equal the base: taken as unchanged without reading.
    SameAsBase,
    /// Read and hashed.
    Read(&'a str),
}

/// The entity, as far as the dirty set knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreSide<'a> {
    /// Not changed through an interface since the last sync (or no entity at all).
    Clean,
    /// Changed; its content now has this hash.
    Changed(&'a str),
    /// Soft-deleted through an interface.
    Deleted,
}

/// What the engine does for one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do.
    Nothing,
    /// The file's content becomes the entity.
    Import,
    /// The entity's content is written to the file.
    Export,
    /// The entity was deleted: move its file to the trash.
    Trash,
    /// The file was deleted: soft-delete the entity.
    Tombstone,
    /// File and entity agree (a touch, or both sides wrote the same bytes): record the base.
    AdoptBase,
    /// Both are gone: forget the base.
    DropBase,
    /// Both changed, differently: settle by the conflict policy, keeping both.
    Conflict,
    /// The file was deleted but the entity changed: write the entity back, record a conflict.
    RestoreFile,
    /// The entity was deleted but the file changed: import the file again, record a conflict.
    ReviveFromFile,
}

/// Decides one path. `base` is the hash of the last synced state, if there is one.
pub fn decide(base: Option<&str>, disk: DiskSide<'_>, store: StoreSide<'_>) -> Action {
    use Action::*;
    match (base, disk, store) {
        // Never synced.
        (None, DiskSide::Missing, StoreSide::Clean) => Nothing,
        (None, DiskSide::Missing, StoreSide::Changed(_)) => Export,
        (None, DiskSide::Missing, StoreSide::Deleted) => DropBase,
        // A file with no base cannot be "same as base": the caller reads it. Should one come
        // unread anyway, its content is unknown, so nothing may overwrite or trash it, and a
        // changed entity must not be dropped either: only keeping both is safe.
        (None, DiskSide::SameAsBase, StoreSide::Changed(_)) => Conflict,
        (None, DiskSide::SameAsBase, StoreSide::Clean | StoreSide::Deleted) => Nothing,
        (None, DiskSide::Read(_), StoreSide::Clean) => Import,
        // A file this folder never synced, of a note deleted in the store: brought back, and
        // said to be (a copy with the deleted text itself is trashed before this is asked).
        (None, DiskSide::Read(_), StoreSide::Deleted) => ReviveFromFile,
        (None, DiskSide::Read(h), StoreSide::Changed(e)) => {
            if h == e {
                AdoptBase
            } else {
                Conflict
            }
        }
        // File gone since the last sync.
        (Some(_), DiskSide::Missing, StoreSide::Clean) => Tombstone,
        (Some(b), DiskSide::Missing, StoreSide::Changed(e)) => {
            if e == b {
                Tombstone
            } else {
                RestoreFile
            }
        }
        (Some(_), DiskSide::Missing, StoreSide::Deleted) => DropBase,
        // File unchanged (by stat, or read and equal to the base).
        (Some(_), DiskSide::SameAsBase, StoreSide::Clean) => Nothing,
        (Some(b), DiskSide::Read(h), StoreSide::Clean) if h == b => AdoptBase,
        (Some(b), DiskSide::SameAsBase, StoreSide::Changed(e)) => {
            if e == b {
                AdoptBase
            } else {
                Export
            }
        }
        (Some(b), DiskSide::Read(h), StoreSide::Changed(e)) if h == b => {
            if e == b {
                AdoptBase
            } else {
                Export
            }
        }
        (Some(_), DiskSide::SameAsBase, StoreSide::Deleted) => Trash,
        (Some(b), DiskSide::Read(h), StoreSide::Deleted) if h == b => Trash,
        // File changed since the last sync.
        (Some(_), DiskSide::Read(_), StoreSide::Clean) => Import,
        (Some(_), DiskSide::Read(h), StoreSide::Changed(e)) => {
            if h == e {
                AdoptBase
            } else {
                Conflict
            }
        }
        (Some(_), DiskSide::Read(_), StoreSide::Deleted) => ReviveFromFile,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three hashes are enough to give the base, the file and the entity every pattern of
    /// equality there is (all equal, any two equal, all three different).
    const HASHES: [&str; 3] = ["a", "b", "c"];

    #[derive(Clone, Copy, Debug)]
    enum D {
        Missing,
        Same,
        Read(&'static str),
    }
    #[derive(Clone, Copy, Debug)]
    enum S {
        Clean,
        Changed(&'static str),
        Deleted,
    }

    /// Every (base, disk, store) combination over [`HASHES`]: 4 × 5 × 5 = 100 of them, each
    /// checked every run rather than sampled.
    fn every_case() -> Vec<(Option<&'static str>, D, S)> {
        let bases = std::iter::once(None).chain(HASHES.map(Some));
        let disks = [D::Missing, D::Same].into_iter().chain(HASHES.map(D::Read));
        let stores = [S::Clean, S::Deleted]
            .into_iter()
            .chain(HASHES.map(S::Changed));
        let mut cases = Vec::new();
        for base in bases {
            for d in disks.clone() {
                for s in stores.clone() {
                    cases.push((base, d, s));
                }
            }
        }
        cases
    }

    fn run(base: Option<&str>, d: D, s: S) -> Action {
        let disk = match d {
            D::Missing => DiskSide::Missing,
            D::Same => DiskSide::SameAsBase,
            D::Read(h) => DiskSide::Read(h),
        };
        let store = match s {
            S::Clean => StoreSide::Clean,
            S::Changed(h) => StoreSide::Changed(h),
            S::Deleted => StoreSide::Deleted,
        };
        decide(base, disk, store)
    }

    #[test]
    fn the_enumeration_is_complete() {
        let cases = every_case();
        assert_eq!(cases.len(), 100);
        // The case sampling used to miss a third of the time: base, file and entity all differ.
        assert!(
            cases
                .iter()
                .any(|c| matches!(c, (Some("a"), D::Read("b"), S::Changed("c"))))
        );
    }

    /// A file whose content differs from the base is never overwritten or trashed: it is
    /// imported, found equal to the entity, or kept through a conflict.
    #[test]
    fn changed_file_is_never_lost() {
        for (base, d, s) in every_case() {
            let a = run(base, d, s);
            if let D::Read(h) = d
                && base != Some(h)
            {
                assert!(
                    matches!(
                        a,
                        Action::Import
                            | Action::AdoptBase
                            | Action::Conflict
                            | Action::ReviveFromFile
                    ),
                    "{base:?} {d:?} {s:?} -> {a:?}"
                );
                if a == Action::AdoptBase {
                    assert!(
                        matches!(s, S::Changed(e) if e == h),
                        "{base:?} {d:?} {s:?} -> {a:?}"
                    );
                }
            }
        }
    }

    /// A file that was not read and has no base to stand for its content is unknown: nothing
    /// writes over it or moves it to the trash.
    #[test]
    fn unknown_file_is_never_overwritten() {
        for (base, d, s) in every_case() {
            let a = run(base, d, s);
            if base.is_none() && matches!(d, D::Same) {
                assert!(
                    !matches!(a, Action::Export | Action::Trash | Action::RestoreFile),
                    "{base:?} {d:?} {s:?} -> {a:?}"
                );
            }
        }
    }

    /// An entity changed through an interface is never dropped: it is written out, equal to
    /// the file already, or kept through a conflict. No combination is exempt.
    #[test]
    fn changed_entity_is_never_lost() {
        for (base, d, s) in every_case() {
            let a = run(base, d, s);
            if let S::Changed(e) = s
                && base != Some(e)
            {
                let file_equal = matches!(d, D::Read(h) if h == e);
                assert!(
                    file_equal
                        || matches!(a, Action::Export | Action::Conflict | Action::RestoreFile),
                    "{base:?} {d:?} {s:?} -> {a:?}"
                );
            }
        }
    }

    /// A trash or tombstone only follows a delete on the other side with no change on this one.
    #[test]
    fn deletes_only_follow_deletes() {
        for (base, d, s) in every_case() {
            let a = run(base, d, s);
            let why = format!("{base:?} {d:?} {s:?} -> {a:?}");
            if a == Action::Trash {
                assert!(matches!(s, S::Deleted), "{why}");
                assert!(
                    matches!(d, D::Same) || matches!(d, D::Read(h) if Some(h) == base),
                    "{why}"
                );
            }
            if a == Action::Tombstone {
                assert!(matches!(d, D::Missing), "{why}");
                assert!(
                    matches!(s, S::Clean) || matches!(s, S::Changed(e) if Some(e) == base),
                    "{why}"
                );
            }
        }
    }

    /// Liveness, beside the safety rules above: what changed on one side only is carried to
    /// the other, a conflict is raised only where both sides changed to different content,
    /// and a path where nothing changed does nothing. Each rule must meet at least one of the
    /// 100 cases, so none holds vacuously.
    #[test]
    fn one_sided_changes_are_carried_over_and_quiet_paths_stay_quiet() {
        let mut met = [0usize; 6];
        for (base, d, s) in every_case() {
            let a = run(base, d, s);
            let why = format!("{base:?} {d:?} {s:?} -> {a:?}");
            // The file is known to be as the base left it (unchanged, or never there).
            let file_unchanged = match d {
                D::Same => base.is_some(),
                D::Read(h) => base == Some(h),
                D::Missing => base.is_none(),
            };
            let file_changed = matches!(d, D::Read(h) if base != Some(h));
            let entity_changed = matches!(s, S::Changed(e) if base != Some(e));
            // Only the file changed (new or edited content): imported.
            if file_changed && matches!(s, S::Clean) {
                met[0] += 1;
                assert_eq!(a, Action::Import, "{why}");
            }
            // Only the entity changed: exported.
            if entity_changed && file_unchanged {
                met[1] += 1;
                assert_eq!(a, Action::Export, "{why}");
            }
            // Only the file was deleted: the entity is tombstoned. Only the entity was: the
            // file goes to the trash.
            if base.is_some() && matches!(d, D::Missing) && matches!(s, S::Clean) {
                met[2] += 1;
                assert_eq!(a, Action::Tombstone, "{why}");
            }
            if base.is_some() && file_unchanged && matches!(s, S::Deleted) {
                met[3] += 1;
                assert_eq!(a, Action::Trash, "{why}");
            }
            // Nothing changed: nothing done (a file read equal to its base only has its base
            // recorded again).
            if file_unchanged && matches!(s, S::Clean) {
                met[4] += 1;
                let quiet = if matches!(d, D::Read(_)) {
                    Action::AdoptBase
                } else {
                    Action::Nothing
                };
                assert_eq!(a, quiet, "{why}");
            }
            // A conflict only where the entity changed and the file is not known to hold the
            // same content: changed to something else, or unknown (no base, not read).
            if a == Action::Conflict {
                met[5] += 1;
                let S::Changed(e) = s else {
                    panic!("a conflict without a changed entity: {why}");
                };
                let file_differs = match d {
                    D::Read(h) => h != e && base != Some(h),
                    D::Same => base.is_none(),
                    D::Missing => false,
                };
                assert!(file_differs, "{why}");
            }
        }
        assert!(met.iter().all(|&n| n > 0), "a rule met no case: {met:?}");
    }

    #[test]
    fn quiet_paths_do_nothing() {
        assert_eq!(
            decide(Some("a"), DiskSide::SameAsBase, StoreSide::Clean),
            Action::Nothing
        );
        assert_eq!(
            decide(Some("a"), DiskSide::Read("a"), StoreSide::Clean),
            Action::AdoptBase
        );
        assert_eq!(
            decide(None, DiskSide::Read("a"), StoreSide::Clean),
            Action::Import
        );
        assert_eq!(
            decide(Some("a"), DiskSide::Read("b"), StoreSide::Changed("c")),
            Action::Conflict
        );
    }
}
