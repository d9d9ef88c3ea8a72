-- Several vault folders on one store (issue 18).
--
-- "Changed since this folder last held it" is per folder: a note imported from folder A is
-- in step with A and not yet with B. The store-wide `entities.dirty` flag becomes a row per
-- replica and entity; a note an interface writes is marked for every replica, a note a
-- folder's sync imports is cleared for that folder and marked for every other one.
CREATE TABLE entity_dirty (
    replica   TEXT   NOT NULL,
    entity_id BIGINT NOT NULL REFERENCES entities (row_id) ON DELETE CASCADE,
    PRIMARY KEY (replica, entity_id)
);
CREATE INDEX entity_dirty_entity ON entity_dirty (entity_id);

-- The flags as they stood: for every attached folder, or for the default replica of a store
-- with none attached yet (its first open attaches it).
INSERT INTO entity_dirty (replica, entity_id)
SELECT r.id, e.row_id FROM entities e CROSS JOIN replicas r WHERE e.dirty;
INSERT INTO entity_dirty (replica, entity_id)
SELECT 'local', e.row_id FROM entities e
WHERE e.dirty AND NOT EXISTS (SELECT 1 FROM replicas);

DROP INDEX entities_dirty;
ALTER TABLE entities DROP COLUMN dirty;

-- A job that works on one folder (a directory sync, an export, git) is run only by that
-- replica's workers; NULL is store-wide work any worker may claim.
ALTER TABLE jobs ADD COLUMN replica TEXT;

-- brain_claim once more. The claimer's replica limits it to its own folder's jobs and the
-- store-wide ones (replica NULL). A type's concurrency limit holds per folder for jobs bound to
-- a folder (two folders' exports run side by side; one folder's never do) and store-wide for
-- store-wide jobs: each (type, folder-or-store) is counted under an advisory lock of its own,
-- taken in one order (types sorted, store-wide before bound), so claimers never wait in a
-- cycle. A type with no limit takes no lock and counts nothing, as in 0003.
DROP FUNCTION brain_claim(TEXT, TEXT[], INTEGER[], INTEGER, BIGINT, BIGINT);
CREATE FUNCTION brain_claim(p_worker TEXT, p_types TEXT[], p_maxes INTEGER[],
                            p_limit INTEGER, p_now BIGINT, p_lease_until BIGINT,
                            p_replica TEXT)
RETURNS SETOF jobs LANGUAGE plpgsql AS $$
DECLARE
    i INTEGER;
    t TEXT;
    bound BOOLEAN;
    running INTEGER;
    free_types TEXT[] := '{}';
    free_bound BOOLEAN[] := '{}';
    free_slots INTEGER[] := '{}';
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_types, 1), 0) LOOP
        t := p_types[i];
        CONTINUE WHEN EXISTS (SELECT 1 FROM job_type_pauses WHERE job_type = t);
        FOREACH bound IN ARRAY ARRAY[false, true] LOOP
            CONTINUE WHEN bound AND p_replica IS NULL;
            CONTINUE WHEN NOT EXISTS (
                SELECT 1 FROM jobs
                WHERE state = 'queued' AND job_type = t AND run_at_ms <= p_now
                  AND CASE WHEN bound THEN replica = p_replica ELSE replica IS NULL END);
            IF p_maxes[i] = 2147483647 THEN
                free_types := free_types || t;
                free_bound := free_bound || bound;
                free_slots := free_slots || p_limit;
                CONTINUE;
            END IF;
            PERFORM pg_advisory_xact_lock(1650680929, hashtext(
                current_schema() || ':' || t || CASE WHEN bound THEN ':' || p_replica ELSE '' END));
            SELECT count(*) INTO running FROM jobs
            WHERE state = 'running' AND job_type = t
              AND CASE WHEN bound THEN replica = p_replica ELSE replica IS NULL END;
            IF p_maxes[i] - running > 0 THEN
                free_types := free_types || t;
                free_bound := free_bound || bound;
                free_slots := free_slots || least(p_maxes[i] - running, p_limit);
            END IF;
        END LOOP;
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
        SELECT c.id FROM unnest(free_types, free_bound, free_slots) AS f(job_type, bound, n)
        CROSS JOIN LATERAL (
            SELECT j.id, j.priority FROM jobs j
            WHERE j.state = 'queued' AND j.job_type = f.job_type AND j.run_at_ms <= p_now
              AND CASE WHEN f.bound THEN j.replica = p_replica ELSE j.replica IS NULL END
            ORDER BY j.priority DESC, j.id
            LIMIT f.n
            FOR UPDATE SKIP LOCKED) c
        ORDER BY c.priority DESC, c.id
        LIMIT p_limit)
    RETURNING jobs.*;
END
$$;

-- A schedule of one folder (scope `replica:<id>`: the git timer, the verification scan) is that
-- folder's own: each folder has its `verify-scan`, so the key is the name within a scope.
ALTER TABLE schedules DROP CONSTRAINT schedules_pkey;
ALTER TABLE schedules ADD PRIMARY KEY (name, scope);
