//! The pure part of following a job: turning the per-phase, per-attempt progress a worker
//! reports into one counter that never goes back, with a total from the start, and a rate and
//! ETA measured from the job's own progress as the follower saw it.
//!
//! A worker reports `(phase, current, total)` and `current` starts again at 0 with each phase
//! (and with each attempt). The tally keeps the phases of the current attempt as segments, in
//! the order they were seen, and counts the attempt's work in one unit: a file of the vault
//! looked at, plus a step of any later phase.
//!
//! - A scan's files are the total (its own total when it gives one, else what it found).
//! - The import that follows a scan reads the files that changed: the others are done as soon
//!   as it starts, and each file it reads is one more. So a sync of 15,000 files of which 10
//!   changed goes from 0/15,000 to 14,990/15,000 and ends at 15,000/15,000, never 100% then
//!   half.
//! - Any other phase (an export, a git step, an import with no scan before it) adds its steps.
//!
//! The overall numbers are the largest seen: a takeover or a retry starts the work again,
//! scanning the same files and importing only what the earlier attempts did not commit, so the
//! new attempt's count climbs back to where the counter stands and goes on from there; the
//! counter holds still meanwhile instead of dropping to 0, and the total does not double.
//!
//! The rate is measured within the current segment only (a scan counts thousands of files a
//! second, an import far fewer: mixing them would promise an ETA the import cannot keep), from
//! the first report the follower saw, never from the job's start: a follower that joins a job
//! half done does not count the half it did not watch as done in no time.

use std::collections::VecDeque;

use brain_core::Phase;
use brain_store::jobs::JobProgress;

/// Reports needed in a segment before a rate (and so an ETA) is given.
pub const MIN_SAMPLES: usize = 3;
/// Time those reports must span before a rate is given (ms).
pub const MIN_SPAN_MS: i64 = 1_000;
/// Reports older than this (ms, by the newest one) no longer count toward the rate, so it
/// follows the job's current pace.
const WINDOW_MS: i64 = 15_000;

/// One step of the overall progress, as a follower shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// The attempt reporting it (1 for the first).
    pub attempt: u32,
    /// The phase being counted; `None` for steps outside a sync's phases (a git job's
    /// "Pushing to the remote") or before the job has reported anything.
    pub phase: Option<Phase>,
    /// What it is doing, in words ("Importing Projects/plan.md"); may be empty.
    pub message: String,
    /// Steps done in this phase of this attempt, as the worker counts them.
    pub phase_current: u64,
    /// Steps in this phase of this attempt, when known.
    pub phase_total: Option<u64>,
    /// Steps done overall: never less than in an earlier [`Progress`] of the same follower.
    pub current: u64,
    /// Steps overall as far as known: at least `current`, never less than an earlier one.
    pub total: u64,
    /// Overall steps a second in the current phase, once enough reports were seen.
    pub rate_per_s: Option<f64>,
    /// Seconds until `current` reaches `total` at that rate.
    pub eta_s: Option<u64>,
}

#[derive(Clone, Debug)]
struct Segment {
    phase: Option<Phase>,
    done: u64,
    total: Option<u64>,
}

impl Segment {
    fn size(&self) -> u64 {
        self.total.unwrap_or(self.done).max(self.done)
    }
}

/// Folds reports into [`Progress`] (see the module docs).
#[derive(Debug, Default)]
pub struct Tally {
    attempt: Option<u32>,
    segments: Vec<Segment>,
    /// The `updated_ms` of the newest report applied in this attempt: an older one (a store
    /// read racing a bus event) is ignored.
    newest_ms: Option<i64>,
    /// `(updated_ms, the attempt's count)` of the current segment's reports.
    samples: VecDeque<(i64, u64)>,
    shown: u64,
    shown_total: u64,
    message: String,
}

impl Tally {
    /// Applies a report of `attempt` (the job's `attempts` when it was read or published), or
    /// notes the attempt when the job has reported nothing yet. Returns the progress to show,
    /// or `None` when the report is older than one already applied.
    pub fn observe(&mut self, attempt: u32, report: Option<&JobProgress>) -> Option<Progress> {
        if self.attempt.is_some_and(|a| attempt < a) {
            return None;
        }
        if self.attempt != Some(attempt) {
            self.attempt = Some(attempt);
            self.segments.clear();
            self.samples.clear();
            self.newest_ms = None;
            self.message.clear();
        }
        if let Some(p) = report {
            if self.newest_ms.is_some_and(|newest| p.updated_ms < newest) {
                return None;
            }
            self.newest_ms = Some(p.updated_ms);
            self.apply(p);
        }
        Some(self.progress(attempt))
    }

    fn apply(&mut self, p: &JobProgress) {
        let same = self.segments.last().is_some_and(|s| {
            s.phase == p.phase && p.current >= s.done && (s.total == p.total || s.total.is_none())
        });
        if !same {
            self.segments.push(Segment {
                phase: p.phase,
                done: 0,
                total: None,
            });
            self.samples.clear();
        }
        if let Some(s) = self.segments.last_mut() {
            s.done = p.current;
            s.total = p.total;
        }
        self.message = p.message.clone();
        let (current, total) = self.sums();
        self.shown = self.shown.max(current);
        self.shown_total = self.shown_total.max(total).max(self.shown);
        if self.samples.back().is_none_or(|&(ms, _)| p.updated_ms > ms) {
            self.samples.push_back((p.updated_ms, current));
        }
        while self
            .samples
            .front()
            .is_some_and(|&(ms, _)| p.updated_ms - ms > WINDOW_MS)
            && self.samples.len() > MIN_SAMPLES
        {
            self.samples.pop_front();
        }
    }

    /// The current attempt's `(done, total)` in the unit of the module docs.
    fn sums(&self) -> (u64, u64) {
        let (mut done, mut total) = (0u64, 0u64);
        for (i, s) in self.segments.iter().enumerate() {
            let next = self.segments.get(i + 1);
            let read_by_import = next.filter(|n| n.phase == Some(Phase::Importing));
            match (s.phase, read_by_import) {
                // Scanned files the import does not read are done; it counts the others.
                (Some(Phase::Scanning), Some(import)) => {
                    let unchanged = s.size().saturating_sub(import.size());
                    done = done.saturating_add(unchanged);
                    total = total.saturating_add(unchanged);
                }
                // Until the import says how many changed, none of the files is done.
                (Some(Phase::Scanning), None) => total = total.saturating_add(s.size()),
                _ => {
                    done = done.saturating_add(s.done);
                    total = total.saturating_add(s.size());
                }
            }
        }
        (done, total)
    }

    /// Steps a second in the current segment, from the reports seen; `None` until
    /// [`MIN_SAMPLES`] reports spanning [`MIN_SPAN_MS`] were seen, or when nothing moved.
    fn rate(&self) -> Option<f64> {
        let (&(t0, v0), &(t1, v1)) = (self.samples.front()?, self.samples.back()?);
        if self.samples.len() < MIN_SAMPLES || t1 - t0 < MIN_SPAN_MS || v1 <= v0 {
            return None;
        }
        Some((v1 - v0) as f64 * 1000.0 / (t1 - t0) as f64)
    }

    fn progress(&self, attempt: u32) -> Progress {
        let segment = self.segments.last();
        let rate = self.rate();
        // An ETA only for a phase with a known total: a scan's end is not known until it ends.
        let eta = rate
            .filter(|_| segment.is_some_and(|s| s.total.is_some()))
            .map(|r| ((self.shown_total - self.shown) as f64 / r).ceil() as u64);
        Progress {
            attempt,
            phase: segment.and_then(|s| s.phase),
            message: self.message.clone(),
            phase_current: segment.map_or(0, |s| s.done),
            phase_total: segment.and_then(|s| s.total),
            current: self.shown,
            total: self.shown_total,
            rate_per_s: rate,
            eta_s: eta,
        }
    }

    /// The progress to show when the job has ended: for a job that `completed`, the total
    /// reached (the last phase counted in full); otherwise where it stopped.
    pub fn finish(&mut self, completed: bool) -> Progress {
        if completed {
            self.shown = self.shown_total;
        }
        self.samples.clear();
        self.progress(self.attempt.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(phase: Option<Phase>, current: u64, total: Option<u64>, ms: i64) -> JobProgress {
        JobProgress {
            current,
            total,
            message: phase.map(Phase::verb).unwrap_or("").into(),
            updated_ms: ms,
            phase,
        }
    }

    const SCAN: Option<Phase> = Some(Phase::Scanning);
    const IMPORT: Option<Phase> = Some(Phase::Importing);
    const EXPORT: Option<Phase> = Some(Phase::Exporting);

    #[test]
    fn one_counter_and_total_across_phases() {
        let mut t = Tally::default();
        let p = t.observe(1, None).unwrap();
        assert_eq!((p.current, p.total), (0, 0), "nothing known yet");
        let p = t.observe(1, Some(&report(SCAN, 0, None, 10))).unwrap();
        assert_eq!((p.current, p.total), (0, 0));
        let p = t.observe(1, Some(&report(SCAN, 100, None, 20))).unwrap();
        assert_eq!(
            (p.current, p.total),
            (0, 100),
            "the files found are the total; none is done before the import says which changed"
        );
        let p = t
            .observe(1, Some(&report(IMPORT, 0, Some(40), 30)))
            .unwrap();
        assert_eq!(
            (p.current, p.total),
            (60, 100),
            "the 60 unchanged files are done; the total stays the files found"
        );
        assert_eq!(
            (p.phase, p.phase_current, p.phase_total),
            (IMPORT, 0, Some(40))
        );
        let p = t
            .observe(1, Some(&report(IMPORT, 40, Some(40), 40)))
            .unwrap();
        assert_eq!((p.current, p.total), (100, 100));
        let p = t.observe(1, Some(&report(EXPORT, 3, Some(5), 50))).unwrap();
        assert_eq!(
            (p.current, p.total),
            (103, 105),
            "the export's notes are added"
        );
        assert_eq!(t.finish(true).current, 105);
    }

    #[test]
    fn a_large_vault_with_few_changes_is_never_shown_done_then_half_done() {
        let mut t = Tally::default();
        let mut seen = Vec::new();
        for (ph, c, tot) in [
            (SCAN, 0, None),
            (SCAN, 15_000, None),
            (IMPORT, 0, Some(675)),
            (IMPORT, 300, Some(675)),
            (IMPORT, 675, Some(675)),
        ] {
            let p = t
                .observe(1, Some(&report(ph, c, tot, seen.len() as i64)))
                .unwrap();
            seen.push((p.current, p.total));
        }
        assert_eq!(
            seen,
            vec![
                (0, 0),
                (0, 15_000),
                (14_325, 15_000),
                (14_625, 15_000),
                (15_000, 15_000)
            ]
        );
    }

    #[test]
    fn a_takeover_goes_on_from_the_counter_shown() {
        let mut t = Tally::default();
        t.observe(1, Some(&report(SCAN, 100, None, 10)));
        let before = t
            .observe(1, Some(&report(IMPORT, 60, Some(100), 20)))
            .unwrap();
        assert_eq!((before.current, before.total), (60, 100));
        // Attempt 2 starts over: it scans the same 100 files, then imports the 45 the dead
        // attempt had not committed (it had shown 60, committed 55).
        let p = t.observe(2, None).unwrap();
        assert_eq!((p.current, p.total, p.attempt), (60, 100, 2));
        let p = t.observe(2, Some(&report(SCAN, 0, None, 30))).unwrap();
        assert_eq!((p.current, p.total), (60, 100), "never back to 0");
        let p = t.observe(2, Some(&report(SCAN, 100, None, 40))).unwrap();
        assert_eq!((p.current, p.total), (60, 100), "the total does not double");
        let p = t
            .observe(2, Some(&report(IMPORT, 3, Some(45), 50)))
            .unwrap();
        assert_eq!(
            (p.current, p.total),
            (60, 100),
            "55 committed + 3: the counter holds until the new attempt passes it"
        );
        let p = t
            .observe(2, Some(&report(IMPORT, 10, Some(45), 60)))
            .unwrap();
        assert_eq!((p.current, p.total), (65, 100));
        assert_eq!(
            t.observe(1, Some(&report(IMPORT, 99, Some(100), 70))),
            None,
            "a late report of the old attempt is ignored"
        );
        let p = t
            .observe(2, Some(&report(IMPORT, 45, Some(45), 80)))
            .unwrap();
        assert_eq!((p.current, p.total), (100, 100));
        let end = t.finish(true);
        assert_eq!(
            (end.current, end.total),
            (100, 100),
            "ends at the total, not past it"
        );
    }

    #[test]
    fn an_older_report_is_ignored() {
        let mut t = Tally::default();
        t.observe(1, Some(&report(IMPORT, 30, Some(100), 20)));
        assert_eq!(t.observe(1, Some(&report(IMPORT, 10, Some(100), 10))), None);
        let p = t
            .observe(1, Some(&report(IMPORT, 30, Some(100), 20)))
            .unwrap();
        assert_eq!(p.current, 30);
    }

    #[test]
    fn a_phase_seen_again_is_a_new_segment() {
        // A git sync imports local edits, then the pulled files: two import phases.
        let mut t = Tally::default();
        t.observe(1, Some(&report(IMPORT, 5, Some(5), 10)));
        t.observe(1, Some(&report(None, 0, None, 20)));
        let p = t.observe(1, Some(&report(IMPORT, 2, Some(8), 30))).unwrap();
        assert_eq!((p.current, p.total), (7, 13));
        // The same phase with its count going down started again too.
        let p = t.observe(1, Some(&report(IMPORT, 1, Some(8), 40))).unwrap();
        assert_eq!((p.current, p.total), (8, 21));
    }

    #[test]
    fn no_rate_before_enough_reports_then_the_followed_pace() {
        let mut t = Tally::default();
        // Joined half way: 5,000 of 10,000 already imported when first seen.
        let p = t
            .observe(1, Some(&report(IMPORT, 5_000, Some(10_000), 100_000)))
            .unwrap();
        assert_eq!((p.rate_per_s, p.eta_s), (None, None));
        let p = t
            .observe(1, Some(&report(IMPORT, 5_100, Some(10_000), 100_500)))
            .unwrap();
        assert_eq!(
            (p.rate_per_s, p.eta_s),
            (None, None),
            "two reports are not enough"
        );
        let p = t
            .observe(1, Some(&report(IMPORT, 5_200, Some(10_000), 101_000)))
            .unwrap();
        // 200 in one second, not 5,200 in no time.
        assert_eq!(p.rate_per_s, Some(200.0));
        assert_eq!(p.eta_s, Some(24), "4,800 left at 200/s");
    }

    #[test]
    fn the_rate_restarts_with_each_phase() {
        let mut t = Tally::default();
        for (i, n) in [0, 5_000, 10_000].into_iter().enumerate() {
            t.observe(1, Some(&report(SCAN, n, None, i as i64 * 600)));
        }
        let p = t
            .observe(1, Some(&report(IMPORT, 0, Some(1_000), 1_300)))
            .unwrap();
        assert_eq!(p.rate_per_s, None, "the scan's pace is not the import's");
        t.observe(1, Some(&report(IMPORT, 50, Some(1_000), 1_800)));
        let p = t
            .observe(1, Some(&report(IMPORT, 100, Some(1_000), 2_300)))
            .unwrap();
        assert_eq!(p.rate_per_s, Some(100.0));
        assert_eq!(p.eta_s, Some(9));
    }

    #[test]
    fn a_stalled_job_has_no_eta() {
        let mut t = Tally::default();
        for ms in [0, 600, 1_200, 1_800] {
            t.observe(1, Some(&report(IMPORT, 7, Some(10), ms)));
        }
        let p = t
            .observe(1, Some(&report(IMPORT, 7, Some(10), 2_400)))
            .unwrap();
        assert_eq!((p.rate_per_s, p.eta_s), (None, None));
    }

    #[test]
    fn progress_never_goes_back_and_total_stays_at_or_above_it() {
        // Phases and attempts of every shape, seen at arbitrary points.
        let steps: Vec<(u32, Option<Phase>, u64, Option<u64>)> = vec![
            (1, SCAN, 0, None),
            (1, SCAN, 7, None),
            (1, IMPORT, 3, None),
            (1, IMPORT, 3, Some(4)),
            (1, IMPORT, 0, Some(4)),
            (1, None, 0, None),
            (2, SCAN, 9, None),
            (2, IMPORT, 1, Some(9)),
            (2, EXPORT, 2, Some(2)),
            (3, IMPORT, 0, Some(1)),
        ];
        let mut t = Tally::default();
        let mut last = (0, 0);
        for (i, (a, ph, c, tot)) in steps.into_iter().enumerate() {
            let p = t.observe(a, Some(&report(ph, c, tot, i as i64))).unwrap();
            assert!(
                p.current >= last.0 && p.total >= last.1,
                "{p:?} after {last:?}"
            );
            assert!(p.total >= p.current, "{p:?}");
            last = (p.current, p.total);
        }
        let end = t.finish(true);
        assert!(end.current >= last.0 && end.current == end.total, "{end:?}");
    }
}
