//! Log lines on stderr: colour only for a person at a terminal, and each failure said once.
//!
//! A command that follows a job to its end (`brain sync`, `brain git sync`) prints how that job
//! ended itself, as `error: ...` with its exit code. The worker running the job in the same
//! process also logs the failure at WARN for everyone else (`brain serve`, `brain work`); here
//! that log line is dropped for the one job the command reports, so the user reads it once.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicI64, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The job whose end this command reports itself (0: none).
static REPORTED_JOB: AtomicI64 = AtomicI64::new(0);

/// Says that this command prints how job `id` ends, so the worker's "gave up" line for it is
/// not printed as well.
pub fn command_reports_job(id: i64) {
    REPORTED_JOB.store(id, Ordering::SeqCst);
}

/// Whether log lines on stderr may carry ANSI colour: only on a terminal, and never when
/// `NO_COLOR` is set to anything non-empty (<https://no-color.org>).
pub fn colour_on_stderr() -> bool {
    std::io::stderr().is_terminal() && !no_color()
}

/// Whether the user asked for no colour anywhere (`NO_COLOR`, non-empty).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Installs the stderr logger: `BRAIN_LOG` if set, else warn / info (`-v`) / debug (`-vv`).
pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("BRAIN_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(colour_on_stderr());
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(ReportedOnce)
        .with(fmt)
        .try_init();
}

/// Drops the worker's "gave up" line for the job the command reports itself.
struct ReportedOnce;

impl<S: Subscriber> Layer<S> for ReportedOnce {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let reported = REPORTED_JOB.load(Ordering::SeqCst);
        if reported == 0 {
            return true;
        }
        let mut fields = GaveUp::default();
        event.record(&mut fields);
        !(fields.gave_up && fields.job == Some(reported))
    }
}

/// The two fields of an event [`ReportedOnce`] looks at.
#[derive(Default)]
struct GaveUp {
    job: Option<i64>,
    gave_up: bool,
}

impl Visit for GaveUp {
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "job" {
            self.job = Some(value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "gave_up" {
            self.gave_up = value;
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}
