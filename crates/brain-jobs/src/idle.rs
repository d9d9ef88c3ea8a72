//! How long an idle worker sleeps: until the next delayed job of its types is due, and never
//! longer than its idle poll (which catches jobs from other processes when nothing else wakes
//! it). A job delayed by a debounce then starts when it is due, not up to a poll late.

use std::time::Duration;

use brain_core::time::now_ms;
use brain_store::JobStore;

/// The sleep of a worker whose claim at `claimed_at` found nothing among `types`.
///
/// A job that was due at the claim but not taken is held back by its type's concurrency
/// limit; sleeping until its (past) time would spin, so the types are then asked one by one
/// for the earliest time still to come. A running job's end frees that slot: its own worker
/// claims again right away, and other processes' ends are seen within the idle poll.
pub(crate) fn wait(
    store: &dyn JobStore,
    types: &[String],
    claimed_at: i64,
    idle: Duration,
) -> Duration {
    let due = |types: &[String]| match store.next_run_at(types) {
        Ok(at) => at,
        Err(e) => {
            tracing::error!(error = %e, "cannot read when the next job is due; polling");
            None
        }
    };
    let next = match due(types) {
        Some(at) if at <= claimed_at => types
            .iter()
            .filter_map(|t| due(std::slice::from_ref(t)))
            .filter(|at| *at > claimed_at)
            .min(),
        other => other,
    };
    match next {
        Some(at) => {
            let ms = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
            idle.min(Duration::from_millis(ms))
        }
        None => idle,
    }
}
