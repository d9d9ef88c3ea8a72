//! The job queue on PostgreSQL ([`brain_store::JobStore`]).

pub(crate) mod notify;

use brain_core::EntityRef;
use brain_store::jobs::{
    BatchStatus, ChangeNotifier, Enqueued, Job, JobCount, JobFilter, JobProgress, JobState,
    JobStore, NewJob, Outcome, WriteTx,
};
use brain_store::schedules::{Schedule, ScheduleDef};
use brain_store::{Entity, PutOutcome, Result, StoreError};

use crate::PgStore;

fn not_yet() -> StoreError {
    StoreError::Database("the PostgreSQL job queue is not built yet".into())
}

impl JobStore for PgStore {
    fn enqueue(&self, _: &[NewJob], _: i64) -> Result<Vec<Enqueued>> {
        Err(not_yet())
    }
    fn claim(&self, _: &str, _: &[(String, u32)], _: usize, _: i64, _: i64) -> Result<Vec<Job>> {
        Err(not_yet())
    }
    fn heartbeat(&self, _: &str, _: &[i64], _: i64) -> Result<Vec<i64>> {
        Err(not_yet())
    }
    fn set_progress(&self, _: i64, _: &str, _: &JobProgress) -> Result<()> {
        Err(not_yet())
    }
    fn finish(&self, _: i64, _: &str, _: &Outcome, _: i64) -> Result<bool> {
        Err(not_yet())
    }
    fn cancel(&self, _: i64, _: i64) -> Result<JobState> {
        Err(not_yet())
    }
    fn retry(&self, _: i64, _: i64) -> Result<Job> {
        Err(not_yet())
    }
    fn reap(&self, _: i64) -> Result<Vec<i64>> {
        Err(not_yet())
    }
    fn prune(&self, _: i64) -> Result<u64> {
        Err(not_yet())
    }
    fn job(&self, _: i64) -> Result<Job> {
        Err(not_yet())
    }
    fn list_jobs(&self, _: &JobFilter) -> Result<Vec<Job>> {
        Err(not_yet())
    }
    fn batch_status(&self, _: i64) -> Result<BatchStatus> {
        Err(not_yet())
    }
    fn transaction(&self, _: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        Err(not_yet())
    }
    fn pause_types(&self, _: &[&str], _: i64) -> Result<()> {
        Err(not_yet())
    }
    fn resume_types(&self, _: &[&str]) -> Result<()> {
        Err(not_yet())
    }
    fn paused_types(&self) -> Result<Vec<String>> {
        Err(not_yet())
    }
    fn next_run_at(&self, _: &[String]) -> Result<Option<i64>> {
        Err(not_yet())
    }
    fn change_notifier(&self) -> Option<&dyn ChangeNotifier> {
        None
    }
    fn job_counts(&self) -> Result<Vec<JobCount>> {
        Err(not_yet())
    }
    fn put_schedule(&self, _: &ScheduleDef, _: i64) -> Result<()> {
        Err(not_yet())
    }
    fn remove_schedules(&self, _: &str, _: &[&str]) -> Result<u64> {
        Err(not_yet())
    }
    fn schedules(&self) -> Result<Vec<Schedule>> {
        Err(not_yet())
    }
    fn fire_schedule(
        &self,
        _: &str,
        _: i64,
        _: i64,
        _: &NewJob,
        _: i64,
    ) -> Result<Option<Enqueued>> {
        Err(not_yet())
    }
}

#[allow(dead_code)]
fn unused(_: EntityRef, _: Entity, _: PutOutcome) {}
