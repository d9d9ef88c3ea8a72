//! Which job types may be claimed, and when the next one is due: pausing and resuming types
//! (`job_type_pauses`, migration 0003) and [`JobStore::next_run_at`], which idle workers sleep
//! on.
//!
//! A pause is a row, read once per claim transaction ([`paused`]) and dropped from the claim's
//! candidates there, so it needs no column on `jobs`, no change to the claim index, and holds for
//! every process from its commit on.
//!
//! [`JobStore::next_run_at`]: brain_store::JobStore::next_run_at

use std::collections::HashSet;

use rusqlite::{Transaction, params};

use brain_store::Result;

/// The earliest queued job of one type. `state = 'queued'` is written exactly as in the partial
/// index `jobs_claim`, whose columns include `run_at_ms`: SQLite answers from that index alone
/// (a covering-index search on `job_type`), never from the table.
pub(super) const NEXT_RUN_AT_SQL: &str =
    "SELECT min(run_at_ms) FROM jobs WHERE state = 'queued' AND job_type = ?1";

/// The paused types, as a set for the claim to filter by.
pub(super) fn paused(tx: &Transaction<'_>) -> Result<HashSet<String>> {
    let mut stmt = tx.prepare_cached("SELECT job_type FROM job_type_pauses")?;
    let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// [`brain_store::JobStore::pause_types`]: a row per type; an existing row keeps its first time.
pub(super) fn pause(tx: &Transaction<'_>, types: &[&str], now_ms: i64) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO job_type_pauses (job_type, paused_ms) VALUES (?1, ?2)
         ON CONFLICT (job_type) DO NOTHING",
    )?;
    for job_type in types {
        stmt.execute(params![job_type, now_ms])?;
    }
    Ok(())
}

/// [`brain_store::JobStore::resume_types`]: the rows go; absent ones are no error.
pub(super) fn resume(tx: &Transaction<'_>, types: &[&str]) -> Result<()> {
    let mut stmt = tx.prepare_cached("DELETE FROM job_type_pauses WHERE job_type = ?1")?;
    for job_type in types {
        stmt.execute([job_type])?;
    }
    Ok(())
}

/// [`brain_store::JobStore::paused_types`], sorted.
pub(super) fn paused_types(tx: &Transaction<'_>) -> Result<Vec<String>> {
    // The primary key's BINARY order is byte order, which is how Rust sorts strings too.
    let mut stmt = tx.prepare_cached("SELECT job_type FROM job_type_pauses ORDER BY job_type")?;
    let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// [`brain_store::JobStore::next_run_at`]: one index search per unpaused type, the least kept.
pub(super) fn next_run_at(tx: &Transaction<'_>, types: &[String]) -> Result<Option<i64>> {
    if types.is_empty() {
        return Ok(None);
    }
    let paused = paused(tx)?;
    let mut stmt = tx.prepare_cached(NEXT_RUN_AT_SQL)?;
    let mut earliest: Option<i64> = None;
    for job_type in types.iter().filter(|t| !paused.contains(t.as_str())) {
        let at: Option<i64> = stmt.query_row([job_type], |row| row.get(0))?;
        earliest = match (earliest, at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(earliest)
}
