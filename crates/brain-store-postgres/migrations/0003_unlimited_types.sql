-- brain_claim again, with one change: a type whose limit is the largest INTEGER (a job type
-- registered with no concurrency limit) is claimed without the per-type advisory lock and
-- without counting its running jobs. The lock is what keeps a limit across machines, and it
-- makes claims of one type wait on each other; a type with no limit needs neither, and its
-- claims run side by side, each skipping the rows another holds (FOR UPDATE SKIP LOCKED).
CREATE OR REPLACE FUNCTION brain_claim(p_worker TEXT, p_types TEXT[], p_maxes INTEGER[],
                                       p_limit INTEGER, p_now BIGINT, p_lease_until BIGINT)
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
        IF p_maxes[i] = 2147483647 THEN
            free_types := free_types || t;
            free_slots := free_slots || p_limit;
            CONTINUE;
        END IF;
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
