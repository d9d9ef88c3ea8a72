-- `brain sync pause` in one folder pauses that folder (issue 18's new-user review, F14): a
-- pause is kept per (type, replica), and that folder's workers claim no job of the type (its
-- own, bound to its folder, or store-wide); the other folders' workers go on. A pause made before this migration
-- (replica '') still holds back every job of its type, as it did, until a resume lifts it.
ALTER TABLE job_type_pauses ADD COLUMN replica TEXT NOT NULL DEFAULT '';
ALTER TABLE job_type_pauses DROP CONSTRAINT job_type_pauses_pkey;
ALTER TABLE job_type_pauses ADD PRIMARY KEY (job_type, replica);

-- brain_claim as in 0004, with the pause checked per folder.
DROP FUNCTION brain_claim(TEXT, TEXT[], INTEGER[], INTEGER, BIGINT, BIGINT, TEXT);
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
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM job_type_pauses WHERE job_type = t AND replica IN ('', p_replica));
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
