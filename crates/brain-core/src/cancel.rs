//! Cooperative cancellation shared by every long operation.
//!
//! A plain flag rather than a runtime-specific token: the sync engine runs on blocking threads and
//! only needs to check "should I stop?" between files. The job queue sets it; the CLI sets it on
//! Ctrl-C.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cheaply clonable flag that asks a running operation to stop at its next safe point.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that has not been cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask every holder of this token to stop. Idempotent.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`CancelToken::cancel`] was called on this token or a clone of it.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
