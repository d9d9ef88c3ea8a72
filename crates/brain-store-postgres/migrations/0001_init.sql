-- The brain store on PostgreSQL: the schema SQLite reached at its migration 0009, in one step,
-- with per-replica state keyed by a replica id from the start (file bases and runtime state),
-- so attaching more vault folders to one store needs no new migration.
--
-- Every table lives in the schema first on the connection's search_path (tests give each store
-- a schema of its own). Times are milliseconds since the epoch, as in SQLite; JSON is stored
-- as text, so metadata keeps its key order byte for byte.

-- The vault folders attached to this store. One until replicas (issue 18) attach more.
CREATE TABLE replicas (
    id         TEXT   PRIMARY KEY,
    root       TEXT   NOT NULL, -- the folder, as its machine names it
    host       TEXT   NOT NULL,
    created_ms BIGINT NOT NULL
);

-- Each replica's export cursor: the change-feed number up to which its folder holds what the
-- store holds. Unused while a store has one folder (the dirty flag serves it); it is here from
-- the start so that attaching folders (issue 18) needs no migration of existing stores.
CREATE TABLE replica_cursors (
    replica     TEXT   PRIMARY KEY REFERENCES replicas (id),
    exported_to BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE entities (
    row_id       BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    path_key     TEXT    NOT NULL, -- brain_core::path_key(path): NFC + lower case
    content_hash TEXT    NOT NULL,
    created_ms   BIGINT  NOT NULL,
    updated_ms   BIGINT  NOT NULL,
    deleted_ms   BIGINT,           -- set on a tombstone
    dirty        BOOLEAN NOT NULL DEFAULT false, -- changed through an interface since the last sync
    title        TEXT    NOT NULL,
    tags         TEXT    NOT NULL, -- JSON array, as given
    metadata     TEXT    NOT NULL, -- JSON object, key order kept
    frontmatter  TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    -- The search index of a live entity (NULL on a tombstone): title words weighted A, body
    -- words B, tokenized by the store's code exactly as SQLite's FTS5 tokenizer would, and
    -- written in the same statement as the row, so search never disagrees with `get`.
    tsv          TSVECTOR,
    UNIQUE (type, id)
);

CREATE INDEX entities_live_key ON entities (path_key) WHERE deleted_ms IS NULL;
CREATE INDEX entities_path ON entities (path COLLATE "C");
CREATE INDEX entities_dirty ON entities (dirty) WHERE dirty;
CREATE INDEX entities_tsv ON entities USING GIN (tsv);

CREATE TABLE entity_tags (
    tag       TEXT   NOT NULL,
    entity_id BIGINT NOT NULL REFERENCES entities (row_id) ON DELETE CASCADE,
    PRIMARY KEY (tag, entity_id)
);
CREATE INDEX entity_tags_entity ON entity_tags (entity_id);

CREATE TABLE file_bases (
    replica   TEXT   NOT NULL,
    path      TEXT   NOT NULL,
    size      BIGINT NOT NULL,
    mtime_ns  BIGINT NOT NULL,
    ctime_ns  BIGINT NOT NULL,
    inode     BIGINT NOT NULL,
    hash      TEXT   NOT NULL,
    entity_id BIGINT NOT NULL REFERENCES entities (row_id) ON DELETE CASCADE,
    type      TEXT   NOT NULL, -- copies of the entity's, kept in step by the store
    id        TEXT   NOT NULL,
    PRIMARY KEY (replica, path)
);
CREATE INDEX file_bases_entity ON file_bases (entity_id);

CREATE TABLE conflicts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT   NOT NULL,
    path          TEXT   NOT NULL,
    entity_type   TEXT,
    entity_id     TEXT,
    store_content TEXT,
    file_content  TEXT,
    copy_path     TEXT,
    detail        TEXT   NOT NULL,
    created_ms    BIGINT NOT NULL,
    resolved_ms   BIGINT
);
CREATE INDEX conflicts_open ON conflicts (path) WHERE resolved_ms IS NULL;

CREATE TABLE runtime_state (
    replica    TEXT   NOT NULL,
    key        TEXT   NOT NULL,
    value      TEXT   NOT NULL, -- JSON
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (replica, key)
);

-- The change feed: one row per entity, at the number of its latest change. A row is written
-- with no number; the transaction numbers its rows last, under a transaction-level advisory
-- lock held until it commits (see `changes.rs`), so numbers become visible in order and a
-- reader going on from the last number it saw misses nothing, whatever order writers ran in.
CREATE SEQUENCE change_seq;
CREATE TABLE entity_changes (
    entity_id BIGINT PRIMARY KEY REFERENCES entities (row_id) ON DELETE CASCADE,
    seq       BIGINT UNIQUE,
    pending   BIGINT           -- txid_current() of the transaction that wrote it, until numbered
);
CREATE INDEX entity_changes_pending ON entity_changes (pending) WHERE pending IS NOT NULL;

CREATE TABLE jobs (
    id               BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_type         TEXT    NOT NULL,
    state            TEXT    NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority         INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 10),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_at_ms        BIGINT  NOT NULL,
    created_ms       BIGINT  NOT NULL,
    started_ms       BIGINT,
    finished_ms      BIGINT,
    worker           TEXT,
    lease_until_ms   BIGINT,
    dedupe_key       TEXT,
    parent_id        BIGINT  REFERENCES jobs (id),
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    progress_current BIGINT,
    progress_total   BIGINT,
    progress_message TEXT,
    progress_ms      BIGINT,
    progress_phase   TEXT,
    error            TEXT,
    input            TEXT    NOT NULL, -- JSON object
    result           TEXT              -- JSON, set on success
);

CREATE INDEX jobs_claim ON jobs (job_type, priority DESC, id, run_at_ms) WHERE state = 'queued';
CREATE INDEX jobs_lease ON jobs (lease_until_ms, job_type) WHERE state = 'running';
CREATE INDEX jobs_dedupe ON jobs (job_type, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_finished ON jobs (finished_ms) WHERE finished_ms IS NOT NULL;

CREATE TABLE job_type_pauses (
    job_type  TEXT   PRIMARY KEY,
    paused_ms BIGINT NOT NULL
);

CREATE TABLE schedules (
    name        TEXT   PRIMARY KEY,
    job_type    TEXT   NOT NULL,
    input       TEXT   NOT NULL, -- JSON
    timing      TEXT   NOT NULL, -- 'cron <expr>' or 'every <n>s'
    scope       TEXT   NOT NULL,
    source      TEXT   NOT NULL, -- 'config', 'builtin'
    next_run_ms BIGINT NOT NULL,
    last_run_ms BIGINT,
    last_job_id BIGINT
);

-- A claim in one statement (see `jobs/claim.rs`): for each due, unpaused type (given sorted, so
-- two claimers never wait on each other in a cycle), a transaction-level advisory lock, then the
-- type's running count, so a per-type limit holds across every worker of every machine; then
-- the best `p_limit` queued jobs across those types within each one's free slots, chosen
-- `FOR UPDATE SKIP LOCKED`, made running under `p_worker`'s lease.
CREATE FUNCTION brain_claim(p_worker TEXT, p_types TEXT[], p_maxes INTEGER[], p_limit INTEGER,
                            p_now BIGINT, p_lease_until BIGINT)
RETURNS SETOF jobs LANGUAGE plpgsql AS $$
DECLARE
    i INTEGER;
    t TEXT;
    running INTEGER;
    free_types TEXT[] := '{}';
    free_slots INTEGER[] := '{}';
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_types, 1), 0) LOOP
        t := p_types[i];
        CONTINUE WHEN EXISTS (SELECT 1 FROM job_type_pauses WHERE job_type = t);
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM jobs
                                  WHERE state = 'queued' AND job_type = t AND run_at_ms <= p_now);
        PERFORM pg_advisory_xact_lock(1650680929, hashtext(current_schema() || ':' || t));
        SELECT count(*) INTO running FROM jobs WHERE state = 'running' AND job_type = t;
        IF p_maxes[i] - running > 0 THEN
            free_types := free_types || t;
            free_slots := free_slots || least(p_maxes[i] - running, p_limit);
        END IF;
    END LOOP;
    IF coalesce(array_length(free_types, 1), 0) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    UPDATE jobs SET state = 'running', worker = p_worker, started_ms = p_now,
                    lease_until_ms = p_lease_until, attempts = attempts + 1,
                    progress_current = NULL, progress_total = NULL, progress_message = NULL,
                    progress_ms = NULL, progress_phase = NULL
    WHERE id IN (
        SELECT c.id FROM unnest(free_types, free_slots) AS f(job_type, n)
        CROSS JOIN LATERAL (
            SELECT j.id, j.priority FROM jobs j
            WHERE j.state = 'queued' AND j.job_type = f.job_type AND j.run_at_ms <= p_now
            ORDER BY j.priority DESC, j.id
            LIMIT f.n
            FOR UPDATE SKIP LOCKED) c
        ORDER BY c.priority DESC, c.id
        LIMIT p_limit)
    RETURNING jobs.*;
END
$$;
