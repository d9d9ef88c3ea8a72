//! The PostgreSQL backend's tests, as one test binary (one link, not two): the conformance suite
//! and the job queue against a real server (`BRAIN_TEST_PG`).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod pg_conformance;
mod pg_jobs;
