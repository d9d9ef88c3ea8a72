//! The three-way decision: what to do with one path given its base, its file and its entity.
//!
//! Pure and total, so the rules that make sync never lose a note are property-tested here
//! rather than discovered in a vault: a file that changed is never overwritten or trashed, and
//! an entity that changed is never dropped.

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
        // A file with no base cannot be "same as base"; the caller reads it. Be safe anyway.
        (None, DiskSide::SameAsBase, _) => Nothing,
        (None, DiskSide::Read(_), StoreSide::Clean | StoreSide::Deleted) => Import,
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
    use proptest::prelude::*;

    fn hash() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("c".to_string())
        ]
    }

    #[derive(Clone, Debug)]
    enum D {
        Missing,
        Same,
        Read(String),
    }
    #[derive(Clone, Debug)]
    enum S {
        Clean,
        Changed(String),
        Deleted,
    }

    fn case() -> impl Strategy<Value = (Option<String>, D, S)> {
        (
            proptest::option::of(hash()),
            prop_oneof![Just(D::Missing), Just(D::Same), hash().prop_map(D::Read)],
            prop_oneof![
                Just(S::Clean),
                Just(S::Deleted),
                hash().prop_map(S::Changed)
            ],
        )
    }

    fn run(base: &Option<String>, d: &D, s: &S) -> Action {
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
        decide(base.as_deref(), disk, store)
    }

    proptest! {
        /// A file whose content differs from the base is never overwritten or trashed: it is
        /// imported, found equal to the entity, or kept through a conflict.
        #[test]
        fn changed_file_is_never_lost((base, d, s) in case()) {
            let a = run(&base, &d, &s);
            if let D::Read(h) = &d
                && base.as_deref() != Some(h.as_str())
            {
                prop_assert!(
                    matches!(a, Action::Import | Action::AdoptBase | Action::Conflict | Action::ReviveFromFile),
                    "{base:?} {d:?} {s:?} -> {a:?}"
                );
                if a == Action::AdoptBase {
                    prop_assert!(matches!(&s, S::Changed(e) if e == h));
                }
            }
        }

        /// An entity changed through an interface is never dropped: it is written out, equal to
        /// the file already, or kept through a conflict.
        #[test]
        fn changed_entity_is_never_lost((base, d, s) in case()) {
            let a = run(&base, &d, &s);
            if let S::Changed(e) = &s
                && base.as_deref() != Some(e.as_str())
            {
                let file_equal = matches!(&d, D::Read(h) if h == e);
                prop_assert!(
                    file_equal || matches!(a, Action::Export | Action::Conflict | Action::RestoreFile)
                        || (base.is_none() && matches!(d, D::Same)),
                    "{base:?} {d:?} {s:?} -> {a:?}"
                );
            }
        }

        /// A trash or tombstone only follows a delete on the other side with no change on this one.
        #[test]
        fn deletes_only_follow_deletes((base, d, s) in case()) {
            let a = run(&base, &d, &s);
            if a == Action::Trash {
                prop_assert!(matches!(s, S::Deleted));
                prop_assert!(matches!(&d, D::Same) || matches!(&d, D::Read(h) if Some(h) == base.as_ref()));
            }
            if a == Action::Tombstone {
                prop_assert!(matches!(d, D::Missing));
                prop_assert!(matches!(&s, S::Clean) || matches!(&s, S::Changed(e) if Some(e) == base.as_ref()));
            }
        }
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
