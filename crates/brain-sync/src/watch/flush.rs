//! Turning the changes collected over one debounce window into jobs: at most one
//! `directory-import` of the notes that really changed, or one whole-vault `directory-sync`.
//!
//! Our own writes come back as events too (an export writes a note; the watcher sees it). They
//! are dropped here: a file whose stat equals its base in the store is exactly what the store
//! last synced. An export writes its files before it commits their bases, so nothing is judged
//! while a directory job runs: the collector holds the flush until it ends.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brain_core::PathMapper;
use brain_jobs::{Queue, QueueError};
use brain_store::jobs::JobState;
use brain_store::{FileStat, ListFilter, Store, StoreError};

use super::filter::Seen;
use crate::jobs::{
    DIRECTORY_EXPORT, DIRECTORY_IMPORT, DIRECTORY_SYNC, import_request, sync_request,
};
use crate::scan::stat_of;

/// Changes seen and not yet turned into jobs, with the times that decide when they are.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Notes to import (vault-relative, `/`-separated).
    pub(crate) notes: BTreeSet<String>,
    /// Vanished paths that may have been folders holding notes.
    pub(crate) maybe_folders: BTreeSet<String>,
    /// Why the whole vault must be rescanned, if it must.
    pub(crate) rescan: Option<String>,
    /// When the first of these changes happened.
    first: Option<Instant>,
    /// When the last one happened.
    last: Option<Instant>,
}

impl Pending {
    /// Adds what an event at `at` asked for.
    pub(crate) fn add(&mut self, seen: Seen, at: Instant) {
        match seen {
            Seen::Note(p) => {
                self.notes.insert(p);
            }
            Seen::MaybeFolder(p) => {
                self.maybe_folders.insert(p);
            }
            Seen::Rescan(why) => {
                self.rescan.get_or_insert(why);
            }
        }
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Paths waiting.
    pub(crate) fn len(&self) -> usize {
        self.notes.len() + self.maybe_folders.len()
    }

    /// When these changes are due: `debounce` after the last of them (so a burst, or a file
    /// written in chunks, becomes one job once it is quiet), but never later than `max_wait`
    /// after the first (so changes that never stop are still imported).
    pub(crate) fn due(&self, debounce: Duration, max_wait: Duration) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        Some((last + debounce).min(first + max_wait))
    }
}

/// Why a flush did not happen; the changes are kept and tried again.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FlushError {
    /// The store could not be read.
    #[error("cannot read the store: {0}")]
    Store(#[from] StoreError),
    /// The job could not be enqueued.
    #[error("cannot queue the job: {0}")]
    Queue(#[from] QueueError),
}

/// What one flush did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Flushed {
    /// Paths in the `directory-import` enqueued (0: none was).
    pub(crate) imported: usize,
    /// Why a whole-vault rescan was enqueued, if one was.
    pub(crate) rescan: Option<String>,
    /// Paths dropped because nothing changed for the store.
    pub(crate) echoes: usize,
}

/// The job type of git sync (brain-git's `GIT_JOB`), named here rather than imported: plugins
/// know each other only by job type.
const GIT_JOB_TYPE: &str = "git";

/// Decides and enqueues the jobs for collected changes.
pub(crate) struct Flusher {
    /// The vault root (canonical).
    pub(crate) root: PathBuf,
    /// Where the bases are.
    pub(crate) store: Arc<dyn Store>,
    /// Where the jobs go.
    pub(crate) queue: Queue,
    /// Which paths can hold notes: an import of a path it refuses would be refused whole.
    pub(crate) mapper: PathMapper,
}

impl Flusher {
    /// Whether a job that writes files and then their bases runs now, in any process: a
    /// directory job (sync, import or export), or a git job (a merge writes the files it pulls,
    /// then imports them). Meanwhile the store's bases may lag the files, and echoes cannot be
    /// told from changes.
    pub(crate) fn directory_job_running(&self) -> Result<bool, StoreError> {
        // Counts from the queue's indexes, not whole job rows (inputs, results).
        let counts = self.queue.store().job_counts()?;
        Ok(counts.iter().any(|c| {
            c.state == JobState::Running
                && c.count > 0
                && [
                    DIRECTORY_SYNC,
                    DIRECTORY_IMPORT,
                    DIRECTORY_EXPORT,
                    GIT_JOB_TYPE,
                ]
                .contains(&c.job_type.as_str())
        }))
    }

    /// Enqueues what `pending` needs: a whole-vault rescan if it asks for one (or a vanished
    /// folder held notes), else one import of the notes that changed, else nothing.
    pub(crate) fn flush(&self, pending: &Pending) -> Result<Flushed, FlushError> {
        let mut rescan = pending.rescan.clone();
        if rescan.is_none() {
            for folder in &pending.maybe_folders {
                let filter = ListFilter {
                    folder: Some(folder.clone()),
                    limit: 1,
                    ..ListFilter::default()
                };
                if !self.store.list(&filter)?.is_empty() {
                    rescan = Some(format!("folder {folder} with notes was moved or deleted"));
                    break;
                }
            }
        }
        if let Some(reason) = rescan {
            // It covers every note pending too.
            let job = self.queue.enqueue(sync_request("full", false))?.id();
            tracing::info!(path = %self.root.display(), job, %reason, "queued a whole-vault rescan");
            return Ok(Flushed {
                rescan: Some(reason),
                ..Flushed::default()
            });
        }
        let mut flushed = Flushed::default();
        let paths = self.changed_notes(&pending.notes, &mut flushed.echoes)?;
        if !paths.is_empty() {
            let job = self.queue.enqueue(import_request(&paths))?.id();
            tracing::info!(
                path = %self.root.display(),
                job,
                files = paths.len(),
                first = %paths[0],
                "queued an import of changed notes"
            );
            flushed.imported = paths.len();
        }
        Ok(flushed)
    }

    /// The notes among `notes` whose file differs from what the store last synced; counts the
    /// others (our own writes, files that came and went) in `echoes`.
    /// Whether the store holds a live entity at `rel`.
    fn has_live_entity(&self, rel: &str) -> Result<bool, StoreError> {
        let Ok(r) = self.mapper.to_ref(rel) else {
            return Ok(false);
        };
        match self.store.get(&r) {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn changed_notes(
        &self,
        notes: &BTreeSet<String>,
        echoes: &mut usize,
    ) -> Result<Vec<String>, StoreError> {
        let valid: Vec<&str> = notes
            .iter()
            .map(String::as_str)
            .filter(|p| match self.mapper.to_ref(p) {
                Ok(_) => true,
                Err(e) => {
                    tracing::debug!(path = %p, error = %e, "not a note path; the next full sync reports it");
                    false
                }
            })
            .collect();
        if valid.is_empty() {
            return Ok(Vec::new());
        }
        let bases: HashMap<String, FileStat> = self
            .store
            .bases(&valid)?
            .into_iter()
            .map(|b| (b.path, b.stat))
            .collect();
        let mut changed = Vec::with_capacity(valid.len());
        for rel in valid {
            let same = match std::fs::symlink_metadata(self.root.join(rel)) {
                Ok(meta) => bases.get(rel) == Some(&stat_of(&meta)),
                // Gone and never synced: nothing, unless a live entity is at that path (written
                // through an interface, its export pending): the import then writes it.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    !bases.contains_key(rel) && !self.has_live_entity(rel)?
                }
                // Unreadable: the import reports why.
                Err(_) => false,
            };
            if same {
                tracing::debug!(path = %rel, "unchanged since the last sync (our own write?); dropped");
                *echoes += 1;
            } else {
                changed.push(rel.to_string());
            }
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_is_the_quiet_window_after_the_last_change_capped_from_the_first() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut p = Pending::default();
        assert!(p.is_empty());
        assert_eq!(p.due(ms(150), ms(1500)), None);
        p.add(Seen::Note("a.md".into()), t0);
        assert_eq!(p.due(ms(150), ms(1500)), Some(t0 + ms(150)));
        // Events may arrive out of order; the latest one counts.
        p.add(Seen::Note("b.md".into()), t0 + ms(100));
        p.add(Seen::Note("a.md".into()), t0 + ms(50));
        assert_eq!(p.due(ms(150), ms(1500)), Some(t0 + ms(250)));
        assert_eq!(p.len(), 2);
        // Churn that never stops is flushed at the cap.
        p.add(Seen::MaybeFolder("x".into()), t0 + ms(1400));
        assert_eq!(p.due(ms(150), ms(1500)), Some(t0 + ms(1500)));
        p.add(Seen::Rescan("one".into()), t0 + ms(1401));
        p.add(Seen::Rescan("two".into()), t0 + ms(1402));
        assert_eq!(p.rescan.as_deref(), Some("one"));
        assert_eq!(p.len(), 3);
    }
}
