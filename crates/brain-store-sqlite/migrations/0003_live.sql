-- 0003: what a long-running daemon (`brain serve`) shares with the other processes on a vault.
-- * `job_type_pauses`: job types no worker may claim (`brain sync pause`). Jobs of a paused
--   type are still enqueued, deduplicated and cancellable; `claim` reads this table once per
--   transaction and leaves their rows alone until the type is resumed (its row deleted). A row
--   rather than a flag in a config file, so every process's workers see a pause at their next
--   claim, and it survives restarts.
-- * `runtime_state`: small JSON documents a process publishes for others to read (the daemon's
--   watcher state, queue depth, last event and error for `brain status`), one row per key,
--   upserted. `updated_ms` lets a reader tell a live publisher from a stale one.
-- Both are keyed by text and tiny, so they are clustered by that key (WITHOUT ROWID).

CREATE TABLE job_type_pauses (
    job_type  TEXT    PRIMARY KEY,
    paused_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE runtime_state (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL, -- JSON
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
