//! Progress for people, drawn from a followed job's stream (`brain_jobs::follow`): one bar on a
//! terminal, plain lines at most once a second otherwise.
//!
//! What is drawn is the stream's overall counter (notes of the vault looked at, then notes
//! exported: see `brain_jobs::follow::tally`), which never goes back and whose total only
//! grows, so the bar never jumps back: not when a phase ends, not when the job is taken over
//! after its worker stopped, not when this command joins a sync already under way. The phase
//! names what the job does now ("Importing"), the path what it works on. Rate and ETA are the
//! stream's, measured from what this command saw (none until it saw enough), never from how
//! long ago someone else started the job.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brain_core::Phase;
use brain_jobs::follow::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where the progress is drawn.
trait Draw {
    /// Shows the stream's latest progress.
    fn show(&mut self, p: &Progress);
    /// Stops drawing for now (a line of words is about to be printed, or the job ended); the
    /// next [`Draw::show`] draws again from where the counter stands.
    fn end(&mut self);
}

/// What the job is doing, for the label: its phase, else a general word.
fn label(p: &Progress) -> &'static str {
    match p.phase {
        Some(ph) => ph.verb(),
        None if p.message.is_empty() => "Starting",
        None => "Working",
    }
}

/// What it works on now: the message without the phase's verb ("Projects/plan.md").
fn item(p: &Progress) -> &str {
    let verb = label(p);
    p.message
        .strip_prefix(verb)
        .map(str::trim_start)
        .unwrap_or(&p.message)
}

/// The stream's rate and ETA, in words, in a column of fixed width so the path after it does
/// not jump when they appear.
fn pace(p: &Progress) -> String {
    let text = match (p.rate_per_s, p.eta_s) {
        (Some(r), Some(e)) => format!("{r:.0}/s  ETA {e}s"),
        (Some(r), None) => format!("{r:.0}/s"),
        _ => String::new(),
    };
    format!("{text:<18}")
}

/// Shows a followed job's progress on stderr.
pub struct JobView {
    draw: Option<Box<dyn Draw>>,
}

impl JobView {
    /// A bar on a terminal, lines otherwise, nothing when quiet.
    pub fn for_stderr(quiet: bool) -> Self {
        let draw: Option<Box<dyn Draw>> = if quiet {
            None
        } else if std::io::stderr().is_terminal() {
            Some(Box::new(Bar::default()))
        } else {
            Some(Box::new(Lines::default()))
        };
        JobView { draw }
    }

    /// Draws one progress event of the stream.
    pub fn show(&mut self, p: &Progress) {
        if let Some(draw) = self.draw.as_mut() {
            draw.show(p);
        }
    }

    /// Clears the bar, so a line of words can follow; the next event draws it again.
    pub fn pause(&mut self) {
        if let Some(draw) = self.draw.as_mut() {
            draw.end();
        }
    }

    /// The job ended.
    pub fn finish(&mut self) {
        self.pause();
    }
}

/// Which indicatif style is up: a spinner while nothing is counted yet, then the bar.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Spinner,
    Bar,
}

/// One indicatif bar for the whole job.
#[derive(Default)]
struct Bar {
    bar: Option<(Shape, ProgressBar)>,
    pace: Arc<Mutex<String>>,
}

impl Bar {
    /// A new bar of `shape`, `len` long, at `pos` (set before its first draw, so it never
    /// flashes `0/0` as full).
    fn make(&self, shape: Shape, len: u64, pos: u64) -> ProgressBar {
        let target = ProgressDrawTarget::stderr();
        let bar = match shape {
            // Before the scan has found the files, there is nothing to count yet.
            Shape::Spinner => ProgressBar::with_draw_target(None, target).with_style(
                ProgressStyle::with_template("{prefix:>10} {spinner} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
            Shape::Bar => {
                let pace = self.pace.clone();
                ProgressBar::with_draw_target(Some(len), target).with_style(
                    ProgressStyle::with_template(
                        "{prefix:>10} [{bar:30}] {human_pos}/{human_len} notes  {pace}{wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .with_key(
                        "pace",
                        move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{}", pace.lock().unwrap_or_else(|p| p.into_inner()));
                        },
                    )
                    .progress_chars("=> "),
                )
            }
        };
        bar.set_position(pos);
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}

impl Draw for Bar {
    fn show(&mut self, p: &Progress) {
        let shape = if p.total == 0 {
            Shape::Spinner
        } else {
            Shape::Bar
        };
        if self.bar.as_ref().is_none_or(|(s, _)| *s != shape) {
            if let Some((_, old)) = self.bar.take() {
                old.finish_and_clear();
            }
            self.bar = Some((shape, self.make(shape, p.total, p.current)));
        }
        let Some((_, bar)) = &self.bar else { return };
        bar.set_prefix(label(p));
        if shape == Shape::Bar {
            // The length first: a position past the old length would draw as 100%.
            bar.set_length(p.total);
            bar.set_position(p.current);
            *self.pace.lock().unwrap_or_else(|e| e.into_inner()) = pace(p);
            bar.set_message(item(p).to_string());
        } else if p.phase == Some(Phase::Scanning) {
            bar.set_message("looking for the vault's notes");
        } else {
            bar.set_message(item(p).to_string());
        }
    }

    fn end(&mut self) {
        if let Some((_, bar)) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Plain lines on a non-terminal (CI logs, pipes): one when the phase changes, then at most
/// one a second, never the same line twice; the last one says where the job ended, so a log
/// never stops at "0/6".
#[derive(Default)]
struct Lines {
    /// The line for the latest progress, and whether it was printed.
    latest: Option<(String, &'static str)>,
    printed: Option<String>,
    last: Option<Instant>,
}

impl Lines {
    fn print(&mut self) {
        let Some((line, _)) = &self.latest else {
            return;
        };
        if self.printed.as_ref() == Some(line) {
            return;
        }
        let _ = writeln!(std::io::stderr(), "{line}");
        self.printed = Some(line.clone());
        self.last = Some(Instant::now());
    }
}

impl Draw for Lines {
    fn show(&mut self, p: &Progress) {
        // A scan counts nothing done (it only finds the notes, in a moment): no line for it.
        if p.total == 0 || p.phase == Some(Phase::Scanning) {
            return;
        }
        let phase = label(p);
        let new_phase = self.latest.as_ref().is_none_or(|(_, ph)| *ph != phase);
        self.latest = Some((format!("{phase} {}/{} notes", p.current, p.total), phase));
        if new_phase
            || self
                .last
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.print();
        }
    }

    fn end(&mut self) {
        self.print();
    }
}
