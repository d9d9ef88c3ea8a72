//! Progress for people: a bar on a terminal, plain lines at most once a second otherwise.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use brain_core::{Phase, ProgressSink};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Picks the sink for stderr: bars on a terminal, lines otherwise, nothing when quiet.
pub fn for_stderr(quiet: bool) -> Box<dyn ProgressSink> {
    if quiet {
        Box::new(brain_core::NoProgress)
    } else if std::io::stderr().is_terminal() {
        Box::new(BarProgress::default())
    } else {
        Box::new(LineProgress::default())
    }
}

/// An indicatif bar per phase.
#[derive(Default)]
pub struct BarProgress {
    bar: Mutex<Option<ProgressBar>>,
}

impl ProgressSink for BarProgress {
    fn start_phase(&self, phase: Phase, total: Option<u64>) {
        let bar = match total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template(
                    "{prefix:>10} [{bar:30}] {human_pos}/{human_len} notes  {rate}  ETA {eta}  {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}/s", state.per_sec());
                })
                .progress_chars("=> "),
            ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{prefix:>10} {spinner} {human_pos} files")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_prefix(phase.verb());
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Some(old) = self
            .bar
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(bar)
        {
            old.finish_and_clear();
        }
    }

    fn advance(&self, n: u64, item: &str) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            bar.inc(n);
            if !item.is_empty() {
                bar.set_message(item.to_string());
            }
        }
    }

    fn finish_phase(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

/// Plain lines on a non-terminal (CI logs, pipes), throttled to one a second; the last line of
/// a phase always says where it ended, so a log never stops at "0/6".
#[derive(Default)]
pub struct LineProgress {
    state: Mutex<LineState>,
}

#[derive(Default)]
struct LineState {
    phase: Option<Phase>,
    total: Option<u64>,
    done: u64,
    /// The count the last printed line showed.
    printed: Option<u64>,
    last: Option<Instant>,
}

impl LineState {
    /// The line for the count reached so far, if the phase has a known total.
    fn line(&mut self) -> Option<String> {
        let (phase, total) = (self.phase?, self.total?);
        self.printed = Some(self.done);
        self.last = Some(Instant::now());
        Some(format!("{} {}/{} notes", phase.verb(), self.done, total))
    }
}

impl ProgressSink for LineProgress {
    fn start_phase(&self, phase: Phase, total: Option<u64>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *s = LineState {
            phase: Some(phase),
            total,
            ..LineState::default()
        };
        // A phase with work announces itself at once; then at most a line a second.
        if total.is_some_and(|t| t > 0)
            && let Some(line) = s.line()
        {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }

    fn advance(&self, n: u64, _item: &str) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.done += n;
        if s.last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
            && let Some(line) = s.line()
        {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }

    fn finish_phase(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        // Where the phase ended (all of it, or as far as it got before a cancel), unless the
        // last line already said so.
        if s.total.is_some_and(|t| t > 0)
            && s.printed != Some(s.done)
            && let Some(line) = s.line()
        {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        s.phase = None;
    }
}
