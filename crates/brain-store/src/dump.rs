//! A whole store as data, for `brain store copy`: moving a vault's brain from one backend to
//! the other with nothing lost and nothing renumbered that a reader relies on.

use crate::{ChangeWhy, Conflict, Entity, FileBase};

/// Everything a store holds of a vault (the job queue and schedules are not part of it: the
/// queue is work in flight, and a daemon registers its schedules when it starts).
#[derive(Clone, Debug, Default)]
pub struct StoreDump {
    /// Every entity, live and soft-deleted, with its bookkeeping.
    pub entities: Vec<DumpedEntity>,
    /// The file bases of this store's vault folder.
    pub bases: Vec<FileBase>,
    /// Every conflict, open and resolved (ids kept: `brain conflicts show N` still works).
    pub conflicts: Vec<Conflict>,
    /// The change feed's end: a copy numbers its next change after it, so a reader holding a
    /// cursor of the old store misses nothing in the new one.
    pub change_cursor: u64,
}

/// One entity with what only the store knows of it.
#[derive(Clone, Debug, PartialEq)]
pub struct DumpedEntity {
    /// The entity, as `get_any` returns it.
    pub entity: Entity,
    /// Changed through an interface and not yet written to its file.
    pub dirty: bool,
    /// Its number in the change feed (`None`: never numbered, which a store never leaves).
    pub seq: Option<u64>,
    /// Its current version's number and what made it (history).
    pub version: u64,
    /// What made its current version, and why.
    pub why: ChangeWhy,
    /// The versions before it, oldest first, as the store keeps them.
    pub versions: Vec<KeptVersion>,
}

/// One earlier version of an entity as a store keeps it: its stored bytes
/// ([`crate::history::encode`] against the version after it) copy unchanged between backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptVersion {
    /// Its number.
    pub number: u64,
    /// Its file path then.
    pub path: String,
    /// Its content hash then.
    pub content_hash: String,
    /// Whether it was the note deleted.
    pub deleted: bool,
    /// When it was written, ms since the epoch.
    pub made_ms: i64,
    /// What made it, and why.
    pub why: ChangeWhy,
    /// Its text, stored against the next version's.
    pub stored: Vec<u8>,
}

impl StoreDump {
    /// What a copy is checked by: counts and one digest over every entity's reference, hash,
    /// liveness, dirty flag and feed number, every base and every conflict, in a fixed order.
    pub fn fingerprint(&self) -> DumpFingerprint {
        let mut entities: Vec<String> = self
            .entities
            .iter()
            .map(|d| {
                let versions: Vec<String> = d
                    .versions
                    .iter()
                    .map(|v| {
                        format!(
                            "{}:{}:{}:{}",
                            v.number,
                            v.content_hash,
                            v.why.source,
                            blake3::hash(&v.stored)
                        )
                    })
                    .collect();
                format!(
                    "{}\t{}\t{}\t{:?}\t{}\t{:?}\t{}\t{}\t{}\t{}",
                    d.entity.entity_ref,
                    d.entity.path,
                    d.entity.content_hash,
                    d.entity.deleted_ms,
                    d.dirty,
                    d.seq,
                    d.entity.created_ms,
                    d.entity.updated_ms,
                    d.version,
                    versions.join(",")
                )
            })
            .collect();
        entities.sort();
        let mut bases: Vec<String> = self
            .bases
            .iter()
            .map(|b| format!("{}\t{}\t{:?}\t{}", b.path, b.hash, b.stat, b.entity))
            .collect();
        bases.sort();
        let mut conflicts: Vec<String> = self
            .conflicts
            .iter()
            .map(|c| format!("{}\t{:?}\t{}\t{:?}", c.id, c.kind, c.path, c.resolved_ms))
            .collect();
        conflicts.sort();
        let mut hasher = blake3::Hasher::new();
        for line in entities.iter().chain(&bases).chain(&conflicts) {
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
        hasher.update(self.change_cursor.to_string().as_bytes());
        DumpFingerprint {
            live: self
                .entities
                .iter()
                .filter(|d| d.entity.deleted_ms.is_none())
                .count(),
            deleted: self
                .entities
                .iter()
                .filter(|d| d.entity.deleted_ms.is_some())
                .count(),
            bases: self.bases.len(),
            conflicts: self.conflicts.len(),
            change_cursor: self.change_cursor,
            digest: hasher.finalize().to_hex().to_string(),
        }
    }
}

/// Counts and a digest of a [`StoreDump`]: two stores with equal fingerprints hold the same
/// brain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DumpFingerprint {
    /// Live entities.
    pub live: usize,
    /// Soft-deleted entities.
    pub deleted: usize,
    /// File bases.
    pub bases: usize,
    /// Conflicts.
    pub conflicts: usize,
    /// The change feed's end.
    pub change_cursor: u64,
    /// BLAKE3 over everything above, entity by entity.
    pub digest: String,
}
