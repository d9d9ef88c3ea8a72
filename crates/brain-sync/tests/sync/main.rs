//! brain-sync's tests, as one test binary (one link, not four): each module is one area (its own
//! doc says which), against real temp vaults, real file events and a real SQLite store.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod engine;
mod export_batch;
mod jobs;
mod watch;
