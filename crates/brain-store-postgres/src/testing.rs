//! Stores for tests: each in a schema of its own in the test cluster `scripts/test` starts
//! (`scripts/pg start`), whose URL is in `BRAIN_TEST_PG`. Without it a test fails saying how
//! to start one, never skips: a test that cannot fail would pass on a machine that ran nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{ConnectOptions, PgStore};

/// The variable holding the test cluster's superuser URL.
pub const URL_VAR: &str = "BRAIN_TEST_PG";

/// The test cluster's URL, or a panic saying how to start one.
pub fn cluster_url() -> String {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{URL_VAR} is not set: these tests need a PostgreSQL server. `scripts/test` starts \
             one; by hand: `export {URL_VAR}=$(scripts/pg start)` (and `scripts/pg stop` after)"
        ),
    }
}

/// A name no other test of any process has used: pid, a counter and the time.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// Connection options for a new, empty schema of the test cluster (created here), first on
/// the search path of every connection made with them.
pub fn fresh_schema() -> ConnectOptions {
    let url = cluster_url();
    let schema = unique_name("t");
    let mut admin = postgres::Client::connect(&url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot reach the test cluster at {url}: {e}"));
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap_or_else(|e| panic!("cannot create schema {schema}: {e}"));
    ConnectOptions::parse(&url)
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .with_options(&format!("-c search_path={schema}"))
}

/// A new, empty store in a schema of its own.
pub fn fresh() -> PgStore {
    PgStore::open(&fresh_schema()).unwrap_or_else(|e| panic!("cannot open a test store: {e}"))
}
