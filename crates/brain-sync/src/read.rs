//! Reading changed files in parallel while the caller writes to the store.
//!
//! Reader threads open, check, hash and parse files and hand finished entities over a bounded
//! channel; the caller's thread applies them. Reading and parsing overlap with the single store
//! writer, and the bounded channel keeps memory flat however large the vault is.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;

use brain_core::codec::decode;
use brain_core::time::system_time_ms;
use brain_core::{Document, Entity, PathMapper, content_hash, logseq};
use brain_store::FileStat;

use crate::scan::{DiskFile, stat_of};

/// The reason a file listed by the scan and gone before it was read (or while it was) is
/// skipped: the next sync sees it missing and handles the delete.
const REMOVED_DURING_SYNC: &str = "removed during the sync; it will be handled next time";

/// Turns file text into entities the way this vault wants (type folders, Logseq names).
#[derive(Clone, Debug)]
pub struct EntityBuilder {
    /// Path ⇄ reference mapping.
    pub mapper: PathMapper,
    /// Whether file names use Logseq's namespace escaping.
    pub logseq: bool,
    /// Files larger than this are refused.
    pub max_file_bytes: u64,
}

/// A file read and parsed.
#[derive(Clone, Debug)]
pub struct ReadNote {
    /// The entity it holds.
    pub entity: Entity,
    /// Its stat when read (stable across the read).
    pub stat: FileStat,
}

impl EntityBuilder {
    /// Builds the entity for `text` found at `rel_path`.
    pub fn entity(
        &self,
        rel_path: &str,
        text: &str,
        created_ms: i64,
        updated_ms: i64,
    ) -> Result<Entity, String> {
        let entity_ref = self.mapper.to_ref(rel_path).map_err(|e| e.to_string())?;
        let doc = Document::parse(text).map_err(|e| e.to_string())?;
        let file_name = rel_path.rsplit('/').next().unwrap_or(rel_path);
        let stem = file_name.strip_suffix(".md").unwrap_or(file_name);
        let stem = if self.logseq {
            logseq::unescape_file_stem(stem)
        } else {
            stem.to_string()
        };
        Ok(Entity {
            entity_ref,
            path: rel_path.to_string(),
            title: doc.title(&stem),
            tags: doc.tags(),
            metadata: doc.metadata,
            content_hash: content_hash(text.as_bytes()),
            frontmatter: doc.frontmatter,
            body: doc.body,
            created_ms,
            updated_ms,
            deleted_ms: None,
        })
    }

    fn too_large(&self, size: u64) -> String {
        format!(
            "file is {size} bytes, over the limit of {} bytes (sync.max_file_bytes); it is left as it is",
            self.max_file_bytes
        )
    }

    /// Reads, checks and parses one file. Errors are reasons for the sync report.
    pub fn read(&self, root: &Path, rel_path: &str) -> Result<ReadNote, String> {
        let full = root.join(rel_path);
        // The scan listed a regular file, but it may have been replaced since: a named pipe
        // must never be opened (that blocks until someone writes into it).
        if let Ok(meta) = std::fs::symlink_metadata(&full)
            && let Some(kind) = crate::fsio::special_kind(&meta.file_type())
        {
            return Err(format!(
                "{kind}, not a regular file: never opened (opening a pipe or device can block); remove or rename it"
            ));
        }
        let mut f = File::open(&full).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => REMOVED_DURING_SYNC.to_string(),
            std::io::ErrorKind::PermissionDenied => {
                "cannot read: permission denied; fix its permissions and sync again".to_string()
            }
            _ => format!("cannot read: {e}"),
        })?;
        let before = f.metadata().map_err(|e| format!("cannot stat: {e}"))?;
        if before.len() > self.max_file_bytes {
            return Err(self.too_large(before.len()));
        }
        let mut bytes = Vec::with_capacity(before.len() as usize);
        (&mut f)
            .take(self.max_file_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read: {e}"))?;
        if bytes.len() as u64 > self.max_file_bytes {
            return Err(self.too_large(bytes.len() as u64));
        }
        let after = f.metadata().map_err(|e| format!("cannot stat: {e}"))?;
        let stat = stat_of(&after);
        if stat.size != bytes.len() as u64 || stat_of(&before) != stat {
            // Removing a file changes its inode's ctime too: a file gone from its path was
            // removed, not half-written, and the report must say which.
            if matches!(std::fs::symlink_metadata(&full), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
            {
                return Err(REMOVED_DURING_SYNC.into());
            }
            return Err("still being written; it will be imported once it is stable".into());
        }
        let text = decode(&bytes).map_err(|e| e.to_string())?;
        let updated_ms = after.modified().map(system_time_ms).unwrap_or(0);
        let created_ms = after
            .created()
            .map(system_time_ms)
            .unwrap_or(updated_ms)
            .min(updated_ms);
        let entity = self.entity(rel_path, text, created_ms, updated_ms)?;
        Ok(ReadNote { entity, stat })
    }
}

/// Reads `files` on `threads` threads and calls `consume` on the caller's thread for each, in
/// completion order. `consume` returns `false` to stop early (cancellation); files not yet
/// handed over are then not read.
pub fn read_parallel<F>(
    root: &Path,
    builder: &EntityBuilder,
    files: &[&DiskFile],
    threads: usize,
    mut consume: F,
) where
    F: FnMut(&DiskFile, Result<ReadNote, String>) -> bool,
{
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let threads = threads.clamp(1, files.len().max(1));
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<(usize, Result<ReadNote, String>)>(64);
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    let result = builder.read(root, &file.path);
                    if tx.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, result) in rx.iter() {
            if !consume(files[i], result) {
                stop.store(true, Ordering::Relaxed);
                break;
            }
        }
        // Dropping the receiver unblocks readers waiting to send.
    });
}
