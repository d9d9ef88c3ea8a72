//! Progress reporting as a sink the caller provides.
//!
//! The engine does not know whether it is drawn as a terminal bar, written to a job row or sent as
//! an MCP notification; it only reports phases and steps. Implementations must be cheap to call
//! per file: throttling is theirs to do.

/// The named stages of a sync (and the steps of a git sync), in the order they run. Stored
/// with a job's progress, so a follower knows which stage a count belongs to without reading
/// the message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Walking the vault and comparing size and mtime with the stored base.
    Scanning,
    /// Reading, parsing and indexing new or changed files.
    Importing,
    /// Writing entities changed in the store back to files.
    Exporting,
    /// Git: committing the vault's changed files.
    Committing,
    /// Git: fetching from the remote.
    Fetching,
    /// Git: merging the remote's changes (or checking out its notes).
    Merging,
    /// Git: pushing to the remote.
    Pushing,
}

/// Every phase, in [`Phase::parse`]'s order.
const ALL: [Phase; 7] = [
    Phase::Scanning,
    Phase::Importing,
    Phase::Exporting,
    Phase::Committing,
    Phase::Fetching,
    Phase::Merging,
    Phase::Pushing,
];

impl Phase {
    /// The verb shown to a person ("Importing 12/40 notes").
    pub fn verb(self) -> &'static str {
        match self {
            Phase::Scanning => "Scanning",
            Phase::Importing => "Importing",
            Phase::Exporting => "Exporting",
            Phase::Committing => "Committing",
            Phase::Fetching => "Fetching",
            Phase::Merging => "Merging",
            Phase::Pushing => "Pushing",
        }
    }

    /// The stable name stored with a job's progress (`importing`); [`Phase::parse`] reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Scanning => "scanning",
            Phase::Importing => "importing",
            Phase::Exporting => "exporting",
            Phase::Committing => "committing",
            Phase::Fetching => "fetching",
            Phase::Merging => "merging",
            Phase::Pushing => "pushing",
        }
    }

    /// Inverse of [`Phase::as_str`]; `None` for a name a newer brain may have stored.
    pub fn parse(s: &str) -> Option<Self> {
        ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Receives progress from a long operation.
pub trait ProgressSink: Send + Sync {
    /// A phase starts; `total` is the number of steps when known.
    fn start_phase(&self, phase: Phase, total: Option<u64>);
    /// A phase starts with `done` of its `total` steps already done (the files an import need
    /// not read), so no view shows it at 0 first.
    fn start_phase_at(&self, phase: Phase, total: u64, done: u64) {
        self.start_phase(phase, Some(total));
        if done > 0 {
            self.advance(done, "");
        }
    }
    /// `n` more steps are done; `item` names the last one (a vault-relative path).
    fn advance(&self, n: u64, item: &str);
    /// The current phase is over.
    fn finish_phase(&self);
}

/// A sink that drops everything, for callers that do not show progress.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn start_phase(&self, _: Phase, _: Option<u64>) {}
    fn advance(&self, _: u64, _: &str) {}
    fn finish_phase(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_is_stored_and_read_back_by_its_name() {
        for p in ALL {
            assert_eq!(Phase::parse(p.as_str()), Some(p));
            assert_eq!(
                serde_json::to_value(p).expect("serializes"),
                serde_json::json!(p.as_str()),
                "the stored name is the serialized one"
            );
        }
        assert_eq!(Phase::parse("rebasing"), None, "a newer brain's phase");
    }
}
