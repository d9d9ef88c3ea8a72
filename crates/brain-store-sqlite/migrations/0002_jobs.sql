-- 0002: the persistent job queue (see src/jobs.rs for the states and src/sqlite/jobs.rs for
-- the statements). It lives in the same database as the entities so that writing an entity
-- and enqueuing its export commit in one transaction (the outbox), and so that a job survives
-- a crash or `kill -9` of the process that was running it. Why it looks like this:
-- * one row per job, every field of `Job` a column; progress is four columns rather than JSON
--   so `set_progress` rewrites a few integers, not a document. Small columns first, the JSON
--   input and result last (as in `entities`), so index-driven scans skip their pages.
-- * AUTOINCREMENT: ids are what users type (`brain jobs show 12`); pruning the newest finished
--   jobs must never hand their ids to new jobs. Ids also give "oldest first" among equals.
-- * `finished_ms` is set exactly when the state is succeeded, failed or cancelled.
-- * `parent_id` has no ON DELETE action (so SQLite refuses the delete): the only delete is
--   `prune`, which removes a batch root only together with all of its descendants, so a
--   deletion that would orphan an unfinished child is a bug that fails loudly instead of
--   silently taking the child with it (CASCADE) or leaving it dangling (SET NULL).
-- * every index but one is partial: the queue's hot statements touch queued or running jobs,
--   a small slice of a table that mostly holds finished history until it is pruned.

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    job_type         TEXT    NOT NULL,
    state            TEXT    NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority         INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 10),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_at_ms        INTEGER NOT NULL,
    created_ms       INTEGER NOT NULL,
    started_ms       INTEGER,          -- the last attempt's start
    finished_ms      INTEGER,          -- set in the finished states only
    worker           TEXT,             -- the lease holder; on a finished job, the last one
    lease_until_ms   INTEGER,          -- set while running only
    dedupe_key       TEXT,
    parent_id        INTEGER REFERENCES jobs (id),
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    progress_current INTEGER,          -- all four NULL until the first report
    progress_total   INTEGER,
    progress_message TEXT,
    progress_ms      INTEGER,
    error            TEXT,             -- the last error, kept across retries
    input            TEXT    NOT NULL, -- JSON object
    result           TEXT              -- JSON, set on success
);

-- claim: per type, highest priority then oldest, among queued jobs; run_at_ms is in the index
-- so jobs scheduled for later are skipped without reading their rows.
CREATE INDEX jobs_claim ON jobs (job_type, priority DESC, id, run_at_ms)
    WHERE state = 'queued';
-- reap finds expired leases by range; claim counts the running jobs of a type by scanning this
-- small index (it holds only running jobs: at most the workers' total concurrency).
CREATE INDEX jobs_lease ON jobs (lease_until_ms, job_type) WHERE state = 'running';
-- enqueue with a dedupe key looks for a queued or running job with the same type and key.
-- Not UNIQUE: a retried, reaped or backed-off job can return to the queue next to a newer job
-- with its key (queued after it started running), and that must not fail.
CREATE INDEX jobs_dedupe ON jobs (job_type, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
-- batch status and cancel cascade read a root's children; prune checks them; the foreign key
-- needs it to check a delete without a scan.
CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
-- prune removes finished jobs by age.
CREATE INDEX jobs_finished ON jobs (finished_ms) WHERE finished_ms IS NOT NULL;
