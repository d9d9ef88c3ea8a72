//! The SQLite backend's tests, as one test binary (one link, not six): each module is one area
//! (its own doc says which), against real database files and in-memory stores.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod search_query_props;
mod sqlite_conformance;
mod sqlite_index_props;
mod sqlite_jobs;
mod sqlite_open;
mod store_props;
