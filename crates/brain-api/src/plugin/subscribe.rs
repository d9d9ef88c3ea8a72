//! Subscriptions, as the runtime runs them: one thread per subscriber, so a slow one delays
//! only itself, fed by one pump thread that listens to the job bus.
//!
//! - An event subscriber gets every [`Event`] of this process in order, through a bounded
//!   mailbox; when it falls behind (or the pump itself lagged on the bus) it is told
//!   [`Heard::Missed`] once, and reads the store for what it needs.
//! - A change-feed subscriber reads `Store::changes_since` from its cursor: at start, when a
//!   job of this process finishes (its one-slot mailbox coalesces a burst of them into one
//!   read), every `poll` (for what other processes commit) and once more at stop.
//!
//! The pump blocks on the bus, which cannot be interrupted: at stop it is told to end and does
//! so at the next event (or when the bus closes); it holds nothing but mailboxes meanwhile, and
//! no subscriber runs after [`Subscriptions::stop`] returns.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use brain_jobs::Event;

use super::PluginError;
use super::context::{OnEvent, OnPage, Subscribers};
use crate::runtime::RuntimeContext;

/// Changes per page handed to a change-feed subscriber.
pub const FEED_PAGE: usize = 1_000;

/// Events an event subscriber may fall behind by before it is told it missed some.
const MAILBOX: usize = 1_024;

/// What an event subscriber hears.
#[derive(Clone, Debug, PartialEq)]
pub enum Heard {
    /// Something happened to a job of this process.
    Event(Event),
    /// Events were dropped because this subscriber (or the bus) fell behind: what they said is
    /// in the store.
    Missed,
}

/// Where a change-feed subscription starts reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedStart {
    /// At the feed's end when the runtime starts: only changes from then on.
    Now,
    /// After this cursor (0: from the beginning), e.g. one the subscriber saved (the last
    /// page's `next`) so a restart resumes where it stopped.
    After(u64),
}

enum Mail {
    Heard(Heard),
    Stop,
}

/// A pump's view of one subscriber.
struct Sink {
    tx: SyncSender<Mail>,
    /// A change-feed subscriber: wants only "a job finished" (or "events were missed"), and a
    /// full mailbox means a read is already due.
    feed: bool,
    /// Events were dropped since its last delivery: say so before the next one.
    missed: bool,
    gone: bool,
}

impl Sink {
    fn offer(&mut self, heard: &Heard) {
        if self.gone {
            return;
        }
        if self.feed {
            if matches!(heard, Heard::Event(Event::Finished { .. }) | Heard::Missed) {
                let wake = Mail::Heard(heard.clone());
                if let Err(TrySendError::Disconnected(_)) = self.tx.try_send(wake) {
                    self.gone = true;
                }
            }
            return;
        }
        if self.missed {
            match self.tx.try_send(Mail::Heard(Heard::Missed)) {
                Ok(()) => self.missed = false,
                Err(TrySendError::Full(_)) => return,
                Err(TrySendError::Disconnected(_)) => {
                    self.gone = true;
                    return;
                }
            }
        }
        match self.tx.try_send(Mail::Heard(heard.clone())) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.missed = true,
            Err(TrySendError::Disconnected(_)) => self.gone = true,
        }
    }
}

/// The running subscriber threads, until [`Subscriptions::stop`].
pub(crate) struct Subscriptions {
    threads: Vec<(String, SyncSender<Mail>, JoinHandle<()>)>,
    pump_stop: Arc<AtomicBool>,
}

impl Subscriptions {
    /// Subscribes to `ctx`'s bus now and starts a thread per subscriber. Call before the
    /// workers start, so no event of theirs is missed; a feed starting [`FeedStart::Now`] reads
    /// the feed's end here.
    pub(crate) fn start(
        ctx: &RuntimeContext,
        subscribers: &Subscribers,
        poll: Duration,
    ) -> Result<Subscriptions, PluginError> {
        let (events, feeds) = (&subscribers.events, &subscribers.feeds);
        let mut running = Subscriptions {
            threads: Vec::new(),
            pump_stop: Arc::new(AtomicBool::new(false)),
        };
        if events.is_empty() && feeds.is_empty() {
            return Ok(running);
        }
        let mut bus = ctx.queue().bus().subscribe();
        let mut sinks = Vec::new();
        for sub in events {
            let (tx, rx) = sync_channel(MAILBOX);
            let who = sub.who("event subscription");
            let (on, ctx) = (sub.item.clone(), ctx.clone());
            let name = who.clone();
            let thread = spawn(&sub.plugin, &sub.name, &who, move || {
                hear(&ctx, &on, &rx, &name)
            });
            running.threads.push((who, tx.clone(), thread?));
            sinks.push(Sink {
                tx,
                feed: false,
                missed: false,
                gone: false,
            });
        }
        for sub in feeds {
            let who = sub.who("change-feed subscription");
            let cursor = match sub.item.start {
                FeedStart::After(cursor) => cursor,
                FeedStart::Now => {
                    ctx.store()
                        .change_cursor()
                        .map_err(|source| PluginError::Store {
                            what: format!("read where the change feed ends for the {who}"),
                            source,
                        })?
                }
            };
            // One slot: a wake already waiting covers every job that ends before it is read.
            let (tx, rx) = sync_channel(1);
            let (on, ctx) = (sub.item.on_page.clone(), ctx.clone());
            let name = who.clone();
            let thread = spawn(&sub.plugin, &sub.name, &who, move || {
                follow_feed(&ctx, &on, &rx, cursor, poll, &name)
            });
            running.threads.push((who, tx.clone(), thread?));
            sinks.push(Sink {
                tx,
                feed: true,
                missed: false,
                gone: false,
            });
        }
        let feed_wakes: Vec<SyncSender<Mail>> = sinks
            .iter()
            .filter(|s| s.feed)
            .map(|s| s.tx.clone())
            .collect();
        if !feed_wakes.is_empty() {
            watch_store(ctx, feed_wakes, running.pump_stop.clone())?;
        }
        let stop = running.pump_stop.clone();
        let pump = std::thread::Builder::new()
            .name("brain-event-pump".into())
            .spawn(move || {
                loop {
                    let heard = match bus.blocking_recv() {
                        Ok(event) => Heard::Event(event),
                        // Every sender is gone: the queue was dropped.
                        Err(_) if bus.is_closed() => return,
                        // The bus dropped events this pump had not read yet.
                        Err(_) => Heard::Missed,
                    };
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    for sink in &mut sinks {
                        sink.offer(&heard);
                    }
                    if sinks.iter().all(|s| s.gone) {
                        return;
                    }
                }
            });
        // On an error, dropping `running` stops the threads started above.
        pump.map_err(|source| PluginError::Thread {
            what: "the job event pump".into(),
            source,
        })?;
        Ok(running)
    }

    /// Stops every subscriber after what it was already sent (a change-feed subscriber reads
    /// the feed once more first) and waits for each thread to end.
    pub(crate) fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.pump_stop.store(true, Ordering::SeqCst);
        for (who, tx, thread) in self.threads.drain(..) {
            // Blocks only while the mailbox is full; its thread is draining it.
            let _ = tx.send(Mail::Stop);
            if thread.join().is_err() {
                tracing::error!(subscription = %who, "the subscriber's thread panicked");
            }
        }
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Wakes the change-feed subscribers when the store says another process committed (a store
/// told of commits, PostgreSQL's `LISTEN`): a note another folder's sync imported reaches this
/// folder's subscribers within the notification's delivery, not at the next poll. A store that
/// can only be polled has no such thread; its subscribers read at each poll.
fn watch_store(
    ctx: &RuntimeContext,
    wakes: Vec<SyncSender<Mail>>,
    stop: Arc<AtomicBool>,
) -> Result<(), PluginError> {
    let store = ctx.store().clone();
    let Some(notifier) = store.change_notifier() else {
        return Ok(());
    };
    let Some(Ok(mut seen)) = notifier.wait_change(i64::MIN, Duration::ZERO) else {
        return Ok(());
    };
    std::thread::Builder::new()
        .name("brain-feed-watch".into())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let Some(notifier) = store.change_notifier() else {
                    return;
                };
                match notifier.wait_change(seen, Duration::from_millis(500)) {
                    Some(Ok(now)) if now != seen => {
                        seen = now;
                        // A full mailbox already holds a wake that covers this one.
                        for tx in &wakes {
                            let _ = tx.try_send(Mail::Heard(Heard::Missed));
                        }
                    }
                    Some(_) => {}
                    None => return,
                }
            }
        })
        .map_err(|source| PluginError::Thread {
            what: "the change-feed store watch".into(),
            source,
        })?;
    Ok(())
}

/// Starts a subscriber's thread, named after its plugin and subscription.
fn spawn(
    plugin: &str,
    name: &str,
    who: &str,
    run: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, PluginError> {
    std::thread::Builder::new()
        .name(format!("{plugin}-{name}"))
        .spawn(run)
        .map_err(|source| PluginError::Thread {
            what: format!("the {who}"),
            source,
        })
}

/// An event subscriber's thread: each event in order, until told to stop.
fn hear(ctx: &RuntimeContext, on: &Mutex<OnEvent>, rx: &Receiver<Mail>, who: &str) {
    while let Ok(Mail::Heard(heard)) = rx.recv() {
        let mut guard = on.lock().unwrap_or_else(|p| p.into_inner());
        let call = &mut **guard;
        if catch_unwind(AssertUnwindSafe(|| call(ctx, heard))).is_err() {
            tracing::error!(subscription = %who, "the subscriber panicked on an event; it keeps receiving the next ones");
        }
    }
}

/// A change-feed subscriber's thread: reads on from `cursor` at start, at each wake, every
/// `poll`, and once more when told to stop.
fn follow_feed(
    ctx: &RuntimeContext,
    on: &Mutex<OnPage>,
    rx: &Receiver<Mail>,
    mut cursor: u64,
    poll: Duration,
    who: &str,
) {
    loop {
        read_on(ctx, on, &mut cursor, who);
        match rx.recv_timeout(poll) {
            Ok(Mail::Heard(_)) | Err(RecvTimeoutError::Timeout) => {}
            Ok(Mail::Stop) | Err(RecvTimeoutError::Disconnected) => {
                // What the last jobs changed before the workers stopped.
                read_on(ctx, on, &mut cursor, who);
                return;
            }
        }
    }
}

/// Hands the subscriber every page after `cursor`, moving it past each page the subscriber
/// took; stops at the feed's end, at a page the subscriber refused (offered again next time),
/// or when the store cannot be read.
fn read_on(ctx: &RuntimeContext, on: &Mutex<OnPage>, cursor: &mut u64, who: &str) {
    loop {
        let page = match ctx.store().changes_since(*cursor, FEED_PAGE) {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(subscription = %who, cursor = *cursor, error = %e, "cannot read the change feed; trying again at the next wake");
                return;
            }
        };
        if page.changes.is_empty() {
            return;
        }
        let full = page.changes.len() >= FEED_PAGE;
        let mut guard = on.lock().unwrap_or_else(|p| p.into_inner());
        let call = &mut **guard;
        match catch_unwind(AssertUnwindSafe(|| call(ctx, &page))) {
            Ok(Ok(())) => *cursor = page.next,
            Ok(Err(e)) => {
                tracing::warn!(subscription = %who, after = *cursor, error = %e, "the subscriber could not handle these changes; they are offered again at the next wake");
                return;
            }
            Err(_) => {
                tracing::error!(subscription = %who, after = *cursor, "the subscriber panicked on these changes; they are offered again at the next wake");
                return;
            }
        }
        if !full {
            return;
        }
    }
}
