//! Waking idle workers across machines: a connection of its own `LISTEN`s on the store's
//! channel, and [`Notifier::version`] counts what it hears. Every commit that gives workers
//! something to do (an enqueue, a finish, a retry, a resume, a reaped lease, a fired
//! schedule) sends `NOTIFY` on it (`super::notify`), so a worker idle in another process
//! claims within milliseconds instead of at its next poll.
//!
//! The listening thread starts on the first call and reconnects with backoff when its
//! connection drops. While it is not listening, `version` changes at every call, so the
//! worker pool falls back to looking at each of its watch ticks: a missed notification costs
//! a poll, never a job left waiting. Each store handle marks what it sends with a token of its
//! own, and its listener skips those, as the contract asks (a busy daemon's own commits do not
//! wake it); another handle, in this process or another, is another connection and does.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use brain_store::Result;
use brain_store::jobs::ChangeNotifier;
use postgres::NoTls;
use postgres::fallible_iterator::FallibleIterator;

use crate::connect::ConnectOptions;

/// The channel, computed in SQL from the schema so stores in different schemas of one
/// database (tests) do not wake each other; hashed, since a channel name has at most 63 bytes.
pub(crate) const CHANNEL_SQL: &str = "'brain_jobs_' || left(md5(current_schema()), 16)";

/// Counts the notifications of the store's channel (see the module doc).
pub(crate) struct Notifier {
    options: ConnectOptions,
    token: Arc<str>,
    state: Arc<State>,
    started: OnceLock<()>,
}

#[derive(Default)]
struct State {
    heard: AtomicI64,
    listening: AtomicBool,
    stop: AtomicBool,
    /// Signalled at each notification, for [`ChangeNotifier::wait_change`].
    lock: Mutex<()>,
    heard_one: Condvar,
}

impl State {
    fn hear(&self) {
        self.heard.fetch_add(1, Ordering::SeqCst);
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.heard_one.notify_all();
    }
}

impl Notifier {
    pub(crate) fn new(options: ConnectOptions) -> Self {
        static HANDLES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let handle = HANDLES.fetch_add(1, Ordering::Relaxed);
        Self {
            options,
            token: format!("{}.{handle}", std::process::id()).into(),
            state: Arc::new(State::default()),
            started: OnceLock::new(),
        }
    }

    fn start(&self) {
        self.started.get_or_init(|| {
            let options = self.options.clone();
            let state = self.state.clone();
            let token = self.token.clone();
            let spawned = std::thread::Builder::new()
                .name("brain-pg-listen".into())
                .spawn(move || listen(&options, &state, &token));
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start the listener; workers poll instead");
            }
        });
    }
}

impl Notifier {
    /// What this handle's notifications carry, so its own listener skips them.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
    }
}

impl ChangeNotifier for Notifier {
    fn wait_change(&self, seen: i64, timeout: Duration) -> Option<Result<i64>> {
        self.start();
        if !self.state.listening.load(Ordering::SeqCst) {
            // Polling until the listener is up: one look per interval.
            std::thread::sleep(timeout);
            return Some(self.version());
        }
        let guard = self
            .state
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _woken = self
            .state
            .heard_one
            .wait_timeout_while(guard, timeout, |_| {
                self.state.heard.load(Ordering::SeqCst) == seen
                    && self.state.listening.load(Ordering::SeqCst)
            })
            .unwrap_or_else(PoisonError::into_inner);
        Some(self.version())
    }

    fn version(&self) -> Result<i64> {
        self.start();
        if self.state.listening.load(Ordering::SeqCst) {
            Ok(self.state.heard.load(Ordering::SeqCst))
        } else {
            // Not listening (yet, or since a drop): a new number each time, so workers look.
            Ok(self.state.heard.fetch_add(1, Ordering::SeqCst) + 1)
        }
    }
}

/// Listens until the store is dropped, reconnecting with backoff (50 ms up to 5 s).
fn listen(options: &ConnectOptions, state: &State, token: &str) {
    let mut backoff = Duration::from_millis(50);
    while !state.stop.load(Ordering::SeqCst) {
        match listen_once(options, state, token) {
            Ok(()) => return,
            Err(e) => {
                state.listening.store(false, Ordering::SeqCst);
                tracing::debug!(error = %e, "the job listener lost its connection; reconnecting");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn listen_once(
    options: &ConnectOptions,
    state: &State,
    token: &str,
) -> std::result::Result<(), String> {
    let mut client = match options.connector().map_err(|e| e.to_string())? {
        Some(tls) => options.config.connect(tls),
        None => options.config.connect(NoTls),
    }
    .map_err(|e| e.to_string())?;
    let row = client
        .query_one(&format!("SELECT {CHANNEL_SQL}"), &[])
        .map_err(|e| e.to_string())?;
    let channel: String = row.try_get(0).map_err(|e| e.to_string())?;
    client
        .batch_execute(&format!("LISTEN \"{}\"", channel.replace('"', "\"\"")))
        .map_err(|e| e.to_string())?;
    state.listening.store(true, Ordering::SeqCst);
    // What was committed while not listening: one more look.
    state.hear();
    while !state.stop.load(Ordering::SeqCst) {
        {
            let mut notifications = client.notifications();
            let mut heard = notifications.timeout_iter(Duration::from_millis(250));
            while let Some(n) = heard.next().map_err(|e| e.to_string())? {
                if n.payload() != token {
                    state.hear();
                }
            }
        }
        if client.is_closed() {
            return Err("the connection closed".into());
        }
    }
    Ok(())
}
