-- 0007: schedules (recurring jobs). One row each, keyed by name; the definition is kept as
-- written (the scheduler computes due times from it), beside the next due time that firing
-- compares and moves in the transaction that enqueues the job, so a due time fires once
-- whichever process gets there first. `scope` is 'store' or 'replica:<id>'.

CREATE TABLE schedules (
    name        TEXT    PRIMARY KEY,
    job_type    TEXT    NOT NULL,
    input       TEXT    NOT NULL, -- JSON
    timing      TEXT    NOT NULL, -- 'cron <expr>' or 'every <n>s'
    scope       TEXT    NOT NULL,
    source      TEXT    NOT NULL, -- 'config', 'builtin'
    next_run_ms INTEGER NOT NULL,
    last_run_ms INTEGER,
    last_job_id INTEGER
);
