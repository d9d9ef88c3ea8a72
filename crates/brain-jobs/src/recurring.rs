//! Recurring jobs: when a schedule fires ([`Timing`]: a cron expression or an interval), putting
//! schedules in the store ([`register`]), and the [`Scheduler`] a daemon runs, which fires the
//! due ones.
//!
//! Schedules are rows of the store (`brain_store::schedules`), so the same ones are seen by every
//! process, and a due time is fired with a compare-and-set in the transaction that enqueues its
//! job: two daemons on one store (machines sharing a PostgreSQL store) never fire it twice. A
//! scheduler fires only the schedules of its scopes: the whole store's, and those of its own
//! replica (the git timer and the verification scan work on one vault folder).
//!
//! Missed firings: a schedule whose due time passed while no scheduler ran fires once when one
//! next looks, and its next due time is then the first one after now, never a burst of the
//! firings missed.

use std::str::FromStr;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use brain_core::time::now_ms;
use brain_store::jobs::DedupePolicy;
use brain_store::schedules::{SCOPE_STORE, ScheduleDef};
use chrono::{DateTime, Utc};

use crate::{EnqueueRequest, Queue, QueueError};

/// The scope "this vault's folder", as every caller gives it: a store several folders share
/// (PostgreSQL) keeps it as the folder's own (`replica:<id>`), so each folder has its own
/// schedules of that scope and fires only those.
pub const LOCAL_REPLICA: &str = "replica:local";

/// The longest interval `every` takes: anything longer is a typo or a job for `cron`.
const MAX_EVERY: Duration = Duration::from_secs(366 * 24 * 3600);

/// Longest a scheduler sleeps between looks at the schedules, so one added by another process
/// (`brain serve` restarted with a new `[[schedule]]`) is seen within this long.
pub const LOOK_EVERY: Duration = Duration::from_secs(1);

/// A schedule that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// Neither or both of `cron` and `every` were given.
    #[error(
        "schedule '{name}': give exactly one of `cron` (e.g. \"0 3 * * *\") or `every` (e.g. \"30m\")"
    )]
    NoTiming {
        /// The schedule.
        name: String,
    },
    /// The cron expression does not parse.
    #[error(
        "schedule '{name}': cron expression '{expr}' is not valid ({reason}); a cron expression is five fields, minute hour day-of-month month day-of-week (UTC), e.g. \"0 3 * * *\""
    )]
    BadCron {
        /// The schedule.
        name: String,
        /// As written.
        expr: String,
        /// The parser's words.
        reason: String,
    },
    /// The interval does not parse, or is zero.
    #[error(
        "schedule '{name}': every = '{every}' is not an interval ({reason}); write it like \"90s\", \"30m\", \"1h 30m\" or \"1d\""
    )]
    BadEvery {
        /// The schedule.
        name: String,
        /// As written.
        every: String,
        /// Why.
        reason: String,
    },
    /// The scope is neither `store` nor `replica`.
    #[error(
        "schedule '{name}': scope = '{scope}' is not one of \"store\" (once for the whole store) or \"replica\" (in this vault's folder)"
    )]
    BadScope {
        /// The schedule.
        name: String,
        /// As written.
        scope: String,
    },
    /// Its job type or input is refused by the queue.
    #[error("schedule '{name}': {refused}")]
    Job {
        /// The schedule.
        name: String,
        /// What the queue said (in this message, not as a source, so it is said once).
        refused: QueueError,
    },
    /// Its name is empty, too long or has control characters.
    #[error(
        "a schedule's name {name:?} cannot be used: give a short name (1 to 64 characters, no control characters) that logs and `brain schedules list` show"
    )]
    BadName {
        /// As written.
        name: String,
    },
    /// Its name is one a built-in schedule has.
    #[error(
        "the schedule name '{name}' is kept for a built-in schedule ({builtin}); give yours another name"
    )]
    Reserved {
        /// As written.
        name: String,
        /// The built-in names.
        builtin: String,
    },
    /// It parses but could never do its work.
    #[error("schedule '{name}' would never work: {reason}")]
    Unusable {
        /// The schedule.
        name: String,
        /// Why, and what to do.
        reason: String,
    },
    /// Two schedules share a name.
    #[error("two schedules are named '{name}': names must be unique")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// The store could not be read or written.
    #[error("cannot store the schedules: {0}")]
    Store(#[from] brain_store::StoreError),
}

/// When a schedule fires.
#[derive(Clone, Debug)]
pub enum Timing {
    /// At the times a cron expression matches (UTC).
    Cron(Box<croner::Cron>),
    /// Every so long, counted from the last due time.
    Every(Duration),
}

impl Timing {
    /// Reads a timing as the store keeps it: `cron <expression>` or `every <seconds>s`.
    pub fn parse_stored(name: &str, stored: &str) -> Result<Timing, ScheduleError> {
        if let Some(expr) = stored.strip_prefix("cron ") {
            return Timing::cron(name, expr);
        }
        if let Some(every) = stored.strip_prefix("every ") {
            return Timing::every(name, every);
        }
        Err(ScheduleError::NoTiming { name: name.into() })
    }

    /// From a schedule's `cron` or `every` as a person writes them.
    pub fn from_config(
        name: &str,
        cron: Option<&str>,
        every: Option<&str>,
    ) -> Result<Timing, ScheduleError> {
        match (cron, every) {
            (Some(expr), None) => Timing::cron(name, expr),
            (None, Some(every)) => Timing::every(name, every),
            _ => Err(ScheduleError::NoTiming { name: name.into() }),
        }
    }

    fn cron(name: &str, expr: &str) -> Result<Timing, ScheduleError> {
        let bad = |reason: String| ScheduleError::BadCron {
            name: name.into(),
            expr: expr.into(),
            reason,
        };
        let fields = expr.split_whitespace().count();
        // Five fields, as crontab has them; croner would also take seconds (six or seven),
        // which a person reading "0 3 * * *" elsewhere would misread.
        if fields != 5 && !expr.trim_start().starts_with('@') {
            return Err(bad(format!("it has {fields} fields")));
        }
        let cron = croner::Cron::from_str(expr.trim()).map_err(|e| bad(e.to_string()))?;
        let timing = Timing::Cron(Box::new(cron));
        if timing.next_after(0, now_ms()).is_none() {
            return Err(bad("no date ahead matches it".into()));
        }
        Ok(timing)
    }

    fn every(name: &str, every: &str) -> Result<Timing, ScheduleError> {
        let bad = |reason: String| ScheduleError::BadEvery {
            name: name.into(),
            every: every.into(),
            reason,
        };
        let d = humantime::parse_duration(every.trim()).map_err(|e| bad(e.to_string()))?;
        if d < Duration::from_secs(1) {
            return Err(bad("at least one second".into()));
        }
        if d.subsec_nanos() != 0 {
            return Err(bad("whole seconds only".into()));
        }
        if d > MAX_EVERY {
            return Err(bad(
                "at most 366 days; use `cron` for rarer times, e.g. \"0 3 1 1 *\"".into(),
            ));
        }
        Ok(Timing::Every(d))
    }

    /// The form the store keeps (and `brain schedules list` shows).
    pub fn stored(&self) -> String {
        match self {
            Timing::Cron(c) => format!("cron {}", c.pattern),
            Timing::Every(d) => format!("every {}s", d.as_secs()),
        }
    }

    /// The first due time after `after_ms`, counting an interval from `due_ms` (the due time
    /// just fired) so it does not drift; a time already past moves to the first one after
    /// `after_ms`. `None` when a cron expression matches no time ahead.
    pub fn next_after(&self, due_ms: i64, after_ms: i64) -> Option<i64> {
        match self {
            Timing::Every(d) => {
                let step = i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1);
                let next = due_ms.saturating_add(step);
                Some(if next > after_ms {
                    next
                } else {
                    after_ms.saturating_add(step)
                })
            }
            Timing::Cron(c) => {
                let after = DateTime::<Utc>::from_timestamp_millis(after_ms)?;
                c.find_next_occurrence(&after, false)
                    .ok()
                    .map(|t| t.timestamp_millis())
            }
        }
    }
}

/// The scope stored for a schedule's `scope` setting (`store`, or `replica`, the default for
/// the jobs that work on a folder).
pub fn scope_of(name: &str, scope: Option<&str>) -> Result<String, ScheduleError> {
    match scope.unwrap_or("replica") {
        "store" => Ok(SCOPE_STORE.into()),
        "replica" => Ok(LOCAL_REPLICA.into()),
        other => Err(ScheduleError::BadScope {
            name: name.into(),
            scope: other.into(),
        }),
    }
}

/// Puts `defs` (all from `source`) in the store, each checked first (its timing parses, its job
/// type is known and takes its input), and removes the schedules of `source` no longer listed.
/// Nothing is stored unless every one is valid. A schedule already stored with the same
/// definition keeps its due time.
pub fn register(queue: &Queue, defs: &[ScheduleDef], source: &str) -> Result<(), ScheduleError> {
    let checked = check(queue, defs)?;
    let store = queue.store();
    for (def, first) in checked {
        store.put_schedule(def, first)?;
    }
    let keep: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    store.remove_schedules(source, &keep)?;
    Ok(())
}

/// Checks `defs` as [`register`] does, storing nothing: each one's first due time, or the
/// first reason one cannot be used (`brain schedules list` says it without a daemon).
pub fn check<'a>(
    queue: &Queue,
    defs: &'a [ScheduleDef],
) -> Result<Vec<(&'a ScheduleDef, i64)>, ScheduleError> {
    let now = now_ms();
    let mut checked = Vec::with_capacity(defs.len());
    for (i, def) in defs.iter().enumerate() {
        if def.name.trim().is_empty()
            || def.name.chars().count() > 64
            || def.name.chars().any(char::is_control)
        {
            return Err(ScheduleError::BadName {
                name: def.name.clone(),
            });
        }
        if defs[..i].iter().any(|d| d.name == def.name) {
            return Err(ScheduleError::Duplicate {
                name: def.name.clone(),
            });
        }
        let timing = Timing::parse_stored(&def.name, &def.timing)?;
        queue
            .prepare(request(def))
            .map_err(|refused| ScheduleError::Job {
                name: def.name.clone(),
                refused,
            })?;
        let first = timing.next_after(now, now).unwrap_or(i64::MAX);
        checked.push((def, first));
    }
    Ok(checked)
}

/// What a schedule enqueues: its job, joining one of its own still queued or running, so a
/// slow job is never stacked up by its schedule.
fn request(def: &ScheduleDef) -> EnqueueRequest {
    EnqueueRequest::new(def.job_type.clone(), def.input.clone())
        .dedupe(format!("schedule:{}", def.name), DedupePolicy::Skip)
}

/// Fires the due schedules of its scopes until stopped (or dropped).
pub struct Scheduler {
    stop: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Scheduler {
    /// Starts firing the schedules of `scopes` on `queue`.
    pub fn start(queue: Queue, scopes: Vec<String>) -> Scheduler {
        let (stop, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("scheduler".into())
            .spawn(move || {
                let mut reported = std::collections::HashMap::new();
                loop {
                    let wait = fire_due(&queue, &scopes, &mut reported);
                    match rx.recv_timeout(wait) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .ok();
        Scheduler { stop, thread }
    }

    /// Stops firing (jobs already queued stay queued).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Fires what is due now; returns how long to sleep before looking again. A schedule that
/// cannot fire (its timing no longer parses, its job type is not known to this build) is
/// reported once per due time in the log and left as it is.
fn fire_due(
    queue: &Queue,
    scopes: &[String],
    reported: &mut std::collections::HashMap<String, i64>,
) -> Duration {
    let now = now_ms();
    let schedules = match queue.store().schedules() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the schedules; trying again");
            return LOOK_EVERY;
        }
    };
    let mut wake = now.saturating_add(LOOK_EVERY.as_millis() as i64);
    for s in schedules.iter().filter(|s| scopes.contains(&s.def.scope)) {
        if s.next_run_ms > now {
            wake = wake.min(s.next_run_ms);
            continue;
        }
        let name = &s.def.name;
        let prepared = Timing::parse_stored(name, &s.def.timing).and_then(|t| {
            let job = queue
                .prepare(request(&s.def))
                .map_err(|refused| ScheduleError::Job {
                    name: name.clone(),
                    refused,
                })?;
            Ok((t, job))
        });
        let (timing, job) = match prepared {
            Ok(p) => p,
            Err(e) => {
                if reported.insert(name.clone(), s.next_run_ms) != Some(s.next_run_ms) {
                    tracing::error!(schedule = %name, error = %e, "a schedule cannot fire; fix it in config.toml");
                }
                continue;
            }
        };
        let next = timing.next_after(s.next_run_ms, now).unwrap_or(i64::MAX);
        match queue
            .store()
            .fire_schedule(name, s.next_run_ms, next, &job, now)
        {
            Ok(Some(enqueued)) => {
                tracing::info!(schedule = %name, job = enqueued.id(), job_type = %s.def.job_type, "schedule fired");
                queue.notify();
            }
            // Another scheduler fired it first.
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(schedule = %name, error = %e, "cannot fire a schedule; trying again")
            }
        }
        wake = wake.min(next);
    }
    Duration::from_millis(u64::try_from(wake - now).unwrap_or(0))
        .clamp(Duration::from_millis(10), LOOK_EVERY)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn intervals_count_from_the_due_time_and_skip_what_was_missed() {
        let t = Timing::from_config("x", None, Some("5m")).expect("5m");
        assert_eq!(t.stored(), "every 300s");
        assert_eq!(
            t.next_after(0, 10),
            Some(5 * MIN),
            "no drift from a late look"
        );
        assert_eq!(
            t.next_after(0, 60 * MIN),
            Some(65 * MIN),
            "an hour missed: the next is after now, not twelve at once"
        );
        let stored = Timing::parse_stored("x", &t.stored()).expect("parses back");
        assert_eq!(stored.next_after(0, 10), Some(5 * MIN));
    }

    #[test]
    fn cron_times_are_the_next_match_after_now() {
        let t = Timing::from_config("x", Some("0 3 * * *"), None).expect("cron");
        // 2026-12-04T10:00:00Z → the next 03:00 is the next day.
        let now = DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .expect("time")
            .timestamp_millis();
        let next = DateTime::parse_from_rfc3339("2026-12-05T03:00:00Z")
            .expect("time")
            .timestamp_millis();
        assert_eq!(t.next_after(now - 7 * 24 * 60 * MIN, now), Some(next));
        let back = Timing::parse_stored("x", &t.stored()).expect("parses back");
        assert_eq!(back.next_after(0, now), Some(next));
    }

    #[test]
    fn bad_timings_say_what_to_write() {
        for (cron, every, says) in [
            (None, None, "exactly one of"),
            (Some("* *"), None, "five fields"),
            (None, Some("soon"), "like \"90s\""),
            (None, Some("0s"), "at least one second"),
            (None, Some("1500ms"), "whole seconds"),
            (None, Some("400years"), "at most 366 days"),
            (Some("0 0 3 * * *"), None, "it has 6 fields"),
            (Some("0 0 30 2 *"), None, "no date ahead"),
            (Some("0 3 * * *"), Some("1h"), "exactly one of"),
        ] {
            let e = Timing::from_config("nightly", cron, every)
                .expect_err("refused")
                .to_string();
            assert!(e.contains("schedule 'nightly'") && e.contains(says), "{e}");
        }
        let e = scope_of("n", Some("planet"))
            .expect_err("refused")
            .to_string();
        assert!(e.contains("\"store\"") && e.contains("\"replica\""), "{e}");
    }
}
