//! brain-jobs' tests, as one test binary (one link, not two): the queue and its followers on a
//! real SQLite store. `idle.rs` stays a binary of its own: it counts this process's threads.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod follow;
mod queue;
