//! Answers that reflect the files: a session watches the vault and, before it answers a call
//! about notes, imports every change it was told of, so an agent never reads (or compares a
//! hash against) a note a person has since saved.
//!
//! ```text
//!  notify (inotify...) ─► handler: note paths changed, folders that came or went, rescans
//!  a call ─► fence: create .brain/mcp-fence-PID-I-N, wait until the handler saw it
//!          ─► take what was reported ─► Brain::import_now (under .brain/sync.lock) ─► answer
//! ```
//!
//! The watch starts at the first such call, which imports the whole vault once (files saved
//! before the watch raised no event); a daemon whose `/mcp` nobody calls watches nothing more.
//!
//! Not the daemon's `VaultWatcher`: that one waits out a debounce and queues a job, and a call
//! cannot wait for either. Here nothing happens until a call comes, and then only the paths
//! reported are looked at (one `stat` each when unchanged): no call scans the vault.
//!
//! The fence makes "saved before the call" exact: inotify queues a file's event when it is
//! written, and one inotify instance delivers events in order, so once the event of a fence
//! created by the call arrives, every change saved before the call has been reported.
//!
//! With a daemon serving the vault (`brain serve`, which runs this over HTTP too) the same
//! holds: the session imports what it was told of itself, under the sync lock every sync
//! takes, rather than trusting the daemon's watcher to have done it; a path the daemon
//! imported already costs one `stat` (its stat equals the base). When native events cannot be
//! set up (no inotify watch left), every call imports the whole vault instead: correct, slower
//! on a large vault, and logged.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use brain_api::{Brain, ImportNow, ListRequest};
use brain_core::VaultLayout;
use brain_core::layout::{self, MCP_FENCE_PREFIX};
use notify::event::{CreateKind, ModifyKind, RemoveKind, RenameMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

/// How long a call waits for its fence's event before importing the whole vault instead.
const FENCE_WAIT: Duration = Duration::from_secs(2);
/// How long a call waits for another sync holding `.brain/sync.lock` before answering from the
/// store as it is, saying the answer may be stale.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// The most note paths kept between two calls; past it, the next call imports the whole vault
/// (one scan), so a session left idle while a vault churns holds bounded memory.
const MAX_REPORTED: usize = 10_000;
/// A fence file older than this is left over (a session lives with its fence for at most
/// [`FENCE_WAIT`]): its session was killed between creating and removing it.
const FENCE_LEFT_OVER: Duration = Duration::from_secs(60);

/// Tells apart the sessions of one process (the tests run several), so each waits for its own
/// fence only.
static INSTANCES: AtomicU64 = AtomicU64::new(0);

/// What the watcher reported and no call has imported yet.
#[derive(Debug, Default)]
struct Reported {
    /// Notes (vault-relative, `/`-separated) changed, added or removed.
    paths: BTreeSet<String>,
    /// Folders created or moved in: their notes are imported (listed at the call, since files
    /// made in a new folder before its watch was set up raise no event).
    new_folders: BTreeSet<String>,
    /// Paths gone that may have been folders: the notes the store knows under them are
    /// imported (as removed, if their files went with the folder).
    maybe_folders: BTreeSet<String>,
    /// Why the whole vault must be imported (`.brainignore` changed, events lost), if it must.
    rescan: Option<String>,
    /// The highest fence of this session seen.
    fence: u64,
}

/// The handler's side, shared with the calls.
struct Shared {
    reported: Mutex<Reported>,
    fence_seen: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Reported> {
        self.reported.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A session's watch of its vault. Shared by every clone of the server (one per HTTP session).
pub(crate) struct Freshness {
    /// The vault root, canonical: events carry it.
    root: PathBuf,
    shared: Arc<Shared>,
    /// This session's fence names start with this.
    fence_name: String,
    next_fence: AtomicU64,
    /// The watch; locked for a whole refresh, so one runs at a time (a second call waits, then
    /// fences again for itself).
    watch: Mutex<Watch>,
}

/// Whether the vault is watched.
enum Watch {
    /// No call has needed it yet.
    NotStarted,
    /// Native events (held: dropping it stops the watch).
    Watching(#[allow(dead_code)] RecommendedWatcher),
    /// Native events could not be set up: every call imports the whole vault.
    Unavailable,
}

impl Freshness {
    /// The watch of the vault of `brain`, set up at the first call that needs it (a daemon
    /// whose `/mcp` nobody calls watches nothing more than it did).
    pub(crate) fn new(brain: &Brain) -> Freshness {
        let root = std::fs::canonicalize(brain.root()).unwrap_or_else(|_| brain.root().into());
        let instance = INSTANCES.fetch_add(1, Ordering::Relaxed);
        Freshness {
            fence_name: layout::mcp_fence_session(std::process::id(), instance),
            root,
            shared: Arc::new(Shared {
                reported: Mutex::new(Reported::default()),
                fence_seen: Condvar::new(),
            }),
            next_fence: AtomicU64::new(1),
            watch: Mutex::new(Watch::NotStarted),
        }
    }

    /// Starts watching: returns once the watch is in place, so a file saved after this returns
    /// is reported. Files saved before raised no event, so the next import is the whole vault.
    fn start(&self) -> Watch {
        self.remove_left_over_fences();
        self.shared.lock().rescan =
            Some("the session's first call: files may have changed since the last sync".into());
        let handler = Handler {
            root: self.root.clone(),
            fence_name: self.fence_name.clone(),
            shared: self.shared.clone(),
        };
        let watched = notify::recommended_watcher(move |e| handler.handle(e))
            .and_then(|mut w| w.watch(&self.root, RecursiveMode::Recursive).map(|()| w));
        match watched {
            Ok(w) => Watch::Watching(w),
            Err(e) => {
                tracing::warn!(vault = %self.root.display(), error = %e, "cannot watch the vault for changes; every call imports the whole vault instead (slower on a large vault)");
                Watch::Unavailable
            }
        }
    }

    /// Removes the fence files of sessions that are gone: a session killed (`kill -9`, a
    /// crash) between creating its fence and removing it leaves one in `.brain/`, and without
    /// this they would pile up there, one per kill. A fence is left over when it is older than
    /// [`FENCE_LEFT_OVER`], when the process that made it is gone, or when it has this
    /// session's own name (an earlier process with the same PID, as a container restart gives:
    /// this session has made none yet). A live session's fence is left alone.
    fn remove_left_over_fences(&self) {
        let layout = VaultLayout::new(&self.root);
        let dir = layout.state_dir();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(MCP_FENCE_PREFIX)) else {
                continue;
            };
            let own = format!("{MCP_FENCE_PREFIX}{rest}").starts_with(&self.fence_name);
            let dead = rest
                .split('-')
                .next()
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_none_or(|pid| !process_alive(pid));
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > FENCE_LEFT_OVER);
            if !(own || dead || old) {
                continue;
            }
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::info!(path = %entry.path().display(), "removed a fence file left by a session that was killed");
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove a fence file left by a killed session; remove it by hand (it is never read as a note)");
                }
            }
        }
    }

    /// Imports every change saved before this call (blocking: run it on a blocking thread).
    /// Returns a warning for the answer when it could not: the answer then comes from the
    /// store as it is, and the changes are imported by a later call.
    ///
    /// Its wait for `.brain/sync.lock` counts from the call's arrival, not from its turn: calls
    /// that queue behind one waiting for a long sync all answer within [`LOCK_WAIT`] of their
    /// arrival, instead of one [`LOCK_WAIT`] after another.
    pub(crate) fn refresh(&self, brain: &Brain) -> Option<String> {
        let deadline = Instant::now() + LOCK_WAIT;
        if brain.store_read_only() {
            return Some(
                "the store is read-only (.brain/ or brain.db cannot be written), so this answer \
                 is what it held at its last sync and may be stale: files changed since cannot \
                 be imported; make .brain/ writable and run `sync`"
                    .into(),
            );
        }
        let mut watch = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(*watch, Watch::NotStarted) {
            *watch = self.start();
        }
        if matches!(*watch, Watch::Unavailable) {
            return self.import(brain, Vec::new(), Some("no file watcher".into()), deadline);
        }
        let fenced = self.fence();
        let (mut paths, new_folders, maybe_folders, mut rescan) = {
            let mut r = self.shared.lock();
            (
                std::mem::take(&mut r.paths),
                std::mem::take(&mut r.new_folders),
                std::mem::take(&mut r.maybe_folders),
                r.rescan.take(),
            )
        };
        if let Err(why) = fenced {
            rescan.get_or_insert(why);
        }
        if rescan.is_none() {
            for folder in &new_folders {
                notes_in(&self.root, folder, &mut paths);
            }
            for folder in &maybe_folders {
                if let Err(e) = notes_known_under(brain, folder, &mut paths) {
                    rescan = Some(format!("cannot list the notes under {folder}/: {e}"));
                }
            }
        }
        self.import(brain, paths.into_iter().collect(), rescan, deadline)
    }

    /// Creates this call's fence and waits for its event, then removes it. An error says why
    /// the reported changes cannot be trusted to be complete.
    fn fence(&self) -> Result<(), String> {
        let n = self.next_fence.fetch_add(1, Ordering::Relaxed);
        let path = VaultLayout::new(&self.root).mcp_fence(&self.fence_name, n);
        create_fence(&path)
            .map_err(|e| format!("cannot create the fence {}: {e}", path.display()))?;
        let deadline = Instant::now() + FENCE_WAIT;
        let mut r = self.shared.lock();
        let seen = loop {
            if r.fence >= n {
                break true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            r = self
                .shared
                .fence_seen
                .wait_timeout(r, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        };
        drop(r);
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove a fence file");
        }
        if seen {
            Ok(())
        } else {
            Err(format!(
                "the file watcher did not report its fence within {} s",
                FENCE_WAIT.as_secs()
            ))
        }
    }

    /// Imports `paths`, or the whole vault when `rescan` says why, waiting for another sync
    /// until `deadline`; on failure puts them back for the next call and returns the warning.
    fn import(
        &self,
        brain: &Brain,
        paths: Vec<String>,
        rescan: Option<String>,
        deadline: Instant,
    ) -> Option<String> {
        if paths.is_empty() && rescan.is_none() {
            return None;
        }
        if let Some(why) = &rescan {
            tracing::info!(reason = %why, "importing the whole vault before answering");
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        let failed = match brain.import_now(&paths, rescan.is_some(), wait) {
            Ok(ImportNow::Imported(report)) if rescan.is_none() => {
                let skipped: Vec<(&str, &str)> = report
                    .skipped
                    .iter()
                    .map(|s| (s.path.as_str(), s.reason.as_str()))
                    .collect();
                return skipped_warning(&skipped);
            }
            Ok(ImportNow::Imported(_)) => return None,
            Ok(ImportNow::Busy) => format!(
                "another sync of the vault held .brain/sync.lock for {} s, so files changed on \
                 disk since the last sync may be missing from this answer; they are imported \
                 by the next call",
                LOCK_WAIT.as_secs()
            ),
            Err(e) => format!(
                "files changed on disk could not be imported before answering ({e}), so this \
                 answer may be stale; they are tried again at the next call, or run `sync`"
            ),
        };
        tracing::warn!(warning = %failed, "answering from the store as it is");
        let mut r = self.shared.lock();
        r.paths.extend(paths);
        if r.rescan.is_none() {
            r.rescan = rescan;
        }
        Some(failed)
    }
}

/// The warning for an answer when files saved before the call were not imported (an empty
/// file an editor truncated, a pipe, a file over `sync.max_file_bytes`): the store keeps what
/// it held for them, so the answer is not what those files hold, and the agent is told which
/// and why. Only for the paths a call imports, not for a whole-vault import, whose skipped
/// files (the same ones at every session's start) `sync` reports.
fn skipped_warning(skipped: &[(&str, &str)]) -> Option<String> {
    const SHOWN: usize = 3;
    let (first, rest) = skipped.split_at(skipped.len().min(SHOWN));
    if first.is_empty() {
        return None;
    }
    let mut listed: Vec<String> = first
        .iter()
        .map(|(path, reason)| format!("{path}: {reason}"))
        .collect();
    if !rest.is_empty() {
        listed.push(format!("and {} more (see `sync`)", rest.len()));
    }
    Some(format!(
        "files saved on disk before this call were not imported, so this answer keeps what the \
         store held for them: {}",
        listed.join("; ")
    ))
}

/// Creates the fence file at `path` anew, so that its creation raises the event the call waits
/// for: one left at that name (a killed process that had this PID) is removed first, since
/// writing over it would raise no creation event and the call would wait out [`FENCE_WAIT`].
fn create_fence(path: &Path) -> std::io::Result<()> {
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map(drop)
    };
    match create() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(path)?;
            create()
        }
        done => done,
    }
}

/// Whether process `pid` is running, as far as this system can tell: on Linux, whether
/// `/proc/PID` exists; elsewhere it is taken to be (a fence is then removed by its age only).
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}

/// Adds the paths of the notes the store holds under `folder` to `paths`.
fn notes_known_under(
    brain: &Brain,
    folder: &str,
    paths: &mut BTreeSet<String>,
) -> Result<(), brain_api::BrainError> {
    let mut req = ListRequest {
        folder: Some(folder.to_string()),
        limit: 1000,
        ..ListRequest::default()
    };
    loop {
        let page = brain.list(&req)?;
        paths.extend(page.items.into_iter().map(|s| s.path));
        match page.next_offset {
            Some(next) => req.offset = next,
            None => return Ok(()),
        }
    }
}

/// Adds the Markdown files under vault folder `folder` to `paths`: dot entries and symbolic
/// links skipped, as the scan skips them (the import applies `.brainignore`).
fn notes_in(root: &Path, folder: &str, paths: &mut BTreeSet<String>) {
    let mut todo = vec![folder.to_string()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let rel = format!("{dir}/{name}");
            match entry.file_type() {
                Ok(t) if t.is_dir() => todo.push(rel),
                Ok(t) if !t.is_symlink() && name.ends_with(".md") => {
                    paths.insert(rel);
                }
                _ => {}
            }
        }
    }
}

/// Runs on notify's thread: sorts each event's paths into [`Reported`].
struct Handler {
    root: PathBuf,
    fence_name: String,
    shared: Arc<Shared>,
}

impl Handler {
    fn handle(&self, event: notify::Result<Event>) {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                self.rescan(format!("the file watcher reported an error: {e}"));
                return;
            }
        };
        if event.need_rescan() {
            self.rescan("the file watcher lost events (its queue overflowed)".into());
            return;
        }
        let mut r = self.shared.lock();
        for path in &event.paths {
            match self.classify(&event.kind, path) {
                Seen::Nothing => {}
                Seen::Note(_) if r.rescan.is_some() => {}
                Seen::Note(rel) => {
                    r.paths.insert(rel);
                    if r.paths.len() > MAX_REPORTED {
                        r.paths.clear();
                        r.rescan = Some(format!("over {MAX_REPORTED} notes changed"));
                    }
                }
                Seen::MaybeFolder(rel) => {
                    r.maybe_folders.insert(rel);
                }
                Seen::Folder(rel) => {
                    r.new_folders.insert(rel);
                }
                Seen::Rescan(why) => {
                    r.rescan.get_or_insert(why);
                }
                Seen::Fence(n) => {
                    r.fence = r.fence.max(n);
                    self.shared.fence_seen.notify_all();
                }
            }
        }
    }

    fn rescan(&self, why: String) {
        tracing::warn!(reason = %why, "the next call imports the whole vault");
        self.shared.lock().rescan.get_or_insert(why);
    }

    /// What an event on `path` asks for.
    fn classify(&self, kind: &EventKind, path: &Path) -> Seen {
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return Seen::Nothing;
        };
        let mut parts = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(s) => match s.to_str() {
                    Some(s) => parts.push(s),
                    // Not UTF-8: sync skips it too, and says so in its report.
                    None => return Seen::Nothing,
                },
                _ => return Seen::Nothing,
            }
        }
        let Some(&name) = parts.last() else {
            // The vault folder itself (moved, deleted, its attributes).
            return Seen::Nothing;
        };
        if parts[0] == layout::STATE_DIR {
            return match (parts.len(), name.strip_prefix(self.fence_name.as_str())) {
                (2, Some(n)) if matches!(kind, EventKind::Create(_)) => {
                    n.parse().map_or(Seen::Nothing, Seen::Fence)
                }
                _ => Seen::Nothing,
            };
        }
        if name == ".brainignore" {
            return Seen::Rescan(format!("{} changed", parts.join("/")));
        }
        if parts.iter().any(|p| p.starts_with('.')) {
            return Seen::Nothing;
        }
        let rel = parts.join("/");
        if rel.ends_with(".md") && !matches!(kind, EventKind::Create(CreateKind::Folder)) {
            return Seen::Note(rel);
        }
        match kind {
            EventKind::Create(CreateKind::Folder) => Seen::Folder(rel),
            EventKind::Remove(RemoveKind::Folder) => Seen::MaybeFolder(rel),
            EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_) | ModifyKind::Any)
            | EventKind::Any
            | EventKind::Other => {
                if path.is_dir() {
                    Seen::Folder(rel)
                } else if path.exists()
                    || matches!(kind, EventKind::Modify(ModifyKind::Name(RenameMode::To)))
                {
                    // A file that is not a note, or a name that came and went again.
                    Seen::Nothing
                } else {
                    Seen::MaybeFolder(rel)
                }
            }
            _ => Seen::Nothing,
        }
    }
}

/// What one event path asks for.
enum Seen {
    Nothing,
    Note(String),
    Folder(String),
    MaybeFolder(String),
    Rescan(String),
    Fence(u64),
}
