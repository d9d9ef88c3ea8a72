//! The collector: one thread that receives the event source's events, keeps what they ask for
//! ([`Pending`]) and turns it into jobs ([`Flusher`]) once the vault has been quiet for the
//! debounce window, measured from when the last event happened.
//!
//! It never ticks: it blocks on its channel until the next thing it must do (the window's end,
//! the next verification, the next attempt to set the source up again). An idle watcher does
//! not wake at all (a poll-mode source walks the vault every interval on its own thread).

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use brain_core::WatchMode;
use brain_core::time::now_ms;
use notify::ErrorKind;

use super::backend::{Msg, Source, TimedEvent, start_native, start_poll};
use super::filter::{EventFilter, Seen};
use super::flush::{Flusher, Pending};
use super::status::{WatcherMode, WatcherStatus};
use brain_api::daemon::{RootChanged, VaultRoot};

/// How soon a flush held by a running directory job looks again.
const HOLD_RECHECK: Duration = Duration::from_millis(30);
/// Attempts to set native events up again, after they stopped working, before polling instead.
const NATIVE_ATTEMPTS: u32 = 3;

/// The collector's timing, from the settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Times {
    /// The quiet window.
    pub(crate) debounce: Duration,
    /// The longest changes wait while more keep coming.
    pub(crate) max_wait: Duration,
    /// Polling interval; also the delay between attempts to set the source up again.
    pub(crate) poll_interval: Duration,
}

/// Sets up native events (a parameter so tests can make it fail).
type StartNative = fn(&std::path::Path, &Sender<Msg>, u64) -> notify::Result<Source>;

/// The collector's state; [`Collector::run`] owns it on its thread.
pub(crate) struct Collector {
    root: PathBuf,
    /// The folder watched, to tell it coming back from another folder made at its path.
    vault_root: VaultRoot,
    times: Times,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    status: Arc<Mutex<WatcherStatus>>,
    filter: EventFilter,
    flusher: Flusher,
    source: Option<Source>,
    start_native: StartNative,
    generation: u64,
    /// Poll from now on: asked for, or native events failed.
    use_poll: bool,
    native_failures: u32,
    restart_at: Option<Instant>,
    pending: Pending,
    /// No flush before this: a directory job was running, or the last flush failed.
    not_before: Option<Instant>,
    /// Errors already reported, so a repeated one does not rescan again.
    errors_seen: std::collections::HashSet<String>,
    /// The highest fence taken in; published with the pending set it belongs to.
    fence: u64,
}

impl Collector {
    /// A collector with no source yet; [`Collector::start_source`] sets one up.
    pub(crate) fn new(
        vault_root: VaultRoot,
        mode: WatchMode,
        times: Times,
        channel: (Sender<Msg>, Receiver<Msg>),
        status: Arc<Mutex<WatcherStatus>>,
        filter: EventFilter,
        flusher: Flusher,
    ) -> Self {
        Self {
            errors_seen: std::collections::HashSet::new(),
            root: vault_root.path().to_path_buf(),
            vault_root,
            times,
            tx: channel.0,
            rx: channel.1,
            status,
            filter,
            flusher,
            source: None,
            start_native,
            generation: 0,
            use_poll: mode == WatchMode::Poll,
            native_failures: 0,
            restart_at: None,
            pending: Pending::default(),
            not_before: None,
            fence: 0,
        }
    }

    fn status(&self) -> MutexGuard<'_, WatcherStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the event source up: native events unless polling was asked for or native events
    /// failed before. On the first start a native failure falls back to polling at once; on a
    /// restart only after [`NATIVE_ATTEMPTS`] failures in a row.
    pub(crate) fn start_source(&mut self, first: bool) -> notify::Result<()> {
        if !self.use_poll {
            // Each attempt has its own generation: a failed attempt's watcher, stopped,
            // says its thread ended, and that must not be taken for the next source's end.
            self.generation += 1;
            match (self.start_native)(&self.root, &self.tx, self.generation) {
                Ok(source) => {
                    self.native_failures = 0;
                    self.set_source(source);
                    return Ok(());
                }
                Err(e) => {
                    self.native_failures += 1;
                    if !first && self.native_failures < NATIVE_ATTEMPTS {
                        return Err(e);
                    }
                    self.fall_back(format!("native file events unavailable: {e}"));
                }
            }
        }
        self.generation += 1;
        let source = start_poll(
            &self.root,
            self.times.poll_interval,
            &self.tx,
            self.generation,
        )?;
        self.set_source(source);
        Ok(())
    }

    fn set_source(&mut self, source: Source) {
        self.status().mode = source.mode();
        self.source = Some(source);
        self.restart_at = None;
    }

    fn fall_back(&mut self, reason: String) {
        tracing::warn!(
            path = %self.root.display(),
            %reason,
            interval_ms = self.times.poll_interval.as_millis() as u64,
            "falling back to polling the vault"
        );
        self.use_poll = true;
        let mut st = self.status();
        st.fell_back = true;
        st.fallback_reason = Some(reason);
    }

    /// Stops the current source, if any; what it still sends is dropped.
    fn drop_source(&mut self) {
        self.generation += 1;
        if let Some(source) = self.source.take() {
            source.stop();
        }
    }

    /// The source stopped working: nothing is watched until it is set up again.
    fn lose_source(&mut self, why: &str) {
        tracing::warn!(path = %self.root.display(), reason = why, "the file watcher stopped; setting it up again");
        self.drop_source();
        // What was pending is covered by the rescan that follows a successful restart.
        self.pending = Pending::default();
        self.restart_at = Some(Instant::now() + self.times.poll_interval);
        let mut st = self.status();
        st.mode = WatcherMode::Failed;
        st.error(why);
    }

    /// Whether the folder at the vault's path is still the one watched. Gone, the source is
    /// lost (and set up again if it comes back); another folder in its place, the watcher
    /// stops for good ([`Collector::give_up`]). One `stat`.
    fn root_is_ours(&mut self) -> bool {
        match self.vault_root.check() {
            Ok(()) => true,
            Err(RootChanged::Gone { .. }) => {
                if self.source.is_some() {
                    self.lose_source("the vault folder was deleted or moved away");
                }
                false
            }
            Err(changed @ RootChanged::Replaced { .. }) => {
                self.give_up(&changed);
                false
            }
        }
    }

    /// Another folder took the vault's place: nothing more is watched, queued, verified or
    /// retried, so nothing of that folder is ever imported into this vault's store. What was
    /// pending is dropped, since it can no longer be read where it was.
    fn give_up(&mut self, changed: &RootChanged) {
        self.drop_source();
        self.pending = Pending::default();
        self.restart_at = None;
        self.not_before = None;
        if self.status().root_changed.is_some() {
            return;
        }
        let message = changed.to_string();
        tracing::error!(path = %self.root.display(), "{message}");
        let mut st = self.status();
        st.mode = WatcherMode::Failed;
        st.error(message.clone());
        st.root_changed = Some(message);
    }

    /// Receives and acts until asked to stop; then stops the source.
    pub(crate) fn run(mut self) {
        loop {
            let received = match self.next_wake() {
                Some(at) => self
                    .rx
                    .recv_timeout(at.saturating_duration_since(Instant::now())),
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match received {
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Msg::Notify(generation, result)) if generation == self.generation => {
                    match result {
                        Ok(events) => self.on_events(events),
                        Err(errors) => self.on_errors(errors),
                    }
                }
                Ok(Msg::SourceGone(generation))
                    if generation == self.generation && self.source.is_some() =>
                {
                    self.lose_source("the file watcher's thread ended");
                }
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            }
            self.on_timers();
            let (len, rescan) = (self.pending.len(), self.pending.rescan.is_some());
            let mut st = self.status();
            st.pending_paths = len;
            st.rescan_pending = rescan;
            // In the same lock as the pending set: a snapshot showing a fence shows every
            // change before it as pending or flushed, never as neither.
            st.fence = self.fence;
        }
        self.drop_source();
        if !self.pending.is_empty() {
            // Best effort, without waiting for the window or a running job: a change seen is
            // not left for the next start-up to find.
            self.try_flush_now();
        }
        self.status().mode = WatcherMode::Stopped;
    }

    /// The next moment something is due: the pending changes' flush, the verification, a
    /// restart attempt. `None`: nothing until an event comes.
    fn next_wake(&self) -> Option<Instant> {
        let flush = self
            .pending
            .due(self.times.debounce, self.times.max_wait)
            .map(|due| self.not_before.map_or(due, |nb| due.max(nb)));
        [flush, self.restart_at].into_iter().flatten().min()
    }

    fn on_events(&mut self, events: Vec<TimedEvent>) {
        // A poller walks whatever folder is at the path: another one's files are not ours.
        if !self.root_is_ours() {
            return;
        }
        let mut root_lost = false;
        // Only events about notes count in the status: the database under `.brain/` changes on
        // every commit, and counting those would change the published status, whose write is a
        // commit, which is an event...
        let mut latest: Option<Instant> = None;
        let mut relevant = 0u64;
        for ev in &events {
            if ev.event.need_rescan() {
                latest = Some(latest.map_or(ev.time, |l| l.max(ev.time)));
                relevant += 1;
                tracing::warn!(path = %self.root.display(), "file events were lost (event queue overflow); rescanning the vault");
                self.status()
                    .error("file events were lost (event queue overflow); the vault is rescanned");
                self.pending
                    .add(Seen::Rescan("file events were lost".into()), ev.time);
                continue;
            }
            if self.filter.root_lost(&ev.event) {
                root_lost = true;
                continue;
            }
            if let Some(n) = self.filter.fence(&ev.event) {
                self.fence = self.fence.max(n);
            }
            let seen = self.filter.classify(&ev.event);
            if !seen.is_empty() {
                latest = Some(latest.map_or(ev.time, |l| l.max(ev.time)));
                relevant += 1;
            }
            for seen in seen {
                tracing::trace!(path = %self.root.display(), ?seen, "file event");
                self.pending.add(seen, ev.time);
            }
        }
        {
            let mut st = self.status();
            st.events_seen += relevant;
            if let Some(t) = latest {
                let ago = Instant::now().saturating_duration_since(t).as_millis() as i64;
                st.last_event_ms = Some(now_ms() - ago);
            }
        }
        if root_lost {
            self.lose_source("the vault folder was deleted or moved away");
        }
    }

    fn on_errors(&mut self, errors: Vec<notify::Error>) {
        let mut too_many_watches = false;
        let mut new_error = false;
        for e in &errors {
            too_many_watches |= matches!(e.kind, ErrorKind::MaxFilesWatch);
            // A poller meets an unreadable folder on every walk: the same error is reported
            // (and rescanned for) once, not every `watch_interval_ms` forever.
            let key = format!("{e} {:?}", e.paths);
            if self.errors_seen.len() > 1_000 {
                self.errors_seen.clear();
            }
            if !self.errors_seen.insert(key) {
                continue;
            }
            new_error = true;
            tracing::warn!(path = %self.root.display(), paths = ?e.paths, error = %e, "file watcher error; rescanning the vault");
            self.status().error(format!("file watcher: {e}"));
        }
        if !self.root_is_ours() {
            return;
        }
        if new_error {
            self.pending.add(
                Seen::Rescan("the file watcher reported an error".into()),
                Instant::now(),
            );
        }
        if too_many_watches && matches!(self.source, Some(Source::Native(_))) {
            // New folders are no longer watched: native events would miss changes in them.
            self.drop_source();
            self.fall_back("the system's limit on watched folders was reached".into());
            if let Err(e) = self.start_source(false) {
                self.lose_source(&format!("cannot poll the vault: {e}"));
            }
        }
    }

    fn on_timers(&mut self) {
        let now = Instant::now();
        if self
            .pending
            .due(self.times.debounce, self.times.max_wait)
            .is_some_and(|due| due <= now)
            && self.not_before.is_none_or(|nb| nb <= now)
        {
            self.try_flush(now);
        }
        if self.restart_at.is_some_and(|at| at <= now) {
            self.restart();
        }
    }

    fn try_flush(&mut self, now: Instant) {
        match self.flusher.directory_job_running() {
            Ok(false) => {}
            Ok(true) => {
                self.not_before = Some(now + HOLD_RECHECK);
                return;
            }
            Err(e) => {
                tracing::warn!(path = %self.root.display(), error = %e, "cannot list running jobs; trying again");
                self.status()
                    .error(format!("cannot list running jobs: {e}"));
                self.not_before = Some(now + self.times.debounce.max(HOLD_RECHECK));
                return;
            }
        }
        self.try_flush_now();
    }

    fn try_flush_now(&mut self) {
        if !self.root_is_ours() {
            return;
        }
        let now = Instant::now();
        match self.flusher.flush(&self.pending) {
            Ok(done) => {
                self.pending = Pending::default();
                self.not_before = None;
                let mut st = self.status();
                st.last_flush_ms = Some(now_ms());
                st.echoes_dropped += done.echoes as u64;
                st.imports_enqueued += u64::from(done.imported > 0);
                st.rescans_enqueued += u64::from(done.rescan.is_some());
            }
            Err(e) => {
                tracing::warn!(path = %self.root.display(), error = %e, "cannot queue the changes; trying again");
                self.status().error(e.to_string());
                self.not_before = Some(now + self.times.debounce.max(HOLD_RECHECK));
            }
        }
    }

    /// Tries to set the source up again; on success the vault is rescanned, since changes made
    /// while nothing watched are unknown.
    fn restart(&mut self) {
        self.restart_at = Some(Instant::now() + self.times.poll_interval);
        match self.vault_root.check() {
            Ok(()) => {}
            // Not back yet: try again later.
            Err(RootChanged::Gone { .. }) => return,
            Err(changed @ RootChanged::Replaced { .. }) => return self.give_up(&changed),
        }
        match self.start_source(false) {
            Ok(()) => {
                tracing::info!(path = %self.root.display(), "the file watcher is set up again");
                self.status().restarts += 1;
                self.pending.add(
                    Seen::Rescan("the file watcher was set up again".into()),
                    Instant::now(),
                );
            }
            Err(e) => {
                tracing::warn!(path = %self.root.display(), error = %e, "cannot set the file watcher up again; retrying");
                self.status().error(format!("cannot watch the vault: {e}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_jobs::{EventBus, Queue, Registry};

    fn collector(root: &std::path::Path) -> Collector {
        let store = brain_store_sqlite::testing::in_memory().unwrap();
        let debounce = Duration::from_millis(100);
        Collector::new(
            VaultRoot::capture(root).unwrap(),
            WatchMode::Native,
            Times {
                debounce,
                max_wait: debounce * 10,
                poll_interval: Duration::from_millis(100),
            },
            std::sync::mpsc::channel(),
            Arc::new(Mutex::new(WatcherStatus::new(WatcherMode::Failed))),
            EventFilter::new(root, false),
            Flusher {
                root: root.to_path_buf(),
                store: store.clone(),
                queue: Queue::new(store, Registry::new(), EventBus::default()),
                mapper: brain_core::PathMapper::new(Vec::<String>::new()).unwrap(),
            },
        )
    }

    fn no_watches_left(_: &std::path::Path, _: &Sender<Msg>, _: u64) -> notify::Result<Source> {
        Err(notify::Error::new(ErrorKind::MaxFilesWatch))
    }

    #[test]
    fn native_failure_at_start_falls_back_to_polling() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = collector(dir.path());
        c.start_native = no_watches_left;
        c.start_source(true).unwrap();
        let st = c.status().clone();
        assert_eq!((st.mode, st.fell_back), (WatcherMode::Poll, true));
        assert!(
            st.fallback_reason
                .unwrap()
                .contains("native file events unavailable")
        );
        c.drop_source();
    }

    #[test]
    fn a_restart_polls_only_after_repeated_native_failures() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = collector(dir.path());
        c.start_native = no_watches_left;
        for _ in 1..NATIVE_ATTEMPTS {
            assert!(c.start_source(false).is_err());
            assert!(!c.status().fell_back);
        }
        c.start_source(false).unwrap();
        assert_eq!(c.status().mode, WatcherMode::Poll);
        // Once polling, it stays polling: native events are not tried again.
        c.drop_source();
        c.start_native = |_, _, _| panic!("native events tried again");
        c.start_source(false).unwrap();
        assert_eq!(c.status().mode, WatcherMode::Poll);
        c.drop_source();
    }

    #[test]
    fn an_overflow_asks_for_a_rescan_and_a_note_event_for_an_import() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = collector(dir.path());
        let note = notify::Event::new(notify::EventKind::Modify(notify::event::ModifyKind::Any))
            .add_path(dir.path().join("a.md"));
        c.on_events(vec![TimedEvent {
            event: note,
            time: Instant::now(),
        }]);
        assert!(c.pending.notes.contains("a.md"));
        assert!(c.pending.rescan.is_none());
        let overflow =
            notify::Event::new(notify::EventKind::Other).set_flag(notify::event::Flag::Rescan);
        c.on_events(vec![TimedEvent {
            event: overflow,
            time: Instant::now(),
        }]);
        assert!(
            c.pending.rescan.is_some(),
            "lost events mean a whole-vault rescan"
        );
        assert!(c.status().last_error.is_some());
    }

    #[test]
    fn issue13_another_folder_at_the_vault_path_is_never_watched_or_queued() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("vault");
        std::fs::create_dir(&root).unwrap();
        let mut c = collector(&root);
        c.start_source(true).unwrap();
        std::fs::rename(&root, tmp.path().join("moved")).unwrap();
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("new.md"), "# new\n").unwrap();
        let note = notify::Event::new(notify::EventKind::Create(notify::event::CreateKind::File))
            .add_path(root.join("new.md"));
        c.on_events(vec![TimedEvent {
            event: note,
            time: Instant::now(),
        }]);
        assert!(
            c.pending.is_empty(),
            "nothing of the other folder is pending"
        );
        assert!(c.source.is_none(), "the other folder is not watched");
        let st = c.status().clone();
        assert_eq!(st.mode, WatcherMode::Failed);
        let why = st
            .root_changed
            .expect("the status says the folder was replaced");
        assert!(why.contains("replaced by another folder"), "{why}");
        // Never set up again: no timer is left to wake for. (The periodic verification is a
        // schedule of the daemon now, which stops when its vault folder is replaced.)
        c.restart();
        assert!(c.source.is_none());
        assert_eq!(c.next_wake(), None);
    }

    #[test]
    fn the_same_watcher_error_rescans_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = collector(dir.path());
        let denied = || {
            notify::Error::io(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
                .add_path(dir.path().join("private"))
        };
        c.on_errors(vec![denied()]);
        assert!(c.pending.rescan.is_some());
        c.pending = Pending::default();
        // A poller meets the same unreadable folder on every walk.
        c.on_errors(vec![denied()]);
        assert!(c.pending.rescan.is_none(), "no rescan every poll interval");
        c.on_errors(vec![notify::Error::generic("something else")]);
        assert!(c.pending.rescan.is_some(), "a new error still rescans");
    }
}
