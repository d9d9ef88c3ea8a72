//! The queue's status reads stay on their partial indexes: `EXPLAIN QUERY PLAN` shows no
//! scan of the `jobs` table, which mostly holds finished history.

use super::SqliteStore;
use super::admin::JOB_COUNTS_SQL;
use super::schedule::NEXT_RUN_AT_SQL;

fn plan(sql: &str) -> Vec<String> {
    let store = SqliteStore::open_in_memory().expect("open");
    let conn = store.lock();
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("explain");
    // The plan does not depend on the values; every parameter is a job type here.
    let params = vec!["t"; stmt.parameter_count()];
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params), |row| {
            row.get::<_, String>(3)
        })
        .expect("plan rows");
    rows.collect::<rusqlite::Result<_>>().expect("plan")
}

fn assert_no_table_scan(plan: &[String]) {
    assert!(
        plan.iter()
            .all(|step| !step.starts_with("SCAN jobs") || step.contains("COVERING INDEX")),
        "{plan:?}"
    );
}

#[test]
fn next_run_at_reads_the_claim_index_only() {
    let plan = plan(NEXT_RUN_AT_SQL);
    assert_no_table_scan(&plan);
    assert!(
        plan.iter()
            .any(|step| step.contains("SEARCH jobs USING COVERING INDEX jobs_claim")),
        "{plan:?}"
    );
}

#[test]
fn job_counts_read_the_partial_indexes_only() {
    let plan = plan(JOB_COUNTS_SQL);
    assert_no_table_scan(&plan);
    for index in ["jobs_claim", "jobs_lease"] {
        assert!(
            plan.iter()
                .any(|step| step.contains(&format!("COVERING INDEX {index}"))),
            "{index}: {plan:?}"
        );
    }
}
