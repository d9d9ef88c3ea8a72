-- 0005: the phase a running job's progress counts (scanning, importing, exporting), so a
-- follower in another process knows which stage `progress_current` belongs to without parsing
-- `progress_message`. NULL for steps outside a sync's phases and for rows written before.

ALTER TABLE jobs ADD COLUMN progress_phase TEXT;
