//! brain-git's tests, as one test binary (one link, not five): each module is one area, run
//! against real repositories and real git remotes.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

mod brainignore_merge;
mod commit;
mod git;
mod repo;
mod smart_http;
