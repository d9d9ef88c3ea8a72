//! The backend conformance suite on PostgreSQL: every case in a schema of its own of the test
//! cluster (`BRAIN_TEST_PG`, started by `scripts/test`), one test each.

use brain_store::Backend;

fn fresh_store() -> Box<dyn Backend> {
    Box::new(brain_store_postgres::testing::fresh())
}

brain_store::conformance_tests!(crate::pg_conformance::fresh_store);

#[path = "pg/search_equivalence.rs"]
mod search_equivalence;
