//! Log lines on stderr: colour only for a person at a terminal, and each failure said once.
//!
//! A command that follows a job to its end (`brain sync`, `brain git sync`) prints how that job
//! ended itself, as `error: ...` with its exit code, or its report with the skipped files. The
//! worker running the job in the same process also logs the failure (`gave_up`) or each
//! unwritten edit (`in_result`) at WARN for everyone else (`brain serve`, `brain work`); here
//! those lines are dropped for the one job the command reports, so the user reads each once.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The job whose end this command reports itself (0: none).
static REPORTED_JOB: AtomicI64 = AtomicI64::new(0);

/// Whether this command's report lists every file-level outcome (unwritten edits, conflicts
/// kept both ways) of the jobs this process runs, so their `in_result` lines are not printed.
static REPORTS_FILE_OUTCOMES: AtomicBool = AtomicBool::new(false);

/// Whether this command reports every failed try of its job (it returns at the first one), so
/// the worker's "attempt failed" line for it is not printed either.
static REPORTS_TRIES: AtomicBool = AtomicBool::new(false);

/// Says that this command prints how job `id` ends, so the worker's "gave up" and "in result"
/// lines for it are not printed as well.
pub fn command_reports_job(id: i64) {
    REPORTED_JOB.store(id, Ordering::SeqCst);
}

/// Says that this command's report lists the file-level outcomes of the work it runs (a
/// whole-vault sync's skipped files and unwritten edits, a git sync's conflicts), so the "in
/// result" lines of every job it runs (the exports `brain put` queued included) are not
/// printed as well.
pub fn command_reports_file_outcomes() {
    REPORTS_FILE_OUTCOMES.store(true, Ordering::SeqCst);
}

/// Says that this command reports a failed try of its job itself (it stops following there).
pub fn command_reports_every_try() {
    REPORTS_TRIES.store(true, Ordering::SeqCst);
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

/// Drops the worker's "gave up", "in result" and (when asked) "attempt failed" lines for what
/// the command reports itself.
struct ReportedOnce;

impl<S: Subscriber> Layer<S> for ReportedOnce {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let reported = REPORTED_JOB.load(Ordering::SeqCst);
        let file_outcomes = REPORTS_FILE_OUTCOMES.load(Ordering::SeqCst);
        if reported == 0 && !file_outcomes {
            return true;
        }
        let mut fields = GaveUp::default();
        event.record(&mut fields);
        let this_job = fields.job.is_some() && fields.job == Some(reported);
        let a_try = fields.tried && REPORTS_TRIES.load(Ordering::SeqCst);
        let said_by_command = ((fields.gave_up || fields.in_result || a_try) && this_job)
            || (fields.in_result && file_outcomes);
        !said_by_command
    }
}

/// The fields of an event [`ReportedOnce`] looks at.
#[derive(Default)]
struct GaveUp {
    job: Option<i64>,
    /// The event is about how a try ended (it carries `gave_up`, true or false).
    tried: bool,
    gave_up: bool,
    in_result: bool,
}

impl Visit for GaveUp {
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "job" {
            self.job = Some(value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        match field.name() {
            "gave_up" => {
                self.tried = true;
                self.gave_up = value;
            }
            "in_result" => self.in_result = value,
            _ => {}
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}
