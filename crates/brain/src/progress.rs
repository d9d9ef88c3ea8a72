//! Progress for people, drawn from a followed job's stream (`brain_jobs::follow`): a bar per
//! phase on a terminal, plain lines at most once a second otherwise.
//!
//! Counts are the phase's ("Importing 708/10,000 notes"). A job taken over after its worker
//! stopped starts its import again with only the notes the stopped attempt had not imported:
//! those the earlier attempts counted are carried, so the count goes on from where it was
//! instead of dropping back to 0. Rate and ETA are the stream's, measured from what this
//! command saw (none until it saw enough), never from how long ago someone else started it.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brain_core::Phase;
use brain_jobs::follow::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where a phase's count is drawn.
trait Draw {
    /// A phase starts being shown at `done` of `total`.
    fn start(&mut self, phase: Phase, done: u64, total: Option<u64>);
    /// The phase reached `done` (of `total`, which may have become known); `item` is what it
    /// works on now, `pace` the stream's rate and ETA.
    fn set(&mut self, done: u64, total: Option<u64>, item: &str, pace: Pace);
    /// The phase is over (or a line of words is about to be printed).
    fn end(&mut self);
}

/// The stream's rate and ETA for the phase shown.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Pace {
    rate_per_s: Option<f64>,
    eta_s: Option<u64>,
}

impl Pace {
    fn text(self) -> String {
        match (self.rate_per_s, self.eta_s) {
            (Some(r), Some(e)) => format!("{r:.0}/s  ETA {e}s"),
            (Some(r), None) => format!("{r:.0}/s"),
            _ => String::new(),
        }
    }
}

/// Shows a followed job's progress on stderr.
pub struct JobView {
    draw: Option<Box<dyn Draw>>,
    attempt: u32,
    /// The phase drawn now and its count within this attempt.
    phase: Option<Phase>,
    phase_done: u64,
    /// Per phase whose work is kept across attempts (import, export): what earlier attempts
    /// counted, added to this attempt's count.
    carried: HashMap<Phase, u64>,
    /// Per phase, the count this attempt reached.
    counted: HashMap<Phase, u64>,
}

impl JobView {
    /// Bars on a terminal, lines otherwise, nothing when quiet.
    pub fn for_stderr(quiet: bool) -> Self {
        let draw: Option<Box<dyn Draw>> = if quiet {
            None
        } else if std::io::stderr().is_terminal() {
            Some(Box::new(Bar::default()))
        } else {
            Some(Box::new(Lines::default()))
        };
        JobView {
            draw,
            attempt: 0,
            phase: None,
            phase_done: 0,
            carried: HashMap::new(),
            counted: HashMap::new(),
        }
    }

    /// Draws one progress event of the stream.
    pub fn show(&mut self, p: &Progress) {
        let Some(draw) = self.draw.as_mut() else {
            return;
        };
        if p.attempt != self.attempt {
            // A new attempt: what the last one counted in kept phases is carried.
            for (ph, n) in self.counted.drain() {
                if kept_across_attempts(ph) {
                    *self.carried.entry(ph).or_default() += n;
                }
            }
            if self.phase.is_some() {
                draw.end();
            }
            self.attempt = p.attempt;
            self.phase = None;
            self.phase_done = 0;
        }
        let Some(ph) = p.phase else {
            return;
        };
        let carried = if kept_across_attempts(ph) {
            self.carried.get(&ph).copied().unwrap_or(0)
        } else {
            0
        };
        let restarted = self.phase == Some(ph) && p.phase_current < self.phase_done;
        if self.phase != Some(ph) || restarted {
            if self.phase.is_some() {
                draw.end();
            }
            self.phase = Some(ph);
            draw.start(
                ph,
                carried + p.phase_current,
                p.phase_total.map(|t| carried + t),
            );
        }
        self.phase_done = p.phase_current;
        self.counted.insert(ph, p.phase_current);
        let item = p
            .message
            .strip_prefix(ph.verb())
            .map(str::trim_start)
            .unwrap_or(&p.message);
        let pace = Pace {
            rate_per_s: p.rate_per_s,
            eta_s: p.eta_s,
        };
        draw.set(
            carried + p.phase_current,
            p.phase_total.map(|t| carried + t),
            item,
            pace,
        );
    }

    /// Ends the phase drawn now, so a line of words can follow.
    pub fn pause(&mut self) {
        if let (Some(draw), Some(_)) = (self.draw.as_mut(), self.phase) {
            draw.end();
        }
        // The next event of the same phase starts it again, at its count.
        self.phase = None;
    }

    /// The job ended: ends the phase drawn.
    pub fn finish(&mut self) {
        self.pause();
    }
}

/// Whether an attempt that starts over redoes only what the earlier ones left (import and
/// export skip what is already done), as opposed to a scan, which walks everything again.
fn kept_across_attempts(phase: Phase) -> bool {
    matches!(phase, Phase::Importing | Phase::Exporting)
}

/// An indicatif bar per phase.
#[derive(Default)]
struct Bar {
    bar: Option<ProgressBar>,
    pace: Arc<Mutex<String>>,
}

impl Draw for Bar {
    fn start(&mut self, phase: Phase, done: u64, total: Option<u64>) {
        *self.pace.lock().unwrap_or_else(|p| p.into_inner()) = String::new();
        let pace = self.pace.clone();
        let bar = match total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template(
                        "{prefix:>10} [{bar:30}] {human_pos}/{human_len} notes  {pace}  {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .with_key(
                        "pace",
                        move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{}", pace.lock().unwrap_or_else(|p| p.into_inner()));
                        },
                    )
                    .progress_chars("=> "),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{prefix:>10} {spinner} {human_pos} files")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_prefix(phase.verb());
        bar.set_position(done);
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Some(old) = self.bar.replace(bar) {
            old.finish_and_clear();
        }
    }

    fn set(&mut self, done: u64, total: Option<u64>, item: &str, pace: Pace) {
        if let Some(bar) = &self.bar {
            if let Some(t) = total
                && bar.length() != Some(t)
            {
                bar.set_length(t);
            }
            bar.set_position(done);
            *self.pace.lock().unwrap_or_else(|p| p.into_inner()) = pace.text();
            if !item.is_empty() {
                bar.set_message(item.to_string());
            }
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Plain lines on a non-terminal (CI logs, pipes), throttled to one a second; the last line of
/// a phase always says where it ended, so a log never stops at "0/6".
#[derive(Default)]
struct Lines {
    phase: Option<Phase>,
    total: Option<u64>,
    done: u64,
    /// The count the last printed line showed.
    printed: Option<u64>,
    last: Option<Instant>,
}

impl Lines {
    /// Prints the line for the count reached so far, if the phase has a known total.
    fn print(&mut self) {
        let (Some(phase), Some(total)) = (self.phase, self.total) else {
            return;
        };
        self.printed = Some(self.done);
        self.last = Some(Instant::now());
        let _ = writeln!(
            std::io::stderr(),
            "{} {}/{} notes",
            phase.verb(),
            self.done,
            total
        );
    }
}

impl Draw for Lines {
    fn start(&mut self, phase: Phase, done: u64, total: Option<u64>) {
        *self = Lines {
            phase: Some(phase),
            total,
            done,
            ..Lines::default()
        };
        // A phase with work announces itself at once; then at most a line a second.
        if total.is_some_and(|t| t > 0) {
            self.print();
        }
    }

    fn set(&mut self, done: u64, total: Option<u64>, _item: &str, _pace: Pace) {
        self.done = done;
        if total.is_some() {
            self.total = total;
        }
        if self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.print();
        }
    }

    fn end(&mut self) {
        // Where the phase ended (all of it, or as far as it got before a cancel), unless the
        // last line already said so.
        if self.total.is_some_and(|t| t > 0) && self.printed != Some(self.done) {
            self.print();
        }
        self.phase = None;
    }
}
