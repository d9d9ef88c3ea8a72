//! The daemon's own record of whether its store answers (`.brain/serve.json`), for `brain
//! status` when the store cannot be read: a PostgreSQL server stopped or out of reach. The
//! daemon goes on watching files while its store is away; the record says since when it is
//! offline and how many file changes wait, and the daemon queues a whole-vault sync when the
//! store answers again, so what changed meanwhile (here, and in other folders of the store) is
//! caught up with nothing lost.

use std::path::{Path, PathBuf};

use brain_core::VaultLayout;
use brain_core::time::now_ms;
use brain_jobs::Queue;
use brain_store::StoreError;
use serde_json::{Value, json};

use crate::directory::sync_request;

/// How often the record is rewritten while offline (to keep its count of waiting changes).
const REWRITE_OFFLINE_MS: i64 = 2_000;

/// The record's file in a vault.
pub fn record_path(root: &Path) -> PathBuf {
    VaultLayout::new(root).state_dir().join("serve.json")
}

/// The record a daemon of the vault at `root` wrote last, if any.
pub fn read_record(root: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(record_path(root)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Tracks whether the store answers and keeps the record.
pub(super) struct Connectivity {
    file: PathBuf,
    started_ms: i64,
    offline_since: Option<i64>,
    written_ms: i64,
}

impl Connectivity {
    pub(super) fn new(root: &Path, started_ms: i64) -> Self {
        let c = Connectivity {
            file: record_path(root),
            started_ms,
            offline_since: None,
            written_ms: 0,
        };
        c.write(None, 0);
        c
    }

    /// One look at the store: `Ok` if it answered. A store that cannot be reached makes the
    /// daemon offline (said once in the log); the first answer after that makes it online
    /// again and queues the catch-up sync on `queue`. Returns whether the store answered.
    pub(super) fn saw(
        &mut self,
        answer: Result<(), &StoreError>,
        pending: u64,
        queue: &Queue,
    ) -> bool {
        let now = now_ms();
        match answer {
            Err(e) if e.is_retryable() => {
                if self.offline_since.is_none() {
                    tracing::warn!(error = %e, "the store does not answer: offline; files are still watched, and caught up when it answers again");
                    self.offline_since = Some(now);
                }
                if now - self.written_ms >= REWRITE_OFFLINE_MS {
                    self.write(Some(e), pending);
                    self.written_ms = now;
                }
                false
            }
            // Another refusal is not an outage: the publisher says it as before.
            Err(_) => true,
            Ok(()) => {
                if let Some(since) = self.offline_since.take() {
                    let request = sync_request("full", false);
                    match queue.enqueue(request) {
                        // A warning like the one that said it went offline, so a log kept
                        // at the default level says both.
                        Ok(job) => tracing::warn!(
                            job = job.id(),
                            offline_s = (now - since) / 1000,
                            "the store answers again; catching up with a whole-vault sync"
                        ),
                        Err(e) => {
                            tracing::warn!(error = %e, "the store answers again, but the catch-up sync could not be queued; the next scan catches up")
                        }
                    }
                    self.write(None, pending);
                }
                true
            }
        }
    }

    /// Marks the record stopped (the daemon is ending).
    pub(super) fn stopped(&self) {
        let _ = std::fs::remove_file(&self.file);
    }

    fn write(&self, error: Option<&StoreError>, pending: u64) {
        let doc = json!({
            "pid": std::process::id(),
            "started_ms": self.started_ms,
            "store": if self.offline_since.is_some() { "offline" } else { "online" },
            "offline_since_ms": self.offline_since,
            "error": error.map(ToString::to_string),
            "pending_changes": pending,
            "updated_ms": now_ms(),
        });
        let tmp = self.file.with_extension("json.new");
        let written =
            std::fs::write(&tmp, doc.to_string()).and_then(|()| std::fs::rename(&tmp, &self.file));
        if let Err(e) = written {
            tracing::debug!(file = %self.file.display(), error = %e, "cannot write the daemon's local record");
        }
    }
}
